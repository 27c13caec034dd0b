"""Chinese licence plates (GA 36-2018) as citizens type them: `浙C·12345`, `浙c12345` and ` 浙 C 12345 ` are the
one plate `浙C12345`.

A plate is a province's abbreviation, the letter of the issuing city, then five letters or digits (7 characters),
or six for a new-energy plate (8): on a small car D (pure electric) or F (other new energy) and a letter or digit,
then four digits; on a large one five digits, then D or F. The letters I and O never appear (they read as 1 and 0).
Special series (挂, 学, 警, 港, 澳, embassy plates) are not taken: the registry holds private cars.
"""

from __future__ import annotations

import re
import unicodedata

from complaints.domain.errors import InvalidPlate

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LETTER = "A-HJ-NP-Z"  # no I, no O
_ORDINARY = re.compile(rf"^[{PROVINCES}][{_LETTER}][{_LETTER}0-9]{{5}}$")
_NEW_ENERGY = re.compile(rf"^[{PROVINCES}][{_LETTER}](?:[DF][{_LETTER}0-9][0-9]{{4}}|[0-9]{{5}}[DF])$")
# What people put between the parts: white space, the middle dots of the printed plate, dashes and full stops.
_SEPARATORS = re.compile(r"[\s·・•‧∙.\-_]")
MAX_INPUT_CHARS = 32


def normalise_plate(raw: str) -> str:
    """The plate in its one written form (`浙C12345`), or InvalidPlate naming the rule it breaks."""
    if not isinstance(raw, str) or len(raw) > MAX_INPUT_CHARS:
        raise InvalidPlate(f"plate must be a text of at most {MAX_INPUT_CHARS} characters")
    # NFKC folds full-width letters and digits (ＺＪ１２３) and the half-width katakana middle dot.
    plate = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).upper()
    if not plate:
        raise InvalidPlate("plate is empty")
    if plate[0] not in PROVINCES:
        raise InvalidPlate("plate must start with a province's abbreviation, such as 浙")
    if len(plate) not in (7, 8):
        raise InvalidPlate("plate must have 7 characters (8 for a new-energy plate), such as 浙C12345")
    if "I" in plate or "O" in plate:
        raise InvalidPlate("plates never hold the letters I or O; read them as 1 and 0")
    if len(plate) == 7 and not _ORDINARY.match(plate):
        raise InvalidPlate("plate must be a province, a letter, then 5 letters or digits, such as 浙C12345")
    if len(plate) == 8 and not _NEW_ENERGY.match(plate):
        raise InvalidPlate(
            "a new-energy plate is a province, a letter, then D or F, a letter or digit and 4 digits (浙CD12345),"
            " or 5 digits then D or F (浙C12345D)"
        )
    return plate

"""Whether the model has evidence for a text at all: enough of it written in the model's script, in terms it knows.

A linear model always names a category, and a text made of features it barely knows can score as high as a clear
complaint ("The street light is broken" came out 环境保护 at 0.86, from the Latin letters' character n-grams). So,
beside its probabilities, each prediction measures two things, with thresholds recorded in the model:

- `script_share`: the share of the text written in the scripts of the training text (for a Chinese city: Han).
  Each Han character counts as one, and so does each word of another script (a run of its letters): "ETC扣费" is
  two thirds Han, not two fifths. Digits, punctuation and emoji count for nothing.
- `known_terms`: how many distinct features of the text the model knows that are written in its scripts — the
  tokenizer's words, and character pairs and triples. Single characters are not counted: almost any Chinese text
  has some the model knows.

Too little of either is no evidence: the ticket goes to a person, whatever the probabilities say.

Only what can speak for a class counts as a known term: not digits (a phone number says nothing about the problem),
not words of courtesy and contact (`data/courtesy.txt`: "你好", "请问", "联系电话"), and, for a model that marks
them, not features spread evenly over all its classes ("怎么办", "这个事情"). "你好，我想问一下这个事情到底怎么办
才好。有事请联系我：0577 6581 2301" has none left and goes to triage.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Container, Iterable
from dataclasses import dataclass

HAN = "Han"
# What the training texts' scripts mean for a reader of the model card.
LANGUAGE_OF_SCRIPT = {HAN: "Chinese"}
# A script is the model's if at least this share of its training text is written in it: a city whose archive
# mixes two languages keeps both, while "A市" or "KTV" in Chinese messages do not make the model a Latin one.
MIN_TRAINING_SHARE = 0.1
# The CJK ideographs (unified, extensions A–I, compatibility), as regular expressions: measuring a text's
# evidence costs little beside predicting it.
_HAN_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af"
_HAN = re.compile(f"[{_HAN_CHARS}]")
_ALL_HAN = re.compile(f"[{_HAN_CHARS}]+")
_LETTERS = re.compile(r"[^\W\d_]+")
_KEEP = re.compile(r"[\u4e00-\u9fff0-9a-z]")  # the analyzer's characters (classifier.features)


def _courtesy_pattern() -> re.Pattern[str]:
    from importlib import resources

    text = (resources.files("complaints.classifier") / "data" / "courtesy.txt").read_text(encoding="utf-8")
    words = sorted({ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")}, key=len)
    return re.compile("|".join(re.escape(w) for w in reversed(words)) + r"|\d+")


# Courtesy words, longest first, and digit runs (the analyzer folds digits to 0): the spans that are no evidence.
_NOISE = _courtesy_pattern()


def without_noise(normalized_text: str, features: Iterable[str]) -> list[str]:
    """The features of a text (normalized as the analyzer does) that do not come from digits or courtesy words:
    its words outside them, and its character n-grams that fit between them."""
    spans = _NOISE.split(normalized_text)
    grams: set[str] = set()
    for span in spans:
        chars = "".join(_KEEP.findall(span))
        for n in (2, 3):
            grams.update(chars[i : i + n] for i in range(len(chars) - n + 1))
    out = []
    for f in features:
        kind, _, text = f.partition(":")
        if kind == "c":
            if text in grams:
                out.append(f)
        elif not _NOISE.fullmatch(text) and "0" not in text:
            out.append(f)
    return out


def script_of(ch: str) -> str | None:
    """The script of a letter ("Han", "Latin", "Cyrillic", "Hiragana", …); None for anything that is not a letter."""
    if _HAN.match(ch):
        return HAN
    if not unicodedata.category(ch).startswith("L"):
        return None
    # A letter's Unicode name starts with its script: "LATIN SMALL LETTER A", "HANGUL SYLLABLE GA".
    return unicodedata.name(ch, "").split(" ", 1)[0].title() or "Unknown"


def script_units(text: str) -> Counter[str]:
    """How much of the text each script holds: one per Han character, one per word (run of letters) of another."""
    units: Counter[str] = Counter()
    for run in _LETTERS.findall(text):
        han = len(_HAN.findall(run))
        if han:
            units[HAN] += han
            run = _HAN.sub(" ", run)
        for word in run.split():  # `_LETTERS` also takes numerals such as ①: not letters of any script
            script = script_of(word[0])
            if script is not None:
                units[script] += 1
    return units


@dataclass(frozen=True)
class Evidence:
    """What a prediction rests on (see the module docstring); `enough` applies the model's EvidenceRule."""

    known_terms: int
    script_share: float
    enough: bool


@dataclass(frozen=True)
class EvidenceRule:
    """The model's scripts and how much of a text must be in them, in terms the model knows; kept in model.json."""

    scripts: tuple[str, ...] = (HAN,)
    # Two: one known term is a lone character-word ("水", "坏") or an English text's single Chinese word; a
    # two-character word the model knows ("路灯", "停水") counts as two (the word and its character pair).
    min_known_terms: int = 2
    # Half: of 12,000 real messages and 7,000 titles the lowest share was 0.78 ("呼吁改善M5市X186乡道"), bar "）".
    min_script_share: float = 0.5

    def measure(self, normalized_text: str, known_features: Iterable[str]) -> Evidence:
        """The evidence of a text (normalized as the analyzer does) from its features that are in the vocabulary."""
        scripts = set(self.scripts)
        units = script_units(normalized_text)
        total = sum(units.values())
        share = sum(n for s, n in units.items() if s in scripts) / total if total else 0.0
        terms = sum(1 for f in set(known_features) if _is_term(f, scripts))
        return Evidence(terms, share, terms >= self.min_known_terms and share >= self.min_script_share)

    def as_dict(self) -> dict:
        return {
            "scripts": list(self.scripts),
            "min_known_terms": self.min_known_terms,
            "min_script_share": self.min_script_share,
        }

    @classmethod
    def from_dict(cls, d: dict | None) -> EvidenceRule:
        """The rule recorded with a model; a model trained before rules were recorded gets the defaults (Han)."""
        if d is None:
            return cls()
        return cls(tuple(str(s) for s in d["scripts"]), int(d["min_known_terms"]), float(d["min_script_share"]))

    @property
    def languages(self) -> list[str]:
        return [LANGUAGE_OF_SCRIPT.get(s, f"{s} script") for s in self.scripts]


def _is_term(feature: str, scripts: Container[str]) -> bool:
    kind, _, text = feature.partition(":")
    han = HAN in scripts  # the common case first, by a regular expression
    if kind == "w":
        return (han and _HAN.search(text) is not None) or any(script_of(ch) in scripts for ch in text)
    if len(text) < 2:
        return False
    return (han and _ALL_HAN.fullmatch(text) is not None) or all(script_of(ch) in scripts for ch in text)


def training_scripts(texts: Iterable[str]) -> dict[str, float]:
    """Each script's share of the training texts (normalized), largest first."""
    units: Counter[str] = Counter()
    for t in texts:
        units.update(script_units(t))
    total = sum(units.values()) or 1
    return {s: n / total for s, n in units.most_common()}


def rule_for(shares: dict[str, float]) -> EvidenceRule:
    """The rule for a model trained on text with these script shares: its scripts are those holding ≥ 10 % of it."""
    scripts = tuple(s for s, share in shares.items() if share >= MIN_TRAINING_SHARE)
    return EvidenceRule(scripts=scripts or (HAN,))

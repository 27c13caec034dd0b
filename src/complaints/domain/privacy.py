"""Personal numbers citizens type into their complaints, and how they are masked beyond the assigned agency.

The assigned agency reads the complaint as written (it may need to call back); everyone else — the triage desk,
logs, any public view — reads it with phone, ID, bank card, QQ and WeChat numbers and e-mail addresses masked.

Citizens write numbers in many ways: full-width digits (１３８…), groups split by spaces, dots or dashes (also
`－`, `—`, two spaces, zero-width spaces), `+86`, brackets around the area code. The rules match on a normalised
copy of the text (NFKC, zero-width characters removed), and the masks are put into the text as the citizen wrote
it: everything outside a personal number is returned unchanged. A masked number is written without its separators,
its kept head and tail digits as the citizen typed them: `１３８ １２３４ ５６７８` → `１３８＊＊＊＊＊＊７８`.

Every pattern is precompiled and bounded (no nested unbounded repeats, possessive quantifiers where a run could
be long), so masking stays linear in the text's length: it runs on every log record.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

MASK = "＊"

_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
# NFKC of the characters citizens' keyboards produce (Latin-1, punctuation, circled digits, CJK symbols, full-width
# forms) where it is one character: a table, so that the usual text is normalised without a loop in Python.
_ONE_FOR_ONE = {
    c: n
    for lo, hi in ((0xA0, 0xFF), (0x2000, 0x24FF), (0x3000, 0x303F), (0xFF00, 0xFFEF))
    for c in range(lo, hi + 1)
    if len(n := unicodedata.normalize("NFKC", chr(c))) == 1 and n != chr(c)
}
# Between the digit groups of one number, after NFKC: spaces (also two or three), dots and any dash.
_SEP = r"[ \t.\-\u2010-\u2015\u2212]{0,3}"
_GROUP_SEP = r"[ \t.\-\u2010-\u2015\u2212]{1,3}"
_NO_DIGIT_BEFORE, _NO_DIGIT_AFTER = r"(?<![0-9])", r"(?![0-9])"
_COUNTRY = r"(?:(?:\+|00)" + _SEP + r"86|\(" + _SEP + r"\+?86" + _SEP + r"\))" + _SEP


def _spaced(pattern: str) -> str:
    """`_` in a digit pattern stands for an optional separator: `1_[3-9]` matches `13`, `1 3`, `1-3`, `1. 3`."""
    return pattern.replace("_", _SEP)


# Resident ID (GB 11643): area code, birth date 18xx–20xx, sequence, check digit or X. Old (15-digit) IDs: area
# code, birth date yymmdd, sequence.
_MONTH, _DAY = "(?:0_[1-9]|1_[0-2])", "(?:0_[1-9]|[12]_[0-9]|3_[01])"
_ID_18 = _spaced(r"[1-9](?:_[0-9]){5}_(?:1_[89]|2_0)_[0-9]_[0-9]_" + _MONTH + "_" + _DAY + r"(?:_[0-9]){3}_[0-9Xx]")
_ID_15 = _spaced(r"[1-9](?:_[0-9]){7}_" + _MONTH + "_" + _DAY + r"(?:_[0-9]){3}")
# Bank cards: 16–19 digits, written whole or in groups of four; told from order numbers by the Luhn check.
_CARD = r"[0-9]{16,19}|[0-9]{4}(?:" + _GROUP_SEP + r"[0-9]{4}){3}(?:" + _GROUP_SEP + r"[0-9]{1,3})?"
# Mobile: 11 digits from 13x–19x, grouped any way.
_MOBILE = _spaced(r"1_[3-9](?:_[0-9]){9}")
# Landline: area code (0xx, 0xxx, in brackets, or without its 0 after +86), then a 7–8 digit local number.
_LOCAL = r"[2-9][0-9]{2,3}" + _SEP + r"[0-9]{4}"
_LANDLINE = r"(?:\(" + _SEP + r"0[1-9][0-9]{1,2}" + _SEP + r"\)|0[1-9][0-9]{1,2})" + _SEP + _LOCAL
_LANDLINE_ABROAD = r"[1-9][0-9]{1,2}" + _SEP + _LOCAL


def _word(*words: str) -> str:
    """Latin keywords in any case, not the end of a longer word (`wx` is a keyword, `lwx` is not)."""
    spelt = ["".join(f"[{c.upper()}{c}]" for c in w) for w in words]
    return "(?:" + "|".join(f"{w}(?<![A-Za-z]{w})" for w in spelt) + ")"


# What citizens write before a number: the number that follows is personal even when its form alone says little.
_SAYS = r"(?:是|为|:)?[: ]*"
_PHONE_WORD = (
    r"(?:电话号码|电话号|联系电话|电话|手机号码|手机号|手机|座机|联系方式|号码|拨打|致电|打|" + _word("tel") + ")"
)
_QQ_WORD = r"(?:[Qq][Qq]|扣扣|企鹅)(?:号码|号)?"  # also right after a Latin word: "myqq"
_WECHAT_WORD = r"(?:微信号码|微信号|微信|威信|" + _word("vx", "wx", "weixin", "wechat") + r")(?:号)?"
_WECHAT_ID = r"[A-Za-z][A-Za-z0-9_-]{5,19}+(?![A-Za-z0-9_-])"
_EMAIL = r"(?<![A-Za-z0-9._%+-])(?P<n>[A-Za-z0-9._%+-]++)@(?:[A-Za-z0-9-]++\.)+[A-Za-z]{2,63}"


_NOT_DIGIT = re.compile(r"[^0-9]")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


@dataclass(frozen=True)
class _Rule:
    """One kind of personal number: where it is (group `n` of the pattern) and how much of it stays visible."""

    pattern: re.Pattern[str]
    keep_head: int
    keep_tail: int
    accept: Callable[[str], bool] = lambda digits: True
    whole: bool = False  # an address or an id: one mask for the whole value, not one per digit


def _rule(pattern: str, keep_head: int = 0, keep_tail: int = 0, **kw) -> _Rule:
    return _Rule(re.compile(pattern), keep_head, keep_tail, **kw)


def _number(pattern: str, before: str = "") -> str:
    """`pattern` as group `n`, not inside a longer run of digits, after what `before` matches (kept visible)."""
    return _NO_DIGIT_BEFORE + before + "(?P<n>" + pattern + ")" + _NO_DIGIT_AFTER


# Where two rules read the same characters as equally long numbers, the earlier one masks them.
_RULES = (
    _rule(_number(_ID_18), 4, 2),
    _rule(_number(_ID_15), 4, 2),
    _rule(_number(_CARD), 4, 4, accept=_luhn_valid),
    _rule(_number(_MOBILE, "(?:" + _COUNTRY + "|86" + _SEP + ")?"), 3, 2),
    _rule(_number(_LANDLINE, "(?:" + _COUNTRY + ")?"), 3, 2),
    _rule(_number(_LANDLINE_ABROAD, _COUNTRY), 3, 2),
    _rule(_EMAIL, whole=True),
    _rule(_WECHAT_WORD + _SAYS + "(?P<n>" + _WECHAT_ID + ")", whole=True),
    _rule(_QQ_WORD + _SAYS + r"(?P<n>[1-9][0-9]{4,10})" + _NO_DIGIT_AFTER),
    _rule(_PHONE_WORD + _SAYS + "(?P<n>" + _LOCAL + ")" + _NO_DIGIT_AFTER),
)


class _Normalised:
    """The text after NFKC without zero-width characters, and for each of its characters the one it came from."""

    def __init__(self, text: str) -> None:
        one_for_one = text.translate(_ONE_FOR_ONE)
        if unicodedata.is_normalized("NFKC", one_for_one) and not _ZERO_WIDTH.intersection(text):
            self.text, self.origin, self.shown = one_for_one, range(len(text)), text
            return
        chars: list[str] = []
        origin: list[int] = []
        shown: list[str] = []  # the citizen's own character where it became exactly one character
        for i, c in enumerate(text):
            if c in _ZERO_WIDTH:
                continue
            n = unicodedata.normalize("NFKC", c)
            chars += n
            origin += [i] * len(n)
            shown += c if len(n) == 1 else n
        self.text, self.origin, self.shown = "".join(chars), origin, "".join(shown)

    def span(self, start: int, end: int) -> tuple[int, int]:
        return self.origin[start], self.origin[end - 1] + 1


def _masked(norm: _Normalised, rule: _Rule, start: int, end: int) -> str:
    if rule.whole:
        return MASK
    positions = [j for j in range(start, end) if norm.text[j] in "0123456789Xx"]
    head, tail = positions[: rule.keep_head], positions[len(positions) - rule.keep_tail :] if rule.keep_tail else []
    middle = len(positions) - len(head) - len(tail)
    return "".join(norm.shown[j] for j in head) + MASK * middle + "".join(norm.shown[j] for j in tail)


def _personal_spans(norm: _Normalised) -> list[tuple[int, int, _Rule]]:
    """Where the personal numbers are. Of two readings of the same digits the longer wins, so a card or an ID in
    groups is masked whole rather than a part of it read as something shorter; of two as long, the earlier rule."""
    found = [
        (m.start("n"), m.end("n"), rank, rule)
        for rank, rule in enumerate(_RULES)
        for m in rule.pattern.finditer(norm.text)
        if rule.accept(_NOT_DIGIT.sub("", m.group("n")))
    ]
    spans: list[tuple[int, int, _Rule]] = []
    taken = bytearray(len(norm.text))
    for start, end, _, rule in sorted(found, key=lambda f: (f[0] - f[1], f[2])):
        if taken.find(1, start, end) == -1:
            spans.append((start, end, rule))
            taken[start:end] = b"\x01" * (end - start)
    return sorted(spans, key=lambda t: t[0])


def mask_personal_numbers(text: str) -> str:
    """The text with ID, phone, bank card, QQ and WeChat numbers and e-mail addresses masked, as written otherwise.

    Phone and ID numbers keep their first three (ID: four) and last two digits, bank cards their first and last
    four; e-mail addresses keep their domain (`＊@example.cn`); QQ, WeChat and local numbers after 电话/座机/打 are
    masked whole.
    """
    norm = _Normalised(text)
    out, done = [], 0
    for start, end, rule in _personal_spans(norm):
        first, last = norm.span(start, end)
        out += [text[done:first], _masked(norm, rule, start, end)]
        done = last
    out.append(text[done:])
    return "".join(out)


def contains_personal_numbers(text: str) -> bool:
    return bool(_personal_spans(_Normalised(text)))

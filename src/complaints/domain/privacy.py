"""Personal numbers citizens type into their complaints, and how they are masked beyond the assigned agency.

The assigned agency reads the complaint as written (it may need to call back); everyone else — the triage desk,
logs, any public view — reads it with phone numbers and ID numbers masked.
"""

from __future__ import annotations

import re

# Not inside a longer run of digits: a 20-digit order number is not a phone number.
_EDGE_L, _EDGE_R = r"(?<![0-9])", r"(?![0-9Xx])"
# Resident ID (GB 11643): 6-digit area, birth date 18xx-20xx, 3-digit sequence, check digit or X.
_CN_ID = re.compile(
    _EDGE_L + r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx]" + _EDGE_R
)
# Mobile: 11 digits from 13x–19x, optionally +86/86 and spaces or dashes in the usual 3-4-4 places.
_MOBILE = re.compile(_EDGE_L + r"(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}" + r"(?![0-9])")
# Landline: area code 0xx/0xxx, optionally in brackets, then 7–8 digits; or 7–8 digits alone after 电话/tel.
_LANDLINE = re.compile(_EDGE_L + r"(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3})[ -]?\d{7,8}" + r"(?![0-9])")
_LOCAL_NUMBER = re.compile(r"((?:电话|手机|座机|联系方式|tel|Tel|TEL)[:：]?\s*)(\d{7,8})(?![0-9])")

MASK = "＊"


def _mask_keep_ends(m: re.Match[str], keep_head: int = 3, keep_tail: int = 2) -> str:
    digits = m.group(0)
    return digits[:keep_head] + MASK * max(len(digits) - keep_head - keep_tail, 1) + digits[-keep_tail:]


def mask_personal_numbers(text: str) -> str:
    """The text with ID numbers, mobile and landline numbers masked, their first and last digits kept."""
    text = _CN_ID.sub(lambda m: _mask_keep_ends(m, 4, 2), text)
    text = _MOBILE.sub(_mask_keep_ends, text)
    text = _LANDLINE.sub(_mask_keep_ends, text)
    return _LOCAL_NUMBER.sub(lambda m: m.group(1) + MASK * len(m.group(2)), text)


def contains_personal_numbers(text: str) -> bool:
    return mask_personal_numbers(text) != text

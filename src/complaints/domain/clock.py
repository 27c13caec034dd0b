"""The desk's one clock: every time a use case stamps or compares goes through here.

On Lambda it is the system clock. The local stack may move it forward for every handler at once
(`POST /_local/clock {"offset_s": N}`, local stack only), so a test can cross a weekend or a holiday without
waiting; monotonic timers (deadlines within one call, photo decoding budgets) are not moved.
"""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime

_offset_s = 0.0


def now() -> datetime:
    """The current time, in UTC."""
    return datetime.fromtimestamp(epoch(), UTC)


def epoch() -> float:
    """Seconds since the epoch, as time.time()."""
    return _time.time() + _offset_s


def offset_s() -> float:
    return _offset_s


def set_offset_s(seconds: float) -> None:
    """Move the clock `seconds` ahead of the system clock (only the local stack calls this)."""
    global _offset_s
    if seconds < 0:
        raise ValueError("the clock only moves forward")
    _offset_s = float(seconds)

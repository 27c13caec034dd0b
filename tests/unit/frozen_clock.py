"""A clock the tests move by hand (monkeypatched over complaints.domain.clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

CST = datetime.fromisoformat("2026-01-01T00:00:00+08:00").tzinfo


class FrozenClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at.astimezone(UTC)

    def epoch(self) -> float:
        return self.at.timestamp()

    def move(self, **delta) -> None:
        self.at += timedelta(**delta)

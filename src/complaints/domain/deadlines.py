"""Deadlines on the city's working-day calendar: when an agency must sign for a ticket, answer it, at the latest
extend it, and when a citizen's rating window closes.

The calendar is city data (`[calendar]`, `[service_hours]` and `[deadlines]` in the city file, see city/SCHEMA.md):
the working week, the public holidays and the make-up working days (调休) the State Council announces each year,
the service hours of a working day and the time zone. Nothing here knows Rui'an.

How periods are counted:
- **working hours** (time to sign for a ticket) run only inside service hours on working days: four working hours
  from Friday 16:00, with service until 17:30, end on Monday at 11:00;
- **working days** (time to answer, extensions) do not count the day the period starts, as the Civil Code counts
  periods in days (民法典 第二百零一条: 开始的当日不计入); the deadline is the close of service on the last one;
- **natural days** (the rating window) are plain days of 24 hours.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A search for the next working day gives up after this many days: a calendar without one is a broken city file.
_MAX_DAYS_WITHOUT_WORK = 60


class CalendarError(ValueError):
    """The calendar cannot answer: no working day in sight, or an instant without a time zone."""


@dataclass(frozen=True)
class WorkingCalendar:
    time_zone: str = "Asia/Shanghai"
    working_weekdays: frozenset[int] = frozenset(range(5))  # Monday is 0
    service_hours: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))
    holidays: frozenset[date] = frozenset()
    make_up_working_days: frozenset[date] = frozenset()
    # The years whose holidays and make-up days are listed; beyond them only the working week is known.
    listed_years: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        ZoneInfo(self.time_zone)  # an unknown zone fails when the city file is read, not at the first deadline
        if not self.service_hours:
            raise CalendarError("service hours must have at least one period")
        for start, end in self.service_hours:
            if not start < end:
                raise CalendarError(f"service period {start:%H:%M}–{end:%H:%M} must end after it starts")
        for (_, end), (start, _) in zip(self.service_hours, self.service_hours[1:], strict=False):
            if not end <= start:
                raise CalendarError("service periods must be in order and must not overlap")
        both = self.holidays & self.make_up_working_days
        if both:
            raise CalendarError(f"{min(both)} is both a holiday and a make-up working day")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def is_working_day(self, day: date) -> bool:
        if day in self.make_up_working_days:
            return True
        return day.weekday() in self.working_weekdays and day not in self.holidays

    def knows(self, day: date) -> bool:
        """Whether the city file lists that year's holidays: a deadline beyond them may fall on an unknown holiday."""
        return day.year in self.listed_years

    def local(self, instant: datetime) -> datetime:
        if instant.tzinfo is None:
            raise CalendarError("a deadline needs an instant with a time zone")
        return instant.astimezone(self.zone)

    def close_of(self, day: date) -> datetime:
        """The end of service on `day`."""
        return datetime.combine(day, self.service_hours[-1][1], self.zone)

    def working_days_after(self, day: date) -> Iterator[date]:
        """The working days after `day`, in order (the day itself is not counted)."""
        gap = 0
        while True:
            day += timedelta(days=1)
            if self.is_working_day(day):
                gap = 0
                yield day
            else:
                gap += 1
                if gap > _MAX_DAYS_WITHOUT_WORK:
                    raise CalendarError(f"no working day in the {_MAX_DAYS_WITHOUT_WORK} days after {day}")

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The close of service on the `days`-th working day after the day of `start` (which does not count)."""
        if days < 1:
            raise CalendarError("a period in working days is at least one day")
        day = self.local(start).date()
        for n, working_day in enumerate(self.working_days_after(day), start=1):
            if n == days:
                return self.close_of(working_day)
        raise AssertionError("unreachable")

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """`start` plus `hours` counted inside service hours on working days only."""
        if hours <= 0:
            raise CalendarError("a period in working hours must be positive")
        left = timedelta(hours=hours)
        for begin, end in self._service_periods_from(self.local(start)):
            if end - begin >= left:
                return begin + left
            left -= end - begin
        raise AssertionError("unreachable")

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Service time on working days between two instants (zero if `end` is not after `start`)."""
        total = timedelta()
        end = self.local(end)
        for begin, stop in self._service_periods_from(self.local(start)):
            if begin >= end:
                return total
            total += min(stop, end) - begin
        raise AssertionError("unreachable")

    def _service_periods_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The service periods from `start` on, the first one cut at `start` if it is inside it."""
        day = start.date()
        days = self.working_days_after(day - timedelta(days=1))
        for working_day in days:
            for open_at, close_at in self.service_hours:
                begin = datetime.combine(working_day, open_at, self.zone)
                end = datetime.combine(working_day, close_at, self.zone)
                if end <= start:
                    continue
                yield max(begin, start), end


@dataclass(frozen=True)
class ServiceLimits:
    """How long an agency has, per category (defaults from `[deadlines]`, overridden per category)."""

    accept_within_hours: float = 4
    answer_within_days: int = 5
    longest_extension_days: int = 10
    rating_window_days: int = 7
    reopen_limit: int = 2

    def __post_init__(self) -> None:
        if self.accept_within_hours <= 0:
            raise CalendarError("accept_within_hours must be positive")
        for name in ("answer_within_days", "longest_extension_days", "rating_window_days"):
            if getattr(self, name) < 1:
                raise CalendarError(f"{name} must be at least 1")
        if self.reopen_limit < 0:
            raise CalendarError("reopen_limit must not be negative")


@dataclass(frozen=True)
class Deadlines:
    accept_by: datetime  # 签收时限
    answer_by: datetime  # 答复时限
    # False when a deadline falls in a year whose holidays the city file does not list yet.
    calendar_known: bool


def deadlines_for(calendar: WorkingCalendar, limits: ServiceLimits, dispatched_at: datetime) -> Deadlines:
    """The deadlines of a ticket dispatched to an agency at `dispatched_at`."""
    accept_by = calendar.add_working_hours(dispatched_at, limits.accept_within_hours)
    answer_by = calendar.add_working_days(dispatched_at, limits.answer_within_days)
    known = calendar.knows(calendar.local(dispatched_at).date()) and calendar.knows(answer_by.date())
    return Deadlines(accept_by=accept_by, answer_by=answer_by, calendar_known=known)


def latest_extension(calendar: WorkingCalendar, limits: ServiceLimits, answer_by: datetime) -> date:
    """The last day an answer deadline may be extended to (延期): `longest_extension_days` working days after it."""
    return calendar.add_working_days(answer_by, limits.longest_extension_days).date()


def rating_closes_at(limits: ServiceLimits, answered_at: datetime) -> datetime:
    """When an answer not rated is closed without a rating: `rating_window_days` natural days after it."""
    return answered_at + timedelta(days=limits.rating_window_days)

"""Deadlines on Rui'an's working-day calendar: weekends, the 2026 holidays and their make-up working days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from complaints.city import CityConfigError, load_city
from complaints.domain.deadlines import (
    CalendarError,
    ServiceLimits,
    WorkingCalendar,
    deadlines_for,
    latest_extension,
    rating_closes_at,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
def calendar(city) -> WorkingCalendar:
    return city.calendar


@pytest.fixture
def limits(city) -> ServiceLimits:
    return city.limits_for("环境保护")


def test_a_ticket_dispatched_on_friday_afternoon_is_due_for_signing_on_monday_morning(calendar, limits):
    due = deadlines_for(calendar, limits, at("2026-12-04 16:00"))  # a Friday; service until 17:30
    assert due.accept_by == at("2026-12-07 11:00")  # 1.5 h on Friday, 2.5 h on Monday
    assert due.answer_by == at("2026-12-11 17:30")  # five working days, Friday itself not counted
    assert due.calendar_known


def test_the_same_instant_in_utc_gives_the_same_deadlines(calendar, limits):
    friday_in_utc = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    assert deadlines_for(calendar, limits, friday_in_utc) == deadlines_for(calendar, limits, at("2026-12-04 16:00"))


def test_the_lunch_break_and_the_evening_do_not_count(calendar, limits):
    assert deadlines_for(calendar, limits, at("2026-12-01 11:00")).accept_by == at("2026-12-01 17:00")
    # Sent on a Saturday evening: the clock starts on Monday at 08:30.
    assert deadlines_for(calendar, limits, at("2026-12-05 20:00")).accept_by == at("2026-12-07 14:30")


def test_the_national_day_holiday_does_not_count_and_its_make_up_saturday_does(calendar, limits):
    due = deadlines_for(calendar, limits, at("2026-09-30 10:00"))
    assert due.accept_by == at("2026-09-30 16:00")
    # 1–7 October off; Thu 8, Fri 9, Saturday 10 (调休, a working day), Mon 12, Tue 13.
    assert due.answer_by == at("2026-10-13 17:30")


def test_the_saturday_before_the_spring_festival_is_a_working_day(calendar, limits):
    assert calendar.is_working_day(date(2026, 2, 14)) and not calendar.is_working_day(date(2026, 2, 16))
    due = deadlines_for(calendar, limits, at("2026-02-13 16:30"))
    assert due.accept_by == at("2026-02-14 11:30")
    # 15–23 February off: Sat 14, Tue 24, Wed 25, Thu 26, Fri 27.
    assert due.answer_by == at("2026-02-27 17:30")


def test_a_deadline_in_a_year_the_city_file_does_not_list_yet_is_flagged(calendar, limits):
    due = deadlines_for(calendar, limits, at("2026-12-29 10:00"))
    assert due.answer_by.date() == date(2027, 1, 5)
    assert not due.calendar_known  # 2027's holidays are not in the file: 1 January may be one


def test_an_extension_reaches_at_most_ten_working_days_past_the_deadline(calendar, limits):
    assert latest_extension(calendar, limits, at("2026-12-11 17:30")) == date(2026, 12, 25)


def test_the_rating_window_is_seven_natural_days(limits):
    assert rating_closes_at(limits, at("2026-09-30 10:00")) == at("2026-10-07 10:00")


def test_a_category_may_give_its_agency_more_time(tmp_path, city_file):
    text = city_file.read_text(encoding="utf-8").replace(
        'name = "环境保护"\nagency = "eco"', 'name = "环境保护"\nagency = "eco"\nanswer_within_days = 10', 1
    )
    path = tmp_path / "city.toml"
    path.write_text(text, encoding="utf-8")
    city = load_city(path)
    assert city.limits_for("环境保护").answer_within_days == 10
    assert city.limits_for("城乡建设").answer_within_days == 5
    assert city.limits_for(None).accept_within_hours == 4


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('time_zone = "Asia/Shanghai"', 'time_zone = "Asia/Ruian"', "unknown time_zone 'Asia/Ruian'"),
        ('working_days = ["mon",', 'working_days = ["monday",', "working_days must be some of"),
        ("listed_years = [2026]", "listed_years = [2025]", "2026-01-01 is in a year missing from listed_years"),
        ("2026-01-04, 2026-02-14", "2026-01-01, 2026-02-14", "2026-01-01 is both a holiday and a make-up"),
        ('["14:00", "17:30"]', '["11:00", "17:30"]', "must not overlap"),
        ('["08:30", "12:00"]', '["12:00", "08:30"]', "must end after it starts"),
        ("reopen_limit = 2 ", "reopen_limit = 2\nrepoen = 3 ", "unknown keys \\['repoen'\\]"),
        ("answer_within_days = 5 ", "answer_within_days = 0 ", "answer_within_days must be at least 1"),
        ("answer_within_days = 5 ", 'answer_within_days = "5" ', "answer_within_days must be a number"),
    ],
)
def test_a_broken_calendar_is_refused_when_the_city_file_is_read(tmp_path, city_file, old, new, message):
    text = city_file.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "city.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CityConfigError, match=message):
        load_city(path)


def test_a_deadline_needs_an_instant_with_its_time_zone(calendar, limits):
    with pytest.raises(CalendarError, match="time zone"):
        deadlines_for(calendar, limits, datetime(2026, 12, 4, 16, 0))


# ------------------------------------------------------------------ properties, over every instant of 2026
instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20)).map(
    lambda d: d.replace(tzinfo=SHANGHAI)
)


def _in_service(calendar: WorkingCalendar, instant: datetime) -> bool:
    local = instant.astimezone(SHANGHAI)
    return calendar.is_working_day(local.date()) and any(
        start < local.time() <= end for start, end in calendar.service_hours
    )


@given(start=instants, quarter_hours=st.integers(min_value=1, max_value=200))
def test_working_hours_end_inside_service_hours_after_exactly_that_much_service_time(city, start, quarter_hours):
    calendar, hours = city.calendar, quarter_hours / 4
    end = calendar.add_working_hours(start, hours)
    assert end > start
    assert _in_service(calendar, end)
    assert calendar.working_time_between(start, end) == timedelta(hours=hours)


@given(start=instants, days=st.integers(min_value=1, max_value=15))
def test_working_days_end_at_the_close_of_the_nth_working_day_after_the_start_day(city, start, days):
    calendar = city.calendar
    end = calendar.add_working_days(start, days)
    assert end.timetz().replace(tzinfo=None) == time(17, 30) and calendar.is_working_day(end.date())
    day, counted = start.date(), 0
    while day < end.date():
        day += timedelta(days=1)
        counted += calendar.is_working_day(day)
    assert counted == days

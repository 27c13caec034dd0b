"""Deadlines on the city's working-day calendar, with the local stack's clock moved: a ticket dispatched on a Friday
afternoon before a listed holiday must be signed for and answered on working days only; the scheduler reminds the
agency once when signing is late, escalates to the triage desk once when the answer is late, and closes an answer
left unrated when the rating window passes, telling the citizen.

The clock moves forward only, for the whole stack: this module runs a stack of its own. Its city file is the
repository's with one more listed holiday, the Monday after the chosen Friday (the real file lists no holiday ahead
of every date these tests may run on)."""

from __future__ import annotations

import re
import shutil
import time
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import pytest
from loop_helpers import PHONE, PHONE_E164, Desk, citizen_view, file_complaint, notices, outbox, sent, staff

from complaints.city import load_city
from complaints_tools.fake_weibo import FakeWeibo

ROOT = Path(__file__).resolve().parents[2]
CITY_FILE = ROOT / "city" / "ruian.toml"
HOME = "https://wenzheng.ruian.example"


def _quiet_friday(today: date) -> date:
    """The first Friday after `today` with no holiday or make-up working day of the city file within two weeks."""
    calendar = load_city(CITY_FILE).calendar
    day = today + timedelta(days=1)
    while True:
        span = {day + timedelta(days=n) for n in range(15)}
        if day.weekday() == 4 and not span & (calendar.holidays | calendar.make_up_working_days):
            return day
        day += timedelta(days=1)


def _city_with_holiday(text: str, holiday: date, years: set[int]) -> str:
    listed = re.search(r"^listed_years = \[(.*)\]$", text, re.M)
    known = {int(y) for y in listed.group(1).split(",") if y.strip()} | years
    text = text.replace(listed.group(0), f"listed_years = [{', '.join(map(str, sorted(known)))}]")
    return text.replace("holidays = [\n", f"holidays = [\n  {holiday.isoformat()},  # this test's own\n", 1)


@pytest.fixture(scope="module")
def desk(tmp_path_factory, stack_process):
    """(stack, the chosen Friday, the test city) — a stack on a copy of the repository with the test's city file."""
    start_stack, stop_stack = stack_process
    tz = load_city(CITY_FILE).calendar.zone
    friday = _quiet_friday(datetime.now(tz).date())
    holiday = friday + timedelta(days=3)
    root = tmp_path_factory.mktemp("holiday-desk")
    for name in ("src", "functions", "layers", "models"):
        (root / name).symlink_to(ROOT / name, target_is_directory=True)
    shutil.copy(ROOT / "template.yaml", root / "template.yaml")
    (root / "city").mkdir()
    city_file = root / "city" / "ruian.toml"
    years = {friday.year, (friday + timedelta(days=21)).year}
    city_file.write_text(_city_with_holiday(CITY_FILE.read_text(encoding="utf-8"), holiday, years), encoding="utf-8")
    city = load_city(city_file)
    assert not city.calendar.is_working_day(holiday)

    weibo = FakeWeibo(samples=False).start()
    # Its one timed run is at start; after that the scheduler runs when the test says (POST /_local/schedules/…).
    proc, stack = start_stack(
        weibo, root / "stack.log", "--root", str(root), "--parameter", "DeadlineSchedule=rate(1 day)"
    )
    yield stack, friday, city
    stop_stack(proc)
    weibo.stop()


def _move_clock_to(stack, at: datetime) -> None:
    moved = stack.request("POST", "/_local/clock", {"offset_s": at.timestamp() - time.time()})
    assert moved.status == 200, moved.body


def _run_deadlines(stack) -> dict:
    ran = stack.request("POST", "/_local/schedules/DeadlinesFunction")
    assert ran.status == 200 and ran.json() is not None, ran.body  # None: the run failed
    return ran.json()


def _local(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _moves(desk: Desk, ticket: dict, move: str) -> int:
    return sum(1 for h in desk.ticket(ticket["id"]).json()["history"] if h.get("move") == move)


def test_deadlines_skip_a_weekend_and_a_holiday_and_the_scheduler_acts_on_each_once(desk):
    stack, friday, city = desk
    calendar, limits = city.calendar, city.limits_for("环境保护")
    _move_clock_to(stack, datetime.combine(friday, clock_time(15), calendar.zone))
    late, rated_never = file_complaint(stack, {"phone": PHONE}), file_complaint(stack, {"phone": PHONE})
    eco = Desk(stack, staff(stack, "eco"))

    # ---- the deadlines, as the agency's ticket view gives them
    view = eco.ticket(late["id"]).json()
    dispatched_at = _local(next(h["at"] for h in view["history"] if h["status"] == "dispatched"))
    local_dispatch = calendar.local(dispatched_at)
    assert local_dispatch.date() == friday and 15 <= local_dispatch.hour < 17, local_dispatch
    accept_by, answer_by = (_local(view["deadlines"][k]) for k in ("accept_by", "answer_by"))
    assert view["deadlines"]["calendar_known"] is True
    weekend_and_holiday = [friday + timedelta(days=n) for n in (1, 2, 3)]
    assert not any(calendar.is_working_day(d) for d in weekend_and_holiday)
    # Signing for: four working hours, less than Friday afternoon has left, so on Tuesday morning.
    expected_accept = calendar.add_working_hours(dispatched_at, limits.accept_within_hours)
    assert abs(accept_by - expected_accept) < timedelta(seconds=5), (accept_by, expected_accept)
    assert calendar.local(accept_by).date() == friday + timedelta(days=4)
    assert calendar.is_working_day(calendar.local(accept_by).date())
    # Answering: the close of service on the fifth working day after Friday, which does not count.
    answer_day = calendar.local(answer_by).date()
    assert answer_by == calendar.close_of(answer_day) == calendar.add_working_days(dispatched_at, 5)
    assert calendar.is_working_day(answer_day) and answer_day.weekday() < 5
    between = [friday + timedelta(days=n) for n in range(1, (answer_day - friday).days + 1)]
    assert sum(map(calendar.is_working_day, between)) == limits.answer_within_days
    assert set(weekend_and_holiday) <= set(between) and len(between) > limits.answer_within_days + 3

    # ---- the other ticket is answered at once; its rating window is natural days
    answered = eco.answer(rated_never["id"], "已责令停止焚烧。")
    rate_by = _local(answered["deadlines"]["rate_by"])
    window = rate_by - _local(answered["answers"][0]["at"])  # rate_by is written to the second
    assert abs(window - timedelta(days=limits.rating_window_days)) < timedelta(seconds=1), window
    assert sent(stack, rated_never, "answer-1") == {"sms": "sent"}
    assert accept_by < rate_by < answer_by
    assert _run_deadlines(stack) == {"reminded": 0, "escalated": 0, "closed": 0, "skipped": 0, "errors": 0}

    # ---- Tuesday, past the time to sign for it: one reminder to the agency, however often the scheduler runs
    _move_clock_to(stack, accept_by + timedelta(minutes=1))
    assert _run_deadlines(stack)["reminded"] == 1
    assert _run_deadlines(stack)["reminded"] == 0
    assert sent(stack, late, "remind-1") == {"agency": "sent"}
    reminders = notices(stack, late["ticket_no"], "reminder")
    assert sorted((e["protocol"], e["endpoint"]) for e in reminders) == [
        ("email", "hbj@ruian.example"), ("sms", "+8613900000002")
    ]  # fmt: skip
    (sms,) = [e for e in reminders if e["protocol"] == "sms"]
    assert "催办" in sms["message"] and sms["message"].endswith(f"{HOME}/t/{late['ticket_no']}"), sms["message"]
    assert len(sms["message"]) <= 70
    view = eco.ticket(late["id"]).json()
    assert (view["status"], view["overdue"], _moves(eco, late, "remind")) == ("dispatched", False, 1)
    assert citizen_view(stack, rated_never)["status"] == "answered"  # its window is still open

    # ---- a week after the answer: closed without a rating, and the citizen told so, once
    _move_clock_to(stack, rate_by + timedelta(minutes=1))
    assert _run_deadlines(stack)["closed"] == 1
    assert _run_deadlines(stack)["closed"] == 0
    closed = citizen_view(stack, rated_never)
    assert (closed["status"], closed["rating"], closed["rate_by"]) == ("closed", None, None)
    assert sent(stack, rated_never, "closed") == {"sms": "sent"}
    told = [e["message"] for e in outbox(stack, rated_never["ticket_no"], "citizen")]
    assert len(told) == 2 and "已答复" in told[0] and "评价期已过" in told[1], told
    assert all(e["endpoint"] == PHONE_E164 for e in outbox(stack, rated_never["ticket_no"], "citizen"))
    assert eco.ticket(late["id"]).json()["overdue"] is False  # its answer is not due yet

    # ---- past the answer deadline: overdue, and escalated to the triage desk once
    _move_clock_to(stack, answer_by + timedelta(minutes=1))
    assert _run_deadlines(stack)["escalated"] == 1
    assert _run_deadlines(stack)["escalated"] == 0
    view = eco.ticket(late["id"]).json()
    assert (view["status"], view["overdue"], _moves(eco, late, "escalate")) == ("dispatched", True, 1)
    assert eco.inbox_ids("?overdue=true") == [late["id"]]
    (listed,) = eco.inbox("?overdue=true").json()["tickets"]
    assert listed["overdue"] is True
    assert sent(stack, late, "escalate-1") == {"triage": "sent"}
    (escalation,) = notices(stack, late["ticket_no"], "escalation")
    assert (escalation["topic"], escalation["endpoint"]) == ("triage", "paidan@ruian.example")
    assert "督办" in escalation["message"] and view["deadlines"]["answer_by"] in escalation["message"]
    assert not outbox(stack, late["ticket_no"], "citizen")  # reminders and escalations are the staff's business

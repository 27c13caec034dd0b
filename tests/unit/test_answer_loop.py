"""The answer loop's use cases on the in-memory ports: the agency signs for, answers, returns and extends tickets; the
triage desk assigns; the citizen rates; the scheduler reminds, escalates and closes; the messenger sends once."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from frozen_clock import CST, FrozenClock

from complaints.adapters.memory import (
    MemoryCitizenChannels,
    MemoryContactVault,
    MemoryNotifier,
    MemoryOutbox,
    MemoryPhotoStore,
    MemoryQueue,
    MemoryTicketRepository,
)
from complaints.domain import clock
from complaints.domain.desk.agency_work import AgencyWork, BadCursor, ExtensionRefused
from complaints.domain.desk.assignment import assigned
from complaints.domain.desk.citizen import Citizen
from complaints.domain.desk.due import Deadlines
from complaints.domain.desk.intake import Intake, hash_receipt
from complaints.domain.desk.messenger import DeliveryInProgress, Messenger
from complaints.domain.desk.triage import Triage
from complaints.domain.errors import InvalidComplaint, MoveNotAllowed, TemporarilyUnavailable, TicketNotFound
from complaints.domain.tickets import HistoryEntry, Status, Ticket
from complaints.staff import StaffMember

RECEIPT = "receipt-of-the-citizen"


@pytest.fixture()
def time(monkeypatch):
    frozen = FrozenClock(datetime(2026, 9, 30, 10, 0, tzinfo=CST))  # a Wednesday, before the 国庆 holiday
    monkeypatch.setattr(clock, "now", frozen.now)
    monkeypatch.setattr(clock, "epoch", frozen.epoch)
    return frozen


class Desk:
    def __init__(self, city) -> None:
        self.city = city
        self.tickets = MemoryTicketRepository(first_ticket_no=10001)
        self.contacts = MemoryContactVault()
        self.intake = Intake(
            city=city,
            tickets=self.tickets,
            photos=MemoryPhotoStore(),
            classify_queue=MemoryQueue(),
            contacts=self.contacts,
        )
        self.work = AgencyWork(city, self.tickets, MemoryPhotoStore())
        self.triage = Triage(city, self.tickets, self.work)
        self.citizen = Citizen(city, self.tickets, self.intake)
        self.deadlines = Deadlines(city, self.tickets)
        self.channels = MemoryCitizenChannels()
        self.notifier = MemoryNotifier()
        self.outbox = MemoryOutbox(self.tickets)
        self.messenger = Messenger(city, self.tickets, self.outbox, self.contacts, self.channels, self.notifier)

    def dispatched(self, contact: dict | None = None, agency: str = "eco", n: int = 1) -> Ticket:
        ticket_id = f"{n:032x}"
        ticket = Ticket(
            id=ticket_id,
            ticket_no=10000 + n,
            status=Status.DISPATCHED,
            text="上望街道有人在河边烧垃圾，电话13812345678",
            channel="app",
            created_at=clock.now().isoformat().replace("+00:00", "Z"),
            receipt_hash=hash_receipt(RECEIPT),
            history=[HistoryEntry(status=Status.DISPATCHED, at="2026-09-30T02:00:00Z")],
            category="环境保护",
            district="上望街道",
        )
        ticket = ticket.model_copy(update=_fields(assigned(self.city, ticket, agency)))
        if contact:
            ticket = ticket.model_copy(update={"contact_sealed": self.contacts.seal(ticket_id, contact)})
        self.tickets.create(ticket)
        return ticket

    def send_all(self) -> None:
        for message in list(self.tickets.messages.values()):
            self.messenger.deliver(message)

    def messages(self, ticket: Ticket) -> list[str]:
        return [m.key for m in self.tickets.messages.values() if m.ticket_id == ticket.id]


def _fields(fields: dict) -> dict:
    return {k: v for k, v in Ticket.model_validate({**_BLANK, **fields}).__dict__.items() if k in fields}


_BLANK = Ticket(
    id="0" * 32, ticket_no=1, status="dispatched", text="x", channel="app", created_at="x", receipt_hash="x", history=[]
).model_dump()


@pytest.fixture()
def desk(city, time) -> Desk:
    return Desk(city)


def staff(city, agency: str, user: str = "u-1") -> StaffMember:
    return StaffMember(user_id=user, email=f"{user}@ruian.example", agency=city.agency(agency), admin=False)


# ---------------------------------------------------------------- the agency's inbox and its own tickets only
def test_an_agency_sees_its_own_tickets_newest_first_and_nobody_elses(desk, city, time):
    for n in range(1, 31):
        desk.dispatched(n=n, agency="eco" if n % 5 else "jtj")
        time.move(minutes=1)
    page = desk.work.inbox(staff(city, "eco"))
    assert len(page.tickets) == 20 and page.next_cursor
    numbers = [t["ticket_no"] for t in page.tickets]
    assert numbers == sorted(numbers, reverse=True)
    rest = desk.work.inbox(staff(city, "eco"), cursor=page.next_cursor)
    assert [t["ticket_no"] for t in rest.tickets] == [10004, 10003, 10002, 10001] and rest.next_cursor is None
    assert {t["ticket_no"] % 5 for t in page.tickets} == {1, 2, 3, 4}
    assert [t["ticket_no"] for t in desk.work.inbox(staff(city, "jtj")).tickets] == [
        10030,
        10025,
        10020,
        10015,
        10010,
        10005,
    ]


def test_a_cursor_of_another_agency_or_filter_is_refused(desk, city):
    for n in range(1, 23):
        desk.dispatched(n=n)
    cursor = desk.work.inbox(staff(city, "eco")).next_cursor
    with pytest.raises(BadCursor):
        desk.work.inbox(staff(city, "jtj"), cursor=cursor)
    with pytest.raises(BadCursor):
        desk.work.inbox(staff(city, "eco"), status="accepted", cursor=cursor)
    with pytest.raises(BadCursor):
        desk.work.inbox(staff(city, "eco"), cursor="not-a-cursor")
    with pytest.raises(InvalidComplaint):
        desk.work.inbox(staff(city, "eco"), status="lost")


def test_another_agencys_ticket_is_not_found_for_every_action(desk, city):
    ticket = desk.dispatched()
    other = staff(city, "jtj")
    for act in (
        lambda: desk.work.ticket(other, ticket.id),
        lambda: desk.work.accept(other, ticket.id),
        lambda: desk.work.reply(other, ticket.id, "已处理"),
        lambda: desk.work.return_ticket(other, ticket.id, "不归我们管"),
        lambda: desk.work.extend(other, ticket.id, "需要时间", date(2026, 10, 12)),
    ):
        with pytest.raises(TicketNotFound):
            act()
    assert desk.tickets.get(ticket.id).status is Status.DISPATCHED


# ---------------------------------------------------------------- accept, reply, return, extend
def test_accept_then_reply_notifies_the_citizen_once_by_sms(desk, city):
    ticket = desk.dispatched(contact={"phone": "13812345678"})
    eco = staff(city, "eco")
    view = desk.work.accept(eco, ticket.id)
    assert view["status"] == "accepted" and view["can"] == ["answer", "return", "extend"]
    with pytest.raises(MoveNotAllowed) as refused:
        desk.work.accept(eco, ticket.id)
    assert refused.value.state == "accepted"
    view = desk.work.reply(eco, ticket.id, "已安排执法队员到场处置，垃圾已清理。")
    assert view["status"] == "answered" and view["answers"][0]["agency_name"] == "市生态环境局"
    assert view["deadlines"]["rate_by"].startswith("2026-10-07T10:00:00+08:00")
    assert desk.messages(ticket) == ["answer-1"]
    desk.send_all()
    desk.send_all()  # a redelivered stream record
    (sms,) = desk.channels.sent
    assert sms["to"] == "13812345678" and "10001" in sms["text"] and "已安排执法队员" in sms["text"]
    assert len(sms["text"]) <= 134  # two concatenated segments
    history = desk.tickets.get(ticket.id).history
    assert [h.move for h in history[-2:]] == ["accept", "answer"]
    assert history[-1].actor.user == "u-1" and history[-1].actor.agency == "eco"


def test_two_staff_answering_at_once_one_wins(desk, city, monkeypatch):
    ticket = desk.dispatched()
    desk.work.accept(staff(city, "eco", "u-1"), ticket.id)
    real_get = desk.tickets.get
    stale = real_get(ticket.id)  # what the second staff member read, before the first one's answer landed
    desk.work.reply(staff(city, "eco", "u-1"), ticket.id, "第一个答复")
    monkeypatch.setattr(desk.tickets, "get", lambda _id: stale)
    with pytest.raises(MoveNotAllowed) as lost:
        desk.work.reply(staff(city, "eco", "u-2"), ticket.id, "第二个答复")
    assert lost.value.state == "answered"
    assert [a.text for a in real_get(ticket.id).answers] == ["第一个答复"]


def test_a_return_goes_to_the_triage_desk_with_the_reason_and_a_label(desk, city):
    ticket = desk.dispatched()
    out = desk.work.return_ticket(staff(city, "eco"), ticket.id, "属于综合执法局职责")
    assert out["status"] == "triage"
    after = desk.tickets.get(ticket.id)
    assert after.agency == "triage-desk" and after.due is None
    assert [h.move for h in after.history[-2:]] == ["return", "return_to_triage"]
    assert after.routing_labels[-1].kind == "returned" and after.routing_labels[-1].agency == "eco"
    with pytest.raises(TicketNotFound):  # no longer in eco's inbox
        desk.work.ticket(staff(city, "eco"), ticket.id)
    triage_inbox = desk.work.inbox(staff(city, "triage-desk")).tickets
    assert [t["id"] for t in triage_inbox] == [ticket.id]
    desk.send_all()
    (notice,) = desk.notifier.published
    assert notice["channel"] == "triage" and "属于综合执法局职责" in notice["messages"]["email"]
    assert "13812345678" not in notice["messages"]["email"]  # the triage desk reads it masked


def test_the_triage_desk_assigns_and_the_new_agency_is_notified_with_deadlines(desk, city):
    ticket = desk.dispatched()
    desk.work.return_ticket(staff(city, "eco"), ticket.id, "不属于本单位")
    with pytest.raises(TicketNotFound):  # only the triage desk assigns
        desk.triage.assign(staff(city, "eco"), ticket.id, "jtj")
    with pytest.raises(InvalidComplaint):
        desk.triage.assign(staff(city, "triage-desk"), ticket.id, "nobody")
    out = desk.triage.assign(staff(city, "triage-desk"), ticket.id, "jtj", "请交通局处理")
    assert out["status"] == "dispatched"
    after = desk.tickets.get(ticket.id)
    assert (after.agency, after.department, after.due) == ("jtj", "市交通运输局", "accept")
    assert [label.kind for label in after.routing_labels] == ["returned", "assigned"]
    desk.send_all()
    to_agency = [p for p in desk.notifier.published if p["channel"] == "dispatch"]
    assert to_agency and to_agency[0]["attributes"]["department"] == "市交通运输局"
    assert f"/agency/tickets/{ticket.id}" in to_agency[0]["messages"]["email"]
    with pytest.raises(TicketNotFound):  # it has left the triage desk's inbox
        desk.triage.assign(staff(city, "triage-desk"), ticket.id, "eco")


def test_the_triage_desk_sees_the_services_of_the_top_three_with_who_handles_each_in_the_district(desk, city):
    ticket = desk.dispatched()
    muck, road = (next(s.code for s in city.services if s.name == n) for n in ("渣土车", "村道破损"))
    update = {"top3": [(muck, 0.5), (road, 0.3), ("环境保护", 0.1)], "district": "塘下镇"}
    desk.tickets.items[ticket.id] = ticket.model_copy(update=update)
    desk.work.return_ticket(staff(city, "eco"), ticket.id, "不属于本单位")
    view = desk.work.ticket(staff(city, "triage-desk"), ticket.id)
    assert [(s["service"] and s["service"]["name"], s["category"], s["agency"]["id"]) for s in view["top3"]] == [
        ("渣土车", "交通运输", "zhzf"),
        ("村道破损", "交通运输", "town-tangxia"),  # a local matter: the town of the ticket's district
        (None, "环境保护", "eco"),
    ]


def test_the_triage_desk_sees_the_classifiers_top_three_with_the_agency_answering_each(desk, city):
    ticket = desk.dispatched()
    top3 = {"top3": [("交通运输", 0.41), ("环境保护", 0.38), ("城乡建设", 0.09)]}
    desk.tickets.items[ticket.id] = ticket.model_copy(update=top3)  # as the classifier left it
    desk.work.return_ticket(staff(city, "eco"), ticket.id, "不属于本单位")
    view = desk.work.ticket(staff(city, "triage-desk"), ticket.id)
    assert view["top3"] == [
        {"service": None, "category": "交通运输", "probability": 0.41, "agency": {"id": "jtj", "name": "市交通运输局"}},
        {"service": None, "category": "环境保护", "probability": 0.38, "agency": {"id": "eco", "name": "市生态环境局"}},
        {
            "service": None,
            "category": "城乡建设",
            "probability": 0.09,
            "agency": {"id": "zjj", "name": city.agency("zjj").name},
        },
    ]


def test_an_extension_moves_the_deadline_once_and_no_further_than_the_city_allows(desk, city):
    # Answer due 13 Oct: 5 working days after 30 Sept are 8, 9, 10 (a Saturday, 调休), 12 and 13 Oct (国庆 1–7 Oct).
    ticket = desk.dispatched()
    assert ticket.deadlines.answer_by == "2026-10-13T17:30:00+08:00"
    eco = staff(city, "eco")
    with pytest.raises(InvalidComplaint, match="no later than 2026-10-27"):
        desk.work.extend(eco, ticket.id, "需现场勘查", date(2026, 10, 28))
    with pytest.raises(InvalidComplaint, match="working day"):
        desk.work.extend(eco, ticket.id, "需现场勘查", date(2026, 10, 17))
    view = desk.work.extend(eco, ticket.id, "需现场勘查", date(2026, 10, 20))
    assert view["deadlines"]["answer_by"] == "2026-10-20T17:30:00+08:00"
    with pytest.raises(ExtensionRefused):
        desk.work.extend(eco, ticket.id, "还要更久", date(2026, 10, 21))
    # The citizen sees the new deadline, not the reason.
    public = desk.intake.citizen_view(ticket.id, RECEIPT)
    assert public["deadline"] == "2026-10-20T17:30:00+08:00"
    assert all("需现场勘查" not in (h.get("note") or "") for h in public["history"])


# ---------------------------------------------------------------- the citizen's rating
def answered(desk, city, contact=None, n=1) -> Ticket:
    ticket = desk.dispatched(contact=contact, n=n)
    desk.work.accept(staff(city, "eco"), ticket.id)
    desk.work.reply(staff(city, "eco"), ticket.id, "已处理")
    return ticket


def test_a_satisfied_rating_closes_the_ticket_and_a_second_rating_is_refused(desk, city):
    ticket = answered(desk, city)
    view = desk.citizen.rate(ticket.id, RECEIPT, 5, True, "很快")
    assert view["status"] == "closed" and view["rating"]["score"] == 5
    with pytest.raises(MoveNotAllowed) as again:
        desk.citizen.rate(ticket.id, RECEIPT, 4, True)
    assert again.value.state == "closed"
    with pytest.raises(TicketNotFound):
        desk.citizen.rate(ticket.id, "wrong receipt", 5, True)


def test_a_closed_ticket_is_listed_among_its_agencys_closed_ones_not_its_answered_ones(desk, city, time):
    rated, unrated = answered(desk, city), answered(desk, city, n=2)
    desk.citizen.rate(rated.id, RECEIPT, 5, True)
    time.move(days=7, minutes=1)
    assert desk.deadlines.run().closed == 1
    eco = staff(city, "eco")
    assert {t["id"] for t in desk.work.inbox(eco, status="closed").tickets} == {rated.id, unrated.id}
    assert desk.work.inbox(eco, status="answered").tickets == []


def test_unsatisfied_reopens_to_the_same_agency_until_the_limit_then_triage(desk, city):
    ticket = answered(desk, city, contact={"email": "zhang@example.org"})
    eco = staff(city, "eco")
    for round_ in (1, 2):
        view = desk.citizen.rate(ticket.id, RECEIPT, 2 if round_ == 1 else 4, round_ == 1, "垃圾还在")
        assert view["status"] == "reopened"
        assert desk.tickets.get(ticket.id).due == "accept"
        desk.work.accept(eco, ticket.id)
        desk.work.reply(eco, ticket.id, f"第{round_ + 1}次答复")
    view = desk.citizen.rate(ticket.id, RECEIPT, 1, False, "还是没人管")
    assert view["status"] == "triage"
    after = desk.tickets.get(ticket.id)
    assert after.agency == "triage-desk" and after.reopen_count == 3
    assert desk.messages(ticket) == [
        "answer-1", "reopen-1", "reopen-1-agency", "answer-2", "reopen-2", "reopen-2-agency", "answer-3",
        "reopen-3", "reopen-3-triage",
    ]  # fmt: skip
    desk.send_all()
    emails = [s for s in desk.channels.sent if s["channel"] == "email"]
    assert len(emails) == 6 and all(e["to"] == "zhang@example.org" for e in emails)
    channels = [p["channel"] for p in desk.notifier.published]
    assert channels == ["dispatch", "dispatch", "triage"]
    assert "垃圾还在" in desk.notifier.published[0]["messages"]["email"]


def test_a_rating_is_only_for_an_answered_ticket(desk, city):
    ticket = desk.dispatched()
    with pytest.raises(MoveNotAllowed) as refused:
        desk.citizen.rate(ticket.id, RECEIPT, 5, True)
    assert refused.value.state == "dispatched"


# ---------------------------------------------------------------- deadlines
def test_the_scheduler_reminds_escalates_and_closes_across_the_national_holiday(desk, city, time):
    ticket = desk.dispatched(contact={"phone": "13812345678"})  # Wed 30 Sept 10:00
    assert ticket.deadlines.accept_by == "2026-09-30T16:00:00+08:00"  # 4 working hours, lunch excluded
    assert desk.deadlines.run().as_dict()["reminded"] == 0
    time.move(hours=6, minutes=1)  # 16:01, past the time to sign for it
    assert desk.deadlines.run().reminded == 1
    assert desk.deadlines.run().reminded == 0  # once
    time.at = datetime(2026, 10, 13, 12, 0, tzinfo=CST)  # after the holiday, before the deadline (13 Oct)
    assert desk.deadlines.run().escalated == 0
    time.at = datetime(2026, 10, 13, 17, 31, tzinfo=CST)
    assert desk.deadlines.run().escalated == 1
    after = desk.tickets.get(ticket.id)
    assert after.overdue is True and after.due is None
    assert desk.work.inbox(staff(city, "eco"), overdue=True).tickets[0]["id"] == ticket.id
    desk.work.accept(staff(city, "eco"), ticket.id)
    desk.work.reply(staff(city, "eco"), ticket.id, "已处理")
    time.move(days=7, minutes=1)
    assert desk.deadlines.run().closed == 1
    assert desk.tickets.get(ticket.id).status is Status.CLOSED
    assert desk.messages(ticket) == ["remind-1", "escalate-1", "answer-1", "closed"]
    desk.send_all()
    assert [s["text"][:20] for s in desk.channels.sent][1].startswith("【瑞安】问题10001评价期已过")


def test_a_notice_to_staff_by_sms_fits_one_segment_with_its_link_whole(desk, city, time):
    # The workspace link (with the ticket's id) cannot fit in 70 characters: a link cut short opens nothing.
    ticket = desk.dispatched(contact={"phone": "13812345678"})
    time.move(hours=6, minutes=1)
    desk.deadlines.run()
    desk.work.return_ticket(staff(city, "eco"), ticket.id, "不属于本单位职责")
    desk.send_all()
    sms = {p["attributes"]["event"]: p["messages"]["sms"] for p in desk.notifier.published}
    assert set(sms) == {"reminder", "to_triage"}
    for text in sms.values():
        assert len(text) <= 70 and text.endswith(city.ticket_link(ticket.ticket_no)) and "10001" in text
    assert sms["reminder"].startswith("【瑞安】催办")


# ---------------------------------------------------------------- the messenger
def test_a_failed_send_is_retried_and_sent_once(desk, city):
    answered(desk, city, contact={"phone": "13812345678"})
    desk.channels.fail["sms"] = TemporarilyUnavailable("SNS is down")
    with pytest.raises(TemporarilyUnavailable):
        desk.send_all()
    assert desk.channels.sent == []
    del desk.channels.fail["sms"]
    desk.send_all()
    desk.send_all()
    assert len(desk.channels.sent) == 1


def test_a_delivery_interrupted_after_sending_is_not_sent_again(desk, city, time):
    ticket = answered(desk, city, contact={"phone": "13812345678"})
    (message,) = desk.tickets.messages.values()
    desk.outbox.claim(ticket.id, message.key, "sms", "dead-worker")  # a worker that died mid-send
    with pytest.raises(DeliveryInProgress):
        desk.messenger.deliver(message)  # its lease is not over yet
    time.move(minutes=3)
    assert desk.messenger.deliver(message) == {"sms": "interrupted"}
    assert desk.channels.sent == []
    assert desk.messenger.deliver(message) == {"sms": "interrupted"}


def test_a_ticket_without_contact_sends_the_citizen_nothing(desk, city):
    ticket = answered(desk, city)
    assert desk.messages(ticket) == []

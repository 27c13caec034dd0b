"""The answer loop's DynamoDB adapters against moto, on the tickets table as template.yaml defines it: the inbox
indexes page newest first without a scan, a move and its messages are one transaction, deliveries are claimed once."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from complaints.adapters.aws import DynamoOutbox, DynamoTicketRepository
from complaints.domain.desk.messenger import DeliveryTaken
from complaints.domain.errors import MoveNotAllowed
from complaints.domain.lifecycle import inbox
from complaints.domain.outbox import OutboxMessage, from_stored
from complaints.domain.tickets import Actor, HistoryEntry, Status, Ticket
from complaints_tools.local.template import Template

ECO = Actor(kind="agency", agency="eco", user="u-1")


@pytest.fixture()
def table(aws_credentials, tpl_props):
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName="tickets",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=tpl_props["AttributeDefinitions"],
            KeySchema=tpl_props["KeySchema"],
            GlobalSecondaryIndexes=tpl_props["GlobalSecondaryIndexes"],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        yield "tickets"


@pytest.fixture(scope="module")
def tpl_props(pytestconfig):
    return Template.load(pytestconfig.rootpath / "template.yaml").resources["TicketsTable"]["Properties"]


def ticket(n: int, agency: str = "eco", status: Status = Status.DISPATCHED, overdue: bool | None = None) -> Ticket:
    return Ticket(
        id=f"{n:032x}",
        ticket_no=10000 + n,
        status=status,
        text="河边有人烧垃圾",
        channel="app",
        created_at=f"2026-10-01T00:{n // 60:02d}:{n % 60:02d}.000Z",
        receipt_hash="h",
        history=[HistoryEntry(status=status, at="2026-10-01T00:00:00.000Z")],
        overdue=overdue,
        **inbox(agency, status),
    )


def test_the_inbox_pages_newest_first_through_the_index(table):
    repo = DynamoTicketRepository(table)
    for n in range(1, 46):
        repo.create(ticket(n, "eco" if n % 3 else "jtj", Status.ACCEPTED if n % 2 else Status.DISPATCHED))
    seen, cursor = [], None
    while True:
        page, cursor = repo.inbox("eco", None, False, 20, cursor)
        seen += [t.ticket_no for t in page]
        if cursor is None:
            break
    assert seen == sorted((10000 + n for n in range(1, 46) if n % 3), reverse=True)
    accepted, more = repo.inbox("eco", "accepted", False, 20, None)
    assert [t.status for t in accepted] == [Status.ACCEPTED] * 15 and more is None


def test_the_overdue_filter_fills_its_page_across_reads(table):
    repo = DynamoTicketRepository(table)
    repo.filtered_read = 7  # fewer than a page's worth of overdue tickets per read
    for n in range(1, 61):
        repo.create(ticket(n, overdue=True if n % 10 == 0 else None))
    page, cursor = repo.inbox("eco", None, True, 4, None)
    assert [t.ticket_no for t in page] == [10060, 10050, 10040, 10030]
    page, cursor = repo.inbox("eco", None, True, 4, cursor)
    assert [t.ticket_no for t in page] == [10020, 10010] and cursor is None


def test_a_page_of_overdue_tickets_a_few_in_a_hundred_takes_one_read(table):
    repo = DynamoTicketRepository(table)
    for n in range(1, 181):
        repo.create(ticket(n, overdue=True if n % 25 == 0 else None))
    queries = []
    repo.table.meta.client.meta.events.register("before-call.dynamodb.Query", lambda **kw: queries.append(1))
    page, cursor = repo.inbox("eco", None, True, 4, None)
    assert [t.ticket_no for t in page] == [10175, 10150, 10125, 10100] and cursor is not None
    assert len(queries) == 1
    page, cursor = repo.inbox("eco", None, True, 4, cursor)
    assert [t.ticket_no for t in page] == [10075, 10050, 10025] and cursor is None


def test_a_move_and_its_messages_are_written_together_or_not_at_all(table):
    repo = DynamoTicketRepository(table)
    repo.create(ticket(1, status=Status.ACCEPTED))
    message = OutboxMessage(
        ticket_id=f"{1:032x}", ticket_no=10001, key="answer-1", kind="answered", audience="citizen", created_at="t"
    )
    repo.answer(f"{1:032x}", ECO, "已处理", agency="eco", messages=[message])
    assert repo.get(f"{1:032x}").status is Status.ANSWERED
    outbox = DynamoOutbox(table)
    assert outbox.deliveries(f"{1:032x}", "answer-1") == {}
    # A second answer fails its condition: the ticket says where it is, and no second message exists.
    with pytest.raises(MoveNotAllowed) as refused:
        repo.answer(f"{1:032x}", ECO, "又答复", agency="eco", messages=[message.model_copy(update={"key": "answer-2"})])
    assert refused.value.state == "answered"
    assert outbox.deliveries(f"{1:032x}", "answer-2") is None
    # Another agency's staff cannot move it, even in a state that would allow the move.
    repo.create(ticket(2, status=Status.DISPATCHED))
    with pytest.raises(MoveNotAllowed, match="changed hands"):
        repo.accept(f"{2:032x}", Actor(kind="agency", agency="jtj", user="u-2"))


def test_a_delivery_is_claimed_once_and_recorded_only_by_its_claim(table):
    repo = DynamoTicketRepository(table)
    repo.create(ticket(1, status=Status.ACCEPTED))
    message = OutboxMessage(
        ticket_id=f"{1:032x}", ticket_no=10001, key="answer-1", kind="answered", audience="citizen", created_at="t"
    )
    repo.answer(f"{1:032x}", ECO, "已处理", agency="eco", messages=[message])
    outbox = DynamoOutbox(table)
    outbox.claim(message.ticket_id, "answer-1", "sms", "c1")
    with pytest.raises(DeliveryTaken):
        outbox.claim(message.ticket_id, "answer-1", "sms", "c2")
    outbox.record(message.ticket_id, "answer-1", "sms", "c2", "sent", None)  # not its claim: nothing changes
    assert outbox.deliveries(message.ticket_id, "answer-1")["sms"]["state"] == "sending"
    outbox.record(message.ticket_id, "answer-1", "sms", "c1", "sent", "mid-1")
    assert outbox.deliveries(message.ticket_id, "answer-1")["sms"] == {
        "state": "sent", "at": outbox.deliveries(message.ticket_id, "answer-1")["sms"]["at"], "detail": "mid-1"
    }  # fmt: skip
    with pytest.raises(DeliveryTaken):
        outbox.claim("f" * 32, "answer-1", "sms", "c3")  # no such message


def test_what_falls_due_comes_from_the_due_index_soonest_first(table):
    repo = DynamoTicketRepository(table)
    for n, at in ((1, "2026-10-01T09:00:00.000Z"), (2, "2026-10-01T08:00:00.000Z"), (3, "2026-10-02T08:00:00.000Z")):
        repo.create(ticket(n).model_copy(update={"due": "accept", "due_at": at, "due_pk": "due"}))
    repo.create(ticket(4))  # nothing due: not in the index
    assert repo.due_before("2026-10-01T12:00:00.000Z") == [f"{2:032x}", f"{1:032x}"]


def test_a_notice_to_an_agency_is_not_a_ticket_in_its_inbox_and_reaches_the_messenger_whole(table):
    # A message item with `agency` and `created_at` would be in the `inbox` index, and the inbox would fail on it.
    repo = DynamoTicketRepository(table)
    repo.create(ticket(1, "triage-desk", Status.TRIAGE))
    notice = OutboxMessage(
        ticket_id=f"{1:032x}",
        ticket_no=10001,
        key="dispatch-1",
        kind="dispatched",
        audience="agency",
        agency="eco",
        note="改派",
        created_at="2026-10-01T00:00:09.000Z",
    )
    triage = Actor(kind="triage", agency="triage-desk", user="u-3")
    repo.reassign(f"{1:032x}", triage, "市生态环境局", fields=inbox("eco", Status.DISPATCHED), messages=[notice])
    page, cursor = repo.inbox("eco", None, False, 20, None)
    assert [t.ticket_no for t in page] == [10001] and cursor is None
    item = boto3.resource("dynamodb").Table(table).get_item(Key={"pk": f"message#{1:032x}#dispatch-1"})["Item"]
    assert "agency" not in item
    assert from_stored(item) == notice  # what the messenger reads from the stream record's image

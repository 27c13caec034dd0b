"""The routing labels export (desk.labels, `complaints labels export`): the triage desk's assignments and the
agencies' returns become one CSV row per ticket whose final agency is known, read from the `labelled` index of the
tickets table as template.yaml defines it (in memory and on moto), never by a scan; `complaints train` reads it."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import boto3
import pytest
from frozen_clock import CST, FrozenClock
from moto import mock_aws

from complaints.adapters.aws import DynamoTicketRepository
from complaints.adapters.memory import MemoryPhotoStore, MemoryTicketRepository
from complaints.domain import clock
from complaints.domain.desk.agency_work import AgencyWork
from complaints.domain.desk.assignment import assigned
from complaints.domain.desk.labels import COLUMNS, export
from complaints.domain.desk.triage import Triage
from complaints.domain.lifecycle import inbox
from complaints.domain.tickets import HistoryEntry, LabelledTicket, Status, Ticket
from complaints.staff import StaffMember
from complaints_tools import labels as labels_tool
from complaints_tools import training
from complaints_tools.local.template import Template

BURNING = "上望街道有人在河边烧垃圾，电话13812345678"
ROADSIDE = "飞云街道国道边堆满建筑垃圾，车都绕着走"
UNCLEAR = "你好，我想问一下这个事情到底怎么办才好"


@pytest.fixture()
def time(monkeypatch):
    frozen = FrozenClock(datetime(2026, 11, 30, 10, 0, tzinfo=CST))  # a Monday
    monkeypatch.setattr(clock, "now", frozen.now)
    monkeypatch.setattr(clock, "epoch", frozen.epoch)
    return frozen


@pytest.fixture(scope="module")
def tpl_props(pytestconfig):
    return Template.load(pytestconfig.rootpath / "template.yaml").resources["TicketsTable"]["Properties"]


@pytest.fixture(params=["memory", "dynamodb"])
def tickets(request, tpl_props):
    if request.param == "memory":
        yield MemoryTicketRepository()
        return
    request.getfixturevalue("aws_credentials")
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName="tickets",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=tpl_props["AttributeDefinitions"],
            KeySchema=tpl_props["KeySchema"],
            GlobalSecondaryIndexes=tpl_props["GlobalSecondaryIndexes"],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        yield DynamoTicketRepository("tickets")


def staff(city, agency: str) -> StaffMember:
    return StaffMember(user_id="u-1", email="u-1@ruian.example", agency=city.agency(agency), admin=False)


class Desk:
    def __init__(self, city, tickets) -> None:
        self.city, self.tickets = city, tickets
        self.work = AgencyWork(city, tickets, MemoryPhotoStore())
        self.triage = Triage(city, tickets, self.work)

    def ticket(self, n: int, text: str, status: Status, agency: str, category: str | None = "环境保护") -> Ticket:
        """A ticket as the route worker leaves it: dispatched by the model to `agency`, or in triage."""
        ticket = Ticket(
            id=f"{n:032x}",
            ticket_no=10000 + n,
            status=status,
            text=text,
            channel="app",
            created_at=clock.now().isoformat().replace("+00:00", "Z"),
            receipt_hash="h",
            history=[HistoryEntry(status=status, at=clock.now().isoformat())],
            category=category,
            service="env.burning" if category == "环境保护" else None,
            **inbox(agency, status),
        )
        if status is Status.DISPATCHED:
            fields = assigned(self.city, ticket, agency)
            ticket = ticket.model_copy(update={k: v for k, v in fields.items() if k != "deadlines"})
        self.tickets.create(ticket)
        return ticket

    def returned(self, ticket: Ticket, by: str = "eco") -> None:
        self.work.return_ticket(staff(self.city, by), ticket.id, "不属于本单位职责")

    def assign(self, ticket: Ticket, to: str) -> None:
        self.triage.assign(staff(self.city, "triage-desk"), ticket.id, to)


def rows_of(tickets, since: str | None = None) -> tuple[list[dict[str, str]], object]:
    out = io.StringIO(newline="")
    count = export(tickets, out, since)
    out.seek(0)
    reader = csv.DictReader(out)
    assert tuple(reader.fieldnames) == COLUMNS
    return list(reader), count


def test_assignments_and_returns_become_one_row_per_ticket_with_its_final_agency(city, tickets, time):
    desk = Desk(city, tickets)
    burning = desk.ticket(1, BURNING, Status.DISPATCHED, "eco")
    unclear = desk.ticket(2, UNCLEAR, Status.TRIAGE, "triage-desk", category=None)
    roadside = desk.ticket(3, ROADSIDE, Status.DISPATCHED, "eco", category="城乡建设")
    desk.ticket(4, BURNING, Status.DISPATCHED, "eco")  # the model was right: no person labelled it
    desk.returned(burning)
    time.move(minutes=5)
    desk.assign(burning, "jtj")  # returned by eco, assigned to the transport bureau
    assigned_at = clock.now()
    time.move(minutes=5)
    desk.assign(unclear, "zjj")  # the model could not tell; a person could
    desk.returned(roadside)  # returned, and the triage desk has not decided yet

    rows, count = rows_of(tickets)
    assert rows == [
        {
            "text": "上望街道有人在河边烧垃圾，电话138＊＊＊＊＊＊78",  # a phone number is no word to learn
            "agency": "jtj",
            "service": "env.burning",
            "category": "环境保护",
            "district": "",
            "at": assigned_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "returned_from": "eco",
        },
        {
            "text": UNCLEAR,
            "agency": "zjj",
            "service": "",
            "category": "",
            "district": "",
            "at": rows[1]["at"],
            "returned_from": "",
        },
    ]
    assert (count.rows, count.undecided) == (2, 1)

    # Once the desk decides, the returned ticket is exported too, with who sent it back.
    time.move(minutes=5)
    desk.assign(roadside, "zhzf")
    rows, count = rows_of(tickets)
    assert [r["text"] for r in rows] == [BURNING.replace("13812345678", "138＊＊＊＊＊＊78"), UNCLEAR, ROADSIDE]
    assert rows[2]["returned_from"] == "eco" and (count.rows, count.undecided) == (3, 0)


def test_a_ticket_answered_after_its_reassignment_keeps_its_row_and_a_second_return_is_recorded(city, tickets, time):
    desk = Desk(city, tickets)
    ticket = desk.ticket(1, BURNING, Status.DISPATCHED, "eco")
    desk.returned(ticket)
    desk.assign(ticket, "jtj")
    desk.returned(ticket, by="jtj")  # the transport bureau sends it back too
    rows, count = rows_of(tickets)
    assert rows == [] and count.undecided == 1  # back with the triage desk: no final agency
    time.move(hours=1)
    desk.assign(ticket, "eco")  # it was the environment bureau's after all
    desk.work.accept(staff(city, "eco"), ticket.id)
    desk.work.reply(staff(city, "eco"), ticket.id, "已查处")
    (row,), _ = rows_of(tickets)
    assert (row["agency"], row["returned_from"]) == ("eco", "eco;jtj")


def test_since_keeps_the_tickets_labelled_from_then_on(city, tickets, time):
    desk = Desk(city, tickets)
    early = desk.ticket(1, UNCLEAR, Status.TRIAGE, "triage-desk", category=None)
    late = desk.ticket(2, ROADSIDE, Status.TRIAGE, "triage-desk", category=None)
    desk.assign(early, "zjj")  # 2026-11-30 10:00 in Rui'an
    time.move(days=1)
    desk.assign(late, "zjj")  # 2026-12-01 10:00
    since = labels_tool.since_of(date(2026, 12, 1), city.calendar)
    assert since == "2026-11-30T16:00:00.000Z"  # midnight in the city, in UTC
    rows, _ = rows_of(tickets, since)
    assert [r["text"] for r in rows] == [ROADSIDE]
    assert [r["text"] for r in rows_of(tickets, "2026-11-30T00:00:00.000Z")[0]] == [UNCLEAR, ROADSIDE]


def test_complaints_train_reads_the_export_with_the_agency_as_label(city, tickets, time, tmp_path):
    desk = Desk(city, tickets)
    for n, to in ((1, "zjj"), (2, "jtj"), (3, "eco")):
        desk.assign(desk.ticket(n, f"{UNCLEAR}，第{n}次\n换行也在一格里", Status.TRIAGE, "triage-desk"), to)
    out = tmp_path / "labels.csv"
    count = labels_tool.export_file(tickets, out)
    assert count.rows == 3 and not (tmp_path / "labels.csv.part").exists()
    assert out.read_bytes().startswith(b"text,agency,service,category,district,at,returned_from")
    texts, agencies = training.read_labelled(out, label_col="agency")
    assert agencies == ["zjj", "jtj", "eco"]
    assert texts[0] == f"{UNCLEAR}，第1次\n换行也在一格里"


def test_the_export_pages_through_the_index_by_query_and_never_scans(city, tickets, time):
    if isinstance(tickets, MemoryTicketRepository):
        pytest.skip("the calls are DynamoDB's")
    desk = Desk(city, tickets)
    for n in range(1, 6):
        desk.assign(desk.ticket(n, f"{UNCLEAR}{n}", Status.TRIAGE, "triage-desk", category=None), "zjj")
        time.move(minutes=1)
    calls: list[str] = []
    events = tickets.table.meta.client.meta.events
    for operation in ("Query", "Scan"):
        events.register(f"before-call.dynamodb.{operation}", lambda op=operation, **kw: calls.append(op))
    seen = [t.text for t in tickets.labelled(page_size=2)]
    assert seen == [f"{UNCLEAR}{n}" for n in range(1, 6)]  # oldest label first, each once
    assert calls == ["Query"] * 3
    calls.clear()
    rows, _ = rows_of(tickets)
    assert len(rows) == 5 and calls == ["Query"]


def test_the_index_holds_exactly_what_a_label_row_is_made_of(tpl_props):
    (index,) = [i for i in tpl_props["GlobalSecondaryIndexes"] if i["IndexName"] == "labelled"]
    keys = {k["AttributeName"] for k in index["KeySchema"]}
    assert keys == {"labelled_pk", "labelled_at"}
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    # pk is projected into every index; the rest must be what LabelledTicket reads, no more (no receipt, history,
    # sealed contact or answers in the index).
    assert set(index["Projection"]["NonKeyAttributes"]) | {"labelled_at"} == set(LabelledTicket.model_fields)


def test_a_since_that_is_not_a_date_is_refused_before_any_stack_is_asked(tmp_path, capsys):
    from complaints_tools.cli import main

    out = tmp_path / "labels.csv"
    code = main(["labels", "export", "--url", "http://127.0.0.1:9", "--out", str(out), "--since", "last week"])
    assert code == 2 and not out.exists()
    assert "YYYY-MM-DD" in capsys.readouterr().err

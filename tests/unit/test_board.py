"""The public board on the in-memory store and on moto's DynamoDB (BoardTable as template.yaml defines it): what a
ticket shows from its dispatch on, what a citizen or the triage desk withholds, search over the masked texts, pages
newest first with filters and cursors, and a projection that keeps the newest image whatever the stream redelivers.
"""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from test_answer_loop import RECEIPT, Desk, staff, time  # noqa: F401 (the fixture)

from complaints.adapters.aws import DynamoBoardStore
from complaints.adapters.memory import MemoryBoardStore, MemoryPhotoStore
from complaints.domain.desk.board import MAX_TERMS, BadCursor, Board, BoardProjection
from complaints.domain.errors import InvalidComplaint, MoveNotAllowed, TicketNotFound
from complaints.domain.tickets import Status, Ticket, TicketPhoto
from complaints_tools.local.template import Template

PHONE = "13812345678"


@pytest.fixture(scope="module")
def board_props(pytestconfig):
    return Template.load(pytestconfig.rootpath / "template.yaml").resources["BoardTable"]["Properties"]


@pytest.fixture(params=["memory", "moto"])
def store(request, aws_credentials, board_props):
    if request.param == "memory":
        yield MemoryBoardStore()
        return
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName="board",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=board_props["AttributeDefinitions"],
            KeySchema=board_props["KeySchema"],
            GlobalSecondaryIndexes=board_props["GlobalSecondaryIndexes"],
        )
        resource = boto3.resource("dynamodb")

        def no_scan(**kwargs):
            raise AssertionError("the board scanned its table")

        # Any Scan on the board's paths fails the test that made it.
        resource.meta.client.meta.events.register("before-call.dynamodb.Scan", no_scan)
        yield DynamoBoardStore("board", client=resource)


class BoardDesk(Desk):
    """The answer loop's desk with the board beside it: `project` applies a ticket's current image, as the
    stream would."""

    def __init__(self, city, store) -> None:
        super().__init__(city)
        self.store = store
        self.projection = BoardProjection(city, store)
        self.board = Board(city, store, MemoryPhotoStore())

    def project(self, ticket: Ticket | str) -> str:
        return self.projection.apply(self.image(ticket))

    def image(self, ticket: Ticket | str) -> dict:
        current = self.tickets.get(ticket if isinstance(ticket, str) else ticket.id)
        return {"pk": f"ticket#{current.id}", **current.model_dump(mode="json", exclude_none=True)}

    def on_board(self, n: int = 1, agency: str = "eco", **changes) -> Ticket:
        ticket = self.dispatched(n=n, agency=agency)
        if changes:
            self.tickets.items[ticket.id] = ticket = ticket.model_copy(update=changes)
        assert self.project(ticket) == "written"
        return ticket


@pytest.fixture()
def desk(city, time, store) -> BoardDesk:  # noqa: F811
    return BoardDesk(city, store)


def numbers(page: dict) -> list[int]:
    return [item["ticket_no"] for item in page["items"]]


# ---------------------------------------------------------------- what a ticket shows
def test_a_dispatched_ticket_shows_its_question_with_the_phone_number_masked(desk):
    ticket = desk.on_board()
    shown = desk.board.ticket(ticket.ticket_no)
    assert shown["public"] is True and shown["status"] == "dispatched"
    assert shown["question"].startswith("上望街道有人在河边烧垃圾") and PHONE not in shown["question"]
    assert "138＊＊＊＊＊＊78" in shown["question"]
    assert shown["agency"] == {"id": "eco", "name": "市生态环境局"} and shown["answers"] == []
    assert shown["district"] == "上望街道" and shown["category"] == "环境保护" and shown["photo"] is None
    (item,) = desk.board.page()["items"]
    assert item["question"] == shown["question"] and item["answers"] == 0 and item["rating"] is None
    assert "receipt_hash" not in str(desk.store.entry(ticket.ticket_no)) and ticket.id not in str(item)


def test_a_phone_number_in_the_question_or_an_answer_cannot_be_searched(desk, city):
    ticket = desk.on_board()
    eco = staff(city, "eco")
    desk.work.accept(eco, ticket.id)
    desk.work.reply(eco, ticket.id, "已处理，如有问题请致电环保热线0577-65812345或手机13987654321。")
    desk.project(ticket)
    for q in (PHONE, "13987654321", "65812345", "12345678", "0577"):
        assert desk.board.page(q=q)["items"] == [], q
    (answer,) = desk.board.ticket(ticket.ticket_no)["answers"]
    assert "13987654321" not in answer["text"] and "139＊＊＊＊＊＊21" in answer["text"]
    assert numbers(desk.board.page(q="烧垃圾")) == [ticket.ticket_no]
    assert numbers(desk.board.page(q="环保热线")) == [ticket.ticket_no]  # answers are searched too


def test_tickets_appear_once_dispatched_or_in_triage_and_not_before(desk):
    ticket = desk.dispatched()
    for status in (Status.RECEIVED, Status.CLASSIFIED, Status.ROUTING, Status.AWAITING_PHOTO):
        desk.tickets.items[ticket.id] = ticket.model_copy(update={"status": status})
        assert desk.project(ticket) == "not_on_board"
    assert desk.board.page()["items"] == []
    with pytest.raises(TicketNotFound):
        desk.board.ticket(ticket.ticket_no)
    triage = desk.on_board(n=2, status=Status.TRIAGE, agency="triage-desk")
    assert desk.board.ticket(triage.ticket_no)["status"] == "triage"
    with pytest.raises(TicketNotFound):
        desk.board.ticket("not-a-number")


def test_the_board_follows_a_ticket_through_every_state_to_its_rating(desk, city):
    ticket = desk.on_board()
    eco = staff(city, "eco")
    seen = []
    for act in (
        lambda: desk.work.accept(eco, ticket.id),
        lambda: desk.work.reply(eco, ticket.id, "已安排执法队员清理垃圾。"),
        lambda: desk.citizen.rate(ticket.id, RECEIPT, 2, False, "还在烧"),
        lambda: desk.work.accept(eco, ticket.id),
        lambda: desk.work.reply(eco, ticket.id, "已再次清理并加强巡查。"),
        lambda: desk.citizen.rate(ticket.id, RECEIPT, 5, True),
    ):
        act()
        assert desk.project(ticket) == "written"
        shown = desk.board.ticket(ticket.ticket_no)
        seen.append((shown["status"], len(shown["answers"]), shown["rating"]))
        assert desk.board.page(status=shown["status"])["items"][0]["ticket_no"] == ticket.ticket_no
    assert seen == [
        ("accepted", 0, None),
        ("answered", 1, None),
        ("reopened", 1, 2),  # the score of the latest answer, until there is a newer one
        ("accepted", 1, 2),
        ("answered", 2, None),
        ("closed", 2, 5),
    ]
    shown = desk.board.ticket(ticket.ticket_no)
    assert shown["closed_at"] and shown["answered_at"] == shown["answers"][-1]["at"] and shown["dispatched_at"]
    assert shown["answers"][1]["agency"] == {"id": "eco", "name": "市生态环境局"}
    assert "还在烧" not in str(desk.store.entry(ticket.ticket_no))  # the rating's comment stays private
    assert desk.board.page(status="dispatched")["items"] == []


def test_photo_links_are_to_the_thumbnail_and_display_copies_of_a_ready_photo_only(desk):
    ready = desk.on_board(n=1, photo=TicketPhoto(status="ready"))
    desk.on_board(n=2, photo=TicketPhoto(status="rejected", reason="not a photo"))
    by_number = {item["ticket_no"]: item for item in desk.board.page()["items"]}
    assert by_number[ready.ticket_no]["thumbnail_url"] == f"memory://photos/{ready.id}/thumbnail.jpg?expires=900"
    assert by_number[10002]["thumbnail_url"] is None
    photo = desk.board.ticket(ready.ticket_no)["photo"]
    assert photo["display_url"].startswith(f"memory://photos/{ready.id}/display.jpg")
    assert desk.board.ticket(10002)["photo"] is None


# ---------------------------------------------------------------- withheld: by the citizen, by moderation
WITHHELD_KEYS = {"ticket_no", "public", "withheld", "district", "category", "status"}


def test_a_ticket_the_citizen_asked_not_to_show_has_no_text_no_photo_and_no_search_terms(desk):
    ticket = desk.on_board(public=False, photo=TicketPhoto(status="ready"))
    (item,) = desk.board.page()["items"]
    assert item == {
        "ticket_no": ticket.ticket_no,
        "public": False,
        "withheld": "citizen",
        "district": "上望街道",
        "category": "环境保护",
        "status": "dispatched",
    }
    assert desk.board.ticket(ticket.ticket_no) == item
    stored = str(desk.store.entry(ticket.ticket_no))
    assert "垃圾" not in stored and "photos/" not in stored and "terms" not in stored
    assert desk.board.page(q="烧垃圾")["items"] == []
    assert desk.board.page(agency="eco")["items"] == []  # the agency index would tell whose it is


def test_the_triage_desk_hides_a_ticket_with_a_reason_and_unhides_it(desk, city):
    ticket = desk.on_board()
    dispatcher = staff(city, "triage-desk")
    view = desk.triage.hide(dispatcher, ticket.id, "含有侮辱性语言")
    assert view["hidden"] is True and view["status"] == "dispatched" and PHONE not in view["text"]
    assert desk.project(ticket) == "written"
    assert set(desk.board.ticket(ticket.ticket_no)) == WITHHELD_KEYS
    assert desk.board.ticket(ticket.ticket_no)["withheld"] == "moderation"
    assert desk.board.page(q="烧垃圾")["items"] == [] and "垃圾" not in str(desk.store.entry(ticket.ticket_no))
    if isinstance(desk.store, MemoryBoardStore):
        assert not any(desk.store.postings_of.values())  # the postings are gone, not only unmatched
    with pytest.raises(MoveNotAllowed):
        desk.triage.hide(dispatcher, ticket.id, "再次隐藏")
    desk.triage.unhide(dispatcher, ticket.id, "已核实，可以公开")
    desk.project(ticket)
    assert numbers(desk.board.page(q="烧垃圾")) == [ticket.ticket_no]
    assert desk.board.ticket(ticket.ticket_no)["public"] is True
    hide, unhide = desk.tickets.get(ticket.id).history[-2:]
    assert (hide.move, hide.note, hide.actor.agency) == ("hide", "含有侮辱性语言", "triage-desk")
    assert (unhide.move, unhide.note, unhide.status) == ("unhide", "已核实，可以公开", Status.DISPATCHED)
    # The citizen sees that it left the board and came back, in the desk's words, not the moderator's reason.
    steps = desk.intake.citizen_view(ticket.id, RECEIPT)["history"]
    assert [s.get("note") for s in steps[-2:]] == ["已从公开栏隐藏", "已恢复在公开栏显示"]


def test_only_the_triage_desk_moderates_and_only_tickets_on_the_board(desk, city):
    ticket = desk.on_board()
    with pytest.raises(TicketNotFound):
        desk.triage.hide(staff(city, "eco"), ticket.id, "不想公开")
    with pytest.raises(InvalidComplaint):
        desk.triage.hide(staff(city, "triage-desk"), ticket.id, "   ")
    desk.tickets.items[ticket.id] = ticket.model_copy(update={"status": Status.CLASSIFIED})
    with pytest.raises(TicketNotFound):
        desk.triage.hide(staff(city, "triage-desk"), ticket.id, "含有广告")
    with pytest.raises(TicketNotFound):
        desk.triage.unhide(staff(city, "triage-desk"), "f" * 32, "含有广告")


# ---------------------------------------------------------------- redelivered and out of order
def test_a_redelivered_or_older_image_changes_nothing(desk, city):
    ticket = desk.on_board()
    older = desk.image(ticket)
    desk.work.accept(staff(city, "eco"), ticket.id)
    desk.triage.hide(staff(city, "triage-desk"), ticket.id, "含有侮辱性语言")
    newest = desk.image(ticket)
    assert desk.projection.apply(newest) == "written"
    assert desk.projection.apply(newest) == "written"  # the same image again: the same entry
    assert desk.projection.apply(older) == "stale"
    entry = desk.store.entry(ticket.ticket_no)
    assert entry["status"] == "accepted" and entry["withheld"] == "moderation" and "question" not in entry
    assert desk.board.page(q="烧垃圾")["items"] == []


def test_the_stream_image_of_dynamodb_with_its_decimals_is_applied(desk):
    from decimal import Decimal

    ticket = desk.dispatched(n=1)
    image = desk.image(ticket) | {"ticket_no": Decimal(ticket.ticket_no), "location": {"lat": Decimal("27.78")}}
    image["location"]["lng"] = Decimal("120.63")
    assert desk.projection.apply(image) == "written"
    assert desk.projection.apply({"pk": "message#x#y", "kind": "answered"}) == "ignored"


# ---------------------------------------------------------------- pages, filters, cursors
def test_pages_run_newest_first_and_the_last_page_has_no_cursor(desk, time):  # noqa: F811
    for n in range(1, 26):
        desk.on_board(n=n)
        time.move(minutes=1)
    first = desk.board.page(limit=10)
    assert numbers(first) == list(range(10025, 10015, -1)) and first["next_cursor"]
    second = desk.board.page(limit=10, cursor=first["next_cursor"])
    third = desk.board.page(limit=10, cursor=second["next_cursor"])
    assert numbers(second) == list(range(10015, 10005, -1))
    assert numbers(third) == list(range(10005, 10000, -1)) and third["next_cursor"] is None
    for limit in (0, 51):
        with pytest.raises(InvalidComplaint):
            desk.board.page(limit=limit)


def test_filters_combine_and_each_page_holds_only_what_they_all_allow(desk, time):  # noqa: F811
    for n in range(1, 41):
        agency = "eco" if n % 2 else "jtj"
        desk.on_board(n=n, agency=agency, district="上望街道" if n % 3 else "安阳街道")
        time.move(minutes=1)
    eco = desk.board.page(agency="eco", limit=50)
    assert numbers(eco) == [n for n in range(10040, 10000, -1) if n % 2]
    both = desk.board.page(agency="eco", district="安阳街道", limit=3)
    assert numbers(both) == [10039, 10033, 10027]
    rest = desk.board.page(agency="eco", district="安阳街道", limit=3, cursor=both["next_cursor"])
    assert numbers(rest) == [10021, 10015, 10009]
    assert desk.board.page(agency="eco", district="安阳街道", category="交通运输")["items"] == []
    with pytest.raises(InvalidComplaint):
        desk.board.page(district="火星街道")
    with pytest.raises(InvalidComplaint):
        desk.board.page(status="received")  # not a state the board shows


def test_a_cursor_of_other_filters_or_a_tampered_one_is_refused(desk):
    for n in range(1, 6):
        desk.on_board(n=n)
    cursor = desk.board.page(limit=2)["next_cursor"]
    for other in ({"agency": "eco"}, {"q": "垃圾"}, {"status": "accepted"}):
        with pytest.raises(BadCursor):
            desk.board.page(limit=2, cursor=cursor, **other)
    import base64
    import json

    data = json.loads(base64.urlsafe_b64decode(cursor + "=="))
    for forged in ({**data, "a": "' OR 1=1"}, {**data, "x": 1}, {"a": data["a"]}):
        raw = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
        with pytest.raises(BadCursor):
            desk.board.page(limit=2, cursor=raw)
    with pytest.raises(BadCursor):
        desk.board.page(cursor="不是游标")


# ---------------------------------------------------------------- search
def test_a_chinese_query_finds_the_tickets_with_every_word_newest_first(desk, time):  # noqa: F811
    texts = {
        1: "安阳街道万松路的路灯坏了，晚上很黑",
        2: "上望街道河边有人烧垃圾，烟很大",
        3: "万松路有人烧垃圾，路灯旁边",
        4: "学校门口交通拥堵",
    }
    for n, text in texts.items():
        desk.on_board(n=n, text=text)
        time.move(minutes=1)
    assert numbers(desk.board.page(q="烧垃圾")) == [10003, 10002]
    assert numbers(desk.board.page(q="路灯")) == [10003, 10001]
    assert numbers(desk.board.page(q="垃圾 路灯")) == [10003]
    assert numbers(desk.board.page(q="上望街道的垃圾")) == [10002]  # a place name of the city is one word
    assert numbers(desk.board.page(q="路灯", agency="eco")) == [10003, 10001]
    assert desk.board.page(q="路灯", agency="jtj")["items"] == []
    assert desk.board.page(q="的") == {"items": [], "next_cursor": None}  # nothing searchable in it
    first = desk.board.page(q="路灯", limit=1)
    assert numbers(first) == [10003]
    assert numbers(desk.board.page(q="路灯", limit=1, cursor=first["next_cursor"])) == [10001]


def test_an_entry_indexes_a_bounded_number_of_words(desk, city):
    from complaints.domain.desk.board import terms_of

    long_text = "，".join(d.name for d in city.districts) + "，" + "，".join(c.name for c in city.categories) * 3
    words = terms_of(city, [long_text * 2])
    assert len(words) <= MAX_TERMS and len(set(words)) == len(words) and all(len(w) > 1 for w in words)

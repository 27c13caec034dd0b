"""The public board over HTTP on the local stack, as the public, a citizen and the triage desk use it: a dispatched
complaint shows with its phone number masked and is found by its words; one the citizen asked not to show, or the
triage desk hid, shows no text; answers and the rating appear; the citizen's district pick stands."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from loop_helpers import BURNING_RUBBISH, PHONE, Desk, file_complaint, rate, staff, wait_until

pytestmark = pytest.mark.integration

SHORT_SHAPE = {"ticket_no", "public", "withheld", "district", "category", "status"}


def board(stack, query: str = ""):
    return stack.request("GET", f"/board{query}", headers={"Accept": "application/json"})


def on_board(stack, ticket_no: int, until=lambda shown: True) -> dict:
    """The ticket's board page once the projection has written it (and `until(page)` holds)."""

    def shown():
        got = stack.request("GET", f"/board/{ticket_no}", headers={"Accept": "application/json"})
        return got.json() if got.status == 200 and until(got.json()) else None

    page = wait_until(shown, timeout=20)
    assert page, f"ticket {ticket_no} did not reach the board"
    return page


def found(stack, q: str) -> list[int]:
    got = board(stack, f"?q={quote(q)}&limit=50")
    assert got.status == 200, got.body
    return [item["ticket_no"] for item in got.json()["items"]]


def test_a_dispatched_complaint_is_on_the_board_with_its_phone_number_masked_and_found_by_its_words(stack):
    created = file_complaint(stack, text=f"{BURNING_RUBBISH}，我的电话{PHONE}")
    page = on_board(stack, created["ticket_no"])
    assert page["public"] is True and page["status"] == "dispatched" and page["district"] == "上望街道"
    assert PHONE not in page["question"] and "138＊＊＊＊＊＊78" in page["question"]
    assert page["agency"] == {"id": "eco", "name": "市生态环境局"} and page["answers"] == []
    assert created["id"] not in str(page)
    listed = board(stack).json()
    assert created["ticket_no"] in [item["ticket_no"] for item in listed["items"]]
    assert created["ticket_no"] in found(stack, "焚烧垃圾")
    assert created["ticket_no"] not in found(stack, PHONE)


def test_a_complaint_the_citizen_asked_not_to_show_has_no_text_on_the_board(stack):
    reply = stack.post({"text": BURNING_RUBBISH + "，不要公开", "public": False})
    assert reply.status == 201, reply.body
    created = reply.json()
    page = on_board(stack, created["ticket_no"])
    assert page == {
        "ticket_no": created["ticket_no"],
        "public": False,
        "withheld": "citizen",
        "district": "上望街道",
        "category": "环境保护",
        "status": "dispatched",
    }
    (item,) = [i for i in board(stack, "?limit=50").json()["items"] if i["ticket_no"] == created["ticket_no"]]
    assert item == page
    assert created["ticket_no"] not in found(stack, "不要公开")


def test_the_triage_desk_hides_a_complaint_and_unhides_it(stack):
    created = file_complaint(stack, text="上望街道薛里村有人乱倒建筑垃圾，堵住了河道")
    on_board(stack, created["ticket_no"])
    dispatcher = staff(stack, "triage-desk")
    path = f"/triage/tickets/{created['id']}"
    hidden = stack.request("POST", f"{path}/hide", {"reason": "含有不实信息，待核实"}, headers=dispatcher)
    assert hidden.status == 200, hidden.body
    assert hidden.json()["hidden"] is True and hidden.json()["history"][-1]["note"] == "含有不实信息，待核实"
    page = on_board(stack, created["ticket_no"], until=lambda p: not p["public"])
    assert set(page) == SHORT_SHAPE and page["withheld"] == "moderation"
    assert created["ticket_no"] not in found(stack, "建筑垃圾")
    again = stack.request("POST", f"{path}/hide", {"reason": "再次"}, headers=dispatcher)
    assert again.status == 409 and again.json()["error"]["code"] == "move_not_allowed"
    agency = stack.request("POST", f"{path}/unhide", {"reason": "我们想公开"}, headers=staff(stack, "eco"))
    assert agency.status == 404
    assert stack.request("POST", f"{path}/unhide", {"reason": "x"}).status == 401
    shown = stack.request("POST", f"{path}/unhide", {"reason": "已核实属实"}, headers=dispatcher)
    assert shown.status == 200 and shown.json()["hidden"] is False
    page = on_board(stack, created["ticket_no"], until=lambda p: p["public"])
    assert "建筑垃圾" in page["question"]
    assert created["ticket_no"] in found(stack, "建筑垃圾")
    citizen = stack.request("GET", f"/complaints/{created['id']}", headers={"X-Receipt": created["receipt"]}).json()
    assert [h.get("note") for h in citizen["history"][-2:]] == ["已从公开栏隐藏", "已恢复在公开栏显示"]


def test_answers_and_the_rating_appear_on_the_board(stack):
    created = file_complaint(stack, text=f"{BURNING_RUBBISH}，已经持续一周了")
    desk = Desk(stack, staff(stack, "eco"))
    desk.answer(created["id"], "已安排执法队员到场处置，垃圾已清理。咨询电话13987654321")
    assert rate(stack, created, 5, True).status == 200
    page = on_board(stack, created["ticket_no"], until=lambda p: p["status"] == "closed")
    (answer,) = page["answers"]
    assert answer["agency"] == {"id": "eco", "name": "市生态环境局"} and "13987654321" not in answer["text"]
    assert page["rating"] == 5 and page["closed_at"] and page["answered_at"] == answer["at"]
    closed = board(stack, "?status=closed&agency=eco&limit=50").json()["items"]
    (item,) = [i for i in closed if i["ticket_no"] == created["ticket_no"]]
    assert (item["answers"], item["rating"], item["status"]) == (1, 5, "closed")
    assert created["ticket_no"] in found(stack, "清理")


def test_the_citizens_district_pick_is_the_tickets_district(stack):
    reply = stack.post({"text": BURNING_RUBBISH, "district": "安阳街道"})
    assert reply.status == 201, reply.body
    page = on_board(stack, reply.json()["ticket_no"])
    assert page["district"] == "安阳街道"
    refused = stack.post({"text": BURNING_RUBBISH, "district": "火星街道"})
    assert refused.status == 422 and refused.json()["error"]["code"] == "invalid_complaint"


def test_the_boards_mistakes_are_4xx_with_the_error_shape(stack):
    cursor = None
    for n in range(3):
        file_complaint(stack, text=f"上望街道第{n}号路灯不亮了，晚上走路很危险")
    first = board(stack, "?limit=1").json()
    cursor = first["next_cursor"]
    assert cursor and len(first["items"]) == 1
    assert board(stack, f"?limit=1&cursor={cursor}").status == 200
    other = board(stack, f"?limit=1&status=closed&cursor={cursor}")
    assert other.status == 400 and other.json()["error"]["code"] == "bad_cursor"
    assert board(stack, "?cursor=forged").json()["error"]["code"] == "bad_cursor"
    for query in (f"?district={quote('火星街道')}", "?status=received", "?limit=0", "?limit=51", "?agency=nobody"):
        got = board(stack, query)
        assert got.status == 422 and "error" in got.json(), query
    missing = stack.request("GET", "/board/999999999", headers={"Accept": "application/json"})
    assert missing.status == 404 and missing.json()["error"]["code"] == "not_found"

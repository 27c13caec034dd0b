"""The answer loop over HTTP on the local stack: a complaint is dispatched, staff signed in with `complaints staff`
sign for it and answer it, the citizen is told once on their channel and rates the answer; what staff of another
agency, forged tokens, two staff at once, bad bodies, a return, reopenings and the reopen limit get."""

from __future__ import annotations

import base64
import json
import threading
from concurrent.futures import ThreadPoolExecutor

from joserfc import jwt
from joserfc.jwk import RSAKey
from loop_helpers import (
    PHONE,
    PHONE_E164,
    Desk,
    citizen_view,
    file_complaint,
    notices,
    outbox,
    rate,
    sent,
    staff,
)

ANSWER = "经现场核查，焚烧垃圾行为已制止，已责令村委会清理现场并加强巡查。"
HOME = "https://wenzheng.ruian.example"


def _error(reply) -> dict:
    return reply.json()["error"]


def test_a_phone_complaint_is_answered_by_sms_once_and_closed_by_a_rating_of_5(stack):
    created = file_complaint(stack, {"phone": PHONE})
    no = created["ticket_no"]
    eco = Desk(stack, staff(stack, "eco"))

    listed = eco.inbox()
    assert listed.status == 200, listed.body
    (mine,) = [t for t in listed.json()["tickets"] if t["id"] == created["id"]]
    assert (mine["ticket_no"], mine["status"], mine["overdue"]) == (no, "dispatched", False)
    assert mine["deadlines"]["accept_by"] and mine["deadlines"]["answer_by"]

    accepted = eco.accept(created["id"])
    assert accepted.status == 200 and accepted.json()["status"] == "accepted", accepted.body
    replied = eco.reply(created["id"], ANSWER)
    assert replied.status == 200, replied.body
    assert replied.json()["status"] == "answered" and replied.json()["answers"][0]["text"] == ANSWER

    assert sent(stack, created, "answer-1") == {"sms": "sent"}
    (sms,) = outbox(stack, no, "citizen")  # exactly one message to the citizen
    assert (sms["protocol"], sms["endpoint"], sms["ticket_no"]) == ("sms", PHONE_E164, str(no))
    assert f"问题{no}已答复" in sms["message"] and sms["message"].endswith(f"{HOME}/t/{no}")
    assert len(sms["message"]) <= 134  # two UCS-2 segments

    rated = rate(stack, created, 5, True)
    assert rated.status == 200, rated.body
    assert rated.json()["status"] == "closed"
    ticket = citizen_view(stack, created)
    assert ticket["status"] == "closed" and ticket["deadline"] is None and ticket["rate_by"] is None
    assert [(a["text"], a["agency"]) for a in ticket["answers"]] == [(ANSWER, "市生态环境局")]
    assert (ticket["rating"]["score"], ticket["rating"]["resolved"]) == (5, True)
    assert [h["status"] for h in ticket["history"]][-3:] == ["accepted", "answered", "closed"]

    again = rate(stack, created, 4, True)
    assert again.status == 409, again.body
    assert _error(again)["code"] == "move_not_allowed" and _error(again)["state"] == "closed"
    assert len(outbox(stack, no, "citizen")) == 1  # a satisfied rating sends nothing more


def test_a_citizen_who_left_an_email_gets_the_answer_by_email_once(stack):
    created = file_complaint(stack, {"email": "li.ming@example.cn"})
    no = created["ticket_no"]
    Desk(stack, staff(stack, "eco")).answer(created["id"], ANSWER)

    assert sent(stack, created, "answer-1") == {"email": "sent"}
    (mail,) = outbox(stack, no, "citizen")
    assert (mail["protocol"], mail["endpoint"], mail["ticket_no"]) == ("email", "li.ming@example.cn", str(no))
    assert f"编号{no}" in mail["subject"] and ANSWER in mail["message"] and f"{HOME}/t/{no}" in mail["message"]


def _claims(headers: dict[str, str]) -> tuple[dict, dict]:
    header, payload, _ = headers["Authorization"].removeprefix("Bearer ").split(".")
    return (json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in (header, payload))


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_the_ticket_routes_refuse_a_missing_unsigned_or_foreign_signed_token(stack):
    created = file_complaint(stack)
    # A real token of the transport bureau, rewritten to claim the environment bureau's group.
    header, claims = _claims(staff(stack, "jtj"))
    claims = {**claims, "cognito:groups": ["eco"]}
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    own_key = jwt.encode({"alg": "RS256", "kid": header["kid"]}, claims, RSAKey.generate_key(2048))
    t = created["id"]
    calls = [("GET", "/agency/tickets"), ("GET", f"/agency/tickets/{t}"), ("POST", f"/agency/tickets/{t}/accept")]
    for headers in ({}, {"Authorization": f"Bearer {unsigned}"}, {"Authorization": f"Bearer {own_key}"}):
        for method, path in calls:
            refused = stack.request(method, path, headers=headers)
            assert refused.status == 401, (headers, path, refused.body)
            assert _error(refused)["code"] == "unauthorized"
        replied = stack.request("POST", f"/agency/tickets/{t}/reply", {"text": ANSWER}, headers=headers)
        assert replied.status == 401 and _error(replied)["code"] == "unauthorized", replied.body
    assert citizen_view(stack, created)["status"] == "dispatched"


def test_staff_of_another_agency_can_neither_see_nor_move_the_ticket(stack):
    created = file_complaint(stack, {"phone": PHONE})
    eco, jtj = Desk(stack, staff(stack, "eco")), Desk(stack, staff(stack, "jtj"))
    before = eco.ticket(created["id"]).json()

    for reply in (jtj.ticket(created["id"]), jtj.accept(created["id"]), jtj.reply(created["id"], "不归我们管")):
        assert reply.status == 404, reply.body
        assert _error(reply)["code"] == "not_found"
    assert created["id"] not in jtj.inbox_ids() and created["id"] not in jtj.inbox_ids("?status=dispatched")
    assert eco.ticket(created["id"]).json() == before  # nothing changed, nothing recorded
    # Once signed for by its own agency, it is no more the other's to answer.
    assert eco.accept(created["id"]).status == 200
    assert jtj.reply(created["id"], "不归我们管").status == 404
    assert eco.ticket(created["id"]).json()["status"] == "accepted"
    assert not outbox(stack, created["ticket_no"], "citizen")


def test_two_staff_answering_at_once_one_is_answered_the_other_hears_409_answered(stack):
    created = file_complaint(stack, {"phone": PHONE})
    first, second = Desk(stack, staff(stack, "eco")), Desk(stack, staff(stack, "eco"))
    assert first.accept(created["id"]).status == 200
    start = threading.Barrier(2)

    def answer(desk: Desk, text: str):
        start.wait()
        return desk.reply(created["id"], text), text

    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(answer, (first, second), ("答复甲：已查处", "答复乙：已处理")))
    statuses = sorted(r.status for r, _ in replies)
    assert statuses == [200, 409], [r.body for r, _ in replies]
    (won,) = [text for r, text in replies if r.status == 200]
    (lost,) = [r for r, _ in replies if r.status == 409]
    assert _error(lost)["code"] == "move_not_allowed" and _error(lost)["state"] == "answered"

    assert [a["text"] for a in citizen_view(stack, created)["answers"]] == [won]
    assert sent(stack, created, "answer-1") == {"sms": "sent"}
    (sms,) = outbox(stack, created["ticket_no"], "citizen")
    assert won.split("：")[1] in sms["message"]


def test_bad_reply_bodies_and_forbidden_moves_are_refused_and_change_nothing(stack):
    created = file_complaint(stack, {"phone": PHONE})
    eco = Desk(stack, staff(stack, "eco"))
    t = created["id"]

    early = eco.reply(t, ANSWER)  # not signed for yet
    assert early.status == 409 and _error(early)["state"] == "dispatched", early.body
    too_early = rate(stack, created, 5, True)
    assert too_early.status == 409 and _error(too_early)["state"] == "dispatched", too_early.body
    assert eco.accept(t).status == 200
    twice = eco.accept(t)
    assert twice.status == 409 and _error(twice)["state"] == "accepted", twice.body

    for body, field in (
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "字" * 5001}, "text"),
        ({"text": ANSWER, "agency": "jtj"}, "agency"),
        ({}, "text"),
        ({"text": 5}, "text"),
    ):
        refused = eco.reply(t, body=body)
        assert refused.status == 422, (body, refused.body)
        assert _error(refused)["code"] == "invalid_request" and field in _error(refused)["message"], refused.body
    not_json = eco.reply(t, raw=b'{"text": "unterminated')
    assert not_json.status == 400 and _error(not_json)["code"] == "invalid_json", not_json.body
    form = eco.reply(t, raw=b"text=hello", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status == 415 and _error(form)["code"] == "unsupported_content_type", form.body

    ticket = eco.ticket(t).json()
    assert ticket["status"] == "accepted" and ticket["answers"] == []
    longest = eco.reply(t, "字" * 5000)  # the longest answer there is
    assert longest.status == 200 and longest.json()["status"] == "answered", longest.body
    late = eco.return_ticket(t, "不属于本单位职责")
    assert late.status == 409 and _error(late)["state"] == "answered", late.body
    assert rate(stack, created, 5, True).json()["status"] == "closed"
    closed = eco.accept(t)
    assert closed.status == 409 and _error(closed)["state"] == "closed", closed.body
    assert sent(stack, created, "answer-1") == {"sms": "sent"}
    assert len(outbox(stack, created["ticket_no"], "citizen")) == 1


def test_a_returned_ticket_reaches_the_triage_desk_which_assigns_it_to_another_agency(stack):
    created = file_complaint(stack)
    no, t = created["ticket_no"], created["id"]
    eco, jtj = Desk(stack, staff(stack, "eco")), Desk(stack, staff(stack, "jtj"))
    triage = Desk(stack, staff(stack, "triage-desk"))

    returned = eco.return_ticket(t, "焚烧点位于公路边，应由交通运输局处理")
    assert returned.status == 200 and returned.json()["status"] == "triage", returned.body
    assert eco.ticket(t).status == 404 and t not in eco.inbox_ids()
    assert t in triage.inbox_ids() and t in triage.inbox_ids("?status=triage")
    assert triage.ticket(t).json()["status"] == "triage"
    assert sent(stack, created, "return-1") == {"triage": "sent"}
    (to_desk,) = notices(stack, no, "to_triage")
    assert (to_desk["topic"], to_desk["protocol"], to_desk["endpoint"]) == ("triage", "email", "paidan@ruian.example")
    assert "交通运输局处理" in to_desk["message"]

    assert eco.assign(t, "jtj").status == 404  # only the triage desk assigns
    assigned = triage.assign(t, "jtj", "公路边焚烧，交通局处理")
    assert assigned.status == 200, assigned.body
    assert assigned.json()["status"] == "dispatched" and assigned.json()["agency"] == "jtj"
    assert t in jtj.inbox_ids() and t not in triage.inbox_ids()
    ticket = jtj.ticket(t).json()
    assert (ticket["status"], ticket["department"]) == ("dispatched", "市交通运输局")
    assert ticket["deadlines"]["accept_by"] and "accept" in ticket["can"]

    assert sent(stack, created, "dispatch-1", deliveries=2) == {"agency": "sent", "copy": "sent"}
    to_jtj = sorted(
        (e["protocol"], e["endpoint"])
        for e in outbox(stack, no, "agency")
        if e["topic"] == "dispatch" and e["attributes"].get("department") == "市交通运输局"
        and e["attributes"]["audience"] == "agency"
    )  # fmt: skip
    assert to_jtj == [("email", "jtj@ruian.example"), ("sms", "+8613900000003")]  # once each
    assert not outbox(stack, no, "citizen")  # a return and a reassignment are the staff's business


def test_an_unsatisfied_rating_reopens_the_ticket_to_its_agency_and_the_next_answer_closes_it(stack):
    created = file_complaint(stack, {"phone": PHONE})
    no, t = created["ticket_no"], created["id"]
    eco = Desk(stack, staff(stack, "eco"))
    eco.answer(t, "已责令停止焚烧。")

    reopened = rate(stack, created, 2, False, "晚上还在烧")
    assert reopened.status == 200 and reopened.json()["status"] == "reopened", reopened.body
    assert reopened.json()["deadline"]  # a new answer is owed
    assert t in eco.inbox_ids("?status=reopened")
    assert sent(stack, created, "reopen-1-agency") == {"agency": "sent"}
    (told,) = [e for e in notices(stack, no, "reopened") if e["protocol"] == "email"]
    assert "晚上还在烧" in told["message"] and told["attributes"]["department"] == "市生态环境局"

    eco.answer(t, "已安排夜间巡查，焚烧点已清除。")
    assert rate(stack, created, 5, True).json()["status"] == "closed"
    ticket = citizen_view(stack, created)
    assert [a["text"] for a in ticket["answers"]] == ["已责令停止焚烧。", "已安排夜间巡查，焚烧点已清除。"]
    assert ticket["rating"]["score"] == 5
    assert [h["status"] for h in ticket["history"]][-6:] == [
        "accepted", "answered", "reopened", "accepted", "answered", "closed"
    ]  # fmt: skip

    for key in ("answer-1", "reopen-1", "answer-2"):
        assert sent(stack, created, key) == {"sms": "sent"}
    texts = [e["message"] for e in outbox(stack, no, "citizen")]
    assert len(texts) == 3, texts  # each answer and the reopening, once each
    assert "已重新交办" in texts[1] and "夜间巡查" in texts[2]


def test_past_the_reopen_limit_an_unsatisfied_rating_sends_the_ticket_to_the_triage_desk(stack, city):
    created = file_complaint(stack, {"phone": PHONE})
    no, t = created["ticket_no"], created["id"]
    eco, triage = Desk(stack, staff(stack, "eco")), Desk(stack, staff(stack, "triage-desk"))
    limit = city.limits_for("环境保护").reopen_limit
    assert limit >= 1

    for n in range(1, limit + 1):
        eco.answer(t, f"第{n}次答复")
        rated = rate(stack, created, 1, False)
        assert rated.status == 200 and rated.json()["status"] == "reopened", rated.body
    eco.answer(t, f"第{limit + 1}次答复")
    past = rate(stack, created, 1, False, "还是没有解决")
    assert past.status == 200 and past.json()["status"] == "triage", past.body

    assert eco.ticket(t).status == 404 and t in triage.inbox_ids("?status=triage")
    assert triage.ticket(t).json()["reopen_count"] == limit + 1
    again = rate(stack, created, 1, False)
    assert again.status == 409 and _error(again)["state"] == "triage", again.body
    assert sent(stack, created, f"reopen-{limit + 1}-triage") == {"triage": "sent"}
    (to_desk,) = notices(stack, no, "to_triage")
    assert to_desk["endpoint"] == "paidan@ruian.example" and f"{limit} 次上限" in to_desk["message"]
    assert len(notices(stack, no, "reopened")) == 2 * limit  # the agency's e-mail and SMS, once per reopening

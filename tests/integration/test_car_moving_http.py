"""Car moving (自助移车) over HTTP against the local stack: verify a phone by the SMS code in the outbox, ask the owner
of a registered car to move it, the limits, the owner's link, the reminder and the hand-over to the police; and
neither party's number in anything the other receives, nor in the stack's log.

A stack of its own: the test moves the stack's clock (forward only), which the shared stack's tests must not see.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from complaints_tools.fake_weibo import FakeWeibo

ROOT = Path(__file__).resolve().parents[2]
REQUESTER, REQUESTER_DIGITS = "138 0000 0001", "13800000001"
OWNER, OWNER_DIGITS = "+8613900000002", "13900000002"
PLATE, OTHER_PLATE, CROWDED_PLATE = "浙C12345", "浙C54321", "浙C77777"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, stack_process):
    start_stack, stop_stack = stack_process
    weibo = FakeWeibo(samples=False).start()
    log = tmp_path_factory.mktemp("car-moving") / "stack.log"
    try:
        proc, client = start_stack(weibo, log)
        try:
            for plate in (PLATE, OTHER_PLATE):
                client.register_vehicle(plate, OWNER)
            yield client
        finally:
            stop_stack(proc)
    finally:
        weibo.stop()


def codes_sent(stack, digits: str) -> list[str]:
    return [
        re.search(r"\d{6}", e["message"]).group()
        for e in stack.outbox()
        if e["to"] == "citizen" and e["protocol"] == "sms" and e["endpoint"].endswith(digits)
        if "验证码" in e["message"]
    ]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def owner_code(stack, request_id: str, key: str = "notified") -> str:
    item = stack.aws("dynamodb").get_item(
        TableName=stack.resource("TicketsTable"), Key={"pk": {"S": f"carmove#notice#{request_id}#{key}"}}
    )["Item"]
    link = re.search(r"https?://[!-~]+/car-moving/owner/[!-~]+", item["sms"]["S"]).group()
    assert link.startswith(f"{stack.url}/car-moving/owner/")  # OWNER_LINK_BASE: the local stack's own address
    return link.rsplit("/", 1)[1]


def test_a_blocked_driver_reaches_the_owner_and_neither_sees_the_others_number(stack):
    requester_side, owner_side = [], []

    # Verification: the code is in the outbox, a wrong one is a 422, the right one a token.
    sent = stack.request("POST", "/verify", {"phone": REQUESTER})
    assert (sent.status, sent.json()) == (202, {"status": "code_sent"})
    (code,) = codes_sent(stack, REQUESTER_DIGITS)
    again = stack.request("POST", "/verify", {"phone": REQUESTER})
    assert again.status == 429 and 1 <= int(again.headers["Retry-After"]) <= 61
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    refused = stack.request("POST", "/verify/confirm", {"phone": REQUESTER, "code": wrong})
    assert (refused.status, refused.json()["error"]["code"]) == (422, "code_rejected")
    confirmed = stack.request("POST", "/verify/confirm", {"phone": REQUESTER, "code": code})
    assert confirmed.status == 200 and set(confirmed.json()) == {"token", "expires_at"}
    token = confirmed.json()["token"]
    used = stack.request("POST", "/verify/confirm", {"phone": REQUESTER, "code": code})
    assert used.status == 422  # single use

    # Refusals that store nothing.
    body = {"plate": "浙c·12345", "location": "万松路12号门口"}
    anonymous = stack.request("POST", "/car-moving", body)
    assert (anonymous.status, anonymous.json()["error"]["code"]) == (401, "not_verified")
    assert stack.request("POST", "/car-moving", body, headers=bearer("not-a-token")).status == 401
    unknown = stack.request("POST", "/car-moving", {**body, "plate": "浙C99999"}, headers=bearer(token))
    assert (unknown.status, unknown.json()["error"]["code"]) == (404, "plate_not_registered")
    bad = stack.request("POST", "/car-moving", {**body, "plate": "ABC123"}, headers=bearer(token))
    assert (bad.status, bad.json()["error"]["code"]) == (400, "invalid_plate")
    not_json = stack.request("POST", "/car-moving", raw=b"{plate", headers=bearer(token))
    assert (not_json.status, not_json.json()["error"]["code"]) == (400, "invalid_json")

    other_method = stack.request("DELETE", "/car-moving")
    assert (other_method.status, other_method.headers["Allow"]) == (405, "POST")
    bad_phone = stack.request("POST", "/verify", {"phone": "12345"})
    assert bad_phone.status == 400 and "12345" not in bad_phone.body.decode()

    # The request, as its requester follows it.
    created = stack.request("POST", "/car-moving", body, headers=bearer(token))
    assert created.status == 201, created.body
    view = created.json()
    assert (view["plate"], view["status"], view["location"]) == (PLATE, "notified", "万松路12号门口")
    requester_side.append(created.body)
    followed = stack.request("GET", f"/car-moving/{view['id']}", headers=bearer(token))
    assert (followed.status, followed.json()) == (200, view)
    requester_side.append(followed.body)

    # One notification per plate per 10 minutes; a reminder only after them.
    held = stack.request("POST", "/car-moving", body, headers=bearer(token))
    assert held.status == 429 and held.json()["error"]["code"] == "limit_reached"
    assert 1 <= int(held.headers["Retry-After"]) <= 601
    early = stack.request("POST", f"/car-moving/{view['id']}/remind", headers=bearer(token))
    assert (early.status, early.json()["error"]["possible_at"]) == (409, view["can_remind_at"])

    # The owner's link: the plate and a confirmation, nothing about the requester.
    code = owner_code(stack, view["id"])
    page = stack.request("GET", f"/car-moving/owner/{code}")
    assert page.status == 200 and (page.json()["plate"], page.json()["moved"]) == (PLATE, False)
    moved = stack.request("POST", f"/car-moving/owner/{code}/moved")
    assert moved.status == 200 and moved.json()["moved"] is True
    owner_side += [page.body, moved.body]
    assert stack.request("GET", f"/car-moving/owner/{'x' * 32}").status == 404
    after = stack.request("GET", f"/car-moving/{view['id']}", headers=bearer(token)).json()
    assert after["status"] == "moved" and after["moved_at"]

    # Another car, not moved: after 10 minutes, one reminder, then the traffic police.
    other = stack.request("POST", "/car-moving", {**body, "plate": OTHER_PLATE}, headers=bearer(token)).json()
    assert stack.request("POST", "/_local/clock", {"offset_s": 601}).status == 200
    reminded = stack.request("POST", f"/car-moving/{other['id']}/remind", headers=bearer(token))
    assert reminded.status == 200 and reminded.json()["reminded_at"]
    assert stack.request("POST", f"/car-moving/{other['id']}/remind", headers=bearer(token)).status == 409
    police = stack.request("POST", f"/car-moving/{other['id']}/police", headers=bearer(token))
    assert police.status == 200, police.body
    assert police.json()["status"] == "police" and isinstance(police.json()["ticket_no"], int)
    requester_side += [reminded.body, police.body]
    owner_side.append(stack.request("GET", f"/car-moving/owner/{owner_code(stack, other['id'], 'reminded')}").body)

    for answer in requester_side:
        assert OWNER_DIGITS not in answer.decode() and "owner_sealed" not in answer.decode()
    for answer in owner_side:
        assert REQUESTER_DIGITS not in answer.decode()


def verified(stack, phone: str) -> str:
    assert stack.request("POST", "/verify", {"phone": phone}).status == 202
    code = codes_sent(stack, phone.replace(" ", ""))[-1]
    confirmed = stack.request("POST", "/verify/confirm", {"phone": phone, "code": code})
    assert confirmed.status == 200
    return confirmed.json()["token"]


def test_requests_at_once_for_one_plate_notify_its_owner_once_and_count_once(stack):
    token, plate = verified(stack, "13800000003"), CROWDED_PLATE
    stack.register_vehicle(plate, OWNER)
    body = {"plate": plate, "location": "瑞祥大道口"}
    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(lambda _: stack.request("POST", "/car-moving", body, headers=bearer(token)), range(6)))
    assert sorted(r.status for r in replies) == [201, 429, 429, 429, 429, 429]
    items = stack.aws("dynamodb").get_paginator("scan").paginate(TableName=stack.resource("TicketsTable"))
    items = [i for page in items for i in page["Items"] if i["pk"]["S"].startswith("carmove#")]
    notices = [i for i in items if i["pk"]["S"].startswith("carmove#notice#") and i["plate"]["S"] == plate]
    assert len(notices) == 1  # one notice, which the notifier sends once (or is sending now)
    assert {d["M"]["state"]["S"] for d in notices[0]["deliveries"]["M"].values()} <= {"sending", "sent"}
    # The five refused ones used up nothing: the requester's month counts one request.
    secret = stack.aws("ssm").get_parameter(Name="/complaints/car-moving/phone-key", WithDecryption=True)
    requester = hmac.new(secret["Parameter"]["Value"].encode(), b"+8613800000003", hashlib.sha256).hexdigest()
    (month,) = [i for i in items if i["pk"]["S"].startswith(f"carmove#month#{requester}#")]
    assert month["n"] == {"N": "1"}


def test_the_owner_gets_an_sms_and_a_voice_call_without_the_requesters_number(stack):
    to_owner = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        to_owner = [e for e in stack.outbox() if e["endpoint"].endswith(OWNER_DIGITS)]
        if {e["protocol"] for e in to_owner} >= {"sms", "voice"}:
            break
        time.sleep(0.2)
    assert {e["protocol"] for e in to_owner} >= {"sms", "voice"}
    for entry in to_owner:
        assert any(plate in entry["message"] for plate in (PLATE, OTHER_PLATE, CROWDED_PLATE))
        assert REQUESTER_DIGITS not in entry["message"]
    assert any("/car-moving/owner/" in e["message"] for e in to_owner if e["protocol"] == "sms")


def test_neither_number_is_in_the_stacks_log(stack):
    # Last: after every request above, and whatever the notifier logged while sending.
    log = stack.log.read_text(encoding="utf-8")
    assert REQUESTER_DIGITS not in log and "13800000003" not in log and OWNER_DIGITS not in log

"""POST /complaints with an Idempotency-Key: a retried request gets the same ticket, never a second one."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

TEXT = "安阳街道万松路有一盏路灯坏了很久"


def test_a_retry_with_the_same_key_and_body_gets_the_same_ticket(stack):
    key = str(uuid.uuid4())
    before = stack.stored_ticket_count()
    first = stack.post({"text": TEXT}, headers={"Idempotency-Key": key})
    again = stack.post({"text": TEXT}, headers={"idempotency-key": key})  # header names are case-insensitive
    assert first.status == again.status == 201, (first.body, again.body)
    assert first.json() == again.json()  # same id, ticket number and receipt
    assert stack.stored_ticket_count() == before + 1
    assert stack.wait_for_status(first.json())["status"] in ("dispatched", "triage")


def test_the_same_key_with_another_body_is_refused_and_stores_nothing(stack):
    key = str(uuid.uuid4())
    assert stack.post({"text": TEXT}, headers={"Idempotency-Key": key}).status == 201
    before = stack.stored_ticket_count()
    reply = stack.post({"text": TEXT + "，请尽快修"}, headers={"Idempotency-Key": key})
    assert reply.status == 422 and reply.json()["error"]["code"] == "idempotency_key_reused"
    assert stack.stored_ticket_count() == before


def test_concurrent_retries_make_one_ticket(stack):
    key = str(uuid.uuid4())
    before = stack.stored_ticket_count()
    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda _: stack.post({"text": TEXT}, headers={"Idempotency-Key": key}), range(6)))
    # Each answer is the ticket, or "in progress, retry" while the first is being stored.
    assert {r.status for r in replies} <= {201, 409}
    assert len({r.json()["id"] for r in replies if r.status == 201}) == 1
    assert stack.stored_ticket_count() == before + 1


def test_different_keys_are_different_complaints(stack):
    a = stack.post({"text": TEXT}, headers={"Idempotency-Key": str(uuid.uuid4())}).json()
    b = stack.post({"text": TEXT}, headers={"Idempotency-Key": str(uuid.uuid4())}).json()
    assert a["id"] != b["id"] and b["ticket_no"] == a["ticket_no"] + 1


def test_a_malformed_key_is_a_422_naming_the_header(stack):
    for key in ("short", "x" * 129, "has spaces in it, sixteen+"):
        reply = stack.post({"text": TEXT}, headers={"Idempotency-Key": key})
        assert reply.status == 422, (key, reply.body)
        assert "Idempotency-Key" in reply.json()["error"]["message"] or "idempotency" in reply.body.decode().lower()

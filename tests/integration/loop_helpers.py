"""What the answer-loop tests do on a local stack as its users would: file a complaint, sign staff in with
`complaints staff add/token --url`, call the agency API, and read what citizens and agencies were sent."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

# Classified 环境保护 in 上望街道: dispatched to the environment bureau (eco), with a copy to the town.
BURNING_RUBBISH = "上望街道薛里村路边每天晚上都有人焚烧垃圾，黑烟很大，气味刺鼻，请环保部门来查一查"
PHONE, PHONE_E164 = "13812345678", "+8613812345678"
PASSWORD = "Secret-pass-12"


def wait_until(what: Callable[[], Any], timeout: float = 20, every: float = 0.1) -> Any:
    """`what()` once it is truthy, or its last value when `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(every)


def complaints_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "complaints_tools.cli", *args], capture_output=True, text=True, timeout=60
    )


def staff(stack, agency: str) -> dict[str, str]:
    """A new staff member of `agency`, signed in: the Authorization header their workspace sends."""
    email = f"{agency}-{uuid.uuid4().hex[:10]}@ruian.example"
    added = complaints_cli(
        "staff", "add", "--agency", agency, "--email", email, "--password", PASSWORD, "--url", stack.url
    )
    assert added.returncode == 0, added.stderr
    signed_in = complaints_cli("staff", "token", "--email", email, "--password", PASSWORD, "--url", stack.url)
    assert signed_in.returncode == 0, signed_in.stderr
    return {"Authorization": f"Bearer {signed_in.stdout.strip()}"}


def file_complaint(stack, contact: dict[str, str] | None = None, text: str = BURNING_RUBBISH) -> dict[str, Any]:
    """A complaint as a citizen files it, once it is dispatched: {id, ticket_no, receipt, …} and `ticket`, the
    citizen's view of it then."""
    body: dict[str, Any] = {"text": text}
    if contact:
        body["contact"] = contact
    reply = stack.post(body)
    assert reply.status == 201, reply.body
    created = reply.json()
    ticket = stack.wait_for_status(created)
    assert ticket["status"] == "dispatched", ticket
    return {**created, "ticket": ticket}


def receipt(created: dict[str, Any]) -> dict[str, str]:
    return {"X-Receipt": created["receipt"]}


def citizen_view(stack, created: dict[str, Any]) -> dict[str, Any]:
    got = stack.request("GET", f"/complaints/{created['id']}", headers=receipt(created))
    assert got.status == 200, got.body
    return got.json()


def rate(stack, created: dict[str, Any], score: int, resolved: bool, comment: str | None = None):
    body: dict[str, Any] = {"score": score, "resolved": resolved}
    if comment:
        body["comment"] = comment
    return stack.request("POST", f"/complaints/{created['id']}/rating", body, headers=receipt(created))


class Desk:
    """One staff member's calls to the agency API."""

    def __init__(self, stack, headers: dict[str, str]) -> None:
        self.stack, self.headers = stack, headers

    def inbox(self, query: str = ""):
        return self.stack.request("GET", f"/agency/tickets{query}", headers=self.headers)

    def inbox_ids(self, query: str = "") -> list[str]:
        got = self.inbox(query)
        assert got.status == 200, got.body
        return [t["id"] for t in got.json()["tickets"]]

    def ticket(self, ticket_id: str):
        return self.stack.request("GET", f"/agency/tickets/{ticket_id}", headers=self.headers)

    def accept(self, ticket_id: str):
        return self.stack.request("POST", f"/agency/tickets/{ticket_id}/accept", headers=self.headers)

    def reply(self, ticket_id: str, text: Any = None, *, body: Any = None, raw: bytes | None = None, **kw):
        return self.stack.request(
            "POST",
            f"/agency/tickets/{ticket_id}/reply",
            {"text": text} if body is None and raw is None else body,
            raw=raw,
            headers={**self.headers, **kw.get("headers", {})},
        )

    def return_ticket(self, ticket_id: str, reason: str):
        return self.stack.request(
            "POST", f"/agency/tickets/{ticket_id}/return", {"reason": reason}, headers=self.headers
        )

    def assign(self, ticket_id: str, agency: str, note: str | None = None):
        body = {"agency": agency, **({"note": note} if note else {})}
        return self.stack.request("POST", f"/triage/tickets/{ticket_id}/assign", body, headers=self.headers)

    def answer(self, ticket_id: str, text: str) -> dict[str, Any]:
        """Sign for the ticket and answer it, as staff do; the ticket as the desk shows it then."""
        accepted = self.accept(ticket_id)
        assert accepted.status == 200 and accepted.json()["status"] == "accepted", accepted.body
        replied = self.reply(ticket_id, text)
        assert replied.status == 200 and replied.json()["status"] == "answered", replied.body
        return replied.json()


def outbox(stack, ticket_no: int, to: str | None = None) -> list[dict[str, Any]]:
    """What was sent about one ticket, oldest first: to citizens, to agencies (`to`), or both."""
    got = stack.request("GET", f"/_local/outbox?ticket_no={ticket_no}")
    assert got.status == 200, got.body
    return [e for e in got.json() if to is None or e["to"] == to]


def notices(stack, ticket_no: int, event: str) -> list[dict[str, Any]]:
    """The deliveries to staff of one kind of notice about a ticket (`reminder`, `escalation`, `to_triage`…)."""
    return [e for e in outbox(stack, ticket_no, "agency") if e["attributes"].get("event") == event]


def message_deliveries(stack, ticket_id: str) -> dict[str, dict[str, str]]:
    """{message key: {delivery: state}} of every message the ticket's moves put in the outbox, from the table."""
    ddb = stack.aws("dynamodb")
    pages = ddb.get_paginator("scan").paginate(
        TableName=stack.resource("TicketsTable"),
        FilterExpression="begins_with(pk, :m)",
        ExpressionAttributeValues={":m": {"S": f"message#{ticket_id}#"}},
    )
    out = {}
    for item in (i for page in pages for i in page["Items"]):
        deliveries = item.get("deliveries", {}).get("M", {})
        out[item["key"]["S"]] = {name: d["M"]["state"]["S"] for name, d in deliveries.items()}
    return out


def delivered(stack, ticket_id: str, key: str, deliveries: int = 1) -> dict[str, str] | None:
    """The states of a message's deliveries ({"sms": "sent"}) once `deliveries` of them are recorded and none is
    being sent, None before: a delivery recorded `sent` is never sent again, so what the outbox shows then is final.
    (The messenger records a message's deliveries one after another: a notice with a town's copy has two.)"""
    item = (
        stack.aws("dynamodb")
        .get_item(TableName=stack.resource("TicketsTable"), Key={"pk": {"S": f"message#{ticket_id}#{key}"}})
        .get("Item")
    )
    states = {name: d["M"]["state"]["S"] for name, d in (item or {}).get("deliveries", {}).get("M", {}).items()}
    if len(states) < deliveries or "sending" in states.values():
        return None
    return states


def sent(stack, ticket: dict[str, Any], key: str, deliveries: int = 1) -> dict[str, str]:
    """`delivered`, waited for; fails the test if the message is not delivered in time."""
    states = wait_until(lambda: delivered(stack, ticket["id"], key, deliveries))
    assert states, f"{key} of ticket {ticket['ticket_no']} was not delivered"
    return states

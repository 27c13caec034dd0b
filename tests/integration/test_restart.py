"""A restarted local stack carries on where it stopped, as a redeployed stack does on AWS (`--state DIR`)."""

from __future__ import annotations

import json
import urllib.request

from complaints_tools.fake_weibo import FakeWeibo

FIXTURE_TICKETS = 7


def _comments(weibo: FakeWeibo) -> list[dict]:
    with urllib.request.urlopen(f"{weibo.url}/_fake/comments", timeout=5) as r:
        return json.loads(r.read())


def test_a_restart_creates_no_second_ticket_or_comment_and_keeps_receipts(tmp_path, stack_process):
    start_stack, stop_stack = stack_process
    weibo = FakeWeibo().start()  # a server of its own: it outlives both stacks, as Weibo does
    state, log = tmp_path / "state", tmp_path / "stack.log"
    try:
        proc, first = start_stack(weibo, log, "--state", str(state))
        try:
            assert len(_comments(weibo)) == FIXTURE_TICKETS
            created = first.post({"text": "安阳街道万松路路灯坏了半个月没人修"})
            assert created.status == 201
            ticket = created.json()
            first.wait_for_status(ticket)
        finally:
            stop_stack(proc)
        assert f"Stopped. Tickets, photos and the Weibo cursor are saved in {state}/" in log.read_text()

        proc, second = start_stack(weibo, log, "--state", str(state))
        try:
            assert second.run_weibo()["created"] == 0
            assert len(_comments(weibo)) == FIXTURE_TICKETS
            assert len(second.stored_tickets("weibo")) == FIXTURE_TICKETS
            # The citizen's receipt still opens the ticket, and numbering goes on after it.
            got = second.request("GET", f"/complaints/{ticket['id']}", headers={"X-Receipt": ticket["receipt"]})
            assert got.status == 200 and got.json()["ticket_no"] == ticket["ticket_no"]
            later = second.post({"text": "塘下镇有工厂偷排污水，河水发黑"}).json()
            assert later["ticket_no"] > ticket["ticket_no"]
        finally:
            stop_stack(proc)
    finally:
        weibo.stop()

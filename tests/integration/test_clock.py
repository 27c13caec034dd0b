"""The local stack's clock moves forward for every handler at once (local stack only): a test can cross a weekend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from complaints_tools.fake_weibo import FakeWeibo

THREE_DAYS = 3 * 24 * 3600


def test_moving_the_clock_stamps_new_tickets_later_and_it_never_moves_back(tmp_path, stack_process):
    start_stack, stop_stack = stack_process
    weibo = FakeWeibo(samples=False).start()
    try:
        proc, stack = start_stack(weibo, tmp_path / "stack.log")  # a stack of its own: the others keep real time
        try:
            assert stack.request("GET", "/_local/clock").json()["offset_s"] == 0
            moved = stack.request("POST", "/_local/clock", {"offset_s": THREE_DAYS})
            assert moved.status == 200 and moved.json()["offset_s"] == THREE_DAYS
            created = stack.post({"text": "上望街道薛里村有人焚烧垃圾，黑烟很大"}).json()
            ticket = stack.wait_for_status(created)
            stamped = datetime.fromisoformat(ticket["created_at"].replace("Z", "+00:00"))
            assert stamped - datetime.now(UTC) > timedelta(days=3) - timedelta(minutes=1)
            assert all(h["at"] >= ticket["created_at"] for h in ticket["history"])

            back = stack.request("POST", "/_local/clock", {"offset_s": 60})
            assert back.status == 400 and back.json()["error"]["code"] == "bad_clock"
            for body in ({}, {"offset_s": "soon"}, {"offset_s": True}):
                assert stack.request("POST", "/_local/clock", body).status == 400, body
        finally:
            stop_stack(proc)
    finally:
        weibo.stop()

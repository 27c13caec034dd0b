"""One client address is held to PerIpRequestsPer5Min requests per 5 minutes; everyone else is not.

The test starts a stack of its own with a limit of 10: the shared stack runs with WAF's highest limit
(conftest.start_stack), so that no other test trips the rule by accident. It has a fake Weibo of its own too: a
fresh stack polls every mention again, and the shared fake's comments are what the Weibo tests count.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from complaints_tools.fake_weibo import FakeWeibo

LIMIT = 10


def _get_from(source: str, url: str, path: str) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def test_an_address_over_its_limit_is_answered_429_rate_limited_and_nothing_is_stored(tmp_path, stack_process):
    start_stack, stop_stack = stack_process
    weibo = FakeWeibo().start()
    proc, stack = start_stack(weibo, tmp_path / "stack.log", "--parameter", f"PerIpRequestsPer5Min={LIMIT}")
    try:
        assert stack.health["rate_limits"] == [{"rule": "PerIpRate", "limit": LIMIT, "window_s": 300}]
        assert [stack.request("GET", "/openapi.json").status for _ in range(LIMIT)] == [200] * LIMIT
        before = stack.stored_ticket_count()
        over = stack.post({"text": "安阳街道万松路路灯坏了，晚上很黑"})
        assert over.status == 429
        assert over.headers["Content-Type"].startswith("application/json")
        error = over.json()["error"]
        assert error["code"] == "rate_limited" and error["message"]
        assert stack.stored_ticket_count() == before
        # Another citizen, from another address, is answered as usual.
        assert _get_from("127.0.0.2", stack.url, "/openapi.json") == 200
    finally:
        stop_stack(proc)
        weibo.stop()

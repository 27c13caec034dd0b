"""The local gateway answers a kept-alive connection as promptly as a new one."""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit


def test_answers_on_a_kept_alive_connection_do_not_wait_for_delayed_acks(stack):
    # Headers and body are two writes; with Nagle's algorithm on, the body waited for the client's delayed ACK of
    # the headers: 40 ms on every request after a connection's first.
    url = urlsplit(stack.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    took = []
    for _ in range(10):
        started = time.perf_counter()
        conn.request("GET", "/agency/me")  # refused by the authorizer: no function runs
        answer = conn.getresponse()
        answer.read()
        took.append(time.perf_counter() - started)
        assert answer.status == 401
    conn.close()
    assert sorted(took)[5] < 0.03, took

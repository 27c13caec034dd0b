"""No request of the public board scans a table, and neither does its projection: the local stack runs in this
process (as bench/bench_answer_loop.py runs it), so a botocore hook on the default session, which every handler's
client is made from, sees each DynamoDB call the handlers make."""

from __future__ import annotations

import json
import os
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import boto3
import pytest
from loop_helpers import BURNING_RUBBISH, wait_until

from complaints_tools.local.stack import LocalStack

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


class DynamoCalls(Counter):
    def __call__(self, event_name: str = "", **kwargs) -> None:
        self[event_name.rsplit(".", 1)[-1]] += 1


@pytest.fixture(scope="module")
def counted_stack():
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("AWS_", "LOCAL_FAULTS", "LOCAL_STATE", "WEIBO_")):
            del os.environ[name]
    os.environ["WEIBO_POLL_SECONDS"] = "86400"
    calls = DynamoCalls()
    # On the default session before the stack makes any client from it (clients copy its hooks).
    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-call.dynamodb", calls)
    stack = LocalStack(ROOT, port=0).start()
    try:
        yield stack, calls
    finally:
        stack.stop()
        boto3.DEFAULT_SESSION = None
        os.environ.clear()
        os.environ.update(saved)


def call(url: str, method: str = "GET", body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    headers = {"Accept": "application/json", **({"Content-Type": "application/json"} if data else {})}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_no_board_request_and_no_projection_scans_a_table(counted_stack):
    stack, calls = counted_stack
    numbers = []
    for n in range(3):
        status, created = call(f"{stack.url}/complaints", "POST", {"text": f"{BURNING_RUBBISH}，第{n + 1}次反映"})
        assert status == 201, created
        numbers.append(created["ticket_no"])
    for number in numbers:
        assert wait_until(lambda n=number: call(f"{stack.url}/board/{n}")[0] == 200, timeout=30), number
    before = Counter(calls)
    first = call(f"{stack.url}/board?limit=2")[1]
    assert [item["ticket_no"] for item in first["items"]] == numbers[:0:-1]
    for query in (
        f"?limit=2&cursor={first['next_cursor']}",
        f"?district={quote('上望街道')}&category={quote('环境保护')}&status=dispatched",
        "?agency=eco",
        f"?q={quote('焚烧垃圾')}&agency=eco",
        f"?q={quote('黑烟 气味')}",
    ):
        status, page = call(f"{stack.url}/board{query}")
        assert status == 200 and page["items"], (query, page)
    assert call(f"{stack.url}/board/{numbers[0]}")[0] == 200
    during = Counter(calls) - before
    assert during["Query"] > 0 and during["Scan"] == 0, dict(during)
    assert calls["Scan"] == 0, dict(calls)  # the projection's writes since the stack started, too

"""Starts the local stack (`complaints run`) once per test session, in its own process, and talks HTTP to it.

A fake Weibo and a fake WeChat run in this process and the stack is pointed at them through WEIBO_API_BASE and
WECHAT_API_BASE (with the WECHAT_* account), as at any compatible server: they outlive the stack, and tests can read
what they were sent and inject their errors.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from complaints_tools.fake_wechat import FakeWechat
from complaints_tools.fake_weibo import FakeWeibo
from complaints_tools.local.waf import highest_limits

ROOT = Path(__file__).resolve().parents[2]
PHOTO_WAIT_S = 8


def pytest_collection_modifyitems(items):
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class LocalStackClient:
    url: str
    health: dict[str, Any]
    log: Path

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        data = raw if raw is not None else (json.dumps(body, ensure_ascii=False).encode() if body is not None else None)
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return Reply(r.status, dict(r.headers), r.read())
        except urllib.error.HTTPError as e:
            return Reply(e.code, dict(e.headers), e.read())

    def post(self, body: Any, **kw: Any) -> Reply:
        return self.request("POST", "/complaints", body, **kw)

    def outbox(self) -> list[dict[str, Any]]:
        return self.request("GET", "/_local/outbox").json()

    def aws(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.health["aws_endpoint"],
            region_name=self.health["region"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def resource(self, logical: str) -> str:
        return self.health["resources"][logical]

    def wait_for_status(self, ticket: dict[str, Any], statuses=("dispatched", "triage"), timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            got = self.request("GET", f"/complaints/{ticket['id']}", headers={"X-Receipt": ticket["receipt"]}).json()
            if got.get("status") in statuses or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    def stored_ticket_count(self) -> int:
        # Through every page of the scan: a page holds at most 1 MB, and the fuzzing leaves hundreds of tickets.
        scan = self.aws("dynamodb").get_paginator("scan")
        pages = scan.paginate(
            TableName=self.resource("TicketsTable"),
            Select="COUNT",
            FilterExpression="begins_with(pk, :ticket)",
            ExpressionAttributeValues={":ticket": {"S": "ticket#"}},
        )
        return sum(page["Count"] for page in pages)

    def run_weibo(self) -> dict[str, Any]:
        """One scheduled run of the Weibo poller, now; its outcome."""
        return self.request("POST", "/_local/schedules/WeiboFunction").json()

    def stored_tickets(self, channel: str) -> list[dict[str, Any]]:
        items = self.aws("dynamodb").scan(TableName=self.resource("TicketsTable"))["Items"]
        return [i for i in items if i["pk"]["S"].startswith("ticket#") and i["channel"]["S"] == channel]

    def register_vehicle(self, plate: str, phone: str) -> None:
        """What `complaints vehicles import` stores: the owner's phone sealed under VehicleKey, bound to the plate."""
        sealed = self.aws("kms").encrypt(
            KeyId=self.resource("VehicleKey"),
            Plaintext=json.dumps({"phone": phone}).encode(),
            EncryptionContext={"plate": plate},
        )["CiphertextBlob"]
        self.aws("dynamodb").put_item(
            TableName=self.resource("VehiclesTable"),
            Item={
                "plate": {"S": plate},
                "owner_sealed": {"S": base64.b64encode(sealed).decode()},
                "imported_at": {"S": "2026-12-01T00:00:00Z"},
            },
        )

    def stored_photo_count(self) -> int:
        return self.aws("s3").list_objects_v2(Bucket=self.resource("PhotosBucket")).get("KeyCount", 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def weibo() -> FakeWeibo:
    fake = FakeWeibo().start()
    yield fake
    fake.stop()


# One fake WeChat for the session, the account of every stack started here; tests name the stack they send to.
WECHAT = FakeWechat()


@pytest.fixture(scope="session")
def wechat() -> FakeWechat:
    WECHAT.start()
    yield WECHAT
    WECHAT.stop()


def _first_weibo_poll_done(health: dict[str, Any]) -> bool:
    return health["schedules"]["WeiboFunction"]["invocations"] >= 1


def start_stack(
    weibo: FakeWeibo, log: Path, *args: str, ready=_first_weibo_poll_done
) -> tuple[subprocess.Popen, LocalStackClient]:
    """`complaints run` in its own process, pointed at `weibo`; returns once `ready(health)` (by default: once its
    first Weibo poll is done). `--root DIR` in `args` runs another folder's template.yaml (a test's own)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WEIBO_", "WECHAT_", "LOCAL_STATE"))}
    env["LOCAL_RETRY_SECONDS"] = "1"  # failed messages come back after 1 s instead of 90 s
    env["WEIBO_API_BASE"] = weibo.api_base
    env["WEIBO_ACCESS_TOKEN"] = weibo.token  # seeded into the SSM parameter the poller reads
    # The scheduler's first run happens at start; after it, tests run the poller when they choose
    # (POST /_local/schedules/WeiboFunction), so no run races a test's injected error.
    env["WEIBO_POLL_SECONDS"] = "3600"
    if WECHAT.port:  # started: the stack calls it as WeChat, with its account (seeded into SSM)
        env |= {
            "WECHAT_API_BASE": WECHAT.api_base,
            "WECHAT_APP_ID": WECHAT.app_id,
            "WECHAT_TOKEN": WECHAT.token,
            "WECHAT_AES_KEY": WECHAT.aes_key,
            "WECHAT_APP_SECRET": WECHAT.app_secret,
        }
    with open(log, "a") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "complaints_tools.cli",
                "run",
                "--port",
                str(port),
                # Every test talks from 127.0.0.1 and the fuzzing sends thousands of requests: WAF's highest limit,
                # so that no test trips the per-address rule by accident. A test of the rule passes its own limit
                # in `args` (the last --parameter wins).
                *highest_limits(ROOT),
                *args,
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    health = None
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/_local/health", timeout=2) as r:
                got = json.loads(r.read())
            if ready(got):
                health = got
                break
        except OSError:
            pass
        time.sleep(0.2)
    if health is None:
        proc.kill()
        pytest.fail("the local stack did not start:\n" + log.read_text()[-4000:])
    return proc, LocalStackClient(url, health, log)


def stop_stack(proc: subprocess.Popen) -> None:
    proc.terminate()  # SIGTERM: the stack stops as on Ctrl-C
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def stack(tmp_path_factory, weibo, wechat) -> LocalStackClient:
    log = tmp_path_factory.mktemp("stack") / "stack.log"
    # A ticket waits PHOTO_WAIT_S for its uploaded photo instead of 15 minutes.
    proc, client = start_stack(weibo, log, "--parameter", f"PhotoWaitSeconds={PHOTO_WAIT_S}")
    yield client
    stop_stack(proc)


@pytest.fixture()
def faults(stack):
    """Set the shared stack's faults (POST /_local/faults); cleared when the test ends."""

    def set_faults(**kw):
        reply = stack.request("POST", "/_local/faults", kw)
        assert reply.status == 200, reply.body
        return reply.json()

    yield set_faults
    set_faults()


@pytest.fixture(scope="session")
def stack_process():
    """(start, stop) for tests that need a stack of their own, e.g. to restart it."""
    return start_stack, stop_stack

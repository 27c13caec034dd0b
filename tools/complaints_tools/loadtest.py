"""`complaints loadtest`: N submissions at concurrency C over HTTP against a fresh local stack, with faults.

Every request carries an Idempotency-Key; a share of them is sent again with the same key and body (a client
that lost the answer), and a 503 or 409 is retried the same way. Then it waits until every accepted ticket has
been published (dispatch or triage) or dead-lettered, and counts: lost (neither), duplicated (a notice published
more than once, or two tickets for one key). Latency: the API's answer to the first attempt; post → outbox from
sending the first attempt to the first SNS publish of that ticket (both on this machine's clock). The last line is JSON.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from complaints_tools.local.waf import highest_limits

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "上望街道薛里村路边有人焚烧垃圾，黑烟很大",
    "安阳街道万松路路灯坏了，晚上很黑",
    "塘下镇有工厂半夜偷排污水，河水发黑发臭",
    "飞云街道菜市场门口占道经营，交通堵塞",
    "锦湖街道小区楼下餐馆油烟扰民",
    "你好，我想问一下这个事情到底怎么办才好",
    "马屿镇学校门口校车超载，存在安全隐患",
    "汀田街道某公司拖欠工人工资三个月",
]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


class Client(threading.local):
    """One keep-alive connection per thread."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port, self.conn = host, port, None

    def post(self, body: bytes, key: str) -> tuple[int, dict]:
        """(status, answer); a dropped connection is retried with the same key, as a phone would."""
        for attempt in range(4):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                headers = {"Content-Type": "application/json", "Idempotency-Key": key}
                self.conn.request("POST", "/complaints", body, headers)
                r = self.conn.getresponse()
                return r.status, json.loads(r.read() or b"{}")
            except (OSError, http.client.HTTPException):
                self.conn = None
                time.sleep(0.1 * 2**attempt)
        return 0, {}  # no answer at all: counted as refused (status 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.loads(r.read())


def start_stack(faults: str, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WEIBO_"))}
    # Failed messages come back after 2 s instead of 90 s, so that a run with faults ends in minutes.
    env.update({"LOCAL_FAULTS": faults, "LOCAL_RETRY_SECONDS": "2", "WEIBO_POLL_SECONDS": "86400"})
    with open(log, "w") as out:
        proc = subprocess.Popen(
            # All submissions come from one address: WAF's highest per-address limit, so that none is refused.
            [sys.executable, "-m", "complaints_tools.cli", "run", "--port", str(port), *highest_limits(ROOT)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            _get(url + "/_local/health")
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"the local stack did not start; see {log}")


def dead_lettered(url: str) -> set[str]:
    """Ticket ids in the dead-letter queues (left there)."""
    from complaints_tools.redrive import dead_letter_tickets, local_stack

    sqs, resources = local_stack(url)
    ids: set[str] = set()
    for logical, queue_url in resources.items():
        if logical.endswith("DeadLetterQueue"):
            ids |= dead_letter_tickets(sqs, queue_url)
    return ids


def run(n: int, concurrency: int, faults: str, retry_share: float, url: str | None, settle_s: float) -> dict:
    proc = None
    log = ROOT / "build" / "loadtest-stack.log"
    log.parent.mkdir(exist_ok=True)
    if url is None:
        proc, url = start_stack(faults, log)
    try:
        return _drive(url, n, concurrency, retry_share, settle_s, faults)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)


def _drive(url: str, n: int, concurrency: int, retry_share: float, settle_s: float, faults: str) -> dict:
    host, port = url.removeprefix("http://").split(":")
    client = Client(host, int(port))
    rng = random.Random(20261128)
    plan = [(i, str(uuid.uuid4()), rng.random() < retry_share) for i in range(n)]
    api_ms: list[float] = []
    sent_at: dict[int, float] = {}
    ids_by_key: dict[str, set[str]] = {}
    created: dict[str, dict] = {}
    refused = Counter()
    lock = threading.Lock()

    def submit(item: tuple[int, str, bool]) -> None:
        i, key, retry = item
        body = json.dumps({"text": f"{TEXTS[i % len(TEXTS)]}（第{i}号）"}, ensure_ascii=False).encode()
        t0 = time.time()
        status, answer = client.post(body, key)
        api = (time.time() - t0) * 1000
        answers = [(status, answer)]
        tries = 0
        while status in (409, 503) and tries < 5:  # in progress or storage trouble: the client retries
            time.sleep(0.2 * 2**tries)
            status, answer = client.post(body, key)
            answers.append((status, answer))
            tries += 1
        if retry and status == 201:  # the answer was "lost": the client sends it again
            answers.append(client.post(body, key))
        with lock:
            api_ms.append(api)
            for st, a in answers:
                if st == 201:
                    ids_by_key.setdefault(key, set()).add(a["id"])
                    created[a["id"]] = a
                    sent_at.setdefault(a["ticket_no"], t0)
                else:
                    refused[st] += 1

    t_start = time.time()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(submit, plan))
    post_s = time.time() - t_start

    by_no = {c["ticket_no"]: c for c in created.values()}
    deadline = time.time() + settle_s
    last_progress, last_count = time.time(), -1
    while True:
        published = _get(url + "/_local/published")
        publishes = Counter((p["ticket_no"], p["topic"], p["audience"]) for p in published if p["ticket_no"])
        routed = {int(no) for no, _, _ in publishes}
        dead = dead_lettered(url)
        done = sum(1 for no, c in by_no.items() if no in routed or c["id"] in dead)
        if done != last_count:
            last_progress, last_count = time.time(), done
        if done == len(by_no) or time.time() > deadline or time.time() - last_progress > 60:
            break
        time.sleep(2)

    first_publish: dict[int, float] = {}
    for p in published:
        if p["ticket_no"]:
            first_publish.setdefault(int(p["ticket_no"]), p["at"])
    # A dispatched ticket is two notices (the agency's, the town's copy): each must go out once.
    per_notice = Counter((int(no), audience) for no, _topic, audience in publishes.elements())
    dispatched = {int(no) for (no, topic, _) in publishes if topic == "dispatch"}
    triage = {int(no) for (no, topic, _) in publishes if topic == "triage"}
    dead_nos = {no for no, c in by_no.items() if c["id"] in dead and no not in routed}
    lost = [no for no in by_no if no not in routed and no not in dead_nos]
    published_twice = sorted({no for (no, _), n in per_notice.items() if n > 1 and no in by_no})
    keys_twice = sorted(key for key, ids in ids_by_key.items() if len(ids) > 1)
    duplicated = len(published_twice) + len(keys_twice)
    e2e = [first_publish[no] - sent_at[no] for no in by_no if no in first_publish]
    health = _get(url + "/_local/health")
    return {
        "accepted": len(by_no),
        "dispatched": len(dispatched & set(by_no)),
        "triage": len(triage & set(by_no)),
        "dead_lettered": len(dead_nos),
        "lost": len(lost),
        "duplicated": duplicated,
        "published_twice": published_twice[:10],
        "keys_with_two_tickets": keys_twice[:10],
        "lost_tickets": sorted(lost)[:10],
        "throughput_per_s": round(len(by_no) / post_s, 1),
        "api_p50_ms": round(percentile(api_ms, 50), 1),
        "api_p95_ms": round(percentile(api_ms, 95), 1),
        "api_p99_ms": round(percentile(api_ms, 99), 1),
        "e2e_p50_s": round(percentile(e2e, 50), 3),
        "e2e_p95_s": round(percentile(e2e, 95), 3),
        "e2e_p99_s": round(percentile(e2e, 99), 3),
        "n": n,
        "concurrency": concurrency,
        "faults": faults,
        "client_retries": sum(1 for *_, r in plan if r),
        "refused": dict(refused),
        "injected": health.get("faults", {}).get("injected"),
        "post_seconds": round(post_s, 1),
    }


def report(result: dict) -> str:
    r = result
    lines = [
        f"submissions:      {r['n']} at concurrency {r['concurrency']}, faults: {r['faults'] or 'none'}",
        f"                  {r['client_retries']} client retries; refused answers {r['refused']}",
        f"                  faults injected {r['injected']}",
        f"accepted:         {r['accepted']}",
        f"dispatched:       {r['dispatched']}",
        f"triage:           {r['triage']}",
        f"dead-lettered:    {r['dead_lettered']}",
        f"lost:             {r['lost']}" + (f" (e.g. tickets {r['lost_tickets']})" if r["lost"] else ""),
        f"duplicated:       {r['duplicated']}"
        + (
            f" (published twice: {r['published_twice']}; keys with two tickets: {r['keys_with_two_tickets']})"
            if r["duplicated"]
            else ""
        ),
        f"throughput:       {r['throughput_per_s']} submissions/s ({r['post_seconds']} s)",
        f"API latency:      p50 {r['api_p50_ms']} ms, p95 {r['api_p95_ms']} ms, p99 {r['api_p99_ms']} ms",
        f"post → outbox:    p50 {r['e2e_p50_s']} s, p95 {r['e2e_p95_s']} s, p99 {r['e2e_p99_s']} s",
    ]
    keys = ("accepted", "dispatched", "triage", "dead_lettered", "lost", "duplicated", "throughput_per_s")
    summary = {k: r[k] for k in keys} | {"api_p99_ms": r["api_p99_ms"], "e2e_p95_s": r["e2e_p95_s"]}
    return "\n".join([*lines, json.dumps(summary)])

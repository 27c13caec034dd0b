"""Benchmark: the answer loop on a local stack of its own — the agency inbox, an answer reaching the citizen, and
answers sent while SES and SNS fail.

1. Inbox: 5,000 tickets written straight into the table (1,000 in eco's inbox in every state, the rest spread over
   the other agencies), each made by the desk's own moves (lifecycle.TicketMoves on the in-memory repository, the
   deadlines' and inbox fields of desk.assignment and lifecycle), so that it sits in the `inbox`, `inbox_status`
   and `due` indexes exactly as a dispatched ticket does; one ticket sent through POST /complaints is compared
   with them. Then first pages, next pages (by cursor), ?status=accepted and ?overdue=true over HTTP with an eco
   staff token, timed against GET /agency/me (the same gateway, authorizer and function, no table read) in the
   same run. DynamoDB calls are counted by a botocore hook on the boto3 default session of this process, which
   every handler's client is made from; no Scan may appear.
2. Reply → SMS: tickets dispatched to eco with phone contacts sealed by the stack's KMS key; each is signed for and
   answered over HTTP, one at a time, and timed from the reply's 200 to its SMS in GET /_local/outbox (polled
   every 20 ms).
3. Answers under faults: SNS publishes and SES sends fail at 20 % each; as many tickets (half phone, half e-mail)
   are signed for and answered by four clients at once; once every message's deliveries are recorded, each
   ticket's citizen messages in the outbox are counted: none is lost, none is doubled.

    .venv/bin/python bench/bench_answer_loop.py [--quick] [--inbox]

The stack (and its logs: /tmp/bench-answer-loop-<pid>.log) lives as long as the run. Human-readable lines first;
the last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from complaints.adapters.aws import COUNTER_KEY, KmsContactVault, _to_dynamo
from complaints.adapters.memory import MemoryTicketRepository
from complaints.city import load_city
from complaints.domain.desk.assignment import answered, assigned, parse, utc_iso
from complaints.domain.desk.citizen import CITIZEN
from complaints.domain.desk.due import CLOSE_NOTE, ESCALATE_NOTE, REMIND_NOTE
from complaints.domain.lifecycle import NOTHING_DUE, due
from complaints.domain.outbox import message_key
from complaints.domain.tickets import SYSTEM, Actor, ActorKind, Answer, HistoryEntry, Rating, Status, Ticket
from complaints_tools.local.stack import LocalStack
from complaints_tools.local.waf import highest_limits

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
PASSWORD = "Secret-pass-12"
TARGET_INBOX_P95_MS = 150
TARGET_SMS_P95_S = 2.0
FAULTS = {"sns_publish_fail": 0.2, "ses_send_fail": 0.2}


@dataclass(frozen=True)
class Size:
    tickets: int  # in the table for the inbox
    eco: int  # of them in eco's inbox
    rounds: int  # of the five request kinds each (four inbox kinds and the baseline)
    sms: int  # answered one at a time, reply → SMS timed
    answered: int  # answered under faults
    clients: int = 4
    settle_s: float = 420


FULL = Size(tickets=5000, eco=1000, rounds=50, sms=100, answered=1000)
QUICK = Size(tickets=1000, eco=200, rounds=12, sms=20, answered=100, settle_s=120)


# ---------------------------------------------------------------- measuring
class DynamoCalls:
    """Every DynamoDB call a handler makes (botocore `before-call`), by operation; queries by index too."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, model: Any = None, params: Any = None, **_: Any) -> None:
        name = model.name
        if name == "Query":
            body = (params or {}).get("body") or b"{}"
            name = f"Query {json.loads(body).get('IndexName', '(table)')}"
        with self._lock:
            self.counts[name] += 1

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] if ordered else float("nan")


def spread(values: list[float], scale: float = 1000.0, digits: int = 1) -> dict[str, float]:
    return {
        "p50": round(pct(values, 50) * scale, digits),
        "p95": round(pct(values, 95) * scale, digits),
        "max": round(max(values) * scale, digits) if values else float("nan"),
        "n": len(values),
    }


class Http(threading.local):
    """One keep-alive connection per thread to the local gateway."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port, self.conn = host, int(port), None

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any, float]:
        """(status, answer, seconds until the answer was read)."""
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                started = time.perf_counter()
                self.conn.request(method, path, data, headers)
                r = self.conn.getresponse()
                raw = r.read()
                return r.status, json.loads(raw or b"null"), time.perf_counter() - started
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


# ---------------------------------------------------------------- the stack
@contextmanager
def local_stack(calls: DynamoCalls):

    for name in list(os.environ):
        if name.startswith(("AWS_", "LOCAL_FAULTS", "LOCAL_STATE", "WEIBO_")):
            del os.environ[name]
    os.environ["WEIBO_POLL_SECONDS"] = "86400"  # one run at start; nothing from Weibo during the benchmark
    # The hook goes on the default session before the stack makes any client from it (clients copy its hooks).
    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-call.dynamodb", calls)
    limits = highest_limits(ROOT)  # every request comes from 127.0.0.1
    parameters = dict(limits[i + 1].split("=", 1) for i in range(0, len(limits), 2))
    stack = LocalStack(ROOT, port=0, parameters=parameters).start()
    try:
        yield stack
    finally:
        stack.stop()


class Aws:
    """The benchmark's own AWS clients: a session of their own, so neither the hook nor the faults see them."""

    def __init__(self, stack: Any) -> None:
        session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION)
        endpoint = os.environ["AWS_ENDPOINT_URL"]
        physical = stack.template.physical
        self.table = session.resource("dynamodb", endpoint_url=endpoint).Table(physical["TicketsTable"]["Ref"])
        self.kms = session.client("kms", endpoint_url=endpoint)
        self.sqs = session.client("sqs", endpoint_url=endpoint)
        self.key_id = physical["ContactKey"]["Ref"]
        self.dead_letters = physical["MessengerDeadLetterQueue"]["QueueUrl"]

    def put(self, tickets: list[Any]) -> None:

        with self.table.batch_writer() as batch:
            for t in tickets:  # as DynamoTicketRepository.create writes a ticket
                batch.put_item(
                    Item={**_to_dynamo(t.model_dump(mode="json", exclude_none=True)), "pk": f"ticket#{t.id}"}
                )

    def reserve_numbers(self, n: int, first: int) -> list[int]:
        """n ticket numbers from the desk's own counter, so that the intake never hands them out again."""

        last = self.table.update_item(
            Key={"pk": COUNTER_KEY},
            UpdateExpression="ADD #n :k",
            ExpressionAttributeNames={"#n": "n"},
            ExpressionAttributeValues={":k": n},
            ReturnValues="UPDATED_NEW",
        )["Attributes"]["n"]
        return [int(last) - n + i + first for i in range(n)]

    def deliveries(self, ticket_ids: list[str], key: str = "answer-1") -> dict[str, dict]:

        out: dict[str, dict] = {}
        client = self.table.meta.client
        for i in range(0, len(ticket_ids), 100):
            keys = [{"pk": message_key(t, key)} for t in ticket_ids[i : i + 100]]
            request = {self.table.name: {"Keys": keys, "ConsistentRead": True}}
            while request:
                got = client.batch_get_item(RequestItems=request)
                for item in got["Responses"].get(self.table.name, []):
                    out[item["ticket_id"]] = item.get("deliveries", {})
                request = got.get("UnprocessedKeys") or None
        return out

    def dead_letter_depth(self) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.dead_letters, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def staff_token(url: str, agency: str, email: str) -> str:
    """An eco staff member made and signed in as an administrator would (`complaints staff add`, `staff token`)."""

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "complaints_tools.cli", "staff", *args, "--url", url],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"complaints staff {args[0]} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    cli("add", "--agency", agency, "--email", email, "--password", PASSWORD)
    return cli("token", "--email", email, "--password", PASSWORD)


# ---------------------------------------------------------------- tickets as the desk makes them
TEXTS = [
    "塘下镇有工厂半夜偷排污水，河水发黑发臭",
    "上望街道薛里村路边有人焚烧垃圾，黑烟很大，附近居民开窗都是烟味",
    "锦湖街道小区楼下餐馆油烟扰民，晚上十点以后还在营业，噪音也很大",
    "飞云街道菜市场门口占道经营，交通堵塞，早上送孩子上学很不方便",
    "安阳街道万松路路灯坏了两个星期，晚上很黑，老人出门容易摔倒",
    "马屿镇学校门口校车超载，存在安全隐患，希望有关部门尽快检查",
    "汀田街道某公司拖欠工人工资三个月，多次找老板都说没钱",
    "仙降街道河道里漂满垃圾，夏天蚊虫很多，气味难闻",
]
ANSWERS = ["已派执法人员现场核查，责令立即整改，后续将跟踪复查。", "经查属实，已依法立案处理，感谢您的监督。"]


class Seeder:
    """Tickets built by the desk's own moves (TicketMoves on the in-memory repository, with the deadline and inbox
    fields the use cases give), at simulated times; the deadlines function's reminders, escalations and closings
    are applied as of a little after now, so that nothing falls due while the benchmark runs."""

    def __init__(self, city: Any, seed: int = 20261201) -> None:

        self.city, self.rng = city, random.Random(seed)
        self.repo = MemoryTicketRepository()
        self.now = datetime.now(UTC)
        self.as_of = self.now + timedelta(minutes=20)
        self.users = {a.id: str(uuid.UUID(int=self.rng.getrandbits(128))) for a in city.agencies}

    def ticket(self, no: int, agency: str, created: datetime, sealed: str | None, fresh: bool = False) -> Any:

        text = self.rng.choice(TEXTS) + "。" + "情况持续了一段时间，请尽快处理。" * self.rng.randint(0, 4)
        ticket = Ticket(
            id=uuid.UUID(int=self.rng.getrandbits(128)).hex,
            ticket_no=no,
            status=Status.RECEIVED,
            text=text,
            channel="app",
            created_at=_iso(created),
            receipt_hash=f"{self.rng.getrandbits(256):064x}",
            history=[HistoryEntry(status=Status.RECEIVED, at=_iso(created))],
            contact_sealed=sealed,
        )
        self.repo.create(ticket)
        life = _Life(self, ticket.id, agency, created)
        life.run(fresh)
        return life.finish()

    def fake_seal(self) -> str | None:
        """A ciphertext of a contact's size (the inbox never opens it), for three tickets in five."""
        return base64.b64encode(self.rng.randbytes(120)).decode() if self.rng.random() < 0.6 else None


class _Life:
    """One ticket's moves from classification on; `times` are when each recorded move happened."""

    def __init__(self, seeder: Seeder, ticket_id: str, agency: str, created: datetime) -> None:

        self.s, self.id, self.agency, self.at = seeder, ticket_id, agency, created
        self.times: list[datetime] = [created]
        self.escalated = False
        kind = ActorKind.TRIAGE if seeder.city.agency(agency).kind == "triage" else ActorKind.AGENCY
        self.staff = Actor(kind=kind, agency=agency, user=seeder.users[agency])

    @property
    def current(self) -> Ticket:
        return self.s.repo.items[self.id]  # read only: the repository's own copy

    def move(self, name: str, at: datetime, *args: Any, **kwargs: Any) -> None:
        getattr(self.s.repo, name)(self.id, *args, **kwargs)
        self.times.append(at)
        self.at = at

    def run(self, fresh: bool) -> None:

        city, rng, repo = self.s.city, self.s.rng, self.s.repo
        agency = city.agency(self.agency)
        category = (
            next((c.name for c in city.categories if c.agency == agency.id), None) or rng.choice(city.categories).name
        )
        confidence = round(rng.uniform(0.62, 0.99), 4)
        district = rng.choice(city.districts).name
        fields = {
            "category": category,
            "department": city.department_for(category).name,
            "confidence": confidence,
            "top3": [[category, confidence], ["城乡建设", round((1 - confidence) / 2, 4)]],
            "no_evidence": False,
            "district": district,
            "district_source": "text",
        }
        self.move("record_classification", self.at + timedelta(seconds=0.2), fields, f"{category} {confidence:.2f}")
        repo.claim_routing(self.id, "seed")  # a lease, not a step of the history
        if agency.kind == "triage":
            self.move("record_sent_to_triage", self.at + timedelta(seconds=0.2), "seed", "置信度低", "low_confidence",
                      agency.id)  # fmt: skip
            return
        at = self.at + timedelta(seconds=0.2)
        ticket = self.current
        self.move("record_dispatched", at, "seed", agency.name, assigned(city, ticket, agency.id, at))
        if not fresh:
            self._agency_works()

    def _agency_works(self, state: Status = Status.DISPATCHED, last_round: bool = False) -> None:
        rng = self.s.rng
        accept_at = self.at + timedelta(hours=rng.expovariate(1 / 6))
        if not self._unanswered(state, until=accept_at):
            return
        self.move("accept", accept_at, self.staff, "已签收", agency=self.agency, fields=self._due("answer"))
        # Most answers come within days; some well past the deadline, and a few tickets are left for months.
        late = rng.random()
        days = rng.uniform(30, 90) if late < 0.04 else rng.uniform(5, 20) if late < 0.16 else rng.uniform(0.1, 4)
        answer_at = self.at + timedelta(days=days)
        if not self._unanswered(Status.ACCEPTED, until=answer_at, reminded=True):
            return
        self._answer(answer_at, last_round)

    def _answer(self, at: datetime, last_round: bool) -> None:

        city, rng = self.s.city, self.s.rng
        ticket = self.current
        answer = Answer(text=rng.choice(ANSWERS), agency=self.agency, agency_name=city.agency(self.agency).name,
                        at=_iso(at), by=self.staff.user)  # fmt: skip
        fields = {"answers": [*(a.model_dump(mode="json") for a in ticket.answers), answer.model_dump(mode="json")]}
        self.move("answer", at, self.staff, answer.text, agency=self.agency, fields=fields | answered(city, ticket, at))
        self._rated(at, last_round)

    def _rated(self, answered_at: datetime, last_round: bool) -> None:
        """Rated (closed, or reopened once, to be answered again), or closed unrated when the window passes."""

        rng, city = self.s.rng, self.s.city
        rate_at = answered_at + timedelta(days=rng.uniform(0.05, 6.5))
        if rng.random() < 0.45 and rate_at <= self.s.now:
            ticket = self.current
            happy = last_round or rng.random() < 0.85
            rating = Rating(score=rng.choice([4, 5] if happy else [1, 2]), resolved=happy, at=_iso(rate_at),
                            answer=len(ticket.answers))  # fmt: skip
            ratings = [*(r.model_dump(mode="json") for r in ticket.ratings), rating.model_dump(mode="json")]
            if happy:
                self.move("close", rate_at, CITIZEN, f"评价 {rating.score} 分", agency=self.agency,
                          fields={"ratings": ratings})  # fmt: skip
                return
            fields = {"ratings": ratings, "reopen_count": 1, **assigned(city, ticket, self.agency, rate_at)}
            self.move("reopen", rate_at, CITIZEN, "问题没有解决", fields=fields)
            self.escalated = False  # new deadlines
            self._agency_works(Status.REOPENED, last_round=True)
            return
        rate_by = answered_at + timedelta(days=city.limits_for(None).rating_window_days)
        if rate_by <= self.s.as_of:
            self.move("close", rate_by, SYSTEM, CLOSE_NOTE, agency=self.agency)

    def _unanswered(self, state: Any, until: datetime | None, reminded: bool = False) -> bool:
        """The scheduler's reminder and escalation while the ticket waits in `state` (for the next move at `until`,
        None: never); True if that move happens before now."""

        deadlines = self.current.deadlines
        accept_by, answer_by = parse(deadlines.accept_by), parse(deadlines.answer_by)
        horizon = min(until or self.s.as_of, self.s.as_of)
        if not reminded and accept_by <= horizon:
            self.move("remind", accept_by, REMIND_NOTE, state, fields=self._due("answer"))
        if answer_by <= horizon and not self.escalated:
            self.escalated = True
            self.move("escalate", answer_by, ESCALATE_NOTE, state, fields={"overdue": True, **NOTHING_DUE})
        return until is not None and until <= self.s.now

    def _due(self, what: str) -> dict[str, Any]:

        return due(what, utc_iso(parse(self.current.deadlines.answer_by)))

    def finish(self) -> Any:
        """The ticket with its history at the simulated times (each move stamped it with the real clock)."""
        ticket = self.current
        assert len(ticket.history) == len(self.times), (ticket.history, self.times)
        history = [h.model_copy(update={"at": _iso(at)}) for h, at in zip(ticket.history, self.times, strict=True)]
        ratings = ticket.ratings
        if ratings:  # stamped by the rating itself; the history says when it came
            ratings = [ratings[0].model_copy(update={"at": history[-1].at})]
        return ticket.model_copy(update={"history": history, "ratings": ratings})


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def inbox_tickets(seeder: Seeder, size: Size) -> list[Any]:
    """`size.tickets` tickets, `size.eco` of them eco's, created over the last 60 days (numbered in that order)."""
    city = seeder.city
    others = [a.id for a in city.agencies if a.kind == "department" and a.id != "eco"]
    desk = city.triage_desk().id
    agencies = ["eco"] * size.eco + [
        desk if i % 12 == 0 else others[i % len(others)] for i in range(size.tickets - size.eco)
    ]
    created = sorted(seeder.now - timedelta(days=seeder.rng.uniform(0, 60)) for _ in agencies)
    seeder.rng.shuffle(agencies)
    first = city.ticket_no_start
    pairs = enumerate(zip(agencies, created, strict=True))
    return [seeder.ticket(first + i, a, c, seeder.fake_seal()) for i, (a, c) in pairs]


def fresh_tickets(seeder: Seeder, aws: Aws, n: int, contact: Any) -> list[Any]:
    """n tickets dispatched to eco a few minutes ago, with `contact(i)` sealed by the stack's KMS key as the intake
    seals it (the messenger opens it with the same key)."""

    vault = KmsContactVault(aws.key_id, client=aws.kms)
    numbers = aws.reserve_numbers(n, seeder.city.ticket_no_start)
    out = []
    for i, no in enumerate(numbers):
        t = seeder.ticket(no, "eco", seeder.now - timedelta(minutes=5), None, fresh=True)
        out.append(t.model_copy(update={"contact_sealed": vault.seal(t.id, contact(i))}))
    return out


# ---------------------------------------------------------------- 1. the inbox
def seed_inbox(stack: Any, aws: Aws, seeder: Seeder, size: Size, out: Any) -> dict[str, Any]:
    started = time.perf_counter()
    tickets = inbox_tickets(seeder, size)
    built = time.perf_counter() - started
    aws.put(tickets)
    aws.reserve_numbers(len(tickets), seeder.city.ticket_no_start)
    written = time.perf_counter() - started - built
    eco = Counter(t.status.value for t in tickets if t.agency == "eco")
    overdue = sum(1 for t in tickets if t.agency == "eco" and t.overdue)
    _wait_for_stream(stack, len(tickets))
    out.write(
        f"seeded {len(tickets)} tickets (built {built:.1f} s, written {written:.1f} s with BatchWriteItem); "
        f"eco {sum(eco.values())}: {dict(sorted(eco.items()))}, {overdue} overdue\n"
    )
    return {"eco_states": dict(eco), "eco_overdue": overdue, "seed_s": round(built + written, 1)}


def _wait_for_stream(stack: Any, at_least: int, timeout: float = 120) -> None:
    """Until the messenger's stream poller has read at least `at_least` records (it filters tickets' own out) and
    then none for half a second: caught up, so that what is timed next does not wait behind them."""
    deadline, last, quiet = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        read = sum(p.counts["records"] for p in stack.stream_pollers)
        if read != last:
            last, quiet = read, time.monotonic()
        elif read >= at_least and time.monotonic() - quiet >= 0.5:
            return
        time.sleep(0.1)


def fidelity(http: Http, aws: Aws, seeded: Ticket, out: Any) -> dict[str, Any]:
    """One complaint through the real pipeline (intake, classify, route): does a seeded ticket dispatched to the same
    agency carry the same attributes, and the same index keys?"""
    status, receipt, _ = http.call("POST", "/complaints", {"text": TEXTS[0], "contact": {"phone": "13800000000"}})
    assert status == 201, receipt
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        item = aws.table.get_item(Key={"pk": f"ticket#{receipt['id']}"}, ConsistentRead=True)["Item"]
        if item["status"] in ("dispatched", "triage"):
            break
        time.sleep(0.1)
    twin = aws.table.get_item(Key={"pk": f"ticket#{seeded.id}"}, ConsistentRead=True)["Item"]
    keys = ("agency", "agency_status", "due", "due_pk")
    real, ours = set(item), set(twin)
    same = real == ours and all(item.get(k) == twin.get(k) for k in keys)
    out.write(
        f"a ticket sent through POST /complaints: {item['agency_status']}, due {item.get('due')}; a seeded one: "
        f"{twin['agency_status']}, due {twin.get('due')}: "
        + (
            "the same attributes and index keys"
            if same
            else f"only real {sorted(real - ours)}, only seeded {sorted(ours - real)}"
        )  # fmt: skip
        + "\n"
    )
    return {"seeded_like_dispatched": same, "real_only": sorted(real - ours), "seeded_only": sorted(ours - real)}


def direct_queries(aws: Aws, n: int) -> dict[str, Any]:
    """moto's own time for the adapter's first-page queries, from this process's own client (no gateway, no
    handler): what the emulated DynamoDB costs of an inbox request."""
    times: dict[str, list[float]] = {"inbox": [], "inbox_status": []}
    for _ in range(n):
        for index, key in (("inbox", ("agency", "eco")), ("inbox_status", ("agency_status", "eco#accepted"))):
            started = time.perf_counter()
            aws.table.query(
                IndexName=index,
                KeyConditionExpression="#k = :k",
                ExpressionAttributeNames={"#k": key[0]},
                ExpressionAttributeValues={":k": key[1]},
                ScanIndexForward=False,
                Limit=20,
            )
            times[index].append(time.perf_counter() - started)
    return {index: spread(t) for index, t in times.items()}


INBOX_KINDS = ("first", "next", "status", "overdue", "me")


def time_inbox(http: Http, token: str, calls: DynamoCalls, rounds: int) -> dict[str, Any]:
    """`rounds` of each kind, interleaved (so that anything slow in the background hits every kind alike)."""
    times: dict[str, list[float]] = {k: [] for k in INBOX_KINDS}
    queries: dict[str, list[int]] = {k: [] for k in INBOX_KINDS}
    status, first, _ = http.call("GET", "/agency/tickets", token=token)
    assert status == 200 and len(first["tickets"]) == 20 and first["next_cursor"], first
    cursor = first["next_cursor"]
    seen_next: set[str] = set()
    before_all = calls.snapshot()
    for round_no in range(rounds + 3):  # the first three are a warm-up
        for kind in INBOX_KINDS:
            path = {
                "first": "/agency/tickets",
                "next": f"/agency/tickets?cursor={cursor}",
                "status": "/agency/tickets?status=accepted",
                "overdue": "/agency/tickets?overdue=true",
                "me": "/agency/me",
            }[kind]
            before = calls.snapshot()
            status, answer, seconds = http.call("GET", path, token=token)
            used = calls.snapshot() - before
            assert status == 200, (path, answer)
            _check_page(kind, answer, seen_next)
            if kind == "next":
                cursor = answer["next_cursor"] or first["next_cursor"]  # at the end: from page two again
                if not answer["next_cursor"]:
                    seen_next.clear()
            if round_no >= 3:
                times[kind].append(seconds)
                queries[kind].append(sum(n for op, n in used.items() if op.startswith("Query inbox")))
    during = calls.snapshot() - before_all
    return {"times": times, "queries": queries, "calls": dict(during)}


def _check_page(kind: str, answer: dict[str, Any], seen: set[str]) -> None:
    if kind == "me":
        assert answer["agency"]["id"] == "eco", answer
        return
    tickets = answer["tickets"]
    created = [t["created_at"] for t in tickets]
    assert created == sorted(created, reverse=True), "the inbox is not newest first"
    if kind == "status":
        assert tickets and all(t["status"] == "accepted" for t in tickets), "?status=accepted gave other states"
    if kind == "overdue":
        assert tickets and all(t["overdue"] for t in tickets), "?overdue=true gave tickets not overdue"
    if kind == "next":
        ids = {t["id"] for t in tickets}
        assert not ids & seen, "a next page repeated a ticket"
        seen |= ids


def report_inbox(result: dict[str, Any], moto: dict[str, Any], out: Any) -> dict[str, Any]:
    times, queries = result["times"], result["queries"]
    figures = {kind: spread(times[kind]) for kind in INBOX_KINDS}
    inbox = [t for kind in INBOX_KINDS[:-1] for t in times[kind]]
    everything = spread(inbox)
    base = figures["me"]
    for kind in INBOX_KINDS:
        f = figures[kind]
        per = statistics.mean(queries[kind]) if queries[kind] else 0
        label = "GET /agency/me (baseline)" if kind == "me" else f"inbox {kind}"
        out.write(
            f"{label:26} p50 {f['p50']:6.1f} ms  p95 {f['p95']:6.1f} ms  max {f['max']:6.1f} ms"
            f"  = {f['p50'] / base['p50']:4.1f}× / {f['p95'] / base['p95']:4.1f}× the baseline"
            f"  ({per:.1f} index queries each, n={f['n']})\n"
        )
    out.write(
        f"moto alone, the same first-page queries from the benchmark's own client: inbox p50 {moto['inbox']['p50']} ms,"
        f" inbox_status p50 {moto['inbox_status']['p50']} ms\n"
    )
    scans = result["calls"].get("Scan", 0)
    met = everything["p95"] <= TARGET_INBOX_P95_MS and scans == 0
    out.write(
        f"inbox, all {everything['n']} requests: p50 {everything['p50']} ms, p95 {everything['p95']} ms; "
        f"DynamoDB calls by the handlers meanwhile {dict(sorted(result['calls'].items()))}; Scan {scans} "
        f"(target p95 ≤ {TARGET_INBOX_P95_MS} ms, no Scan: {'met' if met else 'MISSED'})\n"
    )
    return {
        "inbox_ms": figures,
        "inbox_p50_ms": everything["p50"],
        "inbox_p95_ms": everything["p95"],
        "inbox_p95_vs_me": round(everything["p95"] / base["p95"], 2),
        "inbox_p50_vs_me": round(everything["p50"] / base["p50"], 2),
        "inbox_queries_per_request": {k: round(statistics.mean(v), 2) for k, v in queries.items() if v},
        "inbox_moto_query_ms": moto,
        "inbox_scans": scans,
        "inbox_target_met": met,
    }


# ---------------------------------------------------------------- 2. reply → SMS
def answer(http: Http, token: str, ticket: Any) -> float:
    """Sign for and answer a ticket; the time (perf_counter) the reply's 200 was read."""
    status, body, _ = http.call("POST", f"/agency/tickets/{ticket.id}/accept", {}, token)
    assert status == 200, body
    status, body, _ = http.call("POST", f"/agency/tickets/{ticket.id}/reply", {"text": ANSWERS[0]}, token)
    assert status == 200, body
    return time.perf_counter()


def time_reply_to_sms(http: Http, token: str, tickets: list[Any], out: Any) -> dict[str, Any]:
    latencies, missing = [], []
    for t in tickets:
        replied = answer(http, token, t)
        deadline = replied + 30
        while True:
            _, sent, _ = http.call("GET", f"/_local/outbox?ticket_no={t.ticket_no}")
            if any(e["to"] == "citizen" and e["protocol"] == "sms" for e in sent):
                latencies.append(time.perf_counter() - replied)
                break
            if time.perf_counter() > deadline:
                missing.append(t.ticket_no)
                break
            time.sleep(0.02)
    s = spread(latencies, scale=1, digits=3)
    met = s["p95"] <= TARGET_SMS_P95_S and not missing
    out.write(
        f"reply → citizen SMS in the outbox, {len(tickets)} tickets one at a time: p50 {s['p50']} s, "
        f"p95 {s['p95']} s, max {s['max']} s; none after 30 s: {len(missing)} "
        f"(target p95 ≤ {TARGET_SMS_P95_S} s: {'met' if met else 'MISSED'})\n"
    )
    return {"reply_sms_s": s, "reply_sms_missing": len(missing), "reply_sms_target_met": met}


# ---------------------------------------------------------------- 3. answers under faults
def contact_of(i: int) -> dict[str, str]:
    # A number and an address of each ticket's own, so that each message in the outbox names its ticket.
    return {"phone": f"139{i:08d}"} if i % 2 == 0 else {"email": f"citizen-{i}@example.com"}


def endpoint_of(i: int) -> str:
    contact = contact_of(i)
    return "+86" + contact["phone"] if "phone" in contact else contact["email"]


def answered_under_faults(stack: Any, http: Http, aws: Aws, token: str, tickets: list[Any], size: Size, out: Any):
    health_before = http.call("GET", "/_local/health")[1]
    status, faults, _ = http.call("POST", "/_local/faults", FAULTS)
    assert status == 200, faults
    started = time.perf_counter()
    with ThreadPoolExecutor(size.clients) as pool:
        list(pool.map(lambda t: answer(http, token, t), tickets))
    replied_s = time.perf_counter() - started
    out.write(f"{len(tickets)} tickets signed for and answered by {size.clients} clients in {replied_s:.1f} s; "
              f"faults {FAULTS}\n")  # fmt: skip
    endpoints = {endpoint_of(i): t for i, t in enumerate(tickets)}
    states, settled = _settle(stack, http, aws, tickets, endpoints, size.settle_s)
    delivered_s = time.perf_counter() - started
    http.call("POST", "/_local/faults", {})
    health = http.call("GET", "/_local/health")[1]
    per_ticket = Counter()
    for e in http.call("GET", "/_local/outbox")[1]:
        if e["to"] == "citizen" and e["endpoint"] in endpoints:
            per_ticket[endpoints[e["endpoint"]].ticket_no] += 1
    lost = [t.ticket_no for t in tickets if per_ticket[t.ticket_no] == 0]
    doubled = [no for no, n in per_ticket.items() if n > 1]
    return _report_faults(
        health_before, health, aws, len(tickets), states, lost, doubled, settled, replied_s, delivered_s, out
    )


def _settle(stack: Any, http: Http, aws: Aws, tickets: list[Any], endpoints: dict[str, Any], timeout: float):
    """Until every ticket's citizen message is in the outbox and every delivery recorded, and the messenger's
    stream poller has been idle for 2 s (so that a late second send would be seen); or the timeout."""
    deadline = time.monotonic() + timeout
    ids = [t.id for t in tickets]
    states: Counter[str] = Counter()
    while time.monotonic() < deadline:
        got = {e["endpoint"] for e in http.call("GET", "/_local/outbox")[1] if e["to"] == "citizen"}
        if len(got & set(endpoints)) == len(endpoints):
            deliveries = aws.deliveries(ids)
            states = Counter(d.get("state", "?") for t in ids for d in (deliveries.get(t) or {"-": {}}).values())
            if set(states) <= {"sent", "refused", "interrupted"} and len(deliveries) == len(ids):
                break
        time.sleep(1)
    else:
        deliveries = aws.deliveries(ids)
        states = Counter(d.get("state", "?") for t in ids for d in (deliveries.get(t) or {"-": {}}).values())
        return states, False
    last, quiet = None, time.monotonic()
    while time.monotonic() - quiet < 2 and time.monotonic() < deadline + 30:
        now = [dict(p.counts) for p in stack.stream_pollers]
        if now != last:
            last, quiet = now, time.monotonic()
        time.sleep(0.2)
    return states, True


def _report_faults(before, after, aws, answered, states, lost, doubled, settled, replied_s, delivered_s, out) -> dict:
    injected = {k: after["faults"]["injected"][k] - before["faults"]["injected"].get(k, 0) for k in FAULTS}
    stream = {
        k: sum(s[k] for s in after["streams"]) - sum(s[k] for s in before["streams"])
        for k in ("invocations", "partial_failures", "retries", "errors", "dead_lettered")
    }
    depth = aws.dead_letter_depth()
    met = not lost and not doubled and settled
    out.write(
        f"all deliveries recorded {'after' if settled else 'NOT within the timeout, stopped at'} {delivered_s:.1f} s:"
        f" {dict(states)}\n"
        f"sends failed by the faults {injected}; messenger stream: {stream}; dead-letter queue depth {depth}\n"
        f"citizens' messages: lost {len(lost)}{' ' + str(lost[:10]) if lost else ''}, doubled {len(doubled)}"
        f"{' ' + str(doubled[:10]) if doubled else ''} (target 0 and 0: {'met' if met else 'MISSED'})\n"
    )
    return {
        "faults_answered": answered,
        "faults_lost": len(lost),
        "faults_doubled": len(doubled),
        "faults_injected": injected,
        "faults_stream": stream,
        "faults_dead_letter_depth": depth,
        "faults_delivery_states": dict(states),
        "faults_reply_s": round(replied_s, 1),
        "faults_all_delivered_s": round(delivered_s, 1),
        "faults_settled": settled,
        "faults_target_met": met,
    }


# ---------------------------------------------------------------- main
def _quiet(log: Path) -> tuple[Any, Any]:
    """The stack's logs (the handlers write JSON lines to stdout) to `log`; the report to the real stdout."""
    sys.stdout.flush()
    sys.stderr.flush()
    report = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    errors = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8")
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    return report, errors


def run(size: Size, out: Any, inbox_only: bool = False) -> dict[str, Any]:

    calls = DynamoCalls()
    figures: dict[str, Any] = {"answer_loop_size": size.__dict__}
    t0 = time.perf_counter()
    with local_stack(calls) as stack:
        out.write(f"local stack at {stack.url} ready in {time.perf_counter() - t0:.1f} s\n")
        http, aws = Http(stack.url), Aws(stack)
        seeder = Seeder(load_city(ROOT / "city" / "ruian.toml"))
        figures |= seed_inbox(stack, aws, seeder, size, out)
        token = staff_token(stack.url, "eco", "bench@ruian.example")
        figures |= report_inbox(time_inbox(http, token, calls, size.rounds), direct_queries(aws, 10), out)
        if inbox_only:
            figures["answer_loop_total_s"] = round(time.perf_counter() - t0, 1)
            return figures

        phones = fresh_tickets(seeder, aws, size.sms, lambda i: {"phone": f"137{i:08d}"})
        aws.put(phones)
        figures |= fidelity(http, aws, phones[0], out)
        _wait_for_stream(stack, size.tickets + size.sms)
        figures |= time_reply_to_sms(http, token, phones, out)

        tickets = fresh_tickets(seeder, aws, size.answered, contact_of)
        aws.put(tickets)
        _wait_for_stream(stack, size.tickets + size.sms * 4 + size.answered)
        figures |= answered_under_faults(stack, http, aws, token, tickets, size, out)
        figures["answer_loop_scans_whole_run"] = calls.snapshot().get("Scan", 0)
    figures["answer_loop_total_s"] = round(time.perf_counter() - t0, 1)
    out.write(f"total {figures['answer_loop_total_s']} s; Scan calls by the handlers in the whole run: "
              f"{figures['answer_loop_scans_whole_run']}\n")  # fmt: skip
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1,000 tickets, 20 SMS, 100 under faults")
    parser.add_argument("--inbox", action="store_true", help="the inbox part alone (seeding and pages, ~3 minutes)")
    parser.add_argument("--log", type=Path, default=Path(f"/tmp/bench-answer-loop-{os.getpid()}.log"))
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    return reported(args.log, lambda out: run(size, out, inbox_only=args.inbox))


def reported(log: Path, work: Any) -> int:
    """`work(out)` with the stack's logs to `log`, its lines and then its figures as JSON on stdout; 1 if it failed."""
    out, errors = _quiet(log)
    out.write(f"stack log: {log}\n")
    try:
        figures = work(out)
    except Exception:
        traceback.print_exc(file=errors)
        errors.write(f"(the stack's log: {log})\n")
        return 1
    out.write(json.dumps(figures, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Faults injected into the local stack's real AWS calls: every accepted ticket ends in exactly one of
dispatched, triage or a dead-letter queue, and no agency hears about a ticket twice."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from complaints_tools.cli import main as complaints
from complaints_tools.redrive import dead_letter_tickets

TEXTS = [
    "上望街道薛里村有人焚烧垃圾，黑烟很大",
    "安阳街道万松路路灯坏了，晚上很黑",
    "塘下镇有工厂偷排污水，河水发黑",
    "你好，我想问一下这个事情到底怎么办才好",
]


def injected(stack, name: str) -> int:
    return stack.request("GET", "/_local/faults").json()["injected"][name]


def dead_letters(stack) -> set[str]:
    """Ticket ids in the classify and route dead-letter queues (left there)."""
    sqs = stack.aws("sqs")
    queues = ("ClassifyDeadLetterQueue", "RouteDeadLetterQueue")
    return {t for q in queues for t in dead_letter_tickets(sqs, stack.resource(q))}


def submit(stack, n: int) -> list[dict]:
    created = []
    for i in range(n):
        reply = stack.post({"text": TEXTS[i % len(TEXTS)]})
        if reply.status == 201:
            created.append(reply.json())
        else:
            assert reply.status == 503, reply.body  # refused and nothing kept: the citizen retries
    return created


def status_of(stack, ticket_id: str) -> str:
    # From the table itself: the API may answer 503 while DynamoDB faults are injected.
    key = {"pk": {"S": f"ticket#{ticket_id}"}}
    return stack.aws("dynamodb").get_item(TableName=stack.resource("TicketsTable"), Key=key)["Item"]["status"]["S"]


def settle(stack, created: list[dict], timeout: float = 60) -> dict[str, str]:
    """Wait until each ticket is dispatched, in triage or dead-lettered; {ticket id: where it ended}."""
    deadline = time.monotonic() + timeout
    while True:
        dead = dead_letters(stack)
        ends = {}
        for c in created:
            status = status_of(stack, c["id"])
            if status in ("dispatched", "triage"):
                ends[c["id"]] = status
            elif c["id"] in dead:
                ends[c["id"]] = "dead-letter"
        if len(ends) == len(created) or time.monotonic() > deadline:
            return ends


def assert_exactly_once(stack, created: list[dict], ends: dict[str, str]) -> None:
    missing = [c["id"] for c in created if c["id"] not in ends]
    assert not missing, f"{len(missing)} accepted tickets are lost: {missing[:3]}"
    numbers = {str(c["ticket_no"]): ends[c["id"]] for c in created}
    deliveries = Counter(
        (o["attributes"]["ticket_no"], o["topic"], o["endpoint"])
        for o in stack.outbox()
        if o["attributes"].get("ticket_no") in numbers
    )
    twice = [k for k, n in deliveries.items() if n > 1]
    assert not twice, f"notified twice: {twice[:3]}"
    for (no, topic, _), _n in deliveries.items():
        # A dispatched ticket reached agencies only, a triage ticket the triage desk only, a dead letter nobody.
        assert {"dispatched": "dispatch", "triage": "triage"}.get(numbers[no]) == topic, (no, topic, numbers[no])


@pytest.mark.parametrize(
    ("fault", "share"),
    [("sns_publish_fail", 0.35), ("dynamodb_throttle", 0.3)],
    ids=["sns-publish-failing-a-third-of-calls", "dynamodb-throttling"],
)
def test_a_share_of_aws_calls_failing(stack, faults, fault, share):
    faults(**{fault: share})
    created = submit(stack, 16)
    ends = settle(stack, created)
    assert injected(stack, fault) > 0
    assert_exactly_once(stack, created, ends)


def test_classify_worker_killed_in_the_middle_of_its_batch(stack, faults):
    faults(kill_classify=0.3)
    created = submit(stack, 16)
    ends = settle(stack, created)
    assert injected(stack, "kill_classify") > 0
    assert_exactly_once(stack, created, ends)
    assert stack.request("GET", "/_local/health").json()["pollers"]["ClassifyFunction"]["errors"] > 0


def test_a_poison_message_in_a_batch_is_dead_lettered_and_the_rest_go_through(stack):
    sqs = stack.aws("sqs")
    created = submit(stack, 3)
    sqs.send_message(QueueUrl=stack.resource("ClassifyQueue"), MessageBody="{not json")
    created += submit(stack, 3)
    ends = settle(stack, created)
    assert set(ends.values()) <= {"dispatched", "triage"}
    assert_exactly_once(stack, created, ends)


@pytest.fixture
def own_stack(tmp_path, stack_process):
    """A stack no other test writes to: a message another test left cycling could reach the dead-letter queue after
    the redrive and keep its alarm on, rightly, whatever this test does."""
    from complaints_tools.fake_weibo import FakeWeibo

    start_stack, stop_stack = stack_process
    weibo = FakeWeibo(samples=False).start()
    proc, client = start_stack(weibo, tmp_path / "stack.log")
    yield client
    stop_stack(proc)
    weibo.stop()


@pytest.mark.parametrize("model", ["missing", "corrupt"])
def test_a_broken_model_raises_the_alarm_loses_nothing_and_redrive_finishes_the_work(own_stack, model):
    stack = own_stack

    def faults(**kw):
        assert stack.request("POST", "/_local/faults", kw).status == 200

    faults(model=model)
    created = submit(stack, 4)
    ends = settle(stack, created, timeout=40)
    assert set(ends.values()) == {"dead-letter"} and len(ends) == len(created), ends
    health = stack.request("GET", "/_local/health").json()
    assert health["functions"]["ClassifyFunction"]["init_errors"] > 0
    assert health["alarms"]["ClassifyDeadLetterQueueAlarm"]["state"] == "ALARM"
    assert health["alarms"]["ClassifyFunctionErrorsAlarm"]["state"] == "ALARM"
    assert "cannot be loaded" in stack.log.read_text(encoding="utf-8")

    faults()  # the model is fixed (a redeploy); then the operator moves the dead letters back
    assert complaints(["redrive", "--url", stack.url, "--queue", "classify"]) == 0
    ends = settle(stack, created, timeout=30)
    assert set(ends.values()) <= {"dispatched", "triage"}, ends
    assert_exactly_once(stack, created, ends)
    assert stack.request("GET", "/_local/health").json()["alarms"]["ClassifyDeadLetterQueueAlarm"]["state"] == "OK"

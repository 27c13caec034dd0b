"""A function with a DynamoDB stream event gets the table's stream as on Lambda: filtered, in order, retried, and
dead-lettered in Lambda's format; the SES identity it sends from works. On a stack of this test's own template
(stream_stack/), whose messenger appends every event it gets to a file."""

from __future__ import annotations

import json
import re
import time
from email.mime.text import MIMEText
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "stream_stack"


@pytest.fixture(scope="module")
def streams(tmp_path_factory, weibo, stack_process):
    start_stack, stop_stack = stack_process
    folder = tmp_path_factory.mktemp("streams")
    records = folder / "records.jsonl"
    records.touch()
    proc, client = start_stack(
        weibo,
        folder / "stack.log",
        "--root",
        str(FIXTURE),
        "--parameter",
        f"RecordFile={records}",
        ready=lambda health: True,
    )
    yield client, records
    stop_stack(proc)


def _events(records: Path) -> list[dict]:
    return [json.loads(line) for line in records.read_text(encoding="utf-8").splitlines() if line.strip()]


def _keys(event: dict) -> list[str]:
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["records"]]


def _wait(what, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def _with(records: Path, pk: str) -> list[dict]:
    return [e for e in _events(records) if pk in _keys(e)]


def test_new_messages_reach_the_messenger_in_lambdas_shape_and_nothing_else_does(streams):
    client, records = streams
    ddb, table = client.aws("dynamodb"), client.resource("TicketsTable")
    ddb.put_item(TableName=table, Item={"pk": {"S": "ticket#10001"}, "status": {"S": "new"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "message#shape"}, "text": {"S": "已派单"}})
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "message#shape"}},
        UpdateExpression="SET sent_at = :t",
        ExpressionAttributeValues={":t": {"S": "2026-12-01T08:00:00Z"}},
    )
    ddb.put_item(TableName=table, Item={"pk": {"S": "message#fence"}})  # after it: the MODIFY has been read
    assert _wait(lambda: _with(records, "message#fence"))
    (event,) = _with(records, "message#shape")
    (record,) = [r for r in event["records"] if r["dynamodb"]["Keys"]["pk"]["S"] == "message#shape"]
    stream = client.request("GET", "/_local/health").json()["streams"][0]
    assert stream["function"] == "MessengerFunction"
    assert record["eventName"] == "INSERT" and record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"] == stream["stream_arn"] and "/stream/" in stream["stream_arn"]
    assert record["awsRegion"] == "us-east-1" and re.fullmatch(r"[0-9a-f]{32}", record["eventID"])
    assert record["dynamodb"]["NewImage"] == {"pk": {"S": "message#shape"}, "text": {"S": "已派单"}}
    assert record["dynamodb"]["StreamViewType"] == "NEW_IMAGE"
    assert all("ticket#10001" not in _keys(e) for e in _events(records))
    assert stream["filtered_out"] >= 2  # the ticket and the MODIFY
    assert re.fullmatch(r"[0-9a-f-]{36}", event["request_id"])


def test_a_crashing_message_is_retried_then_lands_in_the_dead_letter_queue(streams):
    client, records = streams
    ddb, sqs = client.aws("dynamodb"), client.aws("sqs")
    table, dlq = client.resource("TicketsTable"), client.resource("MessengerDeadLetterQueue")
    # One transaction: both records are in the stream together, so they are read, and sent, as one batch.
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "message#poison"}, "behaviour": {"S": "crash"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": "message#after-poison"}}}},
        ]
    )
    got = _wait(lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages"))
    assert got, "nothing reached the dead-letter queue"
    body = json.loads(got[0]["Body"])
    poison = _with(records, "message#poison")
    # The batch failed and was bisected (no retry spent); then the poison alone failed 1 + 3 times.
    assert [_keys(e) for e in poison] == [["message#poison", "message#after-poison"]] + [["message#poison"]] * 4
    sequence_number = poison[-1]["records"][0]["dynamodb"]["SequenceNumber"]
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["requestContext"]["approximateInvokeCount"] == 5
    assert body["requestContext"]["requestId"] == poison[-1]["request_id"]
    assert body["requestContext"]["functionArn"].endswith(":function:MessengerFunction")
    assert body["responseContext"]["functionError"] == "Unhandled"
    info = body["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == sequence_number
    assert info["batchSize"] == 1 and info["streamArn"].startswith(
        f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/"
    )
    assert info["shardId"].startswith("shardId-")
    assert _wait(lambda: [e for e in _with(records, "message#after-poison") if _keys(e) == ["message#after-poison"]])
    health = client.request("GET", "/_local/health").json()
    assert health["pollers"]["MessengerFunction"]["errors"] >= 5
    assert health["alarms"]["MessengerErrorsAlarm"]["state"] == "ALARM"


def test_a_partial_failure_is_retried_from_the_failed_message_in_order(streams):
    client, records = streams
    ddb, table = client.aws("dynamodb"), client.resource("TicketsTable")
    # One transaction: the three records are in the stream together, so they are read, and sent, as one batch.
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "message#p1"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": "message#p2"}, "behaviour": {"S": "fail_once"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": "message#p3"}}}},
        ]
    )
    assert _wait(lambda: len(_with(records, "message#p3")) >= 2)
    assert [_keys(e) for e in _with(records, "message#p1") + _with(records, "message#p3")[1:]] == [
        ["message#p1", "message#p2", "message#p3"],
        ["message#p2", "message#p3"],
    ]


def test_the_messenger_and_the_test_send_citizens_mail_from_the_email_identity(streams):
    client, records = streams
    ddb, table = client.aws("dynamodb"), client.resource("TicketsTable")
    ddb.put_item(
        TableName=table,
        Item={
            "pk": {"S": "message#mail"},
            "behaviour": {"S": "email"},
            "to": {"S": "citizen@example.com"},
            "ticket_no": {"N": "10042"},
            "text": {"S": "您反映的路灯问题已派至住建局"},
        },
    )
    client.aws("sesv2").send_email(
        FromEmailAddress="wenzheng@ruian.example",
        Destination={"ToAddresses": ["another@example.com"]},
        Content={"Simple": {"Subject": {"Data": "#10043 已受理"}, "Body": {"Text": {"Data": "谢谢"}}}},
    )

    raw = MIMEText("原件", "plain", "utf-8")
    raw["Subject"], raw["From"], raw["To"] = "#10044 原件", "wenzheng@ruian.example", "raw@example.com"
    client.aws("sesv2").send_email(  # SES v2's raw content: its own To header names the same address
        FromEmailAddress="wenzheng@ruian.example",
        Destination={"ToAddresses": ["raw@example.com"]},
        Content={"Raw": {"Data": raw.as_bytes()}},
    )

    def sent() -> list[dict]:
        mail = [e for e in client.outbox() if e["ticket_no"] in ("10042", "10043", "10044")]
        return mail if len(mail) >= 3 else []

    mail = _wait(sent)
    assert sorted((m["to"], m["protocol"], m["endpoint"], m["ticket_no"], m["subject"]) for m in mail) == [
        ("citizen", "email", "another@example.com", "10043", "#10043 已受理"),
        ("citizen", "email", "citizen@example.com", "10042", "#10042 您的投诉已受理"),
        ("citizen", "email", "raw@example.com", "10044", "#10044 原件"),
    ]
    assert {m["message"].strip() for m in mail} == {"您反映的路灯问题已派至住建局", "谢谢", "原件"}
    identity = client.aws("sesv2").get_email_identity(EmailIdentity="wenzheng@ruian.example")
    assert identity["VerifiedForSendingStatus"] is True


def test_a_restart_with_state_kept_delivers_the_kept_messages_again(tmp_path, weibo, stack_process):
    # The restored items are written into the new table, and each write is an INSERT in the new stream, which a
    # TRIM_HORIZON mapping reads from its start: the messenger gets every kept message again (so it must be
    # idempotent), with the item as it was saved.
    start_stack, stop_stack = stack_process
    records, state = tmp_path / "records.jsonl", tmp_path / "state"
    records.touch()
    args = ("--root", str(FIXTURE), "--parameter", f"RecordFile={records}", "--state", str(state))
    item = {"pk": {"S": "message#kept"}, "sent_at": {"S": "2026-12-01T08:00:00Z"}}
    proc, first = start_stack(weibo, tmp_path / "stack.log", *args, ready=lambda health: True)
    try:
        first.aws("dynamodb").put_item(TableName=first.resource("TicketsTable"), Item=item)
        assert _wait(lambda: _with(records, "message#kept"))
    finally:
        stop_stack(proc)
    proc, second = start_stack(weibo, tmp_path / "stack.log", *args, ready=lambda health: True)
    try:
        again = _wait(lambda: len(_with(records, "message#kept")) == 2)
    finally:
        stop_stack(proc)
    assert again
    before, after = (e["records"][0] for e in _with(records, "message#kept"))
    assert after["eventName"] == "INSERT" and after["dynamodb"]["NewImage"] == before["dynamodb"]["NewImage"] == item

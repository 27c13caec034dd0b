"""The local stack's stream poller hands a table's stream to a function as Lambda's DynamoDB event source mapping does.

moto's DynamoDB Streams in this process (mock_aws), with the emulated AWS's stream fixes applied (aws_server.py).
"""

from __future__ import annotations

import json
import re
import threading
import time

import boto3
import pytest
from moto import mock_aws

from complaints_tools.local import state
from complaints_tools.local.aws_server import _faithful_streams
from complaints_tools.local.filtering import FilterPatternError
from complaints_tools.local.resources import create_all
from complaints_tools.local.runtime import Function, StreamPoller, StreamSettings
from complaints_tools.local.template import Template

REGION = "us-east-1"
MESSENGER_FILTER = '{"eventName": ["INSERT"], "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "message#"}]}}}}'
DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:dlq"


@pytest.fixture()
def aws(aws_credentials, monkeypatch):
    # botocore sends DynamoDB Streams calls naming a stream ARN to an account endpoint
    # (123456789012.streams-ddb…), which moto's in-process mock does not serve; the local stack's moto server
    # is reached through AWS_ENDPOINT_URL and never sees that host.
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    _faithful_streams()
    with mock_aws():
        yield


def _table(view: str = "NEW_IMAGE") -> tuple[object, str]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        TableName="tickets",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )
    return ddb, ddb.describe_table(TableName="tickets")["Table"]["LatestStreamArn"]


def _dlq() -> tuple[object, str]:
    sqs = boto3.client("sqs", region_name=REGION)
    return sqs, sqs.create_queue(QueueName="dlq")["QueueUrl"]


def _put(ddb, pk: str, **attrs) -> None:
    ddb.put_item(TableName="tickets", Item={"pk": {"S": pk}, **attrs})


def _event(stream_arn: str, **props) -> dict:
    return {"Stream": stream_arn, "StartingPosition": "TRIM_HORIZON", "BatchSize": 10, **props}


class Recorder:
    """A handler that records the batches it got; `decide(records, attempt)` says what it does with one."""

    def __init__(self, decide=None) -> None:
        self.batches: list[list[dict]] = []
        self.decide = decide or (lambda records, attempt: None)
        self.lock = threading.Lock()

    def __call__(self, event, context):
        with self.lock:
            self.batches.append(event["Records"])
            attempt = len(self.batches)
        return self.decide(event["Records"], attempt)

    def keys(self) -> list[list[str]]:
        return [[r["dynamodb"]["Keys"]["pk"]["S"] for r in batch] for batch in self.batches]


def _run(recorder: Recorder, stream_arn: str, until, timeout: float = 10, **props) -> StreamPoller:
    poller = StreamPoller(
        Function("Messenger", lambda n: recorder), stream_arn, _event(stream_arn, **props), REGION, poll_s=0.02
    )
    poller.start()
    deadline = time.monotonic() + timeout
    try:
        while not until(poller) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        poller.stopping.set()
        poller.join(timeout=5)
    assert until(poller), f"gave up waiting: {poller.as_dict()}, batches {recorder.keys()}"
    return poller


def _done(n: int):
    return lambda poller: poller.counts["records"] >= n and not any(r.pending for r in poller.shards.values())


def test_records_reach_the_function_in_the_shape_lambda_gives_them(aws):
    ddb, arn = _table("NEW_IMAGE")
    _put(ddb, "message#1", body={"S": "你好"}, n={"N": "5"}, raw={"B": b"\x00\xff"})
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "tickets", "Item": {"pk": {"S": "message#2"}}}}])
    ddb.update_item(
        TableName="tickets",
        Key={"pk": {"S": "message#1"}},
        UpdateExpression="SET sent = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )
    ddb.delete_item(TableName="tickets", Key={"pk": {"S": "message#2"}})
    recorder = Recorder()
    _run(recorder, arn, until=_done(4))

    records = [r for batch in recorder.batches for r in batch]
    assert [r["eventName"] for r in records] == ["INSERT", "INSERT", "MODIFY", "REMOVE"]
    first = records[0]
    assert set(first) == {
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    }
    assert re.fullmatch(r"[0-9a-f]{32}", first["eventID"])
    assert first["eventSource"] == "aws:dynamodb" and first["awsRegion"] == REGION and first["eventSourceARN"] == arn
    d = first["dynamodb"]
    assert list(d) == [
        "ApproximateCreationDateTime",
        "Keys",
        "NewImage",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    ]
    assert isinstance(d["ApproximateCreationDateTime"], float) and d["ApproximateCreationDateTime"].is_integer()
    assert abs(d["ApproximateCreationDateTime"] - time.time()) < 60
    assert d["Keys"] == {"pk": {"S": "message#1"}}
    assert d["NewImage"] == {"pk": {"S": "message#1"}, "body": {"S": "你好"}, "n": {"N": "5"}, "raw": {"B": "AP8="}}
    assert isinstance(d["SequenceNumber"], str) and d["SequenceNumber"].isdigit()
    assert isinstance(d["SizeBytes"], int) and d["StreamViewType"] == "NEW_IMAGE"
    # A transaction's put carries its new image; a NEW_IMAGE stream's REMOVE carries none.
    assert records[1]["dynamodb"]["NewImage"] == {"pk": {"S": "message#2"}}
    assert records[2]["dynamodb"]["NewImage"]["sent"] == {"BOOL": True}
    assert "NewImage" not in records[3]["dynamodb"] and "OldImage" not in records[3]["dynamodb"]
    json.dumps(recorder.batches)  # an event is JSON, as on Lambda


def test_each_view_type_carries_its_images_only(aws):
    ddb, arn = _table("KEYS_ONLY")
    _put(ddb, "message#1", body={"S": "x"})
    recorder = Recorder()
    _run(recorder, arn, until=_done(1))
    assert set(recorder.batches[0][0]["dynamodb"]) == {
        "ApproximateCreationDateTime",
        "Keys",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    }


def test_the_filter_drops_what_it_does_not_match_and_counts_it_as_processed(aws):
    ddb, arn = _table()
    _put(ddb, "ticket#1")  # another kind of item
    _put(ddb, "message#1")
    _put(ddb, "message#1", status={"S": "sent"})  # MODIFY
    _put(ddb, "message#2")
    recorder = Recorder()
    poller = _run(recorder, arn, until=_done(4), FilterCriteria={"Filters": [{"Pattern": MESSENGER_FILTER}]})
    assert recorder.keys() == [["message#1", "message#2"]]
    assert [r["eventName"] for r in recorder.batches[0]] == ["INSERT", "INSERT"]
    assert poller.counts["filtered_out"] == 2 and poller.invocations == 1


def test_a_failing_record_is_retried_then_its_batch_goes_to_the_on_failure_destination(aws):
    ddb, arn = _table()
    sqs, dlq = _dlq()
    _put(ddb, "message#bad", fail={"BOOL": True})
    _put(ddb, "message#next")

    def decide(records, attempt):
        if any("fail" in r["dynamodb"]["NewImage"] for r in records):
            raise RuntimeError("SES refused the address")

    recorder = Recorder(decide)
    started = time.time()
    poller = _run(
        recorder,
        arn,
        until=_done(2),
        BatchSize=1,
        MaximumRetryAttempts=3,
        DestinationConfig={"OnFailure": {"Destination": DLQ_ARN}},
    )
    assert recorder.keys() == [["message#bad"]] * 4 + [["message#next"]]  # then it moved past the batch
    assert time.time() - started < 5  # the backoff is short locally: 0.1 + 0.2 + 0.4 s
    assert poller.errors == 4 and poller.counts["dead_lettered"] == 1
    (message,) = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(message["Body"])
    bad = recorder.batches[0][0]["dynamodb"]
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["requestContext"]["approximateInvokeCount"] == 4
    assert body["requestContext"]["functionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:Messenger"
    assert re.fullmatch(r"[0-9a-f-]{36}", body["requestContext"]["requestId"])
    assert body["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert body["version"] == "1.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["timestamp"])
    info = body["DDBStreamBatchInfo"]
    assert info["shardId"] == next(iter(poller.shards))
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == bad["SequenceNumber"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["approximateArrivalOfFirstRecord"])
    assert info["approximateArrivalOfLastRecord"] == info["approximateArrivalOfFirstRecord"]
    assert info["batchSize"] == 1 and info["streamArn"] == arn
    assert set(body) == {"requestContext", "responseContext", "version", "timestamp", "DDBStreamBatchInfo"}


def test_a_partial_batch_failure_is_retried_from_the_failed_sequence_number(aws):
    ddb, arn = _table()
    sqs, dlq = _dlq()
    for pk in ("message#a", "message#b", "message#c", "message#d"):
        _put(ddb, pk)

    def decide(records, attempt):
        # b fails twice, then goes through; c is named too, but the lowest sequence number is the checkpoint.
        named = [r for r in records if r["dynamodb"]["Keys"]["pk"]["S"] in ("message#b", "message#c")]
        if attempt <= 2:
            return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in named[::-1]]}
        return {"batchItemFailures": []}

    recorder = Recorder(decide)
    poller = _run(
        recorder,
        arn,
        until=_done(4),
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": DLQ_ARN}},
    )
    tail = ["message#b", "message#c", "message#d"]
    assert recorder.keys() == [["message#a", *tail], tail, tail]
    assert poller.errors == 0 and poller.counts["partial_failures"] == 2  # no function error: Errors counts none
    assert "Messages" not in sqs.receive_message(QueueUrl=dlq)


def test_without_report_batch_item_failures_an_answer_naming_failures_is_a_success(aws):
    ddb, arn = _table()
    _put(ddb, "message#a")

    def decide(records, attempt):
        return {"batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]}

    recorder = Recorder(decide)
    _run(recorder, arn, until=_done(1))
    time.sleep(0.2)
    assert recorder.keys() == [["message#a"]]


@pytest.mark.parametrize(
    "failure", [{"itemIdentifier": ""}, {"itemIdentifier": None}, {"sequenceNumber": "1"}, {"itemIdentifier": "42"}]
)
def test_an_empty_null_misnamed_or_unknown_identifier_fails_the_whole_batch(aws, failure):
    ddb, arn = _table()
    sqs, dlq = _dlq()
    _put(ddb, "message#a")
    _put(ddb, "message#b")
    recorder = Recorder(lambda records, attempt: {"batchItemFailures": [failure]})
    _run(
        recorder,
        arn,
        until=lambda p: p.counts["dead_lettered"] == 2,
        MaximumRetryAttempts=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": DLQ_ARN}},
    )
    assert recorder.keys() == [["message#a", "message#b"]] * 2
    (message,) = sqs.receive_message(QueueUrl=dlq)["Messages"]
    body = json.loads(message["Body"])
    assert body["DDBStreamBatchInfo"]["batchSize"] == 2
    assert "functionError" not in body["responseContext"]  # the function returned; it did not fail


def test_bisecting_isolates_the_failing_record_without_spending_retries(aws):
    ddb, arn = _table()
    sqs, dlq = _dlq()
    for i in range(1, 5):
        _put(ddb, f"message#{i}", **({"fail": {"BOOL": True}} if i == 3 else {}))

    def decide(records, attempt):
        if any("fail" in r["dynamodb"]["NewImage"] for r in records):
            raise RuntimeError("poison")

    recorder = Recorder(decide)
    _run(
        recorder,
        arn,
        until=_done(4),
        MaximumRetryAttempts=0,
        BisectBatchOnFunctionError=True,
        DestinationConfig={"OnFailure": {"Destination": DLQ_ARN}},
    )
    m = [f"message#{i}" for i in range(1, 5)]
    assert recorder.keys() == [m, m[:2], m[2:], m[2:3], m[3:]]
    (message,) = sqs.receive_message(QueueUrl=dlq)["Messages"]
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == recorder.batches[0][2]["dynamodb"]["SequenceNumber"]


def test_records_are_handled_in_order_one_batch_at_a_time(aws):
    ddb, arn = _table()
    for i in range(25):
        _put(ddb, f"message#{i:02}")
    running, overlapped = threading.Event(), []
    done: list[str] = []

    def decide(records, attempt):
        if running.is_set():
            overlapped.append(attempt)
        running.set()
        time.sleep(0.01)
        ok = records if attempt % 3 else records[: len(records) // 2]  # every third batch half fails
        done.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in ok)
        running.clear()
        if len(ok) < len(records):
            return {"batchItemFailures": [{"itemIdentifier": records[len(ok)]["dynamodb"]["SequenceNumber"]}]}
        return None

    recorder = Recorder(decide)
    _run(recorder, arn, until=_done(25), FunctionResponseTypes=["ReportBatchItemFailures"])
    assert done == [f"message#{i:02}" for i in range(25)]
    assert not overlapped
    assert max(len(b) for b in recorder.batches) == 10


def test_latest_starts_at_the_end_of_the_stream_when_the_poller_is_made(aws):
    ddb, arn = _table()
    _put(ddb, "message#before")
    recorder = Recorder()
    poller = StreamPoller(
        Function("Messenger", lambda n: recorder), arn, _event(arn, StartingPosition="LATEST"), REGION, poll_s=0.02
    )
    _put(ddb, "message#after")  # written before the poller's thread runs, after the mapping exists
    poller.start()
    deadline = time.monotonic() + 5
    while not recorder.batches and time.monotonic() < deadline:
        time.sleep(0.02)
    poller.stopping.set()
    poller.join(timeout=5)
    assert recorder.keys() == [["message#after"]]


def test_a_cancelled_transaction_leaves_no_records_and_the_stream_goes_on(aws):
    ddb, arn = _table()
    _put(ddb, "message#1")
    recorder = Recorder()
    poller = StreamPoller(Function("Messenger", lambda n: recorder), arn, _event(arn), REGION, poll_s=0.02)
    poller.start()
    try:
        deadline = time.monotonic() + 5
        while not recorder.batches and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(ddb.exceptions.TransactionCanceledException):
            ddb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "tickets", "Item": {"pk": {"S": "message#phantom"}}}},
                    {
                        "ConditionCheck": {
                            "TableName": "tickets",
                            "Key": {"pk": {"S": "message#1"}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        _put(ddb, "message#2")
        while len(recorder.batches) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        poller.stopping.set()
        poller.join(timeout=5)
    assert recorder.keys() == [["message#1"], ["message#2"]]


def test_a_handler_that_cannot_even_start_does_not_stop_the_poller(aws):
    ddb, arn = _table()
    _put(ddb, "message#1")
    attempts = []

    def broken_loader(number):
        attempts.append(number)
        if len(attempts) < 3:
            raise ImportError("a layer is missing")
        return Recorder()

    function = Function("Messenger", broken_loader)  # its warm start fails, and its first invocation's too
    poller = StreamPoller(function, arn, _event(arn), REGION, poll_s=0.02)
    poller.start()
    deadline = time.monotonic() + 5
    while poller.invocations - poller.errors < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    poller.stopping.set()
    poller.join(timeout=5)
    assert poller.errors >= 1 and poller.invocations - poller.errors == 1


@pytest.mark.parametrize(
    ("props", "error"),
    [
        ({"TumblingWindowInSeconds": 60}, NotImplementedError),
        ({"ParallelizationFactor": 2}, NotImplementedError),
        ({"StartingPosition": "AT_TIMESTAMP"}, ValueError),
        ({"FunctionResponseTypes": ["ReportItemFailures"]}, ValueError),
        ({"BatchSize": 0}, ValueError),
        ({"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::failures"}}}, NotImplementedError),
        (
            {"FilterCriteria": {"Filters": [{"Pattern": '{"dynamodb": {"Keys": [{"wildcard": "m*"}]}}'}]}},
            FilterPatternError,
        ),
        ({"FilterCriteria": {"Filters": [{"Pattern": '{"eventName": "INSERT"}'}]}}, FilterPatternError),
    ],
)
def test_what_the_poller_cannot_honour_is_refused_at_start(props, error):
    with pytest.raises(error):
        StreamSettings.from_event({"Stream": "arn", "StartingPosition": "TRIM_HORIZON", **props})


def test_restored_items_come_back_through_the_stream_as_inserts(aws, tmp_path):
    # A restart with state kept: state.restore writes every saved item into the new, empty table, and each write
    # is a new INSERT record, with the item as saved; a TRIM_HORIZON poller, started after the restore, gets them.
    doc = {
        "Resources": {
            "TicketsTable": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
                },
            }
        }
    }
    tpl = Template(doc, tmp_path)
    create_all(tpl)
    ddb = boto3.client("dynamodb", region_name=REGION)
    table = tpl.physical["TicketsTable"]["Ref"]
    ddb.put_item(TableName=table, Item={"pk": {"S": "message#1"}, "status": {"S": "sent"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "ticket#1"}})
    state.save(tpl, tmp_path / "state")
    ddb.delete_table(TableName=table)

    restarted = Template(doc, tmp_path)
    create_all(restarted)
    assert state.restore(restarted, tmp_path / "state") == 2
    recorder = Recorder()
    _run(
        recorder,
        restarted.physical["TicketsTable"]["StreamArn"],
        until=_done(2),
        FilterCriteria={"Filters": [{"Pattern": MESSENGER_FILTER}]},
    )
    (record,) = recorder.batches[0]
    assert record["eventName"] == "INSERT"
    assert record["dynamodb"]["NewImage"] == {"pk": {"S": "message#1"}, "status": {"S": "sent"}}


def _streams_client_and_shard(arn: str) -> tuple[object, str]:
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    return streams, streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]


def test_shard_iterators_expire_after_fifteen_minutes(aws, monkeypatch):
    from complaints_tools.local import aws_server

    ddb, arn = _table()
    streams, shard = _streams_client_and_shard(arn)
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    monkeypatch.setattr(aws_server, "ITERATOR_LIFETIME_S", -1)  # as if 15 minutes had gone by
    with pytest.raises(streams.exceptions.ExpiredIteratorException):
        streams.get_records(ShardIterator=iterator["ShardIterator"])


def test_records_older_than_a_day_are_trimmed_and_the_poller_reads_on_from_the_oldest_left(aws):
    import datetime

    from moto.dynamodb.models import dynamodb_backends

    ddb, arn = _table()
    streams, shard = _streams_client_and_shard(arn)
    _put(ddb, "message#old")
    stale = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    (old,) = dynamodb_backends["123456789012"][REGION].get_table("tickets").stream_shard.items
    old.record["dynamodb"]["ApproximateCreationDateTime"] -= datetime.timedelta(hours=25)
    _put(ddb, "message#new")  # the next write trims what is older than 24 hours
    with pytest.raises(streams.exceptions.TrimmedDataAccessException):
        streams.get_records(ShardIterator=stale)

    recorder = Recorder()
    poller = StreamPoller(Function("Messenger", lambda n: recorder), arn, _event(arn), REGION, poll_s=0.02)
    (reader,) = poller.shards.values()
    reader.iterator = stale  # as a reader that fell a day behind
    poller.start()
    deadline = time.monotonic() + 5
    while not recorder.batches and time.monotonic() < deadline:
        time.sleep(0.02)
    poller.stopping.set()
    poller.join(timeout=5)
    assert recorder.keys() == [["message#new"]]

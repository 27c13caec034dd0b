"""The local stack's SQS poller hands batches to a function as Lambda's event source mapping does."""

from __future__ import annotations

import time

import boto3
from moto import mock_aws

from complaints_tools.local.runtime import Function, QueuePoller


def _queue(sqs, n: int) -> tuple[str, str]:
    url = sqs.create_queue(QueueName="work", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for i in range(n):
        sqs.send_message(QueueUrl=url, MessageBody=f"job {i}")
    return url, arn


def _visible(sqs, url: str) -> list[str]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return sorted(m["Body"] for m in got.get("Messages", []))


def test_done_records_are_deleted_and_failed_ones_come_back_after_the_retry_delay(aws_credentials):
    with mock_aws():
        sqs = boto3.client("sqs")
        url, arn = _queue(sqs, 3)

        def handler(event, context):
            return {
                "batchItemFailures": [
                    {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "job 1"
                ]
            }

        poller = QueuePoller(Function("Worker", lambda n: handler), url, arn, 10, "us-east-1", retry_after=1)
        assert poller.poll_once() == 3
        assert _visible(sqs, url) == []  # the failed one waits its retry delay, not the queue's 30 s
        time.sleep(1.5)
        assert _visible(sqs, url) == ["job 1"]


def test_a_crashed_invocation_returns_its_whole_batch(aws_credentials):
    with mock_aws():
        sqs = boto3.client("sqs")
        url, arn = _queue(sqs, 2)

        def handler(event, context):
            raise RuntimeError("out of memory")

        poller = QueuePoller(Function("Worker", lambda n: handler), url, arn, 10, "us-east-1", retry_after=1)
        poller.poll_once()
        assert poller.errors == 1
        time.sleep(1.5)
        assert _visible(sqs, url) == ["job 0", "job 1"]


def test_a_batch_still_running_is_not_handed_to_another_poller(aws_credentials):
    # Under load a batch may run longer than the retry delay; it must stay invisible while it runs, as it does
    # on Lambda (the queue's visibility timeout is six times the function's timeout).
    with mock_aws():
        sqs = boto3.client("sqs")
        url, arn = _queue(sqs, 2)
        seen_by_other: list[list[str]] = []

        def slow_handler(event, context):
            time.sleep(1.5)
            seen_by_other.append(_visible(sqs, url))
            return {"batchItemFailures": []}

        poller = QueuePoller(Function("Worker", lambda n: slow_handler), url, arn, 10, "us-east-1", retry_after=1)
        assert poller.poll_once() == 2
        assert seen_by_other == [[]]
        assert _visible(sqs, url) == []

"""The SQS handler reports failed records one by one, so one bad message does not hold back the batch."""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger

from complaints.queue_worker import s3_object_batch_handler, ticket_batch_handler


class Context:
    function_name = "classify"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:classify"
    aws_request_id = "req-1"


def record(message_id: str, body: str) -> dict:
    return {
        "messageId": message_id,
        "receiptHandle": message_id,
        "body": body,
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1",
    }


def test_only_the_failing_records_are_reported():
    seen = []

    def step(ticket_id: str) -> None:
        if ticket_id == "boom":
            raise RuntimeError("downstream failed")
        seen.append(ticket_id)

    handler = ticket_batch_handler(step, Logger(service="test"))
    event = {
        "Records": [
            record("1", json.dumps({"ticket_id": "a"})),
            record("2", "not json"),
            record("3", json.dumps({"ticket_id": "boom"})),
            record("4", json.dumps({"ticket_id": "b"})),
        ]
    }
    result = handler(event, Context())
    assert {f["itemIdentifier"] for f in result["batchItemFailures"]} == {"2", "3"}
    assert seen == ["a", "b"]


def s3_event(key: str, event_name: str = "ObjectCreated:Post") -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": event_name,
                    "s3": {"bucket": {"name": "photos"}, "object": {"key": key, "size": 10}},
                }
            ]
        }
    )


def test_s3_notifications_give_the_decoded_keys_and_the_test_event_is_dropped():
    seen = []

    def step(key: str) -> None:
        if key.endswith("boom"):
            raise RuntimeError("could not process")
        seen.append(key)

    handler = s3_object_batch_handler(step, Logger(service="test"))
    event = {
        "Records": [
            record("1", json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "photos"})),
            record("2", s3_event("originals/a%2Bb+c")),
            record("3", s3_event("originals/boom")),
            record("4", s3_event("originals/gone", "ObjectRemoved:Delete")),
            record("5", "not json"),
        ]
    }
    result = handler(event, Context())
    assert {f["itemIdentifier"] for f in result["batchItemFailures"]} == {"3", "5"}
    assert seen == ["originals/a+b c"]


def test_a_log_line_after_a_ticket_s_record_does_not_carry_that_ticket_s_id(capsys):
    logger = Logger(service="test-ticket-keys")
    handler = ticket_batch_handler(lambda ticket_id: logger.info("working"), logger)
    handler({"Records": [record("1", json.dumps({"ticket_id": "a" * 32}))]}, Context())
    logger.info("between invocations")
    working, between = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert working["ticket_id"] == "a" * 32
    assert "ticket_id" not in between

"""The SQS handler reports failed records one by one, so one bad message does not hold back the batch."""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger

from complaints.queue_worker import ticket_batch_handler


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

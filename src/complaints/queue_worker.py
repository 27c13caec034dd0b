"""The SQS side of the queue-driven functions: partial batch failures, one message's failure never sinks the batch.

classify and route take one ticket id per message; photo takes S3 `ObjectCreated` notifications.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def ticket_batch_handler(step: Callable[[str], Any], logger: Logger) -> Callable[[dict, Any], dict]:
    """See `batch_handler`: each message body is `{"ticket_id": ...}`."""

    def record_handler(record: SQSRecord) -> None:
        ticket_id = json.loads(record.body)["ticket_id"]
        logger.append_keys(ticket_id=ticket_id)
        try:
            step(ticket_id)
        finally:
            # The next record's lines, and the next invocation's in this environment, are about other tickets.
            logger.remove_keys(["ticket_id"])

    return batch_handler(record_handler, logger)


def s3_object_batch_handler(step: Callable[[str], Any], logger: Logger) -> Callable[[dict, Any], dict]:
    """See `batch_handler`: each message is an S3 event notification; `step(key)` runs for each object created.

    S3 sends an `s3:TestEvent` when the notification is configured: it is acknowledged and dropped.
    """

    def record_handler(record: SQSRecord) -> None:
        body = json.loads(record.body)
        if body.get("Event") == "s3:TestEvent":
            return
        for s3_record in S3Event(body).records:
            if s3_record.event_name.startswith("ObjectCreated:"):
                step(unquote_plus(s3_record.s3.get_object.key))

    return batch_handler(record_handler, logger)


def batch_handler(record_handler: Callable[[SQSRecord], None], logger: Logger) -> Callable[[dict, Any], dict]:
    """A Lambda handler running `record_handler` for each SQS record.

    A record that raises is reported back to SQS alone (ReportBatchItemFailures) and retried; after the queue's
    maxReceiveCount it lands in the dead-letter queue, whose alarm calls an operator. A malformed body fails the
    same way: it is not a message we can drop silently.
    """
    processor = BatchProcessor(event_type=EventType.SQS)

    @logger.inject_lambda_context
    def lambda_handler(event: dict, context: Any) -> dict:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return lambda_handler

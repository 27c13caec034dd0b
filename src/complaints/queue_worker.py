"""The SQS side of the classify and route functions: one ticket id per message, partial batch failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def ticket_batch_handler(step: Callable[[str], Any], logger: Logger) -> Callable[[dict, Any], dict]:
    """A Lambda handler running `step(ticket_id)` for each record.

    A record that raises is reported back to SQS alone (ReportBatchItemFailures) and retried; after the queue's
    maxReceiveCount it lands in the dead-letter queue, whose alarm calls an operator. A malformed body fails the
    same way: it is not a ticket we can drop silently.
    """
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: SQSRecord) -> None:
        ticket_id = json.loads(record.body)["ticket_id"]
        logger.append_keys(ticket_id=ticket_id)
        step(ticket_id)

    @logger.inject_lambda_context
    def lambda_handler(event: dict, context: Any) -> dict:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return lambda_handler

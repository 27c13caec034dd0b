"""Route: publish each classified ticket to the agencies (SNS `dispatch`) or to human triage (SNS `triage`).

Partial batch failures go back to SQS; a ticket that keeps failing ends in the dead-letter queue with an alarm.
"""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from complaints import wiring

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)
desk = wiring.route_desk()


def record_handler(record: SQSRecord) -> None:
    ticket_id = json.loads(record.body)["ticket_id"]
    logger.append_keys(ticket_id=ticket_id)
    desk.route(ticket_id)


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)

"""The SQS side of the queue-driven functions: partial batch failures, one message's failure never sinks the batch.

classify and route take one ticket id per message; photo takes S3 `ObjectCreated` notifications. Each body is
parsed into its pydantic model by Powertools' BatchProcessor: a body that is not one fails its record alone.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, Literal
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import (
    DynamoDBStreamChangedRecordModel,
    DynamoDBStreamRecordModel,
    SqsRecordModel,
)
from pydantic import BaseModel, Field, Json


class TicketMessage(BaseModel):
    """What the classify and route queues carry (see WorkQueue.send)."""

    ticket_id: str = Field(min_length=1)


class S3Object(BaseModel):
    key: str


class S3Entity(BaseModel):
    object: S3Object


class S3Record(BaseModel):
    # Only what the photo function reads; the rest of S3's record (region, time, requester) is not ours to check.
    eventName: str
    s3: S3Entity


class S3Notification(BaseModel):
    Records: list[S3Record]


class S3TestEvent(BaseModel):
    """Sent once when the bucket's notification is configured."""

    Event: Literal["s3:TestEvent"]


class _QueueRecord(SqsRecordModel):
    # SQS's own bookkeeping (receive count, timestamps) is not read here, and a redrive or the local stack may
    # leave it out: only the body is held to a shape.
    attributes: dict[str, Any] = Field(default_factory=dict)  # type: ignore[assignment]


class TicketRecord(_QueueRecord):
    body: Json[TicketMessage]  # type: ignore[assignment]


class S3NotificationRecord(_QueueRecord):
    body: Json[S3TestEvent | S3Notification]  # type: ignore[assignment]


def ticket_batch_handler(step: Callable[[str], Any], logger: Logger) -> Callable[[dict, Any], dict]:
    """See `batch_handler`: each message body is `{"ticket_id": ...}`."""

    def record_handler(record: TicketRecord) -> None:
        with _about_ticket(logger, record.body.ticket_id):
            step(record.body.ticket_id)

    return batch_handler(record_handler, TicketRecord, logger)


@contextmanager
def _about_ticket(logger: Logger, ticket_id: str):
    """The record's log lines carry its ticket id; the next record's, and the next invocation's in this
    environment, are about other tickets."""
    logger.append_keys(ticket_id=ticket_id)
    try:
        yield
    finally:
        logger.remove_keys(["ticket_id"])


def s3_object_batch_handler(step: Callable[[str], Any], logger: Logger) -> Callable[[dict, Any], dict]:
    """See `batch_handler`: each message is an S3 event notification; `step(key)` runs for each object created.

    S3 sends an `s3:TestEvent` when the notification is configured: it is acknowledged and dropped.
    """

    def record_handler(record: S3NotificationRecord) -> None:
        if isinstance(record.body, S3TestEvent):
            return
        for s3_record in record.body.Records:
            if s3_record.eventName.startswith("ObjectCreated:"):
                step(unquote_plus(s3_record.s3.object.key))

    return batch_handler(record_handler, S3NotificationRecord, logger)


class _OutboxChange(DynamoDBStreamChangedRecordModel):
    NewImage: dict[str, Any]  # type: ignore[assignment]


# A stream record with its new image: an outbox message's, or a ticket's (the board projection's).
class OutboxRecord(DynamoDBStreamRecordModel):
    dynamodb: _OutboxChange  # type: ignore[assignment]


def outbox_stream_handler(step: Callable[[Any], Any], logger: Logger) -> Callable[[dict, Any], dict]:
    """A Lambda handler for the tickets table's stream, filtered to new outbox items (template.yaml's
    FilterCriteria): `step(message)` runs for each, an OutboxMessage. A record that raises is reported alone
    (ReportBatchItemFailures, by its sequence number); the stream retries from it, then after MaximumRetryAttempts
    sends it to the on-failure destination, whose alarm calls an operator."""
    from decimal import Decimal

    from complaints.domain.outbox import from_stored

    def record_handler(record: OutboxRecord) -> None:
        image = {k: (int(v) if isinstance(v, Decimal) else v) for k, v in record.dynamodb.NewImage.items()}
        message = from_stored(image)
        with _about_ticket(logger, message.ticket_id):
            step(message)

    return batch_handler(record_handler, OutboxRecord, logger, EventType.DynamoDBStreams)


def ticket_stream_handler(step: Callable[[dict[str, Any]], Any], logger: Logger) -> Callable[[dict, Any], dict]:
    """A Lambda handler for the tickets table's stream, filtered to changed ticket items (template.yaml's
    FilterCriteria): `step(image)` runs for each new image, in stream order. A record that raises is reported
    alone and retried from, as in `outbox_stream_handler`."""

    def record_handler(record: OutboxRecord) -> None:
        image = record.dynamodb.NewImage
        with _about_ticket(logger, str(image.get("id", ""))):
            step(image)

    return batch_handler(record_handler, OutboxRecord, logger, EventType.DynamoDBStreams)


def batch_handler(
    record_handler: Callable[[Any], None],
    model: type[BaseModel],
    logger: Logger,
    event_type: EventType = EventType.SQS,
) -> Callable[[dict, Any], dict]:
    """A Lambda handler running `record_handler` for each record (SQS, or a stream's), parsed into `model`.

    A record that raises is reported back to SQS alone (ReportBatchItemFailures) and retried; after the queue's
    maxReceiveCount it lands in the dead-letter queue, whose alarm calls an operator. A malformed body fails the
    same way: it is not a message we can drop silently.
    """
    processor = BatchProcessor(event_type=event_type, model=model)

    @logger.inject_lambda_context
    def lambda_handler(event: dict, context: Any) -> dict:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return lambda_handler

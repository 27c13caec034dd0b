"""Car moving's notifier: the SMS and the voice call to the owner of the car in the way, once each, for every new
owner notice (`carmove#notice#` items) on the tickets table's stream.

The only function that may open an owner's sealed phone (kms:Decrypt on VehicleKey).
"""

from __future__ import annotations

from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.batch import EventType

from complaints import logs, wiring
from complaints.queue_worker import OutboxRecord, batch_handler

logger = logs.logger()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
notices = wiring.car_moving_notice()


def record_handler(record: OutboxRecord) -> None:
    # A record that raises is reported alone (ReportBatchItemFailures); the stream retries from it, then sends it
    # to the on-failure destination.
    notices.deliver(record.dynamodb.NewImage)


lambda_handler = batch_handler(record_handler, OutboxRecord, logger, EventType.DynamoDBStreams)

"""Messenger: sends what moves put in the outbox — to citizens (SMS, e-mail, a Weibo comment) and to agencies and
the triage desk (SNS) — once per delivery. Triggered by the tickets table's stream, new outbox items only.

The only function that may open citizens' sealed contact details (kms:Decrypt on ContactKey).
"""

from __future__ import annotations

from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from complaints import logs, wiring
from complaints.queue_worker import outbox_stream_handler

logger = logs.logger()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
messenger = wiring.messenger()
lambda_handler = outbox_stream_handler(messenger.deliver, logger)

"""Route: publish each classified ticket to the agencies (SNS `dispatch`) or to human triage (SNS `triage`)."""

from __future__ import annotations

from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from complaints import logs, wiring
from complaints.queue_worker import ticket_batch_handler

logger = logs.logger()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
dispatch = wiring.dispatch()
lambda_handler = ticket_batch_handler(dispatch.route, logger)

"""Board projection: keeps the public board (BoardTable) up to date from the tickets table's stream — changed
ticket items once they are on the board (template.yaml's FilterCriteria). Each record's new image is applied as a
whole; an older one than the board holds changes nothing, so retries and redeliveries are harmless.
"""

from __future__ import annotations

from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from complaints import logs, wiring
from complaints.queue_worker import ticket_stream_handler

logger = logs.logger()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
projection = wiring.board_projection()
lambda_handler = ticket_stream_handler(projection.apply, logger)

"""Classify: for each queued ticket, predict category and district, then queue it for routing.

The model and jieba load once, at Lambda init.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from complaints import wiring
from complaints.queue_worker import ticket_batch_handler

logger = Logger()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
desk = wiring.classify_desk()
lambda_handler = ticket_batch_handler(desk.classify, logger)

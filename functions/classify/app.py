"""Classify: for each queued ticket, predict the kind of problem and the district, then queue it for routing.

The model and the tokenizer's word list load once, at Lambda init.
"""

from __future__ import annotations

from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from complaints import logs, wiring
from complaints.queue_worker import ticket_batch_handler

logger = logs.logger()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
classification = wiring.classification()
# One prediction at init, so that everything built lazily on first use is in the SnapStart snapshot too.
classification.classifier.predict("瑞安市上望街道有人焚烧垃圾")
lambda_handler = ticket_batch_handler(classification.classify, logger)

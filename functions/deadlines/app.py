"""Deadlines: on a schedule (EventBridge), act on what fell due — reminders (催办), escalations (督办), answers left
unrated past their window closed (办结). See complaints.domain.desk.due."""

from __future__ import annotations

from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from complaints import logs, wiring

logger = logs.logger()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
deadlines = wiring.deadlines()


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    run = deadlines.run()
    if run.errors:
        # The run as a whole failed for these tickets: Lambda's Errors metric (and its alarm) says so; the next run
        # tries them again, since nothing about them changed.
        raise RuntimeError(f"{len(run.errors)} due tickets could not be handled: {', '.join(run.errors[:5])}")
    return run.as_dict()

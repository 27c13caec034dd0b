"""Weibo: every scheduled run turns new @-mentions into tickets and comments each one's ticket number.

Thin by design: the work is `WeiboChannel.poll` (complaints.domain.weibo_channel); this file only turns its
outcome into metrics. `WeiboTokenErrors` feeds the alarm in template.yaml that calls an operator to renew the token.
"""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from complaints import logs, wiring

logger = logs.logger()
metrics = Metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
channel = wiring.weibo_channel()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    outcome = channel.poll()
    # Zeros are published too, so the alarms see a value every run.
    metrics.add_metric("WeiboTicketsCreated", MetricUnit.Count, outcome.created)
    metrics.add_metric("WeiboRepliesPosted", MetricUnit.Count, outcome.replies_sent)
    metrics.add_metric("WeiboMentionsMalformed", MetricUnit.Count, outcome.malformed)
    metrics.add_metric("WeiboRepliesAbandoned", MetricUnit.Count, outcome.replies_abandoned)
    metrics.add_metric("WeiboTokenErrors", MetricUnit.Count, int(outcome.stopped == "token_invalid"))
    metrics.add_metric("WeiboRateLimited", MetricUnit.Count, int(outcome.stopped == "rate_limited"))
    logger.info("Weibo poll done", extra={"outcome": outcome.as_dict()})
    return outcome.as_dict()

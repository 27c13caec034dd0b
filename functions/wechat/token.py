"""The one refresher of WeChat's access token (WechatTokenFunction, on a schedule): renews it well before it
expires, so no caller ever fetches one itself but after WeChat rejects it (domain/wechat_token.py)."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from complaints import logs, wiring

logger = logs.logger()
metrics = Metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
tokens = wiring.wechat_tokens()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    renewed = tokens.refresh_if_due()
    # Zeros too, so the alarm on failures sees a value every run.
    metrics.add_metric("WechatTokenRenewed", MetricUnit.Count, int(renewed))
    logger.info("WeChat token checked", extra={"renewed": renewed})
    return {"renewed": renewed}

"""WeChat drafts become tickets: new `wechat#draft#` items from the tickets table's stream (WechatDraftsFunction).

Thin by design: the work is desk/wechat_drafts.py. A record that fails is retried by the stream and then sent to
WechatDraftsDeadLetterQueue, whose alarm calls an operator.
"""

from __future__ import annotations

from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from complaints import logs, wiring
from complaints.adapters.wechat.dynamo import draft_of
from complaints.queue_worker import ticket_stream_handler

logger = logs.logger()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
drafts = wiring.wechat_drafts()


def _make_ticket(image: dict) -> None:
    drafts.make_ticket(draft_of(image))


lambda_handler = ticket_stream_handler(_make_ticket, logger)

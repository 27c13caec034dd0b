"""WeChat's server URL for the official account: `GET` (the server check) and `POST /wechat` (users' messages).

Thin by design: the protocol is complaints.wechat_endpoint, the conversation desk/wechat_conversation.py, each
delivery once desk/wechat_inbox.py. It answers within WeChat's 5 seconds; what is slow (the picture, the ticket,
the ticket-number message) happens after, in drafts.py and the messenger. In the same code folder: drafts.py
(WechatDraftsFunction) and token.py (WechatTokenFunction).

The event is never logged: WeChat's query string carries the sender's OpenID.
"""

from __future__ import annotations

from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from complaints import logs, wiring

logger = logs.logger()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
endpoint = wiring.wechat_endpoint()


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return endpoint.handle(event)

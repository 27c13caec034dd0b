"""The messenger's `wechat` delivery: how a message reaches a citizen who wrote in WeChat.

Inside WeChat's 48 hours after the user's last message (their `last_seen`), a customer-service text. Outside it,
or when WeChat says so (45015), a template message if the account has one configured (`template_id`), else an SMS
if the citizen gave a phone, else the delivery is refused (and recorded so). The phone fallback is part of this one
delivery, so whichever way it goes out, it goes out once (the messenger's claim → send → record).

A rate limit (WechatRateLimited) or WeChat being down (WechatUnavailable) is raised: the messenger releases the
claim and the stream retries the record with backoff. Any other refusal is UndeliverableContact: recorded, not retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from complaints.domain.errors import UndeliverableContact
from complaints.domain.wechat import WechatApi, WechatOutsideWindow, WechatRefused

WINDOW_S = 48 * 3600
# A message sent this close to the window's end may arrive after it: use the fallback instead.
WINDOW_MARGIN_S = 600


@dataclass
class WechatDelivery:
    api: WechatApi
    tokens: Any  # domain.wechat_token.TokenKeeper: .call(fn(access_token))
    last_seen: Callable[[str], float | None]  # epoch seconds of the user's last message, by OpenID
    send_sms: Callable[[str, str, int], str]  # (phone, text, ticket_no) -> message id
    template_id: str | None = None
    clock: Callable[[], float] = time.time

    def send(
        self,
        openid: str,
        text: str,
        ticket_no: int,
        template_data: dict[str, str],
        link: str | None,
        phone: str | None,
        sms_text: str | None,
    ) -> str:
        """Send one message; what went out (`custom`, `template`, `sms:<id>`). `sms_text` None: no SMS fallback."""
        seen = self.last_seen(openid)
        if seen is not None and self.clock() - seen < WINDOW_S - WINDOW_MARGIN_S:
            try:
                self.tokens.call(lambda token: self.api.send_text(token, openid, text))
                return "custom"
            except WechatOutsideWindow:
                pass  # WeChat's clock says the window is over: fall back as for any message outside it
            except WechatRefused as e:
                raise UndeliverableContact(f"WeChat refused the message (errcode {e.code})") from None
        if self.template_id:
            try:
                self.tokens.call(
                    lambda token: self.api.send_template(token, openid, self.template_id, template_data, link)
                )
                return "template"
            except WechatRefused as e:
                if not (phone and sms_text):
                    raise UndeliverableContact(f"WeChat refused the template message (errcode {e.code})") from None
        if phone and sms_text:
            return "sms:" + self.send_sms(phone, sms_text, ticket_no)
        raise UndeliverableContact("outside WeChat's 48-hour window, with no template message and no phone")

"""A WeChat draft becomes a ticket, once: through the same intake as the API, after WeChat has had its answer.

The endpoint stored the draft (desk/wechat_inbox.py); the tickets table's stream brings it here
(WechatDraftsFunction). Its ticket id was chosen when the message came, so a record delivered again finds the
ticket it made before instead of making a second. The picture is downloaded now: a `MediaId` through WeChat's
media API with the access token, a `PicUrl` through the outbound-fetch helper; both go through the same photo
checks as the app's. A picture that cannot be had, or that the checks refuse, is left out: the complaint is still
made, without it. The ticket is written with its `received` message (the ticket number, which the messenger sends
in WeChat), and the user's item remembers the ticket for `查询`.

WeChat being down or rate-limiting raises: the stream retries the record, and after its retries the record goes to
the dead-letter queue, whose alarm calls an operator.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, replace
from typing import Any, Protocol

from complaints.domain.desk.intake import Intake, NewComplaint
from complaints.domain.desk.wechat_conversation import WechatUser, remember_ticket
from complaints.domain.desk.wechat_inbox import UserChanged
from complaints.domain.errors import PhotoRejected, PhotoTooLarge
from complaints.domain.tickets import Location
from complaints.domain.wechat import WechatApi, WechatRateLimited, WechatRefused, WechatUnavailable

log = logging.getLogger("complaints")

MAX_TEXT_CHARS = 5000  # as the API's
MAX_ATTEMPTS = 3


class WechatUsers(Protocol):
    def user(self, user_key: str) -> WechatUser: ...

    def save_user(self, user: WechatUser) -> None:
        """Store the user, expecting `user.version`; UserChanged if it moved."""


@dataclass
class WechatDrafts:
    intake: Intake
    api: WechatApi
    tokens: Any  # domain.wechat_token.TokenKeeper
    users: WechatUsers

    def make_ticket(self, draft: dict[str, Any]) -> int:
        """The draft's ticket number, making the ticket if it is not made yet."""
        ticket_id = draft["ticket_id"]
        ticket = self.intake.tickets.get(ticket_id)
        ticket_no = self._submit(draft) if ticket is None else ticket.ticket_no
        self._remember(draft["user_key"], ticket_no, ticket_id)
        return ticket_no

    def _submit(self, draft: dict[str, Any]) -> int:
        location = draft.get("location")
        complaint = NewComplaint(
            text=str(draft["text"])[:MAX_TEXT_CHARS],
            channel="wechat",
            location=Location(lat=float(location["lat"]), lng=float(location["lng"])) if location else None,
            contact_sealed=draft["contact_sealed"],
            ticket_id=draft["ticket_id"],
            tell_ticket_no=True,
        )
        photo = self._picture(draft.get("picture"), draft["ticket_id"])
        if photo is not None:
            try:
                with_photo = replace(complaint, photo_base64=base64.b64encode(photo).decode("ascii"))
                return self.intake.submit(with_photo).ticket_no
            except (PhotoRejected, PhotoTooLarge) as e:
                log.info("WeChat picture refused; the complaint goes without it", extra={"reason": str(e)})
        return self.intake.submit(complaint).ticket_no

    def _picture(self, picture: dict[str, Any] | None, ticket_id: str) -> bytes | None:
        if not picture:
            return None
        try:
            if picture.get("media_id"):
                return self.tokens.call(lambda token: self.api.media(token, picture["media_id"]))
            if picture.get("pic_url"):
                return self.api.picture(picture["pic_url"])
        except (WechatRateLimited, WechatUnavailable):
            raise  # the stream tries again later
        except (WechatRefused, ValueError, OSError) as e:
            log.warning(
                "WeChat picture not fetched; the complaint goes without it",
                extra={"ticket_id": ticket_id, "error": type(e).__name__},
            )
        return None

    def _remember(self, user_key: str, ticket_no: int, ticket_id: str) -> None:
        for _ in range(MAX_ATTEMPTS):
            user = self.users.user(user_key)
            if user.tickets.get(str(ticket_no)) == ticket_id:
                return
            remember_ticket(user, ticket_no, ticket_id)
            try:
                self.users.save_user(user)
                return
            except UserChanged:
                continue
        raise UserChanged(user_key)

"""The WeChat conversation: what a user's messages do, one at a time, answered at once (a passive reply).

- A text of `min_text` (10) or more characters submits a complaint at once, with the pictures and the location the
  same user sent in the `pending_s` (10 minutes) before it: a draft with a pre-chosen random ticket id is stored and
  queued; the worker makes the ticket from it exactly once and the ticket number follows as a WeChat message.
- A picture or a location alone is kept (the latest location, up to `max_pictures` pictures) and answered with a
  prompt to describe the problem.
- `取消` drops what is pending. `查询 <问题编号>` answers the status and the latest answer of one of the sender's
  own tickets; any other number gets the same "not found" as an unknown one.
- A shorter text gets help; `subscribe` a welcome with the commands; other events nothing (`None`: "success");
  voice, video, link and unknown types a polite note of what is accepted.

Everything slow (downloading the picture, intake, the ticket-number message) happens after the reply, elsewhere.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from complaints.domain.tickets import new_ticket_id
from complaints.domain.wechat import WechatInbound

# The user's recent tickets kept for 查询: enough for anyone's follow-ups, bounded so the item stays small.
MAX_RECENT_TICKETS = 20

_QUERY = re.compile(r"^\s*查询\s*(\d{1,12})\s*$")


@dataclass
class WechatUser:
    """The `wechat#user#<openid_key>` item: nothing in it names the user but its sealed draft contact."""

    key: str
    last_seen: int = 0
    pictures: list[dict[str, Any]] = field(default_factory=list)  # {"media_id"?, "pic_url"?, "at"}
    location: dict[str, Any] | None = None  # {"lat", "lng", "label", "at"}
    dialogue: dict[str, Any] | None = None
    tickets: dict[str, str] = field(default_factory=dict)  # ticket_no → ticket id, the latest MAX_RECENT_TICKETS
    version: int = 0  # of the stored item: a write expects it, so two handlers of one user cannot overwrite each other


class WechatUsers(Protocol):
    def get(self, key: str) -> WechatUser: ...

    def put(self, user: WechatUser) -> None: ...


class Drafts(Protocol):
    def submit(self, draft: dict[str, Any]) -> None:
        """Store the draft and queue it for the worker (which makes its ticket)."""


class Tickets(Protocol):
    def get(self, ticket_id: str) -> Any: ...


@dataclass(frozen=True)
class Wording:
    """The city's texts ([wechat] in the city file); these defaults are what the checks need at least."""

    welcome: str = (
        "欢迎关注！直接发送文字描述问题（10字以上），可先发图片和位置。发送“查询 问题编号”查看进度，“取消”放弃。"
    )
    help: str = "请用10个字以上描述您反映的问题；可先发送图片和位置。发送“查询 问题编号”查看进度。"
    picture_kept: str = "图片已收到。请再发送文字描述问题（10字以上），10分钟内有效。"
    location_kept: str = "位置已收到。请再发送文字描述问题（10字以上），10分钟内有效。"
    submitted: str = "已收到您反映的问题，正在登记，问题编号稍后发给您。"
    cancelled: str = "已取消，之前发送的图片和位置不再使用。"
    nothing_to_cancel: str = "没有待提交的内容。"
    not_found: str = "没有找到您反映的这个问题编号。"
    status: str = "问题{ticket_no}：{status}"
    answer: str = "\n答复：{answer}"
    unsupported: str = "暂不支持此类消息。请发送文字、图片或位置。"


_STATUS_NAMES = {
    "received": "已受理",
    "awaiting_photo": "已受理",
    "classified": "已受理",
    "routing": "分派中",
    "triage": "分派中",
    "dispatched": "已交办",
    "accepted": "办理中",
    "returned": "分派中",
    "reopened": "重新办理",
    "answered": "已答复",
    "closed": "已办结",
}


@dataclass
class WechatConversation:
    users: WechatUsers
    drafts: Drafts
    tickets: Tickets
    user_key: Callable[[str], str]  # openid → openid_key
    seal: Callable[[str, dict[str, str]], str]  # (ticket id, contact) → sealed, as the ticket will hold it
    wording: Wording = Wording()
    min_text: int = 10
    pending_s: int = 600
    max_pictures: int = 9
    clock: Callable[[], float] = time.time

    def handle(self, msg: WechatInbound) -> str | None:
        """The passive reply's text, or None for "success" (no reply)."""
        now = int(self.clock())
        user = self.users.get(self.user_key(msg.from_user))
        if msg.msg_type != "event":
            user.last_seen = max(user.last_seen, msg.create_time, now)
        reply = self._reply(msg, user, now)
        self.users.put(user)
        return reply

    def _reply(self, msg: WechatInbound, user: WechatUser, now: int) -> str | None:
        self._forget_stale(user, now)
        if msg.msg_type == "event":
            return self.wording.welcome if (msg.event or "").lower() == "subscribe" else None
        if msg.msg_type == "image":
            user.pictures = [
                *user.pictures,
                {k: v for k, v in {"media_id": msg.media_id, "pic_url": msg.pic_url, "at": now}.items() if v},
            ][-self.max_pictures :]
            return self.wording.picture_kept
        if msg.msg_type == "location" and msg.location_x is not None and msg.location_y is not None:
            user.location = {"lat": msg.location_x, "lng": msg.location_y, "label": msg.label or "", "at": now}
            return self.wording.location_kept
        if msg.msg_type != "text":
            return self.wording.unsupported
        text = (msg.content or "").strip()
        if text == "取消":
            had = bool(user.pictures or user.location or user.dialogue)
            user.pictures, user.location, user.dialogue = [], None, None
            return self.wording.cancelled if had else self.wording.nothing_to_cancel
        query = _QUERY.match(text)
        if query:
            return self._status(user, query.group(1))
        if len(text) < self.min_text:
            return self.wording.help
        self._submit(msg.from_user, text, user, now)
        return self.wording.submitted

    def _forget_stale(self, user: WechatUser, now: int) -> None:
        user.pictures = [p for p in user.pictures if now - int(p["at"]) <= self.pending_s]
        if user.location is not None and now - int(user.location["at"]) > self.pending_s:
            user.location = None

    def _submit(self, openid: str, text: str, user: WechatUser, now: int) -> None:
        ticket_id = new_ticket_id()
        draft = {
            "ticket_id": ticket_id,
            "user_key": user.key,
            "text": text,
            "picture": user.pictures[-1] if user.pictures else None,  # the latest: a ticket holds one photo
            "location": user.location,
            "contact_sealed": self.seal(ticket_id, {"wechat_openid": openid}),
            "at": now,
        }
        self.drafts.submit(draft)
        user.pictures, user.location = [], None

    def _status(self, user: WechatUser, ticket_no: str) -> str:
        ticket_id = user.tickets.get(str(int(ticket_no)))
        ticket = self.tickets.get(ticket_id) if ticket_id else None
        if ticket is None:
            return self.wording.not_found
        status = ticket.status.value if hasattr(ticket.status, "value") else str(ticket.status)
        out = self.wording.status.format(ticket_no=ticket.ticket_no, status=_STATUS_NAMES.get(status, status))
        if ticket.answers:
            out += self.wording.answer.format(answer=ticket.answers[-1].text)
        return out


def remember_ticket(user: WechatUser, ticket_no: int, ticket_id: str) -> None:
    """Add a ticket to the user's recent ones (for 查询), keeping the latest MAX_RECENT_TICKETS."""
    user.tickets[str(ticket_no)] = ticket_id
    for old in sorted(user.tickets, key=int)[:-MAX_RECENT_TICKETS]:
        del user.tickets[old]

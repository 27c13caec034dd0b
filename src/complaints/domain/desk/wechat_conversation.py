"""The WeChat conversation: what a user's messages do, one at a time, answered at once (a passive reply).

- A text of `min_text` (10) or more characters submits a complaint at once, with the pictures and the location the
  same user sent in the `pending_s` (10 minutes) before it: a draft with a pre-chosen random ticket id is stored and
  queued; the worker makes the ticket from it exactly once and the ticket number follows as a WeChat message.
- A picture or a location alone is kept (the latest location, up to `max_pictures` pictures) and answered with a
  prompt to describe the problem.
- `取消` drops what is pending. `查询 <问题编号>` answers the status and the latest answer of one of the sender's
  own tickets; any other number gets the same "not found" as an unknown one.
- `挪车` starts car moving (desk/car_moving.py, the same use case as the API): the user sends their phone, then
  `手机号 验证码` with the SMS code (so the phone is never kept in the clear between the two), then `车牌号 位置`
  (or the plate alone, after sending a location); the owner is notified. `催单` reminds the owner once, `转交警`
  hands the request to the traffic police, both from 10 minutes on. A verified requester stays verified for the
  city's token_valid_days. While a car-moving step is pending (10 minutes), texts answer it, not make complaints.
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
    car: dict[str, Any] | None = None  # a verified car-moving requester: {"id", "sealed_phone", "expires_at"}
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
    car_phone: str = "自助挪车：请发送您的手机号码，用于接收验证码。发送“取消”退出。"
    car_code_sent: str = "验证码已发送。请回复“手机号 验证码”，例如：13812345678 123456"
    car_plate: str = "请发送挡路车辆的车牌号和所在位置，例如：浙C12345 万松路12号门口（也可先发送位置，再发车牌号）。"
    car_notified: str = (
        "已通知车主{plate}挪车（短信和电话），不会透露您的号码。{minutes}分钟后仍未挪车，可回复“催单”或“转交警”。"
    )
    car_reminded: str = "已再次通知车主{plate}。如仍未挪车，可回复“转交警”。"
    car_police: str = "已转交交警处理，问题编号{ticket_no}。"
    car_moved: str = "车主已确认挪车{plate}。"
    car_no_request: str = "没有进行中的挪车请求。发送“挪车”开始。"
    car_bad_phone: str = "手机号码格式不正确，请发送11位手机号码。"
    car_bad_code: str = "验证码不正确或已过期。请回复“手机号 验证码”，或发送“挪车”重新获取。"
    car_bad_plate: str = "车牌号或位置格式不正确。请发送“车牌号 位置”，例如：浙C12345 万松路12号门口"
    car_limit: str = "操作太频繁，请{minutes}分钟后再试。如急需挪车请拨打122。"
    car_not_yet: str = "通知车主10分钟后才能催单或转交警，请稍候。"
    car_blocked: str = "暂不能为此请求提供自助挪车服务。如急需挪车请拨打122。"
    car_unknown_plate: str = "该车牌未登记自助挪车。如急需挪车请拨打122。"
    car_unavailable: str = "自助挪车暂不可用。如急需挪车请拨打122。"


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
    car_moving: Any = None  # desk.car_moving.CarMoving, where the city has car moving

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
        if self.car_moving is not None:
            car = self._car_moving(text, user, now)
            if car is not None:
                return car
        if len(text) < self.min_text:
            return self.wording.help
        self._submit(msg.from_user, text, user, now)
        return self.wording.submitted

    # ---------------------------------------------------------------- car moving
    def _car_moving(self, text: str, user: WechatUser, now: int) -> str | None:
        """The reply, if the text is a car-moving command or answers a pending car-moving step; else None."""
        from complaints.domain.errors import DeskError

        dialogue = user.dialogue if user.dialogue and user.dialogue.get("kind") == "car" else None
        if text == "挪车":
            step = "plate" if self._requester(user) else "phone"
            user.dialogue = {"kind": "car", "step": step, "at": now}
            return self.wording.car_plate if step == "plate" else self.wording.car_phone
        if text in ("催单", "转交警"):
            if not dialogue or not dialogue.get("request_id") or not self._requester(user):
                return self.wording.car_no_request
            step = dialogue["step"]
        elif dialogue and dialogue["step"] in ("phone", "code", "plate"):
            step = dialogue["step"]
        else:
            return None
        try:
            return self._car_step(step, text, user, dialogue, now)
        except DeskError as e:
            return self._car_refusal(e)

    def _car_step(self, step: str, text: str, user: WechatUser, dialogue: dict[str, Any] | None, now: int) -> str:
        from complaints.domain.errors import InvalidComplaint

        car = self.car_moving
        if text in ("催单", "转交警"):
            requester = self._requester(user)
            request_id = (dialogue or {})["request_id"]
            if text == "催单":
                view = car.remind(requester, request_id)
                if view["status"] == "moved":
                    return self.wording.car_moved.format(plate=view["plate"])
                return self.wording.car_reminded.format(plate=view["plate"])
            view = car.to_police(requester, request_id)
            if view.get("ticket_no") is None:
                return self.wording.car_moved.format(plate=view["plate"])
            user.dialogue = None
            return self.wording.car_police.format(ticket_no=view["ticket_no"])
        if step == "phone":
            phone = text.replace(" ", "").replace("-", "")
            try:
                car.start_verification(phone, "wechat")
            except InvalidComplaint:
                return self.wording.car_bad_phone
            user.dialogue = {"kind": "car", "step": "code", "at": now}
            return self.wording.car_code_sent
        if step == "code":
            parts = text.split()
            if len(parts) != 2:
                return self.wording.car_code_sent
            requester = car.confirm_verification(parts[0], parts[1])
            user.car = {"id": requester.id, "sealed_phone": requester.sealed_phone, "expires_at": requester.expires_at}
            user.dialogue = {"kind": "car", "step": "plate", "at": now}
            return self.wording.car_plate
        # step == "plate": "浙C12345 万松路12号门口", or the plate alone after a location message
        plate, _, place = text.partition(" ")
        place = place.strip() or (user.location or {}).get("label") or ""
        if not place and user.location:
            place = f"{user.location['lat']:.5f},{user.location['lng']:.5f}"
        requester = self._requester(user)
        if requester is None:
            user.dialogue = {"kind": "car", "step": "phone", "at": now}
            return self.wording.car_phone
        try:
            view = car.request(requester, plate, place, None, "wechat")
        except InvalidComplaint:
            return self.wording.car_bad_plate
        user.dialogue = {"kind": "car", "step": "sent", "request_id": view["id"], "at": now}
        user.location = None
        minutes = car.rules.remind_after_minutes
        return self.wording.car_notified.format(plate=view["plate"], minutes=minutes)

    def _requester(self, user: WechatUser) -> Any:
        from datetime import datetime

        from complaints.domain.desk.car_moving import Requester

        car = user.car
        if not car:
            return None
        expires = datetime.fromisoformat(str(car["expires_at"]).replace("Z", "+00:00")).timestamp()
        if expires <= self.clock():
            user.car = None
            return None
        return Requester(id=car["id"], token="", sealed_phone=car["sealed_phone"], expires_at=car["expires_at"])

    def _car_refusal(self, e: Exception) -> str:
        from complaints.domain.errors import (
            Blocked,
            CarMovingNotFound,
            CodeRejected,
            LimitReached,
            NotYet,
            PlateNotRegistered,
        )

        if isinstance(e, LimitReached):
            return self.wording.car_limit.format(minutes=max(1, -(-int(e.retry_after_s) // 60)))
        refusals = {
            CodeRejected: self.wording.car_bad_code,
            Blocked: self.wording.car_blocked,
            PlateNotRegistered: self.wording.car_unknown_plate,
            NotYet: self.wording.car_not_yet,
            CarMovingNotFound: self.wording.car_no_request,
        }
        for kind, reply in refusals.items():
            if isinstance(e, kind):
                return reply
        return self.wording.car_unavailable

    def _forget_stale(self, user: WechatUser, now: int) -> None:
        user.pictures = [p for p in user.pictures if now - int(p["at"]) <= self.pending_s]
        if user.location is not None and now - int(user.location["at"]) > self.pending_s:
            user.location = None
        # A car-moving step waits as long as pending pictures do; a sent request stays for 催单 and 转交警 (an hour).
        if user.dialogue is not None:
            keep = 3600 if user.dialogue.get("step") == "sent" else self.pending_s
            if now - int(user.dialogue.get("at", 0)) > keep:
                user.dialogue = None

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

"""The messenger: sends what the outbox holds, once per delivery.

A move writes its messages into the outbox in its own transaction (outbox.py); the table's stream brings each new
message here (MessengerFunction). A message has one or more deliveries: to the citizen, an SMS to their phone, an
e-mail to their address, a comment under their Weibo mention (whichever their sealed contact holds; none if they
left none); to an agency or the triage desk, a notice on the `dispatch` or `triage` topic, which their
subscriptions filter as for any dispatch.

Each delivery is claimed (a conditional write on the message), sent, then recorded as sent (deliveries.send_once).
A redelivered stream record finds it sent and sends nothing. A send that fails is released and raised: the stream
retries the record, and after its retries the record goes to the dead-letter queue, whose alarm calls an operator.
A claim older than its lease belonged to a worker that died between sending and recording: whether the citizen got
it is unknown, and a second SMS is worse than none, so it is recorded `interrupted` and logged as an error, never
sent again.

This is the only code that opens sealed contact details (the only function with kms:Decrypt on the contact key).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from complaints.city import AGENCY, WECHAT_RECEIVED, City
from complaints.domain import routing
from complaints.domain.deliveries import (  # noqa: F401 - where the adapters and tests have always found them
    DELIVERY_LEASE_S,
    DeliveryInProgress,
    DeliveryTaken,
    send_once,
)
from complaints.domain.errors import UndeliverableContact
from complaints.domain.outbox import OutboxMessage
from complaints.domain.ports import ContactVault, Notifier, TicketRepository
from complaints.domain.privacy import mask_personal_numbers
from complaints.domain.tickets import Ticket

log = logging.getLogger("complaints")

SMS_MAX_CHARS = 70  # one segment in UCS-2: notices to staff
# An answer to a citizen: two concatenated UCS-2 segments (67 characters each), room for the start of the answer
# besides the number and the link.
CITIZEN_SMS_MAX_CHARS = 134


class Outbox(Protocol):
    def deliveries(self, ticket_id: str, key: str) -> dict[str, dict[str, Any]] | None:
        """The message's deliveries so far ({name: {"state", …}}), or None if there is no such message."""

    def claim(self, ticket_id: str, key: str, delivery: str, claim: str, stale_claim: str | None = None) -> None:
        """Claim a delivery not yet claimed (or one held by `stale_claim`); DeliveryTaken otherwise."""

    def record(self, ticket_id: str, key: str, delivery: str, claim: str, state: str, detail: str | None) -> None:
        """Record a claimed delivery's outcome (`sent`, `refused`, `interrupted`), if `claim` still holds it."""

    def release(self, ticket_id: str, key: str, delivery: str, claim: str) -> None:
        """Give a claimed delivery up, for a retry."""


class CitizenChannels(Protocol):
    def send_sms(self, phone: str, text: str, ticket_no: int) -> str: ...

    def send_email(self, address: str, subject: str, body: str, ticket_no: int) -> str: ...

    def queue_comment(self, mention_id: str, key: str, text: str, ticket_no: int) -> bool:
        """Queue a comment under a Weibo mention, once per `key` (the Weibo poller posts it)."""


@dataclass
class Messenger:
    city: City
    tickets: TicketRepository
    outbox: Outbox
    contacts: ContactVault
    citizens: CitizenChannels
    notifier: Notifier
    lease_s: float = DELIVERY_LEASE_S
    wechat: Any = None  # desk.wechat_answers.WechatDelivery, where the desk has a WeChat account

    def deliver(self, message: OutboxMessage) -> dict[str, str]:
        """Send each of the message's deliveries that has not gone out; their states."""
        done = self.outbox.deliveries(message.ticket_id, message.key)
        if done is None:
            log.warning("message not in the outbox", extra={"ticket_id": message.ticket_id, "key": message.key})
            return {}
        ticket = self.tickets.get(message.ticket_id)
        if ticket is None:
            log.warning("message for a ticket that is gone", extra={"ticket_id": message.ticket_id})
            return {}
        states = {}
        for name, send in self._deliveries(message, ticket).items():
            states[name] = self._once(message, name, done.get(name), send)
        return states

    def _once(self, message: OutboxMessage, name: str, done: dict[str, Any] | None, send) -> str:
        about = {"ticket_id": message.ticket_id, "key": message.key}
        return send_once(
            self.outbox, message.ticket_id, message.key, name, done, send, lease_s=self.lease_s, about=about
        )

    # ---------------------------------------------------------------- what to send
    def _deliveries(self, message: OutboxMessage, ticket: Ticket) -> dict[str, Any]:
        if message.audience == "citizen":
            return self._to_citizen(message, ticket)
        return self._to_staff(message, ticket)

    def _to_citizen(self, message: OutboxMessage, ticket: Ticket) -> dict[str, Any]:
        if not ticket.contact_sealed:
            return {}
        contact = self.contacts.open(ticket.id, ticket.contact_sealed)
        out: dict[str, Any] = {}
        if contact.get("wechat_openid"):
            out["wechat"] = self._wechat(message, ticket, contact)
        if message.kind == "received":
            return out  # the ticket number goes to WeChat users only: the other channels answer at once
        sms, subject, body = citizen_texts(message, ticket, self.city)
        # A WeChat user's phone is the WeChat delivery's fallback, not a second copy of every message.
        if contact.get("phone") and "wechat" not in out:
            out["sms"] = lambda: self.citizens.send_sms(contact["phone"], sms, ticket.ticket_no)
        if contact.get("email"):
            out["email"] = lambda: self.citizens.send_email(contact["email"], subject, body, ticket.ticket_no)
        if contact.get("weibo_mention"):
            comment = weibo_comment(message, ticket, self.city)
            key = f"{ticket.id}#{message.key}"
            out["weibo"] = lambda: str(
                self.citizens.queue_comment(contact["weibo_mention"], key, comment, ticket.ticket_no)
            )
        return out

    def _wechat(self, message: OutboxMessage, ticket: Ticket, contact: dict[str, str]):
        if self.wechat is None:

            def refuse() -> str:
                raise UndeliverableContact("this desk has no WeChat account")

            return refuse
        link = self.city.ticket_link(ticket.ticket_no)
        if message.kind == "received":
            values = {"ticket_no": ticket.ticket_no, "link": link}
            text = self.city.wechat_text("received", **values) or WECHAT_RECEIVED.format(**values)
            sms = None
        else:
            sms = citizen_texts(message, ticket, self.city)[0]
            text = wechat_text(message, ticket, self.city)
        data = {"ticket_no": str(ticket.ticket_no), "status": ticket.status.value, "text": _start(text, 100)}
        return lambda: self.wechat.send(
            contact["wechat_openid"], text, ticket.ticket_no, data, link, contact.get("phone"), sms
        )

    def _to_staff(self, message: OutboxMessage, ticket: Ticket) -> dict[str, Any]:
        if message.kind == "dispatched":
            agency = self.city.agency(message.agency)
            decision = routing.RoutingDecision("dispatch", agency, f"人工派单（{self.city.triage_desk().name}）")
            notices = routing.notices(ticket, self.city, decision, None, message.note)
            return {
                n.audience: (lambda n=n: self.notifier.publish("dispatch", n.subject, n.messages, n.attributes))
                for n in notices
            }
        channel = "triage" if message.audience == "triage" else "dispatch"
        subject, text = staff_texts(message, ticket, self.city)
        attributes = {"ticket_no": str(ticket.ticket_no), "event": message.kind}
        if channel == "dispatch":
            agency = self.city.agency(message.agency)
            attributes |= {"agency": agency.id, "department": agency.name, "audience": AGENCY}
            if ticket.district:
                attributes["district"] = ticket.district
        if ticket.category:
            attributes["category"] = ticket.category
        messages = {"default": text, "email": text, "sms": staff_sms(message, ticket, self.city)}
        return {message.audience: lambda: self.notifier.publish(channel, subject, messages, attributes)}


_SMS_HEAD = {
    "reopened": "群众不满意，问题重办",
    "reminder": "催办：请尽快签收",
    "escalation": "督办：超期未答复",
    "to_triage": "退单待重新分派",
    "dispatched": "新派单",
}
_SUBJECT = {
    "reopened": "complaint reopened",
    "reminder": "reminder: sign for complaint",
    "escalation": "overdue complaint",
    "to_triage": "complaint back to triage",
}


def staff_sms(message: OutboxMessage, ticket: Ticket, city: City) -> str:
    """One segment, as a dispatch's SMS (routing.sms_text): what happened, the ticket number and the ticket's link,
    shortened to fit and never cut mid-link. The workspace link, with the ticket's 32-character id, never fits in
    one segment; the e-mail carries it."""
    link = city.ticket_link(ticket.ticket_no)
    head = f"【{city.sms_sign}】"
    for text in (
        f"{head}{_SMS_HEAD[message.kind]} 问题编号{ticket.ticket_no} {link}",
        f"{head}问题编号{ticket.ticket_no} {link}",
    ):
        if len(text) <= SMS_MAX_CHARS:
            return text
    return f"{head}{link}"[:SMS_MAX_CHARS]


def staff_texts(message: OutboxMessage, ticket: Ticket, city: City) -> tuple[str, str]:
    """The subject (ASCII, as SNS e-mail needs) and body of a notice to an agency or the triage desk."""
    subject = f"[{city.code}] {_SUBJECT[message.kind]} #{ticket.ticket_no}"
    # Only the assigned agency reads the text as written; the triage desk reads it masked (see routing.py).
    text = ticket.text if message.audience == "agency" else mask_personal_numbers(ticket.text)
    lines = [
        f"{city.board} 问题编号:{ticket.ticket_no}  {_SMS_HEAD[message.kind]}",
        "",
        f"类别: {ticket.category or '待分类'}",
        f"区域: {ticket.district or '待定'}",
        f"承办单位: {ticket.department or '待分派'}",
    ]
    if ticket.deadlines and ticket.deadlines.answer_by and message.kind in ("reopened", "reminder", "escalation"):
        lines.append(f"签收时限: {ticket.deadlines.accept_by}  答复时限: {ticket.deadlines.answer_by}")
    if message.note:
        lines.append(f"说明: {message.note if message.audience == 'agency' else mask_personal_numbers(message.note)}")
    lines += ["", "内容:", text, "", f"查看与处理: {city.workspace_link(ticket.id)}"]
    return subject, "\n".join(lines)


def citizen_texts(message: OutboxMessage, ticket: Ticket, city: City) -> tuple[str, str, str]:
    """The SMS (at most two segments), the e-mail subject and the e-mail body the citizen gets."""
    link = city.ticket_link(ticket.ticket_no)
    head = f"【{city.sms_sign}】"
    answer = ticket.answers[-1] if ticket.answers else None
    if message.kind == "answered" and answer is not None:
        lead = f"问题{ticket.ticket_no}已答复："
        tail = f" 查看并评价 {link}"
        room = CITIZEN_SMS_MAX_CHARS - len(head) - len(lead) - len(tail)
        sms = head + lead + _start(answer.text, room) + tail
        subject = f"{city.board}：您反映的问题（编号{ticket.ticket_no}）已答复"
        body = (
            f"您好，\n\n您反映的问题（编号{ticket.ticket_no}）已由{answer.agency_name}答复：\n\n{answer.text}\n\n"
            f"请在 {ticket.deadlines.rate_by if ticket.deadlines else '7 天内'} 前查看并评价：{link}\n"
            "满意请打 3 分以上；不满意或问题未解决，问题将重新办理。\n\n"
            f"{city.board}"
        )
    elif message.kind == "reopened":
        sms = f"{head}您对问题{ticket.ticket_no}的评价已收到，问题已重新交办，进度见 {link}"
        subject = f"{city.board}：问题（编号{ticket.ticket_no}）已重新办理"
        body = (
            f"您好，\n\n您对问题（编号{ticket.ticket_no}）的评价已收到，问题已重新交办。\n进度：{link}\n\n{city.board}"
        )
    else:  # closed_unrated
        sms = f"{head}问题{ticket.ticket_no}评价期已过，已办结，详情见 {link}"
        subject = f"{city.board}：问题（编号{ticket.ticket_no}）已办结"
        body = f"您好，\n\n问题（编号{ticket.ticket_no}）的评价期已过，问题已办结。\n详情：{link}\n\n{city.board}"
    return sms, subject, body


def wechat_text(message: OutboxMessage, ticket: Ticket, city: City) -> str:
    """A customer-service text: WeChat takes up to 2,048 bytes, room for the whole answer."""
    link = city.ticket_link(ticket.ticket_no)
    if message.kind == "answered" and ticket.answers:
        answer = ticket.answers[-1]
        head = f"您反映的问题（编号{ticket.ticket_no}）已由{answer.agency_name}答复："
        return f"{head}\n{_start(answer.text, 500)}\n查看并评价：{link}"
    if message.kind == "reopened":
        return f"您对问题{ticket.ticket_no}的评价已收到，问题已重新交办。进度：{link}"
    return f"问题{ticket.ticket_no}评价期已过，已办结。详情：{link}"


def weibo_comment(message: OutboxMessage, ticket: Ticket, city: City) -> str:
    from complaints.domain.weibo import answer_comment, closed_comment

    if message.kind == "answered" and ticket.answers:
        return answer_comment(ticket.ticket_no, ticket.answers[-1].text, city)
    if message.kind == "reopened":
        return f"问题编号{ticket.ticket_no}已重新交办，进度请见 {city.ticket_link(ticket.ticket_no)}"
    return closed_comment(ticket.ticket_no, city)


def _start(text: str, room: int) -> str:
    """The start of `text` in at most `room` characters, on one line, "…" where it is cut."""
    flat = " ".join(text.split())
    if len(flat) <= room:
        return flat
    return flat[: max(room - 1, 0)] + "…" if room > 0 else ""

"""Who hears about a classified ticket, and what they read.

Above the auto-dispatch threshold a ticket goes to the `dispatch` channel, where each agency's subscription
(filtered by the `department` and `district` attributes) picks what is theirs; otherwise it goes to `triage`
for a human dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from complaints.city import Agency, City
from complaints.domain.privacy import mask_personal_numbers
from complaints.domain.tickets import Ticket

SMS_MAX_CHARS = 70  # one SMS segment in UCS-2, which any Chinese text needs
# The longest a SigV4 presigned link may live. Signed with a Lambda role's temporary credentials, it stops
# working earlier, when those credentials expire (hours): the e-mail says "time-limited", not "7 days".
PHOTO_LINK_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class RoutingDecision:
    channel: Literal["dispatch", "triage"]
    department: Agency | None
    reason: str


def decide(ticket: Ticket, city: City, threshold: float) -> RoutingDecision:
    department = city.department_for(ticket.category) if ticket.category else None
    if department is None:
        return RoutingDecision("triage", None, "没有可用的分类")
    confidence = ticket.confidence or 0.0
    if confidence < threshold:
        return RoutingDecision("triage", department, f"置信度 {confidence:.2f} 低于自动派单阈值 {threshold:.2f}")
    return RoutingDecision("dispatch", department, f"置信度 {confidence:.2f}")


INTERRUPTED_NOTE = "上次派单中断，承办单位可能已收到本单，请核实后处理，勿重复派单"


def interrupted(decision: RoutingDecision) -> RoutingDecision:
    """Where a ticket goes whose routing was interrupted: a human decides, since an agency may have it already."""
    return RoutingDecision("triage", decision.department, INTERRUPTED_NOTE)


def attributes(ticket: Ticket, decision: RoutingDecision) -> dict[str, str]:
    """SNS message attributes that agencies' filter policies match on."""
    attrs = {"ticket_no": str(ticket.ticket_no)}
    if decision.department is not None:
        attrs["department"] = decision.department.name
    if ticket.category:
        attrs["category"] = ticket.category
    if ticket.district:
        attrs["district"] = ticket.district
    return attrs


def sms_text(ticket: Ticket, city: City) -> str:
    """One SMS segment: sign, ticket number, category, district, link — shortened to fit, never cut mid-link."""
    link = city.ticket_link(ticket.ticket_no)
    head = f"【{city.sms_sign}】问题编号{ticket.ticket_no}"
    parts = [ticket.category or "待分类", ticket.district or "区域待定", "请处理"]
    while parts:
        text = " ".join([head, *parts, link])
        if len(text) <= SMS_MAX_CHARS:
            return text
        parts.pop()
    return f"{head} {link}"[:SMS_MAX_CHARS]


def subject(ticket: Ticket, city: City, decision: RoutingDecision) -> str:
    # SNS e-mail subjects must be ASCII, under 100 characters: the Chinese title is the body's first line.
    what = "complaint" if decision.channel == "dispatch" else "complaint to triage"
    return f"[{city.code}] {what} #{ticket.ticket_no}"


def email_text(
    ticket: Ticket, city: City, decision: RoutingDecision, photo_link: str | None, note: str | None = None
) -> str:
    """The e-mail body. The assigned agency reads the text as written; triage reads it with personal numbers
    masked (the dispatcher chooses an agency, and needs no one's phone or ID number to do so)."""
    lines = [
        f"{city.board} 问题编号:{ticket.ticket_no}",
        "",
        f"类别: {ticket.category or '待分类'}",
        f"区域: {ticket.district or '待定'}"
        + (f"(依据{_SOURCE[ticket.district_source]})" if ticket.district_source else ""),
        f"承办单位: {decision.department.name if decision.department else '待分派'}",
        f"置信度: {ticket.confidence:.2f}" if ticket.confidence is not None else "置信度: -",
        f"提交时间: {ticket.created_at}  渠道: {ticket.channel}",
    ]
    if ticket.location is not None:
        where = "(照片 GPS)" if ticket.location.source == "photo_gps" else ""
        lines.append(f"位置: {ticket.location.lat:.5f}, {ticket.location.lng:.5f}{where}")
    if ticket.photo is not None and ticket.photo.taken_at:
        lines.append(f"拍摄时间: {ticket.photo.taken_at}")
    if decision.channel == "triage":
        lines.append(f"转人工分派原因: {decision.reason}")
        if ticket.top3:
            lines.append("候选类别: " + "、".join(f"{c} {p:.2f}" for c, p in ticket.top3))
    if note:
        lines.append(f"注意: {note}")
    text = ticket.text if decision.channel == "dispatch" else mask_personal_numbers(ticket.text)
    lines += ["", "内容:", text, ""]
    if photo_link:
        lines.append(f"照片(限时链接): {photo_link}")
    lines.append(f"查看与答复: {city.ticket_link(ticket.ticket_no)}")
    return "\n".join(lines)


_SOURCE = {"location": "定位", "text": "文字"}

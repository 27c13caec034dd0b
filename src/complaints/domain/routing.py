"""Who hears about a classified ticket, and what they read.

Above the auto-dispatch threshold a ticket goes to the `dispatch` channel as two notices: one for the assigned
agency (`audience` = `agency`, text as written: it may need to call the citizen back), whose subscriptions filter
on `department` (and `district`); and, when the district is known, a copy for the district's town government
(`audience` = `copy`, personal numbers masked), whose subscriptions filter on `district`. Otherwise the ticket
goes to `triage` for a human dispatcher, masked too, with the reason as a code (`reason` attribute; TriageReason)
and in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from complaints.city import AGENCY, CO, COPY, Agency, City
from complaints.domain.privacy import mask_personal_numbers
from complaints.domain.tickets import Ticket, TriageReason

SMS_MAX_CHARS = 70  # one SMS segment in UCS-2, which any Chinese text needs
# How long the photo link in an agency's e-mail works: exactly this long, because it is signed with credentials
# made for it that expire then (see PhotoStore.lasting_link; STS gives a role chained from Lambda's at most 1 h).
# Later, the ticket page signs a fresh link on each view.
PHOTO_LINK_SECONDS = 3600
# China Standard Time has had no daylight saving since 1991; a fixed offset needs no time-zone database.
_CHINA_TIME = timezone(timedelta(hours=8))
# With city.AGENCY and city.COPY, the audiences of a routed ticket (see `notices`).
TRIAGE = "triage"


@dataclass(frozen=True)
class RoutingDecision:
    channel: Literal["dispatch", "triage"]
    department: Agency | None  # the main handler (承办单位): a department, or a town for a local matter
    reason: str  # in words, for the e-mail and the ticket's history
    triage_reason: TriageReason | None = None  # the code, for every decision to triage
    co_agencies: tuple[Agency, ...] = ()  # co-recipients (协办单位): a masked copy each


NO_EVIDENCE_NOTE = "模型没有分类依据：内容中模型认识的中文词语太少，或内容主要不是中文"
INTERRUPTED_NOTE = "上次派单中断，承办单位可能已收到本单，请核实后处理，勿重复派单"


NO_DISTRICT_NOTE = "属地事项，但无法确定所在街道（镇、乡），请核实地点后派给属地"


def decide(ticket: Ticket, city: City, threshold: float) -> RoutingDecision:
    if ticket.no_evidence:
        return RoutingDecision("triage", None, NO_EVIDENCE_NOTE, "no_evidence")
    if ticket.service or ticket.category:
        handlers = city.handlers(ticket.service, ticket.category, ticket.district)
        department, co = handlers.main, handlers.co
    else:  # a model trained on agencies names the agency alone
        department, co = (city.agency_by_name(ticket.department) if ticket.department else None), ()
    service = city.service(ticket.service)
    if department is None and service is not None and service.local:
        return RoutingDecision("triage", city.agency(service.agency), NO_DISTRICT_NOTE, "no_district", co)
    if department is None:
        return RoutingDecision("triage", None, "没有可用的分类", "no_category")
    confidence = ticket.confidence or 0.0
    if confidence < threshold:
        reason = f"置信度 {confidence:.2f} 低于自动派单阈值 {threshold:.2f}"
        return RoutingDecision("triage", department, reason, "low_confidence", co)
    return RoutingDecision("dispatch", department, f"置信度 {confidence:.2f}", co_agencies=co)


def interrupted(decision: RoutingDecision) -> RoutingDecision:
    """Where a ticket goes whose routing was interrupted: a human decides, since an agency may have it already."""
    return RoutingDecision("triage", decision.department, INTERRUPTED_NOTE, "interrupted")


@dataclass(frozen=True)
class PhotoLink:
    """A link to the ticket's display photo and the moment it stops working."""

    url: str
    expires_at: datetime

    @property
    def wording(self) -> str:
        local = self.expires_at.astimezone(_CHINA_TIME)
        return f"照片(链接{PHOTO_LINK_SECONDS // 3600}小时内有效,至{local:%m月%d日 %H:%M}北京时间)"


@dataclass(frozen=True)
class Notice:
    """One message to publish: who it is for (`audience`), the channel, and its texts and attributes."""

    audience: str
    channel: Literal["dispatch", "triage"]
    subject: str
    messages: dict[str, str]
    attributes: dict[str, str]


def notices(
    ticket: Ticket, city: City, decision: RoutingDecision, photo_link: PhotoLink | None, note: str | None = None
) -> list[Notice]:
    """What routing a ticket publishes, in order. Only the assigned agency reads the text as written.

    A dispatched ticket goes to its main handler (`agency`), as a masked copy to each co-recipient (`co:<id>`), and
    as a masked copy to the district's town (`copy`) unless the town already has it as handler or co-recipient.
    The audience names are also what the ticket records as notified, so a retry sends only what is missing.
    """
    if decision.channel == "triage":
        targets: list[tuple[str, Agency | None]] = [(TRIAGE, None)]
    else:
        targets = [(AGENCY, decision.department), *((f"{CO}:{a.id}", a) for a in decision.co_agencies)]
        town = city.district_by_name(ticket.district) if ticket.district else None
        has_it = {a.id for _, a in targets if a is not None}
        if town is not None and town.agency not in has_it:
            targets.append((COPY, None))
    out = []
    for audience, agency in targets:
        kind = audience.partition(":")[0]
        email = email_text(ticket, city, decision, photo_link, note, audience=kind)
        attrs = {**attributes(ticket, decision), "audience": kind}
        if agency is not None:
            attrs["agency"] = agency.id
        out.append(
            Notice(
                audience=audience,
                channel=decision.channel,
                subject=subject(ticket, city, decision, kind),
                messages={"default": email, "email": email, "sms": sms_text(ticket, city)},
                attributes=attrs,
            )
        )
    return out


def attributes(ticket: Ticket, decision: RoutingDecision) -> dict[str, str]:
    """SNS message attributes that agencies' filter policies match on (with `audience`, set by `notices`); a notice to
    triage also says why (`reason`: a TriageReason)."""
    attrs = {"ticket_no": str(ticket.ticket_no)}
    if decision.triage_reason is not None:
        attrs["reason"] = decision.triage_reason
    if decision.department is not None:
        attrs["department"] = decision.department.name
    if ticket.category:
        attrs["category"] = ticket.category
    if ticket.service:
        attrs["service"] = ticket.service
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


def subject(ticket: Ticket, city: City, decision: RoutingDecision, audience: str = AGENCY) -> str:
    # SNS e-mail subjects must be ASCII, under 100 characters: the Chinese title is the body's first line.
    what = "complaint" if decision.channel == "dispatch" else "complaint to triage"
    what = f"copy of {what}" if audience in (COPY, CO) else what
    return f"[{city.code}] {what} #{ticket.ticket_no}"


def email_text(
    ticket: Ticket,
    city: City,
    decision: RoutingDecision,
    photo_link: PhotoLink | None,
    note: str | None = None,
    *,
    audience: str = TRIAGE,
) -> str:
    """The e-mail body for `audience`. Only the assigned agency (AGENCY) reads the text as written; triage and the
    town's copy (COPY) read it with personal numbers masked (the dispatcher chooses an agency, the town follows what
    happens in its district, and neither needs anyone's phone or ID number to do so)."""
    lines = [
        f"{city.board} 问题编号:{ticket.ticket_no}" + {COPY: " (抄送)", CO: " (协办)"}.get(audience, ""),
        "",
        f"类别: {ticket.category or '待分类'}",
        *([f"事项: {service.name}({service.code})"] if (service := city.service(ticket.service)) else []),
        f"区域: {ticket.district or '待定'}"
        + (f"(依据{_SOURCE[ticket.district_source]})" if ticket.district_source else ""),
        f"承办单位: {decision.department.name if decision.department else '待分派'}",
        *([f"协办单位: {'、'.join(a.name for a in decision.co_agencies)}"] if decision.co_agencies else []),
        f"置信度: {ticket.confidence:.2f}" if ticket.confidence is not None else "置信度: -",
        f"提交时间: {ticket.created_at}  渠道: {ticket.channel}",
    ]
    if ticket.location is not None:
        where = "(照片 GPS)" if ticket.location.source == "photo_gps" else ""
        lines.append(f"位置: {ticket.location.lat:.5f}, {ticket.location.lng:.5f}{where}")
    if ticket.photo is not None and ticket.photo.taken_at:
        lines.append(f"拍摄时间: {ticket.photo.taken_at}")
    if decision.channel == "triage":
        lines.append(f"转人工分派原因: {decision.reason} ({decision.triage_reason})")
        if ticket.top3:
            lines.append("候选: " + "、".join(f"{city.read(c).title or c} {p:.2f}" for c, p in ticket.top3))
    if note:
        lines.append(f"注意: {note}")
    text = ticket.text if audience == AGENCY else mask_personal_numbers(ticket.text)  # co-recipients: masked
    lines += ["", "内容:", text, ""]
    if photo_link:
        lines.append(f"{photo_link.wording}: {photo_link.url}")
    # Staff open the ticket in the workspace (signed in, photo links signed afresh); the town follows the public page.
    if audience in (COPY, CO):
        lines.append(f"查看: {city.ticket_link(ticket.ticket_no)}")
    else:
        lines.append(f"查看与答复: {city.workspace_link(ticket.id)}")
    return "\n".join(lines)


_SOURCE = {"location": "定位", "text": "文字", "citizen": "市民选择"}

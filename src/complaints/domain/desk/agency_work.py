"""Agency work: the staff of an agency list their tickets, read one, sign for it (签收), answer it (答复), send it
back to the triage desk (退单) or extend its deadline once (延期).

A staff member sees only the tickets in their own agency's inbox: any other ticket is "not found", exactly as one
that does not exist. Every change is one conditional write of lifecycle.TicketMoves, which also checks that the
ticket is still in this agency's inbox (a reassignment may have won the race); the messages a change owes (the
citizen's answer notice, the triage desk's returned ticket) are written with it, in the same transaction.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from complaints.city import City
from complaints.domain import clock
from complaints.domain.deadlines import latest_extension
from complaints.domain.desk.assignment import answered, local_iso, parse, utc_iso
from complaints.domain.errors import DeskError, InvalidComplaint, MoveNotAllowed, TicketNotFound
from complaints.domain.lifecycle import EVENTS, NOTHING_DUE, due, moves_from
from complaints.domain.outbox import OutboxMessage
from complaints.domain.ports import PhotoStore, TicketRepository
from complaints.domain.tickets import Actor, ActorKind, Answer, Extension, Status, Ticket, now_iso, photo_keys
from complaints.staff import StaffMember

log = logging.getLogger("complaints")

PAGE_SIZE = 20
# Links to a ticket's photos in the workspace: signed on each view, for as long as a page stays open.
STAFF_LINK_SECONDS = 900
MAX_ANSWER_CHARS = 5000
MAX_REASON_CHARS = 500
_TICKET_ID_CHARS = frozenset("0123456789abcdef")


class BadCursor(DeskError):
    """The `cursor` of an inbox page is not one this desk gave out for this inbox (400)."""

    code = "bad_cursor"


class ExtensionRefused(DeskError):
    """An extension the rules do not allow: a second one, past the city's longest, or after the deadline (409 when
    the ticket's state is why, 422 when the date is)."""

    code = "extension_refused"


def actor_of(staff: StaffMember) -> Actor:
    if staff.agency is None:
        raise TicketNotFound("administrators hold no inbox; sign in as the staff of an agency")
    kind = ActorKind.TRIAGE if staff.agency.kind == "triage" else ActorKind.AGENCY
    return Actor(kind=kind, agency=staff.agency.id, user=staff.user_id)


@dataclass
class InboxPage:
    tickets: list[dict[str, Any]]
    next_cursor: str | None


@dataclass
class AgencyWork:
    city: City
    tickets: TicketRepository
    photos: PhotoStore

    # ---------------------------------------------------------------- reading
    def inbox(
        self, staff: StaffMember, status: str | None = None, overdue: bool = False, cursor: str | None = None
    ) -> InboxPage:
        """The staff member's agency's tickets, newest first, a page at a time. The triage desk's inbox holds what
        is in `triage` and `returned`."""
        actor = actor_of(staff)
        if status is not None and status not in Status.__members__.values():
            raise InvalidComplaint(f"status must be one of {', '.join(s.value for s in Status)}")
        start = _read_cursor(cursor, actor.agency, status)
        found, last = self.tickets.inbox(actor.agency, status, overdue, PAGE_SIZE, start)
        return InboxPage([self._summary(t) for t in found], _write_cursor(last))

    def ticket(self, staff: StaffMember, ticket_id: str) -> dict[str, Any]:
        actor = actor_of(staff)
        return self._staff_view(self._own(actor, ticket_id), actor)

    # ---------------------------------------------------------------- moves
    def accept(self, staff: StaffMember, ticket_id: str) -> dict[str, Any]:
        actor = actor_of(staff)
        ticket = self._own(actor, ticket_id)
        answer_by = ticket.deadlines.answer_by if ticket.deadlines else None
        # Signed for: no reminder is due any more, the answer deadline is.
        fields = due("answer", utc_iso(parse(answer_by))) if answer_by else {}
        self.tickets.accept(ticket.id, actor, "已签收", agency=actor.agency, fields=fields)
        return self.ticket(staff, ticket_id)

    def reply(self, staff: StaffMember, ticket_id: str, text: str) -> dict[str, Any]:
        actor = actor_of(staff)
        text = _checked(text, "text", MAX_ANSWER_CHARS)
        ticket = self._own(actor, ticket_id)
        now = clock.now()
        answer = Answer(
            text=text, agency=actor.agency, agency_name=self.city.agency(actor.agency).name, at=now_iso(), by=actor.user
        )
        n = len(ticket.answers) + 1
        fields = {"answers": [*(a.model_dump(mode="json") for a in ticket.answers), answer.model_dump(mode="json")]}
        fields |= answered(self.city, ticket, now)
        message = OutboxMessage(
            ticket_id=ticket.id,
            ticket_no=ticket.ticket_no,
            key=f"answer-{n}",
            kind="answered",
            audience="citizen",
            created_at=now_iso(),
        )
        # Two staff answering at once: one write finds the ticket answered already (409), and its answer is not kept.
        self.tickets.answer(
            ticket.id,
            actor,
            text,
            agency=actor.agency,
            fields=fields,
            messages=[message] if ticket.contact_sealed else [],
        )
        return self.ticket(staff, ticket_id)

    def return_ticket(self, staff: StaffMember, ticket_id: str, reason: str) -> dict[str, Any]:
        actor = actor_of(staff)
        reason = _checked(reason, "reason", MAX_REASON_CHARS)
        ticket = self._own(actor, ticket_id)
        desk = self.city.triage_desk()
        message = OutboxMessage(
            ticket_id=ticket.id,
            ticket_no=ticket.ticket_no,
            key=f"return-{_count(ticket, 'return') + 1}",
            kind="to_triage",
            audience="triage",
            agency=desk.id,
            note=f"{self.city.agency(actor.agency).name}退单: {reason}",
            created_at=now_iso(),
        )
        label = _label(ticket, "returned", actor.agency)
        # Returned (退单), into the triage desk's inbox at once: the desk sees it among `returned`, and its next
        # step (`return_to_triage`) is made right after, or by the desk's assignment if this request dies first.
        self.tickets.return_ticket(
            ticket.id,
            actor,
            reason,
            agency=actor.agency,
            fields={"agency": desk.id, "routing_labels": [*_labels(ticket), label], **NOTHING_DUE},
            expect={},
            messages=[message],
        )
        with contextlib.suppress(MoveNotAllowed):  # the triage desk moved it on already
            self.tickets.return_to_triage(ticket.id, note=reason, desk=desk.id)
        return {"id": ticket.id, "ticket_no": ticket.ticket_no, "status": Status.TRIAGE.value}

    def extend(self, staff: StaffMember, ticket_id: str, reason: str, until: date) -> dict[str, Any]:
        actor = actor_of(staff)
        reason = _checked(reason, "reason", MAX_REASON_CHARS)
        ticket = self._own(actor, ticket_id)
        if ticket.extension is not None:
            raise ExtensionRefused(f"the deadline was extended once already, to {ticket.extension.until}")
        if ticket.status not in EVENTS["extend"].sources or not ticket.deadlines:  # the table says from where
            raise MoveNotAllowed(
                f"the ticket is {ticket.status.value}; only an unanswered ticket's deadline can be extended",
                "extend",
                ticket.status.value,
            )
        answer_by = parse(ticket.deadlines.answer_by)
        if answer_by <= clock.now():
            raise ExtensionRefused("the answer deadline has passed; it can no longer be extended")
        latest = latest_extension(self.city.calendar, self.city.limits_for(ticket.category, ticket.service), answer_by)
        if not self.city.calendar.local(answer_by).date() < until <= latest:
            raise InvalidComplaint(
                f"until must be after the deadline ({self.city.calendar.local(answer_by).date()}) and no later than"
                f" {latest}"
            )
        if not self.city.calendar.is_working_day(until):
            raise InvalidComplaint(f"until must be a working day; {until} is not")
        new_by = self.city.calendar.close_of(until)
        deadlines = ticket.deadlines.model_copy(update={"answer_by": local_iso(self.city, new_by)})
        extension = Extension(until=until.isoformat(), reason=reason, at=now_iso(), by=actor)
        fields: dict[str, Any] = {
            "deadlines": deadlines.model_dump(mode="json"),
            "extension": extension.model_dump(mode="json"),
        }
        if ticket.due == "answer":
            fields |= due("answer", utc_iso(new_by))
        self.tickets.extend(
            ticket.id, actor, reason, actor.agency, ticket.status, fields=fields, expect={"extension": None}
        )
        return self.ticket(staff, ticket_id)

    # ---------------------------------------------------------------- helpers
    def _own(self, actor: Actor, ticket_id: str) -> Ticket:
        """The ticket, if it is in the actor's agency's inbox; else not found, as if it did not exist."""
        ticket = self.tickets.get(ticket_id) if set(ticket_id or "-") <= _TICKET_ID_CHARS else None
        if ticket is None or ticket.agency != actor.agency:
            raise TicketNotFound("no such ticket in your agency's inbox")
        return ticket

    def _summary(self, t: Ticket) -> dict[str, Any]:
        return {
            "id": t.id,
            "ticket_no": t.ticket_no,
            "status": t.status.value,
            "category": t.category,
            "district": t.district,
            "created_at": t.created_at,
            "text": t.text[:80],
            "deadlines": t.deadlines.model_dump(mode="json") if t.deadlines else None,
            "overdue": bool(t.overdue),
        }

    def _staff_view(self, t: Ticket, actor: Actor) -> dict[str, Any]:
        links = None
        if t.photo is not None and t.photo.status == "ready":
            keys = photo_keys(t.id)
            links = {name: self.photos.link(keys[name], STAFF_LINK_SECONDS) for name in ("display", "thumbnail")}
        return {
            "id": t.id,
            "ticket_no": t.ticket_no,
            "status": t.status.value,
            "text": t.text,  # as written: the assigned agency may need to call the citizen back
            "channel": t.channel,
            "created_at": t.created_at,
            "category": t.category,
            "service": (sv := self.city.service(t.service)) and {"code": sv.code, "name": sv.name},
            "district": t.district,
            "department": t.department,
            "confidence": None if t.confidence is None else round(t.confidence, 4),
            # The classifier's three likeliest services (or categories) and who handles each: the triage desk's
            # suggestions for whom to assign it to.
            "top3": [self._suggestion(label, p, t.district) for label, p in t.top3 or []],
            "location": t.location.model_dump(mode="json") if t.location else None,
            "photo": t.photo
            and {
                "status": t.photo.status,
                "reason": t.photo.reason,
                "taken_at": t.photo.taken_at,
                "display_url": (links or {}).get("display"),
                "thumbnail_url": (links or {}).get("thumbnail"),
            },
            "history": [h.model_dump(mode="json", exclude_none=True) for h in t.history],
            "deadlines": t.deadlines.model_dump(mode="json") if t.deadlines else None,
            "overdue": bool(t.overdue),
            "extension": t.extension.model_dump(mode="json", exclude={"by"}) if t.extension else None,
            "answers": [a.model_dump(mode="json", exclude_none=True) for a in t.answers],
            "rating": t.current_rating().model_dump(mode="json") if t.current_rating() else None,
            "ratings": [r.model_dump(mode="json", exclude_none=True) for r in t.ratings],
            "reopen_count": t.reopen_count,
            "triage_reason": t.triage_reason,
            # The public board: whether the citizen let it show the text, and whether the triage desk hid it.
            "public": t.public,
            "hidden": bool(t.hidden),
            # Of hide and unhide, the one that applies now.
            "can": [m for m in moves_from(t.status, actor.kind) if m != ("hide" if t.hidden else "unhide")],
        }

    def _suggestion(self, label: str, probability: float, district: str | None = None) -> dict[str, Any]:
        """One of the model's top three, as the triage desk reads it: the service (when the model names services),
        its category, and who would handle it in the ticket's district."""
        reading = self.city.read(label)
        service = reading.service
        if service is not None:
            agency = self.city.handlers(service.code, service.category, district).main or reading.agency
        else:
            agency = reading.agency
        return {
            "service": service and {"code": service.code, "name": service.name},
            "category": reading.category,
            "probability": round(probability, 4),
            "agency": agency and {"id": agency.id, "name": agency.name},
        }


def _checked(value: str, name: str, longest: int) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidComplaint(f"{name} must not be empty")
    if len(value) > longest:
        raise InvalidComplaint(f"{name} must be at most {longest} characters")
    return value


def _count(ticket: Ticket, move: str) -> int:
    return sum(1 for h in ticket.history if h.move == move)


def _labels(ticket: Ticket) -> list[dict[str, Any]]:
    return [label.model_dump(mode="json") for label in ticket.routing_labels]


def _label(ticket: Ticket, kind: str, agency: str) -> dict[str, Any]:
    """A routing label for retraining: the text, the agency it ended with or left, and the model's category and
    service."""
    return {"kind": kind, "agency": agency, "category": ticket.category, "service": ticket.service, "at": now_iso()}


def _read_cursor(cursor: str | None, agency: str, status: str | None) -> dict[str, str] | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("cursor is not one this inbox gave out") from None
    expected_partition = {"agency_status": f"{agency}#{status}"} if status else {"agency": agency}
    if (
        not isinstance(key, dict)
        or set(key) != {"pk", "created_at", *expected_partition}
        or not all(isinstance(v, str) for v in key.values())
        or any(key[k] != v for k, v in expected_partition.items())
        or not key["pk"].startswith("ticket#")
    ):
        raise BadCursor("cursor is not one this inbox gave out (for this agency and these filters)")
    try:
        datetime.fromisoformat(key["created_at"].replace("Z", "+00:00"))
    except ValueError:
        raise BadCursor("cursor is not one this inbox gave out") from None
    return key


def _write_cursor(key: dict[str, str] | None) -> str | None:
    if key is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")

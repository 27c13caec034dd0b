"""Triage: the triage desk's dispatchers assign a ticket the model could not route, or an agency sent back, to the
agency that answers it (改派). The agency is notified as by any dispatch, through the outbox; the assignment is kept
as a routing label for retraining."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from complaints.city import City
from complaints.domain.desk.agency_work import MAX_REASON_CHARS, AgencyWork, _checked, _label, _labels, actor_of
from complaints.domain.desk.assignment import assigned
from complaints.domain.errors import InvalidComplaint, MoveNotAllowed, TicketNotFound
from complaints.domain.lifecycle import ON_BOARD
from complaints.domain.outbox import OutboxMessage
from complaints.domain.ports import TicketRepository
from complaints.domain.privacy import mask_personal_numbers
from complaints.domain.tickets import Actor, ActorKind, Status, Ticket, now_iso
from complaints.staff import StaffMember


@dataclass
class Triage:
    city: City
    tickets: TicketRepository
    work: AgencyWork

    def assign(self, staff: StaffMember, ticket_id: str, agency_id: str, note: str | None = None) -> dict[str, Any]:
        # Only the triage desk assigns; to anyone else this route holds no ticket.
        actor = self._triage_actor(staff)
        if agency_id not in self.city.agency_ids():
            raise InvalidComplaint(f"agency must be the id of one of the city's agencies, not {agency_id!r}")
        target = self.city.agency(agency_id)
        if target.kind != "department" and target.kind != "town":
            raise InvalidComplaint(f"{agency_id} is the triage desk; assign the ticket to an agency that answers it")
        if note is not None and len(note.strip()) > MAX_REASON_CHARS:
            raise InvalidComplaint(f"note must be at most {MAX_REASON_CHARS} characters")
        ticket = self.work._own(actor, ticket_id)
        if ticket.status is Status.RETURNED:  # the return's own request died before its second step
            with contextlib.suppress(MoveNotAllowed):
                self.tickets.return_to_triage(ticket.id, desk=actor.agency)
        fields = assigned(self.city, ticket, agency_id)
        fields["routing_labels"] = [*_labels(ticket), {**_label(ticket, "assigned", agency_id)}]
        message = OutboxMessage(
            ticket_id=ticket.id,
            ticket_no=ticket.ticket_no,
            key=f"dispatch-{sum(1 for h in ticket.history if h.move == 'reassign') + 1}",
            kind="dispatched",
            audience="agency",
            agency=agency_id,
            note=(note or "").strip() or None,
            created_at=now_iso(),
        )
        self.tickets.reassign(
            ticket.id,
            actor,
            target.name,
            (note or "").strip() or None,
            fields=fields,
            expect={"agency": actor.agency},
            messages=[message],
        )
        return {"id": ticket.id, "ticket_no": ticket.ticket_no, "status": Status.DISPATCHED.value, "agency": agency_id}

    # ---------------------------------------------------------------- moderation of the public board
    def hide(self, staff: StaffMember, ticket_id: str, reason: str) -> dict[str, Any]:
        """Take a ticket off the public board (the board keeps its number, category, district and status only),
        with the reason in its history. Any ticket on the board, in whichever agency's inbox."""
        return self._moderate(staff, ticket_id, reason, hide=True)

    def unhide(self, staff: StaffMember, ticket_id: str, reason: str) -> dict[str, Any]:
        """Put a hidden ticket back on the public board, with the reason in its history."""
        return self._moderate(staff, ticket_id, reason, hide=False)

    def _moderate(self, staff: StaffMember, ticket_id: str, reason: str, hide: bool) -> dict[str, Any]:
        actor = self._triage_actor(staff)
        reason = _checked(reason, "reason", MAX_REASON_CHARS)
        ticket = self._on_board(ticket_id)
        move = "hide" if hide else "unhide"
        if bool(ticket.hidden) == hide:
            already = "hidden from" if hide else "shown on"
            raise MoveNotAllowed(f"the ticket is {already} the public board already", move, ticket.status.value)
        if hide:
            self.tickets.hide(ticket.id, actor, reason, ticket.status)
        else:
            self.tickets.unhide(ticket.id, actor, reason, ticket.status)
        view = self.work._staff_view(self._on_board(ticket.id), actor)
        if ticket.agency != actor.agency:
            # Another agency's ticket: the triage desk reads it with personal numbers masked (privacy.py).
            view["text"] = mask_personal_numbers(view["text"])
        return view

    def _triage_actor(self, staff: StaffMember) -> Actor:
        actor = actor_of(staff)
        if actor.kind is not ActorKind.TRIAGE:
            raise TicketNotFound("no such ticket in your agency's inbox")
        return actor

    def _on_board(self, ticket_id: str) -> Ticket:
        ticket = self.tickets.get(ticket_id) if _is_ticket_id(ticket_id) else None
        if ticket is None or ticket.status not in ON_BOARD:
            raise TicketNotFound("no such ticket on the public board")
        return ticket


def _is_ticket_id(value: str) -> bool:
    return len(value or "") == 32 and set(value) <= set("0123456789abcdef")

"""Triage: the triage desk's dispatchers assign a ticket the model could not route, or an agency sent back, to the
agency that answers it (改派). The agency is notified as by any dispatch, through the outbox; the assignment is kept
as a routing label for retraining."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from complaints.city import City
from complaints.domain.desk.agency_work import MAX_REASON_CHARS, AgencyWork, _label, _labels, actor_of
from complaints.domain.desk.assignment import assigned
from complaints.domain.errors import InvalidComplaint, MoveNotAllowed, TicketNotFound
from complaints.domain.outbox import OutboxMessage
from complaints.domain.ports import TicketRepository
from complaints.domain.tickets import ActorKind, Status, now_iso
from complaints.staff import StaffMember


@dataclass
class Triage:
    city: City
    tickets: TicketRepository
    work: AgencyWork

    def assign(self, staff: StaffMember, ticket_id: str, agency_id: str, note: str | None = None) -> dict[str, Any]:
        actor = actor_of(staff)
        if actor.kind is not ActorKind.TRIAGE:
            # Only the triage desk assigns; to anyone else this route holds no ticket.
            raise TicketNotFound("no such ticket in your agency's inbox")
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

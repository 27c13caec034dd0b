"""The citizen's rating of an answer (评价), on the national 好差评 scale: 1 非常不满意 … 5 非常满意.

Once per answer, only while the ticket is `answered`. Satisfied (score 3 or more, and resolved) closes the ticket
(办结). Not satisfied (score 2 or less, or not resolved) reopens it (重办) to the same agency with the comment, which
is notified, and the citizen is told; after the city's limit of reopenings it goes to the triage desk instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from complaints.city import City
from complaints.domain import clock
from complaints.domain.desk.assignment import assigned
from complaints.domain.desk.intake import Intake
from complaints.domain.errors import InvalidComplaint, MoveNotAllowed
from complaints.domain.lifecycle import MOVES, NOTHING_DUE
from complaints.domain.outbox import OutboxMessage
from complaints.domain.ports import TicketRepository
from complaints.domain.tickets import Actor, ActorKind, Rating, Ticket, now_iso

CITIZEN = Actor(kind=ActorKind.CITIZEN)
MAX_COMMENT_CHARS = 500
# The lowest score that counts as satisfied; below it, or not resolved, the ticket is reopened.
SATISFIED_FROM = 3


@dataclass
class Citizen:
    city: City
    tickets: TicketRepository
    intake: Intake  # for the receipt check, the same as viewing a ticket

    def rate(
        self, ticket_id: str, receipt: str | None, score: int, resolved: bool, comment: str | None = None
    ) -> dict[str, Any]:
        ticket = self.intake.ticket_for_citizen(ticket_id, receipt)
        comment = (comment or "").strip() or None
        if comment and len(comment) > MAX_COMMENT_CHARS:
            raise InvalidComplaint(f"comment must be at most {MAX_COMMENT_CHARS} characters")
        if ticket.status not in MOVES["close"].sources:  # a rating closes or reopens an answered ticket
            raise MoveNotAllowed(
                f"the ticket is {ticket.status.value}; only an answered ticket can be rated",
                "rate",
                ticket.status.value,
            )
        rating = Rating(score=score, resolved=resolved, comment=comment, at=now_iso(), answer=len(ticket.answers))
        ratings = [*(r.model_dump(mode="json") for r in ticket.ratings), rating.model_dump(mode="json")]
        # The move needs the ticket still `answered` and in the same inbox: a second rating of this answer loses.
        expect = {"agency": ticket.agency}
        if score >= SATISFIED_FROM and resolved:
            self.tickets.close(
                ticket.id, CITIZEN, f"评价 {score} 分", agency=ticket.agency, fields={"ratings": ratings}, expect=expect
            )
        else:
            unsatisfied = f"评价 {score} 分" + ("" if resolved else "，未解决")
            self._reopen(ticket, ratings, comment or unsatisfied)
        return self.intake.citizen_view(ticket_id, receipt)

    def _reopen(self, ticket: Ticket, ratings: list[dict], reason: str) -> None:
        limit = self.city.limits_for(ticket.category, ticket.service).reopen_limit
        count = ticket.reopen_count + 1
        to_citizen = OutboxMessage(
            ticket_id=ticket.id,
            ticket_no=ticket.ticket_no,
            key=f"reopen-{count}",
            kind="reopened",
            audience="citizen",
            created_at=now_iso(),
        )
        messages = [to_citizen] if ticket.contact_sealed else []
        if count <= limit:
            # Back to the same agency, with new deadlines from now.
            fields = {
                "ratings": ratings,
                "reopen_count": count,
                **assigned(self.city, ticket, ticket.agency, clock.now()),
            }
            to_agency = to_citizen.model_copy(
                update={"key": f"reopen-{count}-agency", "audience": "agency", "agency": ticket.agency, "note": reason}
            )
            self.tickets.reopen(
                ticket.id,
                CITIZEN,
                reason,
                fields=fields,
                expect={"agency": ticket.agency},
                messages=[*messages, to_agency],
            )
            return
        # Past the limit: reopened, and then to the triage desk, which decides who should take it from here.
        desk = self.city.triage_desk()
        to_desk = to_citizen.model_copy(
            update={
                "key": f"reopen-{count}-triage",
                "kind": "to_triage",
                "audience": "triage",
                "agency": desk.id,
                "note": f"重办已达 {limit} 次上限: {reason}",
            }
        )
        fields = {"ratings": ratings, "reopen_count": count, "agency": desk.id, "triage_reason": None, **NOTHING_DUE}
        self.tickets.reopen_past_limit(
            ticket.id, CITIZEN, reason, fields=fields, expect={"agency": ticket.agency}, messages=[*messages, to_desk]
        )

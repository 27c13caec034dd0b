"""Deadlines: the scheduled run that acts on what fell due (EventBridge, every few minutes).

It reads the `due` index — tickets with something due at or before now, soonest first, never a scan — and for each:
- not signed for in time (`accept`) → a reminder (催办) to the agency; then the answer deadline is what is due;
- not answered by the deadline (`answer`) → `overdue`, and an escalation (督办) to the triage desk;
- the rating window over (`rating`) → closed without a rating (办结), and the citizen told.

Each action is one conditional write that expects the ticket's `due_at` unchanged, with its message in the same
transaction: two overlapping runs, or a run and the agency answering at that moment, never act twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from complaints.city import City
from complaints.domain import clock
from complaints.domain.desk.assignment import parse, utc_iso
from complaints.domain.errors import MoveNotAllowed
from complaints.domain.lifecycle import NOTHING_DUE, due
from complaints.domain.outbox import OutboxMessage
from complaints.domain.ports import TicketRepository
from complaints.domain.tickets import SYSTEM, Status, Ticket, now_iso

log = logging.getLogger("complaints")

# Tickets acted on per run at most; the rest wait for the next run (a run must end within its timeout).
BATCH = 200
REMIND_NOTE = "超过签收时限未签收，已催办"
ESCALATE_NOTE = "超过答复时限未答复，已督办"
CLOSE_NOTE = "评价期满未评价，自动办结"


@dataclass
class DueRun:
    reminded: int = 0
    escalated: int = 0
    closed: int = 0
    skipped: int = 0  # moved on meanwhile (answered, reassigned…): nothing to do
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "reminded": self.reminded,
            "escalated": self.escalated,
            "closed": self.closed,
            "skipped": self.skipped,
            "errors": len(self.errors),
        }


@dataclass
class Deadlines:
    city: City
    tickets: TicketRepository

    def run(self) -> DueRun:
        out = DueRun()
        for ticket_id in self.tickets.due_before(utc_iso(clock.now()), BATCH):
            ticket = self.tickets.get(ticket_id)
            if ticket is None or not ticket.due_at:
                out.skipped += 1
                continue
            try:
                self._act(ticket, out)
            except MoveNotAllowed:
                out.skipped += 1  # the ticket changed between the read and the write: the next run sees it afresh
            except Exception as e:  # one ticket's failure must not stop the others; the run reports it
                log.exception("acting on a due ticket failed", extra={"ticket_id": ticket_id})
                out.errors.append(f"{ticket_id}: {type(e).__name__}")
        log.info("deadlines run", extra=out.as_dict())
        return out

    def _act(self, t: Ticket, out: DueRun) -> None:
        # Every move keeps `due` right (accept: the answer; answer: the rating; close, return: nothing), so a state
        # not listed here is not expected; it is skipped, and the log says so.
        expect = {"due_at": t.due_at}
        unanswered = (Status.DISPATCHED, Status.ACCEPTED, Status.REOPENED)
        if t.due == "accept" and t.status in (Status.DISPATCHED, Status.REOPENED):
            n = sum(1 for h in t.history if h.move == "remind") + 1
            message = self._message(t, f"remind-{n}", "reminder", "agency", t.agency, REMIND_NOTE)
            answer_by = due("answer", utc_iso(parse(t.deadlines.answer_by)))
            self.tickets.remind(t.id, REMIND_NOTE, t.status, fields=answer_by, expect=expect, messages=[message])
            out.reminded += 1
        elif t.due == "answer" and t.status in unanswered:
            n = sum(1 for h in t.history if h.move == "escalate") + 1
            desk = self.city.triage_desk().id
            note = f"{ESCALATE_NOTE}（{self.city.agency(t.agency).name}，时限 {t.deadlines.answer_by}）"
            message = self._message(t, f"escalate-{n}", "escalation", "triage", desk, note)
            fields = {"overdue": True, **NOTHING_DUE}
            self.tickets.escalate(t.id, ESCALATE_NOTE, t.status, fields=fields, expect=expect, messages=[message])
            out.escalated += 1
        elif t.due == "rating" and t.status is Status.ANSWERED:
            messages = [self._message(t, "closed", "closed_unrated", "citizen", None, None)] if t.contact_sealed else []
            self.tickets.close(t.id, SYSTEM, CLOSE_NOTE, agency=t.agency, expect=expect, messages=messages)
            out.closed += 1
        else:
            log.warning("a due ticket in an unexpected state", extra={"ticket_id": t.id, "status": t.status.value})
            out.skipped += 1

    def _message(self, t: Ticket, key: str, kind: str, audience: str, agency: str | None, note: str | None):
        return OutboxMessage(
            ticket_id=t.id,
            ticket_no=t.ticket_no,
            key=key,
            kind=kind,
            audience=audience,
            agency=agency,
            note=note,
            created_at=now_iso(),
        )

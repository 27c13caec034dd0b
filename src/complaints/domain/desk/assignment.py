"""What a ticket carries when it lands in an agency's inbox: its deadlines, and what the scheduler must watch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from complaints.city import City
from complaints.domain import clock
from complaints.domain.deadlines import deadlines_for, rating_closes_at
from complaints.domain.lifecycle import due
from complaints.domain.tickets import Ticket, TicketDeadlines


def utc_iso(at: datetime) -> str:
    """An instant as the `due` index sorts it: UTC, milliseconds, `Z`."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_iso(city: City, at: datetime) -> str:
    """An instant as citizens and staff read it: the city's time, with its offset."""
    return city.calendar.local(at).isoformat(timespec="seconds")


def assigned(city: City, ticket: Ticket, agency_id: str, at: datetime | None = None) -> dict[str, Any]:
    """The fields of a ticket dispatched to `agency_id` now (or at `at`): the inbox it is in, the time to sign
    for it and to answer it on the city's calendar, and the reminder the scheduler is to send if nobody signs."""
    at = at or clock.now()
    found = deadlines_for(city.calendar, city.limits_for(ticket.category, ticket.service), at)
    deadlines = TicketDeadlines(
        accept_by=local_iso(city, found.accept_by),
        answer_by=local_iso(city, found.answer_by),
        calendar_known=found.calendar_known,
    )
    return {
        "agency": agency_id,
        "department": city.agency(agency_id).name,
        "deadlines": deadlines.model_dump(mode="json"),
        "overdue": None,
        "extension": None,
        **due("accept", utc_iso(found.accept_by)),
    }


def answered(city: City, ticket: Ticket, at: datetime) -> dict[str, Any]:
    """The fields of a ticket just answered: the rating window, which the scheduler closes when it passes."""
    rate_by = rating_closes_at(city.limits_for(ticket.category, ticket.service), at)
    deadlines = (ticket.deadlines or TicketDeadlines()).model_copy(update={"rate_by": local_iso(city, rate_by)})
    return {"deadlines": deadlines.model_dump(mode="json"), "overdue": None, **due("rating", utc_iso(rate_by))}


def parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))

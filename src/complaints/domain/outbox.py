"""The outbox: messages a move owes somebody, written in the same transaction as the move.

A move that must tell the citizen (an answer, a reopening, a closing without rating) or an agency (a reopened or
reassigned ticket, a reminder, an escalation) creates an OutboxMessage along with its own change, atomically: either
both are stored or neither. The messenger function reads each new message from the table's stream and sends it, once
per delivery (desk/messenger.py). A message's key is unique per ticket and event (`answer-1`, `reopen-2`), so the
same event can never be queued twice.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

# What happened, in the message's words (desk/messenger.py renders each).
MessageKind = Literal[
    "received",  # to a WeChat citizen: the ticket number of the complaint they sent (WeChat only)
    "answered",  # to the citizen: the agency answered (答复), read and rate it
    "reopened",  # to the citizen: the rating reopened the ticket; to the agency: it is back (重办)
    "closed_unrated",  # to the citizen: the rating window passed, closed without a rating
    "dispatched",  # to the agency (and its town's copy): a ticket assigned by the triage desk (改派)
    "to_triage",  # to the triage desk: a returned ticket (退单), or one past the reopen limit
    "reminder",  # to the agency: not signed for in time (催办)
    "escalation",  # to the triage desk: not answered by the deadline (督办)
]
Audience = Literal["citizen", "agency", "triage"]


class OutboxMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: str
    ticket_no: int
    key: str  # unique per ticket: the event and its count
    kind: MessageKind
    audience: Audience
    agency: str | None = None  # for the agency audience: whose subscriptions get it
    note: str | None = None  # the reason or comment the message passes on (a return's reason, a rating's comment)
    created_at: str


def message_key(ticket_id: str, key: str) -> str:
    """The table key of a ticket's message."""
    return f"message#{ticket_id}#{key}"


# A message's `agency` is stored as `to_agency`: the tickets table's `inbox` index holds every item with an `agency`
# and a `created_at`, and an agency's inbox must list its tickets, not the notices about them.
STORED_AGENCY = "to_agency"


def stored_fields(message: OutboxMessage) -> dict[str, Any]:
    """The message's attributes as its table item holds them."""
    fields = message.model_dump(mode="json", exclude_none=True)
    if "agency" in fields:
        fields[STORED_AGENCY] = fields.pop("agency")
    return fields


def from_stored(item: dict[str, Any]) -> OutboxMessage:
    """The message a table item (or a stream record's image of it) holds; other attributes (pk, deliveries) aside."""
    fields = {k: v for k, v in item.items() if k in OutboxMessage.model_fields}
    if STORED_AGENCY in item:
        fields["agency"] = item[STORED_AGENCY]
    return OutboxMessage.model_validate(fields)

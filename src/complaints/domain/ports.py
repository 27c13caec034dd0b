"""What the desk needs from the outside world. Adapters implement these; the domain never sees boto3."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from complaints.domain.outbox import OutboxMessage
from complaints.domain.tickets import Actor, LabelledTicket, Ticket, TicketPhoto


class TicketRepository(Protocol):
    def next_ticket_no(self) -> int:
        """A new ticket number, unique and increasing (an atomic counter)."""

    def create(self, ticket: Ticket, messages: Sequence[OutboxMessage] = ()) -> None:
        """Store a new ticket, and the outbox messages it owes at once in the same transaction; fails if the id
        exists."""

    def get(self, ticket_id: str) -> Ticket | None: ...

    def delete(self, ticket_id: str) -> None: ...

    # The moves of lifecycle.MOVES, one method each (lifecycle.TicketMoves implements them over the adapter's one
    # conditional write). Each raises MoveNotAllowed, changing nothing, when the ticket is not in a state the move
    # starts from (another worker or actor got there first), or the routing claim is not the expected one.
    def attach_photo(self, ticket_id: str, fields: dict[str, Any]) -> None:
        """awaiting_photo → received: the uploaded photo was processed; `fields` are what it sets."""

    def refuse_photo(self, ticket_id: str, photo: TicketPhoto) -> None:
        """awaiting_photo → photo_rejected, with the reason in `photo`."""

    def end_photo_wait(self, ticket_id: str, photo: TicketPhoto) -> None:
        """awaiting_photo → received: no photo came in time (`photo` says so)."""

    def record_classification(self, ticket_id: str, fields: dict[str, Any], note: str) -> None:
        """received | photo_rejected → classified, with the category and district fields."""

    def claim_routing(self, ticket_id: str, claim: str) -> None:
        """classified → routing, held by `claim` since now, if no other worker holds it. No history: a lease."""

    def take_over_routing(self, ticket_id: str, claim: str, stale_claim: str | None) -> None:
        """routing → routing: a claim whose lease is over becomes `claim`'s, if it is still `stale_claim`."""

    def release_routing(self, ticket_id: str, claim: str, notified: list[str] | None = None) -> None:
        """routing → classified, for a retry; `notified`: the audiences whose notice went out already."""

    def record_dispatched(self, ticket_id: str, claim: str, note: str | None) -> None:
        """routing → dispatched, if `claim` still holds it."""

    def record_sent_to_triage(self, ticket_id: str, claim: str, note: str | None, reason: str | None) -> None:
        """routing → triage, with the triage reason, if `claim` still holds it."""

    # The answer loop's moves take, besides their own arguments, `fields` (what else the move sets: deadlines,
    # answers, ratings, the inbox it lands in), `expect` (what must still hold: the inbox it is in, the time that
    # fell due) and `messages` (the outbox messages it owes, written in the same transaction).
    def accept(self, ticket_id: str, actor: Actor, note: str | None = None, agency: str | None = None, **changes):
        """dispatched | reopened → accepted (签收), by the agency holding it."""

    def answer(self, ticket_id: str, actor: Actor, answer: str, agency: str | None = None, **changes) -> None:
        """accepted → answered (答复), by the agency holding it."""

    def return_ticket(self, ticket_id: str, actor: Actor, reason: str, agency: str | None = None, **changes):
        """dispatched | accepted → returned (退单), by the agency holding it, with the reason."""

    def extend(self, ticket_id: str, actor: Actor, reason: str, agency: str, state: Any, **changes) -> None:
        """An extension (延期) of the answer deadline: an event, the state stays."""

    def return_to_triage(self, ticket_id: str, note: str | None = None, desk: str | None = None, **changes):
        """returned → triage, into the triage desk's inbox."""

    def reassign(self, ticket_id: str, actor: Actor, department: str, note: str | None = None, **changes) -> None:
        """triage → dispatched (改派), by the triage desk, to any agency's `department`."""

    def reopen(self, ticket_id: str, actor: Actor, reason: str, **changes) -> None:
        """answered → reopened (重办), by the citizen."""

    def reopen_past_limit(self, ticket_id: str, actor: Actor, reason: str, **changes) -> None:
        """answered → triage, by the citizen not satisfied once more than the city's reopen limit allows."""

    def close(self, ticket_id: str, actor: Actor, note: str | None = None, *, agency: str, **changes) -> None:
        """answered → closed (办结), by the citizen, or the system when the rating window passes; `agency` holds it
        (its inbox lists it closed from then on)."""

    def remind(self, ticket_id: str, note: str, state: Any, **changes) -> None:
        """A reminder (催办) to sign for the ticket: an event."""

    def escalate(self, ticket_id: str, note: str, state: Any, **changes) -> None:
        """An escalation (督办) of an unanswered ticket: an event."""

    def hide(self, ticket_id: str, actor: Actor, reason: str, state: Any) -> None:
        """Moderation: the triage desk takes the ticket off the public board (an event), if it is not hidden."""

    def unhide(self, ticket_id: str, actor: Actor, reason: str, state: Any) -> None:
        """Moderation: the triage desk puts a hidden ticket back on the public board (an event)."""

    # ---- the indexes
    def inbox(
        self, agency: str, status: str | None, overdue: bool, limit: int, cursor: dict[str, str] | None
    ) -> tuple[list[Ticket], dict[str, str] | None]:
        """A page of the agency's tickets, newest first (one state only if `status`; overdue only if `overdue`),
        and the cursor of the next page (None: this is the last)."""

    def due_before(self, at: str, limit: int = 100) -> list[str]:
        """The ids of the tickets with something due at or before `at` (UTC ISO 8601), soonest first."""

    def labelled(self, since: str | None = None, page_size: int = 500) -> Iterator[LabelledTicket]:
        """Every ticket with a routing label whose latest label is at or after `since` (UTC ISO 8601; None: all),
        oldest label first, read `page_size` at a time from the `labelled` index (never a scan)."""


class PhotoStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def read(self, key: str, max_bytes: int) -> bytes:
        """An object's bytes; PhotoTooLarge if it is larger than `max_bytes` (checked before reading it)."""

    def delete(self, key: str) -> None: ...

    def upload_form(self, key: str, content_type: str, max_bytes: int, expires_s: int) -> dict[str, Any]:
        """A presigned POST `{"url", "fields"}` that lets a browser or app store one object of this type and at
        most this size under `key`, until it expires."""

    def link(self, key: str, expires_s: int) -> str:
        """A time-limited link to a private object, for use right away (it may stop working sooner if the signing
        credentials expire first)."""

    def lasting_link(self, key: str, expires_s: int) -> str:
        """A link that works for exactly `expires_s` seconds (at most an hour), whatever the lifetime of the
        caller's own credentials: for a link sent in a message that is read later."""


class WorkQueue(Protocol):
    def send(self, body: dict[str, Any], delay_s: int = 0) -> None:
        """Queue a message; with `delay_s` (≤ 900, SQS's limit) it becomes visible only after that many seconds."""


class Notifier(Protocol):
    def publish(self, channel: str, subject: str, messages: dict[str, str], attributes: dict[str, str]) -> None:
        """Publish to the `dispatch` or `triage` channel; `messages` has one text per protocol plus `default`."""

    def publish_batch(self, channel: str, notices: list[Any]) -> list[str]:
        """Publish routing.Notice items in one call; the audiences of those that failed (raises if the call as a
        whole failed: then none went out)."""


class Classifier(Protocol):
    def predict(self, text: str) -> Any:
        """A Prediction with `category`, `confidence`, `top3` and `no_evidence` (True: the text holds too little in the
        model's language for any category to be more than a guess)."""


class ContactVault(Protocol):
    """Keeps citizens' contact details sealed (KMS in AWS): only the sealed form is stored with the ticket."""

    def seal(self, ticket_id: str, contact: dict[str, str]) -> str:
        """The contact details encrypted, bound to this ticket (another ticket's sealed value does not open)."""

    def open(self, ticket_id: str, sealed: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class Hit:
    """A board entry found in an index or a posting list: its sort key (`<created_at>#<ticket_no>`) and number."""

    order: str
    ticket_no: int


class BoardStore(Protocol):
    """The public board's entries (one per ticket number, plain JSON values) and search postings (desk.board)."""

    def entry(self, ticket_no: int, consistent: bool = False) -> dict[str, Any] | None:
        """The entry of this number; `consistent`: as last written (the projection compares against it)."""

    def entries(self, ticket_nos: list[int]) -> list[dict[str, Any]]:
        """The entries of these numbers that exist, in any order."""

    def save(self, entry: dict[str, Any]) -> bool:
        """Store the entry unless the stored one has a higher `version` (then False, nothing changed)."""

    def post(self, terms: list[str], order: str, ticket_no: int) -> None:
        """Add the entry (`order`, `ticket_no`) to the posting list of each of `terms`."""

    def unpost(self, terms: list[str], order: str) -> None:
        """Remove the entry from the posting list of each of `terms`."""

    def index_page(
        self, index: str, value: str, filters: dict[str, str], after: str | None, limit: int
    ) -> tuple[list[Hit], str | None]:
        """Read up to `limit` entries of `index` whose partition attribute is `value`, newest first, older than
        `after` (a sort key; None: from the newest); return those whose attributes hold `filters`' values, and the
        sort key of the last one read if the index may hold more (None: it was read to its end)."""

    def postings(self, term: str, after: str | None, limit: int) -> tuple[list[Hit], str | None]:
        """Up to `limit` postings of `term`, newest first, older than `after`; and the last one's sort key if there
        may be more (None: the list was read to its end)."""

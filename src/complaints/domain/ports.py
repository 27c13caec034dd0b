"""What the desk needs from the outside world. Adapters implement these; the domain never sees boto3."""

from __future__ import annotations

from typing import Any, Protocol

from complaints.domain.tickets import HistoryEntry, Status, Ticket


class TicketRepository(Protocol):
    def next_ticket_no(self) -> int:
        """A new ticket number, unique and increasing (an atomic counter)."""

    def create(self, ticket: Ticket) -> None:
        """Store a new ticket; fails if the id exists."""

    def get(self, ticket_id: str) -> Ticket | None: ...

    def delete(self, ticket_id: str) -> None: ...

    def transition(
        self,
        ticket_id: str,
        from_status: Status,
        entry: HistoryEntry,
        fields: dict[str, Any],
        expect: dict[str, Any] | None = None,
        record: bool = True,
    ) -> bool:
        """Move a ticket from `from_status` to `entry.status`, set `fields` (None removes one), append `entry` to
        its history unless `record` is False.

        Returns False (and changes nothing) when the ticket is no longer in `from_status`, or a field named in
        `expect` does not hold the expected value: another worker got there first, so the caller treats the step
        as done (or as not its own).
        """


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

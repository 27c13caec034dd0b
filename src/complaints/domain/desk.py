"""The complaint desk: accept a complaint, classify it, route it. One service used by every entry point."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import uuid
from dataclasses import dataclass

from complaints.city import City
from complaints.domain import routing
from complaints.domain.errors import TemporarilyUnavailable, TicketNotFound
from complaints.domain.photos import decode_base64_photo, prepare_photo
from complaints.domain.ports import Classifier, Notifier, PhotoStore, TicketRepository, WorkQueue
from complaints.domain.tickets import Channel, HistoryEntry, Location, Status, Ticket, now_iso

# One logger for the domain; the handlers give it their structured (JSON) Powertools configuration.
log = logging.getLogger("complaints")

_TICKET_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class NewComplaint:
    text: str
    channel: Channel = "app"
    photo_base64: str | None = None
    location: Location | None = None
    contact: dict[str, str] | None = None
    # Set by a channel with its own idempotency key (Weibo: derived from the mention id), so that after a crash
    # it finds the ticket it already created instead of making a second one. None: a fresh random id.
    ticket_id: str | None = None


@dataclass(frozen=True)
class Receipt:
    """What the citizen gets back. `receipt` is the secret that lets them follow the ticket."""

    id: str
    ticket_no: int
    status: str
    receipt: str


def hash_receipt(receipt: str) -> str:
    # Only a hash is stored: a leaked table does not let anyone read other people's tickets.
    return hashlib.sha256(receipt.encode("utf-8")).hexdigest()


@dataclass
class ComplaintDesk:
    """The domain service. Ports are injected; `None` means this function does not use that port."""

    city: City
    tickets: TicketRepository
    photos: PhotoStore | None = None
    classify_queue: WorkQueue | None = None
    route_queue: WorkQueue | None = None
    notifier: Notifier | None = None
    classifier: Classifier | None = None
    threshold: float = 0.6

    # ------------------------------------------------------------------ intake
    def submit(self, complaint: NewComplaint) -> Receipt:
        """Store a complaint and queue it for classification. All checks run before anything is stored."""
        photo = prepare_photo(decode_base64_photo(complaint.photo_base64)) if complaint.photo_base64 else None
        if complaint.ticket_id is not None and not _TICKET_ID.match(complaint.ticket_id):
            raise ValueError("ticket_id must be 32 lowercase hex digits")
        ticket_id = complaint.ticket_id or uuid.uuid4().hex
        receipt = secrets.token_urlsafe(24)  # 192 bits
        now = now_iso()
        photo_key = f"photos/{ticket_id}/display.jpg" if photo else None
        ticket = Ticket(
            id=ticket_id,
            ticket_no=self.tickets.next_ticket_no(),
            status=Status.RECEIVED,
            text=complaint.text,
            channel=complaint.channel,
            created_at=now,
            receipt_hash=hash_receipt(receipt),
            history=[HistoryEntry(status=Status.RECEIVED, at=now)],
            location=complaint.location,
            contact=complaint.contact,
            photo_key=photo_key,
        )
        stored_photo = stored_ticket = False
        try:
            if photo is not None and photo_key is not None:
                self.photos.put(photo_key, photo.data, photo.content_type)
                stored_photo = True
            self.tickets.create(ticket)
            stored_ticket = True
            self.classify_queue.send({"ticket_id": ticket_id})
        except Exception as e:
            # Nothing half-stored: undo what was kept, and tell the citizen to try again.
            log.exception("intake failed; undoing", extra={"ticket_id": ticket_id})
            if stored_ticket:
                self.tickets.delete(ticket_id)
            if stored_photo and photo_key is not None:
                self.photos.delete(photo_key)
            raise TemporarilyUnavailable("the complaint could not be stored; please try again") from e
        log.info("ticket received", extra={"ticket_id": ticket_id, "ticket_no": ticket.ticket_no})
        return Receipt(id=ticket_id, ticket_no=ticket.ticket_no, status=Status.RECEIVED.value, receipt=receipt)

    def ticket_for_citizen(self, ticket_id: str, receipt: str | None) -> Ticket:
        """The ticket, if the receipt matches. Unknown id and wrong receipt look the same from outside."""
        ticket = self.tickets.get(ticket_id) if _TICKET_ID.match(ticket_id or "") else None
        expected = ticket.receipt_hash if ticket else hash_receipt("")
        supplied = hash_receipt(receipt or "")
        if not hmac.compare_digest(expected, supplied) or ticket is None or not receipt:
            raise TicketNotFound("no ticket with this id and receipt")
        return ticket

    # ---------------------------------------------------------------- classify
    def classify(self, ticket_id: str) -> Status | None:
        """Classify a received ticket and queue it for routing. Safe to repeat for the same ticket."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            log.warning("classify: no such ticket", extra={"ticket_id": ticket_id})
            return None
        if ticket.status is Status.RECEIVED:
            prediction = self.classifier.predict(ticket.text)
            loc = ticket.location
            match = self.city.locate(ticket.text, loc.lat if loc else None, loc.lng if loc else None)
            department = self.city.department_for(prediction.category)
            fields = {
                "category": prediction.category,
                "confidence": prediction.confidence,
                "top3": [[c, p] for c, p in prediction.top3],
                "department": department.name if department else None,
                "district": match.district.name if match.district else None,
                "district_source": match.source,
            }
            note = f"{prediction.category} {prediction.confidence:.2f}"
            entry = HistoryEntry(status=Status.CLASSIFIED, at=now_iso(), note=note)
            if self.tickets.transition(ticket_id, Status.RECEIVED, entry, fields):
                ticket = ticket.model_copy(update={**fields, "status": Status.CLASSIFIED})
            else:
                ticket = self.tickets.get(ticket_id)  # another worker classified it meanwhile
        if ticket.status is Status.CLASSIFIED:
            # Also reached on a redelivery after a crash between the update and the send: routing is idempotent.
            self.route_queue.send({"ticket_id": ticket_id})
        log.info(
            "ticket classified",
            extra={
                "ticket_id": ticket_id,
                "category": ticket.category,
                "confidence": ticket.confidence,
                "district": ticket.district,
            },
        )
        return ticket.status

    # ------------------------------------------------------------------- route
    def route(self, ticket_id: str) -> Status | None:
        """Publish a classified ticket to `dispatch` (confident) or `triage`, and record it."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            log.warning("route: no such ticket", extra={"ticket_id": ticket_id})
            return None
        if ticket.status is not Status.CLASSIFIED:
            return ticket.status  # already routed: a redelivered message changes nothing
        decision = routing.decide(ticket, self.city, self.threshold)
        photo_link = self.photos.link(ticket.photo_key, routing.PHOTO_LINK_SECONDS) if ticket.photo_key else None
        email = routing.email_text(ticket, self.city, decision, photo_link)
        self.notifier.publish(
            decision.channel,
            routing.subject(ticket, self.city, decision),
            {"default": email, "email": email, "sms": routing.sms_text(ticket, self.city)},
            routing.attributes(ticket, decision),
        )
        status = Status.DISPATCHED if decision.channel == "dispatch" else Status.TRIAGE
        note = decision.department.name if status is Status.DISPATCHED and decision.department else decision.reason
        self.tickets.transition(ticket_id, Status.CLASSIFIED, HistoryEntry(status=status, at=now_iso(), note=note), {})
        log.info("ticket routed", extra={"ticket_id": ticket_id, "status": status.value})
        return status

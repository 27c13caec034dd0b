"""Intake: take a complaint from any channel (the API, Weibo), and show a ticket to the citizen holding its receipt."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from complaints.city import City
from complaints.domain.desk.photo_upload import derived_images, photo_fields, undo
from complaints.domain.errors import (
    InvalidComplaint,
    PhotoRejected,
    PhotoTooLarge,
    TemporarilyUnavailable,
    TicketNotFound,
)
from complaints.domain.outbox import OutboxMessage
from complaints.domain.photos import (
    KIND_BY_CONTENT_TYPE,
    MAX_UPLOAD_BYTES,
    decode_base64_photo,
    heic_supported,
    process_photo,
)
from complaints.domain.ports import ContactVault, PhotoStore, TicketRepository, WorkQueue
from complaints.domain.tickets import (
    Channel,
    HistoryEntry,
    Location,
    Status,
    Ticket,
    TicketPhoto,
    new_ticket_id,
    now_iso,
    photo_keys,
)

log = logging.getLogger("complaints")

_TICKET_ID = re.compile(r"^[0-9a-f]{32}$")
# A presigned upload form is valid this long (or as long as the ticket waits, if that is shorter).
UPLOAD_LINK_SECONDS = 600
# SQS delays a message by at most 15 minutes: the longest a ticket can wait for its photo.
MAX_PHOTO_WAIT_SECONDS = 900
# Links in the citizen's view of a ticket; they are signed afresh on every view.
CITIZEN_LINK_SECONDS = 3600


@dataclass(frozen=True)
class PhotoUpload:
    """A photo the citizen will send straight to S3: its declared type and size in bytes."""

    content_type: str
    size: int


@dataclass(frozen=True)
class NewComplaint:
    text: str
    channel: Channel = "app"
    photo_base64: str | None = None
    photo_upload: PhotoUpload | None = None
    location: Location | None = None
    contact: dict[str, str] | None = None
    # False: the public board shows only the number, category, district and status (the citizen's choice).
    public: bool = True
    # A district name of the city file, picked by the citizen: it is the ticket's district, whatever the location or
    # the text would suggest.
    district: str | None = None
    # Set by a channel that keeps its own record of the id (Weibo: chosen at random and kept in the mention's claim),
    # so that after a crash it finds the ticket it already created instead of making a second one. None: a fresh
    # random id.
    ticket_id: str | None = None
    # A service code of the city's catalogue, set by a channel that knows what the ticket is about (car moving hands
    # an unmoved car to the traffic police as jt05 乱停车): classification honours it instead of the model.
    service: str | None = None
    # The contact already sealed under the ticket id, by a channel that must not hold it in the clear until the
    # ticket is made (WeChat seals the OpenID when the message arrives). Instead of `contact`.
    contact_sealed: str | None = None
    # Tell the citizen the ticket number through the messenger (a `received` message, written with the ticket):
    # for a channel whose reply cannot carry it (WeChat answers before the ticket exists).
    tell_ticket_no: bool = False


@dataclass(frozen=True)
class Receipt:
    """What the citizen gets back. `receipt` is the secret that lets them follow the ticket; `upload` is the
    presigned form for the photo (`{"url", "fields", "expires_at"}`) when they asked to upload one."""

    id: str
    ticket_no: int
    status: str
    receipt: str
    upload: dict | None = None


def hash_receipt(receipt: str) -> str:
    # Only a hash is stored: a leaked table does not let anyone read other people's tickets.
    return hashlib.sha256(receipt.encode("utf-8")).hexdigest()


@dataclass
class Intake:
    city: City
    tickets: TicketRepository
    photos: PhotoStore
    classify_queue: WorkQueue
    contacts: ContactVault
    photo_wait_s: int = MAX_PHOTO_WAIT_SECONDS

    def submit(self, complaint: NewComplaint) -> Receipt:
        """Store a complaint and queue it for classification. All checks run before anything is stored.

        With an inline photo, its derived images are stored with the ticket. With `photo_upload`, the ticket
        waits in `awaiting_photo` for the upload (see `attach_uploaded_photo`); a delayed message classifies it
        anyway once the wait is over, so a photo that never comes holds nothing up for long.
        """
        photo = process_photo(decode_base64_photo(complaint.photo_base64)) if complaint.photo_base64 else None
        upload = complaint.photo_upload
        if upload is not None:
            _check_upload(upload)
        if complaint.district is not None and self.city.district_by_name(complaint.district) is None:
            raise InvalidComplaint("district must be the name of one of the city's districts")
        if complaint.service is not None and self.city.service(complaint.service) is None:
            raise ValueError("service must be a service code of the city's catalogue")
        if complaint.ticket_id is not None and not _TICKET_ID.match(complaint.ticket_id):
            raise ValueError("ticket_id must be 32 lowercase hex digits")
        ticket_id = complaint.ticket_id or new_ticket_id()
        receipt = secrets.token_urlsafe(24)  # 192 bits
        now = now_iso()
        status = Status.AWAITING_PHOTO if upload else Status.RECEIVED
        try:
            ticket_no = self.tickets.next_ticket_no()
        except Exception as e:  # nothing stored yet; a number lost to a failure is a gap, never a duplicate
            log.exception("no ticket number; nothing stored", extra={"ticket_id": ticket_id})
            raise TemporarilyUnavailable("the complaint could not be stored; please try again") from e
        ticket = Ticket(
            id=ticket_id,
            ticket_no=ticket_no,
            status=status,
            text=complaint.text,
            channel=complaint.channel,
            created_at=now,
            receipt_hash=hash_receipt(receipt),
            history=[HistoryEntry(status=status, at=now)],
            location=complaint.location.model_copy(update={"source": "app"}) if complaint.location else None,
            public=complaint.public,
            district=complaint.district,
            district_source="citizen" if complaint.district else None,
            service=complaint.service,
            service_source="channel" if complaint.service else None,
        )
        form = None
        if photo is not None:
            ticket = Ticket.model_validate({**ticket.model_dump(), **photo_fields(ticket, photo)})
        elif upload is not None:
            ticket = ticket.model_copy(
                update={"photo": TicketPhoto(status="awaiting_upload", content_type=upload.content_type)}
            )
            form = self._upload_form(ticket_id, upload)
        stored: list[str] = []
        try:
            if complaint.contact:
                ticket = ticket.model_copy(update={"contact_sealed": self.contacts.seal(ticket_id, complaint.contact)})
            elif complaint.contact_sealed:
                ticket = ticket.model_copy(update={"contact_sealed": complaint.contact_sealed})
            for key, image in derived_images(ticket_id, photo):
                self.photos.put(key, image.data, image.content_type)
                stored.append(key)
            self.tickets.create(ticket, [received_message(ticket)] if complaint.tell_ticket_no else [])
            stored.append("ticket")
            # The delayed message is the photo's deadline: it classifies the ticket if no photo came by then.
            self.classify_queue.send({"ticket_id": ticket_id}, delay_s=self.photo_wait_s if upload else 0)
        except Exception as e:
            # Nothing half-stored: undo what was kept, and tell the citizen to try again.
            log.exception("intake failed; undoing", extra={"ticket_id": ticket_id})
            undo(self.tickets, self.photos, ticket_id, stored)
            raise TemporarilyUnavailable("the complaint could not be stored; please try again") from e
        log.info("ticket received", extra={"ticket_id": ticket_id, "ticket_no": ticket.ticket_no})
        return Receipt(id=ticket_id, ticket_no=ticket.ticket_no, status=status.value, receipt=receipt, upload=form)

    def _upload_form(self, ticket_id: str, upload: PhotoUpload) -> dict:
        expires_s = min(UPLOAD_LINK_SECONDS, self.photo_wait_s)
        form = self.photos.upload_form(photo_keys(ticket_id)["original"], upload.content_type, upload.size, expires_s)
        expires_at = datetime.now(UTC) + timedelta(seconds=expires_s)
        return {**form, "expires_at": expires_at.isoformat(timespec="seconds").replace("+00:00", "Z")}

    def ticket_for_citizen(self, ticket_id: str, receipt: str | None) -> Ticket:
        """The ticket, if the receipt matches. Unknown id and wrong receipt look the same from outside."""
        try:
            ticket = self.tickets.get(ticket_id) if _TICKET_ID.match(ticket_id or "") else None
        except Exception as e:
            log.exception("ticket could not be read", extra={"ticket_id": ticket_id})
            raise TemporarilyUnavailable("the ticket cannot be read right now; please try again") from e
        expected = ticket.receipt_hash if ticket else hash_receipt("")
        supplied = hash_receipt(receipt or "")
        if not hmac.compare_digest(expected, supplied) or ticket is None or not receipt:
            raise TicketNotFound("no ticket with this id and receipt")
        return ticket

    def citizen_view(self, ticket_id: str, receipt: str | None) -> dict:
        """The ticket as its citizen sees it, with fresh time-limited links to the photo's derived images."""
        ticket = self.ticket_for_citizen(ticket_id, receipt)
        links = None
        if ticket.photo is not None and ticket.photo.status == "ready":
            keys = photo_keys(ticket.id)
            links = {name: self.photos.link(keys[name], CITIZEN_LINK_SECONDS) for name in ("display", "thumbnail")}
        return ticket.to_public(links)


def received_message(ticket: Ticket) -> OutboxMessage:
    return OutboxMessage(
        ticket_id=ticket.id,
        ticket_no=ticket.ticket_no,
        key="received",
        kind="received",
        audience="citizen",
        created_at=ticket.created_at,
    )


def _check_upload(upload: PhotoUpload) -> None:
    if upload.content_type not in KIND_BY_CONTENT_TYPE:
        raise PhotoRejected(f"photo_upload.content_type must be one of {', '.join(KIND_BY_CONTENT_TYPE)}")
    if upload.content_type == "image/heic" and not heic_supported():
        raise PhotoRejected("HEIC photos are not supported here; send a JPEG, PNG or WebP")
    if upload.size > MAX_UPLOAD_BYTES:
        raise PhotoTooLarge(f"photo is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")

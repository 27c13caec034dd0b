"""Photos uploaded straight to S3: process one and let its ticket go on, or stop waiting for one that never came.

Also the photo steps intake shares: which derived images a ticket stores, what a processed photo sets on the
ticket, and undoing what was stored when a later step fails.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass

from complaints.domain.errors import MoveNotAllowed, PhotoRejected, PhotoTooLarge
from complaints.domain.photos import KIND_BY_CONTENT_TYPE, MAX_UPLOAD_BYTES, DerivedImage, ProcessedPhoto, process_photo
from complaints.domain.ports import PhotoStore, TicketRepository, WorkQueue
from complaints.domain.tickets import Location, Status, Ticket, TicketPhoto, photo_keys

log = logging.getLogger("complaints")

_ORIGINAL_KEY = re.compile(r"^originals/([0-9a-f]{32})$")


@dataclass
class PhotoUploads:
    tickets: TicketRepository
    photos: PhotoStore
    classify_queue: WorkQueue
    keep_photo_originals: bool = False

    def attach_uploaded_photo(self, key: str) -> Status | None:
        """Process a photo uploaded straight to S3 (`originals/<ticket id>`), then queue the ticket's classification.

        A refused photo moves the ticket to `photo_rejected`, with the reason; it is classified all the same.
        Safe to repeat: a ticket no longer waiting for its photo (processed, refused, or tired of waiting) is left
        as it is, and the late original is deleted.
        """
        m = _ORIGINAL_KEY.match(key)
        ticket = self.tickets.get(m.group(1)) if m else None
        if ticket is None or ticket.status is not Status.AWAITING_PHOTO or ticket.photo is None:
            log.warning("uploaded photo has no ticket waiting for it", extra={"key": key})
            if ticket is None or not self.keep_photo_originals:
                self.photos.delete(key)
            return ticket.status if ticket else None
        try:
            data = self.photos.read(key, MAX_UPLOAD_BYTES)
            photo = process_photo(data, declared=KIND_BY_CONTENT_TYPE.get(ticket.photo.content_type or ""))
        except (PhotoRejected, PhotoTooLarge) as e:
            return self._refuse(ticket, e.message)
        stored: list[str] = []
        try:
            for derived_key, image in derived_images(ticket.id, photo):
                self.photos.put(derived_key, image.data, image.content_type)
                stored.append(derived_key)
            self.tickets.attach_photo(ticket.id, photo_fields(ticket, photo))
        except MoveNotAllowed:  # the wait ended while we worked: the ticket went on without the photo
            undo(self.tickets, self.photos, ticket.id, stored)
        except Exception:
            undo(self.tickets, self.photos, ticket.id, stored)
            raise
        return self._done(ticket.id, key)

    def _refuse(self, ticket: Ticket, reason: str) -> Status | None:
        log.info("uploaded photo refused", extra={"ticket_id": ticket.id, "reason": reason})
        photo = ticket.photo.model_copy(update={"status": "rejected", "reason": reason})
        with contextlib.suppress(MoveNotAllowed):  # the wait ended meanwhile: the ticket went on without the photo
            self.tickets.refuse_photo(ticket.id, photo)
        return self._done(ticket.id, photo_keys(ticket.id)["original"], keep=False)

    def _done(self, ticket_id: str, original_key: str, keep: bool | None = None) -> Status | None:
        self.classify_queue.send({"ticket_id": ticket_id})
        if not (self.keep_photo_originals if keep is None else keep):
            self.photos.delete(original_key)
        ticket = self.tickets.get(ticket_id)
        log.info("uploaded photo handled", extra={"ticket_id": ticket_id, "status": ticket.status.value})
        return ticket.status


def end_photo_wait(tickets: TicketRepository, ticket: Ticket) -> Ticket:
    """The ticket, no longer waiting for its photo: the wait is over (the delayed message sent at intake came)."""
    reason = "no photo arrived in time"
    declared = ticket.photo.content_type if ticket.photo else None
    with contextlib.suppress(MoveNotAllowed):  # the photo came (or was refused) meanwhile
        tickets.end_photo_wait(ticket.id, TicketPhoto(status="missing", reason=reason, content_type=declared))
        log.info("no photo arrived; classifying without it", extra={"ticket_id": ticket.id})
    return tickets.get(ticket.id)


def derived_images(ticket_id: str, photo: ProcessedPhoto | None) -> list[tuple[str, DerivedImage]]:
    if photo is None:
        return []
    keys = photo_keys(ticket_id)
    return [(keys["display"], photo.display), (keys["thumbnail"], photo.thumbnail)]


def photo_fields(ticket: Ticket, photo: ProcessedPhoto) -> dict:
    """The ticket fields a processed photo sets: its status, and the location from its GPS if the ticket has none."""
    fields: dict = {"photo": TicketPhoto(status="ready", taken_at=photo.taken_at).model_dump(exclude_none=True)}
    if ticket.location is None and photo.gps is not None:
        fields["location"] = Location(lat=photo.gps[0], lng=photo.gps[1], source="photo_gps").model_dump()
    return fields


def undo(tickets: TicketRepository, photos: PhotoStore, ticket_id: str, stored: list[str]) -> None:
    """Delete what a failed step stored (photo keys, and "ticket" for the ticket itself), newest first."""
    for item in reversed(stored):
        try:
            tickets.delete(ticket_id) if item == "ticket" else photos.delete(item)
        except Exception:
            log.exception("undo failed", extra={"ticket_id": ticket_id})

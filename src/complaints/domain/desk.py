"""The complaint desk: accept a complaint, classify it, route it. One service used by every entry point."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from complaints.city import City
from complaints.domain import routing
from complaints.domain.errors import (
    PhotoRejected,
    PhotoTooLarge,
    RoutingInProgress,
    TemporarilyUnavailable,
    TicketNotFound,
)
from complaints.domain.photos import (
    KIND_BY_CONTENT_TYPE,
    MAX_UPLOAD_BYTES,
    DerivedImage,
    ProcessedPhoto,
    decode_base64_photo,
    heic_supported,
    process_photo,
)
from complaints.domain.ports import Classifier, ContactVault, Notifier, PhotoStore, TicketRepository, WorkQueue
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

# One logger for the domain; the handlers give it their structured (JSON) Powertools configuration.
log = logging.getLogger("complaints")

_TICKET_ID = re.compile(r"^[0-9a-f]{32}$")
_ORIGINAL_KEY = re.compile(r"^originals/([0-9a-f]{32})$")
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
    # Set by a channel that keeps its own record of the id (Weibo: chosen at random and kept in the mention's claim),
    # so that after a crash it finds the ticket it already created instead of making a second one. None: a fresh
    # random id.
    ticket_id: str | None = None


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
class ComplaintDesk:
    """The domain service. Ports are injected; `None` means this function does not use that port."""

    city: City
    tickets: TicketRepository
    photos: PhotoStore | None = None
    classify_queue: WorkQueue | None = None
    route_queue: WorkQueue | None = None
    notifier: Notifier | None = None
    classifier: Classifier | None = None
    contacts: ContactVault | None = None
    threshold: float = 0.6
    photo_wait_s: int = MAX_PHOTO_WAIT_SECONDS
    keep_photo_originals: bool = False
    # Longer than a route worker can live (the function timeout, 15 s): an older claim's worker is gone.
    routing_lease_s: float = 60

    # ------------------------------------------------------------------ intake
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
        )
        form = None
        if photo is not None:
            ticket = Ticket.model_validate({**ticket.model_dump(), **_photo_fields(ticket, photo)})
        elif upload is not None:
            ticket = ticket.model_copy(
                update={"photo": TicketPhoto(status="awaiting_upload", content_type=upload.content_type)}
            )
            form = self._upload_form(ticket_id, upload)
        stored: list[str] = []
        try:
            if complaint.contact:
                ticket = ticket.model_copy(update={"contact_sealed": self.contacts.seal(ticket_id, complaint.contact)})
            for key, image in _derived_images(ticket_id, photo):
                self.photos.put(key, image.data, image.content_type)
                stored.append(key)
            self.tickets.create(ticket)
            stored.append("ticket")
            # The delayed message is the photo's deadline: it classifies the ticket if no photo came by then.
            self.classify_queue.send({"ticket_id": ticket_id}, delay_s=self.photo_wait_s if upload else 0)
        except Exception as e:
            # Nothing half-stored: undo what was kept, and tell the citizen to try again.
            log.exception("intake failed; undoing", extra={"ticket_id": ticket_id})
            self._undo(ticket_id, stored)
            raise TemporarilyUnavailable("the complaint could not be stored; please try again") from e
        log.info("ticket received", extra={"ticket_id": ticket_id, "ticket_no": ticket.ticket_no})
        return Receipt(id=ticket_id, ticket_no=ticket.ticket_no, status=status.value, receipt=receipt, upload=form)

    def _upload_form(self, ticket_id: str, upload: PhotoUpload) -> dict:
        expires_s = min(UPLOAD_LINK_SECONDS, self.photo_wait_s)
        form = self.photos.upload_form(photo_keys(ticket_id)["original"], upload.content_type, upload.size, expires_s)
        expires_at = datetime.now(UTC) + timedelta(seconds=expires_s)
        return {**form, "expires_at": expires_at.isoformat(timespec="seconds").replace("+00:00", "Z")}

    def _undo(self, ticket_id: str, stored: list[str]) -> None:
        for item in reversed(stored):
            try:
                self.tickets.delete(ticket_id) if item == "ticket" else self.photos.delete(item)
            except Exception:
                log.exception("undo failed", extra={"ticket_id": ticket_id})

    # ------------------------------------------------------------ photo upload
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
            return self._refuse_uploaded_photo(ticket, e.message)
        stored: list[str] = []
        try:
            for derived_key, image in _derived_images(ticket.id, photo):
                self.photos.put(derived_key, image.data, image.content_type)
                stored.append(derived_key)
            entry = HistoryEntry(status=Status.RECEIVED, at=now_iso(), note="photo processed")
            moved = self.tickets.transition(ticket.id, Status.AWAITING_PHOTO, entry, _photo_fields(ticket, photo))
        except Exception:
            self._undo(ticket.id, stored)
            raise
        if not moved:  # the wait ended while we worked: the ticket went on without the photo
            self._undo(ticket.id, stored)
        return self._photo_done(ticket.id, key)

    def _refuse_uploaded_photo(self, ticket: Ticket, reason: str) -> Status | None:
        log.info("uploaded photo refused", extra={"ticket_id": ticket.id, "reason": reason})
        photo = ticket.photo.model_copy(update={"status": "rejected", "reason": reason})
        entry = HistoryEntry(status=Status.PHOTO_REJECTED, at=now_iso(), note=reason)
        self.tickets.transition(ticket.id, Status.AWAITING_PHOTO, entry, {"photo": photo.model_dump(exclude_none=True)})
        return self._photo_done(ticket.id, photo_keys(ticket.id)["original"], keep=False)

    def _photo_done(self, ticket_id: str, original_key: str, keep: bool | None = None) -> Status | None:
        self.classify_queue.send({"ticket_id": ticket_id})
        if not (self.keep_photo_originals if keep is None else keep):
            self.photos.delete(original_key)
        ticket = self.tickets.get(ticket_id)
        log.info("uploaded photo handled", extra={"ticket_id": ticket_id, "status": ticket.status.value})
        return ticket.status

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

    # ---------------------------------------------------------------- classify
    def classify(self, ticket_id: str) -> Status | None:
        """Classify a received ticket and queue it for routing. Safe to repeat for the same ticket."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            log.warning("classify: no such ticket", extra={"ticket_id": ticket_id})
            return None
        if ticket.status is Status.AWAITING_PHOTO:
            # The delayed message sent at intake: the wait for the photo is over.
            ticket = self._stop_waiting_for_photo(ticket)
        if ticket.status in (Status.RECEIVED, Status.PHOTO_REJECTED):
            prediction = self.classifier.predict(ticket.text)
            loc = ticket.location
            match = self.city.locate(ticket.text, loc.lat if loc else None, loc.lng if loc else None)
            fields = {
                **_category_fields(self.city, prediction),
                "no_evidence": prediction.no_evidence,
                "district": match.district.name if match.district else None,
                "district_source": match.source,
            }
            if prediction.no_evidence:
                # The model's guess is kept out of the ticket, where it would read as a suggestion; the log has it.
                log.info(
                    "no evidence for a category",
                    extra={
                        "ticket_id": ticket_id,
                        "guess": prediction.category,
                        "confidence": prediction.confidence,
                        "known_terms": prediction.evidence.known_terms,
                        "script_share": round(prediction.evidence.script_share, 2),
                    },
                )
                note = "无法判断类别"
            else:
                note = f"{prediction.category} {prediction.confidence:.2f}"
            entry = HistoryEntry(status=Status.CLASSIFIED, at=now_iso(), note=note)
            if self.tickets.transition(ticket_id, ticket.status, entry, fields):
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
                "no_evidence": ticket.no_evidence,
                "district": ticket.district,
            },
        )
        return ticket.status

    def _stop_waiting_for_photo(self, ticket: Ticket) -> Ticket:
        reason = "no photo arrived in time"
        declared = ticket.photo.content_type if ticket.photo else None
        photo = TicketPhoto(status="missing", reason=reason, content_type=declared)
        entry = HistoryEntry(status=Status.RECEIVED, at=now_iso(), note=reason)
        fields = {"photo": photo.model_dump(exclude_none=True)}
        if self.tickets.transition(ticket.id, Status.AWAITING_PHOTO, entry, fields):
            log.info("no photo arrived; classifying without it", extra={"ticket_id": ticket.id})
        return self.tickets.get(ticket.id)

    # ------------------------------------------------------------------- route
    def route(self, ticket_id: str) -> Status | None:
        """Publish a classified ticket to `dispatch` (confident) or `triage`, once, and record it.

        Exactly once per ticket, whatever SQS redelivers and however many workers race: the worker first claims the
        ticket (a conditional `classified → routing`), publishes, then records `dispatched`/`triage`. A worker
        that loses the race, or finds the ticket already routed, publishes nothing. A publish that fails releases
        the claim and raises, so SQS retries the message (and moves it to the dead-letter queue, whose alarm calls
        an operator, if it keeps failing). A claim older than `routing_lease_s` belonged to a worker that died
        between claiming and recording: whether it published is unknown, so the ticket goes to the human triage
        desk with that said, never to the agency a second time.
        """
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            log.warning("route: no such ticket", extra={"ticket_id": ticket_id})
            return None
        if ticket.status is Status.ROUTING:
            if (ticket.routing_since or "") > _iso_ago(self.routing_lease_s):
                # Another worker holds it now; retry later (SQS redelivers) rather than acknowledge: if that
                # worker dies, this message is what finishes the ticket.
                raise RoutingInProgress(f"ticket {ticket_id} is being routed by another worker")
            return self._route_interrupted(ticket)
        if ticket.status is not Status.CLASSIFIED:
            return ticket.status  # already routed: a redelivered message changes nothing
        claim = secrets.token_hex(8)
        if not self._claim(ticket, Status.CLASSIFIED, claim):
            raise RoutingInProgress(f"ticket {ticket_id} was claimed by another worker")
        decision = routing.decide(ticket, self.city, self.threshold)
        try:
            self._publish(ticket, decision)
        except Exception as e:
            log.exception("publish failed; releasing the ticket for a retry", extra={"ticket_id": ticket_id})
            released = HistoryEntry(status=Status.CLASSIFIED, at=now_iso())
            fields = {**_NO_CLAIM, "notified": e.notified} if isinstance(e, PartlyPublished) else _NO_CLAIM
            self.tickets.transition(ticket_id, Status.ROUTING, released, fields, {"routing_claim": claim}, False)
            raise
        return self._record_routed(ticket, decision, claim)

    def _claim(self, ticket: Ticket, from_status: Status, claim: str) -> bool:
        entry = HistoryEntry(status=Status.ROUTING, at=now_iso())
        fields = {"routing_claim": claim, "routing_since": entry.at}
        return self.tickets.transition(
            ticket.id, from_status, entry, fields, {"routing_claim": ticket.routing_claim}, False
        )

    def _publish(self, ticket: Ticket, decision: routing.RoutingDecision, note: str | None = None) -> None:
        """Publish, in one call, the ticket's notices (routing.notices) that have not gone out yet.

        If only some go out (SNS reports failed entries), PartlyPublished carries the audiences that have them, and
        the release records them on the ticket (`notified`): the retry sends only the rest, so the agency never
        gets its notice twice because the town's copy failed.
        """
        link = None
        if ticket.photo is not None and ticket.photo.status == "ready":
            expires_at = datetime.now(UTC) + timedelta(seconds=routing.PHOTO_LINK_SECONDS)
            url = self.photos.lasting_link(photo_keys(ticket.id)["display"], routing.PHOTO_LINK_SECONDS)
            link = routing.PhotoLink(url, expires_at)
        notified = list(ticket.notified or [])
        pending = [n for n in routing.notices(ticket, self.city, decision, link, note) if n.audience not in notified]
        if not pending:
            return
        failed = self.notifier.publish_batch(decision.channel, pending)
        if failed:
            raise PartlyPublished(notified + [n.audience for n in pending if n.audience not in failed], failed)

    def _record_routed(self, ticket: Ticket, decision: routing.RoutingDecision, claim: str) -> Status:
        status = Status.DISPATCHED if decision.channel == "dispatch" else Status.TRIAGE
        note = decision.department.name if status is Status.DISPATCHED and decision.department else decision.reason
        entry = HistoryEntry(status=status, at=now_iso(), note=note)
        fields = {**_NO_CLAIM, "triage_reason": decision.triage_reason}
        if not self._after_publishing(
            lambda: self.tickets.transition(ticket.id, Status.ROUTING, entry, fields, {"routing_claim": claim})
        ):
            # Our claim was taken over (we outlived the lease): the taker tells triage; nothing more to do here.
            log.warning("routing claim lost after publishing", extra={"ticket_id": ticket.id})
            return self.tickets.get(ticket.id).status
        log.info(
            "ticket routed",
            extra={"ticket_id": ticket.id, "status": status.value, "triage_reason": decision.triage_reason},
        )
        return status

    def _after_publishing(self, step):
        """Run `step`, retrying it for up to ~6 s: once agencies have the ticket, failing to record it would leave it
        claimed, and a claim that outlives its lease sends the ticket to triage as well. Throttling passes."""
        for attempt in range(RECORD_ATTEMPTS):
            try:
                return step()
            except Exception:
                if attempt == RECORD_ATTEMPTS - 1:
                    raise
                log.warning("recording a published ticket failed; retrying", exc_info=True)
                time.sleep(0.1 * 2**attempt)
        return None

    def _route_interrupted(self, ticket: Ticket) -> Status:
        claim = secrets.token_hex(8)
        if not self._claim(ticket, Status.ROUTING, claim):
            raise RoutingInProgress(f"ticket {ticket.id} was claimed by another worker")
        log.warning("routing was interrupted; handing the ticket to triage", extra={"ticket_id": ticket.id})
        decision = routing.interrupted(routing.decide(ticket, self.city, self.threshold))
        self._publish(ticket, decision, note=routing.INTERRUPTED_NOTE)
        return self._record_routed(ticket, decision, claim)


class PartlyPublished(Exception):
    """Some of a ticket's notices went out (`notified`: their audiences), others (`failed`) did not."""

    def __init__(self, notified: list[str], failed: list[str]) -> None:
        super().__init__(f"notices not published: {', '.join(failed)}")
        self.notified = notified


# Attempts at recording a ticket as routed after publishing it (0.1 s, 0.2 s, … 3.2 s apart).
RECORD_ATTEMPTS = 7
# Removes the claim fields when a ticket leaves `routing`.
_NO_CLAIM = {"routing_claim": None, "routing_since": None}


def _iso_ago(seconds: float) -> str:
    at = datetime.now(UTC) - timedelta(seconds=seconds)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _category_fields(city: City, prediction) -> dict:
    """What a prediction says about the ticket's category; nothing when the model had no evidence for one."""
    if prediction.no_evidence:
        return {"category": None, "confidence": None, "top3": None, "department": None}
    department = city.department_for(prediction.category)
    return {
        "category": prediction.category,
        "confidence": prediction.confidence,
        "top3": [[c, p] for c, p in prediction.top3],
        "department": department.name if department else None,
    }


def _check_upload(upload: PhotoUpload) -> None:
    if upload.content_type not in KIND_BY_CONTENT_TYPE:
        raise PhotoRejected(f"photo_upload.content_type must be one of {', '.join(KIND_BY_CONTENT_TYPE)}")
    if upload.content_type == "image/heic" and not heic_supported():
        raise PhotoRejected("HEIC photos are not supported here; send a JPEG, PNG or WebP")
    if upload.size > MAX_UPLOAD_BYTES:
        raise PhotoTooLarge(f"photo is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")


def _derived_images(ticket_id: str, photo: ProcessedPhoto | None) -> list[tuple[str, DerivedImage]]:
    if photo is None:
        return []
    keys = photo_keys(ticket_id)
    return [(keys["display"], photo.display), (keys["thumbnail"], photo.thumbnail)]


def _photo_fields(ticket: Ticket, photo: ProcessedPhoto) -> dict:
    """The ticket fields a processed photo sets: its status, and the location from its GPS if the ticket has none."""
    fields: dict = {"photo": TicketPhoto(status="ready", taken_at=photo.taken_at).model_dump(exclude_none=True)}
    if ticket.location is None and photo.gps is not None:
        fields["location"] = Location(lat=photo.gps[0], lng=photo.gps[1], source="photo_gps").model_dump()
    return fields

"""Tickets: what a citizen submitted and what the desk did with it."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from complaints.domain import clock

Channel = Literal["app", "web", "weibo", "wechat"]
# Why a ticket went to triage, for the triage desk's lists and filters (routing.decide gives it, in words too).
TriageReason = Literal["no_evidence", "no_category", "no_district", "low_confidence", "interrupted"]


class Status(StrEnum):
    AWAITING_PHOTO = "awaiting_photo"  # a photo is on its way straight to S3; classification waits for it (or not)
    PHOTO_REJECTED = "photo_rejected"  # the uploaded photo was refused; the complaint goes on without it
    RECEIVED = "received"
    CLASSIFIED = "classified"
    # Claimed by one route worker, which is publishing it now. Not in the history: a lease, not a step.
    ROUTING = "routing"
    DISPATCHED = "dispatched"
    TRIAGE = "triage"
    # The agency's side, next (issue 11); the moves between them are in lifecycle.MOVES.
    ACCEPTED = "accepted"  # 签收: the agency signed for it
    ANSWERED = "answered"  # 答复: the agency answered the citizen
    RETURNED = "returned"  # 退单: the agency sent it back, with a reason; it goes to triage
    REOPENED = "reopened"  # 重办: the citizen was not satisfied with the answer
    CLOSED = "closed"  # 办结


def new_ticket_id() -> str:
    """A ticket's id: 128 random bits as 32 lowercase hex digits, from which nothing about the ticket follows."""
    return uuid.uuid4().hex


def now_iso() -> str:
    return clock.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Location(BaseModel):
    """WGS84 coordinates. Strict: "27.7" or true are mistakes, not coordinates."""

    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90, strict=True, allow_inf_nan=False, description="WGS84 latitude")
    lng: float = Field(ge=-180, le=180, strict=True, allow_inf_nan=False, description="WGS84 longitude")
    # Set by the desk, never by the client: whatever a submission says, its own coordinates are "app".
    source: Literal["app", "photo_gps"] = Field(
        default="app",
        description="Where the coordinates came from: the app, or the GPS tags of the photo",
        json_schema_extra={"readOnly": True},
    )

    @field_validator("lat", "lng")
    @classmethod
    def _centimetres(cls, value: float) -> float:
        # 7 decimals is about a centimetre; finer is noise, and DynamoDB cannot store numbers below 1e-130.
        return round(value, 7)


PhotoStatus = Literal["awaiting_upload", "ready", "rejected", "missing"]


class TicketPhoto(BaseModel):
    """The ticket's photo. Its derived images live under keys made from the ticket id (see `photo_keys`).

    `content_type` is what the citizen declared for a direct upload; `taken_at` (the EXIF capture time) is for
    the agency, never for a public view.
    """

    status: PhotoStatus
    reason: str | None = None
    content_type: str | None = None
    taken_at: str | None = None


def photo_keys(ticket_id: str) -> dict[str, str]:
    """Where a ticket's photo lives: the private original (direct uploads only) and the two derived images."""
    return {
        "original": f"originals/{ticket_id}",
        "display": f"photos/{ticket_id}/display.jpg",
        "thumbnail": f"photos/{ticket_id}/thumbnail.jpg",
    }


class ActorKind(StrEnum):
    SYSTEM = "system"  # the desk's own functions
    AGENCY = "agency"  # staff of the agency a ticket is dispatched to
    TRIAGE = "triage"  # staff of the triage desk
    CITIZEN = "citizen"  # the citizen holding the ticket's receipt


class Actor(BaseModel):
    """Who made a move. Staff are named by their agency's id and their user id in the staff user pool (its `sub`):
    never by an e-mail address, which would put a person's address in every ticket they touch."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: ActorKind
    agency: str | None = None
    user: str | None = None

    @model_validator(mode="after")
    def _staff_are_named(self) -> Actor:
        staff = self.kind in (ActorKind.AGENCY, ActorKind.TRIAGE)
        if staff != bool(self.agency and self.user):
            raise ValueError("agency and triage staff are named by agency and user; nobody else is")
        if self.user and "@" in self.user:
            raise ValueError("a staff user is named by their user id, not an e-mail address")
        return self


SYSTEM = Actor(kind=ActorKind.SYSTEM)


class HistoryEntry(BaseModel):
    """One step in a ticket's history. `move` and `actor` are recorded from issue 11 on; older entries lack them."""

    status: Status
    at: str
    note: str | None = None
    move: str | None = None
    actor: Actor | None = None


_PUBLIC_STEP = {"status", "at", "note"}
# The moves whose notes are the desk's own business: why an agency sent a ticket back, why it asked for more time,
# the scheduler's reminders. The citizen sees that the step happened, not the note.
_PRIVATE_NOTES = {"return", "extend", "remind", "escalate", "reassign"}
# Moderation: the citizen sees that their complaint left the public board (or came back), in the desk's words, not
# the moderator's reason: that is the desk's deliberation, and it may quote what made the text unfit to show.
_PUBLIC_NOTES = {"hide": "已从公开栏隐藏", "unhide": "已恢复在公开栏显示"}


class Answer(BaseModel):
    """An agency's answer (答复). `by` is the staff member's user id, for the desk only."""

    text: str
    agency: str  # the agency's id
    agency_name: str
    at: str
    by: str | None = None


class Rating(BaseModel):
    """The citizen's rating of an answer, on the national 好差评 scale: 1 非常不满意 … 5 非常满意."""

    score: int = Field(ge=1, le=5)
    resolved: bool
    comment: str | None = None
    at: str
    answer: int  # which answer it rates, counting from 1


class TicketDeadlines(BaseModel):
    """When the agency must sign for the ticket and answer it, and until when the citizen may rate the answer
    (ISO 8601 in the city's time zone, with its offset)."""

    accept_by: str | None = None
    answer_by: str | None = None
    rate_by: str | None = None
    # False when a deadline falls in a year whose public holidays the city file does not list yet.
    calendar_known: bool = True


class RoutingLabel(BaseModel):
    """A person's routing decision on a ticket: `assigned` to `agency` by the triage desk, or `returned` by it."""

    kind: Literal["assigned", "returned"]
    agency: str
    category: str | None = None
    service: str | None = None  # the model's service when the label was given
    at: str


class LabelledTicket(BaseModel):
    """What the `labelled` index holds of a ticket (template.yaml projects exactly these fields): enough to say
    which agency answers its text, and which sent it back."""

    id: str
    status: Status
    text: str
    agency: str | None = None
    category: str | None = None
    service: str | None = None
    district: str | None = None  # a local matter's handler is the district's town
    routing_labels: list[RoutingLabel]
    labelled_at: str


class Extension(BaseModel):
    """The one extension (延期) of the answer deadline an agency may ask for."""

    until: str  # the new last day, YYYY-MM-DD
    reason: str
    at: str
    by: Actor


class Ticket(BaseModel):
    """A complaint as stored. `contact_sealed` and `receipt_hash` are private: never shown to the public or logged.
    The contact details themselves are never stored: only their sealed (KMS-encrypted) form."""

    id: str
    ticket_no: int
    status: Status
    text: str
    channel: Channel
    created_at: str
    receipt_hash: str
    history: list[HistoryEntry]
    location: Location | None = None
    photo: TicketPhoto | None = None
    category: str | None = None
    # The kind of problem: a service code of the city file's catalogue ([[services]]), when the model named one.
    service: str | None = None
    # `channel`: the channel that made the ticket named its service (car moving's hand-over to the traffic police);
    # classification keeps it instead of asking the model.
    service_source: Literal["channel"] | None = None
    department: str | None = None
    district: str | None = None
    # `citizen`: the citizen picked the district (POST /complaints `district`); the gazetteer's guess gives way to it.
    district_source: Literal["location", "text", "citizen"] | None = None
    confidence: float | None = None
    top3: list[tuple[str, float]] | None = None
    # False: the citizen asked at submission that the board show only the number, category, district and status.
    public: bool = True
    # True while the triage desk keeps the ticket off the public board (moderation; the reason is in the history).
    hidden: bool | None = None
    # The classifier found too little in its language to go on: no category, and the ticket goes to triage.
    no_evidence: bool | None = None
    triage_reason: TriageReason | None = None
    # The route worker holding the ticket (status `routing`) and since when; see desk.dispatch.Dispatch.route.
    routing_claim: str | None = None
    routing_since: str | None = None
    # The audiences already notified of this routing (routing.AGENCY, COPY, TRIAGE), so a retry sends only the rest.
    notified: list[str] | None = None
    # The contact details sealed by the ContactVault (KMS): ciphertext only, never the details themselves.
    contact_sealed: str | None = None
    # ---- the answer loop. `agency` is the id of the agency whose inbox holds the ticket (the triage desk's while
    # it is in triage); `agency_status` pairs it with the state, for the inbox index of one state.
    agency: str | None = None
    agency_status: str | None = None
    deadlines: TicketDeadlines | None = None
    overdue: bool | None = None
    extension: Extension | None = None
    answers: list[Answer] = Field(default_factory=list)
    ratings: list[Rating] = Field(default_factory=list)
    reopen_count: int = 0
    # Every reassignment by the triage desk and every return by an agency: where the ticket went or came back from,
    # against the model's category, for retraining the router (see RoutingLabel).
    routing_labels: list[RoutingLabel] = Field(default_factory=list)
    # The `labelled` index holds only tickets with a routing label (labelled_pk is its one partition), by the time
    # of the latest label: what `complaints labels export` reads (see lifecycle.labelled).
    labelled_pk: str | None = None
    labelled_at: str | None = None
    # What the scheduler must look at next (`accept`, `answer` or `rating`) and when (UTC, ISO 8601): the `due`
    # index holds only tickets with something due (due_pk is its one partition).
    due: Literal["accept", "answer", "rating"] | None = None
    due_at: str | None = None
    due_pk: str | None = None

    def to_public(self, photo_links: dict[str, str] | None = None) -> dict:
        """What the citizen who holds the receipt may see: no contact, no receipt hash, no storage keys, no photo
        metadata. `photo_links` are time-limited links to the derived images (`display`, `thumbnail`)."""
        links = photo_links or {}
        photo = self.photo and {
            "status": self.photo.status,
            "reason": self.photo.reason,
            "display_url": links.get("display"),
            "thumbnail_url": links.get("thumbnail"),
        }
        return {
            "id": self.id,
            "ticket_no": self.ticket_no,
            "status": self.status.value,
            "category": self.category,
            "department": self.department,
            "district": self.district,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "created_at": self.created_at,
            # Who did what stays with the desk: the citizen sees each step's status, time and note.
            "history": [_public_step(h) for h in self.history],
            "photo": photo,
            "location": self.location.model_dump(mode="json") if self.location else None,
            # Why a person, not the model, will route it: an app can tell an English writer so in English.
            "triage_reason": self.triage_reason if self.status is Status.TRIAGE else None,
            "answers": [{"text": a.text, "agency": a.agency_name, "at": a.at} for a in self.answers],
            "deadline": self.deadlines.answer_by if self.deadlines and self.status in _ANSWER_DUE else None,
            "rating": self.current_rating().model_dump(exclude={"answer"}, mode="json")
            if self.current_rating()
            else None,
            "rate_by": self.deadlines.rate_by if self.deadlines and self.status is Status.ANSWERED else None,
        }

    def current_rating(self) -> Rating | None:
        """The rating of the latest answer, if the citizen gave one."""
        if self.ratings and self.ratings[-1].answer == len(self.answers):
            return self.ratings[-1]
        return None


# The states in which an agency owes the citizen an answer.
_ANSWER_DUE = frozenset({Status.DISPATCHED, Status.ACCEPTED, Status.REOPENED})


def _public_step(entry: HistoryEntry) -> dict:
    step = entry.model_dump(include=_PUBLIC_STEP, exclude_none=True, mode="json")
    if entry.move in _PRIVATE_NOTES:
        step.pop("note", None)
    if entry.move in _PUBLIC_NOTES:
        step["note"] = _PUBLIC_NOTES[entry.move]
    return step

"""Tickets: what a citizen submitted and what the desk did with it."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["app", "web", "weibo", "wechat"]


class Status(StrEnum):
    RECEIVED = "received"
    CLASSIFIED = "classified"
    DISPATCHED = "dispatched"
    TRIAGE = "triage"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Location(BaseModel):
    """WGS84 coordinates. Strict: "27.7" or true are mistakes, not coordinates."""

    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90, strict=True, allow_inf_nan=False, description="WGS84 latitude")
    lng: float = Field(ge=-180, le=180, strict=True, allow_inf_nan=False, description="WGS84 longitude")


class HistoryEntry(BaseModel):
    status: Status
    at: str
    note: str | None = None


class Ticket(BaseModel):
    """A complaint as stored. `contact` and `receipt_hash` are private: never shown to the public or logged."""

    id: str
    ticket_no: int
    status: Status
    text: str
    channel: Channel
    created_at: str
    receipt_hash: str
    history: list[HistoryEntry]
    location: Location | None = None
    contact: dict[str, str] | None = None
    photo_key: str | None = None
    category: str | None = None
    department: str | None = None
    district: str | None = None
    district_source: Literal["location", "text"] | None = None
    confidence: float | None = None
    top3: list[tuple[str, float]] | None = None

    def to_public(self) -> dict:
        """What the citizen who holds the receipt may see: no contact, no receipt hash, no storage keys."""
        return {
            "id": self.id,
            "ticket_no": self.ticket_no,
            "status": self.status.value,
            "category": self.category,
            "department": self.department,
            "district": self.district,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "created_at": self.created_at,
            "history": [h.model_dump(exclude_none=True, mode="json") for h in self.history],
        }

"""The public API's request and response bodies. The OpenAPI document is generated from these."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from complaints.domain.tickets import Channel, Location

MAX_TEXT_CHARS = 5000
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{5,19}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s.]{2,63}$")
# C0 control characters other than tab and newlines, and NUL, have no place in a complaint.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ContactIn(BaseModel):
    """How the agency may reach the citizen: a phone number or an e-mail address. Never shown publicly."""

    model_config = ConfigDict(extra="forbid")
    phone: str | None = Field(default=None, max_length=20, strict=True)
    email: str | None = Field(default=None, max_length=254, strict=True)

    @model_validator(mode="after")
    def _one_of(self) -> ContactIn:
        if (self.phone is None) == (self.email is None):
            raise ValueError("give exactly one of phone or email")
        if self.phone is not None and not _PHONE.match(self.phone):
            raise ValueError("phone must be digits, optionally starting with +")
        if self.email is not None and not _EMAIL.match(self.email):
            raise ValueError("email is not a valid address")
        return self


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(strict=True, description=f"The complaint, 1–{MAX_TEXT_CHARS} characters after trimming")
    photo: str | None = Field(
        default=None, strict=True, min_length=1, description="Base64 JPEG, PNG or WebP, at most 5 MB decoded"
    )
    location: Location | None = None
    channel: Channel = "app"
    contact: ContactIn | None = None

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        value = value.strip()
        if not any(unicodedata.category(c)[0] in "LN" for c in value):
            raise ValueError("text must contain words, not only spaces, marks or invisible characters")
        if len(value) > MAX_TEXT_CHARS:
            raise ValueError(f"text must be at most {MAX_TEXT_CHARS} characters")
        if _CONTROL.search(value):
            raise ValueError("text must not contain control characters")
        return value


class ComplaintCreated(BaseModel):
    id: str
    ticket_no: int = Field(description="The number printed on the public board, e.g. 问题编号:16944")
    status: Literal["received"]
    receipt: str = Field(description="Secret needed to follow the ticket (header X-Receipt or query receipt)")


class HistoryOut(BaseModel):
    status: str
    at: str
    note: str | None = None


class TicketOut(BaseModel):
    id: str
    ticket_no: int
    status: Literal["received", "classified", "dispatched", "triage"]
    category: str | None
    department: str | None
    district: str | None
    confidence: float | None
    created_at: str
    history: list[HistoryOut]


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody

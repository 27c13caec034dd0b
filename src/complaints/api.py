"""The public API's request and response bodies. The OpenAPI document is generated from these."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from complaints.domain.photos import KIND_BY_CONTENT_TYPE, MAX_UPLOAD_BYTES
from complaints.domain.tickets import Location, PhotoStatus

MAX_TEXT_CHARS = 5000
# The channels a caller of the public API may name. Weibo and WeChat tickets are made by their own pollers and
# webhooks, which prove where a message came from; a caller who says "weibo" proves nothing.
PublicChannel = Literal["app", "web"]
# A UUID fits; short keys would make collisions between clients likely.
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:\-]{16,128}$"
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
            raise ValueError("phone must be 6 to 20 digits, spaces or dashes, optionally starting with +")
        if self.email is not None and not _EMAIL.match(self.email):
            raise ValueError("email is not a valid address")
        return self


class PhotoUploadIn(BaseModel):
    """A photo too large for the JSON body: the answer carries a presigned S3 POST form to send it with."""

    model_config = ConfigDict(extra="forbid")
    # Checked by the desk, not here, so that another type is a 415 and a larger size a 413, as for inline photos.
    content_type: str = Field(strict=True, max_length=100, json_schema_extra={"enum": list(KIND_BY_CONTENT_TYPE)})
    size: int = Field(strict=True, gt=0, description=f"The photo's size in bytes, at most {MAX_UPLOAD_BYTES} (15 MB)")


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(strict=True, description=f"The complaint, 1–{MAX_TEXT_CHARS} characters after trimming")
    photo: str | None = Field(
        default=None, strict=True, min_length=1, description="Base64 JPEG, PNG, WebP or HEIC, at most 5 MB decoded"
    )
    photo_upload: PhotoUploadIn | None = Field(
        default=None, description="Instead of `photo`: announce a photo (≤ 15 MB) to upload straight to S3"
    )
    location: Location | None = None
    channel: PublicChannel = Field(default="app", description="Where the citizen wrote: the city's app or its web page")
    contact: ContactIn | None = None

    @model_validator(mode="after")
    def _one_photo(self) -> ComplaintIn:
        if self.photo is not None and self.photo_upload is not None:
            raise ValueError("give either photo or photo_upload, not both")
        return self

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


class UploadOut(BaseModel):
    url: str = Field(description="POST the photo here as multipart/form-data: every field below, then `file`")
    fields: dict[str, str]
    expires_at: str = Field(description="The form is refused after this time (UTC, ISO 8601)")


class ComplaintCreated(BaseModel):
    id: str
    ticket_no: int = Field(description="The number printed on the public board, e.g. 问题编号:16944")
    status: Literal["received", "awaiting_photo"]
    receipt: str = Field(description="Secret needed to follow the ticket: send it in the X-Receipt header")
    upload: UploadOut | None = Field(default=None, description="Only with photo_upload: where to send the photo")

    @model_serializer(mode="wrap")
    def _no_upload_no_key(self, handler: SerializerFunctionWrapHandler):
        # Without photo_upload the answer has the four usual fields, not a fifth that is always null.
        data = handler(self)
        if data.get("upload") is None:
            data.pop("upload", None)
        return data


class HistoryOut(BaseModel):
    status: str
    at: str
    note: str | None = None


class PhotoOut(BaseModel):
    status: PhotoStatus
    reason: str | None = Field(description="Why the photo was refused or is missing")
    display_url: str | None = Field(description="Time-limited link to the display copy (≤ 1600 px, no metadata)")
    thumbnail_url: str | None = Field(description="Time-limited link to the thumbnail (≤ 320 px, no metadata)")


class TicketOut(BaseModel):
    id: str
    ticket_no: int
    status: Literal["awaiting_photo", "photo_rejected", "received", "classified", "routing", "dispatched", "triage"]
    category: str | None
    department: str | None
    district: str | None
    confidence: float | None
    created_at: str
    history: list[HistoryOut]
    photo: PhotoOut | None
    location: Location | None


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody

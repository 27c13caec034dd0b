"""The public API's request and response bodies. The OpenAPI document is generated from these."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from complaints.domain.photos import KIND_BY_CONTENT_TYPE, MAX_INLINE_BASE64_CHARS, MAX_INLINE_BYTES, MAX_UPLOAD_BYTES
from complaints.domain.tickets import Location, PhotoStatus, Status, TriageReason

MAX_TEXT_CHARS = 5000
# The channels a caller of the public API may name. Weibo and WeChat tickets are made by their own pollers and
# webhooks, which prove where a message came from; a caller who says "weibo" proves nothing.
PublicChannel = Literal["app", "web"]
# A UUID fits; short keys would make collisions between clients likely.
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:\-]{16,128}$"
# Python's white space (str.isspace), spelled out: the document's patterns are read as ECMA 262, whose \s is
# another set (it has U+FEFF, not U+001C-U+001F or U+0085), and must mean what the server's mean.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
PHONE_PATTERN = r"^\+?[0-9][0-9 \-]{5,19}$"
EMAIL_PATTERN = rf"^[^@{WHITESPACE}]{{1,64}}@[^@{WHITESPACE}]{{1,255}}\.[^@{WHITESPACE}.]{{2,63}}$"
_PHONE = re.compile(PHONE_PATTERN)
_EMAIL = re.compile(EMAIL_PATTERN)
# C0 control characters other than tab and newlines, and NUL, have no place in a complaint.
_CONTROL_CHARS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
_CONTROL = re.compile(f"[{_CONTROL_CHARS}]")
# The text rule of ComplaintIn._text for the OpenAPI document, which has no "after trimming": white space around
# (what str.strip takes), then no control character, and a letter or digit somewhere.
TEXT_PATTERN = rf"^[{WHITESPACE}]*[^{_CONTROL_CHARS}]*[\p{{L}}\p{{N}}][^{_CONTROL_CHARS}]*[{WHITESPACE}]*$"


class ContactIn(BaseModel):
    """How the agency may reach the citizen: exactly one of a phone number or an e-mail address. Never shown."""

    # The patterns are checked in _one_of (for its messages), and written into the document here.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["phone"], "properties": {"phone": {"type": "string"}}},
                {"required": ["email"], "properties": {"email": {"type": "string"}}},
            ]
        },
    )
    phone: Annotated[str, Field(max_length=20, strict=True, json_schema_extra={"pattern": PHONE_PATTERN})] | None = (
        Field(default=None, description="6 to 20 digits, spaces or dashes, optionally starting with + (422 otherwise)")
    )
    email: Annotated[str, Field(max_length=254, strict=True, json_schema_extra={"pattern": EMAIL_PATTERN})] | None = (
        Field(default=None, description="An e-mail address (422 otherwise)")
    )

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
    # Checked by the desk, not here, so that another type is a 415 and a larger size a 413, as for inline photos:
    # the document states the limits (json_schema_extra), pydantic does not enforce them (it would answer 422).
    content_type: str = Field(
        strict=True,
        max_length=100,
        description="The photo's type; another one is a 415",
        json_schema_extra={"enum": list(KIND_BY_CONTENT_TYPE)},
    )
    size: int = Field(
        strict=True,
        gt=0,
        description=f"The photo's size in bytes, at most {MAX_UPLOAD_BYTES:,} (15 MB); a larger one is a 413",
        json_schema_extra={"maximum": MAX_UPLOAD_BYTES},
    )

    @field_validator("size", mode="before")
    @classmethod
    def _whole_number(cls, value: object) -> object:
        # JSON has one kind of number: 9.0 is the integer 9, as JSON Schema's "integer" says (strings and
        # booleans stay refused: strict).
        return int(value) if isinstance(value, float) and value.is_integer() else value


class ComplaintIn(BaseModel):
    # photo and photo_upload exclude each other (422), which _one_photo checks and this states.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "not": {
                "required": ["photo", "photo_upload"],
                "properties": {"photo": {"type": "string"}, "photo_upload": {"type": "object"}},
            }
        },
    )
    text: str = Field(
        strict=True,
        description=f"The complaint: 1 to {MAX_TEXT_CHARS:,} characters after trimming the white space around it,"
        " with a letter or digit, without control characters other than tab and line breaks (422 otherwise)",
        json_schema_extra={"minLength": 1, "maxLength": MAX_TEXT_CHARS, "pattern": TEXT_PATTERN},
    )
    # The size is checked by the desk (a 413): the document states it, pydantic does not enforce it (a 422).
    photo: (
        Annotated[
            str,
            Field(
                strict=True, min_length=1, json_schema_extra={"format": "byte", "maxLength": MAX_INLINE_BASE64_CHARS}
            ),
        ]
        | None
    ) = Field(
        default=None,
        description=f"A JPEG, PNG, WebP or HEIC photo in base64, at most {MAX_INLINE_BYTES // (1024 * 1024)} MB"
        f" decoded ({MAX_INLINE_BASE64_CHARS:,} base64 characters; a larger one is a 413, other content a 415)."
        " A data URI prefix (data:image/jpeg;base64,) and line breaks (MIME's 76-character lines, as"
        " `base64` writes them) are accepted and not counted; any other character that is not base64 is a 415.",
    )
    photo_upload: PhotoUploadIn | None = Field(
        default=None, description="Instead of `photo`: announce a photo (≤ 15 MB) to upload straight to S3"
    )
    location: Location | None = None
    channel: PublicChannel = Field(default="app", description="Where the citizen wrote: the city's app or its web page")
    contact: ContactIn | None = None
    public: bool = Field(
        default=True,
        strict=True,
        description="false: the public board shows only the ticket's number, category, district and status",
    )
    # Checked against the city file by the desk (422 for a name it does not have): the document lists the names.
    district: str | None = Field(
        default=None,
        strict=True,
        min_length=1,
        max_length=64,
        description="The citizen's own pick of the city's districts (a name from GET /config.json's `districts`);"
        " it decides the ticket's district over the one read from the location or the text (422 for another name)",
    )

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


class AnswerOut(BaseModel):
    text: str
    agency: str = Field(description="The agency that answered, by name")
    at: str


class RatingOut(BaseModel):
    score: int = Field(ge=1, le=5)
    resolved: bool
    comment: str | None = None
    at: str


class TicketOut(BaseModel):
    id: str
    ticket_no: int
    status: Status = Field(
        description="awaiting_photo, photo_rejected, received, classified, routing, dispatched, triage; then accepted"
        " (签收), answered (答复), returned (退单), reopened (重办), closed (办结)"
    )
    category: str | None
    department: str | None
    district: str | None
    confidence: float | None
    created_at: str
    history: list[HistoryOut]
    photo: PhotoOut | None
    location: Location | None
    triage_reason: TriageReason | None = Field(
        description="Only in `triage`: no_evidence (the model knows Chinese only, and found too little of it), "
        "low_confidence, no_category, no_district (a local matter whose district is not known) or interrupted"
    )
    answers: list[AnswerOut] = Field(description="The agencies' answers, oldest first")
    deadline: str | None = Field(
        description="When the answer is due (ISO 8601 with the city's offset), while one is owed"
    )
    rating: RatingOut | None = Field(description="The citizen's rating of the latest answer, once given")
    rate_by: str | None = Field(description="Only while `answered`: the rating window closes then, unrated")


class RatingIn(BaseModel):
    """The citizen's rating of the answer, on the national 好差评 scale: 1 非常不满意, 2 不满意, 3 基本满意, 4 满意,
    5 非常满意. Score 2 or less, or resolved false, reopens the ticket (重办); otherwise it is closed (办结)."""

    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=1, le=5, strict=True, description="1 非常不满意 … 5 非常满意")
    resolved: bool = Field(strict=True, description="Whether the problem was solved")
    comment: str | None = Field(default=None, max_length=500, strict=True, description="At most 500 characters")

    @field_validator("score", mode="before")
    @classmethod
    def _whole_number(cls, value: object) -> object:
        # As PhotoUploadIn.size: 4.0 is the integer 4 that JSON Schema's "integer" admits; 4.5, "4" and true stay
        # refused (strict).
        return int(value) if isinstance(value, float) and value.is_integer() else value


class ErrorBody(BaseModel):
    code: str
    message: str
    state: str | None = Field(
        default=None, description="Only with 409 `move_not_allowed`: the state the ticket is in now"
    )


class ErrorOut(BaseModel):
    error: ErrorBody


# ---------------------------------------------------------------- the public board (GET /board)
class BoardAgencyOut(BaseModel):
    id: str
    name: str


class BoardWithheldOut(BaseModel):
    """A ticket whose citizen asked not to show it (`citizen`) or that the triage desk hid (`moderation`)."""

    ticket_no: int
    public: Literal[False]
    withheld: Literal["citizen", "moderation"]
    district: str | None
    category: str | None
    status: Status


class BoardItemOut(BaseModel):
    ticket_no: int
    public: Literal[True]
    question: str = Field(description="The whole question, with personal numbers masked (＊)")
    district: str | None
    category: str | None
    agency: BoardAgencyOut | None = Field(description="The agency holding the ticket")
    status: Status
    answers: int = Field(description="How many answers the ticket has")
    rating: int | None = Field(description="The citizen's score (1–5) of the latest answer, once given")
    created_at: str
    updated_at: str
    thumbnail_url: str | None = Field(description="Time-limited link to the photo's thumbnail (≤ 320 px)")


class BoardPageOut(BaseModel):
    items: list[BoardItemOut | BoardWithheldOut]
    next_cursor: str | None = Field(description="Send as `cursor` with the same filters for the next page")


class BoardPhotoOut(BaseModel):
    thumbnail_url: str = Field(description="Time-limited link to the thumbnail (≤ 320 px, no metadata)")
    display_url: str = Field(description="Time-limited link to the display copy (≤ 1600 px, no metadata)")


class BoardAnswerOut(BaseModel):
    text: str = Field(description="The answer, with personal numbers masked")
    at: str
    agency: BoardAgencyOut


class BoardShownOut(BaseModel):
    ticket_no: int
    public: Literal[True]
    question: str = Field(description="The whole question, with personal numbers masked (＊)")
    photo: BoardPhotoOut | None
    district: str | None
    category: str | None
    agency: BoardAgencyOut | None
    status: Status
    answers: list[BoardAnswerOut] = Field(description="Oldest first")
    rating: int | None
    created_at: str
    dispatched_at: str | None
    answered_at: str | None
    closed_at: str | None
    updated_at: str


class BoardTicketOut(RootModel[BoardShownOut | BoardWithheldOut]):
    pass

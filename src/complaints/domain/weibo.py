"""Weibo mentions as the open API documents them, and what the desk makes of one: text, picture, place, reply.

Shapes follow `statuses/mentions.json`: ids are 64-bit, so only `idstr` is trusted (a JSON number may have passed
through a float somewhere). Everything here is pure; the HTTP client lives in `complaints.adapters.weibo`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from complaints.city import City
from complaints.domain.tickets import Location

# "Tue Nov 24 09:12:00 +0800 2026"
WEIBO_TIME_FORMAT = "%a %b %d %H:%M:%S %z %Y"
# A comment on Weibo holds at most 140 characters.
MAX_COMMENT_CHARS = 140

_ID = r"^[0-9]{1,20}$"


class _WithIdstr(BaseModel):
    model_config = ConfigDict(extra="ignore")
    idstr: str = Field(pattern=_ID)

    @model_validator(mode="before")
    @classmethod
    def _idstr_from_id(cls, data: object) -> object:
        # Some payloads carry only the numeric id; parsed by Python's json it still holds all 64 bits.
        if isinstance(data, dict) and not data.get("idstr") and isinstance(data.get("id"), int):
            return {**data, "idstr": str(data["id"])}
        return data

    @property
    def number(self) -> int:
        return int(self.idstr)


class WeiboUser(_WithIdstr):
    """The author. Personal data: stored as the ticket's channel identity, never logged or shown."""

    screen_name: str = ""


class PicUrl(BaseModel):
    model_config = ConfigDict(extra="ignore")
    thumbnail_pic: str


class Geo(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["Point"] = "Point"
    coordinates: tuple[float, float]  # [lat, lng], in that order (unlike GeoJSON)


class WeiboStatus(_WithIdstr):
    """One status from `statuses[]`; only the fields the desk uses."""

    created_at: datetime
    text: str = ""
    user: WeiboUser | None = None  # absent when the author's account was deleted
    pic_urls: list[PicUrl] = Field(default_factory=list)
    original_pic: str | None = None
    geo: Geo | None = None
    retweeted_status: WeiboStatus | None = None

    @field_validator("created_at", mode="before")
    @classmethod
    def _weibo_time(cls, value: object) -> object:
        return datetime.strptime(value, WEIBO_TIME_FORMAT) if isinstance(value, str) else value

    @property
    def location(self) -> Location | None:
        if self.geo is None:
            return None
        lat, lng = self.geo.coordinates
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            return None
        return Location(lat=float(lat), lng=float(lng))


class MalformedMention(_WithIdstr):
    """A status with a usable id but otherwise not in the documented shape: skipped and recorded by its id."""


@dataclass(frozen=True)
class MentionsPage:
    """One answer of `statuses/mentions.json`: the statuses in it, and how many had not even a usable id."""

    statuses: list[WeiboStatus | MalformedMention]
    unidentified: int = 0


# ------------------------------------------------------------------ cleaning
# Weibo's link shortener; the links point at the post itself or at pages we do not follow.
_SHORT_LINK = re.compile(r"https?://t\.cn/[A-Za-z0-9]+", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u3000]+")
# What is left around a removed @-mention: "@瑞网议事厅：…" leaves a leading colon.
_EDGE_PUNCTUATION = " \n：:，,"


def clean_text(text: str, account: str) -> str:
    """The complaint in a mention: without the @-mention of our account and without t.cn links."""
    text = re.sub(rf"@{re.escape(account)}(?![\w\u4e00-\u9fff])", " ", text)
    text = _SHORT_LINK.sub(" ", text)
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    text = "\n".join(line for line in lines if line).strip(_EDGE_PUNCTUATION)
    if not any(unicodedata.category(c)[0] in "LN" for c in text):
        return ""
    return text


def skip_reason(status: WeiboStatus, account: str) -> str | None:
    """Why a mention is not a complaint, or None if it is one."""
    if status.user is not None and status.user.screen_name == account:
        return "own_post"
    original = status.retweeted_status
    if original is not None and original.user is not None and original.user.screen_name == account:
        return "repost_of_own_post"
    if not clean_text(status.text, account):
        return "empty"
    return None


_THUMBNAIL = re.compile(r"/(thumbnail|bmiddle|orj360|mw690)/")


def picture_url(status: WeiboStatus) -> str | None:
    """The largest picture: `original_pic`, else the first thumbnail rewritten to its `large` size."""
    if status.original_pic:
        return status.original_pic
    if status.pic_urls:
        return _THUMBNAIL.sub("/large/", status.pic_urls[0].thumbnail_pic, count=1)
    return None


def reply_text(ticket_no: int, city: City) -> str:
    """The public comment: the ticket number and where to follow it, within Weibo's 140 characters."""
    link = city.ticket_link(ticket_no)
    for text in (
        f"您好，{city.board}已收到您的反映，问题编号{ticket_no}，已转交相关部门办理，进度请见 {link}",
        f"已收到，问题编号{ticket_no}，进度请见 {link}",
        f"已收到，问题编号{ticket_no}",
    ):
        if len(text) <= MAX_COMMENT_CHARS:
            return text
    return text[:MAX_COMMENT_CHARS]


# -------------------------------------------------------------------- errors
RATE_LIMIT_CODES = frozenset({10022, 10023, 10024})
# Expired, revoked or invalid access tokens (21327 expired, 21332 invalid, 21314-21319 token states).
TOKEN_CODES = frozenset({21314, 21315, 21316, 21317, 21319, 21327, 21332, 21501})
# Weibo's own "try again": system error, service unavailable, too many pending tasks, job expired.
TRANSIENT_CODES = frozenset({10001, 10003, 10009, 10010})


class WeiboError(Exception):
    """An error answer from Weibo: `{"error", "error_code", "request"}`, or none at all."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(f"{message} (error_code {code})" if code is not None else message)
        self.code = code


class WeiboRateLimited(WeiboError):
    """Too many calls: stop, and try again on the next scheduled run."""


class WeiboTokenInvalid(WeiboError):
    """The access token is expired, revoked or missing: an operator must renew it (alarm)."""


class WeiboUnavailable(WeiboError):
    """5xx, a timeout or a dropped connection: worth retrying, with backoff."""


class WeiboRejected(WeiboError):
    """Weibo refused this request (a deleted post, a parameter error): retrying now will not help."""


class PictureUnavailable(Exception):
    """The picture could not be fetched within the size and time limits."""


def error_for(code: int, message: str) -> WeiboError:
    """The error class for a Weibo `error_code`."""
    if code in RATE_LIMIT_CODES:
        return WeiboRateLimited(message, code)
    if code in TOKEN_CODES:
        return WeiboTokenInvalid(message, code)
    if code in TRANSIENT_CODES:
        return WeiboUnavailable(message, code)
    return WeiboRejected(message, code)


# --------------------------------------------------------------------- ports
class WeiboApi(Protocol):
    """Weibo's open API as the poller uses it."""

    def mentions(self, since_id: str | None, max_id: str | None, count: int) -> MentionsPage:
        """Mentions with since_id < id <= max_id, newest first, at most `count`; malformed ones marked as such."""

    def comment(self, status_id: str, text: str) -> None:
        """Post a public comment on a status."""

    def picture(self, url: str) -> bytes:
        """A picture's bytes, bounded in size and time; raises PictureUnavailable."""


class MentionRecord(BaseModel):
    state: Literal["claimed", "ticketed", "skipped"]
    claimed_at: float | None = None
    ticket_id: str | None = None
    ticket_no: int | None = None
    reason: str | None = None


class PendingReply(BaseModel):
    mention_id: str
    ticket_no: int
    attempts: int = 0
    next_at: float = 0.0


class MentionLedger(Protocol):
    """What the poller remembers between runs: the cursor, each mention's fate, the replies still to post."""

    def cursor(self) -> str | None:
        """The id up to which every mention has been handled."""

    def advance(self, mention_id: str) -> None:
        """Move the cursor forward to `mention_id`; never backwards."""

    def record(self, mention_id: str) -> MentionRecord | None: ...

    def claim(self, mention_id: str, ticket_id: str, now: float, lease_s: float) -> str | None:
        """Take a mention for ticket creation, and say which ticket id to create it with: `ticket_id` for a new
        claim, the id an expired claim chose when taking that over (its run may have got as far as the ticket).
        None while another poll holds an unexpired claim, or the mention is done."""

    def mark_skipped(self, mention_id: str, reason: str, now: float) -> None: ...

    def mark_ticketed(self, mention_id: str, ticket_id: str, ticket_no: int, now: float) -> None:
        """Record the ticket and, in the same write, queue its reply. A second call changes nothing."""

    def pending_replies(self) -> list[PendingReply]: ...

    def reply_sent(self, mention_id: str, now: float) -> None: ...

    def reply_failed(self, mention_id: str, attempts: int, next_at: float) -> None: ...

    def reply_abandoned(self, mention_id: str, reason: str, now: float) -> None: ...

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
from complaints.domain.privacy import mask_personal_numbers
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


def comment_length(text: str) -> int:
    """A comment's length as Weibo's web client counts it: in UTF-16 code units, so a character outside the BMP
    (most emoji) counts twice. Never less than `len(text)`, so within MAX_COMMENT_CHARS by this count is within it
    by any."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# Characters that belong to the one before them: cutting just before one would break what the reader sees.
_JOINS_PREVIOUS = frozenset("\u200d\ufe0e\ufe0f\u20e3") | frozenset(map(chr, range(0x1F3FB, 0x1F400)))
# Below this many characters of the answer, the comment says only that there is an answer and where to read it.
_MIN_EXCERPT_CHARS = 8
_ELLIPSIS = "…"
_READ_CHARS = 1000


def _one_line(text: str) -> str:
    """Text for a one-line public comment: surrogate pairs joined (lone ones dropped), control characters and
    line breaks turned into single spaces, and `@` made full-width so that an answer notifies no other account."""
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "ignore")
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    return " ".join(text.split()).replace("@", "＠")


def _starts_with(text: str, width: int) -> str:
    """At most `width` (comment_length) of the start of `text`, ending in "…" when shortened; never cut inside a
    character, before a combining mark, a variation selector or skin tone, or after a zero-width joiner."""
    if comment_length(text) <= width:
        return text
    budget = width - len(_ELLIPSIS)
    end, used = 0, 0
    while end < len(text) and used + comment_length(text[end]) <= budget:
        used += comment_length(text[end])
        end += 1
    while end > 0 and (text[end] in _JOINS_PREVIOUS or unicodedata.combining(text[end]) or text[end - 1] == "\u200d"):
        end -= 1
    return text[:end].rstrip() + _ELLIPSIS if end else ""


def _first_fitting(*texts: str) -> str:
    """The first text within MAX_COMMENT_CHARS; the last is short enough for any ticket number."""
    for text in texts:
        if comment_length(text) <= MAX_COMMENT_CHARS:
            return text
    return texts[-1]


def answer_comment(ticket_no: int, answer: str, city: City) -> str:
    """The public comment when the agency has answered: the ticket number, the start of the answer — its personal
    numbers masked, shortened with "…" — and the link to read it all and rate it, within MAX_COMMENT_CHARS.

    The link is never shortened: if it does not fit with the answer, the answer goes; if it does not fit at all
    (a public_base_url far too long), the comment goes without it."""
    link = city.ticket_link(ticket_no)
    head, tail = f"您好，您反映的问题（编号{ticket_no}）已有部门答复：", f" 阅读全文并评价：{link}"
    # Only the start can be shown; masking needs just a few characters' context around a number.
    shown = mask_personal_numbers(_one_line(answer[:_READ_CHARS]))
    width = MAX_COMMENT_CHARS - comment_length(head + tail)
    excerpt = ""
    while width >= _MIN_EXCERPT_CHARS and shown:
        # Masked again once shortened: a number cut short must not show as a number of another kind.
        excerpt = mask_personal_numbers(_starts_with(shown, width))
        if comment_length(excerpt) <= width:
            break
        width -= 1
    else:
        excerpt = ""
    return _first_fitting(
        *([head + excerpt + tail] if excerpt else []),
        f"您好，您反映的问题（编号{ticket_no}）已有部门答复，阅读全文并评价：{link}",
        f"问题编号{ticket_no}已答复，查看并评价：{link}",
        f"问题编号{ticket_no}已答复，请登录{city.board}查看并评价",
        f"问题编号{ticket_no}已答复",
    )


def closed_comment(ticket_no: int, city: City) -> str:
    """The public comment when a ticket was closed without the citizen's rating, within MAX_COMMENT_CHARS."""
    link = city.ticket_link(ticket_no)
    return _first_fitting(
        f"您好，您反映的问题（编号{ticket_no}）已办结，评价期内未收到您的评价，感谢您对{city.board}的支持。"
        f"办理情况请见：{link}",
        f"您好，问题编号{ticket_no}已办结（未评价），办理情况请见：{link}",
        f"问题编号{ticket_no}已办结：{link}",
        f"问题编号{ticket_no}已办结",
    )


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
    """One comment in the outbox: under the mention `mention_id`, about ticket `ticket_no`.

    `key` None: the ticket-number reply queued with the ticket (its text made by `reply_text` when posted).
    Otherwise a comment queued by `MentionLedger.queue_comment` once for that key, posted as `text`."""

    mention_id: str
    ticket_no: int
    attempts: int = 0
    next_at: float = 0.0
    text: str | None = None
    key: str | None = None

    @property
    def entry(self) -> str:
        """The outbox entry's name, as reply_sent / reply_failed / reply_abandoned take it."""
        return self.mention_id if self.key is None else comment_entry(self.key)


# A queued comment's entry: never a mention id (digits only), so never the name of a ticket-number reply.
COMMENT_ENTRY_PREFIX = "comment#"
_COMMENT_KEY = re.compile(r"^[A-Za-z0-9._:#-]{1,200}$")
_MENTION_ID = re.compile(_ID)


def comment_entry(key: str) -> str:
    return COMMENT_ENTRY_PREFIX + key


def comment_key(entry: str) -> str | None:
    """The key of a queued comment's entry; None for a ticket-number reply (whose entry is its mention id)."""
    return entry[len(COMMENT_ENTRY_PREFIX) :] if entry.startswith(COMMENT_ENTRY_PREFIX) else None


class UnknownMention(ValueError):
    """A comment asked for under a mention the desk did not make that ticket of: never posted."""


def check_comment(mention_id: str, key: str, text: str) -> None:
    """What queue_comment refuses (ValueError) before writing anything: Weibo would refuse it every time."""
    if not _MENTION_ID.match(mention_id):
        raise ValueError("mention_id must be a Weibo id (digits)")
    if not _COMMENT_KEY.match(key):
        raise ValueError("a comment key is 1 to 200 of A-Z a-z 0-9 . _ : # -")
    if not text.strip() or comment_length(text) > MAX_COMMENT_CHARS:
        raise ValueError(f"a comment's text must be 1 to {MAX_COMMENT_CHARS} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a comment's text must not hold lone surrogates") from None


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

    def queue_comment(self, mention_id: str, key: str, text: str, ticket_no: int, now: float) -> bool:
        """Queue `text` to be posted under the mention `mention_id` (which must be ticket `ticket_no`'s, else
        UnknownMention), once per `key` ever: True when this call queued it, False when the key was queued before
        (even if that comment has long been posted or abandoned). Safe for concurrent callers; posted by the
        poller's next run with the replies' retries and backoff. ValueError for a text Weibo would refuse."""

    def pending_replies(self) -> list[PendingReply]:
        """Everything in the outbox: ticket-number replies and queued comments."""

    def reply_sent(self, entry: str, now: float) -> None:
        """Drop a posted entry (`PendingReply.entry`) and record when it went out."""

    def reply_failed(self, entry: str, attempts: int, next_at: float) -> None: ...

    def reply_abandoned(self, entry: str, reason: str, now: float) -> None: ...

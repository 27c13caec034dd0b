"""WeChat's official-account protocol as the conversation sees it: one inbound message, the API's errors, the port.

A message reaches the desk as XML POSTed to our server (parsed by `complaints.adapters.wechat.messages`, decrypted
in safe mode by `complaints.adapters.wechat.crypto`); answers leave through the API (`WechatApi`, over HTTP in
`complaints.adapters.wechat.http`). Everything here is pure.

An OpenID (`FromUserName`) is personal data: it is sealed like a phone number where it is stored, and the only form
it takes in a table key or a log is `openid_key`. No message of an error here holds an OpenID, a token or a secret.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from pydantic import BaseModel, ConfigDict

# The message types WeChat documents; any other is kept as it came (and answered politely).
MESSAGE_TYPES = frozenset({"text", "image", "location", "voice", "video", "shortvideo", "link", "event"})


def openid_key(app_id: str, openid: str) -> str:
    """The one form an OpenID takes in a table key or a log: stable per account, not reversible to the OpenID."""
    return hashlib.sha256(f"{app_id}:{openid}".encode()).hexdigest()[:32]


class WechatInbound(BaseModel):
    """One message or event from a WeChat user, as WeChat POSTs it (the fields the desk uses).

    `location_x` is the latitude and `location_y` the longitude of a location message, as WeChat names them;
    `label` is the address WeChat wrote for it. `recognition` is WeChat's transcript of a voice message, when the
    account has speech recognition on.
    """

    model_config = ConfigDict(frozen=True)

    to_user: str  # the account's original id (gh_…)
    from_user: str  # the sender's OpenID: personal data
    create_time: int
    msg_type: str
    msg_id: str | None = None
    content: str | None = None
    pic_url: str | None = None
    media_id: str | None = None
    location_x: float | None = None
    location_y: float | None = None
    label: str | None = None
    recognition: str | None = None
    event: str | None = None
    event_key: str | None = None

    def dedup_key(self) -> str:
        """What makes a redelivery the same delivery: `msg#<MsgId>`, or for an event (which has none)
        `event#<sender>#<CreateTime>` — the sender as `openid_key` under the account's id, so the key holds no
        OpenID."""
        if self.msg_id:
            return f"msg#{self.msg_id}"
        return f"event#{openid_key(self.to_user, self.from_user)}#{self.create_time}"


# -------------------------------------------------------------------- errors
class WechatError(Exception):
    """Something WeChat sent or answered that the desk cannot use. `code` is WeChat's errcode, where it gave one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(f"{message} (errcode {code})" if code is not None else message)
        self.code = code


class WechatMalformed(WechatError):
    """A body that is not WeChat's XML: not well-formed, oversized, with a DTD or entities, fields missing (400)."""


class WechatSignatureInvalid(WechatError):
    """A request not signed with our token, or an encrypted message that does not decrypt for our account (403)."""


class WechatTokenRejected(WechatError):
    """The access token is invalid or expired (40001, 42001, 40014): fetch a fresh one, then try once more."""


class WechatOutsideWindow(WechatError):
    """A customer-service message outside the 48 hours after the user's last message (45015): fall back."""


class WechatRateLimited(WechatError):
    """A quota or frequency limit (45047, 45009, 45011): back off, do not retry now."""


class WechatUnavailable(WechatError):
    """WeChat is busy (-1), answered 5xx, timed out or could not be reached: worth retrying with backoff."""


class WechatRefused(WechatError):
    """Any other error code: this request will not succeed as it is."""


class WechatMediaRefused(WechatRefused):
    """A picture or media file that could not be fetched within the size, time and host limits."""


TOKEN_CODES = frozenset({40001, 42001, 40014})
OUTSIDE_WINDOW_CODES = frozenset({45015})
RATE_LIMIT_CODES = frozenset({45047, 45009, 45011})
BUSY_CODES = frozenset({-1})


def error_for(code: int, message: str) -> WechatError:
    """The error class for a WeChat `errcode` other than 0."""
    if code in TOKEN_CODES:
        return WechatTokenRejected(message, code)
    if code in OUTSIDE_WINDOW_CODES:
        return WechatOutsideWindow(message, code)
    if code in RATE_LIMIT_CODES:
        return WechatRateLimited(message, code)
    if code in BUSY_CODES:
        return WechatUnavailable(message, code)
    return WechatRefused(message, code)


# --------------------------------------------------------------------- ports
class WechatApi(Protocol):
    """WeChat's official-account API as the desk uses it. Every call raises a WechatError subclass on failure."""

    def fetch_token(self, force: bool = False) -> tuple[str, int]:
        """A fresh access token and its lifetime in seconds (`cgi-bin/stable_token`; force_refresh with `force`)."""

    def send_text(self, access_token: str, openid: str, text: str) -> None:
        """A customer-service text message (`cgi-bin/message/custom/send`): only within the 48-hour window."""

    def send_template(
        self, access_token: str, openid: str, template_id: str, data: dict[str, str], url: str | None
    ) -> None:
        """A template message (`cgi-bin/message/template/send`): the answer outside the window, where configured."""

    def media(self, access_token: str, media_id: str) -> bytes:
        """A temporary media file's bytes (`cgi-bin/media/get`), bounded in size and time."""

    def picture(self, url: str) -> bytes:
        """The picture a PicUrl points at, through the outbound-fetch helper's checks."""

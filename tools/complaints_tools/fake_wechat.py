"""A fake of WeChat for tests and the local stack: the official-account API our side calls, and the WeChat servers
that POST users' messages to our endpoint.

    python -m complaints_tools.fake_wechat --port 8091 --server-url http://127.0.0.1:3000/wechat

The API (base URL `api_base`, as WECHAT_API_BASE), in WeChat's documented shapes:

- `POST /cgi-bin/stable_token {"grant_type": "client_credential", "appid", "secret", "force_refresh"?}` and
  `GET /cgi-bin/token?grant_type&appid&secret` → `{"access_token", "expires_in"}`. stable_token hands out the same
  token until it expires (force_refresh: a new one, the old one dead); cgi-bin/token always a new one, the previous
  one alive 5 more minutes. A wrong secret → 40125, a wrong AppID → 40013;
- `POST /cgi-bin/message/custom/send?access_token` — a customer-service message, only within 48 hours of the user's
  last message (else 45015); `POST /cgi-bin/message/template/send?access_token` — a template message; both recorded;
- `GET /cgi-bin/media/get?access_token&media_id` → the bytes, or `{"errcode": 40007}`; pictures (PicUrls) under
  `/_fake/pic/<media_id>`;
- an expired token → 42001, one never issued → 40001, on every call that takes one.

WeChat's side: `send(...)` builds a user's message as WeChat does, signs it (plain mode) or encrypts and signs it
(safe mode), POSTs it to our endpoint with WeChat's 5-second timeout and up to 3 retries, and checks the reply.

Test controls (not part of WeChat): `GET /_fake/messages`, `GET /_fake/stats`, `GET|POST /_fake/config`
(`{"expires_in"}`), `POST /_fake/errors` (`{"custom/send": [45047, 45015]}`: the next calls to that endpoint answer
those codes in order; a code from 500 to 599 is an HTTP status), `POST /_fake/media` (raw bytes; the Content-Type is
kept) → `{"media_id", "pic_url"}`, `POST /_fake/last_seen {"openid", "epoch"}`, `POST /_fake/expire` (every token
issued so far expires), `POST /_fake/send` (the JSON form of `send`), `POST /_fake/verify`, `POST /_fake/reset`.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import math
import secrets
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from complaints.adapters.wechat.crypto import WechatCrypto
from complaints.adapters.wechat.messages import SUCCESS, cdata, child_text, xml_root
from complaints.domain.wechat import WechatError

WINDOW_S = 48 * 3600  # customer-service messages: 48 hours after the user's last message
OLD_TOKEN_GRACE_S = 300  # cgi-bin/token: the previous token stays valid 5 minutes
REPLY_TIMEOUT_S = 5.0  # WeChat waits 5 seconds for an answer…
RETRIES = 3  # …and then tries the same message 3 more times
ENDPOINTS = ("stable_token", "token", "custom/send", "template/send", "media/get")

_ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40014: "invalid access_token",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    41001: "access_token missing",
    42001: "access_token expired",
    44003: "empty news data",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
}


class ReplyInvalid(Exception):
    """Our endpoint answered something WeChat would not take (a bad signature, not XML, addressed to someone else)."""


@dataclass
class Delivery:
    """What WeChat made of one message: the reply's text (or "success", or the raw XML of another reply type), how
    many POSTs it took, and every answer's HTTP status (None: no answer within the timeout)."""

    reply: str | None
    attempts: int
    statuses: list[int | None] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"reply": self.reply, "attempts": self.attempts, "statuses": self.statuses}


def _aes_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")


class FakeWechat:
    """Start with `start()`; `api_base` is what WECHAT_API_BASE should be; `stop()` ends it. Credentials not given
    are random."""

    def __init__(
        self,
        token: str | None = None,
        app_id: str | None = None,
        app_secret: str | None = None,
        aes_key: str | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        expires_in: int = 7200,
        original_id: str = "gh_fa4e0ru1an0",
        server_url: str | None = None,
        reply_timeout_s: float = REPLY_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token or secrets.token_hex(16)
        self.app_id = app_id or "wx" + secrets.token_hex(8)
        self.app_secret = app_secret or secrets.token_hex(16)
        self.aes_key = aes_key or _aes_key()
        self.original_id = original_id
        self.host, self.port = host, port
        self.server_url = server_url
        self.reply_timeout_s = reply_timeout_s
        self.clock = clock
        self.crypto = WechatCrypto(self.token, self.aes_key, self.app_id)
        self._lock = threading.Lock()
        self._http: ThreadingHTTPServer | None = None
        self._default_expires_in = expires_in
        self.reset()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        return self.url

    def pic_url(self, media_id: str) -> str:
        return f"{self.url}/_fake/pic/{media_id}"

    def reset(self) -> None:
        with self._lock:
            self.expires_in = self._default_expires_in
            self._tokens: dict[str, float] = {}  # token → when it expires (epoch seconds)
            self._stable: str | None = None
            self._media: dict[str, tuple[bytes, str]] = {}
            self._messages: list[dict[str, Any]] = []
            self._last_seen: dict[str, float] = {}
            self._errors: dict[str, list[int]] = {}
            self._stats: dict[str, int] = dict.fromkeys(ENDPOINTS, 0)
            self._msg_ids = 24_000_000_000_000_000 + secrets.randbelow(10**15)

    # ------------------------------------------------------------ controls
    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self._messages]

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {**self._stats, "token_fetches": self._stats["stable_token"] + self._stats["token"]}

    def add_media(self, data: bytes, content_type: str = "image/jpeg") -> str:
        media_id = secrets.token_urlsafe(24)
        with self._lock:
            self._media[media_id] = (data, content_type)
        return media_id

    def set_last_seen(self, openid: str, epoch: float) -> None:
        """When the user last wrote to the account (the 48-hour window is counted from it)."""
        with self._lock:
            self._last_seen[openid] = epoch

    def inject(self, errors: dict[str, list[int]] | str, *codes: int) -> None:
        """`inject({"custom/send": [45047]})` or `inject("custom/send", 45047, 45015)`: the next calls to the endpoint
        answer these codes, in order, before it behaves again."""
        table = {errors: list(codes)} if isinstance(errors, str) else errors
        for endpoint, queued in table.items():
            if endpoint not in ENDPOINTS:
                raise ValueError(f"no endpoint {endpoint!r}; one of {', '.join(ENDPOINTS)}")
            with self._lock:
                self._errors.setdefault(endpoint, []).extend(int(c) for c in queued)

    def configure(self, expires_in: int | None = None) -> dict[str, Any]:
        with self._lock:
            if expires_in is not None:
                if expires_in <= 0:
                    raise ValueError("expires_in is a positive number of seconds")
                self.expires_in = int(expires_in)
            return {"expires_in": self.expires_in, "app_id": self.app_id, "original_id": self.original_id}

    def expire_tokens(self) -> None:
        """Every token issued so far is expired from now on (as if its two hours had passed)."""
        with self._lock:
            now = self.clock()
            self._tokens = {t: min(at, now - 1) for t, at in self._tokens.items()}

    # ------------------------------------------------------------ the API
    def _take_error(self, endpoint: str) -> int | None:
        with self._lock:
            self._stats[endpoint] += 1
            queued = self._errors.get(endpoint)
            return queued.pop(0) if queued else None

    def _token_error(self, access_token: str | None) -> int | None:
        if not access_token:
            return 41001
        with self._lock:
            expires_at = self._tokens.get(access_token)
        if expires_at is None:
            return 40001
        if expires_at <= self.clock():
            return 42001
        return None

    def _issue(self, grace_for_old: bool) -> str:
        token = secrets.token_urlsafe(96)
        now = self.clock()
        with self._lock:
            if grace_for_old:
                self._tokens = {t: min(at, now + OLD_TOKEN_GRACE_S) for t, at in self._tokens.items()}
            else:
                self._tokens = {t: min(at, now - 1) for t, at in self._tokens.items()}
            self._tokens[token] = now + self.expires_in
        return token

    def _credentials_error(self, appid: Any, secret: Any) -> int | None:
        if appid != self.app_id:
            return 40013
        if not isinstance(secret, str) or not secrets.compare_digest(secret.encode(), self.app_secret.encode()):
            return 40125
        return None

    def stable_token(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("grant_type") != "client_credential":
            return _error(47001)
        failed = self._credentials_error(body.get("appid"), body.get("secret"))
        if failed:
            return _error(failed)
        with self._lock:
            current = self._stable
            alive = current is not None and self._tokens.get(current, 0) > self.clock()
        if body.get("force_refresh") is True or not alive:
            current = self._issue(grace_for_old=False)
            with self._lock:
                self._stable = current
        with self._lock:
            left = math.ceil(self._tokens[current] - self.clock())
        return {"access_token": current, "expires_in": max(left, 1)}

    def plain_token(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("grant_type") != "client_credential":
            return _error(47001)
        failed = self._credentials_error(params.get("appid"), params.get("secret"))
        if failed:
            return _error(failed)
        token = self._issue(grace_for_old=True)
        with self._lock:
            self._stable = token
        return {"access_token": token, "expires_in": self.expires_in}

    def custom_send(self, body: dict[str, Any]) -> dict[str, Any]:
        openid, msgtype = body.get("touser"), body.get("msgtype")
        if not isinstance(openid, str) or not openid:
            return _error(40003)
        if msgtype != "text":
            return _error(40008)
        content = (body.get("text") or {}).get("content") if isinstance(body.get("text"), dict) else None
        if not isinstance(content, str) or not content:
            return _error(44003)
        with self._lock:
            seen = self._last_seen.get(openid)
        now = self.clock()
        if seen is None or now - seen > WINDOW_S:
            return _error(45015)
        self._record({"kind": "custom", "touser": openid, "msgtype": "text", "content": content, "time": now})
        return _error(0)

    def template_send(self, body: dict[str, Any]) -> dict[str, Any]:
        openid, template_id, data = body.get("touser"), body.get("template_id"), body.get("data")
        if not isinstance(openid, str) or not openid:
            return _error(40003)
        if not isinstance(template_id, str) or not template_id:
            return _error(40037)
        if not isinstance(data, dict) or not all(isinstance(v, dict) and "value" in v for v in data.values()):
            return _error(47001)
        with self._lock:
            msgid = self._msg_ids = self._msg_ids + 1
        message = {
            "kind": "template",
            "touser": openid,
            "template_id": template_id,
            "data": {k: v["value"] for k, v in data.items()},
            "url": body.get("url"),
            "time": self.clock(),
        }
        self._record(message)
        return {**_error(0), "msgid": msgid}

    def _record(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._messages.append(message)

    # ---------------------------------------------------------- WeChat's side
    def send(
        self,
        server_url: str | None,
        openid: str,
        type: str = "text",  # WeChat's MsgType
        content: str | None = None,
        media_id: str | None = None,
        pic_url: str | None = None,
        location_x: float | None = None,
        location_y: float | None = None,
        label: str | None = None,
        event: str | None = None,
        event_key: str | None = None,
        safe_mode: bool = True,
        msg_id: str | None = None,
        repeat: int = 1,
        create_time: int | None = None,
    ) -> Delivery:
        """One message from `openid` to our endpoint, as WeChat delivers it. `repeat=N` delivers the very same
        message N times whatever the answers (a redelivery); otherwise WeChat's retries apply (up to 3 more tries
        after a timeout or an error answer). Raises ReplyInvalid for an answer WeChat would refuse."""
        url = server_url or self.server_url
        if not url:
            raise ValueError("no server URL: pass one, or set fake.server_url")
        now = int(self.clock()) if create_time is None else create_time
        if type == "image" and media_id and not pic_url:
            pic_url = self.pic_url(media_id)
        if type != "event" and msg_id is None:
            with self._lock:
                self._msg_ids += 1
                msg_id = str(self._msg_ids)
        fields = {
            "ToUserName": self.original_id,
            "FromUserName": openid,
            "CreateTime": now,
            "MsgType": type,
            "Content": content,
            "PicUrl": pic_url,
            "MediaId": media_id,
            "Location_X": location_x,
            "Location_Y": location_y,
            "Scale": 15 if type == "location" else None,
            "Label": label,
            "Event": event,
            "EventKey": event_key,
            "MsgId": int(msg_id) if msg_id and msg_id.isascii() and msg_id.isdigit() else msg_id,  # bare, as WeChat
        }
        inner = message_xml(fields)
        self.set_last_seen(openid, now)
        timestamp, nonce = str(int(self.clock())), str(secrets.randbelow(10**10))
        query = {
            "signature": self.crypto.signature(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": openid,
        }
        body = inner
        if safe_mode:
            encrypted = self.crypto.encrypt(inner)
            body = f"<xml><ToUserName>{cdata(self.original_id)}</ToUserName><Encrypt>{cdata(encrypted)}</Encrypt></xml>"
            query |= {
                "encrypt_type": "aes",
                "msg_signature": self.crypto.signature(self.token, timestamp, nonce, encrypted),
            }
        target = _with_query(url, query)
        statuses: list[int | None] = []
        answer: bytes | None = None
        for _ in range(repeat if repeat > 1 else RETRIES + 1):
            status, answer = self._post(target, body.encode("utf-8"))
            statuses.append(status)
            if repeat <= 1 and status == 200:
                break
        attempts = len(statuses)
        if statuses[-1] != 200 or answer is None:
            return Delivery(None, attempts, statuses)
        return Delivery(self._read_reply(answer, openid, safe_mode), attempts, statuses)

    def _post(self, url: str, body: bytes) -> tuple[int | None, bytes | None]:
        split = urlsplit(url)
        conn_type = http.client.HTTPSConnection if split.scheme == "https" else http.client.HTTPConnection
        conn = conn_type(split.hostname, split.port, timeout=self.reply_timeout_s)
        path = split.path + ("?" + split.query if split.query else "")
        try:
            conn.request("POST", path or "/", body, {"Content-Type": "text/xml", "User-Agent": "Mozilla/4.0"})
            response = conn.getresponse()
            return response.status, response.read(1024 * 1024)
        except (OSError, http.client.HTTPException):
            return None, None  # no answer in time, or none at all: WeChat retries
        finally:
            conn.close()

    def _read_reply(self, answer: bytes, openid: str, safe_mode: bool) -> str:
        text = answer.decode("utf-8", "replace").strip()
        if text in ("", SUCCESS):
            return SUCCESS
        try:
            if safe_mode:
                text = self.crypto.unwrap_reply(answer)
            root = xml_root(text, max_bytes=1024 * 1024)
        except WechatError as e:
            raise ReplyInvalid(f"the reply is not one WeChat takes: {e}") from None
        if "<Encrypt>" in text and not safe_mode:
            raise ReplyInvalid("an encrypted reply to a plaintext message")
        if child_text(root, "ToUserName") != openid or child_text(root, "FromUserName") != self.original_id:
            raise ReplyInvalid("the reply is not addressed from the account to the sender")
        if not (child_text(root, "CreateTime") or "").isdigit():
            raise ReplyInvalid("the reply has no CreateTime")
        if child_text(root, "MsgType") == "text":
            return child_text(root, "Content") or ""
        return text

    def verify_server(self, server_url: str | None = None) -> bool:
        """WeChat's check when the server URL is saved: a signed GET whose echostr must come back as the body."""
        url = server_url or self.server_url
        if not url:
            raise ValueError("no server URL: pass one, or set fake.server_url")
        timestamp, nonce, echostr = str(int(self.clock())), str(secrets.randbelow(10**10)), secrets.token_hex(10)
        signature = self.crypto.signature(self.token, timestamp, nonce)
        split = urlsplit(
            _with_query(url, {"signature": signature, "timestamp": timestamp, "nonce": nonce, "echostr": echostr})
        )
        conn = http.client.HTTPConnection(split.hostname, split.port, timeout=self.reply_timeout_s)
        try:
            conn.request("GET", f"{split.path}?{split.query}")
            response = conn.getresponse()
            return response.status == 200 and response.read(1024).decode("utf-8", "replace") == echostr
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    # ----------------------------------------------------------------- HTTP
    def start(self) -> FakeWechat:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                fake._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self, "POST")

        self._http = _Server((self.host, self.port), Handler)
        self._http.daemon_threads = True
        self.port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, args=(0.1,), name="fake-wechat", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._http:
            self._http.shutdown()
            self._http.server_close()

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(req.path)
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        params = {k: v[-1] for k, v in parse_qs(split.query).items()}
        path = split.path
        if path.startswith("/_fake/pic/"):
            return self._picture(req, path.removeprefix("/_fake/pic/"))
        if path.startswith("/_fake/"):
            return self._control(req, method, path, body, req.headers.get("Content-Type") or "")
        api = {
            "/cgi-bin/stable_token": ("POST", "stable_token"),
            "/cgi-bin/token": ("GET", "token"),
            "/cgi-bin/message/custom/send": ("POST", "custom/send"),
            "/cgi-bin/message/template/send": ("POST", "template/send"),
            "/cgi-bin/media/get": ("GET", "media/get"),
        }
        if path not in api or api[path][0] != method:
            return _send(req, 404, "text/html", b"<html><body>404 Not Found</body></html>")
        endpoint = api[path][1]
        injected = self._take_error(endpoint)
        if injected is not None and 500 <= injected < 600:
            return _send(req, injected, "text/html", f"<html><body>{injected}</body></html>".encode())
        if injected is not None:
            return _send_json(req, 200, _error(injected))
        if endpoint == "stable_token":
            return _send_json(req, 200, self.stable_token(_json_body(body)))
        if endpoint == "token":
            return _send_json(req, 200, self.plain_token(params))
        failed = self._token_error(params.get("access_token"))
        if failed:
            return _send_json(req, 200, _error(failed))
        if endpoint == "custom/send":
            return _send_json(req, 200, self.custom_send(_json_body(body)))
        if endpoint == "template/send":
            return _send_json(req, 200, self.template_send(_json_body(body)))
        with self._lock:
            found = self._media.get(params.get("media_id", ""))
        if found is None:
            return _send_json(req, 200, _error(40007))
        data, content_type = found
        disposition = {"Content-disposition": f'attachment; filename="{params["media_id"][:16]}.jpg"'}
        return _send(req, 200, content_type, data, disposition)

    def _picture(self, req: BaseHTTPRequestHandler, media_id: str) -> None:
        with self._lock:
            found = self._media.get(media_id)
        if found is None:
            return _send(req, 404, "text/html", b"<html><body>404 Not Found</body></html>")
        return _send(req, 200, found[1], found[0])

    def _control(self, req: BaseHTTPRequestHandler, method: str, path: str, body: bytes, content_type: str) -> None:
        try:
            answer = self._control_answer(method, path, body, content_type)
        except (ValueError, TypeError, KeyError) as e:
            return _send_json(req, 400, {"error": {"code": "bad_control", "message": str(e)}})
        except ReplyInvalid as e:
            return _send_json(req, 502, {"error": {"code": "reply_invalid", "message": str(e)}})
        if answer is None:
            return _send_json(req, 404, {"error": {"code": "not_found", "message": "no such control"}})
        return _send_json(req, 200, answer)

    def _control_answer(self, method: str, path: str, body: bytes, content_type: str) -> Any:
        if method == "GET":
            gets: dict[str, Callable[[], Any]] = {
                "/_fake/messages": self.messages,
                "/_fake/stats": self.stats,
                "/_fake/config": self.configure,
            }
            return gets[path]() if path in gets else None
        if path == "/_fake/media":
            media_id = self.add_media(body, content_type.split(";")[0] or "application/octet-stream")
            return {"media_id": media_id, "pic_url": self.pic_url(media_id)}
        if path == "/_fake/reset":
            self.reset()
            return {"ok": True}
        if path == "/_fake/expire":
            self.expire_tokens()
            return {"ok": True}
        doc = _json_body(body)
        if path == "/_fake/config":
            return self.configure(doc.get("expires_in"))
        if path == "/_fake/errors":
            self.inject({k: list(v) for k, v in doc.items()})
            return {"ok": True}
        if path == "/_fake/last_seen":
            self.set_last_seen(str(doc["openid"]), float(doc["epoch"]))
            return {"ok": True}
        if path == "/_fake/verify":
            return {"verified": self.verify_server(doc.get("server_url"))}
        if path == "/_fake/send":
            kwargs = {k: doc[k] for k in _SEND_FIELDS if k in doc}
            return self.send(doc.get("server_url"), str(doc["openid"]), **kwargs).as_json()
        return None


_SEND_FIELDS = (
    "type",
    "content",
    "media_id",
    "pic_url",
    "location_x",
    "location_y",
    "label",
    "event",
    "event_key",
    "safe_mode",
    "msg_id",
    "repeat",
    "create_time",
)


def message_xml(fields: dict[str, Any]) -> str:
    """A user's message as WeChat writes it: strings in CDATA, numbers bare, absent fields left out."""
    parts = []
    for tag, value in fields.items():
        if value is None:
            continue
        text = str(value) if isinstance(value, int | float) else cdata(str(value))
        parts.append(f"<{tag}>{text}</{tag}>")
    return "<xml>" + "".join(parts) + "</xml>"


def _with_query(url: str, query: dict[str, str]) -> str:
    split = urlsplit(url)
    extra = urllib.parse.urlencode(query)
    return urllib.parse.urlunsplit(split._replace(query=f"{split.query}&{extra}" if split.query else extra))


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        raise ValueError("the body is not JSON") from None
    if not isinstance(doc, dict):
        raise ValueError("the body is not a JSON object")
    return doc


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that stopped reading, as it may
            super().handle_error(request, client_address)


def _error(code: int) -> dict[str, Any]:
    return {"errcode": code, "errmsg": "ok" if code == 0 else _ERRMSG.get(code, "error")}


def _send_json(req: BaseHTTPRequestHandler, status: int, data: Any) -> None:
    _send(req, status, "application/json; encoding=utf-8", json.dumps(data, ensure_ascii=False).encode("utf-8"))


def _send(
    req: BaseHTTPRequestHandler, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
) -> None:
    req.send_response(status)
    req.send_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        req.send_header(name, value)
    req.send_header("Content-Length", str(len(body)))
    req.end_headers()
    req.wfile.write(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--server-url", help="our /wechat endpoint, where /_fake/send delivers")
    for name in ("token", "app-id", "app-secret", "aes-key"):  # WECHAT_* of the stack; random if not given
        parser.add_argument(f"--{name}")
    args = parser.parse_args(argv)
    fake = FakeWechat(
        token=args.token,
        app_id=args.app_id,
        app_secret=args.app_secret,
        aes_key=args.aes_key,
        port=args.port,
        server_url=args.server_url,
    ).start()
    print(f"fake WeChat at {fake.api_base}; messages at {fake.url}/_fake/messages", flush=True)
    print(
        f"WECHAT_API_BASE={fake.api_base} WECHAT_APP_ID={fake.app_id} WECHAT_TOKEN={fake.token}"
        f" WECHAT_AES_KEY={fake.aes_key} WECHAT_APP_SECRET={fake.app_secret}",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`/wechat`: WeChat's official-account server protocol over API Gateway (WechatFunction).

- `GET ?signature&timestamp&nonce&echostr`: the server check WeChat makes when the URL is configured. A matching
  signature gets `echostr` back; anything else a 403, with nothing done.
- `POST`: a user's message or event. Plaintext mode: `signature` over token, timestamp and nonce. Safe mode
  (`encrypt_type=aes`): `msg_signature` over those and the `Encrypt` text, which is AES-256-CBC with the
  EncodingAESKey; the reply is encrypted and signed the same way. A timestamp more than five minutes away from now
  is refused too (a recorded request replayed later). The reply is the conversation's text, or `success` for
  nothing; it is given at once, within WeChat's 5 seconds, and everything slow happens after (wechat_drafts).

Refusals are JSON errors: 403 `signature_invalid` (the same for every kind of bad signature or ciphertext, so
nothing can be learnt from which), 400 `malformed_message`, 413 `body_too_large`, 405 for other methods. The
query string carries the sender's OpenID (`openid=`): it is never logged.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from complaints.adapters.wechat.crypto import WechatCrypto
from complaints.adapters.wechat.messages import MAX_BODY_BYTES, SUCCESS, parse, text_reply
from complaints.domain.desk.wechat_inbox import WechatInbox
from complaints.domain.errors import TemporarilyUnavailable
from complaints.domain.wechat import WechatMalformed, WechatSignatureInvalid

log = logging.getLogger("complaints")

MAX_SKEW_S = 300


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"

    def as_proxy(self) -> dict[str, Any]:
        return {"statusCode": self.status, "headers": {"Content-Type": self.content_type}, "body": self.body}


def _error(status: int, code: str, message: str) -> Answer:
    return Answer(
        status,
        json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False),
        "application/json; charset=utf-8",
    )


_FORBIDDEN = ("signature_invalid", "the request is not signed with this account's token")


@dataclass
class WechatEndpoint:
    crypto: Callable[[], WechatCrypto]  # the account's keys, read (and cached) from SSM
    inbox: WechatInbox
    clock: Callable[[], float] = time.time  # the wall clock: WeChat's timestamps are real time

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        method = event.get("httpMethod", "")
        query = event.get("queryStringParameters") or {}
        if method == "GET":
            return self.verify(query).as_proxy()
        if method == "POST":
            body = event.get("body") or ""
            try:
                raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8")
            except (binascii.Error, ValueError):
                return _error(400, "malformed_message", "the body is not base64").as_proxy()
            return self.receive(query, raw).as_proxy()
        return _error(405, "method_not_allowed", "only GET and POST").as_proxy()

    def verify(self, query: dict[str, str]) -> Answer:
        parts = [query.get(k) for k in ("signature", "timestamp", "nonce", "echostr")]
        if not all(parts) or not self._fresh(parts[1] or ""):
            return _error(403, *_FORBIDDEN)
        signature, timestamp, nonce, echostr = parts
        if not self.crypto().check(signature or "", timestamp or "", nonce or ""):
            log.warning("WeChat server check refused: bad signature")
            return _error(403, *_FORBIDDEN)
        return Answer(200, echostr or "")

    def receive(self, query: dict[str, str], body: bytes) -> Answer:
        if len(body) > MAX_BODY_BYTES:
            return _error(413, "body_too_large", f"a WeChat message is at most {MAX_BODY_BYTES} bytes")
        timestamp, nonce = query.get("timestamp") or "", query.get("nonce") or ""
        if not timestamp or not nonce or not self._fresh(timestamp):
            return _error(403, *_FORBIDDEN)
        crypto = self.crypto()
        safe = (query.get("encrypt_type") or "raw").lower() == "aes"
        try:
            if safe:
                inner = crypto.unwrap(body, query.get("msg_signature") or "", timestamp, nonce)
            elif crypto.check(query.get("signature") or "", timestamp, nonce):
                inner = body
            else:
                raise WechatSignatureInvalid("bad signature")
            msg = parse(inner)
        except WechatSignatureInvalid:
            log.warning("WeChat message refused: bad signature or ciphertext", extra={"safe_mode": safe})
            return _error(403, *_FORBIDDEN)
        except WechatMalformed as e:
            log.warning("WeChat message refused: malformed", extra={"reason": str(e)})
            return _error(400, "malformed_message", str(e))
        except ValueError:  # safe mode asked of an account without an EncodingAESKey
            return _error(403, *_FORBIDDEN)
        try:
            reply = self.inbox.receive(msg)
        except TemporarilyUnavailable as e:
            return _error(503, "unavailable", str(e))
        if reply is None:
            return Answer(200, SUCCESS)
        xml = text_reply(msg.from_user, msg.to_user, reply, int(self.clock()))
        if safe:
            xml = crypto.wrap(xml, timestamp, nonce)
        return Answer(200, xml, "application/xml; charset=utf-8")

    def _fresh(self, timestamp: str) -> bool:
        return timestamp.isascii() and timestamp.isdigit() and abs(self.clock() - int(timestamp)) <= MAX_SKEW_S

"""WeChat's message signing and encryption (the official accounts' WXBizMsgCrypt), both directions.

- A request from WeChat is signed: `signature` = SHA-1 of the sorted strings token, timestamp, nonce, joined; in safe
  mode `msg_signature` signs the same with the `Encrypt` element's text as a fourth string.
- Safe mode's AES key is base64(EncodingAESKey + "="): 43 characters → 32 bytes; AES-256-CBC, the IV the key's first
  16 bytes. The plaintext is 16 random bytes, the message's length as 4 bytes big-endian, the message (UTF-8) and
  the AppID, padded PKCS#7-style to a multiple of 32 bytes (WeChat's block, not AES's 16), then base64.
- An encrypted reply goes back as `<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>`.

Decisions where WeChat's SDK is loose: `decrypt` checks everything it can — base64, whole AES blocks, a padding of
1 to 32 bytes all equal to their count, a length that fits, the AppID — and every failure is the same
`WechatSignatureInvalid` with the same message. One answer for all of them (a 403 at the endpoint) gives no padding
oracle, and a message that does not decrypt for our account is, to us, not from WeChat. A body that is not XML or has
no `Encrypt` is `WechatMalformed` (400): that is decided before any key is used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from complaints.adapters.wechat.messages import MAX_BODY_BYTES, cdata, child_text, xml_root
from complaints.domain.wechat import WechatMalformed, WechatSignatureInvalid

BLOCK = 32  # WeChat pads to 32 bytes
_NOT_FOR_US = "an encrypted message that does not decrypt for this account"


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key an EncodingAESKey stands for; ValueError (never repeating the key) if it is not one."""
    if len(encoding_aes_key) != 43 or not encoding_aes_key.isascii():
        raise ValueError("an EncodingAESKey is 43 characters of base64")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error:
        raise ValueError("an EncodingAESKey is 43 characters of base64") from None
    return key


class WechatCrypto:
    """One account's token, EncodingAESKey and AppID. `encoding_aes_key` may be None for an account in plaintext mode:
    signatures work, encryption raises."""

    def __init__(self, token: str, encoding_aes_key: str | None, app_id: str) -> None:
        self.token = token
        self.app_id = app_id
        self._key = aes_key(encoding_aes_key) if encoding_aes_key else None

    # --------------------------------------------------------------- signatures
    @staticmethod
    def signature(*parts: str) -> str:
        return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()

    def check(self, signature: str, timestamp: str, nonce: str, encrypted: str | None = None) -> bool:
        """Whether `signature` (or `msg_signature`, with `encrypted`) signs these with our token; constant time."""
        parts = [self.token, timestamp, nonce] + ([encrypted] if encrypted is not None else [])
        expected = self.signature(*parts).encode("ascii")
        return hmac.compare_digest(expected, signature.encode("utf-8", "surrogatepass"))

    # --------------------------------------------------------------- encryption
    def _cipher(self) -> Cipher:
        if self._key is None:
            raise ValueError("this account has no EncodingAESKey (plaintext mode)")
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, text: str, random16: bytes | None = None) -> str:
        random16 = os.urandom(16) if random16 is None else random16
        if len(random16) != 16:
            raise ValueError("the random prefix is 16 bytes")
        message = text.encode("utf-8")
        plain = random16 + struct.pack(">I", len(message)) + message + self.app_id.encode("utf-8")
        pad = BLOCK - len(plain) % BLOCK
        encryptor = self._cipher().encryptor()
        sealed = encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
        return base64.b64encode(sealed).decode("ascii")

    def decrypt(self, b64: str) -> str:
        """The message inside an `Encrypt` text; WechatSignatureInvalid for anything that is not one for us."""
        cipher = self._cipher()
        try:
            sealed = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise WechatSignatureInvalid(_NOT_FOR_US) from None
        if not sealed or len(sealed) % 16:
            raise WechatSignatureInvalid(_NOT_FOR_US)
        decryptor = cipher.decryptor()
        plain = decryptor.update(sealed) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
            raise WechatSignatureInvalid(_NOT_FOR_US)
        body = plain[:-pad]
        if len(body) < 20:
            raise WechatSignatureInvalid(_NOT_FOR_US)
        (length,) = struct.unpack(">I", body[16:20])
        if 20 + length > len(body):
            raise WechatSignatureInvalid(_NOT_FOR_US)
        message, app_id = body[20 : 20 + length], body[20 + length :]
        if not hmac.compare_digest(app_id, self.app_id.encode("utf-8")):
            raise WechatSignatureInvalid(_NOT_FOR_US)
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            raise WechatSignatureInvalid(_NOT_FOR_US) from None

    # ---------------------------------------------------------------- envelopes
    def wrap(self, reply_xml: str, timestamp: str, nonce: str, random16: bytes | None = None) -> str:
        """An encrypted reply, as WeChat expects one in safe mode."""
        encrypted = self.encrypt(reply_xml, random16)
        signature = self.signature(self.token, timestamp, encrypted, nonce)
        return (
            f"<xml><Encrypt>{cdata(encrypted)}</Encrypt><MsgSignature>{cdata(signature)}</MsgSignature>"
            f"<TimeStamp>{cdata(timestamp)}</TimeStamp><Nonce>{cdata(nonce)}</Nonce></xml>"
        )

    def unwrap(
        self, body_xml: bytes | str, msg_signature: str, timestamp: str, nonce: str, max_bytes: int = MAX_BODY_BYTES
    ) -> str:
        """The inner XML of a safe-mode message, once `msg_signature` is checked over token, timestamp, nonce and
        the Encrypt text."""
        root = xml_root(body_xml, max_bytes)
        encrypted = child_text(root, "Encrypt")
        if not encrypted:
            raise WechatMalformed("an encrypted message without Encrypt")
        if not self.check(msg_signature, timestamp, nonce, encrypted):
            raise WechatSignatureInvalid("a message whose msg_signature does not match")
        return self.decrypt(encrypted)

    def unwrap_reply(self, body_xml: bytes | str, max_bytes: int = MAX_BODY_BYTES) -> str:
        """The inner XML of an encrypted reply (what WeChat does with our answer; the fake WeChat uses it), after
        checking its MsgSignature over its own TimeStamp and Nonce."""
        root = xml_root(body_xml, max_bytes)
        encrypted = child_text(root, "Encrypt")
        signature, timestamp, nonce = (child_text(root, t) for t in ("MsgSignature", "TimeStamp", "Nonce"))
        if not encrypted or signature is None or timestamp is None or nonce is None:
            raise WechatMalformed("an encrypted reply without Encrypt, MsgSignature, TimeStamp or Nonce")
        if not self.check(signature, timestamp, nonce, encrypted):
            raise WechatSignatureInvalid("a reply whose MsgSignature does not match")
        return self.decrypt(encrypted)

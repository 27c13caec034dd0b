"""WeChat's signatures and safe-mode encryption, proved against vectors built here in WeChat's documented shapes.

The expected values are made without WechatCrypto: hashlib for the signatures, and for the ciphertext the documented
layout (16 random bytes, 4-byte big-endian length, message, AppID, padding to 32 bytes) put together byte by byte
and encrypted with cryptography's AES directly.
"""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from complaints.adapters.wechat.crypto import WechatCrypto, aes_key
from complaints.domain.wechat import WechatMalformed, WechatSignatureInvalid

TOKEN = "ruianfabu2026"
# 43 characters: base64 of 32 bytes (0x00..0x1f) less its "=".
KEY_BYTES = bytes(range(32))
ENCODING_AES_KEY = base64.b64encode(KEY_BYTES).decode().rstrip("=")
APP_ID = "wx5823bf96d3bd56c7"
RANDOM16 = b"abcdefghijklmnop"
INNER = (
    "<xml><ToUserName><![CDATA[gh_ruian]]></ToUserName><FromUserName><![CDATA[oUser123]]></FromUserName>"
    "<CreateTime>1764640000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[路灯坏了三天了]]></Content>"
    "<MsgId>24000000000000001</MsgId></xml>"
)


def crypto() -> WechatCrypto:
    return WechatCrypto(TOKEN, ENCODING_AES_KEY, APP_ID)


def by_hand(message: bytes, app_id: bytes = APP_ID.encode(), padding: bytes | None = None) -> str:
    """The documented layout, encrypted with the AES primitive and nothing of ours."""
    plain = RANDOM16 + struct.pack(">I", len(message)) + message + app_id
    if padding is None:
        n = 32 - len(plain) % 32
        padding = bytes([n]) * n
    enc = Cipher(algorithms.AES(KEY_BYTES), modes.CBC(KEY_BYTES[:16])).encryptor()
    return base64.b64encode(enc.update(plain + padding) + enc.finalize()).decode()


def test_the_encoding_aes_key_is_43_characters_standing_for_32_bytes():
    assert len(ENCODING_AES_KEY) == 43
    assert aes_key(ENCODING_AES_KEY) == KEY_BYTES
    for bad in (ENCODING_AES_KEY[:-1], ENCODING_AES_KEY + "A", "!" * 43, "密" * 43):
        with pytest.raises(ValueError) as e:
            aes_key(bad)
        assert bad not in str(e.value)


def test_the_signature_is_sha1_of_the_sorted_parts_joined():
    expected = hashlib.sha1("".join(sorted([TOKEN, "1764640000", "389247"])).encode()).hexdigest()
    assert WechatCrypto.signature(TOKEN, "1764640000", "389247") == expected
    assert crypto().check(expected, "1764640000", "389247")
    assert not crypto().check(expected, "1764640001", "389247")
    assert not crypto().check(expected.upper(), "1764640000", "389247")
    assert not crypto().check("", "1764640000", "389247")
    assert not crypto().check("签名", "1764640000", "389247")


def test_the_message_signature_includes_the_encrypted_text():
    encrypted = by_hand(INNER.encode())
    expected = hashlib.sha1("".join(sorted([TOKEN, "1764640000", "389247", encrypted])).encode()).hexdigest()
    assert crypto().check(expected, "1764640000", "389247", encrypted)
    assert not crypto().check(expected, "1764640000", "389247", encrypted[:-4] + "AAAA")
    plain = hashlib.sha1("".join(sorted([TOKEN, "1764640000", "389247"])).encode()).hexdigest()
    assert not crypto().check(plain, "1764640000", "389247", encrypted)


def test_encrypt_matches_the_layout_built_by_hand():
    assert crypto().encrypt(INNER, RANDOM16) == by_hand(INNER.encode())


@pytest.mark.parametrize("size", [0, 1, 11, 12, 13, 44, 45, 300])
def test_padding_always_fills_to_a_32_byte_block_and_is_never_empty(size):
    # 16 + 4 + 18 (the AppID) = 38 bytes around the message: 12 and 44 bytes make a whole block, padded by 32.
    message = "a" * size
    sealed = base64.b64decode(crypto().encrypt(message, RANDOM16))
    assert len(sealed) % 32 == 0
    assert sealed == base64.b64decode(by_hand(message.encode()))
    dec = Cipher(algorithms.AES(KEY_BYTES), modes.CBC(KEY_BYTES[:16])).decryptor()
    plain = dec.update(sealed) + dec.finalize()
    assert 1 <= plain[-1] <= 32 and plain[-plain[-1] :] == bytes([plain[-1]]) * plain[-1]
    assert len(plain) - plain[-1] == 38 + size


def test_decrypt_reads_a_vector_built_by_hand():
    assert crypto().decrypt(by_hand(INNER.encode())) == INNER


def test_a_different_random_prefix_makes_a_different_ciphertext_of_the_same_message():
    a, b = crypto().encrypt(INNER), crypto().encrypt(INNER)
    assert a != b
    assert crypto().decrypt(a) == crypto().decrypt(b) == INNER


@pytest.mark.parametrize(
    "vector",
    [
        pytest.param(by_hand(INNER.encode(), app_id=b"wx0000000000000000"), id="another account's AppID"),
        pytest.param(by_hand(INNER.encode(), app_id=b""), id="no AppID"),
        pytest.param(by_hand(b"x" * 10, padding=bytes([33]) * 32), id="padding beyond the block"),
        pytest.param(by_hand(b"x" * 10, padding=b"\x00" * 32), id="zero padding"),
        pytest.param(by_hand(b"x" * 10, padding=bytes(range(1, 33))[::-1][:31] + b"\x04"), id="uneven padding"),
        pytest.param("not base64 at all!", id="not base64"),
        pytest.param(base64.b64encode(b"\x01" * 17).decode(), id="not whole AES blocks"),
        pytest.param("", id="empty"),
    ],
)
def test_anything_that_is_not_our_layout_is_refused_with_one_message(vector):
    with pytest.raises(WechatSignatureInvalid) as e:
        crypto().decrypt(vector)
    assert str(e.value) == "an encrypted message that does not decrypt for this account"


def test_a_length_longer_than_what_follows_is_refused():
    # Hand-made: the length field claims 4,000 bytes, but only 10 follow.
    plain = RANDOM16 + struct.pack(">I", 4000) + b"x" * 10 + APP_ID.encode()
    n = 32 - len(plain) % 32
    enc = Cipher(algorithms.AES(KEY_BYTES), modes.CBC(KEY_BYTES[:16])).encryptor()
    vector = base64.b64encode(enc.update(plain + bytes([n]) * n) + enc.finalize()).decode()
    with pytest.raises(WechatSignatureInvalid):
        crypto().decrypt(vector)


def test_tampered_ciphertext_is_refused():
    sealed = bytearray(base64.b64decode(by_hand(INNER.encode())))
    sealed[-1] ^= 0x01  # the last block's padding no longer checks out
    with pytest.raises(WechatSignatureInvalid):
        crypto().decrypt(base64.b64encode(bytes(sealed)).decode())


def test_unwrap_checks_the_message_signature_then_decrypts():
    encrypted = by_hand(INNER.encode())
    body = f"<xml><ToUserName><![CDATA[gh_ruian]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    signature = hashlib.sha1("".join(sorted([TOKEN, "1764640000", "389247", encrypted])).encode()).hexdigest()
    assert crypto().unwrap(body.encode(), signature, "1764640000", "389247") == INNER
    with pytest.raises(WechatSignatureInvalid):
        crypto().unwrap(body.encode(), signature, "1764640000", "389248")
    with pytest.raises(WechatSignatureInvalid):
        WechatCrypto("another-token", ENCODING_AES_KEY, APP_ID).unwrap(body, signature, "1764640000", "389247")


def test_unwrap_refuses_a_body_without_encrypt_or_not_xml_as_malformed():
    with pytest.raises(WechatMalformed):
        crypto().unwrap(b"<xml><ToUserName>gh</ToUserName></xml>", "x", "1", "2")
    with pytest.raises(WechatMalformed):
        crypto().unwrap(b"not xml", "x", "1", "2")


def test_a_signed_envelope_around_another_accounts_message_is_refused():
    encrypted = by_hand(INNER.encode(), app_id=b"wx1111111111111111")
    body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    signature = WechatCrypto.signature(TOKEN, "1", "2", encrypted)
    with pytest.raises(WechatSignatureInvalid):
        crypto().unwrap(body, signature, "1", "2")


def test_wrap_makes_the_documented_reply_envelope():
    reply = "<xml><Content><![CDATA[收到]]></Content></xml>"
    envelope = crypto().wrap(reply, "1764640009", "nonce42", RANDOM16)
    encrypted = by_hand(reply.encode())
    signature = hashlib.sha1("".join(sorted([TOKEN, "1764640009", "nonce42", encrypted])).encode()).hexdigest()
    assert envelope == (
        f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt><MsgSignature><![CDATA[{signature}]]></MsgSignature>"
        "<TimeStamp><![CDATA[1764640009]]></TimeStamp><Nonce><![CDATA[nonce42]]></Nonce></xml>"
    )
    assert crypto().unwrap_reply(envelope) == reply


def test_a_reply_with_a_wrong_signature_is_refused():
    envelope = crypto().wrap("<xml/>", "1764640009", "nonce42").replace("1764640009", "1764640010")
    with pytest.raises(WechatSignatureInvalid):
        crypto().unwrap_reply(envelope)


def test_an_account_in_plaintext_mode_signs_but_cannot_encrypt():
    plain = WechatCrypto(TOKEN, None, APP_ID)
    assert plain.check(WechatCrypto.signature(TOKEN, "1", "2"), "1", "2")
    with pytest.raises(ValueError):
        plain.encrypt("x")


@settings(max_examples=150, deadline=None)
@given(text=st.text(), random16=st.binary(min_size=16, max_size=16))
def test_whatever_is_encrypted_decrypts_to_itself(text, random16):
    # Lone surrogates are not text WeChat can carry; UTF-8 cannot encode them.
    text = text.encode("utf-8", "replace").decode("utf-8")
    c = crypto()
    sealed = c.encrypt(text, random16)
    assert c.decrypt(sealed) == text
    assert sealed == by_hand_with(text.encode(), random16)


def by_hand_with(message: bytes, random16: bytes) -> str:
    plain = random16 + struct.pack(">I", len(message)) + message + APP_ID.encode()
    n = 32 - len(plain) % 32
    enc = Cipher(algorithms.AES(KEY_BYTES), modes.CBC(KEY_BYTES[:16])).encryptor()
    return base64.b64encode(enc.update(plain + bytes([n]) * n) + enc.finalize()).decode()

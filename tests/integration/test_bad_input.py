"""Every kind of bad request gets a 4xx with a JSON error, and nothing is stored."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image


def truncated_png_b64() -> str:
    buf = io.BytesIO()
    Image.radial_gradient("L").resize((512, 512)).save(buf, "PNG")
    data = buf.getvalue()
    return base64.b64encode(data[: len(data) // 3]).decode()


OK_TEXT = "上望街道有人烧垃圾"

BAD_BODIES = {
    "empty object": {},
    "missing text": {"channel": "app"},
    "blank text": {"text": "   \n\t "},
    "text too long": {"text": "烧" * 5001},
    "text only punctuation": {"text": "？？？！！。。"},
    "text only zero-width and direction marks": {"text": "\u200b\u200e\u202e\ufeff"},
    "text is an object": {"text": {"zh": "烧垃圾"}},
    "channel null": {"text": OK_TEXT, "channel": None},
    "channel in capitals": {"text": OK_TEXT, "channel": "APP"},
    "latitude NaN": {"text": OK_TEXT, "location": {"lat": float("nan"), "lng": 120.7}},
    "latitude infinite": {"text": OK_TEXT, "location": {"lat": float("inf"), "lng": 120.7}},
    "huge integer latitude": {"text": OK_TEXT, "location": {"lat": 10**400, "lng": 120.7}},
    "location with extra field": {"text": OK_TEXT, "location": {"lat": 27.7, "lng": 120.7, "alt": 5}},
    "phone too long": {"text": OK_TEXT, "contact": {"phone": "1" * 40}},
    "photo empty string": {"text": OK_TEXT, "photo": ""},
    "photo data URL of text": {"text": OK_TEXT, "photo": "data:image/png;base64," + base64.b64encode(b"hi").decode()},
    "text is a number": {"text": 12345},
    "text is a list": {"text": ["烧垃圾"]},
    "text is null": {"text": None},
    "NUL in text": {"text": "烧垃圾\u0000"},
    "unknown channel": {"text": OK_TEXT, "channel": "fax"},
    "channel wrong type": {"text": OK_TEXT, "channel": 3},
    "unknown field": {"text": OK_TEXT, "priority": "urgent"},
    "location not an object": {"text": OK_TEXT, "location": "上望"},
    "location missing lng": {"text": OK_TEXT, "location": {"lat": 27.7}},
    "latitude out of range": {"text": OK_TEXT, "location": {"lat": 91, "lng": 120}},
    "longitude out of range": {"text": OK_TEXT, "location": {"lat": 27, "lng": -181}},
    "coordinates as strings": {"text": OK_TEXT, "location": {"lat": "27.7", "lng": "120.7"}},
    "coordinates as booleans": {"text": OK_TEXT, "location": {"lat": True, "lng": False}},
    "contact with both": {"text": OK_TEXT, "contact": {"phone": "13812345678", "email": "a@b.cn"}},
    "contact empty": {"text": OK_TEXT, "contact": {}},
    "phone with letters": {"text": OK_TEXT, "contact": {"phone": "call me maybe"}},
    "email without at": {"text": OK_TEXT, "contact": {"email": "nobody.example.com"}},
    "photo not base64": {"text": OK_TEXT, "photo": "this is not base64!!"},
    "photo is a number": {"text": OK_TEXT, "photo": 42},
    "photo is text": {"text": OK_TEXT, "photo": base64.b64encode(b"just some words").decode()},
    "photo is a PDF": {"text": OK_TEXT, "photo": base64.b64encode(b"%PDF-1.4\n%\xe2\xe3\n1 0 obj").decode()},
    "photo is a GIF": {"text": OK_TEXT, "photo": base64.b64encode(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").decode()},
    "photo truncated": {"text": OK_TEXT, "photo": truncated_png_b64()},
    "photo over 5 MB": {
        "text": OK_TEXT,
        "photo": base64.b64encode(b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024)).decode(),
    },
    "body is a list": [OK_TEXT],
    "body is a string": OK_TEXT,
    "body is null": None,
}

RAW_BODIES = {
    "malformed JSON": ('{"text": "烧垃圾"'.encode(), "application/json"),
    "trailing garbage": (b'{"text": "x"} extra', "application/json"),
    "invalid UTF-8": (b'{"text": "\xff\xfe\xfa"}', "application/json"),
    "empty body": (b"", "application/json"),
    "form encoded": (b"text=%E7%83%A7", "application/x-www-form-urlencoded"),
    "plain text": ("上望街道有人烧垃圾".encode(), "text/plain"),
    "deeply nested JSON": (b'{"text": "x", "location": ' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json"),
}


def assert_rejected(stack, reply, before):
    assert 400 <= reply.status < 500, (reply.status, reply.body[:300])
    err = reply.json()["error"]
    assert isinstance(err["code"], str) and isinstance(err["message"], str) and err["message"]
    assert stack.stored_ticket_count() == before[0], "a rejected request left a ticket behind"
    assert stack.stored_photo_count() == before[1], "a rejected request left a photo behind"


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_bad_json_bodies(stack, name):
    before = (stack.stored_ticket_count(), stack.stored_photo_count())
    body = BAD_BODIES[name]
    reply = stack.post(None, raw=json.dumps(body, ensure_ascii=False).encode("utf-8"))
    assert_rejected(stack, reply, before)


@pytest.mark.parametrize("name", list(RAW_BODIES))
def test_bad_raw_bodies(stack, name):
    before = (stack.stored_ticket_count(), stack.stored_photo_count())
    raw, content_type = RAW_BODIES[name]
    reply = stack.post(None, raw=raw, headers={"Content-Type": content_type})
    assert_rejected(stack, reply, before)


def test_a_body_over_the_gateway_limit_is_refused(stack):
    before = (stack.stored_ticket_count(), stack.stored_photo_count())
    reply = stack.post(None, raw=b'{"text": "' + b"a" * (11 * 1024 * 1024) + b'"}')
    assert reply.status == 413
    assert stack.stored_ticket_count() == before[0]


def test_wrong_receipt_reveals_nothing(stack):
    created = stack.post({"text": OK_TEXT}).json()
    replies = [
        stack.request("GET", f"/complaints/{created['id']}"),
        stack.request("GET", f"/complaints/{created['id']}", headers={"X-Receipt": "wrong"}),
        stack.request("GET", f"/complaints/{created['id']}?receipt=wrong"),
        stack.request("GET", f"/complaints/{'0' * 32}", headers={"X-Receipt": created["receipt"]}),
        stack.request("GET", f"/complaints/{'x' * 200}", headers={"X-Receipt": created["receipt"]}),
    ]
    assert {r.status for r in replies} == {404}
    assert len({r.body for r in replies[:4]}) == 1  # no difference between a wrong receipt and no ticket
    ok = stack.request("GET", f"/complaints/{created['id']}?receipt={created['receipt']}")
    assert ok.status == 200


def test_unknown_routes_and_methods_answer_with_the_error_shape(stack):
    for method, path in [("GET", "/nothing-here"), ("DELETE", "/complaints"), ("PUT", "/complaints/abc")]:
        reply = stack.request(method, path)
        assert reply.status in (404, 405), (method, path, reply.status)
        assert "error" in reply.json()


def test_a_body_over_the_intake_cap_is_a_413_before_it_is_parsed(stack):
    before = (stack.stored_ticket_count(), stack.stored_photo_count())
    reply = stack.post(None, raw=b'{"text": "' + b"a" * 7_200_000 + b'"}')
    assert reply.status == 413 and reply.json()["error"]["code"] == "body_too_large"
    assert (stack.stored_ticket_count(), stack.stored_photo_count()) == before

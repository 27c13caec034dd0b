"""Every kind of bad request gets a 4xx with a JSON error, and nothing is stored."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import socket
from urllib.parse import urlsplit

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
    "channel weibo from the public API": {"text": OK_TEXT, "channel": "weibo"},
    "channel wechat from the public API": {"text": OK_TEXT, "channel": "wechat"},
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
    "photo over 4 MB": {
        "text": OK_TEXT,
        "photo": base64.b64encode(b"\xff\xd8\xff" + b"\0" * (4 * 1024 * 1024)).decode(),
    },
    "latitude below -90": {"text": OK_TEXT, "location": {"lat": -90.5, "lng": 120.7}},
    "longitude far negative": {"text": OK_TEXT, "location": {"lat": 27.7, "lng": -1e308}},
    "location as an array": {"text": OK_TEXT, "location": [27.7, 120.7]},
    "client sets ticket_no": {"text": OK_TEXT, "ticket_no": 1},
    "client sets status": {"text": OK_TEXT, "status": "dispatched"},
    "client sets receipt": {"text": OK_TEXT, "receipt": "chosen-by-me"},
    "channel as a list": {"text": OK_TEXT, "channel": ["app"]},
    "phone as a number": {"text": OK_TEXT, "contact": {"phone": 13812345678}},
    "email far too long": {"text": OK_TEXT, "contact": {"email": "a" * 300 + "@example.cn"}},
    "contact with unknown field": {"text": OK_TEXT, "contact": {"wechat": "abc"}},
    "text only NUL": {"text": "\u0000"},
    "photo and photo_upload": {
        "text": OK_TEXT,
        "photo": base64.b64encode(b"x").decode(),
        "photo_upload": {"content_type": "image/jpeg", "size": 1000},
    },
    "photo_upload size zero": {"text": OK_TEXT, "photo_upload": {"content_type": "image/jpeg", "size": 0}},
    "photo_upload size negative": {"text": OK_TEXT, "photo_upload": {"content_type": "image/jpeg", "size": -5}},
    "photo_upload size huge": {"text": OK_TEXT, "photo_upload": {"content_type": "image/jpeg", "size": 10**20}},
    "photo_upload size as string": {"text": OK_TEXT, "photo_upload": {"content_type": "image/jpeg", "size": "9"}},
    "photo_upload of a GIF": {"text": OK_TEXT, "photo_upload": {"content_type": "image/gif", "size": 1000}},
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
    "deeply nested objects": (b'{"text": "x", "contact": ' + b'{"a":' * 3000 + b"1" + b"}" * 3001, "application/json"),
    "XML": ("<complaint><text>上望街道有人烧垃圾</text></complaint>".encode(), "application/xml"),
    "multipart form": (
        b'--b\r\nContent-Disposition: form-data; name="text"\r\n\r\nx\r\n--b--',
        "multipart/form-data; boundary=b",
    ),
    "UTF-16 JSON": ('{"text": "上望街道有人烧垃圾"}'.encode("utf-16"), "application/json"),
    "lone surrogate escape": (b'{"text": "\\ud800\\ud800"}', "application/json"),
    "NaN literal": (b'{"text": "x1", "location": {"lat": NaN, "lng": 120.7}}', "application/json"),
    "exponent overflow": (b'{"text": "x1", "location": {"lat": 1e999999, "lng": 120.7}}', "application/json"),
    "a 50,000-digit number": (
        b'{"text": "x1", "location": {"lat": ' + b"9" * 50000 + b', "lng": 1}}',
        "application/json",
    ),
    "duplicate keys, last wrong": (b'{"text": "x1", "text": 12}', "application/json"),
    "NUL bytes in the raw body": (b'{"text": "x1"}\x00\x00', "application/json"),
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


@pytest.mark.parametrize("channel", ["weibo", "wechat"])
def test_a_caller_cannot_claim_a_channel_that_only_the_desk_itself_feeds(stack, channel):
    before = (stack.stored_ticket_count(), stack.stored_photo_count())
    reply = stack.post({"text": OK_TEXT, "channel": channel})
    assert reply.status == 422
    assert reply.json()["error"]["code"] == "invalid_request" and "channel" in reply.json()["error"]["message"]
    assert_rejected(stack, reply, before)
    assert stack.post({"text": OK_TEXT, "channel": "web"}).status == 201


@pytest.mark.parametrize("raw", [b"", None], ids=["empty JSON body", "no body"])
def test_an_empty_or_missing_body_is_a_400_that_says_so(stack, raw):
    before = (stack.stored_ticket_count(), stack.stored_photo_count())
    reply = stack.request("POST", "/complaints", raw=raw)
    assert reply.status == 400, reply.body
    assert reply.json()["error"] == {
        "code": "empty_body",
        "message": "the request body is empty; send the complaint as a JSON object",
    }
    assert_rejected(stack, reply, before)


def test_a_null_body_is_a_422_asking_for_an_object(stack):
    reply = stack.post(None, raw=b"null")
    assert reply.status == 422
    assert reply.json()["error"] == {"code": "invalid_request", "message": "body: must be a JSON object, not null"}


def test_the_phone_rule_says_what_a_phone_number_may_hold(stack):
    reply = stack.post({"text": OK_TEXT, "contact": {"phone": "call me maybe"}})
    assert reply.status == 422
    assert reply.json()["error"]["message"] == (
        "contact: Value error, phone must be 6 to 20 digits, spaces or dashes, optionally starting with +"
    )
    assert stack.post({"text": OK_TEXT, "contact": {"phone": "+86 138-1234-5678"}}).status == 201


def test_a_body_over_the_gateway_limit_is_refused(stack):
    before = (stack.stored_ticket_count(), stack.stored_photo_count())
    reply = stack.post(None, raw=b'{"text": "' + b"a" * (11 * 1024 * 1024) + b'"}')
    assert reply.status == 413
    assert reply.json()["error"] == {"code": "body_too_large", "message": "the request body is too large"}
    assert stack.stored_ticket_count() == before[0]


def test_a_path_no_route_takes_is_a_404_in_the_error_shape_even_where_no_function_runs(stack):
    # "/" is the one path the Fallback's /{proxy+} does not match: API Gateway answers it itself.
    reply = stack.request("GET", "/")
    assert reply.status == 404
    assert reply.json()["error"] == {"code": "not_found", "message": "no such route"}


def test_wrong_receipt_reveals_nothing(stack):
    created = stack.post({"text": OK_TEXT}).json()
    replies = [
        stack.request("GET", f"/complaints/{created['id']}"),
        stack.request("GET", f"/complaints/{created['id']}", headers={"X-Receipt": "wrong"}),
        stack.request("GET", f"/complaints/{'0' * 32}", headers={"X-Receipt": created["receipt"]}),
        stack.request("GET", f"/complaints/{'x' * 200}", headers={"X-Receipt": created["receipt"]}),
    ]
    assert {r.status for r in replies} == {404}
    assert len({r.body for r in replies[:3]}) == 1  # no difference between a wrong receipt and no ticket
    ok = stack.request("GET", f"/complaints/{created['id']}", headers={"X-Receipt": created["receipt"]})
    assert ok.status == 200


def test_a_receipt_in_the_url_is_refused_and_says_to_use_the_header(stack):
    created = stack.post({"text": OK_TEXT}).json()
    for receipt in (created["receipt"], "wrong"):
        reply = stack.request("GET", f"/complaints/{created['id']}?receipt={receipt}")
        assert reply.status == 400
        assert reply.json()["error"]["code"] == "receipt_in_url"
        assert "X-Receipt" in reply.json()["error"]["message"]
        assert created["receipt"] not in reply.body.decode()
    # Even with the right header, a receipt in the URL is refused: the URL has leaked it already.
    both = stack.request("GET", f"/complaints/{created['id']}?receipt=x", headers={"X-Receipt": created["receipt"]})
    assert both.status == 400


# What each route takes; any other method there is a 405 naming these in Allow (RFC 9110), not a 404.
ROUTE_METHODS = {"/complaints": "POST", f"/complaints/{'0' * 32}": "GET", "/openapi.json": "GET"}
OTHER_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


@pytest.mark.parametrize(
    "method, path",
    [(m, path) for path, allowed in ROUTE_METHODS.items() for m in OTHER_METHODS if m != allowed],
)
def test_a_method_a_route_does_not_take_is_a_405_that_names_the_ones_it_does(stack, method, path):
    before = (stack.stored_ticket_count(), stack.stored_photo_count())
    reply = stack.request(method, path)
    assert reply.status == 405, (method, path, reply.status)
    assert reply.headers["Allow"] == ROUTE_METHODS[path]
    assert reply.json()["error"] == {
        "code": "method_not_allowed",
        "message": f"this route takes {ROUTE_METHODS[path]} only",
    }
    assert (stack.stored_ticket_count(), stack.stored_photo_count()) == before


def test_head_is_a_405_whose_answer_has_no_body(stack):
    # On a connection kept open, body bytes after a HEAD answer would be read as the start of the next answer.
    url = urlsplit(stack.url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as conn:
        conn.sendall(b"HEAD /complaints HTTP/1.1\r\nHost: localhost\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received:
            received += conn.recv(65536)
        conn.settimeout(0.5)
        with contextlib.suppress(TimeoutError):
            received += conn.recv(65536)
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 405 ") and b"\r\nAllow: POST\r\n" in head
    assert rest == b""


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "TRACE"])
def test_an_unknown_route_is_a_404_whatever_the_method(stack, method):
    reply = stack.request(method, "/nothing-here")
    assert reply.status == 404
    assert reply.json()["error"] == {"code": "not_found", "message": "no such route"}


def test_a_body_over_the_intake_cap_is_a_413_before_it_is_parsed(stack):
    before = (stack.stored_ticket_count(), stack.stored_photo_count())
    reply = stack.post(None, raw=b'{"text": "' + b"a" * 7_200_000 + b'"}')
    assert reply.status == 413 and reply.json()["error"]["code"] == "body_too_large"
    assert (stack.stored_ticket_count(), stack.stored_photo_count()) == before


# Not errors: a citizen may quote HTML, SQL or mix scripts. Kept as written (as text, never interpreted), 201.
ODD_BUT_VALID = {
    "HTML and script": "<script>alert('x')</script><b>上望街道</b>有人烧垃圾",
    "SQL-looking": "上望街道有人烧垃圾'); DROP TABLE tickets; --",
    "direction marks inside words": "上望街道\u202e有人\u200f烧垃圾",
    "emoji and combining marks": "上望街道🔥有人烧垃圾 e\u0301",
    "template syntax": "{{7*7}} ${jndi:ldap://x} 上望街道有人烧垃圾",
}


@pytest.mark.parametrize("name", list(ODD_BUT_VALID))
def test_odd_but_valid_text_is_kept_as_written(stack, name):
    text = ODD_BUT_VALID[name]
    reply = stack.post({"text": text})
    assert reply.status == 201, reply.body
    content_type = {k.lower(): v for k, v in reply.headers.items()}["content-type"]
    assert content_type.startswith("application/json")  # never echoed back as HTML
    item = stack.aws("dynamodb").get_item(
        TableName=stack.resource("TicketsTable"), Key={"pk": {"S": f"ticket#{reply.json()['id']}"}}
    )["Item"]
    assert item["text"]["S"] == text.strip()


def test_coordinates_finer_than_a_centimetre_are_rounded_not_refused(stack):
    reply = stack.post({"text": OK_TEXT, "location": {"lat": 27.78, "lng": 6.5e-261}})
    assert reply.status == 201, reply.body
    view = stack.wait_for_status(reply.json(), statuses=("received", "classified", "dispatched", "triage"))
    assert view["location"] == {"lat": 27.78, "lng": 0.0, "source": "app"}

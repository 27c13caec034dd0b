"""The OpenAPI document says what the API answers and what it takes, so that a generated client knows the rules."""

from __future__ import annotations

import json
import re
import sys

import jsonschema_rs
import pytest
from pydantic import ValidationError

from complaints.api import WHITESPACE, ComplaintIn, RatingIn
from complaints.domain.photos import MAX_INLINE_BASE64_CHARS, MAX_UPLOAD_BYTES
from complaints_tools.openapi import generate

DOC = json.loads(generate())
POST = DOC["paths"]["/complaints"]["post"]
GET = DOC["paths"]["/complaints/{id}"]["get"]
ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}


def _schema(name: str) -> dict:
    return DOC["components"]["schemas"][name]


def test_every_status_an_operation_gives_is_declared_and_every_error_has_the_error_shape():
    assert sorted(POST["responses"]) == ["201", "400", "409", "413", "415", "422", "429", "503"]
    assert sorted(GET["responses"]) == ["200", "400", "404", "429", "503"]
    for operation in (POST, GET):
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                assert response["content"] == ERROR, status
    assert POST["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/ComplaintCreated")
    assert GET["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/TicketOut")


def test_no_framework_validation_shape_is_left_in_the_document():
    text = json.dumps(DOC)
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        assert name not in text


def test_the_answer_to_a_post_links_to_its_ticket_and_its_rating_with_the_receipt_in_its_header():
    links = POST["responses"]["201"]["links"]
    rate = DOC["paths"]["/complaints/{id}/rating"]["post"]
    assert {link["operationId"] for link in links.values()} == {GET["operationId"], rate["operationId"]}
    for link in links.values():
        assert link["parameters"] == {"path.id": "$response.body#/id", "header.X-Receipt": "$response.body#/receipt"}
    for operation in (GET, rate):
        assert {(p["in"], p["name"].lower()) for p in operation["parameters"]} == {
            ("path", "id"),
            ("header", "x-receipt"),
        }


def test_the_rating_takes_the_five_levels_and_names_the_state_of_a_refused_one():
    rate = DOC["paths"]["/complaints/{id}/rating"]["post"]
    assert sorted(rate["responses"]) == ["200", "400", "404", "409", "415", "422", "429", "503"]
    score = _schema("RatingIn")["properties"]["score"]
    assert (score["minimum"], score["maximum"], score["type"]) == (1, 5, "integer")
    assert _schema("RatingIn")["additionalProperties"] is False
    assert "state" in _schema("ErrorBody")["properties"]


def test_a_score_the_schema_calls_an_integer_is_taken_and_no_other():
    # JSON has one kind of number: 4.0 is valid against {"type": "integer"}, so a client may send it.
    validator = jsonschema_rs.validator_for(_schema("RatingIn"))
    for score in (4, 4.0):
        assert validator.is_valid({"score": score, "resolved": True})
        assert RatingIn.model_validate({"score": score, "resolved": True}).score == 4
    for score in (4.5, "4", True, 6.0):
        with pytest.raises(ValidationError):
            RatingIn.model_validate({"score": score, "resolved": True})


def test_the_patterns_white_space_is_pythons():
    spelled = re.compile(f"[{WHITESPACE}]")
    assert [c for c in map(chr, range(sys.maxunicode + 1)) if spelled.match(c)] == [
        c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()
    ]


def test_the_limits_are_in_the_schema():
    complaint = _schema("ComplaintIn")["properties"]
    assert (complaint["text"]["minLength"], complaint["text"]["maxLength"]) == (1, 5000)
    (photo, _null) = complaint["photo"]["anyOf"]
    assert (photo["maxLength"], photo["format"]) == (MAX_INLINE_BASE64_CHARS, "byte")
    upload = _schema("PhotoUploadIn")["properties"]
    assert upload["size"]["maximum"] == MAX_UPLOAD_BYTES and upload["size"]["exclusiveMinimum"] == 0
    assert upload["content_type"]["enum"] == ["image/jpeg", "image/png", "image/webp", "image/heic"]
    contact = _schema("ContactIn")["properties"]
    assert contact["phone"]["anyOf"][0]["maxLength"] == 20 and "pattern" in contact["phone"]["anyOf"][0]
    assert contact["email"]["anyOf"][0]["maxLength"] == 254 and "pattern" in contact["email"]["anyOf"][0]
    location = _schema("Location")["properties"]
    assert (location["lat"]["minimum"], location["lat"]["maximum"]) == (-90, 90)
    assert (location["lng"]["minimum"], location["lng"]["maximum"]) == (-180, 180)
    (key,) = POST["parameters"]
    assert key["schema"] == {
        "type": "string",
        "pattern": r"^[A-Za-z0-9_.:\-]{16,128}$",
        "title": "Idempotency-Key",
        "description": key["description"],
    }


OK = "上望街道有人烧垃圾"
# Bodies the schema and the server must judge alike: the server's rules (validators with their own messages)
# are written into the schema by hand, so each is checked here against the other. Photo sizes and types are
# the desk's (413, 415), not the model's.
BODIES = {
    "plain": {"text": OK},
    "text with white space around": {"text": "  \n上望 \t"},
    "text of a digit": {"text": "5"},
    "text of white space": {"text": " \n\t "},
    "text of punctuation": {"text": "？！。"},
    "text with a control character": {"text": "上望\x07街道"},
    "text with NUL": {"text": "上望\x00"},
    "text of zero-width marks": {"text": "\u200b\u200e"},
    "text with a vertical tab around it": {"text": "\x0b上望\x1f"},
    "empty text": {"text": ""},
    "text of 5000": {"text": "烧" * 5000},
    "text of 5001": {"text": "烧" * 5001},
    "phone": {"text": OK, "contact": {"phone": "+86 138-1234-5678"}},
    "phone with letters": {"text": OK, "contact": {"phone": "call me maybe"}},
    "phone too short": {"text": OK, "contact": {"phone": "12345"}},
    "email": {"text": OK, "contact": {"email": "a.b@example.cn"}},
    "email without a dot": {"text": OK, "contact": {"email": "a@localhost"}},
    # White space that ECMA 262's \s and Python's \s do not agree on.
    "email with U+001C": {"text": OK, "contact": {"email": "a\x1cb@example.cn"}},
    "email with U+0085": {"text": OK, "contact": {"email": "a\x85b@example.cn"}},
    "email with U+FEFF": {"text": OK, "contact": {"email": "a\ufeffb@example.cn"}},
    "text with U+FEFF around it": {"text": "\ufeff上望\ufeff"},
    "text with U+0085 and U+001C around it": {"text": "\x85\x1c上望\x1c\x85"},
    "both contacts": {"text": OK, "contact": {"phone": "13812345678", "email": "a@b.cn"}},
    "no contact at all": {"text": OK, "contact": {}},
    "a null phone beside an email": {"text": OK, "contact": {"phone": None, "email": "a@b.cn"}},
    "two null contacts": {"text": OK, "contact": {"phone": None, "email": None}},
    "photo and upload": {"text": OK, "photo": "YWJj", "photo_upload": {"content_type": "image/png", "size": 9}},
    "null photo and an upload": {"text": OK, "photo": None, "photo_upload": {"content_type": "image/png", "size": 9}},
    "empty photo": {"text": OK, "photo": ""},
    "upload of size 0": {"text": OK, "photo_upload": {"content_type": "image/png", "size": 0}},
    # JSON has one kind of number: 9.0 is the integer 9 (JSON Schema says so), "9" and true are not numbers.
    "upload of size 9.0": {"text": OK, "photo_upload": {"content_type": "image/png", "size": 9.0}},
    "upload of size 9.5": {"text": OK, "photo_upload": {"content_type": "image/png", "size": 9.5}},
    "upload of size '9'": {"text": OK, "photo_upload": {"content_type": "image/png", "size": "9"}},
    "upload of size true": {"text": OK, "photo_upload": {"content_type": "image/png", "size": True}},
    "whole-degree coordinates": {"text": OK, "location": {"lat": 27, "lng": 120}},
    "latitude 91": {"text": OK, "location": {"lat": 91, "lng": 120}},
    "channel weibo": {"text": OK, "channel": "weibo"},
}


@pytest.mark.parametrize("name", list(BODIES))
def test_the_schema_and_the_model_judge_a_body_alike(name):
    body = BODIES[name]
    # The document's own draft (OpenAPI 3.1 is JSON Schema 2020-12), as schemathesis and generated clients read it.
    schema = {"$ref": "#/components/schemas/ComplaintIn", "components": DOC["components"]}
    in_schema = jsonschema_rs.Draft202012Validator(schema).is_valid(body)
    try:
        ComplaintIn.model_validate(body)
        by_model = True
    except ValidationError:
        by_model = False
    assert in_schema == by_model, f"schema says {in_schema}, model says {by_model}"

"""The car-moving routes' statuses and bodies, on the use case over the in-memory store (the local stack's
integration test, tests/integration/test_car_moving_http.py, runs the same over HTTP)."""

from __future__ import annotations

import json
import re
from functools import partial

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from test_car_moving import Intake, Keys, Registry, Texter, Vault

from complaints import car_moving_api
from complaints.adapters.memory import MemoryCarMovingStore
from complaints.city import load_city
from complaints.domain import clock
from complaints.domain.desk.car_moving import CarMoving

OWNER = "+8613900000002"


@pytest.fixture
def api(monkeypatch):
    monkeypatch.setattr(clock, "_offset_s", 0.0)
    desk = CarMoving(
        city=load_city("city/ruian.toml"),
        store=MemoryCarMovingStore(),
        registry=Registry({"浙C12345": Vault().seal("浙C12345", {"phone": OWNER})}),
        phone_keys=Keys(),
        contacts=Vault(),
        texter=Texter(),
        intake=Intake(),
        owner_link_base="https://wenzheng.ruian.example",
    )
    app = APIGatewayRestResolver(
        enable_validation=True, serializer=partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
    )
    car_moving_api.install(app, desk)
    car_moving_api.install_errors(app)

    def call(method, path, body=None, token=None, raw=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        event = {
            "httpMethod": method,
            "path": path,
            "resource": path,
            "headers": headers,
            "multiValueHeaders": {},
            "queryStringParameters": None,
            "body": raw if raw is not None else (json.dumps(body) if body is not None else None),
            "isBase64Encoded": False,
            "requestContext": {"requestId": "r", "stage": "dev"},
        }
        out = app.resolve(event, None)
        return out["statusCode"], json.loads(out["body"]) if out["body"] else None, out.get("multiValueHeaders") or {}

    call.desk = desk
    return call


def token(api, phone="13800000001"):
    assert api("POST", "/verify", {"phone": phone})[:2] == (202, {"status": "code_sent"})
    code = re.search(r"\d{6}", api.desk.texter.sent[-1][1]).group()
    status, body, _ = api("POST", "/verify/confirm", {"phone": phone, "code": code})
    assert status == 200 and set(body) == {"token", "expires_at"}
    return body["token"]


def test_a_verified_requester_asks_follows_and_the_owner_confirms(api):
    t = token(api)
    status, view, _ = api("POST", "/car-moving", {"plate": "浙c·12345", "location": "万松路12号"}, t)
    assert status == 201 and view["status"] == "notified" and view["plate"] == "浙C12345"
    assert api("GET", f"/car-moving/{view['id']}", token=t)[:2] == (200, view)
    code = api.desk.store.notices[0]["sms"].rsplit("/", 1)[1]
    status, page, _ = api("GET", f"/car-moving/owner/{code}")
    assert status == 200 and page["moved"] is False and page["plate"] == "浙C12345"
    assert api("POST", f"/car-moving/owner/{code}/moved")[1]["moved"] is True
    assert api("GET", f"/car-moving/{view['id']}", token=t)[1]["status"] == "moved"
    for text in (json.dumps(page, ensure_ascii=False), json.dumps(view, ensure_ascii=False)):
        assert "13800000001" not in text and "13900000002" not in text


def test_the_refusals_have_their_statuses(api):
    t = token(api)
    assert api("POST", "/car-moving", {"plate": "浙C12345", "location": "路口"})[:2][0] == 401
    status, body, headers = api("POST", "/car-moving", {"plate": "浙C12345", "location": "路口"}, "nope")
    assert (status, body["error"]["code"], headers["WWW-Authenticate"]) == (401, "not_verified", ["Bearer"])
    assert api("POST", "/car-moving", {"plate": "浙C99999", "location": "路口"}, t)[0] == 404
    status, body, _ = api("POST", "/car-moving", {"plate": "12345", "location": "路口"}, t)
    assert (status, body["error"]["code"]) == (400, "invalid_plate")
    status, body, _ = api("POST", "/car-moving", {"plate": "浙C12345"}, t)
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    assert api("POST", "/car-moving", raw="{nope", token=t)[:2][0] == 400
    view = api("POST", "/car-moving", {"plate": "浙C12345", "location": "路口"}, t)[1]
    status, body, headers = api("POST", "/car-moving", {"plate": "浙C12345", "location": "路口"}, t)
    assert status == 429 and 1 <= int(headers["Retry-After"][0]) <= 601
    status, body, _ = api("POST", f"/car-moving/{view['id']}/remind", token=t)
    assert (status, body["error"]["code"], body["error"]["possible_at"]) == (409, "not_yet", view["can_remind_at"])
    assert api("GET", f"/car-moving/{'0' * 32}", token=t)[0] == 404
    api.desk.store.block("plate", "浙C12345", "abuse")
    assert api("POST", "/car-moving", {"plate": "浙C12345", "location": "路口"}, t)[0] == 403


def test_a_wrong_code_is_422_and_a_bad_phone_400(api):
    api("POST", "/verify", {"phone": "13800000001"})
    status, body, _ = api("POST", "/verify/confirm", {"phone": "13800000001", "code": "x"})
    assert (status, body["error"]["code"]) == (422, "code_rejected")
    status, body, _ = api("POST", "/verify", {"phone": "12345"})
    assert status == 400 and "12345" not in body["error"]["message"]
    status, body, headers = api("POST", "/verify", {"phone": "13800000001"})
    assert status == 429 and body["error"]["code"] == "limit_reached" and "Retry-After" in headers


def test_after_ten_minutes_a_reminder_then_the_police(api, monkeypatch):
    t = token(api)
    view = api("POST", "/car-moving", {"plate": "浙C12345", "location": "路口"}, t)[1]
    monkeypatch.setattr(clock, "_offset_s", 601.0)
    status, reminded, _ = api("POST", f"/car-moving/{view['id']}/remind", token=t)
    assert status == 200 and reminded["reminded_at"] is not None
    status, police, _ = api("POST", f"/car-moving/{view['id']}/police", token=t)
    assert (status, police["status"], police["ticket_no"], police["receipt"]) == (200, "police", 10001, "r")
    status, body, _ = api("POST", f"/car-moving/{view['id']}/police", token=t)
    assert (status, body["error"]["code"]) == (409, "not_yet")


def test_another_method_is_405_with_the_methods_the_route_takes(api):
    status, body, headers = api("DELETE", f"/car-moving/{'0' * 32}")
    assert (status, body["error"]["code"], headers["Allow"]) == (405, "method_not_allowed", ["GET"])


def test_the_openapi_fragment_names_every_route(api):
    doc = car_moving_api.openapi_fragment(api.desk, "t", "1")
    operations = sorted(op["operationId"] for path in doc["paths"].values() for op in path.values())
    assert operations == [
        "confirm_verification",
        "get_car_moving",
        "hand_to_police",
        "owner_confirms",
        "owner_page",
        "remind_owner",
        "request_car_moving",
        "start_verification",
    ]

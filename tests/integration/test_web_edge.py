"""The local stack answers as the CloudFront distribution in front of the API does: security headers on every
answer, `/config.json` for the pages, and `/board`-style paths to the API unless a browser navigates to them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.integration

SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options")


def _get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_api_answers_and_errors_carry_the_security_headers(stack):
    for path, status in (("/openapi.json", 200), ("/complaints/nope", 404), ("/agency/me", 401)):
        got, headers, _ = _get(stack.url + path, Accept="application/json")
        assert got == status, path
        assert all(h in headers for h in SECURITY_HEADERS), (path, headers)
        assert "unsafe-inline" not in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_pages_config_names_the_citys_districts_and_the_local_staff_pool(stack):
    status, headers, body = _get(stack.url + "/config.json", Accept="application/json")
    assert status == 200 and headers["Content-Type"] == "application/json"
    config = json.loads(body)
    assert config["city"]["code"] == "ruian" and any(d["name"] == "上望街道" for d in config["districts"])
    health = json.loads(_get(stack.url + "/_local/health")[2])
    assert config["cognito"]["client_id"] == health["resources"]["StaffUserPoolClient"]
    assert config["cognito"]["endpoint"].rstrip("/") == health["aws_endpoint"].rstrip("/")
    # The pages may talk to that endpoint, and to nothing else outside their own host.
    assert health["aws_endpoint"].rstrip("/") in headers["Content-Security-Policy"]


def test_an_api_call_to_a_page_path_reaches_the_api_not_the_page(stack):
    status, headers, body = _get(stack.url + "/agency/tickets", Accept="text/html")
    assert status == 401 and headers["Content-Type"].startswith("application/json")

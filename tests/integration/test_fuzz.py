"""Property-based fuzzing of the API from its own OpenAPI document (schemathesis): whatever arrives, never a 5xx,
and a refused request stores nothing."""

from __future__ import annotations

import json
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
schema = schemathesis.openapi.from_dict(json.loads(DOC.read_text(encoding="utf-8")))


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_makes_the_api_fail_or_half_store(case, stack):
    before = stack.stored_ticket_count()
    response = case.call(base_url=stack.url, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])
    created = 1 if case.method == "POST" and response.status_code == 201 else 0
    assert stack.stored_ticket_count() == before + created, (case.method, case.path, response.status_code)

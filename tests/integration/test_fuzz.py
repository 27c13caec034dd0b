"""Property-based fuzzing of the API from its own OpenAPI document (schemathesis), with every check schemathesis
has: each answer is one the document declares for the operation, in its declared shape and content type; data
the document allows is accepted and data it forbids is refused; a method a route does not take is a 405 with
Allow; and a refused request stores nothing. The stateful phase then follows the document's link from each new
ticket to its view, where the ticket must be found."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import photo_samples as samples
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.openapi.checks import RejectedPositiveData

from complaints.api import MAX_TEXT_CHARS

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            # The statuses the document gives for refused requests. Among them 413, for an oversized photo or
            # body (README), which schemathesis' default list lacks.
            "negative_data_rejection": {
                "expected-statuses": ["400", "404", "405", "409", "413", "415", "422", "429", "5xx"]
            },
        }
    }
)
schema = schemathesis.openapi.from_dict(json.loads(DOC.read_text(encoding="utf-8")), config=CONFIG)


def _photos() -> list[str]:
    """Photos the schema allows and the desk takes, in each spelling it accepts (bare, data URI, MIME lines)."""
    out = []
    for fmt, content_type in (("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")):
        data = samples.encode(samples.scene((64, 48)), fmt)
        out += [
            base64.b64encode(data).decode(),
            f"data:{content_type};base64," + base64.b64encode(data).decode(),
            base64.encodebytes(data).decode(),
        ]
    return out


# `format: byte` is base64; what the desk takes is base64 of a real image, which no schema keyword can say.
schemathesis.openapi.format("byte", st.sampled_from(_photos()))


@schema.hook
def filter_failure(context, failure, case, response) -> bool:
    """Every failure is kept but where a check is wrong about a documented answer, each case narrowly."""
    return not (
        _key_reused_with_another_body(failure, response)
        or _text_padded_over_max_length(failure, case)
        or _cursor_not_given_out(failure, response)
        or _car_moving_rule(failure, case, response)
    )


def _key_reused_with_another_body(failure, response) -> bool:
    # The same Idempotency-Key with another body is a client's mistake, refused with 422 as the IETF draft "The
    # Idempotency-Key HTTP Header Field" advises (README); each body is schema-valid alone, so schemathesis,
    # generating the same key twice, reads the refusal as valid data rejected.
    return isinstance(failure, RejectedPositiveData) and _error_code(response) == "idempotency_key_reused"


def _cursor_not_given_out(failure, response) -> bool:
    # A board cursor is any string to the schema, but only one GET /board gave out for the same filters is taken
    # (400 `bad_cursor`, as the document says): no schema keyword can say "made by this server".
    return isinstance(failure, RejectedPositiveData) and _error_code(response) == "bad_cursor"


def _car_moving_rule(failure, case, response) -> bool:
    # A mainland mobile, a plate some province issues, the code the SMS carried: car moving's rules on strings the
    # schema can only bound (400 `invalid_complaint`/`invalid_plate`, 422 `code_rejected`, as the document says).
    return (
        isinstance(failure, RejectedPositiveData)
        and case.path.startswith(("/verify", "/car-moving"))
        and _error_code(response) in ("invalid_complaint", "invalid_plate", "code_rejected")
    )


def _text_padded_over_max_length(failure, case) -> bool:
    # The text's 1 to 5,000 characters are counted after trimming the white space around it (README); the
    # document's maxLength, which cannot trim, counts the text as sent, so a padded text over it is still taken.
    text = case.body.get("text") if isinstance(case.body, dict) else None
    return (
        isinstance(failure, AcceptedNegativeData)
        and re.search(r"violates `maxLength` at \S*/properties/text ", failure.message) is not None
        and isinstance(text, str)
        and len(text.strip()) <= MAX_TEXT_CHARS
    )


def _error_code(response) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


class StoredTickets:
    """What a request may leave behind: a ticket for each new 201 (a retry's 201 replays a ticket), else nothing."""

    def __init__(self, stack) -> None:
        self.stack = stack
        self.created: set[str] = set()

    def call(self, case, send):
        before = self.stack.stored_ticket_count()
        response = send()
        new = 0
        if case.method == "POST" and response.status_code == 201:
            ticket_id = response.json()["id"]
            new = int(ticket_id not in self.created)
            self.created.add(ticket_id)
        after = self.stack.stored_ticket_count()
        assert after == before + new, (case.method, case.path, response.status_code, before, after)
        return response


@pytest.fixture(scope="module")
def tickets(stack) -> StoredTickets:
    return StoredTickets(stack)


@schema.parametrize()
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_answer_is_a_documented_one_and_a_refused_request_stores_nothing(case, stack, tickets):
    response = tickets.call(case, lambda: case.call(base_url=stack.url, timeout=30))
    case.validate_response(response)  # every check schemathesis has, as configured above


def test_a_new_ticket_is_found_by_following_the_documents_link(stack, tickets):
    class Workflow(schema.as_state_machine()):
        def call(self, case, **kwargs):
            return tickets.call(case, lambda: super(Workflow, self).call(case, **kwargs))

        def get_call_kwargs(self, case):
            return {"base_url": stack.url, "timeout": 30}

    # Each scenario starts with a POST and follows its link; ensure_resource_availability fails a linked GET
    # that does not find the ticket, use_after_free any that finds one after it was deleted.
    Workflow.run(
        settings=settings(
            max_examples=30,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
    )

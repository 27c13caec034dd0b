"""Log records never carry a citizen's contact details or the personal numbers typed into a complaint."""

from __future__ import annotations

import io
import json
import logging
import uuid

import pytest

from complaints import logs
from complaints.domain.privacy import mask_personal_numbers


def records(emit) -> list[dict]:
    out = io.StringIO()
    # A service name of its own: Powertools keeps the handler of the first logger made for a name.
    logger = logs.logger(service=f"test-{uuid.uuid4().hex}", logger_handler=logging.StreamHandler(out))
    emit(logger)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_contact_fields_are_dropped_and_numbers_in_text_masked():
    def emit(log):
        log.info(
            "citizen 13812345678 wrote from a.person@example.cn",
            extra={
                "ticket_id": "0123456789abcdef13812345678abcde",
                "contact": {"phone": "13912345678"},
                "detail": {"email": "x@y.cn", "text": "身份证330381199001011234，座机0577-65812345"},
            },
        )
        try:
            raise ValueError("bad value 13712345678")
        except ValueError:
            log.exception("failed")

    first, second = records(emit)
    text = json.dumps([first, second], ensure_ascii=False)
    for secret in (
        '13812345678"',
        "a.person",
        "13912345678",
        "x@y.cn",
        "330381199001011234",
        "65812345",
        "13712345678",
    ):
        assert secret not in text, secret
    assert first["contact"] == "[redacted]" and first["detail"]["email"] == "[redacted]"
    assert first["ticket_id"] == "0123456789abcdef13812345678abcde"  # our identifiers stay whole
    assert "@example.cn" in first["message"] and second["message"] == "failed"


SECRET = "s3cr3t-Value"


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "access_token",
        "Access-Token",
        "refresh_token",
        "Authorization",
        "AUTHORIZATION",
        "receipt",
        "X-Receipt",
        "x_receipt",
        "idempotency_key",
        "Idempotency-Key",
        "secret",
        "client_secret",
        "password",
        "Cookie",
        "Set-Cookie",
        "signature",
        "X-Amz-Security-Token",
    ],
)
def test_secrets_are_dropped_under_any_spelling_of_their_key_at_any_depth(key):
    logged = logs.redact({"event": {"headers": {key: SECRET}, "multiValueHeaders": {key: [SECRET]}}, key: SECRET})
    assert SECRET not in json.dumps(logged)
    assert logged[key] == logged["event"]["headers"][key] == "[redacted]"


def test_only_the_ids_we_make_are_left_whole():
    phone_in_hex = "0123456789abcdef13812345678abcde"
    ours = {key: phone_in_hex for key in logs.OUR_IDS}
    logged = logs.redact({**ours, "user_id": "13812345678", "nested": {"ticket_id": phone_in_hex}})
    assert {k: logged[k] for k in ours} == ours and logged["nested"]["ticket_id"] == phone_in_hex
    assert logged["user_id"] == "138＊＊＊＊＊＊78"


def test_numbers_lists_tuples_and_dict_keys_are_masked_like_text():
    logged = logs.redact(
        {
            "n": 13812345678,
            "f": 13812345678.0,
            "phones": ["13912345678", ("0577 6581 2345", 13712345678)],
            "by_phone": {"13612345678": 1},
        }
    )
    text = json.dumps(logged, ensure_ascii=False)
    for secret in ("13812345678", "13912345678", "6581 2345", "13712345678", "13612345678"):
        assert secret not in text, secret
    assert logged["n"] == "138＊＊＊＊＊＊78"


def test_flags_ticket_numbers_and_scores_stay_as_they_are():
    kept = {"ticket_no": 10001, "photo": True, "incomplete": False, "confidence": 0.93, "stopped": None}
    assert logs.redact(kept) == kept


def test_e_mail_addresses_are_masked_by_the_same_rule_as_the_triage_text():
    message = "来信 a.person＠example.cn，备用 b_c@mail.ruian.gov.cn"
    assert logs.redact(message) == mask_personal_numbers(message) == "来信 ＊＠example.cn，备用 ＊@mail.ruian.gov.cn"


def test_a_record_with_a_token_a_receipt_header_and_phone_numbers_as_numbers_is_written_clean():
    def emit(log):
        log.info(
            "request seen",
            extra={
                "token": "weibo-" + SECRET,
                "headers": {"X-Receipt": "rcpt-" + SECRET, "Content-Type": "application/json"},
                "caller": 13812345678,
                "callers": [[13912345678, "137 1234 5678"], {"home": "0577-65812345"}],
                "ticket_no": 10001,
            },
        )

    (record,) = records(emit)
    line = json.dumps(record, ensure_ascii=False)
    assert SECRET not in line
    for phone in ("13812345678", "13912345678", "1234 5678", "65812345"):
        assert phone not in line, phone
    assert record["headers"] == {"X-Receipt": "[redacted]", "Content-Type": "application/json"}
    assert record["ticket_no"] == 10001 and record["message"] == "request seen"

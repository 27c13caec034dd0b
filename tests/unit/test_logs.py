"""Log records never carry a citizen's contact details or the personal numbers typed into a complaint."""

from __future__ import annotations

import io
import json
import logging

from complaints import logs


def records(emit) -> list[dict]:
    out = io.StringIO()
    logger = logs.logger(service="test", logger_handler=logging.StreamHandler(out))
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

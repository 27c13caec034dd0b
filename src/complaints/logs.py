"""Structured logs (Powertools Logger, JSON) with personal data taken out before a record is written.

Contact fields are dropped whatever their nesting; phone numbers, ID numbers and e-mail addresses in any free text
(messages, exceptions, extra values) are masked. Identifiers (`…_id`) are left alone: they are ours, not a citizen's.
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from complaints.domain.privacy import mask_personal_numbers

PRIVATE_KEYS = frozenset({"contact", "contact_sealed", "phone", "email", "weibo_uid", "receipt", "receipt_hash"})
REDACTED = "[redacted]"
_EMAIL = re.compile(r"[^@\s\"'<>()，。：]+@([^@\s\"'<>()，。：]+\.[A-Za-z]{2,63})")
_IDENTIFIER_KEYS = ("timestamp", "location", "level", "service", "name", "function_arn", "xray_trace_id")


def redact(value: Any, key: str = "") -> Any:
    if key in PRIVATE_KEYS:
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if not isinstance(value, (str, int, float, bool, type(None))):
        value = str(value)  # an exception object, a path: written as its text, so redacted as text
    if isinstance(value, str) and not (key.endswith("_id") or key in _IDENTIFIER_KEYS):
        return _EMAIL.sub(r"＊@\1", mask_personal_numbers(value))
    return value


class RedactingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: dict[str, Any]) -> str:
        return super().serialize(redact(log))


def logger(**kwargs: Any) -> Logger:
    """The functions' logger: Powertools' JSON records, redacted."""
    return Logger(logger_formatter=RedactingFormatter(), **kwargs)

"""Structured logs (Powertools Logger, JSON) with personal data and secrets taken out before a record is written.

Contact fields and secrets (tokens, authorization headers, receipts, idempotency keys, cookies, passwords,
signatures) are replaced by `[redacted]` whatever their nesting and however their key is spelt. Every other value —
text, numbers, the items of lists and dicts, exceptions — goes through `mask_personal_numbers`, the rules the
triage desk's text is masked with. Only the identifiers we make (`ticket_id`, the request and trace ids) are left
whole: a ticket id is 32 hex digits and can hold eleven decimal ones in a row.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from complaints.domain.privacy import mask_personal_numbers

REDACTED = "[redacted]"
# Keys compared lower-case, with `-` read as `_` and without an `x_` in front: `X-Receipt` is `receipt`.
PRIVATE_KEYS = frozenset({"contact", "contact_sealed", "phone", "email", "weibo_uid", "receipt", "receipt_hash"})
SECRET_KEYS = frozenset(
    {
        "token",
        "access_token",
        "authorization",
        "proxy_authorization",
        "idempotency_key",
        "api_key",
        "secret",
        "password",
        "cookie",
        "cookies",
        "set_cookie",
        "signature",
    }
)
_SECRET_ENDINGS = ("_token", "_secret", "_password", "_signature")
# The `…_id` keys whose values we make: ours and Powertools'. Any other `…_id` (a user id, an order id) is masked.
OUR_IDS = frozenset(
    {
        "ticket_id",
        "request_id",
        "mention_id",
        "status_id",
        "xray_trace_id",
        "function_request_id",
        "correlation_id",
    }
)
# What Powertools itself writes at the top of each record.
_RECORD_KEYS = frozenset({"timestamp", "level", "location", "service", "name", "function_arn", "function_name"})


def _is_private(key: str) -> bool:
    key = key.lower().replace("-", "_").removeprefix("x_")
    return key in PRIVATE_KEYS or key in SECRET_KEYS or key.endswith(_SECRET_ENDINGS)


def redact(value: Any, key: str = "") -> Any:
    """The value as it may be logged under `key`: dropped if private or secret, masked otherwise, ours kept whole."""
    if _is_private(key):
        return REDACTED
    if isinstance(value, dict):
        return {mask_personal_numbers(str(k)): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact(v, key) for v in value]
    if value is None or isinstance(value, bool) or key in OUR_IDS:
        return value
    text = str(value)  # a number, an exception object, a path: masked as the text it is written as
    masked = mask_personal_numbers(text)
    return value if masked == text and isinstance(value, (int, float)) else masked


class RedactingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: dict[str, Any]) -> str:
        return super().serialize({k: v if k in _RECORD_KEYS else redact(v, k) for k, v in log.items()})


def logger(**kwargs: Any) -> Logger:
    """The functions' logger: Powertools' JSON records, redacted."""
    return Logger(logger_formatter=RedactingFormatter(), **kwargs)

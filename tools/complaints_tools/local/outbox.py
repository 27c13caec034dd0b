"""What each agency would have received: SNS publishes matched against e-mail/SMS subscriptions.

moto accepts e-mail and SMS subscriptions but sends nothing; this records every publish and, when asked,
pairs it with the subscriptions whose filter policies match — using moto's own filter-policy matcher, so the
outbox honours filter policies exactly as the emulated SNS evaluates them. It runs inside the moto process
(aws_server.py), which serves it to the stack.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns import sns_backends
from moto.sns.models import Topic

_lock = threading.Lock()
_published: list[dict[str, Any]] = []
_installed = False


def install() -> None:
    """Start recording publishes (once per process)."""
    global _installed
    if _installed:
        return
    original = Topic.publish

    def recording_publish(
        self: Topic,
        message: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> str:
        message_id = original(self, message, subject, message_attributes, *args, **kwargs)
        with _lock:
            _published.append(
                {
                    "topic_arn": self.arn,
                    "topic": self.name,
                    "message": message,
                    "subject": subject,
                    "attributes": message_attributes or {},
                    "structure": kwargs.get("message_structure"),
                    "at": time.time(),
                }
            )
        return message_id

    Topic.publish = recording_publish
    _installed = True


def clear() -> None:
    with _lock:
        _published.clear()


def published(topic_labels: dict[str, str]) -> list[dict[str, Any]]:
    """Every publish, oldest first: topic, ticket number, audience (`agency`, `copy`, `triage`) and when (epoch
    seconds) — one per publish, not per subscriber, so a notice published twice shows twice."""
    with _lock:
        entries = list(_published)
    return [
        {
            "topic": topic_labels.get(e["topic_arn"], e["topic"]),
            "ticket_no": (e["attributes"].get("ticket_no") or {}).get("Value"),
            "audience": (e["attributes"].get("audience") or {}).get("Value"),
            "at": e["at"],
        }
        for e in entries
    ]


def _text_for(protocol: str, entry: dict[str, Any]) -> str:
    if entry["structure"] == "json":
        doc = json.loads(entry["message"])
        return doc.get(protocol) or doc["default"]
    return entry["message"]


def outbox(region: str, topic_labels: dict[str, str]) -> list[dict[str, Any]]:
    """Deliveries to e-mail and SMS subscribers, oldest first. `topic_labels` maps topic ARN → short name."""
    backend = sns_backends[DEFAULT_ACCOUNT_ID][region]
    with _lock:
        published = list(_published)
    out = []
    for entry in published:
        subs, _ = backend.list_subscriptions_by_topic(topic_arn=entry["topic_arn"])
        for sub in subs:
            if sub.protocol not in ("email", "sms", "email-json"):
                continue
            matcher = getattr(sub, "_filter_policy_matcher", None)
            if matcher is not None and not matcher.matches(entry["attributes"], entry["message"]):
                continue
            out.append(
                {
                    "topic": topic_labels.get(entry["topic_arn"], entry["topic"]),
                    "ticket_no": (entry["attributes"].get("ticket_no") or {}).get("Value"),
                    "protocol": sub.protocol,
                    "endpoint": sub.endpoint,
                    "subject": entry["subject"],
                    "message": _text_for(sub.protocol, entry),
                    "attributes": {k: v.get("Value") for k, v in entry["attributes"].items()},
                }
            )
    return out

"""What each agency would have received: SNS publishes matched against e-mail/SMS subscriptions; and what citizens
(and car owners) would have received: SMS to numbers, e-mail through SES, voice calls.

moto accepts e-mail and SMS subscriptions but sends nothing; this records every publish and, when asked,
pairs it with the subscriptions whose filter policies match — using moto's own filter-policy matcher, so the
outbox honours filter policies exactly as the emulated SNS evaluates them. It runs inside the moto process
(aws_server.py), which serves it to the stack.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import threading
import time
from email.utils import getaddresses
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import SESBackend
from moto.sesv2.responses import SESV2Response
from moto.sns import sns_backends
from moto.sns.models import SNSBackend, Topic

_lock = threading.Lock()
_published: list[dict[str, Any]] = []
_to_citizens: list[dict[str, Any]] = []  # SMS published straight to a number, e-mail sent through SES
_TICKET_IN_SUBJECT = re.compile(r"#(\d+)")
# The `ticket_no` tag of the SES v2 send being handled on this thread: moto's backend never sees a message's tags.
_sending = threading.local()
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
    _record_messages_to_citizens()
    _installed = True


def _record_messages_to_citizens() -> None:
    sms_publish = SNSBackend.publish
    send_email = SESBackend.send_email
    send_raw_email = SESBackend.send_raw_email
    v2_send = SESV2Response.send_email

    def tagged_v2_send(self: SESV2Response) -> str:
        try:
            tags = json.loads(self.body).get("EmailTags") or []
        except (ValueError, AttributeError):
            tags = []
        _sending.ticket_no = next((t.get("Value") for t in tags if t.get("Name") == "ticket_no"), None)
        try:
            return v2_send(self)
        finally:
            _sending.ticket_no = None

    def ticket_no_of(subject: str | None) -> str | None:
        found = _TICKET_IN_SUBJECT.search(subject or "")
        return getattr(_sending, "ticket_no", None) or (found.group(1) if found else None)

    def recording_sms(self: SNSBackend, message: str, arn: str | None, phone_number: str | None = None, *a, **kw):
        message_id = sms_publish(self, message, arn, phone_number, *a, **kw)
        if phone_number:
            attributes = kw.get("message_attributes") or {}
            ticket_no = attributes.get("ticket_no") or {}
            entry = {"protocol": "sms", "endpoint": phone_number, "subject": None, "message": message}
            _record_to_citizen({**entry, "ticket_no": ticket_no.get("Value") or ticket_no.get("StringValue")})
        return message_id

    def recording_email(self: SESBackend, source: str, subject: str, body: str, destinations: dict, *a, **kw):
        sent = send_email(self, source, subject, body, destinations, *a, **kw)
        for address in (a for addresses in destinations.values() for a in addresses):
            entry = {"protocol": "email", "endpoint": address, "subject": subject, "message": body}
            _record_to_citizen({**entry, "ticket_no": ticket_no_of(subject)})
        return sent

    def recording_raw_email(self: SESBackend, source: str | None, destinations: list[str], raw_data: str, *a, **kw):
        sent = send_raw_email(self, source, destinations, raw_data, *a, **kw)
        # moto has added the message's To, Cc and Bcc to `destinations` by now (again, if they were given too).
        subject, body = _subject_and_text(raw_data)
        for address in dict.fromkeys(address for _, address in getaddresses(destinations)):
            entry = {"protocol": "email", "endpoint": address, "subject": subject, "message": body}
            _record_to_citizen({**entry, "ticket_no": ticket_no_of(subject)})
        return sent

    SNSBackend.publish = recording_sms
    # SES v2's SendEmail is served by the same backend: Simple content by send_email, Raw by send_raw_email.
    SESBackend.send_email = recording_email
    SESBackend.send_raw_email = recording_raw_email
    SESV2Response.send_email = tagged_v2_send


def _subject_and_text(raw: str) -> tuple[str | None, str]:
    """A MIME message's subject (decoded) and text: its text/plain part, else its first text part."""
    message = email.message_from_string(raw, policy=email.policy.default)
    part = message.get_body(preferencelist=("plain", "html"))
    return message["subject"], part.get_content() if part is not None else ""


def record_voice(destination: str, text: str) -> None:
    """A voice call SendVoiceMessage placed (aws_server.py answers it: moto has no End User Messaging Voice v2),
    listed beside the SMS to numbers: the number it rang and the text it read out."""
    entry = {"protocol": "voice", "endpoint": destination, "subject": None, "message": text}
    _record_to_citizen({**entry, "ticket_no": None})


def _record_to_citizen(entry: dict[str, Any]) -> None:
    with _lock:
        _to_citizens.append({"to": "citizen", "topic": None, **entry, "attributes": {}, "at": time.time()})


def clear() -> None:
    with _lock:
        _published.clear()
        _to_citizens.clear()


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
    """Deliveries to e-mail and SMS subscribers (`"to": "agency"`, whether an agency, a town's copy or triage) and
    messages to citizens (`"to": "citizen"`: SMS straight to a number, e-mail through SES, voice calls — a car owner's
    notice is one of these; `ticket_no` from the SMS's attribute, the e-mail's `ticket_no` tag (SES v2), or else the
    `#10001` in its subject; none for a call), oldest first.
    `topic_labels` maps topic ARN → short name."""
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
                    "to": "agency",
                    "at": entry["at"],
                    "topic": topic_labels.get(entry["topic_arn"], entry["topic"]),
                    "ticket_no": (entry["attributes"].get("ticket_no") or {}).get("Value"),
                    "protocol": sub.protocol,
                    "endpoint": sub.endpoint,
                    "subject": entry["subject"],
                    "message": _text_for(sub.protocol, entry),
                    "attributes": {k: v.get("Value") for k, v in entry["attributes"].items()},
                }
            )
    with _lock:
        out += [dict(e) for e in _to_citizens]
    # Oldest first, whoever it went to; `at` (epoch seconds) is dropped, the order keeps it.
    out.sort(key=lambda e: e["at"])
    return [{k: v for k, v in e.items() if k != "at"} for e in out]

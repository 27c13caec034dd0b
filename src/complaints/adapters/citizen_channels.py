"""How the desk writes to a citizen: an SMS to their phone (SNS direct publish) or an e-mail (Amazon SES v2).

Used by the one function that may open sealed contacts (the answer loop's messenger); the Weibo channel answers
through its own reply outbox. Each message carries the ticket number (an SNS message attribute, an SES tag) so
that what was sent can be traced to its ticket without reading the text.
"""

from __future__ import annotations

import re
from typing import Any

import boto3
from botocore.exceptions import ClientError

from complaints.domain import errors

# Mainland mobile numbers as citizens write them: 11 digits starting with 1, perhaps after +86 / 0086 / 86.
_MAINLAND_MOBILE = re.compile(r"^(?:\+?86|0086)?(1[3-9]\d{9})$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_RETRYABLE = {"Throttling", "ThrottlingException", "TooManyRequestsException", "InternalError", "ServiceUnavailable"}


UndeliverableContact = errors.UndeliverableContact


def e164(phone: str) -> str:
    """A citizen's phone number as SNS wants it: `138 1234 5678` → `+8613812345678`."""
    digits = re.sub(r"[\s\-()]", "", phone)
    mainland = _MAINLAND_MOBILE.match(digits)
    if mainland:
        return "+86" + mainland.group(1)
    if _E164.match(digits):
        return digits
    raise UndeliverableContact("the phone number cannot take an SMS")


class SnsSmsSender:
    def __init__(self, client: Any = None, sender_id: str | None = None) -> None:
        self.sns = client or boto3.client("sns")
        self.sender_id = sender_id

    def send_sms(self, phone: str, text: str, ticket_no: int | None = None) -> str:
        """`ticket_no`: the ticket the SMS is about, as a message attribute (none for a car-moving code)."""
        attributes = {
            # Transactional: delivered before promotional traffic, and to numbers that opted out of marketing.
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        }
        if ticket_no is not None:
            attributes["ticket_no"] = {"DataType": "String", "StringValue": str(ticket_no)}
        if self.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self.sender_id}
        try:
            return self.sns.publish(PhoneNumber=e164(phone), Message=text, MessageAttributes=attributes)["MessageId"]
        except ClientError as e:
            raise _translated(e) from e


class SesEmailSender:
    def __init__(self, sender: str, client: Any = None) -> None:
        self.sender = sender
        self.ses = client or boto3.client("sesv2")

    def send_email(self, address: str, subject: str, body: str, ticket_no: int) -> str:
        try:
            return self.ses.send_email(
                FromEmailAddress=self.sender,
                Destination={"ToAddresses": [address]},
                Content={
                    "Simple": {
                        "Subject": {"Data": subject, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
                    }
                },
                EmailTags=[{"Name": "ticket_no", "Value": str(ticket_no)}],
            )["MessageId"]
        except ClientError as e:
            raise _translated(e) from e


def _translated(e: ClientError) -> errors.DeskError:
    code = e.response.get("Error", {}).get("Code", "")
    if code in _RETRYABLE or e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
        return errors.TemporarilyUnavailable("the message service is unavailable; retry")
    # Never the address or number in the message: it is the citizen's.
    return UndeliverableContact(f"the message service refused the message ({code or 'unknown error'})")


class CitizenChannels:
    """The three ways the messenger writes to a citizen: SMS, e-mail, and a comment under their Weibo mention
    (queued in the Weibo poller's reply outbox, which posts it)."""

    def __init__(self, sms: SnsSmsSender, email: SesEmailSender, weibo_ledger: Any = None) -> None:
        self.sms, self.email, self.weibo_ledger = sms, email, weibo_ledger

    def send_sms(self, phone: str, text: str, ticket_no: int) -> str:
        return self.sms.send_sms(phone, text, ticket_no)

    def send_email(self, address: str, subject: str, body: str, ticket_no: int) -> str:
        return self.email.send_email(address, subject, body, ticket_no)

    def queue_comment(self, mention_id: str, key: str, text: str, ticket_no: int) -> bool:
        from complaints.domain import clock

        if self.weibo_ledger is None:
            raise UndeliverableContact("this desk has no Weibo channel")
        try:
            return self.weibo_ledger.queue_comment(mention_id, key, text, ticket_no, clock.epoch())
        except ValueError as e:  # not the ticket's mention, or a text Weibo would refuse: retrying won't help
            raise UndeliverableContact(f"the Weibo comment cannot be queued ({type(e).__name__})") from e

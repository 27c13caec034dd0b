"""The car-moving owner's side on AWS: the vehicle registry's sealed phones, the notices' deliveries, the SMS (SNS)
and the voice call (AWS End User Messaging SMS and Voice v2, `SendVoiceMessage`).

An owner's phone is sealed with the vehicle key (VehicleKey), bound to the plate by the encryption context: a
ciphertext copied onto another plate's item does not decrypt, and a key policy may allow decrypting for plates
only (`kms:EncryptionContextKeys`). The notifier is the one function that decrypts with it; `complaints vehicles
import` encrypts.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import boto3
from botocore.exceptions import ClientError

from complaints.adapters.aws import DynamoOutbox
from complaints.adapters.citizen_channels import _translated as translated_error
from complaints.adapters.citizen_channels import e164
from complaints.domain.errors import UndeliverableContact

log = logging.getLogger("complaints")

NOTICE_PREFIX = "carmove#notice#"
DEFAULT_VOICE = "ZHIYU"  # Amazon Polly's Mandarin voice


def notice_key(request_id: str, key: str) -> str:
    """The notice item CarMoving writes with a request (`notified`) and with a reminder (`reminded`)."""
    return f"{NOTICE_PREFIX}{request_id}#{key}"


class VehicleVault:
    """Owners' phones encrypted with the vehicle key: the JSON `{"phone": ...}`, context `{"plate": <plate>}`,
    base64 of the ciphertext as the registry stores it (`owner_sealed`)."""

    def __init__(self, key_id: str, client: Any = None) -> None:
        self.key_id = key_id
        self.kms = client or boto3.client("kms")

    def seal(self, plate: str, phone: str) -> str:
        out = self.kms.encrypt(
            KeyId=self.key_id,
            Plaintext=json.dumps({"phone": phone}).encode("utf-8"),
            EncryptionContext={"plate": plate},
        )
        return base64.b64encode(out["CiphertextBlob"]).decode("ascii")

    def open(self, plate: str, sealed: str) -> str:
        out = self.kms.decrypt(CiphertextBlob=base64.b64decode(sealed), EncryptionContext={"plate": plate})
        return json.loads(out["Plaintext"])["phone"]


class DynamoNoticeStore(DynamoOutbox):
    """The owner notices' deliveries: a `deliveries` map on each `carmove#notice#<request_id>#<key>` item of the
    tickets table, each delivery changed by one conditional write, as DynamoOutbox keeps a message's."""

    def _pk(self, request_id: str, key: str) -> str:
        return notice_key(request_id, key)


class SnsOwnerTexter:
    """The owner's SMS, published straight to the number as a transactional message (as SnsSmsSender sends a
    citizen's), without a ticket number: a car-moving request is not a ticket."""

    def __init__(self, client: Any = None, sender_id: str | None = None) -> None:
        self.sns = client or boto3.client("sns")
        self.sender_id = sender_id

    def send_sms(self, phone: str, text: str) -> str:
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self.sender_id}
        try:
            return self.sns.publish(PhoneNumber=e164(phone), Message=text, MessageAttributes=attributes)["MessageId"]
        except ClientError as e:
            raise translated_error(e) from e


class PinpointVoiceCaller:
    """A voice call that reads the text out (Amazon Polly's `voice_id`), from `origination_identity`: a phone number,
    its id or ARN, or a pool's id or ARN, with the VOICE capability. SendVoiceMessage needs one; without one
    configured, the call comes from the account's default: its first active phone number with the VOICE
    capability (DescribePhoneNumbers, looked up at the first call and kept). An account with none refuses every
    call (recorded, not retried); the SMS still goes."""

    def __init__(self, origination_identity: str, voice_id: str = DEFAULT_VOICE, client: Any = None) -> None:
        self.origination_identity = origination_identity
        self.voice_id = voice_id.upper()
        self.client = client or boto3.client("pinpoint-sms-voice-v2")

    def call(self, phone: str, text: str) -> str:
        destination = e164(phone)
        try:
            return self.client.send_voice_message(
                DestinationPhoneNumber=destination,
                OriginationIdentity=self._origination(),
                MessageBody=text,
                MessageBodyTextType="TEXT",
                VoiceId=self.voice_id,
            )["MessageId"]
        except ClientError as e:
            raise translated_error(e) from e

    def _origination(self) -> str:
        if not self.origination_identity:
            pages = self.client.get_paginator("describe_phone_numbers").paginate(
                Filters=[
                    {"Name": "status", "Values": ["ACTIVE"]},
                    {"Name": "number-capability", "Values": ["VOICE"]},
                ]
            )
            found = next((n["PhoneNumberArn"] for page in pages for n in page.get("PhoneNumbers", [])), None)
            if found is None:
                raise UndeliverableContact("no phone number of the account can call; set VoiceOriginationIdentity")
            log.info("voice calls come from the account's phone number", extra={"origination": found})
            self.origination_identity = found
        return self.origination_identity

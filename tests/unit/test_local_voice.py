"""The local stack's voice calls: SendVoiceMessage (End User Messaging SMS and Voice v2, which moto lacks) answered by
the moto process as AWS answers it and listed in the outbox; the notifier's caller and its whole function through it.

Everything here talks to a started moto process (AwsServer) over HTTP with boto3, as the local stack's handlers do.
"""

from __future__ import annotations

import importlib.util
import json
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from complaints.adapters.vehicles import PinpointVoiceCaller, VehicleVault, notice_key
from complaints.domain.errors import UndeliverableContact
from complaints_tools.local.aws_server import AwsServer

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
FROM = "+12065550100"
TEXT = "您好，这里是瑞安自助挪车。您的车辆浙C12345停在安阳街道万松路口，影响他人通行，请尽快挪车。"


@pytest.fixture(scope="module")
def server():
    moto = AwsServer(REGION).start()
    yield moto
    moto.stop()


@pytest.fixture
def aws(server, monkeypatch):
    for k, v in {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": server.endpoint,
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return server


def voice():
    return boto3.client("pinpoint-sms-voice-v2")


def calls_to(server, number):
    return [e for e in server.get("/_outbox/deliveries", {}) if e["protocol"] == "voice" and e["endpoint"] == number]


def test_a_call_is_answered_with_its_message_id_and_listed_in_the_outbox_beside_the_sms(aws):
    number = "+8613900000101"
    answer = voice().send_voice_message(
        DestinationPhoneNumber=number,
        OriginationIdentity=FROM,
        MessageBody=TEXT,
        MessageBodyTextType="TEXT",
        VoiceId="ZHIYU",
    )
    assert answer["MessageId"]
    boto3.client("sns").publish(PhoneNumber=number, Message="【瑞安发布】请挪车")
    entries = [e for e in aws.get("/_outbox/deliveries", {}) if e["endpoint"] == number]
    assert [(e["to"], e["protocol"], e["message"], e["ticket_no"]) for e in entries] == [
        ("citizen", "voice", TEXT, None),
        ("citizen", "sms", "【瑞安发布】请挪车", None),
    ]
    assert set(entries[0]) == set(entries[1])  # one shape for both


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"DestinationPhoneNumber": "13900000102"}, "DestinationPhoneNumber", "INVALID_PARAMETER"),
        ({"DestinationPhoneNumber": "+0013900000102"}, "DestinationPhoneNumber", "INVALID_PARAMETER"),
        ({"MessageBody": "   "}, "MessageBody", "MISSING_PARAMETER"),
        ({"MessageBody": "挪" * 3001}, "MessageBody", "MAXIMUM_SIZE_EXCEEDED"),
        ({"VoiceId": "Zhiyu"}, "VoiceId", "FIELD_VALIDATION_FAILED"),
        ({"OriginationIdentity": "my number"}, "OriginationIdentity", "FIELD_VALIDATION_FAILED"),
        ({"MessageBodyTextType": "MARKDOWN"}, "MessageBodyTextType", "FIELD_VALIDATION_FAILED"),
    ],
)
def test_a_call_aws_would_refuse_is_a_validation_exception_and_rings_nobody(aws, changes, field, reason):
    request = {"DestinationPhoneNumber": "+8613900000102", "OriginationIdentity": FROM, "MessageBody": TEXT, **changes}
    with pytest.raises(ClientError) as e:
        voice().send_voice_message(**request)
    error = e.value.response
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"
    assert error["Reason"] == reason and [f["Name"] for f in error["Fields"]] == [field]
    assert "13900000102" not in error["Error"]["Message"]  # never the number
    assert calls_to(aws, request["DestinationPhoneNumber"]) == []


def test_other_voice_operations_are_not_emulated_and_say_so(aws):
    with pytest.raises(ClientError) as e:
        voice().describe_pools()
    assert e.value.response["Error"]["Code"] == "UnknownOperationException"


def test_the_caller_rings_a_mainland_mobile_in_e164_with_the_voice_it_is_given(aws):
    message_id = PinpointVoiceCaller(FROM, "Zhiyu").call("139 0000 0103", TEXT)
    assert message_id
    assert [e["message"] for e in calls_to(aws, "+8613900000103")] == [TEXT]


def test_a_number_that_cannot_be_rung_is_undeliverable_and_the_error_does_not_repeat_it(aws):
    with pytest.raises(UndeliverableContact) as e:
        PinpointVoiceCaller(FROM).call("0577-6581234", TEXT)
    assert "6581234" not in e.value.message


def test_an_unknown_voice_is_refused_by_the_service_not_retried(aws):
    with pytest.raises(UndeliverableContact, match="ValidationException"):
        PinpointVoiceCaller(FROM, "Hal").call("13900000104", TEXT)
    assert calls_to(aws, "+8613900000104") == []


def test_without_an_origination_identity_the_call_comes_from_the_account_s_voice_number(aws):
    caller = PinpointVoiceCaller("")
    assert caller.call("13900000105", TEXT)
    assert caller.origination_identity.endswith(":phone-number/phone-complaints-local")
    assert [e["message"] for e in calls_to(aws, "+8613900000105")] == [TEXT]


def test_an_account_without_a_voice_number_refuses_every_call_and_places_none(aws):
    class NoNumbers:
        """The account's numbers as an account without any lists them; the calls would go to the local fake."""

        def __init__(self):
            self.client = voice()

        def get_paginator(self, name):
            class Empty:
                def paginate(self, **kw):
                    return iter([{"PhoneNumbers": []}])

            return Empty()

        def send_voice_message(self, **kw):
            return self.client.send_voice_message(**kw)

    with pytest.raises(UndeliverableContact, match="VoiceOriginationIdentity"):
        PinpointVoiceCaller("", client=NoNumbers()).call("13900000106", TEXT)
    assert calls_to(aws, "+8613900000106") == []


def test_the_account_s_numbers_are_listed_with_their_capabilities_and_filtered(aws):
    numbers = voice().describe_phone_numbers(Filters=[{"Name": "number-capability", "Values": ["VOICE"]}])
    assert [n["NumberCapabilities"] for n in numbers["PhoneNumbers"]] == [["SMS", "VOICE"]]
    in_china = voice().describe_phone_numbers(Filters=[{"Name": "iso-country-code", "Values": ["CN"]}])
    assert in_china["PhoneNumbers"] == []


class Context:
    function_name = "car-moving-notice"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:car-moving-notice"
    aws_request_id = "req-1"


def stream_event(*items: dict) -> dict:
    image = TypeSerializer()
    records = []
    for n, item in enumerate(items, start=1):
        new = {k: image.serialize(v) for k, v in item.items()}
        records.append(
            {
                "eventID": str(n),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": REGION,
                "eventSourceARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/tickets/stream/2026-12-02T00:00:00",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1796169600,
                    "Keys": {"pk": new["pk"]},
                    "NewImage": new,
                    "SequenceNumber": f"{n}00",
                    "SizeBytes": 100,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
            }
        )
    return {"Records": records}


def test_the_function_calls_and_texts_the_owner_once_however_often_the_stream_delivers(aws, monkeypatch):
    # Three records: a notice, one that is not in the table (nothing sent), one without its plate (retried alone).
    from complaints.domain import clock

    key_id = boto3.client("kms").create_key(Description="VehicleKey")["KeyMetadata"]["KeyId"]
    ddb = boto3.resource("dynamodb")
    table = ddb.create_table(
        TableName=f"tickets-{key_id[:8]}",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    owner, plate = "+8613900000107", "浙C12345"
    notice = {
        "pk": notice_key("c" * 32, "notified"),
        "request_id": "c" * 32,
        "key": "notified",
        "plate": plate,
        "owner_sealed": VehicleVault(key_id).seal(plate, owner),
        "sms": "【瑞安发布】您的车辆浙C12345停在安阳街道万松路口，请尽快挪车。",
        "voice": TEXT,
        "at": Decimal(str(clock.epoch())),
        "deliveries": {},
    }
    table.put_item(Item=notice)
    unknown = {**notice, "pk": notice_key("d" * 32, "notified"), "request_id": "d" * 32}  # never written
    for k, v in {
        "TICKETS_TABLE": table.name,
        "CITY_CONFIG": str(ROOT / "city" / "ruian.toml"),
        "VEHICLE_KEY_ID": key_id,
        "VOICE_ORIGINATION_IDENTITY": FROM,
        "POWERTOOLS_SERVICE_NAME": "car-moving-notice",
    }.items():
        monkeypatch.setenv(k, v)
    spec = importlib.util.spec_from_file_location("car_moving_notice_app", ROOT / "functions/car_moving_notice/app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)

    broken = {k: v for k, v in notice.items() if k != "plate"}  # a record the function cannot read: reported alone
    for _ in range(2):  # the stream redelivers the batch
        answer = app.lambda_handler(stream_event(notice, unknown, broken), Context())
        assert answer == {"batchItemFailures": [{"itemIdentifier": "300"}]}
    sent = [e for e in aws.get("/_outbox/deliveries", {}) if e["endpoint"] == owner]
    assert [(e["protocol"], e["message"]) for e in sent] == [("sms", notice["sms"]), ("voice", TEXT)]
    stored = table.get_item(Key={"pk": notice["pk"]})["Item"]["deliveries"]
    assert {name: d["state"] for name, d in stored.items()} == {"sms": "sent", "voice": "sent"}
    assert owner[3:] not in json.dumps(stored, default=str)

"""The car owner's side on AWS (moto): phones sealed to their plate, the notices' deliveries claimed once, the SMS."""

from __future__ import annotations

import base64

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns import sns_backends

from complaints.adapters.vehicles import DynamoNoticeStore, SnsOwnerTexter, VehicleVault, notice_key
from complaints.domain import clock
from complaints.domain.desk.car_moving_notice import CarMovingNotice
from complaints.domain.desk.messenger import DeliveryInProgress, DeliveryTaken
from complaints.domain.errors import UndeliverableContact

REGION = "us-east-1"
OWNER, PLATE = "+8613900000002", "浙C12345"


@pytest.fixture
def aws(aws_credentials):
    with mock_aws():
        yield


@pytest.fixture
def vault(aws):
    return VehicleVault(boto3.client("kms").create_key(Description="VehicleKey")["KeyMetadata"]["KeyId"])


@pytest.fixture
def table(aws):
    return boto3.resource("dynamodb").create_table(
        TableName="tickets",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_a_sealed_phone_opens_for_its_plate_only(vault):
    sealed = vault.seal(PLATE, OWNER)
    assert OWNER[3:].encode() not in base64.b64decode(sealed)
    assert vault.open(PLATE, sealed) == OWNER
    with pytest.raises(ClientError) as e:
        vault.open("浙C54321", sealed)  # copied onto another plate's item
    assert e.value.response["Error"]["Code"] == "InvalidCiphertextException"


def put_notice(table, request_id="a" * 32, key="notified"):
    table.put_item(Item={"pk": notice_key(request_id, key), "request_id": request_id, "key": key, "deliveries": {}})


def test_a_delivery_is_claimed_once_recorded_by_its_claim_and_released_for_a_retry(table):
    store = DynamoNoticeStore("tickets")
    put_notice(table)
    assert store.deliveries("a" * 32, "notified") == {}
    assert store.deliveries("b" * 32, "notified") is None
    store.claim("a" * 32, "notified", "sms", "c1")
    with pytest.raises(DeliveryTaken):
        store.claim("a" * 32, "notified", "sms", "c2")
    store.record("a" * 32, "notified", "sms", "c2", "sent", "m-2")  # not its claim: nothing changes
    assert store.deliveries("a" * 32, "notified")["sms"]["claim"] == "c1"
    store.release("a" * 32, "notified", "sms", "c1")
    store.claim("a" * 32, "notified", "sms", "c3")
    store.record("a" * 32, "notified", "sms", "c3", "sent", "m-3")
    sms = store.deliveries("a" * 32, "notified")["sms"]
    assert (sms["state"], sms["detail"]) == ("sent", "m-3")
    with pytest.raises(DeliveryTaken):
        store.claim("b" * 32, "notified", "sms", "c4")  # no such notice: nothing is created


def test_a_stale_claim_is_taken_over_by_its_id_only(table):
    store = DynamoNoticeStore("tickets")
    put_notice(table)
    store.claim("a" * 32, "notified", "voice", "dead")
    with pytest.raises(DeliveryTaken):
        store.claim("a" * 32, "notified", "voice", "mine", stale_claim="someone-else")
    store.claim("a" * 32, "notified", "voice", "mine", stale_claim="dead")
    assert store.deliveries("a" * 32, "notified")["voice"]["claim"] == "mine"


def test_the_owner_s_sms_is_transactional_and_carries_no_ticket_number(aws):
    SnsOwnerTexter(boto3.client("sns"), sender_id="RUIAN").send_sms("139 0000 0002", "【瑞安发布】请挪车")
    assert list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values()) == [(OWNER, "【瑞安发布】请挪车")]


def test_a_number_that_cannot_take_an_sms_is_undeliverable(aws):
    with pytest.raises(UndeliverableContact) as e:
        SnsOwnerTexter(boto3.client("sns")).send_sms("0577-6581234", "x")
    assert "6581234" not in e.value.message


class Caller:
    def __init__(self) -> None:
        self.calls: list = []

    def call(self, phone, text):
        self.calls.append((phone, text))
        return "call-1"


def test_a_notice_in_dynamodb_is_texted_once_and_a_busy_delivery_left_to_its_worker(table, vault, monkeypatch):
    monkeypatch.setattr(clock, "_offset_s", 0.0)
    notice = {
        "request_id": "a" * 32,
        "key": "notified",
        "plate": PLATE,
        "owner_sealed": vault.seal(PLATE, OWNER),
        "sms": "【瑞安发布】您的车辆浙C12345停在万松路口，请尽快挪车。",
        "voice": "请挪车",
        "at": clock.epoch(),
    }
    put_notice(table)
    caller = Caller()
    notices = CarMovingNotice(DynamoNoticeStore("tickets"), vault, SnsOwnerTexter(), caller)
    assert notices.deliver(notice) == {"sms": "sent", "voice": "sent"}
    assert notices.deliver(notice) == {"sms": "sent", "voice": "sent"}
    assert len(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages) == 1 and caller.calls == [(OWNER, "请挪车")]
    put_notice(table, key="reminded")
    DynamoNoticeStore("tickets").claim("a" * 32, "reminded", "sms", "busy")
    with pytest.raises(DeliveryInProgress):
        notices.deliver({**notice, "key": "reminded"})

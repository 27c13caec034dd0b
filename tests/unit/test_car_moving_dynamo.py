"""What the DynamoDB car-moving store does beyond the rules test_car_moving.py checks of both stores: the items the
notifier and the operator see, all-or-nothing refusals, and the registry and phone keys."""

from __future__ import annotations

import hashlib
import hmac
import json

import boto3
import pytest
from moto import mock_aws
from test_car_moving import ROOT, Intake, _items, verified
from test_car_moving import desk as desk  # noqa: F401  (the fixture, over the DynamoDB store only)

from complaints.adapters.car_moving import DynamoCarMovingStore, DynamoVehicleRegistry, HmacPhoneKeys
from complaints.domain import clock
from complaints.domain.desk.car_moving import StoreRefused
from complaints_tools.local.resources import create_all
from complaints_tools.local.template import Template


@pytest.fixture
def store(aws_credentials):
    with mock_aws():
        tpl = Template.load(ROOT / "template.yaml")
        create_all(tpl)
        yield DynamoCarMovingStore(tpl.physical["TicketsTable"]["Ref"])


def everything(store):
    return sorted(item["pk"].split("#")[1] for item in _items(store, ""))


def test_a_request_writes_its_notice_for_the_notifier_with_no_deliveries_yet(desk):
    requester = verified(desk)
    view = desk.request(requester, "浙C12345", "万松路12号", None, "app")
    item = desk.store.table.get_item(Key={"pk": f"carmove#notice#{view['id']}#notified"})["Item"]
    assert item["deliveries"] == {} and item["plate"] == "浙C12345" and item["request_id"] == view["id"]
    assert item["owner_sealed"] and "万松路12号" in item["sms"] and "万松路12号" in item["voice"]
    assert "13800000001" not in json.dumps(item, default=str, ensure_ascii=False)


def test_a_refused_request_stores_nothing_and_uses_up_no_limit(desk, monkeypatch):
    first, second = verified(desk), verified(desk, "13800000003")
    desk.request(first, "浙C12345", "路口", None, "app")
    before = everything(desk.store)
    with pytest.raises(Exception, match="notified a few minutes ago"):
        desk.request(second, "浙C12345", "路口", None, "app")
    # One more audit entry and nothing else: no request, link, notice, and the second requester's month unused.
    assert everything(desk.store) == sorted([*before, "audit"])
    month = desk.store.table.get_item(Key={"pk": f"carmove#month#{first.id}#{desk._local_month(clock.epoch())}"})
    assert month["Item"]["n"] == 1
    assert not any(item["pk"].startswith(f"carmove#month#{second.id}") for item in _items(desk.store, "month"))


def test_the_month_refusal_leaves_the_plate_free(store):
    now = clock.epoch()
    request = {"id": "a" * 32, "plate": "浙C12345", "notified_at": now}
    notice = {"request_id": "a" * 32, "key": "notified", "at": now}
    store.create_request(request, notice, "h1", "r#2026-12", 1, now + 86400, now + 600, now)
    other = {"id": "b" * 32, "plate": "浙C54321", "notified_at": now}
    with pytest.raises(StoreRefused) as e:
        store.create_request(
            other, {**notice, "request_id": "b" * 32}, "h2", "r#2026-12", 1, now + 86400, now + 600, now
        )
    assert e.value.which == "month" and e.value.until == now + 86400
    assert store.request("b" * 32) is None and store.request_by_owner_code("h2") is None
    assert [i["pk"] for i in _items(store, "plate")] == ["carmove#plate#浙C12345"]


def test_a_plate_refusal_says_when_the_plate_frees(store):
    now = clock.epoch()
    store.create_request(
        {"id": "a" * 32, "plate": "浙C12345"},
        {"request_id": "a" * 32, "key": "notified"},
        "h1",
        "r1#m",
        5,
        now,
        now + 600,
        now,
    )
    with pytest.raises(StoreRefused) as e:
        store.create_request(
            {"id": "b" * 32, "plate": "浙C12345"},
            {"request_id": "b" * 32, "key": "notified"},
            "h2",
            "r2#m",
            5,
            now,
            now + 700,
            now + 10,
        )
    assert (e.value.which, e.value.until) == ("plate", now + 600)
    store.create_request(
        {"id": "b" * 32, "plate": "浙C12345"},
        {"request_id": "b" * 32, "key": "notified"},
        "h2",
        "r2#m",
        5,
        now,
        now + 1200,
        now + 600,
    )
    assert store.request_by_owner_code("h2")["id"] == "b" * 32


def test_a_code_counts_its_tries_and_is_used_once(store):
    now = clock.epoch()
    store.start_code("k", "hash1", now + 600, now + 60, "2026-12-02", 5)
    assert store.try_code("k", 2, now) == {"code_hash": "hash1", "expires_at": now + 600, "tries": 1}
    assert store.try_code("k", 2, now)["tries"] == 2
    assert store.try_code("k", 2, now) is None  # tried out
    assert store.use_code("k", "other") is False
    assert store.use_code("k", "hash1") is True and store.use_code("k", "hash1") is False
    assert store.try_code("k", 5, now) is None


def test_the_code_interval_refusal_keeps_the_pending_code_and_the_days_count(store):
    now = clock.epoch()
    store.start_code("k", "hash1", now + 600, now + 60, "2026-12-02", 5)
    with pytest.raises(StoreRefused) as e:
        store.start_code("k", "hash2", now + 600, now + 60, "2026-12-02", 5)
    assert e.value.which == "minute" and e.value.until == now + 60
    assert store.try_code("k", 5, now)["code_hash"] == "hash1"
    assert store.table.get_item(Key={"pk": "carmove#day#k#2026-12-02"})["Item"]["n"] == 1


def test_items_that_expire_carry_a_ttl(desk):
    requester = verified(desk)
    desk.request(requester, "浙C12345", "路口", None, "app")
    kinds = {item["pk"].split("#")[1]: "ttl" in item for item in _items(desk.store, "")}
    assert kinds == {
        "interval": True,
        "day": True,
        "requester": True,
        "month": True,
        "plate": True,
        "request": False,
        "owner": False,
        "notice": False,
        "audit": False,
    }


def test_a_failed_hand_over_puts_the_request_back_for_another_try(desk, monkeypatch):
    requester = verified(desk)
    view = desk.request(requester, "浙C12345", "路口", None, "app")
    monkeypatch.setattr(clock, "_offset_s", 601.0)

    class Down(Intake):
        def submit(self, complaint):
            raise RuntimeError("intake down")

    desk.intake = Down()
    with pytest.raises(RuntimeError):
        desk.to_police(requester, view["id"])
    assert desk.store.request(view["id"])["status"] == "notified"
    assert "police_at" not in desk.store.request(view["id"])
    desk.intake = Intake()
    assert desk.to_police(requester, view["id"])["status"] == "police"


def test_the_registry_gives_the_sealed_owner_or_none(aws_credentials):
    with mock_aws():
        tpl = Template.load(ROOT / "template.yaml")
        create_all(tpl)
        name = tpl.physical["VehiclesTable"]["Ref"]
        boto3.resource("dynamodb").Table(name).put_item(
            Item={"plate": "浙C12345", "owner_sealed": "c2VhbGVk", "imported_at": "2026-12-01T00:00:00Z"}
        )
        registry = DynamoVehicleRegistry(name)
        assert registry.owner_phone("浙C12345") == "c2VhbGVk"
        assert registry.owner_phone("浙C99999") is None


def test_phone_keys_are_an_hmac_under_the_secret():
    keys = HmacPhoneKeys("s" * 32)
    assert keys.key("+8613800000001") == hmac.new(b"s" * 32, b"+8613800000001", hashlib.sha256).hexdigest()
    assert keys.key("+8613800000001") != HmacPhoneKeys("t" * 32).key("+8613800000001")
    with pytest.raises(ValueError):
        HmacPhoneKeys("short")


@pytest.fixture
def car_moving_env(aws_credentials, monkeypatch):
    for name, value in {
        "TICKETS_TABLE": "tickets",
        "CITY_CONFIG": "city/ruian.toml",
        "PHOTOS_BUCKET": "photos",
        "CLASSIFY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/classify",
        "CONTACT_KEY_ID": "key",
        "VEHICLES_TABLE": "vehicles",
        "PHONE_KEY_PARAMETER": "/complaints/car-moving/phone-key",
        "OWNER_LINK_BASE": "",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield monkeypatch


def test_the_car_moving_function_fails_at_init_without_its_phone_key_and_never_says_it(car_moving_env):
    from complaints import wiring

    with pytest.raises(RuntimeError, match="/complaints/car-moving/phone-key cannot be read"):
        wiring.car_moving()
    boto3.client("ssm").put_parameter(
        Name="/complaints/car-moving/phone-key", Value="short-secret", Type="SecureString"
    )
    with pytest.raises(ValueError) as failed:
        wiring.car_moving()
    assert "short-secret" not in str(failed.value)


def test_without_a_link_base_the_owners_link_is_the_citys_public_site(car_moving_env):
    from complaints import wiring

    boto3.client("ssm").put_parameter(Name="/complaints/car-moving/phone-key", Value="k" * 64, Type="SecureString")
    assert wiring.car_moving().owner_link_base == "https://wenzheng.ruian.example"
    car_moving_env.setenv("OWNER_LINK_BASE", "http://127.0.0.1:3000")
    assert wiring.car_moving().owner_link_base == "http://127.0.0.1:3000"

"""The car owner's notice: one SMS and one call per notice, whatever the stream redelivers, and the owner's phone in
nothing but the two sends."""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass, field

import pytest

from complaints.adapters.memory import MemoryCarMovingStore
from complaints.city import load_city
from complaints.domain import clock
from complaints.domain.desk.car_moving import CarMoving
from complaints.domain.desk.car_moving_notice import CarMovingNotice
from complaints.domain.desk.messenger import DeliveryInProgress, DeliveryTaken
from complaints.domain.errors import TemporarilyUnavailable, UndeliverableContact

REQUESTER, OWNER = "+8613800000001", "+8613900000002"
PLATE = "浙C12345"


class Notices:
    """The notices' deliveries, keyed as the notice items are; only notices that were written exist."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, dict]] = {}

    def add(self, notice: dict) -> dict:
        self.items[f"{notice['request_id']}#{notice['key']}"] = {}
        return notice

    def deliveries(self, request_id, key):
        held = self.items.get(f"{request_id}#{key}")
        return None if held is None else copy.deepcopy(held)

    def claim(self, request_id, key, delivery, claim, stale_claim=None):
        held = self.items[f"{request_id}#{key}"]
        current = held.get(delivery)
        if (current is not None or stale_claim is not None) and (current or {}).get("claim") != stale_claim:
            raise DeliveryTaken(delivery)
        held[delivery] = {"state": "sending", "claim": claim, "since": clock.epoch()}

    def record(self, request_id, key, delivery, claim, state, detail):
        held = self.items[f"{request_id}#{key}"]
        if held.get(delivery, {}).get("claim") == claim:
            held[delivery] = {"state": state, **({"detail": detail} if detail else {})}

    def release(self, request_id, key, delivery, claim):
        held = self.items[f"{request_id}#{key}"]
        if held.get(delivery, {}).get("claim") == claim:
            del held[delivery]


class Phones:
    """Seals bound to the plate, as VehicleVault binds them with KMS's encryption context."""

    opened = 0

    def seal(self, plate, phone):
        return f"sealed:{plate}:{phone[::-1]}"

    def open(self, plate, sealed):
        _, bound, reversed_phone = sealed.split(":")
        if bound != plate:
            raise PermissionError("the sealed phone belongs to another plate")
        self.opened += 1
        return reversed_phone[::-1]


@dataclass
class Phone:
    """The owner's phone: what it received by SMS and by call; `fail` makes the next sends raise."""

    sms: list = field(default_factory=list)
    calls: list = field(default_factory=list)
    fail: dict = field(default_factory=dict)

    def send_sms(self, phone, text):
        if "sms" in self.fail:
            raise self.fail["sms"]
        self.sms.append((phone, text))
        return f"sms-{len(self.sms)}"

    def call(self, phone, text):
        if "voice" in self.fail:
            raise self.fail["voice"]
        self.calls.append((phone, text))
        return f"call-{len(self.calls)}"


@dataclass
class Texter:
    sent: list = field(default_factory=list)

    def send_sms(self, phone, text):
        self.sent.append((phone, text))
        return "m1"


@pytest.fixture
def phone():
    return Phone()


@pytest.fixture
def notifier(phone, monkeypatch):
    monkeypatch.setattr(clock, "_offset_s", 0.0)
    return CarMovingNotice(notices=Notices(), phones=Phones(), texter=phone, caller=phone)


def a_notice(notifier, key="notified", **changes):
    notice = {
        "pk": f"carmove#notice#{'a' * 32}#{key}",
        "request_id": "a" * 32,
        "key": key,
        "plate": PLATE,
        "owner_sealed": Phones().seal(PLATE, OWNER),
        "sms": "【瑞安发布】您的车辆浙C12345停在安阳街道万松路口，请尽快挪车。挪好后请点此确认：https://x/car-moving/owner/c",
        "voice": "您好，这里是瑞安自助挪车。您的车辆浙C12345停在安阳街道万松路口，请尽快挪车。",
        "at": clock.epoch(),
        "deliveries": {},
        **changes,
    }
    return notifier.notices.add(notice)


def move_clock(monkeypatch, seconds):
    monkeypatch.setattr(clock, "_offset_s", clock.offset_s() + seconds)


def test_the_owner_gets_the_notice_s_sms_and_its_call_on_the_phone_the_registry_holds(notifier, phone):
    notice = a_notice(notifier)
    assert notifier.deliver(notice) == {"sms": "sent", "voice": "sent"}
    assert phone.sms == [(OWNER, notice["sms"])]
    assert phone.calls == [(OWNER, notice["voice"])]
    assert notifier.notices.deliveries("a" * 32, "notified")["voice"] == {"state": "sent", "detail": "call-1"}


def test_a_redelivered_notice_sends_nothing_more_and_opens_no_phone(notifier, phone):
    notice = a_notice(notifier)
    notifier.deliver(notice)
    opened = notifier.phones.opened
    assert notifier.deliver(notice) == {"sms": "sent", "voice": "sent"}
    assert len(phone.sms) == 1 and len(phone.calls) == 1
    assert notifier.phones.opened == opened


def test_a_reminder_is_a_notice_of_its_own_and_rings_again(notifier, phone):
    notifier.deliver(a_notice(notifier))
    notifier.deliver(a_notice(notifier, key="reminded", voice="再次提醒"))
    assert [text for _, text in phone.calls][-1] == "再次提醒"
    assert len(phone.sms) == 2


def test_an_sms_service_outage_is_retried_and_the_call_waits_for_it(notifier, phone):
    notice = a_notice(notifier)
    phone.fail["sms"] = TemporarilyUnavailable("the message service is unavailable; retry")
    with pytest.raises(TemporarilyUnavailable):
        notifier.deliver(notice)
    assert phone.calls == [] and notifier.notices.deliveries("a" * 32, "notified") == {}
    del phone.fail["sms"]
    assert notifier.deliver(notice) == {"sms": "sent", "voice": "sent"}
    assert len(phone.sms) == 1 and len(phone.calls) == 1


def test_a_failed_call_is_retried_without_a_second_sms(notifier, phone):
    notice = a_notice(notifier)
    phone.fail["voice"] = TemporarilyUnavailable("the message service is unavailable; retry")
    with pytest.raises(TemporarilyUnavailable):
        notifier.deliver(notice)
    del phone.fail["voice"]
    assert notifier.deliver(notice) == {"sms": "sent", "voice": "sent"}
    assert len(phone.sms) == 1 and len(phone.calls) == 1


def test_a_number_the_service_refuses_is_recorded_refused_and_not_retried(notifier, phone):
    notice = a_notice(notifier)
    phone.fail["sms"] = phone.fail["voice"] = UndeliverableContact("the message service refused the message (X)")
    assert notifier.deliver(notice) == {"sms": "refused", "voice": "refused"}
    phone.fail.clear()
    assert notifier.deliver(notice) == {"sms": "refused", "voice": "refused"}
    assert phone.sms == [] and phone.calls == []


def test_a_claim_another_worker_holds_is_left_to_it(notifier, phone):
    notice = a_notice(notifier)
    notifier.notices.claim("a" * 32, "notified", "sms", "other")
    with pytest.raises(DeliveryInProgress):
        notifier.deliver(notice)
    assert phone.sms == []


def test_a_claim_past_its_lease_is_recorded_interrupted_and_never_sent_again(notifier, phone, monkeypatch):
    # A worker claimed the SMS, perhaps sent it, and died before recording it: a second SMS is worse than none.
    notice = a_notice(notifier)
    notifier.notices.claim("a" * 32, "notified", "sms", "dead-worker")
    move_clock(monkeypatch, 121)
    assert notifier.deliver(notice) == {"sms": "interrupted", "voice": "sent"}
    assert notifier.deliver(notice) == {"sms": "interrupted", "voice": "sent"}
    assert phone.sms == [] and len(phone.calls) == 1


def test_a_notice_the_stream_held_back_for_half_an_hour_rings_nobody(notifier, phone, monkeypatch):
    notice = a_notice(notifier)
    move_clock(monkeypatch, 30 * 60 + 1)
    assert notifier.deliver(notice) == {"sms": "expired", "voice": "expired"}
    assert phone.sms == [] and phone.calls == []


def test_a_notice_that_is_not_in_the_table_sends_nothing(notifier, phone):
    notice = a_notice(notifier)
    del notifier.notices.items[f"{'a' * 32}#notified"]
    assert notifier.deliver(notice) == {}
    assert phone.sms == [] and phone.calls == []


def test_no_log_line_and_no_stored_outcome_holds_the_owner_s_phone(notifier, phone, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG, logger="complaints")
    phone.fail["sms"] = UndeliverableContact(f"refused for {OWNER}")  # an adapter that broke the rule
    notifier.deliver(a_notice(notifier))
    notice = a_notice(notifier, request_id="b" * 32)
    notifier.notices.claim("b" * 32, "notified", "voice", "dead-worker")
    move_clock(monkeypatch, 121)
    notifier.deliver(notice)
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    stored = repr(notifier.notices.items)
    assert caplog.records
    for digits in (OWNER, OWNER[3:], OWNER[-8:]):
        assert digits not in logged and digits not in stored


def test_the_notice_a_car_moving_request_writes_reaches_the_owner_and_not_the_requester_s_number(phone, monkeypatch):
    monkeypatch.setattr(clock, "_offset_s", 0.0)
    store, phones = MemoryCarMovingStore(), Phones()

    class Keys:
        def key(self, number):
            return "k" + number[-4:]

    class Contacts:
        def seal(self, ticket_id, contact):
            return f"{ticket_id}:{contact['phone']}"

        def open(self, ticket_id, sealed):
            return {"phone": sealed.split(":")[-1]}

    class Registry:
        def owner_phone(self, plate):
            return phones.seal(plate, OWNER) if plate == PLATE else None

    texter = Texter()
    desk = CarMoving(
        city=load_city("city/ruian.toml"),
        store=store,
        registry=Registry(),
        phone_keys=Keys(),
        contacts=Contacts(),
        texter=texter,
        intake=None,
        owner_link_base="https://wenzheng.ruian.example",
    )
    desk.start_verification(REQUESTER, "app")
    code = re.search(r"\d{6}", texter.sent[-1][1]).group()
    requester = desk.confirm_verification(REQUESTER, code)
    desk.request(requester, "浙c·12345", "安阳街道万松路口", None, "app")
    notices = Notices()
    notifier = CarMovingNotice(notices=notices, phones=phones, texter=phone, caller=phone)
    assert notifier.deliver(notices.add(store.notices[-1])) == {"sms": "sent", "voice": "sent"}
    ((to, sms),) = phone.sms
    ((called, spoken),) = phone.calls
    assert to == called == OWNER
    assert PLATE in sms and "安阳街道万松路口" in sms and "https://wenzheng.ruian.example/car-moving/owner/" in sms
    assert PLATE in spoken and "安阳街道万松路口" in spoken
    for text in (sms, spoken):
        assert REQUESTER[3:] not in text and OWNER[3:] not in text

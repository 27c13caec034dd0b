import hashlib
import hmac
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from moto import mock_aws

from complaints.adapters.car_moving import DynamoCarMovingStore
from complaints.adapters.memory import MemoryCarMovingStore
from complaints.city import load_city
from complaints.domain import clock
from complaints.domain.desk.car_moving import CarMoving
from complaints.domain.errors import (
    Blocked,
    CarMovingNotFound,
    CodeRejected,
    LimitReached,
    NotVerified,
    NotYet,
    PlateNotRegistered,
)
from complaints_tools.local.resources import create_all
from complaints_tools.local.template import Template

ROOT = Path(__file__).resolve().parents[2]
REQUESTER, OWNER = "+8613800000001", "+8613900000002"


class Keys:
    def key(self, phone):
        return hmac.new(b"pepper", phone.encode(), hashlib.sha256).hexdigest()


class Vault:
    """Seals by reversible tagging, bound to the id as KMS's encryption context binds it."""

    def seal(self, ticket_id, contact):
        return f"sealed:{ticket_id}:{contact['phone'][::-1]}"

    def open(self, ticket_id, sealed):
        _, bound, reversed_phone = sealed.split(":")
        assert bound == ticket_id
        return {"phone": reversed_phone[::-1]}


@dataclass
class Texter:
    sent: list = field(default_factory=list)

    def send_sms(self, phone, text):
        self.sent.append((phone, text))
        return "m1"


@dataclass
class Registry:
    owners: dict

    def owner_phone(self, plate):
        return self.owners.get(plate)


@dataclass
class Intake:
    submitted: list = field(default_factory=list)

    def submit(self, complaint):
        self.submitted.append(complaint)

        @dataclass
        class R:
            id: str = "t" * 32
            ticket_no: int = 10001
            receipt: str = "r"

        return R()


@pytest.fixture(params=["memory", "dynamodb"])
def store(request):
    """Every rule below holds of both stores: in memory, and on DynamoDB (moto, the table from template.yaml)."""
    if request.param == "memory":
        yield MemoryCarMovingStore()
        return
    request.getfixturevalue("aws_credentials")
    with mock_aws():
        tpl = Template.load(ROOT / "template.yaml")
        create_all(tpl)
        yield DynamoCarMovingStore(tpl.physical["TicketsTable"]["Ref"])


@pytest.fixture
def desk(monkeypatch, store):
    monkeypatch.setattr(clock, "_offset_s", 0.0)
    return CarMoving(
        city=load_city("city/ruian.toml"),
        store=store,
        registry=Registry({"浙C12345": Vault().seal("浙C12345", {"phone": OWNER})}),
        phone_keys=Keys(),
        contacts=Vault(),
        texter=Texter(),
        intake=Intake(),
        owner_link_base="https://wenzheng.ruian.example",
    )


def _items(store, kind):
    """A test's look at what a store holds, of one kind or (kind "") all (a scan: tests only)."""
    table, prefix = store.table, f"carmove#{kind}#" if kind else "carmove#"
    found, page = [], {}
    while True:
        out = table.scan(FilterExpression="begins_with(pk, :p)", ExpressionAttributeValues={":p": prefix}, **page)
        found += out["Items"]
        if "LastEvaluatedKey" not in out:
            return found
        page = {"ExclusiveStartKey": out["LastEvaluatedKey"]}


def notices(store):
    if isinstance(store, MemoryCarMovingStore):
        return store.notices
    return sorted(_items(store, "notice"), key=lambda n: n["at"])


def requests(store):
    return list(store.requests.values()) if isinstance(store, MemoryCarMovingStore) else _items(store, "request")


def outcomes(store):
    entries = store.audits if isinstance(store, MemoryCarMovingStore) else _items(store, "audit")
    return sorted(a["outcome"] for a in entries)


def verified(desk, phone="138 0000 0001"):
    desk.start_verification(phone, "app")
    code = re.search(r"\d{6}", desk.texter.sent[-1][1]).group()
    return desk.confirm_verification(phone, code)


def move_clock(monkeypatch, seconds):
    monkeypatch.setattr(clock, "_offset_s", clock.offset_s() + seconds)


def test_a_code_is_single_use_and_gives_a_token(desk):
    requester = verified(desk)
    assert desk.requester(requester.token).id == requester.id
    code = re.search(r"\d{6}", desk.texter.sent[-1][1]).group()
    with pytest.raises(CodeRejected):
        desk.confirm_verification("13800000001", code)


def test_a_code_expires_after_ten_minutes(desk, monkeypatch):
    desk.start_verification("13800000001", "app")
    code = re.search(r"\d{6}", desk.texter.sent[-1][1]).group()
    move_clock(monkeypatch, 601)
    with pytest.raises(CodeRejected):
        desk.confirm_verification("13800000001", code)


def test_five_wrong_tries_kill_the_code(desk):
    desk.start_verification("13800000001", "app")
    code = re.search(r"\d{6}", desk.texter.sent[-1][1]).group()
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    for _ in range(5):
        with pytest.raises(CodeRejected):
            desk.confirm_verification("13800000001", wrong)
    with pytest.raises(CodeRejected):
        desk.confirm_verification("13800000001", code)


def test_one_code_a_minute_and_five_a_day(desk, monkeypatch):
    desk.start_verification("13800000001", "app")
    with pytest.raises(LimitReached) as e:
        desk.start_verification("+86 138 0000 0001", "app")
    assert 1 <= e.value.retry_after_s <= 61
    for _ in range(4):
        move_clock(monkeypatch, 61)
        desk.start_verification("13800000001", "app")
    move_clock(monkeypatch, 61)
    with pytest.raises(LimitReached):
        desk.start_verification("13800000001", "app")


def test_an_unknown_token_is_not_verified(desk):
    with pytest.raises(NotVerified):
        desk.requester("nope")


def test_the_owner_is_notified_without_the_requesters_number(desk, caplog):
    caplog.set_level(logging.DEBUG, logger="complaints")
    requester = verified(desk)
    view = desk.request(requester, "浙c·12345", "万松路12号门口", None, "app")
    assert view["status"] == "notified" and view["plate"] == "浙C12345"
    (notice,) = notices(desk.store)
    for text in (notice["sms"], notice["voice"]):
        assert "13800000001" not in text and "浙C12345" in text and "万松路12号门口" in text
    assert "/car-moving/owner/" in notice["sms"]
    assert "13900000002" not in str(view) and "sealed" not in str(view)
    assert "13800000001" not in caplog.text and "13900000002" not in caplog.text


def test_an_unknown_plate_is_404_and_audited(desk):
    requester = verified(desk)
    with pytest.raises(PlateNotRegistered):
        desk.request(requester, "浙C99999", "路口", None, "app")
    assert outcomes(desk.store) == ["plate_not_registered"]
    assert requests(desk.store) == []


def test_one_notification_per_plate_per_ten_minutes(desk, monkeypatch):
    first, second = verified(desk), verified(desk, "13800000003")
    desk.request(first, "浙C12345", "路口", None, "app")
    with pytest.raises(LimitReached):
        desk.request(second, "浙C12345", "路口", None, "app")
    assert len(requests(desk.store)) == 1 and outcomes(desk.store) == ["limit_plate", "notified"]
    move_clock(monkeypatch, 601)
    desk.request(second, "浙C12345", "路口", None, "app")


def test_five_requests_a_month(desk, monkeypatch):
    requester = verified(desk)
    for _ in range(5):
        desk.request(requester, "浙C12345", "路口", None, "app")
        move_clock(monkeypatch, 601)
    with pytest.raises(LimitReached):
        desk.request(requester, "浙C12345", "路口", None, "app")
    assert len(requests(desk.store)) == 5


def test_blocked_requesters_and_plates_are_403(desk):
    requester = verified(desk)
    desk.store.block("plate", "浙C12345", "abuse")
    with pytest.raises(Blocked):
        desk.request(requester, "浙C12345", "路口", None, "app")
    desk.store.unblock("plate", "浙C12345")
    desk.store.block("phone", requester.id, "abuse")
    with pytest.raises(Blocked):
        desk.request(requester, "浙C12345", "路口", None, "app")
    assert requests(desk.store) == []


def test_remind_once_after_ten_minutes_then_police(desk, monkeypatch):
    requester = verified(desk)
    view = desk.request(requester, "浙C12345", "路口", None, "app")
    with pytest.raises(NotYet) as e:
        desk.remind(requester, view["id"])
    assert e.value.possible_at == view["can_remind_at"]
    move_clock(monkeypatch, 601)
    desk.remind(requester, view["id"])
    with pytest.raises(NotYet):
        desk.remind(requester, view["id"])
    assert len(notices(desk.store)) == 2
    police = desk.to_police(requester, view["id"])
    assert police["status"] == "police" and police["ticket_no"] == 10001
    (complaint,) = desk.intake.submitted
    assert complaint.service == "jt05" and complaint.public is False
    assert complaint.contact == {"phone": REQUESTER} and "浙C12345" in complaint.text


def test_the_owner_confirms_by_the_link_and_the_requester_sees_moved(desk):
    requester = verified(desk)
    view = desk.request(requester, "浙C12345", "路口", None, "app")
    (notice,) = notices(desk.store)
    code = notice["sms"].rsplit("/", 1)[1]
    assert desk.owner_page(code)["moved"] is False
    assert desk.owner_confirms(code)["moved"] is True
    assert desk.view(requester, view["id"])["status"] == "moved"
    with pytest.raises(CarMovingNotFound):
        desk.owner_page("x" * 32)


def test_another_requesters_request_is_not_found(desk):
    mine, theirs = verified(desk), verified(desk, "13800000003")
    view = desk.request(mine, "浙C12345", "路口", None, "app")
    with pytest.raises(CarMovingNotFound):
        desk.view(theirs, view["id"])

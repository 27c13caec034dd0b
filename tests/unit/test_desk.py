"""The desk service with in-memory adapters: what a citizen and an agency would notice."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from complaints.adapters.memory import MemoryNotifier, MemoryPhotoStore, MemoryQueue, MemoryTicketRepository
from complaints.classifier.model import Prediction
from complaints.domain import routing
from complaints.domain.desk import ComplaintDesk, NewComplaint
from complaints.domain.errors import PhotoRejected, TemporarilyUnavailable, TicketNotFound
from complaints.domain.tickets import Location, Status


class FixedClassifier:
    def __init__(self, category: str = "环境保护", confidence: float = 0.9) -> None:
        self.category, self.confidence = category, confidence

    def predict(self, text: str) -> Prediction:
        rest = (1 - self.confidence) / 2
        return Prediction(
            self.category, self.confidence, [(self.category, self.confidence), ("城乡建设", rest), ("卫生计生", rest)]
        )


class FailingQueue(MemoryQueue):
    def send(self, body):
        raise ConnectionError("queue down")


def make_desk(city, confidence=0.9, category="环境保护", classify_queue=None):
    return ComplaintDesk(
        city=city,
        tickets=MemoryTicketRepository(city.ticket_no_start),
        photos=MemoryPhotoStore(),
        classify_queue=classify_queue or MemoryQueue(),
        route_queue=MemoryQueue(),
        notifier=MemoryNotifier(),
        classifier=FixedClassifier(category, confidence),
        threshold=0.6,
    )


def jpeg_b64(size=(800, 600)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, (120, 80, 40)).save(buf, "JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def run_pipeline(desk, text, **kw):
    receipt = desk.submit(NewComplaint(text=text, **kw))
    desk.classify(receipt.id)
    desk.route(receipt.id)
    return receipt


def test_ticket_numbers_are_sequential_from_the_city_start(city):
    desk = make_desk(city)
    numbers = [desk.submit(NewComplaint(text=f"投诉 {i}")).ticket_no for i in range(3)]
    assert numbers == [city.ticket_no_start, city.ticket_no_start + 1, city.ticket_no_start + 2]


def test_receipt_is_long_random_and_only_its_hash_is_stored(city):
    desk = make_desk(city)
    r = desk.submit(NewComplaint(text="上望街道有人烧垃圾", contact={"phone": "13812345678"}))
    assert len(r.receipt) >= 32  # 24 random bytes, url-safe base64
    stored = desk.tickets.get(r.id)
    assert r.receipt not in stored.model_dump_json()
    assert desk.ticket_for_citizen(r.id, r.receipt).ticket_no == r.ticket_no


@pytest.mark.parametrize("receipt", [None, "", "wrong", "x" * 32])
def test_wrong_or_missing_receipt_looks_like_no_ticket(city, receipt):
    desk = make_desk(city)
    r = desk.submit(NewComplaint(text="上望街道有人烧垃圾"))
    with pytest.raises(TicketNotFound):
        desk.ticket_for_citizen(r.id, receipt)
    with pytest.raises(TicketNotFound):
        desk.ticket_for_citizen("0" * 32, r.receipt)


def test_public_view_has_no_contact_and_no_secrets(city):
    desk = make_desk(city)
    r = run_pipeline(desk, "上望街道有人烧垃圾", contact={"phone": "13812345678"})
    public = desk.ticket_for_citizen(r.id, r.receipt).to_public()
    text = repr(public)
    assert "13812345678" not in text and "receipt" not in text and "contact" not in text


def test_confident_ticket_is_dispatched_with_agency_attributes(city):
    desk = make_desk(city, confidence=0.9)
    r = run_pipeline(desk, "上望街道薛里村有人焚烧垃圾")
    ticket = desk.tickets.get(r.id)
    assert ticket.status is Status.DISPATCHED
    assert [h.status for h in ticket.history] == [Status.RECEIVED, Status.CLASSIFIED, Status.DISPATCHED]
    (msg,) = desk.notifier.published
    assert msg["channel"] == "dispatch"
    assert msg["attributes"] == {
        "department": "市生态环境局",
        "district": "上望街道",
        "category": "环境保护",
        "ticket_no": str(r.ticket_no),
    }
    assert "上望街道薛里村有人焚烧垃圾" in msg["messages"]["email"]
    assert len(msg["messages"]["sms"]) <= routing.SMS_MAX_CHARS


def test_unsure_ticket_goes_to_triage_with_the_reason(city):
    desk = make_desk(city, confidence=0.4)
    r = run_pipeline(desk, "有个事情想反映一下")
    assert desk.tickets.get(r.id).status is Status.TRIAGE
    (msg,) = desk.notifier.published
    assert msg["channel"] == "triage"
    assert "低于自动派单阈值" in msg["messages"]["email"]


def test_redelivered_messages_publish_once(city):
    desk = make_desk(city)
    r = desk.submit(NewComplaint(text="上望街道有人烧垃圾"))
    for _ in range(3):
        desk.classify(r.id)
        desk.route(r.id)
    assert len(desk.notifier.published) == 1
    assert [h.status for h in desk.tickets.get(r.id).history].count(Status.CLASSIFIED) == 1


def test_location_decides_the_district(city):
    desk = make_desk(city)
    d = city.district_by_name("塘下镇")
    r = run_pipeline(desk, "这里有人烧垃圾", location=Location(lat=d.lat, lng=d.lng))
    t = desk.tickets.get(r.id)
    assert (t.district, t.district_source) == ("塘下镇", "location")


def test_photo_is_stored_without_metadata_and_linked_in_the_email(city):
    desk = make_desk(city)
    r = run_pipeline(desk, "上望街道有人烧垃圾", photo_base64=jpeg_b64())
    (key,) = desk.photos.objects
    data, content_type = desk.photos.objects[key]
    assert content_type == "image/jpeg" and key.startswith(f"photos/{r.id}/")
    assert Image.open(io.BytesIO(data)).getexif() == {}
    assert key in desk.notifier.published[0]["messages"]["email"]


def test_a_bad_photo_stores_nothing(city):
    desk = make_desk(city)
    with pytest.raises(PhotoRejected):
        desk.submit(
            NewComplaint(text="上望街道有人烧垃圾", photo_base64=base64.b64encode(b"%PDF-1.4 not a photo").decode())
        )
    assert desk.tickets.items == {} and desk.photos.objects == {} and desk.classify_queue.messages == []


def test_a_queue_failure_undoes_the_ticket_and_photo(city):
    desk = make_desk(city, classify_queue=FailingQueue())
    with pytest.raises(TemporarilyUnavailable):
        desk.submit(NewComplaint(text="上望街道有人烧垃圾", photo_base64=jpeg_b64()))
    assert desk.tickets.items == {} and desk.photos.objects == {}


def test_every_sms_fits_one_segment(city):
    """Longest category × longest district × a six-digit ticket number still fits 70 characters."""
    desk = make_desk(city)
    ticket = desk.tickets.get(desk.submit(NewComplaint(text="x")).id)
    for category in city.categories:
        for district in city.districts:
            t = ticket.model_copy(update={"ticket_no": 999999, "category": category.name, "district": district.name})
            text = routing.sms_text(t, city)
            assert len(text) <= routing.SMS_MAX_CHARS, text
            assert city.ticket_link(999999) in text

"""The desk service with in-memory adapters: what a citizen and an agency would notice."""

from __future__ import annotations

import base64
import io

import photo_samples as samples
import pytest
from PIL import Image

from complaints.adapters.memory import (
    MemoryContactVault,
    MemoryNotifier,
    MemoryPhotoStore,
    MemoryQueue,
    MemoryTicketRepository,
)
from complaints.classifier.evidence import Evidence
from complaints.classifier.model import Prediction, TextClassifier
from complaints.domain import routing
from complaints.domain.desk.classify import Classification
from complaints.domain.desk.dispatch import Dispatch
from complaints.domain.desk.intake import Intake, NewComplaint, PhotoUpload
from complaints.domain.desk.photo_upload import PhotoUploads
from complaints.domain.errors import (
    InvalidComplaint,
    PhotoRejected,
    PhotoTooLarge,
    TemporarilyUnavailable,
    TicketNotFound,
)
from complaints.domain.tickets import Location, Status, photo_keys


class FixedClassifier:
    def __init__(self, category: str = "环境保护", confidence: float = 0.9, evidence: bool = True) -> None:
        self.category, self.confidence, self.evidence = category, confidence, evidence

    def predict(self, text: str) -> Prediction:
        rest = (1 - self.confidence) / 2
        top3 = [(self.category, self.confidence), ("城乡建设", rest), ("卫生计生", rest)]
        evidence = Evidence(12, 1.0, True) if self.evidence else Evidence(0, 0.0, False)
        return Prediction(self.category, self.confidence, top3, evidence)


class FailingQueue(MemoryQueue):
    def send(self, body, delay_s=0):
        raise ConnectionError("queue down")


class Desk:
    """The four use cases over one set of in-memory adapters, as the functions share one table, bucket and queues.

    `desk.submit(...)`, `desk.route(...)` call the use case that has them; setting an attribute (a notifier, a
    lease) sets it on every use case that has one.
    """

    def __init__(self, city, confidence, category, classify_queue) -> None:
        tickets, photos, queue = MemoryTicketRepository(city.ticket_no_start), MemoryPhotoStore(), classify_queue
        self.__dict__["use_cases"] = [
            Intake(city, tickets, photos, queue, MemoryContactVault()),
            PhotoUploads(tickets, photos, queue),
            Classification(city, tickets, MemoryQueue(), FixedClassifier(category, confidence)),
            Dispatch(city, tickets, photos, MemoryNotifier(), threshold=0.6),
        ]
        self.__dict__["intake"] = self.use_cases[0]

    def __getattr__(self, name):
        for use_case in self.use_cases:
            if hasattr(use_case, name):
                return getattr(use_case, name)
        raise AttributeError(name)

    def __setattr__(self, name, value) -> None:
        owners = [u for u in self.use_cases if hasattr(u, name)]
        if not owners:
            raise AttributeError(name)
        for use_case in owners:
            setattr(use_case, name, value)


def make_desk(city, confidence=0.9, category="环境保护", classify_queue=None):
    return Desk(city, confidence, category, classify_queue or MemoryQueue())


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
    msg, copy = desk.notifier.published  # the agency's notice, then the town's copy
    assert msg["channel"] == copy["channel"] == "dispatch"
    attrs = {"department": "市生态环境局", "district": "上望街道", "category": "环境保护"}
    attrs["ticket_no"] = str(r.ticket_no)
    # no `reason`: that is for triage; the agency's id is what its subscriptions filter on
    assert msg["attributes"] == {**attrs, "audience": "agency", "agency": "eco"}
    assert copy["attributes"] == {**attrs, "audience": "copy"}
    assert ticket.triage_reason is None
    assert "上望街道薛里村有人焚烧垃圾" in msg["messages"]["email"]
    assert len(msg["messages"]["sms"]) <= routing.SMS_MAX_CHARS


def test_unsure_ticket_goes_to_triage_with_the_reason(city):
    desk = make_desk(city, confidence=0.4)
    r = run_pipeline(desk, "有个事情想反映一下")
    ticket = desk.tickets.get(r.id)
    assert (ticket.status, ticket.triage_reason) == (Status.TRIAGE, "low_confidence")
    (msg,) = desk.notifier.published
    assert msg["channel"] == "triage" and msg["attributes"]["reason"] == "low_confidence"
    assert "低于自动派单阈值 0.60 (low_confidence)" in msg["messages"]["email"]


def test_text_the_model_has_no_evidence_for_goes_to_triage_however_confident(city):
    desk = make_desk(city)
    desk.classifier = FixedClassifier("环境保护", confidence=0.99, evidence=False)
    r = run_pipeline(desk, "The street light is broken")
    ticket = desk.tickets.get(r.id)
    assert (ticket.status, ticket.triage_reason, ticket.no_evidence) == (Status.TRIAGE, "no_evidence", True)
    # The model's guess is not kept where it would read as a suggestion: not on the ticket, not in the e-mail.
    assert (ticket.category, ticket.department, ticket.confidence, ticket.top3) == (None, None, None, None)
    assert [h.note for h in ticket.history[1:]] == ["无法判断类别", routing.NO_EVIDENCE_NOTE]
    (msg,) = desk.notifier.published
    assert (msg["channel"], msg["attributes"]["reason"]) == ("triage", "no_evidence")
    assert "department" not in msg["attributes"] and "category" not in msg["attributes"]
    email = msg["messages"]["email"]
    assert f"转人工分派原因: {routing.NO_EVIDENCE_NOTE} (no_evidence)" in email
    assert "承办单位: 待分派" in email and "环境保护" not in email


def test_the_bundled_model_sends_english_to_triage_and_short_chinese_to_the_agency(city, model_dir):
    desk = make_desk(city)
    desk.classifier = TextClassifier.load(model_dir)
    english = run_pipeline(desk, "The street light is broken")
    chinese = run_pipeline(desk, "上望街道薛里村有人焚烧垃圾，黑烟很大")
    assert desk.tickets.get(english.id).triage_reason == "no_evidence"
    ticket = desk.tickets.get(chinese.id)
    assert (ticket.status, ticket.department, ticket.no_evidence) == (Status.DISPATCHED, "市生态环境局", False)
    assert ticket.triage_reason is None


def test_a_category_no_agency_handles_goes_to_triage_as_no_category(city):
    desk = make_desk(city, category="殡葬管理")
    r = run_pipeline(desk, "上望街道有人烧垃圾")
    assert desk.tickets.get(r.id).triage_reason == "no_category"
    (msg,) = desk.notifier.published
    assert msg["attributes"]["reason"] == "no_category" and "(no_category)" in msg["messages"]["email"]


def test_redelivered_messages_publish_once(city):
    desk = make_desk(city)
    r = desk.submit(NewComplaint(text="上望街道有人烧垃圾"))
    for _ in range(3):
        desk.classify(r.id)
        desk.route(r.id)
    assert [p["attributes"]["audience"] for p in desk.notifier.published] == ["agency", "copy"]
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
    keys = photo_keys(r.id)
    assert set(desk.photos.objects) == {keys["display"], keys["thumbnail"]}
    for data, content_type in desk.photos.objects.values():
        assert content_type == "image/jpeg"
        samples.assert_no_metadata(data)
    email = desk.notifier.published[0]["messages"]["email"]
    assert keys["display"] in email and "lasting=1" in email  # signed to last as long as it says
    assert "照片(链接1小时内有效,至" in email and "北京时间" in email


def test_a_ticket_without_a_district_reaches_the_agency_alone(city):
    desk = make_desk(city, confidence=0.9)
    r = run_pipeline(desk, "有人在路边焚烧垃圾，黑烟很大")
    assert desk.tickets.get(r.id).district is None
    (msg,) = desk.notifier.published
    assert msg["attributes"]["audience"] == "agency" and "district" not in msg["attributes"]


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


# ---------------------------------------------------------------- photo GPS
def test_photo_gps_becomes_the_location_when_the_submission_has_none(city):
    desk = make_desk(city)
    r = run_pipeline(desk, "这里有人烧垃圾", photo_base64=base64.b64encode(samples.phone_jpeg()).decode())
    t = desk.tickets.get(r.id)
    assert t.location == Location(lat=27.785, lng=120.72, source="photo_gps")
    assert (t.district, t.district_source) == ("上望街道", "location")
    assert t.photo.taken_at == "2026-11-27T08:30:00+08:00"
    email = desk.notifier.published[0]["messages"]["email"]  # the agency learns where the position came from
    assert "位置: 27.78500, 120.72000(照片 GPS)" in email and "拍摄时间: 2026-11-27T08:30:00+08:00" in email
    view = desk.citizen_view(r.id, r.receipt)
    assert view["location"] == {"lat": 27.785, "lng": 120.72, "source": "photo_gps"}
    assert "2026-11-27" not in repr(view)  # the capture time is for the agency, not the view


def test_the_app_location_wins_over_photo_gps_and_a_client_cannot_claim_photo_gps(city):
    desk = make_desk(city)
    d = city.district_by_name("塘下镇")
    r = run_pipeline(
        desk,
        "这里有人烧垃圾",
        photo_base64=base64.b64encode(samples.phone_jpeg()).decode(),
        location=Location(lat=d.lat, lng=d.lng, source="photo_gps"),
    )
    t = desk.tickets.get(r.id)
    assert (t.location.source, t.district) == ("app", "塘下镇")


# ------------------------------------------------------------ direct upload
def announce(desk, content_type="image/jpeg", size=4_000_000, **kw):
    return desk.submit(NewComplaint(text="这里有人烧垃圾", photo_upload=PhotoUpload(content_type, size), **kw))


def upload(desk, r, data):
    key = photo_keys(r.id)["original"]
    desk.photos.put(key, data, "image/jpeg")
    return key


def test_an_announced_photo_gets_an_upload_form_and_the_ticket_waits(city):
    desk = make_desk(city)
    r = announce(desk, size=4_000_000)
    assert r.status == "awaiting_photo"
    assert set(r.upload) == {"url", "fields", "expires_at"} and r.upload["expires_at"].endswith("Z")
    assert desk.photos.forms[photo_keys(r.id)["original"]] == {
        "content_type": "image/jpeg",
        "max_bytes": 4_000_000,
        "expires_s": 600,
    }
    # Only the deadline message is queued, delayed by the wait.
    assert desk.classify_queue.messages == [{"ticket_id": r.id}] and desk.classify_queue.delays == [900]
    assert desk.citizen_view(r.id, r.receipt)["photo"]["status"] == "awaiting_upload"


def test_an_uploaded_photo_is_processed_and_the_ticket_goes_on(city):
    desk = make_desk(city)
    r = announce(desk)
    key = upload(desk, r, samples.phone_jpeg(orientation=6))
    assert desk.attach_uploaded_photo(key) is Status.RECEIVED
    keys = photo_keys(r.id)
    assert set(desk.photos.objects) == {keys["display"], keys["thumbnail"]}  # the original is gone
    assert desk.classify_queue.messages[-1] == {"ticket_id": r.id} and desk.classify_queue.delays[-1] == 0
    desk.classify(r.id)
    desk.route(r.id)
    t = desk.tickets.get(r.id)
    assert t.status is Status.DISPATCHED and t.district == "上望街道" and t.location.source == "photo_gps"
    assert [h.status for h in t.history] == [
        Status.AWAITING_PHOTO,
        Status.RECEIVED,
        Status.CLASSIFIED,
        Status.DISPATCHED,
    ]
    view = desk.citizen_view(r.id, r.receipt)["photo"]
    assert view["status"] == "ready" and keys["display"] in view["display_url"]
    assert keys["thumbnail"] in view["thumbnail_url"]
    # The deadline message arrives later and changes nothing.
    desk.classify(r.id)
    assert desk.tickets.get(r.id).status is Status.DISPATCHED


def test_originals_can_be_kept_by_configuration(city):
    desk = make_desk(city)
    desk.keep_photo_originals = True
    r = announce(desk)
    key = upload(desk, r, samples.phone_jpeg())
    desk.attach_uploaded_photo(key)
    assert key in desk.photos.objects
    desk.attach_uploaded_photo(key)  # a redelivered notification does not delete it either
    assert key in desk.photos.objects


@pytest.mark.parametrize("name", ["a PDF named .jpg", "a PNG declared as JPEG", "a truncated JPEG"])
def test_a_refused_upload_is_recorded_with_its_reason_and_the_ticket_goes_on(city, name):
    desk = make_desk(city)
    make, content_type = samples.BAD_KINDS[name]
    r = announce(desk, content_type=content_type)
    key = upload(desk, r, make())
    assert desk.attach_uploaded_photo(key) is Status.PHOTO_REJECTED
    assert desk.photos.objects == {}  # neither the original nor anything derived
    view = desk.citizen_view(r.id, r.receipt)
    assert view["status"] == "photo_rejected" and view["photo"]["status"] == "rejected"
    assert view["photo"]["reason"] and view["photo"]["display_url"] is None
    desk.classify(desk.classify_queue.messages[-1]["ticket_id"])
    desk.route(r.id)
    assert desk.tickets.get(r.id).status is Status.DISPATCHED


def test_an_upload_larger_than_the_limit_is_refused_before_it_is_read(city):
    desk = make_desk(city)
    r = announce(desk)
    key = upload(desk, r, b"\xff\xd8\xff" + b"\0" * (15 * 1024 * 1024))
    assert desk.attach_uploaded_photo(key) is Status.PHOTO_REJECTED
    assert "15 MB" in desk.tickets.get(r.id).photo.reason


def test_without_a_photo_the_deadline_message_classifies_the_ticket(city):
    desk = make_desk(city)
    r = announce(desk)
    desk.classify(r.id)  # the delayed message, after the wait
    desk.route(r.id)
    t = desk.tickets.get(r.id)
    assert t.status is Status.DISPATCHED
    assert (t.photo.status, t.photo.reason) == ("missing", "no photo arrived in time")
    # A photo arriving after that is deleted and changes nothing.
    key = upload(desk, r, samples.phone_jpeg())
    assert desk.attach_uploaded_photo(key) is Status.DISPATCHED
    assert desk.photos.objects == {}


def test_a_photo_for_no_ticket_is_deleted(city):
    desk = make_desk(city)
    for key in (f"originals/{'0' * 32}", "originals/not-a-ticket"):
        desk.photos.put(key, b"x", "image/jpeg")
        assert desk.attach_uploaded_photo(key) is None
    assert desk.photos.objects == {}


@pytest.mark.parametrize(
    "upload_, error",
    [(PhotoUpload("image/gif", 1000), PhotoRejected), (PhotoUpload("image/jpeg", 15 * 1024 * 1024 + 1), PhotoTooLarge)],
)
def test_an_announcement_we_cannot_take_stores_nothing(city, upload_, error):
    desk = make_desk(city)
    with pytest.raises(error):
        desk.submit(NewComplaint(text="这里有人烧垃圾", photo_upload=upload_))
    assert desk.tickets.items == {} and desk.classify_queue.messages == []


def test_a_queue_failure_undoes_an_announced_ticket(city):
    desk = make_desk(city, classify_queue=FailingQueue())
    with pytest.raises(TemporarilyUnavailable):
        announce(desk)
    assert desk.tickets.items == {}


def test_a_ticket_number_failure_is_a_retryable_refusal_and_stores_nothing(city):
    desk = make_desk(city)

    def throttled():
        raise ConnectionError("throughput exceeded")

    desk.tickets.next_ticket_no = throttled
    with pytest.raises(TemporarilyUnavailable):
        desk.submit(NewComplaint(text="上望街道有人烧垃圾"))
    assert not desk.tickets.items and not desk.classify_queue.messages


# ---------------------------------------------------------------- the citizen's choices for the public board
def test_the_citizens_district_pick_is_the_tickets_district_over_the_texts(city):
    desk = make_desk(city)
    receipt = desk.submit(NewComplaint(text="上望街道有人烧垃圾", district="安阳街道", public=False))
    stored = desk.tickets.get(receipt.id)
    assert (stored.district, stored.district_source, stored.public) == ("安阳街道", "citizen", False)
    desk.classify(receipt.id)
    classified = desk.tickets.get(receipt.id)
    assert (classified.district, classified.district_source) == ("安阳街道", "citizen")
    plain = desk.submit(NewComplaint(text="上望街道有人烧垃圾"))
    desk.classify(plain.id)
    assert desk.tickets.get(plain.id).district == "上望街道" and desk.tickets.get(plain.id).public is True


def test_a_district_the_city_does_not_have_is_refused_and_nothing_is_stored(city):
    desk = make_desk(city)
    with pytest.raises(InvalidComplaint):
        desk.submit(NewComplaint(text="路灯坏了", district="火星街道"))
    assert desk.tickets.items == {}


# ------------------------------------------------------------- routing by the service catalogue


def service_code(city, name: str) -> str:
    return next(s.code for s in city.services if s.name == name)


def test_a_service_goes_to_the_department_that_handles_it_not_to_its_categorys(city):
    # 违章搭建 is 城乡建设, whose category agency is 住建局; the catalogue gives it to 综合行政执法局.
    desk = make_desk(city, category=service_code(city, "违章搭建"))
    r = run_pipeline(desk, "上望街道薛里村有人违章搭建")
    ticket = desk.tickets.get(r.id)
    assert ticket.status is Status.DISPATCHED and ticket.agency == "zhzf"
    assert ticket.department == "市综合行政执法局" and ticket.category == "城乡建设"
    assert ticket.service == service_code(city, "违章搭建")
    # the citizen's history names the kind of problem, not the catalogue's code
    assert ticket.history[1].note.startswith("违章搭建 ")
    msg, copy = desk.notifier.published
    assert msg["attributes"]["agency"] == "zhzf" and msg["attributes"]["service"] == ticket.service
    assert copy["attributes"]["audience"] == "copy" and "agency" not in copy["attributes"]
    assert "事项: 违章搭建" in msg["messages"]["email"]


def test_a_local_matter_goes_to_the_districts_town_and_the_town_gets_no_second_copy(city):
    desk = make_desk(city, category=service_code(city, "村道破损"))
    r = run_pipeline(desk, "塘下镇韩田村的村道烂了好几年")
    ticket = desk.tickets.get(r.id)
    assert ticket.status is Status.DISPATCHED and ticket.agency == "town-tangxia"
    assert [(p["attributes"]["audience"], p["attributes"].get("agency")) for p in desk.notifier.published] == [
        ("agency", "town-tangxia")
    ]


def test_a_local_matter_with_no_district_goes_to_triage_to_find_where_it_is(city):
    desk = make_desk(city, category=service_code(city, "村道破损"))
    r = run_pipeline(desk, "村里的路烂了好几年，一下雨全是泥")
    ticket = desk.tickets.get(r.id)
    assert ticket.status is Status.TRIAGE and ticket.triage_reason == "no_district"
    (msg,) = desk.notifier.published
    assert msg["channel"] == "triage" and msg["attributes"]["reason"] == "no_district"


def test_co_recipients_get_a_masked_copy_addressed_to_them(city):
    desk = make_desk(city, category=service_code(city, "渣土车"))
    run_pipeline(desk, "上望街道渣土车撒了一路泥，司机电话13812345678")
    published = desk.notifier.published
    assert [(p["attributes"]["audience"], p["attributes"].get("agency")) for p in published] == [
        ("agency", "zhzf"),
        ("co", "jjdd"),
        ("copy", None),
    ]
    agency, co, copy = (p["messages"]["email"] for p in published)
    assert "13812345678" in agency and "13812345678" not in co and "13812345678" not in copy
    assert "协办单位: 市公安局交通警察大队" in agency

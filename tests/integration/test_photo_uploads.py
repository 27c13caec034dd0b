"""Photos end to end on the local stack: inline and by presigned S3 POST, good and bad, with and without GPS."""

from __future__ import annotations

import base64
import io
import json
import urllib.request

import photo_samples as samples
import pytest
import urllib3
from conftest import PHOTO_WAIT_S
from PIL import Image

TEXT = "这里每天晚上都有人焚烧垃圾，黑烟很大，气味刺鼻"  # names no place: the district must come from the photo
DONE = ("dispatched", "triage")


def announce(stack, content_type="image/jpeg", size=5_000_000, **extra):
    reply = stack.post({"text": TEXT, "photo_upload": {"content_type": content_type, "size": size}, **extra})
    assert reply.status == 201, reply.body
    return reply.json()


def upload(created: dict, data: bytes, content_type: str) -> int:
    form = created["upload"]
    fields = {**form["fields"], "file": ("photo.jpg", data, content_type)}
    return urllib3.PoolManager().request("POST", form["url"], fields=fields).status


def view(stack, created: dict) -> dict:
    return stack.request("GET", f"/complaints/{created['id']}", headers={"X-Receipt": created["receipt"]}).json()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()


def keys_of(stack, ticket_id: str) -> list[str]:
    listing = stack.aws("s3").list_objects_v2(Bucket=stack.resource("PhotosBucket"))
    return [o["Key"] for o in listing.get("Contents", []) if ticket_id in o["Key"]]


def test_a_large_phone_photo_goes_straight_to_s3_and_its_gps_routes_the_ticket(stack):
    created = announce(stack, size=6_000_000)
    assert created["status"] == "awaiting_photo"
    assert set(created["upload"]) == {"url", "fields", "expires_at"}
    assert view(stack, created)["photo"] == {
        "status": "awaiting_upload",
        "reason": None,
        "display_url": None,
        "thumbnail_url": None,
    }
    photo = samples.phone_jpeg(size=(4032, 3024), orientation=6)  # a 12 MP photo, held sideways
    assert upload(created, photo, "image/jpeg") == 204

    ticket = stack.wait_for_status(created, DONE, timeout=PHOTO_WAIT_S - 1)
    assert ticket["status"] in DONE, ticket
    assert [h["status"] for h in ticket["history"]][:3] == ["awaiting_photo", "received", "classified"]
    assert ticket["location"] == {"lat": 27.785, "lng": 120.72, "source": "photo_gps"}
    assert ticket["district"] == "上望街道"
    assert ticket["photo"]["status"] == "ready" and ticket["photo"]["reason"] is None

    display = fetch(ticket["photo"]["display_url"])
    samples.assert_no_metadata(display)
    assert Image.open(io.BytesIO(display)).size == (1200, 1600)  # upright, long side 1600
    thumbnail = fetch(ticket["photo"]["thumbnail_url"])
    samples.assert_no_metadata(thumbnail)
    assert Image.open(io.BytesIO(thumbnail)).size == (240, 320)
    # The original is gone; only the derived images remain.
    assert sorted(keys_of(stack, created["id"])) == [
        f"photos/{created['id']}/display.jpg",
        f"photos/{created['id']}/thumbnail.jpg",
    ]
    # The photo's metadata reached no log line.
    logs = stack.log.read_text(encoding="utf-8")
    for secret in ("27.785", "120.72", "PhoneMaker", "2026-11-27T08:30"):
        assert secret not in logs


def test_an_inline_heic_photo_is_taken_and_its_gps_fills_the_location(stack):
    data = base64.b64encode(samples.heic()).decode()
    reply = stack.post({"text": TEXT, "photo": data})
    assert reply.status == 201, reply.body
    ticket = stack.wait_for_status(reply.json())
    assert ticket["location"]["source"] == "photo_gps" and ticket["district"] == "上望街道"
    samples.assert_no_metadata(fetch(ticket["photo"]["display_url"]))


def test_the_app_location_is_kept_over_photo_gps(stack):
    data = base64.b64encode(samples.phone_jpeg()).decode()
    created = stack.post({"text": TEXT, "photo": data, "location": {"lat": 27.62, "lng": 120.66}}).json()
    ticket = stack.wait_for_status(created)
    assert ticket["location"] == {"lat": 27.62, "lng": 120.66, "source": "app"}


def test_every_bad_upload_is_refused_with_a_reason_and_the_ticket_still_goes_on(stack):
    posted = {}
    for name, (make, content_type) in samples.BAD_KINDS.items():
        created = announce(stack, content_type=content_type)
        data = make()
        if data:  # S3 refuses an empty POST body itself (content-length-range starts at 1)
            assert upload(created, data, content_type) == 204, name
        else:
            stack.aws("s3").put_object(Bucket=stack.resource("PhotosBucket"), Key=f"originals/{created['id']}")
        posted[name] = created
    for name, created in posted.items():
        ticket = stack.wait_for_status(created, DONE, timeout=PHOTO_WAIT_S - 1)
        assert ticket["status"] in DONE, (name, ticket)
        assert "photo_rejected" in [h["status"] for h in ticket["history"]], (name, ticket["history"])
        assert ticket["photo"]["status"] == "rejected" and ticket["photo"]["reason"], name
        assert ticket["photo"]["display_url"] is None
        assert keys_of(stack, created["id"]) == [], f"{name}: something was kept"


# Inline photos declare no type: a PNG is a PNG.
@pytest.mark.parametrize("name", [n for n in samples.BAD_KINDS if "declared" not in n])
def test_every_bad_inline_photo_is_a_4xx_and_stores_nothing(stack, name):
    before = (stack.stored_ticket_count(), stack.stored_photo_count())
    reply = stack.post({"text": TEXT, "photo": base64.b64encode(samples.BAD_KINDS[name][0]()).decode() or "x"})
    assert reply.status in (413, 415, 422), (reply.status, reply.body)
    assert reply.json()["error"]["message"]
    assert (stack.stored_ticket_count(), stack.stored_photo_count()) == before


@pytest.mark.parametrize(
    "photo_upload, status",
    [
        ({"content_type": "image/gif", "size": 1000}, 415),
        ({"content_type": "image/jpeg", "size": 15 * 1024 * 1024 + 1}, 413),
        ({"content_type": "image/jpeg", "size": 0}, 422),
        ({"content_type": "image/jpeg", "size": "1000"}, 422),
        ({"content_type": "image/jpeg"}, 422),
        ({"content_type": "image/jpeg", "size": 1000, "name": "x.jpg"}, 422),
    ],
)
def test_an_announcement_we_cannot_take_is_refused_and_stores_nothing(stack, photo_upload, status):
    before = stack.stored_ticket_count()
    reply = stack.post({"text": TEXT, "photo_upload": photo_upload})
    assert reply.status == status, reply.body
    assert stack.stored_ticket_count() == before


def test_a_photo_and_an_upload_together_are_refused(stack):
    photo = base64.b64encode(samples.phone_jpeg()).decode()
    reply = stack.post({"text": TEXT, "photo": photo, "photo_upload": {"content_type": "image/jpeg", "size": 10}})
    assert reply.status == 422 and "photo_upload" in reply.json()["error"]["message"]


def test_a_photo_that_never_comes_holds_the_ticket_up_only_until_the_wait_is_over(stack):
    created = announce(stack)
    ticket = stack.wait_for_status(created, DONE, timeout=PHOTO_WAIT_S + 10)
    assert ticket["status"] in DONE, ticket
    assert ticket["photo"]["status"] == "missing" and ticket["photo"]["reason"]
    assert json.dumps(ticket).count("awaiting_photo") == 1  # once, in the history

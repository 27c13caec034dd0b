"""Photo checks: accepted kinds come out re-encoded with no metadata; everything else is refused clearly."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from complaints.domain.errors import PhotoRejected, PhotoTooLarge
from complaints.domain.photos import MAX_PHOTO_BYTES, decode_base64_photo, prepare_photo


def encode(fmt: str, size=(640, 480), mode="RGB", **save) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 128 if mode in ("L", "P") else (10, 120, 200)).save(buf, fmt, **save)
    return buf.getvalue()


def jpeg_with_gps_and_rotation() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (27.0, 43.0, 12.0), 3: "E", 4: (120.0, 43.0, 1.0)})
    return encode("JPEG", size=(400, 200), exif=exif)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_accepted_kinds_become_a_clean_jpeg(fmt):
    out = prepare_photo(encode(fmt))
    im = Image.open(io.BytesIO(out.data))
    assert im.format == "JPEG" and out.content_type == "image/jpeg"
    assert not im.getexif() and "icc_profile" not in im.info and "comment" not in im.info


def test_orientation_is_applied_and_gps_is_gone():
    out = prepare_photo(jpeg_with_gps_and_rotation())
    im = Image.open(io.BytesIO(out.data))
    assert im.size == (200, 400)  # the EXIF rotation was applied to the pixels
    assert not im.getexif()


def test_large_photos_are_scaled_to_1600_on_the_long_side():
    out = prepare_photo(encode("JPEG", size=(4032, 3024)))
    assert max(out.width, out.height) == 1600


@pytest.mark.parametrize(
    "data, why",
    [
        (b"%PDF-1.7\n1 0 obj<<>>endobj", "a PDF"),
        (b"GIF89a" + b"\x00" * 100, "a GIF"),
        (b"hello, this is text", "text"),
        (encode("JPEG")[:400], "a truncated JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "a PNG header with nothing behind it"),
    ],
)
def test_non_images_and_broken_images_are_rejected(data, why):
    with pytest.raises(PhotoRejected):
        prepare_photo(data)


def test_a_pixel_bomb_is_rejected_before_it_is_decoded():
    # 20000 × 20000 pixels of one colour compress to a few hundred KB but would need 1.2 GB decoded.
    bomb = encode("PNG", size=(20000, 20000), mode="L", optimize=False)
    with pytest.raises(PhotoRejected):
        prepare_photo(bomb)


def test_base64_rules():
    assert decode_base64_photo("data:image/png;base64," + base64.b64encode(b"abc").decode()) == b"abc"
    with pytest.raises(PhotoRejected):
        decode_base64_photo("not base64 at all!")
    with pytest.raises(PhotoTooLarge):
        decode_base64_photo(base64.b64encode(b"\xff" * (MAX_PHOTO_BYTES + 1)).decode())

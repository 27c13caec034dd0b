"""Photo checks: accepted kinds come out as clean derived images; everything else is refused clearly."""

from __future__ import annotations

import base64
import io

import photo_samples as samples
import pytest
from PIL import Image

from complaints.domain.errors import PhotoRejected, PhotoTooLarge
from complaints.domain.photos import (
    MAX_INLINE_BASE64_CHARS,
    MAX_INLINE_BYTES,
    decode_base64_photo,
    process_photo,
    read_capture_time,
    read_gps,
)

GOOD_KINDS = {
    "phone JPEG with EXIF, ICC, comment and XMP": samples.phone_jpeg,
    "CMYK JPEG": samples.cmyk_jpeg,
    "16-bit grey PNG": samples.png16,
    "palette PNG with transparency": samples.palette_png,
    "PNG with text chunks and EXIF": samples.png_with_text_chunks,
    "WebP": lambda: samples.encode(samples.scene(), "WEBP", exif=samples.phone_exif()),
    "HEIC": samples.heic,
}


@pytest.mark.parametrize("name", list(GOOD_KINDS))
def test_accepted_kinds_become_clean_jpegs_without_any_metadata(name):
    out = process_photo(GOOD_KINDS[name]())
    for derived, limit in ((out.display, 1600), (out.thumbnail, 320)):
        samples.assert_no_metadata(derived.data)
        assert max(derived.width, derived.height) <= limit
        assert Image.open(io.BytesIO(derived.data)).size == (derived.width, derived.height)


def test_orientation_is_applied_to_the_pixels():
    out = process_photo(samples.phone_jpeg(size=(1200, 900), orientation=6))  # stored landscape, shown portrait
    im = Image.open(io.BytesIO(out.display.data))
    assert im.size == (900, 1200)
    # The red block drawn in the stored image's top left is in the top right once turned upright (90° clockwise).
    r, g, b = im.getpixel((im.width - 1 - 900 // 5, 1200 // 5))
    assert r > 150 and g < 100, (r, g, b)


def test_heic_gps_is_read_and_its_pixels_are_not_turned_twice():
    # libheif applies a HEIC's own rotation (irot) while decoding; pillow-heif then sets EXIF orientation to 1,
    # so the EXIF tag cannot turn the image a second time.
    out = process_photo(samples.heic(size=(1200, 900), orientation=6))
    assert (out.display.width, out.display.height) == (1200, 900)
    assert out.gps == samples.SHANGWANG and out.kind == "heic"


def test_16_bit_grey_keeps_its_tones_instead_of_turning_white():
    im = Image.open(io.BytesIO(process_photo(samples.png16()).display.data)).convert("L")
    assert im.getpixel((320, 5)) < 40 and im.getpixel((320, 474)) > 200  # dark top, light bottom


def test_transparency_goes_onto_white():
    rgba = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    out = process_photo(samples.encode(rgba, "PNG"))
    assert Image.open(io.BytesIO(out.display.data)).getpixel((50, 50)) >= (250, 250, 250)


def test_a_12_megapixel_photo_gives_a_1600_display_copy_and_a_320_thumbnail():
    out = process_photo(samples.encode(samples.scene((4032, 3024)), "JPEG", quality=90))
    assert (out.display.width, out.display.height) == (1600, 1200)
    assert (out.thumbnail.width, out.thumbnail.height) == (320, 240)


def test_small_photos_are_not_enlarged():
    out = process_photo(samples.encode(samples.scene((300, 200)), "PNG"))
    assert (out.display.width, out.display.height) == (300, 200)


def test_gps_and_capture_time_are_read():
    out = process_photo(samples.phone_jpeg())
    assert out.gps == samples.SHANGWANG
    assert out.taken_at == "2026-11-27T08:30:00+08:00"


DMS_27_47_06 = ((27, 1), (47, 1), (6, 1))
DMS_120_43_12 = ((120, 1), (43, 1), (12, 1))


@pytest.mark.parametrize(
    "lat, lat_ref, lng, lng_ref, want",
    [
        (DMS_27_47_06, "N", DMS_120_43_12, "E", (27.785, 120.72)),
        (((33, 1), (52, 1), (1, 2)), "S", ((151, 1), (12, 1), (3, 2)), "W", (-33.866806, -151.200417)),
        (((27785, 1000),), "N", ((12072, 100),), "E", (27.785, 120.72)),  # decimal degrees in one rational
        (((27, 0), (47, 1), (6, 1)), "N", DMS_120_43_12, "E", None),  # a zero denominator
        (DMS_27_47_06, "X", DMS_120_43_12, "E", None),  # a reference that is no direction
        (((95, 1), (0, 1), (0, 1)), "N", DMS_120_43_12, "E", None),  # out of range
        (((0, 1), (0, 1), (0, 1)), "N", ((0, 1), (0, 1), (0, 1)), "E", None),  # 0,0: the phone had no fix
    ],
)
def test_gps_rationals_and_references(lat, lat_ref, lng, lng_ref, want):
    from PIL.TiffImagePlugin import IFDRational

    exif = Image.Exif()
    exif.get_ifd(0x8825).update(
        {1: lat_ref, 2: tuple(IFDRational(*p) for p in lat), 3: lng_ref, 4: tuple(IFDRational(*p) for p in lng)}
    )
    # Through a file and back, as the tags come from a phone.
    exif = Image.open(io.BytesIO(samples.encode(samples.scene((64, 64)), "JPEG", exif=exif))).getexif()
    assert read_gps(exif) == want


def test_no_gps_and_bad_times_are_none():
    exif = Image.open(io.BytesIO(samples.phone_jpeg(dms=None, taken="not a date"))).getexif()
    assert read_gps(exif) is None and read_capture_time(exif) is None


@pytest.mark.parametrize("name", list(samples.BAD_KINDS))
def test_bad_kinds_are_refused_with_a_reason(name):
    make, declared = samples.BAD_KINDS[name]
    kind = {"image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp"}[declared]
    with pytest.raises(PhotoRejected) as e:
        process_photo(make(), declared=kind)
    assert e.value.message and "Error" not in e.value.message


def test_a_declared_type_must_match_the_bytes():
    with pytest.raises(PhotoRejected, match="declared image/jpeg but is a PNG"):
        process_photo(samples.encode(samples.scene((64, 64)), "PNG"), declared="jpeg")


def test_heic_is_refused_with_a_clear_message_where_the_plugin_is_missing(monkeypatch):
    import complaints.domain.photos as photos

    monkeypatch.setattr(photos, "heic_supported", lambda: False)
    with pytest.raises(PhotoRejected, match="HEIC photos are not supported"):
        process_photo(samples.heic())


def test_decoding_stops_at_its_time_budget():
    with pytest.raises(PhotoRejected, match="too long"):
        process_photo(samples.phone_jpeg(), time_budget_s=0)


def test_base64_rules():
    assert decode_base64_photo("data:image/png;base64," + base64.b64encode(b"abc").decode()) == b"abc"
    with pytest.raises(PhotoRejected):
        decode_base64_photo("not base64 at all!")
    with pytest.raises(PhotoTooLarge):
        decode_base64_photo(base64.b64encode(b"\xff" * (MAX_INLINE_BYTES + 1)).decode())


def test_base64_in_mime_lines_is_accepted_as_the_base64_command_and_encodebytes_write_it():
    photo = samples.phone_jpeg()
    lines = base64.encodebytes(photo).decode()  # 76-character lines, each ending in \n
    assert "\n" in lines.rstrip("\n")
    assert decode_base64_photo(lines) == photo
    assert decode_base64_photo(lines.replace("\n", "\r\n")) == photo
    assert decode_base64_photo("data:image/jpeg;base64," + lines) == photo
    assert decode_base64_photo("  " + base64.b64encode(photo).decode() + " \n") == photo


def test_a_5_mb_photo_in_mime_lines_is_within_the_limit_which_counts_the_base64_alone():
    photo = b"\xff" * MAX_INLINE_BYTES
    assert len(base64.b64encode(photo)) == MAX_INLINE_BASE64_CHARS
    assert decode_base64_photo(base64.encodebytes(photo).decode().replace("\n", "\r\n")) == photo
    with pytest.raises(PhotoTooLarge):
        decode_base64_photo(base64.encodebytes(photo + b"\xff").decode())


@pytest.mark.parametrize(
    "value",
    [
        "YWJj!",  # not in the alphabet
        "YW-j",  # the URL-safe alphabet is another encoding
        "YW\u00a0Jj",  # a no-break space is not a line break
        "YWJj\x00",
        "data:image/png,YWJj",  # a data URI without ;base64 holds URL-encoded bytes
        "data:image/png;base64",  # no comma: no data
    ],
)
def test_other_characters_than_base64_and_line_breaks_are_refused(value):
    with pytest.raises(PhotoRejected, match="base64"):
        decode_base64_photo(value)

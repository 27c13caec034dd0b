"""Photos attached to complaints: checked, decoded within limits, and turned into clean derived images.

What comes out is two new JPEG files, a display copy (≤ 1600 px) and a thumbnail (≤ 320 px), in sRGB and with
no metadata at all: no EXIF, XMP, IPTC, ICC profile or comment. What we keep from the original's metadata is
read here, once, and handed to the desk: the orientation (applied to the pixels), the GPS position and the
capture time. Nothing in this module logs: a photo's metadata must never reach a log line.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
import time
import warnings
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageCms, UnidentifiedImageError

from complaints.domain.errors import PhotoRejected, PhotoTooLarge

# A base64 photo inside the JSON body. API Gateway carries 10 MB, but Lambda takes at most 6 MB (6,291,456 bytes) in
# a synchronous invocation's event, body included: 4 MB of photo is 5.6 MB of base64, 5.7 MB in MIME lines.
MAX_INLINE_BYTES = 4 * 1024 * 1024
# The base64 of MAX_INLINE_BYTES: 4 characters for every 3 bytes, the last group padded.
MAX_INLINE_BASE64_CHARS = 4 * -(-MAX_INLINE_BYTES // 3)
MAX_UPLOAD_BYTES = 15 * 1024 * 1024  # a photo sent straight to S3
MAX_PIXELS = 40_000_000  # a 12 MP phone photo is 12 M; beyond 40 M it is a bomb, not a photo
DECODE_SECONDS = 5.0  # the pixel limit bounds decoding to well under this; the function timeout is the hard stop
DISPLAY_LONG_SIDE = 1600
THUMBNAIL_LONG_SIDE = 320
JPEG_QUALITY = 85

# Pillow refuses (DecompressionBombError) images above twice this, and warns above it; we refuse both.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "heic": "image/heic"}
KIND_BY_CONTENT_TYPE = {v: k for k, v in CONTENT_TYPES.items()}
# ISO-BMFF brands of HEIF still images (HEIC from iPhones: heic/heix; generic: mif1/msf1).
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
# Things people send that are not photos we take, named so that the answer can say what we saw.
_OTHER_KINDS = {
    b"GIF8": "a GIF",
    b"%PDF": "a PDF",
    b"BM": "a BMP",
    b"II*\x00": "a TIFF",
    b"MM\x00*": "a TIFF",
    b"PK\x03\x04": "a ZIP archive",
    b"<svg": "an SVG drawing",
    b"<?xml": "an XML document",
}

# RFC 2397: data:[<media type>][;<parameter>]*;base64, (the media type and parameters hold no comma).
_DATA_URI = re.compile(r"data:[^,]*?;base64,", re.IGNORECASE)
_BASE64_SPACING = re.compile(r"[ \t\r\n]+")

_ORIENTATION = 0x0112
# EXIF orientation → the transposition that turns the stored pixels upright (as ImageOps.exif_transpose does).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_GPS_IFD = 0x8825
_EXIF_IFD = 0x8769
_DATETIME = 0x0132
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011


@dataclass(frozen=True)
class DerivedImage:
    data: bytes
    width: int
    height: int
    content_type: str = "image/jpeg"


@dataclass(frozen=True)
class ProcessedPhoto:
    """The clean derived images and what the original's metadata told us. `gps` is (lat, lng) in WGS84."""

    display: DerivedImage
    thumbnail: DerivedImage
    kind: str
    gps: tuple[float, float] | None = None
    taken_at: str | None = None


def decode_base64_photo(value: str) -> bytes:
    """The bytes of a base64 photo, within the size limit.

    Accepted besides the bare base64: a data URI's `data:image/...;base64,` prefix (what a browser's
    `FileReader.readAsDataURL` gives), and spaces and line breaks (MIME's 76-character lines, with LF or CRLF,
    as Python's `base64.encodebytes` and the `base64` command write them). Any other character is refused.
    """
    if value[:5].lower() == "data:":
        prefix = _DATA_URI.match(value)
        if prefix is None:
            raise PhotoRejected("photo is a data: URI but not base64; send data:image/...;base64,<base64>")
        value = value[prefix.end() :]
    value = _BASE64_SPACING.sub("", value)
    if len(value) > MAX_INLINE_BASE64_CHARS:
        raise PhotoTooLarge(f"photo is larger than {MAX_INLINE_BYTES // (1024 * 1024)} MB")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise PhotoRejected("photo is not valid base64") from e
    if len(data) > MAX_INLINE_BYTES:
        raise PhotoTooLarge(f"photo is larger than {MAX_INLINE_BYTES // (1024 * 1024)} MB")
    if not data:
        raise PhotoRejected("photo is empty")
    return data


def sniff_kind(data: bytes) -> str | None:
    """jpeg, png, webp or heic from the file's first bytes (its magic number), else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "heic"
    return None


def _what_it_is(data: bytes) -> str:
    head = data[:16].lstrip()
    return next((name for magic, name in _OTHER_KINDS.items() if head.startswith(magic)), "not an image")


def heic_supported() -> bool:
    """Whether the pillow-heif plugin is installed (it is in the functions that take photos; see template.yaml)."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener(thumbnails=False)
    return True


def check_kind(data: bytes, declared: str | None = None) -> str:
    """The photo's kind from its magic bytes; it must be one we take, and the declared one if there is one."""
    if not data:
        raise PhotoRejected("photo is empty")
    kind = sniff_kind(data)
    if kind is None:
        raise PhotoRejected(f"photo must be a JPEG, PNG, WebP or HEIC image; this is {_what_it_is(data)}")
    if declared is not None and kind != declared:
        raise PhotoRejected(f"photo was declared {CONTENT_TYPES[declared]} but is a {kind.upper()} image")
    if kind == "heic" and not heic_supported():
        raise PhotoRejected("HEIC photos are not supported here; send a JPEG, PNG or WebP")
    return kind


def process_photo(data: bytes, declared: str | None = None, time_budget_s: float = DECODE_SECONDS) -> ProcessedPhoto:
    """Check and decode a photo within limits; return its display copy, thumbnail, GPS and capture time.

    `declared` is the kind (jpeg, png, webp, heic) the citizen announced; the magic bytes must agree. Every
    refusal is a PhotoRejected with a message fit for the citizen.
    """
    kind = check_kind(data, declared)
    deadline = time.monotonic() + time_budget_s
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind.upper() if kind != "heic" else "HEIF"]) as im:
                return _process_open_image(im, kind, deadline)
    except PhotoRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise PhotoRejected(f"photo has more than {MAX_PIXELS // 1_000_000} million pixels") from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, MemoryError) as e:
        raise PhotoRejected(f"photo could not be decoded as {kind.upper()}: it is damaged or truncated") from e


def _process_open_image(im: Image.Image, kind: str, deadline: float) -> ProcessedPhoto:
    if im.width * im.height > MAX_PIXELS:
        raise PhotoRejected(f"photo has more than {MAX_PIXELS // 1_000_000} million pixels")
    if getattr(im, "n_frames", 1) > 1:
        raise PhotoRejected(f"photo has {im.n_frames} frames; send a single still image")
    exif = im.getexif()
    gps, taken_at = read_gps(exif), read_capture_time(exif)
    orientation = exif.get(_ORIENTATION)
    icc = im.info.get("icc_profile")
    # JPEG only: let libjpeg decode at 1/2, 1/4 or 1/8 scale, as long as the result still covers the display size.
    im.draft("RGB", _fit(im.size, DISPLAY_LONG_SIDE))
    im.load()
    _check_deadline(deadline)
    # Scaled first, turned upright after: rotating 2.5 MP is cheaper than rotating 12 MP.
    display = _resized(_to_srgb(im, icc), DISPLAY_LONG_SIDE, Image.Resampling.BICUBIC)
    if orientation in _TRANSPOSE:
        display = display.transpose(_TRANSPOSE[orientation])
    _check_deadline(deadline)
    thumbnail = _resized(display, THUMBNAIL_LONG_SIDE, Image.Resampling.LANCZOS)
    return ProcessedPhoto(_encode(display), _encode(thumbnail), kind, gps, taken_at)


def _check_deadline(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise PhotoRejected("photo took too long to decode")


def _fit(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    scale = min(1.0, long_side / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _resized(im: Image.Image, long_side: int, resample: Image.Resampling) -> Image.Image:
    target = _fit(im.size, long_side)
    if target == im.size:
        return im
    # reducing_gap: a cheap box reduction by whole factors first, then the filter over the last factor of 2 or
    # less. From a draft-decoded JPEG (already ≤ 2× the display size) bicubic is indistinguishable from Lanczos.
    return im.resize(target, resample, reducing_gap=2.0)


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """8-bit RGB in sRGB: colour-managed from the embedded ICC profile when there is one; alpha onto white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey: scale, since convert("L") would clip to white
        im = im.convert("I").point(lambda v: v / 256).convert("L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        im = Image.new("RGB", rgba.size, (255, 255, 255))
        im.paste(rgba, mask=rgba.getchannel("A"))
    if icc and im.mode in ("RGB", "CMYK"):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile is no reason to refuse a photo: fall back to the plain conversion
    return im if im.mode == "RGB" else im.convert("RGB")


def _encode(im: Image.Image) -> DerivedImage:
    # Pillow copies `info` (EXIF, ICC, comments, XMP) along through resize and may write some of it back on save;
    # a derived image starts from an empty one and is saved with nothing but pixels.
    im.info = {}
    out = io.BytesIO()
    im.save(out, format="JPEG", quality=JPEG_QUALITY, exif=b"", icc_profile=None, comment=b"")
    return DerivedImage(out.getvalue(), im.width, im.height)


# ------------------------------------------------------------------- metadata
def read_gps(exif: Image.Exif) -> tuple[float, float] | None:
    """WGS84 (lat, lng) from EXIF GPS tags: degrees/minutes/seconds rationals with N/S/E/W references.

    Anything malformed (missing reference, zero denominator, out of range, the 0,0 some phones write without
    a fix) gives None: a wrong location is worse than none.
    """
    try:
        gps = exif.get_ifd(_GPS_IFD)
        lat = _degrees(gps.get(2), gps.get(1), "N", "S")
        lng = _degrees(gps.get(4), gps.get(3), "E", "W")
    except (TypeError, ValueError, ZeroDivisionError, KeyError, AttributeError):
        return None
    if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180) or (lat, lng) == (0.0, 0.0):
        return None
    return round(lat, 6), round(lng, 6)


def _degrees(value: object, ref: object, positive: str, negative: str) -> float | None:
    if value is None or ref is None:
        return None
    ref = ref.decode("ascii", "replace") if isinstance(ref, bytes) else str(ref)
    ref = ref.strip("\x00 ").upper()
    if ref not in (positive, negative):
        return None
    parts = [float(p) for p in (value if isinstance(value, tuple | list) else (value,))]
    if not 1 <= len(parts) <= 3 or any(not math.isfinite(p) or p < 0 for p in parts):
        return None
    degrees = sum(p / 60**i for i, p in enumerate(parts))
    return -degrees if ref == negative else degrees


def read_capture_time(exif: Image.Exif) -> str | None:
    """When the photo was taken (EXIF DateTimeOriginal, else DateTime), ISO 8601; with its UTC offset if known."""
    sub = exif.get_ifd(_EXIF_IFD)
    raw = sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    offset = sub.get(_OFFSET_TIME_ORIGINAL) if sub.get(_DATETIME_ORIGINAL) else None
    if not isinstance(raw, str):
        return None
    try:
        taken = datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    text = taken.isoformat()
    if isinstance(offset, str) and len(offset.strip("\x00 ")) == 6:
        try:
            return datetime.fromisoformat(text + offset.strip("\x00 ")).isoformat()
        except ValueError:
            pass
    return text

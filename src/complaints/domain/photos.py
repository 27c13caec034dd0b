"""Photos attached to complaints: checked, decoded within limits, and re-encoded without any metadata.

Only the re-encoded copy is kept. The original (with its EXIF: GPS position, phone model, time) is never
stored, so no link we hand out can leak it.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from complaints.domain.errors import PhotoRejected, PhotoTooLarge

MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 12 MP phone photo is 12 M; beyond 40 M it is a bomb, not a photo
DISPLAY_LONG_SIDE = 1600

_MAGIC = {
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "webp": (b"RIFF",),  # plus "WEBP" at offset 8, checked below
}


@dataclass(frozen=True)
class PreparedPhoto:
    data: bytes
    content_type: str
    width: int
    height: int


def decode_base64_photo(value: str) -> bytes:
    """The bytes of a base64 photo (a `data:image/...;base64,` prefix is accepted), within the size limit."""
    if value.startswith("data:"):
        _, _, value = value.partition(",")
    if len(value) > (MAX_PHOTO_BYTES * 4) // 3 + 8:
        raise PhotoTooLarge(f"photo is larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise PhotoRejected("photo is not valid base64") from e
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoTooLarge(f"photo is larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB")
    if not data:
        raise PhotoRejected("photo is empty")
    return data


def sniff_kind(data: bytes) -> str | None:
    for kind, prefixes in _MAGIC.items():
        if any(data.startswith(p) for p in prefixes):
            if kind == "webp" and data[8:12] != b"WEBP":
                continue
            return kind
    return None


def prepare_photo(data: bytes) -> PreparedPhoto:
    """Check and re-encode a photo: JPEG/PNG/WebP only, orientation applied, metadata dropped, ≤ 1600 px."""
    kind = sniff_kind(data)
    if kind is None:
        raise PhotoRejected("photo must be a JPEG, PNG or WebP image")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind.upper()]) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise PhotoRejected("photo has too many pixels")
                im.draft("RGB", (DISPLAY_LONG_SIDE, DISPLAY_LONG_SIDE))
                im.load()
                im = ImageOps.exif_transpose(im)
                im = im.convert("RGB")
                im.thumbnail((DISPLAY_LONG_SIDE, DISPLAY_LONG_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
                out = io.BytesIO()
                # A fresh image carries no EXIF, XMP, ICC or comments unless we pass them: we pass none.
                clean = Image.new("RGB", im.size)
                clean.paste(im)
                clean.save(out, format="JPEG", quality=85, optimize=True)
                return PreparedPhoto(out.getvalue(), "image/jpeg", clean.width, clean.height)
    except PhotoRejected:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as e:
        raise PhotoRejected(f"photo could not be decoded as {kind.upper()}: {type(e).__name__}") from e

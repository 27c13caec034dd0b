"""Photos the tests send, made with Pillow here: phone-like JPEGs with EXIF, and the bad kinds people send.

GPS positions are written as EXIF degrees/minutes/seconds rationals with N/S/E/W references, as phones do.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageCms, ImageDraw, PngImagePlugin

# 上望街道, Rui'an: 27°47'06" N 120°43'12" E = 27.785, 120.72 (the district centre in city/ruian.toml).
SHANGWANG_DMS = ((27.0, 47.0, 6.0), (120.0, 43.0, 12.0))
SHANGWANG = (27.785, 120.72)


def scene(size=(1200, 900), mode="RGB") -> Image.Image:
    """Something photo-like: a gradient with shapes, so that scaling and rotation show."""
    im = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(im)
    w, h = size
    draw.rectangle([w // 10, h // 10, w // 3, h // 2], fill=(200, 40, 40))  # a red block in the top left
    draw.ellipse([w // 2, h // 2, w - w // 10, h - h // 10], fill=(40, 160, 60))
    return im.convert(mode) if mode != "RGB" else im


def encode(im: Image.Image, fmt: str, **save) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **save)
    return buf.getvalue()


def phone_exif(
    orientation: int | None = None,
    dms: tuple | None = SHANGWANG_DMS,
    refs: tuple[str, str] = ("N", "E"),
    taken: str | None = "2026:11:27 08:30:00",
) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "Phone 12 Pro"
    if orientation is not None:
        exif[0x0112] = orientation
    if dms is not None:
        exif.get_ifd(0x8825).update({1: refs[0], 2: dms[0], 3: refs[1], 4: dms[1]})
    if taken is not None:
        exif.get_ifd(0x8769).update({0x9003: taken, 0x9011: "+08:00"})
    return exif


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def phone_jpeg(size=(1200, 900), **exif_kw) -> bytes:
    """A JPEG as a phone writes it: EXIF (maker, model, orientation, GPS, time), an ICC profile, a comment, XMP."""
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description GPSLatitude="27,47.1N"/></rdf:RDF></x:xmpmeta>'
    )
    return encode(
        scene(size), "JPEG", quality=90, exif=phone_exif(**exif_kw), icc_profile=srgb_icc(), comment=b"secret", xmp=xmp
    )


def cmyk_jpeg() -> bytes:
    return encode(scene((800, 600)).convert("CMYK"), "JPEG", quality=90)


def png16() -> bytes:
    grey = Image.linear_gradient("L").resize((640, 480)).convert("I")
    return encode(grey.point(lambda v: v * 256).convert("I;16"), "PNG")


def palette_png() -> bytes:
    im = scene((640, 480)).quantize(64)
    return encode(im, "PNG", transparency=0)


def png_with_text_chunks() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "taken at home, 27.785 120.72")
    info.add_itxt("Author", "张三", lang="zh")
    info.add_text("Software", "PhoneEditor", zip=True)
    return encode(scene((640, 480)), "PNG", pnginfo=info, exif=phone_exif())


def heic(size=(1200, 900), **exif_kw) -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    return encode(scene(size), "HEIF", quality=80, exif=phone_exif(**exif_kw))


def animated(fmt: str) -> bytes:
    frames = [scene((320, 240)), scene((320, 240)).rotate(180)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=200, loop=0)


def with_png_size(width: int, height: int) -> bytes:
    """A small valid PNG whose header claims width × height: what a decompression bomb looks like when opened."""
    data = bytearray(encode(Image.new("L", (64, 64), 0), "PNG"))
    ihdr = bytes(data[12:16]) + struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(ihdr) & 0xFFFFFFFF)
    return bytes(data)


def real_bomb_png() -> bytes:
    """8,000 × 6,000 pixels (48 MP) of one grey, a few hundred KB compressed: over the 40 MP limit."""
    return encode(Image.new("L", (8000, 6000), 7), "PNG")


def truncated_jpeg() -> bytes:
    data = phone_jpeg()
    return data[: len(data) // 2]


PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

# name → (bytes, content type declared for a direct upload). Each one must be refused.
BAD_KINDS = {
    "a PDF named .jpg": (lambda: PDF, "image/jpeg"),
    "a truncated JPEG": (truncated_jpeg, "image/jpeg"),
    "a pixel bomb (real data)": (real_bomb_png, "image/png"),
    "a PNG claiming 30000×30000": (lambda: with_png_size(30000, 30000), "image/png"),
    "a PNG claiming 6500×6500": (lambda: with_png_size(6500, 6500), "image/png"),
    "an animated GIF": (lambda: animated("GIF"), "image/jpeg"),
    "an animated WebP": (lambda: animated("WEBP"), "image/webp"),
    "a PNG declared as JPEG": (lambda: encode(scene((64, 64)), "PNG"), "image/jpeg"),
    "plain text": (lambda: "上望街道有人烧垃圾".encode(), "image/jpeg"),
    "an empty file": (lambda: b"", "image/jpeg"),
    "a JPEG header and nothing else": (lambda: b"\xff\xd8\xff\xe0" + b"\x00" * 32, "image/jpeg"),
    "a TIFF": (lambda: encode(scene((64, 64)), "TIFF"), "image/jpeg"),
    "a BMP": (lambda: encode(scene((64, 64)), "BMP"), "image/png"),
    "an SVG": (lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/png"),
    "a ZIP": (lambda: b"PK\x03\x04" + b"\x00" * 100, "image/jpeg"),
}


def jpeg_markers(data: bytes) -> list[int]:
    """The marker of every segment before the image data (0xE0 APP0/JFIF, 0xE1 EXIF/XMP, 0xE2 ICC, 0xFE comment…)."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    markers, i = [], 2
    while i + 4 <= len(data):
        assert data[i] == 0xFF
        marker = data[i + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: the pixels follow
            break
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        i += 2 + length
    return markers


# A derived JPEG may hold the JFIF header, quantization and Huffman tables, the frame header and the scan: nothing else.
CLEAN_JPEG_MARKERS = {0xE0, 0xDB, 0xC4, 0xC0, 0xC2, 0xDD, 0xDA}


def assert_no_metadata(data: bytes) -> None:
    markers = jpeg_markers(data)
    assert set(markers) <= CLEAN_JPEG_MARKERS, [hex(m) for m in markers]
    im = Image.open(io.BytesIO(data))
    assert im.format == "JPEG" and im.mode == "RGB"
    assert not im.getexif() and not {"icc_profile", "comment", "xmp", "exif"} & set(im.info)

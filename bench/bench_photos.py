"""Benchmark: a 12-megapixel phone JPEG → display copy + thumbnail, metadata stripped.

Our pipeline (`complaints.domain.photos.process_photo`: draft-mode decode, scale, then turn upright) against a
naive one (full decode, turn upright, resize each derivative from the full image with Pillow's defaults), on the
same generated photo in the same run. Memory is the peak resident size of a fresh child process, above what it
held after its imports (Pillow allocates in C, where tracemalloc does not look).

    .venv/bin/python bench/bench_photos.py [--runs N]

Human-readable lines first; the last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageOps

WIDTH, HEIGHT = 4032, 3024
DISPLAY, THUMBNAIL = 1600, 320


def phone_photo(seed: int = 2026) -> bytes:
    """A 12 MP JPEG like a phone's: smooth light, textured surfaces, edges; EXIF with GPS and orientation."""
    rng = random.Random(seed)
    sky = Image.merge(
        "RGB",
        [
            Image.linear_gradient("L").resize((WIDTH, HEIGHT)),
            Image.radial_gradient("L").resize((WIDTH, HEIGHT)),
            ImageOps.invert(Image.linear_gradient("L")).resize((WIDTH, HEIGHT)),
        ],
    )
    draw = ImageDraw.Draw(sky)
    for _ in range(300):  # buildings, cars, signs: hard edges that JPEG has to spend bits on
        x, y = rng.randrange(WIDTH), rng.randrange(HEIGHT)
        w, h = rng.randrange(20, 600), rng.randrange(20, 600)
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.rectangle if rng.random() < 0.6 else draw.ellipse)([x, y, x + w, y + h], fill=colour)
    grain = Image.effect_noise((WIDTH, HEIGHT), 48).filter(ImageFilter.GaussianBlur(0.6)).convert("RGB")
    photo = Image.blend(sky, grain, 0.22)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0112] = 6
    exif.get_ifd(0x8825).update({1: "N", 2: (27.0, 47.0, 6.0), 3: "E", 4: (120.0, 43.0, 12.0)})
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def ours(data: bytes) -> None:
    from complaints.domain.photos import process_photo

    process_photo(data)


def naive(data: bytes) -> None:
    """What one writes first: decode everything, turn it, resize from the full image, save without metadata."""
    with Image.open(io.BytesIO(data)) as im:
        full = ImageOps.exif_transpose(im.convert("RGB"))
    for long_side in (DISPLAY, THUMBNAIL):
        scale = long_side / max(full.size)
        derived = full.resize((round(full.width * scale), round(full.height * scale)))
        derived.save(io.BytesIO(), "JPEG", quality=85)


PIPELINES = {"ours": ours, "naive": naive}


def median_ms(data: bytes, runs: int) -> dict[str, float]:
    """Median time of each pipeline; runs alternate, so that a busy neighbour on the machine slows both alike."""
    times: dict[str, list[float]] = {name: [] for name in PIPELINES}
    for fn in PIPELINES.values():
        fn(data)  # warm-up: imports, first allocations
    for _ in range(runs):
        for name, fn in PIPELINES.items():
            t0 = time.perf_counter()
            fn(data)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


def peak_rss_kib() -> int:
    """This process's peak resident size. On Linux VmHWM, since ru_maxrss of a fresh child starts at the RSS its
    parent had when it forked (Linux carries the high-water mark across fork and exec)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (1024 if sys.platform == "darwin" else 1)


def peak_mb_in_child(pipeline: str, path: Path) -> float:
    """Peak RSS of one run in a fresh interpreter, above its RSS after imports (and before reading the photo)."""
    code = (
        "import sys\n"
        "sys.path.insert(0, sys.argv[3])\n"
        "import bench_photos as b\n"
        "from complaints.domain import photos\n"
        "base = b.peak_rss_kib()\n"
        "data = open(sys.argv[2], 'rb').read()\n"
        "b.PIPELINES[sys.argv[1]](data)\n"
        "print(b.peak_rss_kib() - base)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, pipeline, str(path), str(Path(__file__).parent)],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()

    data = phone_photo()
    with tempfile.NamedTemporaryFile(suffix=".jpg", delete=False) as f:
        f.write(data)
        path = Path(f.name)
    try:
        print(f"photo: {WIDTH}×{HEIGHT} JPEG, {len(data) / 1e6:.1f} MB, EXIF orientation 6 and GPS")
        ms = median_ms(data, args.runs)
        peak = {name: peak_mb_in_child(name, path) for name in PIPELINES}
    finally:
        path.unlink()
    speedup = ms["naive"] / ms["ours"]
    print(f"ours : median {ms['ours']:7.1f} ms, peak +{peak['ours']:6.1f} MB  (draft decode, scale, then turn)")
    print(f"naive: median {ms['naive']:7.1f} ms, peak +{peak['naive']:6.1f} MB  (full decode, turn, resize ×2)")
    print(f"speed-up ×{speedup:.2f} (targets: ≤ 200 ms, ≥ 2× faster, ≤ 150 MB above baseline)")
    figures = {
        "photo_bytes": len(data),
        "photo_ms_median": round(ms["ours"], 1),
        "photo_naive_ms_median": round(ms["naive"], 1),
        "photo_speedup": round(speedup, 2),
        "photo_peak_mb": round(peak["ours"], 1),
        "photo_naive_peak_mb": round(peak["naive"], 1),
        "runs": args.runs,
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

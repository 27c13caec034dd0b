"""Benchmark: masking personal numbers in a 5,000-character text, for texts of every troublesome shape.

Masking runs on every log line and every text that leaves the assigned agency, so it must stay linear whatever a
citizen types. Each shape is timed against a baseline measured in the same run on the same text: NFKC
normalisation plus one pass of a single-digit regex, the least any masker must do. A pattern that backtracks shows
up as a ratio in the hundreds.

    .venv/bin/python bench/bench_privacy.py [--runs N]

Human-readable lines first; the last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
import unicodedata

from complaints import logs
from complaints.domain.privacy import mask_personal_numbers

SHAPES = {
    "complaint": ("上望街道有人烧垃圾，电话１３８ １２３４ ５６７８，2026年11月30日8:30，" * 150)[:5000],
    "digits and spaces": "1 " * 2500,
    "digits and dots": "1." * 2500,
    "at signs": "a@" * 2500,
    "a long domain": "a@" + "a." * 2499,
    "a long id": "wx" + "a" * 4998,
    "a long qq": "qq" + "1" * 4998,
    "zero-width spaces": "1\u200b" * 2500,
    "Chinese only": "上望街道有人烧垃圾" * 556,
}
_DIGIT = re.compile(r"\d")


def _median_s(fn, text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn(text)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _baseline(text: str) -> None:
    _DIGIT.findall(unicodedata.normalize("NFKC", text))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    figures: dict[str, dict[str, float]] = {"privacy_mask_ms": {}, "privacy_mask_vs_scan": {}, "log_redact_ms": {}}
    for name, text in SHAPES.items():
        mask_s, base_s = _median_s(mask_personal_numbers, text, runs), _median_s(_baseline, text, runs)
        redact_s = _median_s(logs.redact, text, runs)
        figures["privacy_mask_ms"][name] = round(mask_s * 1000, 2)
        figures["privacy_mask_vs_scan"][name] = round(mask_s / base_s, 1)
        figures["log_redact_ms"][name] = round(redact_s * 1000, 2)
        ratio = mask_s / base_s
        print(f"{name:18} mask {mask_s * 1000:7.2f} ms = {ratio:6.1f} × the scan, redact {redact_s * 1000:7.2f} ms")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()

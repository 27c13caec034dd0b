"""Routing benchmark: who the bundled model sends realistic complaints to, and which district it reads in them.

The held-out set is eval/ruian_realistic.csv: complaints written by hand in citizens' own voice, never produced by
the bootstrap generator and never trained on (eval/README.md). Figures, each beside a baseline from the same run:

- agency_accuracy: the main handler the desk would pick (service → its department, or the district's town for a
  local matter; triage counts as wrong) equals the set's agency. Baseline: the same model's category routed by the
  city file's category → agency table, as the desk did before the service catalogue.
- district_accuracy: the gazetteer's district (or none) equals the set's. Baseline: naive matching of the official
  district names and short forms, first one found.
- service and category accuracy, and warm prediction / cold start of the bundled model with its 200 classes.

    .venv/bin/python bench/bench_routing.py [--data eval/ruian_realistic.csv]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLD = """
from complaints.classifier.model import TextClassifier
TextClassifier.load({model!r}).predict("瑞安市上望街道薛里村有人焚烧垃圾，黑烟很大")
"""


def naive_district(city, text: str) -> str | None:
    """The first district whose official name or short form appears in the text: the baseline."""
    found = [
        (text.find(term), d.name)
        for d in city.districts
        for term in (d.name, d.short, *d.aliases)
        if term and term in text
    ]
    return min(found)[1] if found else None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(ROOT / "eval" / "ruian_realistic.csv"))
    parser.add_argument("--model", default=str(ROOT / "models" / "ruian-default"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from complaints.city import load_city
    from complaints.classifier.model import TextClassifier
    from complaints_tools.corrections import agency_of

    city = load_city(ROOT / "city" / "ruian.toml")
    model = TextClassifier.load(args.model)
    with open(args.data, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    n = len(rows)
    right = {"agency": 0, "agency_by_category": 0, "district": 0, "district_naive": 0, "service": 0, "category": 0}
    misses: list[str] = []
    triaged = 0
    for r in rows:
        text, district = r["text"], r["district"] or None
        found = city.locate(text).district
        got_district = found.name if found else None
        right["district"] += got_district == district
        right["district_naive"] += naive_district(city, text) == district
        agency = agency_of(city, model, text, got_district)
        right["agency"] += agency == (r["agency"] or None)
        triaged += agency is None
        p = model.predict(text)
        reading = city.read(p.label)
        by_category = city.department_for(reading.category) if reading.category and not p.no_evidence else None
        right["agency_by_category"] += (by_category.id if by_category else None) == (r["agency"] or None)
        right["service"] += reading.service is not None and reading.service.code == r["service"]
        expected_service = city.service(r["service"])
        right["category"] += expected_service is not None and reading.category == expected_service.category
        if agency != (r["agency"] or None) and len(misses) < 15:
            misses.append(f"  {r['agency'] or '(triage)':>14} ← {agency or '(triage)':<14} {text[:40]}")

    texts = [r["text"] for r in rows]
    times = []
    for t in texts * 3:
        start = time.perf_counter()
        model.predict(t)
        times.append(time.perf_counter() - start)
    warm = statistics.median(times) * 1e3
    colds = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", COLD.format(model=args.model)], check=True, cwd=ROOT)
        colds.append(time.perf_counter() - start)
    cold = statistics.median(colds)

    share = {k: v / n for k, v in right.items()}
    print(f"{n} realistic complaints ({args.data}), bundled model: {len(model.classes_)} {model.labels} classes")
    print(
        f"agency right {share['agency']:.3f} (baseline, category → agency table: {share['agency_by_category']:.3f}); "
        f"{triaged} to triage"
    )
    print(f"district right {share['district']:.3f} (baseline, naive name matching: {share['district_naive']:.3f})")
    print(f"service right {share['service']:.3f}, category right {share['category']:.3f}")
    print(f"bundled model: warm prediction median {warm:.3f} ms, cold start {cold:.3f} s (median of {args.repeat})")
    if misses:
        print("misrouted (expected ← got):\n" + "\n".join(misses))
    figures = {
        "agency_accuracy": share["agency"],
        "agency_accuracy_category_routing": share["agency_by_category"],
        "district_accuracy": share["district"],
        "district_accuracy_naive": share["district_naive"],
        "service_accuracy": share["service"],
        "category_accuracy_realistic": share["category"],
        "realistic_n": n,
        "bundled_warm_ms_median": warm,
        "bundled_cold_start_s": cold,
    }
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

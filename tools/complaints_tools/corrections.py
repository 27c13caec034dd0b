"""Learning from the agencies' corrections: routing labels as training rows, and promotion of a retrained model.

`complaints labels export` writes one row per ticket a person routed (`text,agency,service,category,district,at,
returned_from`). Here those rows become training labels in the terms of the data they join (service codes, categories
or agency ids), and a candidate model is compared with the one in use on the newest slice of them — which
`complaints train --labels` never trains on.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from complaints.city import City


@dataclass(frozen=True)
class Correction:
    text: str
    agency: str  # the agency the ticket ended with: the label
    service: str | None
    category: str | None
    district: str | None
    at: str


def label_kind(city: City, labels: Iterable[str]) -> str | None:
    """What a data set's labels are: all service codes, all categories or all agency ids of the city; else None."""
    found = set(labels)
    if found and found <= {s.code for s in city.services}:
        return "service"
    if found and found <= {c.name for c in city.categories}:
        return "category"
    if found and found <= {a.id for a in city.agencies if a.kind != "triage"}:
        return "agency"
    return None


def read(path: str | Path) -> list[Correction]:
    """The rows of a labels export; a file without its columns is refused, as a damaged export would be."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"text", "agency", "at"} - set(reader.fieldnames or ())
        if missing:
            raise SystemExit(f"{path}: not a labels export (no column(s) {', '.join(sorted(missing))})")
        rows = [
            Correction(
                text=(r.get("text") or "").strip(),
                agency=(r.get("agency") or "").strip(),
                service=(r.get("service") or "").strip() or None,
                category=(r.get("category") or "").strip() or None,
                district=(r.get("district") or "").strip() or None,
                at=(r.get("at") or "").strip(),
            )
            for r in reader
        ]
    return [r for r in rows if r.text and r.agency]


def split(rows: Sequence[Correction], holdout: float) -> tuple[list[Correction], list[Correction]]:
    """(older, newest): the newest `holdout` share by label time is what promotion judges a model on."""
    if not 0.0 <= holdout < 1.0:
        raise SystemExit("--holdout must be at least 0 and below 1")
    ordered = sorted(rows, key=lambda r: (r.at, r.text))
    cut = len(ordered) - round(len(ordered) * holdout)
    return ordered[:cut], ordered[cut:]


def handled_by(city: City, service_code: str, district: str | None) -> str | None:
    """The main handler's id of a service in a district (None: a local service with no district)."""
    main = city.handlers(service_code, None, district).main
    return main.id if main else None


def as_labels(city: City, rows: Iterable[Correction], labels_are: str, model: Any = None) -> list[tuple[str, str]]:
    """(text, label) for each correction, in the data's terms.

    - agency: the final agency.
    - category: the category of the services the final agency handles, when they share one; else the row is left
      out (an agency answering in several categories does not say which).
    - service: the ticket's service if it is handled by the final agency; else, of the final agency's services, the
      one `model` ranks highest for the text (the correction says who, the model which of their kinds). A row whose
      agency handles no service is left out.
    """
    out: list[tuple[str, str]] = []
    for r in rows:
        if labels_are == "agency":
            out.append((r.text, r.agency))
            continue
        theirs = [s for s in city.services if handled_by(city, s.code, r.district) == r.agency]
        if labels_are == "category":
            categories = {s.category for s in theirs}
            if len(categories) == 1:
                out.append((r.text, categories.pop()))
            continue
        if r.service and any(s.code == r.service for s in theirs):
            out.append((r.text, r.service))
        elif theirs and model is not None:
            codes = {s.code for s in theirs}
            proba = model.predict_proba_one(r.text)
            best = (
                max((p, c) for c, p in zip(model.classes_, proba, strict=True) if c in codes)
                if codes & set(model.classes_)
                else None
            )
            if best is not None:
                out.append((r.text, best[1]))
    return out


def agency_of(city: City, model: Any, text: str, district: str | None) -> str | None:
    """The agency a model sends a text to in a district (None: to triage, having no evidence or no handler)."""
    p = model.predict(text)
    if p.no_evidence:
        return None
    reading = city.read(p.label)
    if reading.service is not None:
        return handled_by(city, reading.service.code, district)
    if reading.category is not None:
        main = city.handlers(None, reading.category, district).main
        return main.id if main else None
    return reading.agency.id if reading.agency else None


def agency_accuracy(city: City, model: Any, rows: Sequence[Correction]) -> float:
    """Share of the corrections whose final agency the model would have picked."""
    if not rows:
        return float("nan")
    return sum(agency_of(city, model, r.text, r.district) == r.agency for r in rows) / len(rows)


@dataclass(frozen=True)
class Verdict:
    held_out: int
    current: float
    candidate: float

    @property
    def promote(self) -> bool:
        """The candidate is at least as right as the model in use, on labels neither trained on."""
        return self.held_out > 0 and self.candidate >= self.current


def compare(city: City, current: Any, candidate: Any, rows: Sequence[Correction], holdout: float) -> Verdict:
    _, newest = split(rows, holdout)
    return Verdict(len(newest), agency_accuracy(city, current, newest), agency_accuracy(city, candidate, newest))

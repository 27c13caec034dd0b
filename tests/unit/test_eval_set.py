"""The hand-written evaluation set (eval/ruian_realistic.csv): well-formed, labelled consistently with the city file,
and independent of the bootstrap corpus the bundled model is trained on."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

EVAL_FILE = Path(__file__).resolve().parents[2] / "eval" / "ruian_realistic.csv"
COLUMNS = ["text", "channel", "district", "service", "agency"]
CHANNELS = {"app", "weibo", "wechat", "web"}


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with EVAL_FILE.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == COLUMNS
        return list(reader)


def test_the_set_is_large_enough_and_every_row_is_filled_in(rows):
    assert len(rows) >= 200
    for r in rows:
        assert r["text"].strip() == r["text"] and len(r["text"]) >= 8, r
        assert r["channel"] in CHANNELS, r
        assert r["service"], r


def test_no_text_appears_twice(rows):
    repeated = [t for t, n in Counter(r["text"] for r in rows).items() if n > 1]
    assert repeated == []


def test_every_label_names_something_in_the_city_file(city, rows):
    districts = {d.name for d in city.districts}
    for r in rows:
        assert city.service(r["service"]) is not None, r
        assert r["district"] == "" or r["district"] in districts, r
        assert r["agency"] == "" or r["agency"] in city.agency_ids(), r


def test_the_agency_is_the_services_or_for_a_local_service_the_districts_town(city, rows):
    for r in rows:
        service = city.service(r["service"])
        if not service.local:
            expected = service.agency
        elif r["district"]:
            expected = city.district_by_name(r["district"]).agency
        else:
            expected = ""  # a local matter with no place: a person has to find the town
        assert r["agency"] == expected, r


def test_every_department_is_the_answer_of_at_least_five_texts(city, rows):
    counts = Counter(r["agency"] for r in rows)
    short = {a.id: counts[a.id] for a in city.agencies if a.kind == "department" and counts[a.id] < 5}
    assert short == {}


def test_the_set_covers_no_place_and_local_services(city, rows):
    # The district figure means little without texts that name none, and the town routing without local services.
    assert sum(1 for r in rows if not r["district"]) >= 25
    assert sum(1 for r in rows if city.service(r["service"]).local) >= 15


def test_no_text_is_taken_from_the_bootstrap_corpus(city, rows):
    from complaints_tools.bootstrap import Place, generate

    # The corpus `complaints train` builds by default (cli.py: the city's districts, default size and seed).
    places = [Place(d.name, d.short, tuple(d.communities)) for d in city.districts]
    corpus = "\n".join(text for text, _ in generate(places))
    copied = [r["text"] for r in rows if r["text"] in corpus]
    assert copied == []

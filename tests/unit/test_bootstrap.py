"""The bootstrap corpus generator: deterministic, balanced, unique, plausible."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from complaints_tools.bootstrap import (
    CATEGORIES,
    KINDS_BY_CATEGORY,
    DataError,
    Place,
    generate,
    parse_kinds,
    parse_pools,
    write_csv,
)

PLACES = (
    Place("上望街道", "上望", ("薛里村", "董田村")),
    Place("塘下镇", "塘下", ("韩田村", "场桥村")),
    Place("安阳街道", "安阳", ("西山社区", "万松社区")),
    Place("仙降街道", "仙降", ()),
)
PER_CATEGORY = 120


@pytest.fixture(scope="module")
def rows() -> list[tuple[str, str]]:
    return generate(PLACES, per_category=PER_CATEGORY, seed=20261128)


def test_deterministic(rows):
    assert generate(PLACES, per_category=PER_CATEGORY, seed=20261128) == rows


def test_default_arguments_are_deterministic():
    assert generate(PLACES) == generate(list(PLACES))


def test_per_category_counts(rows):
    counts = Counter(label for _, label in rows)
    assert counts == {c: PER_CATEGORY for c in CATEGORIES}
    assert len(rows) == PER_CATEGORY * len(CATEGORIES)


def test_no_duplicate_texts(rows):
    texts = [t for t, _ in rows]
    assert len(set(texts)) == len(texts)


def test_labels_are_categories(rows):
    assert {label for _, label in rows} <= set(CATEGORIES)


def test_text_lengths(rows):
    for text, _ in rows:
        assert 10 <= len(text) <= 400, text
        assert text == text.strip()


def test_most_texts_mention_a_given_place(rows):
    names = [n for p in PLACES for n in (p.district, p.short, *p.communities)]
    mentioned = sum(any(n in text for n in names) for text, _ in rows)
    assert mentioned >= 0.8 * len(rows)
    assert mentioned < len(rows)  # some texts name no place at all


def test_different_seed_gives_different_rows(rows):
    other = generate(PLACES, per_category=PER_CATEGORY, seed=7)
    assert other != rows
    assert {t for t, _ in other} != {t for t, _ in rows}


def test_no_phone_or_id_numbers(rows):
    for text, _ in rows:
        assert not re.search(r"\d{6,}", text), text


def test_enough_problem_kinds():
    for category in CATEGORIES:
        kinds = KINDS_BY_CATEGORY[category]
        assert len(kinds) >= 25, category
        assert len({k.name for k in kinds}) == len(kinds)


def test_works_without_places():
    rows = generate([], per_category=10, seed=1)
    assert Counter(label for _, label in rows) == {c: 10 for c in CATEGORIES}


def test_write_csv_is_byte_identical(rows, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_csv(rows, a)
    write_csv(list(rows), b)
    data = a.read_bytes()
    assert data == b.read_bytes()
    assert data.startswith(b"text,label\n")
    assert b"\r\n" not in data
    assert data.decode("utf-8").count("\n") == len(rows) + 1  # no text holds a line break


@pytest.mark.parametrize(
    ("parse", "text", "where"),
    [
        (parse_kinds, "# 注释\n== 城乡建设 ==\n@ 违章搭建 xq\np {L}有人违章搭建\nx 拆掉\n", "bootstrap_kinds.txt:5: "),
        (parse_kinds, "== 城乡建设 ==\n@ 违章搭建 nowhere\np 有人违章搭建\nw 请处理\n", "bootstrap_kinds.txt:2: "),
        (parse_pools, "== times ==\n- 不是一天两天了\n\n没有横线\n", "bootstrap_pools.txt:4: "),
        (parse_pools, '== weibo_open ==\n- "#瑞安# \n', "bootstrap_pools.txt:2: "),
    ],
)
def test_a_malformed_data_line_is_named(parse, text, where):
    """Whoever edits a data file learns which line is wrong."""
    with pytest.raises(DataError) as e:
        parse(text)
    assert str(e.value).startswith(where)

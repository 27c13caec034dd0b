"""`complaints evaluate` and the training data readers: figures a city uses to decide whether to trust a model."""

from __future__ import annotations

import csv
import json
import struct

import pytest

from complaints_tools import cli, training
from complaints_tools.evaluate import Scored, metrics

A, B = "环境保护", "城乡建设"


def test_metrics_on_a_known_case():
    # 4 A (3 right), 2 B (1 right); the two mistakes are the least confident.
    scored = [
        Scored(A, A, 0.99),
        Scored(A, A, 0.95),
        Scored(B, B, 0.90),
        Scored(A, A, 0.80),
        Scored(A, B, 0.55),
        Scored(B, A, 0.40),
    ]
    m = metrics(scored, [A, B])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"][A] == pytest.approx({"precision": 3 / 4, "recall": 3 / 4, "f1": 3 / 4, "support": 4})
    assert m["per_class"][B]["precision"] == pytest.approx(1 / 2)
    assert m["macro_f1"] == pytest.approx((3 / 4 + 1 / 2) / 2)
    assert m["confusion"] == [[1, 1], [1, 3]]  # labels sorted: 城乡建设, 环境保护
    # The 3 most confident (50 %) are right; 70 % of 6 rounds up to 5, one of them wrong; 100 % is the accuracy.
    assert m["precision_at_coverage"]["0.5"] == 1.0
    assert m["precision_at_coverage"]["0.7"] == pytest.approx(4 / 5)
    assert m["precision_at_coverage"]["1.0"] == pytest.approx(4 / 6)
    assert m["at_threshold"]["0.6"] == {"coverage": pytest.approx(4 / 6), "precision": 1.0}
    assert m["curve"][-1]["coverage"] == 1.0


def test_a_label_the_model_does_not_know_counts_as_wrong():
    m = metrics([Scored("信访", A, 0.9), Scored(A, A, 0.9)], [A, B])
    assert m["unknown_labels"] == ["信访"]
    assert m["accuracy"] == 0.5


def test_xlsx_with_a_title_column_reads_like_csv(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["留言主题", "留言详情", "一级分类"])
    sheet.append(["垃圾焚烧", "上望街道有人烧垃圾", A])
    sheet.append(["没有分类的留言", "还没答复", None])
    sheet.append([None, "路灯坏了", B])
    book.save(tmp_path / "archive.xlsx")
    texts, labels = training.read_labelled(tmp_path / "archive.xlsx", "留言详情", "一级分类", "留言主题")
    assert texts == ["垃圾焚烧 上望街道有人烧垃圾", "路灯坏了"]
    assert labels == [A, B]


def test_a_missing_column_is_named(tmp_path):
    (tmp_path / "a.csv").write_text("content,category\n烧垃圾,环境保护\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="text"):
        training.read_labelled(tmp_path / "a.csv")


@pytest.fixture(scope="module")
def labelled_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "held-out.csv"
    rows = [
        ("上望街道薛里村有人焚烧垃圾，黑烟很大", A),
        ("化工厂夜里偷排废水，河水发黑发臭", A),
        ("安阳街道万松路路灯坏了半个月没人修", B),
        ("小区门口道路塌陷，井盖破损", B),
        ("老板拖欠三个月工资不发", "劳动和社会保障"),
    ]
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


def test_evaluate_json_has_the_documented_keys(labelled_csv, model_dir, capsys):
    assert cli.main(["evaluate", "--model", str(model_dir), "--data", str(labelled_csv), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"accuracy", "macro_f1", "per_class", "precision_at_coverage"} <= set(doc)
    assert set(doc["precision_at_coverage"]) == {"0.5", "0.7", "0.8", "0.9", "1.0"}
    assert doc["n"] == 5
    assert doc["accuracy"] >= 0.8  # the bundled model knows these
    assert doc["per_class"][A]["support"] == 2


def test_evaluate_report_writes_both_pictures_and_a_page(labelled_csv, model_dir, tmp_path, capsys):
    out = tmp_path / "report"
    assert cli.main(["evaluate", "--model", str(model_dir), "--data", str(labelled_csv), "--report", str(out)]) == 0
    assert "accuracy" in capsys.readouterr().out
    for name in ("confusion.png", "coverage.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        assert width >= 500 and height >= 300
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'src="confusion.png"' in page and 'src="coverage.png"' in page
    assert A in page and "macro-F1" in page
    figures = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert f"{figures['accuracy']:.3f}" in page


def test_classify_json_names_the_category_and_how_the_district_was_found(capsys):
    assert cli.main(["classify", "上望街道薛里村有人焚烧垃圾，黑烟很大", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["category"] == A and doc["service_name"] == "焚烧垃圾" and doc["agency"] == "eco"
    assert doc["co_agencies"] == []
    assert doc["district"] == "上望街道" and doc["district_source"] == "text"
    assert len(doc["top3"]) == 3 and doc["top3"][0][0] == doc["service"]
    assert doc["confidence"] == doc["top3"][0][1]


def test_classify_json_names_the_town_for_a_local_matter_and_none_without_a_district(capsys):
    assert cli.main(["classify", "塘下镇韩田村的村道烂了好几年，一下雨全是泥水", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["service_name"], doc["agency"], doc["district"]) == ("村道破损", "town-tangxia", "塘下镇")
    assert cli.main(["classify", "村里的村道烂了好几年，一下雨全是泥水", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["service_name"], doc["agency"], doc["district"]) == ("村道破损", None, None)


def test_a_text_of_greetings_and_a_phone_number_has_no_evidence(capsys):
    text = "你好，我想问一下这个事情到底怎么办才好。有事请联系我：0577 6581 2301"
    assert cli.main(["classify", text, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["no_evidence"] is True


def test_classify_dash_reads_one_text_per_line(monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("老板拖欠三个月工资不发\n\n公交车班次太少，等车要一个小时\n"))
    assert cli.main(["classify", "-"]) == 0
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["category"] for d in docs] == ["劳动和社会保障", "交通运输"]
    assert docs[0]["district"] is None and docs[0]["district_source"] is None


def test_classify_says_when_the_model_has_no_evidence(capsys):
    assert cli.main(["classify", "The street light is broken", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["no_evidence"] is True
    assert doc["evidence"] == {"known_terms": 0, "script_share": 0.0}
    assert cli.main(["classify", "路灯坏了"]) == 0
    assert "evidence:   enough" in capsys.readouterr().out
    assert cli.main(["classify", "the"]) == 0
    assert "no_evidence: goes to triage" in capsys.readouterr().out

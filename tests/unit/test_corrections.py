"""Learning from corrections: labels exports as training rows, and the promotion step that refuses a worse model."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from complaints.classifier.model import TextClassifier
from complaints_tools import cli, corrections
from complaints_tools.corrections import Correction

HEADER = ("text", "agency", "service", "category", "district", "at", "returned_from")


def write_labels(path, rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        for r in rows:
            w.writerow(r)


def code(city, name: str) -> str:
    return next(s.code for s in city.services if s.name == name)


def test_what_a_data_sets_labels_are(city):
    assert corrections.label_kind(city, ["cj01", "hb01"]) == "service"
    assert corrections.label_kind(city, ["环境保护", "交通运输"]) == "category"
    assert corrections.label_kind(city, ["eco", "town-tangxia"]) == "agency"
    assert corrections.label_kind(city, ["环境保护", "eco"]) is None  # mixed: refused
    assert corrections.label_kind(city, ["triage-desk"]) is None


def test_the_newest_share_of_labels_is_held_out(city):
    rows = [Correction(f"t{i}", "eco", None, None, None, f"2026-11-{i + 10:02d}T08:00:00+08:00") for i in range(10)]
    older, newest = corrections.split(list(reversed(rows)), 0.2)
    assert [r.text for r in newest] == ["t8", "t9"] and len(older) == 8


def test_a_correction_becomes_a_label_in_the_data_sets_terms(city, model_dir):
    model = TextClassifier.load(model_dir)
    illegal_building = code(city, "违章搭建")
    rows = [
        # the model said 违章搭建 and the ticket stayed with 综合行政执法局: that service
        Correction("小区里有人搭棚子", "zhzf", illegal_building, "城乡建设", None, "t"),
        # the model said 违章搭建 but triage gave it to 自然资源和规划局: one of that bureau's services
        Correction("村里有人占耕地建房子，也没有审批", "zrgh", illegal_building, "城乡建设", None, "t"),
        # a local matter: its town handles it, in its district
        Correction("村道烂了好几年", "town-tangxia", None, None, "塘下镇", "t"),
    ]
    labels = corrections.as_labels(city, rows, "service", model)
    assert labels[0] == ("小区里有人搭棚子", illegal_building)
    zrgh = {s.code for s in city.services if s.agency == "zrgh" and not s.local}
    assert labels[1][1] in zrgh
    assert city.service(labels[2][1]).local
    assert corrections.as_labels(city, rows, "agency") == [(r.text, r.agency) for r in rows]


def test_train_takes_the_corrections_and_promote_refuses_a_worse_model(city, model_dir, tmp_path):
    """A candidate that routes the newest corrections worse than the model in use is refused, exit 1; one at least
    as good is promoted and, with --install, replaces it."""
    labels = tmp_path / "labels.csv"
    muck = code(city, "渣土车")
    write_labels(
        labels,
        [
            ("渣土车把泥撒了一路", "zhzf", muck, "交通运输", "", "2026-11-20T09:00:00+08:00", ""),
            ("工厂晚上偷偷往河里排污水", "eco", "", "环境保护", "", "2026-11-21T09:00:00+08:00", ""),
            ("老板拖欠三个月工资不发", "rsj", "", "劳动和社会保障", "", "2026-11-22T09:00:00+08:00", ""),
            ("马路上的红绿灯坏了好几天", "jjdd", "", "交通运输", "", "2026-11-23T09:00:00+08:00", "jtj"),
            ("小区门口的窨井盖不见了", "zhzf", "", "城乡建设", "", "2026-11-24T09:00:00+08:00", ""),
        ],
    )
    current = tmp_path / "current"
    shutil.copytree(model_dir, current)
    # A "worse model": one trained on categories only routes 红绿灯 to 交通运输局 and 窨井盖 to 住建局.
    corpus = tmp_path / "corpus.csv"
    assert cli.main(["bootstrap-corpus", "--out", str(corpus), "--per-category", "60", "--by", "category"]) == 0
    worse = tmp_path / "worse"
    assert cli.main(["train", "--data", str(corpus), "--out", str(worse), "--date", "2026-12-01", "--quiet"]) == 0
    args = ["promote", "--candidate", str(worse), "--current", str(current), "--labels", str(labels)]
    assert cli.main([*args, "--holdout", "0.4", "--install"]) == 1
    assert (current / "weights.bin").read_bytes() == (model_dir / "weights.bin").read_bytes()  # left in use

    assert cli.main(["promote", "--candidate", str(model_dir), "--current", str(worse), "--labels", str(labels),
                     "--holdout", "0.4", "--install"]) == 0  # fmt: skip
    assert json.loads((worse / "model.json").read_text(encoding="utf-8"))["labels"] == "service"


def test_train_refuses_labels_of_mixed_kinds(tmp_path, capsys):
    data = tmp_path / "mixed.csv"
    data.write_text("text,label\n路灯坏了,城乡建设\n工资不发,rsj\n", encoding="utf-8")
    assert cli.main(["train", "--data", str(data), "--out", str(tmp_path / "m"), "--quiet"]) == 2
    assert "neither all service codes" in capsys.readouterr().err


def test_a_file_that_is_not_a_labels_export_is_refused(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\n路灯坏了,城乡建设\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="not a labels export"):
        corrections.read(bad)

"""`complaints labels export --url` over the local stack: a ticket the model sent to triage is assigned by the
triage desk, a dispatched one is returned by its agency and reassigned, another is returned and left with the desk;
the export holds a row for each of the first two (text masked, final agency, who returned it) and none for the
third, and reads the tickets table by Query alone."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime

from loop_helpers import BURNING_RUBBISH, Desk, complaints_cli, file_complaint, staff

from complaints_tools import labels as labels_tool

UNCLEAR = "你好，我想问一下这个事情到底怎么办才好"


def _rows(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_assignments_and_returns_are_exported_as_rows_for_training(stack, tmp_path):
    triage, eco = Desk(stack, staff(stack, "triage-desk")), Desk(stack, staff(stack, "eco"))

    unclear = stack.post({"text": UNCLEAR}).json()
    assert stack.wait_for_status(unclear)["status"] == "triage"
    assert triage.assign(unclear["id"], "zhzf").status == 200  # the model could not tell; a person could

    market = file_complaint(stack, text=f"{BURNING_RUBBISH}，我的电话13812345678")
    assert eco.return_ticket(market["id"], "是市场监管的事").status == 200
    assert triage.assign(market["id"], "scjg", "市场监管局处理").status == 200

    left = file_complaint(stack, text=f"{BURNING_RUBBISH}，已经第三次反映了")
    assert eco.return_ticket(left["id"], "不属于本单位").status == 200  # the desk has not decided yet

    out = tmp_path / "labels.csv"
    today = datetime.now(UTC).date().isoformat()
    exported = complaints_cli("labels", "export", "--url", stack.url, "--out", str(out), "--since", today)
    assert exported.returncode == 0, exported.stderr
    rows = _rows(out)
    assert list(rows[0]) == ["text", "agency", "service", "category", "district", "at", "returned_from"]
    by_agency = {r["agency"]: r for r in rows if r["agency"] in ("zhzf", "scjg")}
    assert (by_agency["zhzf"]["text"], by_agency["zhzf"]["returned_from"]) == (UNCLEAR, "")
    assert by_agency["scjg"]["text"] == f"{BURNING_RUBBISH}，我的电话138＊＊＊＊＊＊78"
    assert (by_agency["scjg"]["returned_from"], by_agency["scjg"]["category"]) == ("eco", "环境保护")
    assert by_agency["scjg"]["at"] >= today
    assert not any("第三次反映" in r["text"] for r in rows)  # still with the triage desk: no final agency
    assert json.loads(exported.stdout)["undecided"] >= 1

    # A day after the last label, nothing is left to export.
    later = complaints_cli("labels", "export", "--url", stack.url, "--out", str(out), "--since", "2999-01-01")
    assert later.returncode == 0, later.stderr
    assert _rows(out) == []


def test_the_export_reads_the_table_by_query_alone(stack, tmp_path):
    tickets = labels_tool.repository_of_local_stack(stack.url)
    calls: list[str] = []
    events = tickets.table.meta.client.meta.events
    for operation in ("Query", "Scan", "GetItem", "BatchGetItem"):
        events.register(f"before-call.dynamodb.{operation}", lambda op=operation, **kw: calls.append(op))
    labels_tool.export_file(tickets, tmp_path / "labels.csv")
    assert calls and set(calls) == {"Query"}, calls

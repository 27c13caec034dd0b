"""`complaints labels export`: the routing labels of a stack's tickets as a CSV for `complaints train`.

    complaints labels export --url http://127.0.0.1:3000 --out build/labels.csv
    complaints labels export --stack complaints-prod --out labels.csv --since 2026-12-01
    complaints train --data labels.csv --label-col agency

One row per labelled ticket whose final agency is known (desk.labels): `text` (personal numbers masked), `agency`,
`service`, `category`, `at` (the latest label, UTC), `returned_from`. Read by Query from the tickets table's
`labelled` index (`--url`: a running local stack's moto, found through its health page; `--stack`: a deployed
stack's TicketsTableName output), never by a scan.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time
from pathlib import Path

from complaints.adapters.aws import DynamoTicketRepository
from complaints.domain.deadlines import WorkingCalendar
from complaints.domain.desk.assignment import utc_iso
from complaints.domain.desk.labels import ExportCount, export
from complaints_tools.stacks import local_resource, outputs


def repository_of_local_stack(url: str) -> DynamoTicketRepository:
    """The tickets of a running local stack (`complaints run`)."""
    dynamodb, resources = local_resource(url, "dynamodb")
    return DynamoTicketRepository(resources["TicketsTable"], client=dynamodb)


def repository_of_stack(stack_name: str) -> DynamoTicketRepository:
    """The tickets of a deployed stack, with the caller's AWS credentials (dynamodb:Query on the index)."""
    return DynamoTicketRepository(outputs(stack_name)["TicketsTableName"])


def since_of(day: date, calendar: WorkingCalendar) -> str:
    """The start of `day` in the city's time zone, as the labels index sorts times (UTC ISO 8601)."""
    return utc_iso(datetime.combine(day, time(0), tzinfo=calendar.zone))


def export_file(tickets: DynamoTicketRepository, out: Path, since: str | None = None) -> ExportCount:
    """Write the export to `out` (UTF-8 CSV with a header line). Written beside it first and moved into place: an
    export that fails half way leaves no half file for `complaints train` to learn from."""
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.with_name(out.name + ".part")
    try:
        with open(work, "w", encoding="utf-8", newline="") as f:
            count = export(tickets, f, since)
        os.replace(work, out)
    finally:
        work.unlink(missing_ok=True)
    return count

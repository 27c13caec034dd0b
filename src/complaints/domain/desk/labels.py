"""Routing labels for retraining: every triage assignment and agency return the answer loop records says which
agency answers a text. One row per labelled ticket whose final agency is known, in the columns `complaints train
--data FILE --label-col agency` reads.

The final agency is the one holding the ticket now, once a person put it there: a ticket still in `triage` or
`returned` has none yet (the desk has not decided) and is left out; it is exported once it is assigned. The text is
exported with its personal numbers masked (privacy.py): the export leaves the desk, a model needs no phone number,
and a number must never become a word the model learns.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from complaints.domain.ports import TicketRepository
from complaints.domain.privacy import mask_personal_numbers
from complaints.domain.tickets import LabelledTicket, Status

COLUMNS = ("text", "agency", "service", "category", "district", "at", "returned_from")
# Where a ticket is held by the agency a person assigned it to (or that answered it after a return).
_HELD_BY_AGENCY = frozenset({Status.DISPATCHED, Status.ACCEPTED, Status.ANSWERED, Status.REOPENED, Status.CLOSED})


@dataclass
class ExportCount:
    rows: int = 0
    undecided: int = 0  # labelled tickets still with the triage desk: no final agency yet


def row_of(ticket: LabelledTicket) -> dict[str, str] | None:
    """The export row of a labelled ticket, or None while its final agency is not known."""
    if ticket.status not in _HELD_BY_AGENCY or not ticket.agency or not ticket.routing_labels:
        return None
    returned = [label.agency for label in ticket.routing_labels if label.kind == "returned"]
    return {
        "text": mask_personal_numbers(ticket.text),
        "agency": ticket.agency,
        "service": ticket.service or "",
        "category": ticket.category or "",
        "district": ticket.district or "",
        "at": max(label.at for label in ticket.routing_labels),
        # In the order they sent it back, each once.
        "returned_from": ";".join(dict.fromkeys(returned)),
    }


def rows(tickets: Iterable[LabelledTicket], count: ExportCount | None = None) -> Iterator[dict[str, str]]:
    """The rows of the tickets whose final agency is known; `count` tallies rows and undecided tickets."""
    count = count if count is not None else ExportCount()
    for ticket in tickets:
        row = row_of(ticket)
        if row is None:
            count.undecided += 1
            continue
        count.rows += 1
        yield row


def export(tickets: TicketRepository, out: TextIO, since: str | None = None) -> ExportCount:
    """Write the label rows (CSV with a header line) of every ticket whose latest label is at or after `since`
    (UTC ISO 8601; None: all), read from the repository's labels index, oldest first. `out` is a text file opened
    with newline=""; the counts of what was written and left out."""
    count = ExportCount()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows(tickets.labelled(since), count):
        writer.writerow(row)
    return count

"""Classify: predict a received ticket's category and district, then queue it for routing."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from complaints.city import City
from complaints.domain.desk.photo_upload import end_photo_wait
from complaints.domain.errors import MoveNotAllowed
from complaints.domain.ports import Classifier, TicketRepository, WorkQueue
from complaints.domain.tickets import Status

log = logging.getLogger("complaints")


@dataclass
class Classification:
    city: City
    tickets: TicketRepository
    route_queue: WorkQueue
    classifier: Classifier

    def classify(self, ticket_id: str) -> Status | None:
        """Classify a received ticket and queue it for routing. Safe to repeat for the same ticket."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            log.warning("classify: no such ticket", extra={"ticket_id": ticket_id})
            return None
        if ticket.status is Status.AWAITING_PHOTO:
            # The delayed message sent at intake: the wait for the photo is over.
            ticket = end_photo_wait(self.tickets, ticket)
        if ticket.status in (Status.RECEIVED, Status.PHOTO_REJECTED):
            prediction = (
                _Given(ticket.service) if ticket.service_source == "channel" else self.classifier.predict(ticket.text)
            )
            loc = ticket.location
            match = self.city.locate(ticket.text, loc.lat if loc else None, loc.lng if loc else None)
            fields: dict = {"no_evidence": prediction.no_evidence}
            if ticket.district_source != "citizen":
                # The citizen's own pick of a district stands: they know where they are better than the gazetteer.
                fields |= {"district": match.district.name if match.district else None, "district_source": match.source}
            district = fields.get("district", ticket.district)
            fields |= _category_fields(self.city, prediction, district)
            if prediction.no_evidence:
                # The model's guess is kept out of the ticket, where it would read as a suggestion; the log has it.
                log.info(
                    "no evidence for a category",
                    extra={
                        "ticket_id": ticket_id,
                        "guess": prediction.category,
                        "confidence": prediction.confidence,
                        "known_terms": prediction.evidence.known_terms,
                        "script_share": round(prediction.evidence.script_share, 2),
                    },
                )
                note = "无法判断类别"
            else:
                # The citizen reads this step: the kind of problem by its name, not the catalogue's code.
                note = f"{self.city.read(prediction.label).title or prediction.label} {prediction.confidence:.2f}"
            try:
                self.tickets.record_classification(ticket_id, fields, note)
                ticket = ticket.model_copy(update={**fields, "status": Status.CLASSIFIED})
            except MoveNotAllowed:
                ticket = self.tickets.get(ticket_id)  # another worker classified it meanwhile
        if ticket.status is Status.CLASSIFIED:
            # Also reached on a redelivery after a crash between the update and the send: routing is idempotent.
            self.route_queue.send({"ticket_id": ticket_id})
        log.info(
            "ticket classified",
            extra={
                "ticket_id": ticket_id,
                "service": ticket.service,
                "category": ticket.category,
                "confidence": ticket.confidence,
                "no_evidence": ticket.no_evidence,
                "district": ticket.district,
            },
        )
        return ticket.status


@dataclass(frozen=True)
class _Given:
    """The service the channel named, read as a certain prediction."""

    category: str
    confidence: float = 1.0
    no_evidence: bool = False

    @property
    def label(self) -> str:
        return self.category

    @property
    def top3(self) -> list[tuple[str, float]]:
        return [(self.category, 1.0)]


def _category_fields(city: City, prediction, district: str | None) -> dict:
    """What a prediction says about the ticket's service, category and main handler (in its district); nothing
    when the model had no evidence for one."""
    if prediction.no_evidence:
        return {"service": None, "category": None, "confidence": None, "top3": None, "department": None}
    reading = city.read(prediction.category)
    service = reading.service.code if reading.service else None
    main = city.handlers(service, reading.category, district).main if reading.category else reading.agency
    return {
        "service": service,
        "category": reading.category,
        "confidence": prediction.confidence,
        "top3": [[c, p] for c, p in prediction.top3],
        "department": main.name if main else None,
    }

"""Dispatch: publish a classified ticket to its agency (SNS `dispatch`) or to the triage desk (`triage`), once."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from complaints.city import City
from complaints.domain import clock, routing
from complaints.domain.desk.assignment import assigned
from complaints.domain.errors import MoveNotAllowed, RoutingInProgress
from complaints.domain.ports import Notifier, PhotoStore, TicketRepository
from complaints.domain.tickets import Status, Ticket, photo_keys

log = logging.getLogger("complaints")


@dataclass
class Dispatch:
    city: City
    tickets: TicketRepository
    photos: PhotoStore
    notifier: Notifier
    threshold: float = 0.6
    # Longer than a route worker can live (the function timeout, 15 s): an older claim's worker is gone.
    routing_lease_s: float = 60

    def route(self, ticket_id: str) -> Status | None:
        """Publish a classified ticket to `dispatch` (confident) or `triage`, once, and record it.

        Exactly once per ticket, whatever SQS redelivers and however many workers race: the worker first claims the
        ticket (a conditional `classified → routing`), publishes, then records `dispatched`/`triage`. A worker
        that loses the race, or finds the ticket already routed, publishes nothing. A publish that fails releases
        the claim and raises, so SQS retries the message (and moves it to the dead-letter queue, whose alarm calls
        an operator, if it keeps failing). A claim older than `routing_lease_s` belonged to a worker that died
        between claiming and recording: whether it published is unknown, so the ticket goes to the human triage
        desk with that said, never to the agency a second time.
        """
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            log.warning("route: no such ticket", extra={"ticket_id": ticket_id})
            return None
        if ticket.status is Status.ROUTING:
            if (ticket.routing_since or "") > _iso_ago(self.routing_lease_s):
                # Another worker holds it now; retry later (SQS redelivers) rather than acknowledge: if that
                # worker dies, this message is what finishes the ticket.
                raise RoutingInProgress(f"ticket {ticket_id} is being routed by another worker")
            return self._route_interrupted(ticket)
        if ticket.status is not Status.CLASSIFIED:
            return ticket.status  # already routed: a redelivered message changes nothing
        claim = secrets.token_hex(8)
        try:
            self.tickets.claim_routing(ticket_id, claim)
        except MoveNotAllowed as e:
            raise RoutingInProgress(f"ticket {ticket_id} was claimed by another worker") from e
        decision = routing.decide(ticket, self.city, self.threshold)
        try:
            self._publish(ticket, decision)
        except Exception as e:
            log.exception("publish failed; releasing the ticket for a retry", extra={"ticket_id": ticket_id})
            notified = e.notified if isinstance(e, PartlyPublished) else None
            with contextlib.suppress(MoveNotAllowed):  # our claim was taken over meanwhile: the taker goes on
                self.tickets.release_routing(ticket_id, claim, notified)
            raise
        return self._record_routed(ticket, decision, claim)

    def _publish(self, ticket: Ticket, decision: routing.RoutingDecision, note: str | None = None) -> None:
        """Publish, in one call, the ticket's notices (routing.notices) that have not gone out yet.

        If only some go out (SNS reports failed entries), PartlyPublished carries the audiences that have them, and
        the release records them on the ticket (`notified`): the retry sends only the rest, so the agency never
        gets its notice twice because the town's copy failed.
        """
        link = None
        if ticket.photo is not None and ticket.photo.status == "ready":
            expires_at = datetime.now(UTC) + timedelta(seconds=routing.PHOTO_LINK_SECONDS)
            url = self.photos.lasting_link(photo_keys(ticket.id)["display"], routing.PHOTO_LINK_SECONDS)
            link = routing.PhotoLink(url, expires_at)
        notified = list(ticket.notified or [])
        pending = [n for n in routing.notices(ticket, self.city, decision, link, note) if n.audience not in notified]
        if not pending:
            return
        failed = self.notifier.publish_batch(decision.channel, pending)
        if failed:
            raise PartlyPublished(notified + [n.audience for n in pending if n.audience not in failed], failed)

    def _record_routed(self, ticket: Ticket, decision: routing.RoutingDecision, claim: str) -> Status:
        status = Status.DISPATCHED if decision.channel == "dispatch" else Status.TRIAGE
        note = decision.department.name if status is Status.DISPATCHED and decision.department else decision.reason
        if status is Status.DISPATCHED:
            # Into the agency's inbox, with its deadlines on the city's calendar from now.
            fields = assigned(self.city, ticket, decision.department.id)
            recorded = self._after_publishing(lambda: self.tickets.record_dispatched(ticket.id, claim, note, fields))
        else:
            reason, desk = decision.triage_reason, self.city.triage_desk().id
            recorded = self._after_publishing(
                lambda: self.tickets.record_sent_to_triage(ticket.id, claim, note, reason, desk)
            )
        if not recorded:
            # Our claim was taken over (we outlived the lease): the taker tells triage; nothing more to do here.
            log.warning("routing claim lost after publishing", extra={"ticket_id": ticket.id})
            return self.tickets.get(ticket.id).status
        log.info(
            "ticket routed",
            extra={"ticket_id": ticket.id, "status": status.value, "triage_reason": decision.triage_reason},
        )
        return status

    def _after_publishing(self, step) -> bool:
        """Run `step`, retrying it for up to ~6 s: once agencies have the ticket, failing to record it would leave it
        claimed, and a claim that outlives its lease sends the ticket to triage as well. Throttling passes.
        False if the claim is no longer ours (not retried: it will not come back)."""
        for attempt in range(RECORD_ATTEMPTS):
            try:
                step()
                return True
            except MoveNotAllowed:
                return False
            except Exception:
                if attempt == RECORD_ATTEMPTS - 1:
                    raise
                log.warning("recording a published ticket failed; retrying", exc_info=True)
                time.sleep(0.1 * 2**attempt)
        return False

    def _route_interrupted(self, ticket: Ticket) -> Status:
        claim = secrets.token_hex(8)
        try:
            self.tickets.take_over_routing(ticket.id, claim, ticket.routing_claim)
        except MoveNotAllowed as e:
            raise RoutingInProgress(f"ticket {ticket.id} was claimed by another worker") from e
        log.warning("routing was interrupted; handing the ticket to triage", extra={"ticket_id": ticket.id})
        decision = routing.interrupted(routing.decide(ticket, self.city, self.threshold))
        self._publish(ticket, decision, note=routing.INTERRUPTED_NOTE)
        return self._record_routed(ticket, decision, claim)


class PartlyPublished(Exception):
    """Some of a ticket's notices went out (`notified`: their audiences), others (`failed`) did not."""

    def __init__(self, notified: list[str], failed: list[str]) -> None:
        super().__init__(f"notices not published: {', '.join(failed)}")
        self.notified = notified


# Attempts at recording a ticket as routed after publishing it (0.1 s, 0.2 s, … 3.2 s apart).
RECORD_ATTEMPTS = 7


def _iso_ago(seconds: float) -> str:
    # The desk's clock, as the claim's `routing_since` was stamped with it (the local stack may move it).
    at = clock.now() - timedelta(seconds=seconds)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")

"""Exactly once: how a message to a person is sent once, whatever the stream redelivers and whichever worker dies.

Each delivery of a stored message (an outbox message's SMS, e-mail, Weibo comment or notice; a car owner's SMS or
call) is claimed by a conditional write on the message's item, sent, then recorded. A redelivered record finds it
recorded and sends nothing. A send that fails for a while is released and raised: the stream retries the record.
A send the service refuses for good (UndeliverableContact) is recorded `refused`. A claim older than its lease
belonged to a worker that died between sending and recording: whether the person got it is unknown, and a second
SMS is worse than none, so it is recorded `interrupted` and logged as an error, never sent again.

desk/messenger.py (an outbox message's deliveries) and desk/car_moving_notice.py (a car owner's) both send this way.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any, Protocol

from complaints.domain import clock
from complaints.domain.errors import UndeliverableContact
from complaints.domain.privacy import mask_personal_numbers

log = logging.getLogger("complaints")

# Longer than a sending invocation can live (its function's timeout): an older claim's worker is gone.
DELIVERY_LEASE_S = 120


class DeliveryTaken(Exception):
    """Another worker holds this delivery, or recorded it already."""


class DeliveryInProgress(Exception):
    """Another worker is sending this delivery now; the record is retried later."""


class Deliveries(Protocol):
    """The deliveries of stored messages, each message named by its owner (a ticket, a car-moving request) and key."""

    def deliveries(self, owner: str, key: str) -> dict[str, dict[str, Any]] | None:
        """The message's deliveries so far ({name: {"state", …}}), or None if there is no such message."""

    def claim(self, owner: str, key: str, delivery: str, claim: str, stale_claim: str | None = None) -> None:
        """Claim a delivery not yet claimed (or one held by `stale_claim`); DeliveryTaken otherwise."""

    def record(self, owner: str, key: str, delivery: str, claim: str, state: str, detail: str | None) -> None:
        """Record a claimed delivery's outcome, if `claim` still holds it."""

    def release(self, owner: str, key: str, delivery: str, claim: str) -> None:
        """Give a claimed delivery up, for a retry."""


def send_once(
    store: Deliveries,
    owner: str,
    key: str,
    name: str,
    done: dict[str, Any] | None,
    send: Callable[[], str | None],
    *,
    lease_s: float,
    about: dict[str, Any],
    too_late: Callable[[], bool] | None = None,
) -> str:
    """Send the delivery `name` of the message (`done`: its entry in the deliveries read before) unless it was sent,
    refused or interrupted; its state. `too_late()`, once claimed: record it `expired` instead of sending. `about`:
    what the log lines say the message is (ids, never a person's number)."""
    about = {**about, "delivery": name}
    stale = None
    if done is not None:
        if done.get("state") != "sending":
            return done["state"]  # sent, refused, interrupted or expired: never again
        if clock.epoch() - float(done.get("since", 0)) < lease_s:
            raise DeliveryInProgress(f"{key}/{name} is being sent by another worker")
        stale = done.get("claim")
    claim = secrets.token_hex(8)
    try:
        store.claim(owner, key, name, claim, stale)
    except DeliveryTaken:
        raise DeliveryInProgress(f"{key}/{name} was claimed by another worker") from None
    if stale is not None:
        log.error("a delivery was interrupted between sending and recording; not sent again", extra=about)
        store.record(owner, key, name, claim, "interrupted", None)
        return "interrupted"
    if too_late is not None and too_late():
        log.warning("a delivery came too late to be sent", extra=about)
        store.record(owner, key, name, claim, "expired", None)
        return "expired"
    try:
        detail = send()
    except UndeliverableContact as e:
        # The adapters' reasons never hold the number; masked all the same, as the reason is stored and logged.
        reason = mask_personal_numbers(e.message)
        store.record(owner, key, name, claim, "refused", reason)
        log.warning("message refused", extra={**about, "reason": reason})
        return "refused"
    except BaseException:
        store.release(owner, key, name, claim)
        raise
    store.record(owner, key, name, claim, "sent", detail)
    log.info("message sent", extra=about)
    return "sent"

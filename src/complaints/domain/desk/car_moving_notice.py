"""The car owner's notice (自助移车): an SMS and a voice call to the owner of the car in the way, each sent once.

CarMoving (car_moving.py) writes the notice — the texts, with the owner's link, the plate and the owner's phone as
the vehicle registry holds it, sealed — in the transaction that records the request, as an item of the tickets
table; this use case runs from that table's stream, new notices only. It is the only code that opens an owner's
phone (the only function with kms:Decrypt on the vehicle key), and only to hand it to the SMS and the voice call.

Each delivery (`sms`, then `voice`) is claimed on the notice item (a conditional write), sent, then recorded, as
the messenger sends a citizen's messages (deliveries.send_once): a redelivered record finds it sent and sends
nothing; a send that fails for a while is released and raised, so the stream retries the record (the SMS, once
sent, is not sent again with the call's retry); a number the service refuses is recorded `refused`; a claim older
than its lease belonged to a worker that died between sending and recording, and is recorded `interrupted`, never
sent again: a second call about the same car is worse than none. A notice older than `max_age_s` (the stream
retried it that long) is recorded `expired` instead of ringing the owner about a car the requester has given up on.

Nothing here logs or stores the owner's phone: log lines name the request, the notice and the delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from complaints.domain import clock
from complaints.domain.deliveries import DELIVERY_LEASE_S, Deliveries, send_once

log = logging.getLogger("complaints")

# Past this, the requester may have reminded the owner twice over (10 minutes) or called the police: a call about
# the car then only wakes its owner.
NOTICE_MAX_AGE_S = 30 * 60
DELIVERIES = ("sms", "voice")


class OwnerPhones(Protocol):
    def open(self, plate: str, sealed: str) -> str:
        """The owner's phone, from the registry's sealed form (bound to the plate)."""


class OwnerTexter(Protocol):
    def send_sms(self, phone: str, text: str) -> str:
        """Send an SMS; its message id. UndeliverableContact for a number that cannot take one; any other error is
        worth a retry."""


class OwnerCaller(Protocol):
    def call(self, phone: str, text: str) -> str:
        """Ring the phone and read the text out; the call's message id. Errors as OwnerTexter's."""


@dataclass(frozen=True)
class OwnerNotice:
    """A notice as CarMoving._notice writes it: the texts hold the plate, the place and the link, no number."""

    request_id: str
    key: str
    plate: str
    owner_sealed: str
    sms: str
    voice: str
    at: float

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> OwnerNotice:
        """From the stored item (a stream record's NewImage: numbers as Decimal, other attributes ignored)."""
        return cls(
            request_id=str(item["request_id"]),
            key=str(item["key"]),
            plate=str(item["plate"]),
            owner_sealed=str(item["owner_sealed"]),
            sms=str(item["sms"]),
            voice=str(item["voice"]),
            at=float(item["at"]),
        )


@dataclass
class CarMovingNotice:
    notices: Deliveries  # of the `carmove#notice#<request_id>#<key>` items, owned by the request's id
    phones: OwnerPhones
    texter: OwnerTexter
    caller: OwnerCaller
    lease_s: float = DELIVERY_LEASE_S
    max_age_s: float = NOTICE_MAX_AGE_S

    def deliver(self, item: Mapping[str, Any]) -> dict[str, str]:
        """Send the notice's SMS, then its call, each unless it went out already; their states."""
        notice = OwnerNotice.of(item)
        done = self.notices.deliveries(notice.request_id, notice.key)
        if done is None:
            log.warning("owner notice not in the table", extra=self._about(notice))
            return {}
        phone: list[str] = []  # opened at most once, and only if something is to be sent

        def owner() -> str:
            if not phone:
                phone.append(self.phones.open(notice.plate, notice.owner_sealed))
            return phone[0]

        sends: dict[str, Callable[[], str]] = {
            "sms": lambda: self.texter.send_sms(owner(), notice.sms),
            "voice": lambda: self.caller.call(owner(), notice.voice),
        }
        return {name: self._once(notice, name, done.get(name), sends[name]) for name in DELIVERIES}

    def _once(self, notice: OwnerNotice, name: str, done: dict[str, Any] | None, send: Callable[[], str]) -> str:
        return send_once(
            self.notices,
            notice.request_id,
            notice.key,
            name,
            done,
            send,
            lease_s=self.lease_s,
            about=self._about(notice),
            too_late=lambda: clock.epoch() - notice.at > self.max_age_s,
        )

    @staticmethod
    def _about(notice: OwnerNotice) -> dict[str, str]:
        return {"request_id": notice.request_id, "notice": notice.key}

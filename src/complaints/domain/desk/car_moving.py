"""Self-service car moving (自助移车): a blocked driver, verified by an SMS code, names the plate of the car in the
way; its owner gets an SMS and a voice call, and neither sees the other's number.

The requester's phone is kept only sealed (KMS) and as a keyed hash, the requester's id, which keys the limits and
the audit. The owner's phone comes sealed from the vehicle registry under a key of its own, and only the notifier
(car_moving_notice.py) opens it: this use case never holds an owner's number in the clear.

A request is one transaction (CarMovingStore.create_request): the requester's monthly count, the plate's
10-minute hold, the request, the owner's link and the notice the notifier sends. A refusal stores none of them;
every request, refused or not, is audited.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from complaints.city import CarMovingRules, City
from complaints.domain import clock
from complaints.domain.errors import (
    Blocked,
    CarMovingNotFound,
    CodeRejected,
    InvalidComplaint,
    LimitReached,
    NotVerified,
    NotYet,
    PlateNotRegistered,
)
from complaints.domain.photos import decode_base64_photo, process_photo
from complaints.domain.plates import normalise_plate

log = logging.getLogger("complaints")

CODE_DIGITS = 6
MAX_LOCATION_CHARS = 100
_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")
_OWNER_CODE = re.compile(r"^[A-Za-z0-9_\-]{20,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Mainland mobiles as people write them (citizen_channels.e164's rule): 11 digits from 1, perhaps after +86.
_MAINLAND_INPUT = re.compile(r"^(?:\+?86|0086)?(1[3-9]\d{9})$")


class StoreRefused(Exception):
    """A conditional write of the store did not hold: `which` names the limit ("month", "plate", "minute", "day"),
    `until` when it frees (epoch seconds)."""

    def __init__(self, which: str, until: float) -> None:
        super().__init__(which)
        self.which, self.until = which, until


class CarMovingStore(Protocol):
    def start_code(
        self, phone_key: str, code_hash: str, expires_at: float, interval_until: float, day: str, per_day: int
    ) -> None:
        """In one transaction: the phone's interval hold (free, or over), its count of the `day` (below `per_day`)
        and the new pending code, replacing any earlier one. StoreRefused("minute" | "day", until) otherwise."""

    def try_code(self, phone_key: str, max_tries: int, now: float) -> dict[str, Any] | None:
        """Count one try of the phone's pending code, if it has one that is unexpired and tried fewer than
        `max_tries` times; the code's item ({"code_hash", "expires_at", "tries"}), None otherwise."""

    def use_code(self, phone_key: str, code_hash: str) -> bool:
        """Delete the pending code if it is still this one; False if it was used (or replaced) meanwhile."""

    def save_requester(self, token_hash: str, requester: dict[str, Any], expires_at: float) -> None: ...

    def requester(self, token_hash: str) -> dict[str, Any] | None: ...

    def blocked(self, kind: str, key: str) -> bool:
        """Whether the requester (kind `phone`, key: the requester's id) or the plate (kind `plate`) is blocked."""

    def block(self, kind: str, key: str, reason: str) -> None: ...

    def unblock(self, kind: str, key: str) -> None: ...

    def create_request(
        self,
        request: dict[str, Any],
        notice: dict[str, Any],
        owner_code_hash: str,
        month_key: str,
        month_limit: int,
        month_expires: float,
        plate_until: float,
        now: float,
    ) -> None:
        """The request, its notice and its owner link, in one transaction with the requester's monthly count
        (below `month_limit`) and the plate's hold (free or over at `now`). StoreRefused otherwise, nothing stored."""

    def request(self, request_id: str) -> dict[str, Any] | None: ...

    def request_by_owner_code(self, owner_code_hash: str) -> dict[str, Any] | None: ...

    def update_request(
        self,
        request_id: str,
        expect: dict[str, Any],
        changes: dict[str, Any],
        notice: dict[str, Any] | None = None,
        owner_code_hash: str | None = None,
    ) -> bool:
        """Change the request if each of `expect`'s attributes holds its value (None: absent), writing `notice`
        and a new owner link in the same transaction; False if not, nothing changed."""

    def audit(self, entry: dict[str, Any]) -> None: ...


class VehicleRegistry(Protocol):
    def owner_phone(self, plate: str) -> str | None:
        """The owner's phone, sealed (only the notifier opens it), or None for a plate the registry does not know."""


class PhoneKeys(Protocol):
    def key(self, phone: str) -> str:
        """A keyed hash of the phone (HMAC): the same phone, the same key; without the secret, no way back."""


class ContactSealer(Protocol):
    def seal(self, ticket_id: str, contact: dict[str, str]) -> str: ...

    def open(self, ticket_id: str, sealed: str) -> dict[str, str]: ...


class CodeTexter(Protocol):
    def send_sms(self, phone: str, text: str) -> str: ...


class TicketIntake(Protocol):
    def submit(self, complaint: Any) -> Any: ...


@dataclass(frozen=True)
class Requester:
    """A verified requester: `id` is the keyed hash of their phone, `token` the bearer secret (only at
    confirmation; "" when found by token: the caller has it)."""

    id: str
    token: str
    sealed_phone: str
    expires_at: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def sealing_id(requester_id: str) -> str:
    """The encryption context of a requester's sealed phone: its own prefix, so that the car-moving function may
    open these and no ticket's contact (a KMS condition on the context)."""
    return f"requester#{requester_id}"


@dataclass
class CarMoving:
    city: City
    store: CarMovingStore
    registry: VehicleRegistry
    phone_keys: PhoneKeys
    contacts: ContactSealer
    texter: CodeTexter
    intake: TicketIntake
    owner_link_base: str

    @property
    def rules(self) -> CarMovingRules:
        if self.city.car_moving is None:
            raise RuntimeError("the city file has no [car_moving]")
        return self.city.car_moving

    # ---------------------------------------------------------------- verification
    def start_verification(self, phone: str, channel: str) -> None:
        """Send a 6-digit code to the phone, within the per-phone limits."""
        number = _mainland(phone)
        key = self.phone_keys.key(number)
        now = clock.epoch()
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        r = self.rules
        try:
            self.store.start_code(
                key,
                _hash(f"{key}#{code}"),
                now + r.code_valid_minutes * 60,
                now + r.code_interval_seconds,
                self._local_day(now),
                r.codes_per_day,
            )
        except StoreRefused as e:
            what = "a code was sent to this phone a moment ago" if e.which == "minute" else "too many codes today"
            raise LimitReached(f"{what}; try again later", int(e.until - now) + 1) from None
        text = r.text("code_sms", sign=self.city.sms_sign, code=code, minutes=r.code_valid_minutes)
        self.texter.send_sms(number, text)
        log.info("verification code sent", extra={"requester": key[:12], "channel": channel})

    def confirm_verification(self, phone: str, code: str) -> Requester:
        """The requester, with a fresh bearer token, if `code` is the phone's pending code (single use)."""
        try:
            number = _mainland(phone)
        except InvalidComplaint:
            raise CodeRejected("the code is wrong or expired; ask for a new one") from None
        key = self.phone_keys.key(number)
        now = clock.epoch()
        pending = self.store.try_code(key, self.rules.code_max_tries, now)
        supplied = _hash(f"{key}#{code}")
        if pending is None or not hmac.compare_digest(pending["code_hash"], supplied):
            raise CodeRejected("the code is wrong or expired; ask for a new one")
        if not self.store.use_code(key, supplied):
            raise CodeRejected("the code is wrong or expired; ask for a new one")
        token = secrets.token_urlsafe(32)
        expires = now + self.rules.token_valid_days * 86400
        sealed = self.contacts.seal(sealing_id(key), {"phone": number})
        self.store.save_requester(_hash(token), {"id": key, "sealed_phone": sealed}, expires)
        log.info("requester verified", extra={"requester": key[:12]})
        return Requester(id=key, token=token, sealed_phone=sealed, expires_at=_iso(expires))

    def requester(self, token: str) -> Requester:
        found = self.store.requester(_hash(token)) if token else None
        if found is None or float(found["expires_at"]) <= clock.epoch():
            raise NotVerified("verify your phone first (POST /verify), then send the token as Authorization: Bearer")
        return Requester(
            id=found["id"], token="", sealed_phone=found["sealed_phone"], expires_at=_iso(float(found["expires_at"]))
        )

    # ---------------------------------------------------------------- requests
    def request(
        self, requester: Requester, plate: str, location: str, photo_base64: str | None, channel: str
    ) -> dict[str, Any]:
        """Notify the owner of the car with this plate that it blocks the way, within the limits; the request's view."""
        plate = normalise_plate(plate)
        location = _location(location)
        if photo_base64:
            # The same checks as a complaint's photo (413, 415); the photo is not kept (see the docs).
            process_photo(decode_base64_photo(photo_base64))
        now = clock.epoch()
        audit = {"requester": requester.id, "plate": plate, "at": _iso(now), "channel": channel}
        if self.store.blocked("phone", requester.id) or self.store.blocked("plate", plate):
            self.store.audit({**audit, "outcome": "blocked"})
            raise Blocked("car moving is not available for this request; call 122 if the way is blocked")
        owner = self.registry.owner_phone(plate)
        if owner is None:
            self.store.audit({**audit, "outcome": "plate_not_registered"})
            raise PlateNotRegistered(f"{plate} is not in the car-moving registry; call 122 if the way is blocked")
        r = self.rules
        request_id = secrets.token_hex(16)
        owner_code = secrets.token_urlsafe(24)
        request = {
            "id": request_id,
            "requester": requester.id,
            "plate": plate,
            "location": location,
            "channel": channel,
            "status": "notified",
            "created_at": _iso(now),
            "notified_at": now,
            "owner_sealed": owner,
        }
        month = self._local_month(now)
        try:
            self.store.create_request(
                request,
                self._notice(request, owner_code, "notified", now),
                _hash(owner_code),
                f"{requester.id}#{month}",
                r.requests_per_month,
                self._month_end(now) + 86400,
                now + r.plate_interval_minutes * 60,
                now,
            )
        except StoreRefused as e:
            self.store.audit({**audit, "outcome": f"limit_{e.which}"})
            if e.which == "month":
                message = f"at most {r.requests_per_month} car-moving requests a month"
            else:
                message = f"the owner of {plate} was notified a few minutes ago; please wait"
            raise LimitReached(message, int(e.until - now) + 1) from None
        self.store.audit({**audit, "outcome": "notified", "request_id": request_id})
        log.info("car-moving request", extra={"request_id": request_id})
        return self._view(request)

    def view(self, requester: Requester, request_id: str) -> dict[str, Any]:
        return self._view(self._own(requester, request_id))

    def remind(self, requester: Requester, request_id: str) -> dict[str, Any]:
        """Notify the owner once more (催单), once, from `remind_after_minutes` after the first notice."""
        request = self._own(requester, request_id)
        now = self._ready(request, "a reminder")
        if request.get("reminded_at") is not None:
            raise NotYet("the owner was reminded already; hand the request to the traffic police instead", None)
        owner_code = secrets.token_urlsafe(24)
        notice = self._notice(request, owner_code, "reminded", now)
        changes = {"reminded_at": now}
        expect = {"status": "notified", "reminded_at": None}
        if not self.store.update_request(request_id, expect, changes, notice, _hash(owner_code)):
            return self.view(requester, request_id)  # the owner confirmed, or another call reminded meanwhile
        self.store.audit(self._audit(request, "reminded", now))
        return self._view({**request, **changes})

    def to_police(self, requester: Requester, request_id: str) -> dict[str, Any]:
        """Hand the request to the traffic police (交警大队) as a ticket: not public, the requester as contact."""
        from complaints.domain.desk.intake import NewComplaint

        request = self._own(requester, request_id)
        now = self._ready(request, "the hand-over to the traffic police")
        if not self.store.update_request(request_id, {"status": "notified"}, {"status": "to_police", "police_at": now}):
            return self.view(requester, request_id)
        r = self.rules
        phone = self.contacts.open(sealing_id(requester.id), requester.sealed_phone)["phone"]
        text = r.text(
            "police_text",
            plate=request["plate"],
            location=request["location"],
            minutes=int((now - float(request["notified_at"])) // 60),
        )
        try:
            receipt = self.intake.submit(
                NewComplaint(text=text, channel="app", contact={"phone": phone}, public=False, service=r.police_service)
            )
        except Exception:
            # Back to notified, so that the requester may try again.
            self.store.update_request(request_id, {"status": "to_police"}, {"status": "notified", "police_at": None})
            raise
        changes = {"status": "police", "ticket_id": receipt.id, "ticket_no": receipt.ticket_no}
        self.store.update_request(request_id, {"status": "to_police"}, changes)
        self.store.audit(self._audit(request, "police", now))
        log.info("car-moving request handed to the police", extra={"request_id": request_id, "ticket_id": receipt.id})
        return {**self._view({**request, **changes}), "receipt": receipt.receipt}

    # ---------------------------------------------------------------- the owner's link
    def owner_page(self, owner_code: str) -> dict[str, Any]:
        """What the owner's link shows: the plate and whether it is confirmed (never the requester)."""
        request = self._by_owner_code(owner_code)
        r = self.rules
        moved = request["status"] == "moved"
        text = r.text("moved_page") if moved else r.text("confirm_page", plate=request["plate"])
        return {"plate": request["plate"], "moved": moved, "text": text}

    def owner_confirms(self, owner_code: str) -> dict[str, Any]:
        request = self._by_owner_code(owner_code)
        now = clock.epoch()
        if request["status"] == "notified" and self.store.update_request(
            request["id"], {"status": "notified"}, {"status": "moved", "moved_at": now}
        ):
            self.store.audit(self._audit(request, "moved", now))
        return self.owner_page(owner_code)

    # ---------------------------------------------------------------- helpers
    def _by_owner_code(self, owner_code: str) -> dict[str, Any]:
        request = self.store.request_by_owner_code(_hash(owner_code)) if _OWNER_CODE.match(owner_code or "") else None
        if request is None:
            raise CarMovingNotFound("this link is not valid")
        return request

    def _own(self, requester: Requester, request_id: str) -> dict[str, Any]:
        request = self.store.request(request_id) if _REQUEST_ID.match(request_id or "") else None
        if request is None or not hmac.compare_digest(request["requester"], requester.id):
            raise CarMovingNotFound("no car-moving request with this id")
        return request

    def _ready(self, request: dict[str, Any], what: str) -> float:
        now = clock.epoch()
        if request["status"] != "notified":
            raise NotYet(f"{what} is not possible: the request is {request['status']}", None)
        at = float(request["notified_at"]) + self.rules.remind_after_minutes * 60
        if now < at:
            raise NotYet(f"{what} is possible from {_iso(at)}", _iso(at))
        return now

    def _notice(self, request: dict[str, Any], owner_code: str, kind: str, now: float) -> dict[str, Any]:
        """What the notifier sends the owner: the texts are written here, with the link, and hold no number."""
        r = self.rules
        values = {"sign": self.city.sms_sign, "plate": request["plate"], "location": request["location"]}
        link = f"{self.owner_link_base.rstrip('/')}/car-moving/owner/{owner_code}"
        sms, voice = ("owner_sms", "owner_voice") if kind == "notified" else ("reminder_sms", "reminder_voice")
        return {
            "request_id": request["id"],
            "key": kind,
            "plate": request["plate"],
            "owner_sealed": request["owner_sealed"],
            "sms": r.text(sms, **values, link=link),
            "voice": r.text(voice, **values),
            "at": now,
        }

    def _audit(self, request: dict[str, Any], outcome: str, now: float) -> dict[str, Any]:
        return {
            "requester": request["requester"],
            "plate": request["plate"],
            "at": _iso(now),
            "channel": request.get("channel", "app"),
            "outcome": outcome,
            "request_id": request["id"],
        }

    def _view(self, request: dict[str, Any]) -> dict[str, Any]:
        """The request as its requester sees it: never the owner's phone, sealed or not."""
        notified = float(request["notified_at"])
        can_remind_at = notified + self.rules.remind_after_minutes * 60
        status = "notified" if request["status"] == "to_police" else request["status"]
        view = {
            "id": request["id"],
            "plate": request["plate"],
            "location": request["location"],
            "status": status,
            "created_at": request["created_at"],
            "can_remind_at": _iso(can_remind_at) if status == "notified" else None,
            "reminded_at": _iso(float(request["reminded_at"])) if request.get("reminded_at") is not None else None,
            "moved_at": _iso(float(request["moved_at"])) if request.get("moved_at") is not None else None,
            "ticket_no": int(request["ticket_no"]) if request.get("ticket_no") is not None else None,
        }
        return view

    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.city.calendar.time_zone)

    def _local_day(self, epoch: float) -> str:
        return datetime.fromtimestamp(epoch, self._zone()).date().isoformat()

    def _local_month(self, epoch: float) -> str:
        return datetime.fromtimestamp(epoch, self._zone()).strftime("%Y-%m")

    def _month_end(self, epoch: float) -> float:
        local = datetime.fromtimestamp(epoch, self._zone())
        first_next = (local.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0, second=0)
        return first_next.timestamp()


def _mainland(phone: str) -> str:
    """The phone in E.164 (`+8613812345678`), as citizen_channels.e164 writes it, for mainland mobiles only: the
    code and the owner's call go to numbers in China, and a number in one form keys the limits once."""
    digits = re.sub(r"[\s\-()]", "", phone) if isinstance(phone, str) and len(phone) <= 32 else ""
    found = _MAINLAND_INPUT.match(digits)
    if found is None:
        raise InvalidComplaint("phone must be a mainland mobile number, such as 138 1234 5678")
    return "+86" + found.group(1)


def _location(location: str) -> str:
    value = unicodedata.normalize("NFC", location or "").strip() if isinstance(location, str) else ""
    if not value or _CONTROL.search(value) or len(value) > MAX_LOCATION_CHARS:
        raise InvalidComplaint(f"location must say where the car is, in 1 to {MAX_LOCATION_CHARS} characters")
    return value

"""In-memory implementations of the ports, for unit tests of the domain and for trying the desk in a REPL."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

from complaints.domain.errors import PhotoTooLarge
from complaints.domain.lifecycle import Move, TicketMoves, refused
from complaints.domain.outbox import OutboxMessage, message_key
from complaints.domain.ports import Hit
from complaints.domain.tickets import HistoryEntry, LabelledTicket, Ticket
from complaints.domain.wechat_token import StoredToken


class MemoryTicketRepository(TicketMoves):
    def __init__(self, first_ticket_no: int = 1) -> None:
        self.items: dict[str, Ticket] = {}
        self.messages: dict[str, OutboxMessage] = {}  # the outbox, by table key
        self._next = first_ticket_no

    def next_ticket_no(self) -> int:
        n, self._next = self._next, self._next + 1
        return n

    def create(self, ticket: Ticket, messages: Sequence[OutboxMessage] = ()) -> None:
        if ticket.id in self.items or any(message_key(m.ticket_id, m.key) in self.messages for m in messages):
            raise KeyError(ticket.id)
        self.items[ticket.id] = copy.deepcopy(ticket)
        for m in messages:
            self.messages[message_key(m.ticket_id, m.key)] = m

    def get(self, ticket_id: str) -> Ticket | None:
        t = self.items.get(ticket_id)
        return copy.deepcopy(t) if t else None

    def delete(self, ticket_id: str) -> None:
        self.items.pop(ticket_id, None)

    def _write(
        self,
        ticket_id: str,
        move: Move,
        entry: HistoryEntry | None,
        fields: dict[str, Any],
        expect: dict[str, Any],
        messages: list[OutboxMessage],
    ) -> None:
        t = self.items.get(ticket_id)
        if t is None or t.status not in move.sources or any(getattr(t, k) != v for k, v in expect.items()):
            raise refused(move, t.status if t else None)
        if any(message_key(m.ticket_id, m.key) in self.messages for m in messages):
            raise KeyError("message exists")
        data = t.model_dump() | fields
        data["status"] = move.target or t.status
        data["history"] = [*t.history, entry] if entry is not None else t.history
        self.items[ticket_id] = Ticket.model_validate(data)
        for m in messages:
            self.messages[message_key(m.ticket_id, m.key)] = m

    def inbox(
        self, agency: str, status: str | None, overdue: bool, limit: int, cursor: dict[str, str] | None
    ) -> tuple[list[Ticket], dict[str, str] | None]:
        # As the indexes hold them: `inbox` by `agency`, `inbox_status` by `agency_status` (what the moves wrote).
        found = sorted(
            (
                t
                for t in self.items.values()
                if t.agency == agency and (not status or t.agency_status == f"{agency}#{status}")
            ),
            key=lambda t: (t.created_at, t.id),
            reverse=True,
        )
        found = [t for t in found if not overdue or t.overdue]
        if cursor:
            found = [t for t in found if (t.created_at, t.id) < (cursor["created_at"], cursor["pk"][7:])]
        page = [copy.deepcopy(t) for t in found[:limit]]
        more = len(found) > limit
        last = page[-1] if page else None
        partition = {"agency_status": f"{agency}#{status}"} if status else {"agency": agency}
        return page, (
            {"pk": f"ticket#{last.id}", **partition, "created_at": last.created_at} if more and last else None
        )

    def due_before(self, at: str, limit: int = 100) -> list[str]:
        due = sorted((t.due_at, t.id) for t in self.items.values() if t.due_at and t.due_at <= at)
        return [ticket_id for _, ticket_id in due[:limit]]

    def labelled(self, since: str | None = None, page_size: int = 500) -> Iterator[LabelledTicket]:
        # As the `labelled` index holds them: the tickets whose moves wrote labelled_pk, by labelled_at.
        held = sorted(
            (t for t in self.items.values() if t.labelled_pk and (since is None or t.labelled_at >= since)),
            key=lambda t: (t.labelled_at, t.id),
        )
        for t in held:
            yield LabelledTicket.model_validate(t.model_dump(include=set(LabelledTicket.model_fields)))


class MemoryOutbox:
    """The deliveries of the messages a MemoryTicketRepository holds (see desk.messenger.Outbox)."""

    def __init__(self, tickets: MemoryTicketRepository) -> None:
        self.tickets = tickets
        self.state: dict[str, dict[str, dict[str, Any]]] = {}

    def deliveries(self, ticket_id: str, key: str) -> dict[str, dict[str, Any]] | None:
        k = message_key(ticket_id, key)
        return copy.deepcopy(self.state.setdefault(k, {})) if k in self.tickets.messages else None

    def claim(self, ticket_id: str, key: str, delivery: str, claim: str, stale_claim: str | None = None) -> None:
        from complaints.domain import clock
        from complaints.domain.deliveries import DeliveryTaken

        held = self.state.setdefault(message_key(ticket_id, key), {})
        current = held.get(delivery)
        if (current is not None or stale_claim is not None) and (current or {}).get("claim") != stale_claim:
            raise DeliveryTaken(f"{key}/{delivery}")
        held[delivery] = {"state": "sending", "claim": claim, "since": clock.epoch()}

    def record(self, ticket_id: str, key: str, delivery: str, claim: str, state: str, detail: str | None) -> None:
        held = self.state.setdefault(message_key(ticket_id, key), {})
        if held.get(delivery, {}).get("claim") == claim:
            held[delivery] = {"state": state, **({"detail": detail} if detail else {})}

    def release(self, ticket_id: str, key: str, delivery: str, claim: str) -> None:
        held = self.state.setdefault(message_key(ticket_id, key), {})
        if held.get(delivery, {}).get("claim") == claim:
            del held[delivery]


class MemoryCitizenChannels:
    """Records what would be sent to citizens; `fail` makes the next sends of a channel raise."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail: dict[str, Exception] = {}

    def _send(self, channel: str, **what: Any) -> str:
        if channel in self.fail:
            raise self.fail[channel]
        self.sent.append({"channel": channel, **what})
        return f"{channel}-{len(self.sent)}"

    def send_sms(self, phone: str, text: str, ticket_no: int) -> str:
        return self._send("sms", to=phone, text=text, ticket_no=ticket_no)

    def send_email(self, address: str, subject: str, body: str, ticket_no: int) -> str:
        return self._send("email", to=address, subject=subject, text=body, ticket_no=ticket_no)

    def queue_comment(self, mention_id: str, key: str, text: str, ticket_no: int) -> bool:
        if any(s.get("key") == key for s in self.sent):
            return False
        self._send("weibo", to=mention_id, key=key, text=text, ticket_no=ticket_no)
        return True


class MemoryPhotoStore:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.forms: dict[str, dict[str, Any]] = {}

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = (data, content_type)

    def read(self, key: str, max_bytes: int) -> bytes:
        data = self.objects[key][0]
        if len(data) > max_bytes:
            raise PhotoTooLarge(f"photo is larger than {max_bytes // (1024 * 1024)} MB")
        return data

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def upload_form(self, key: str, content_type: str, max_bytes: int, expires_s: int) -> dict[str, Any]:
        self.forms[key] = {"content_type": content_type, "max_bytes": max_bytes, "expires_s": expires_s}
        return {"url": "memory://upload", "fields": {"key": key, "Content-Type": content_type}}

    def link(self, key: str, expires_s: int) -> str:
        return f"memory://{key}?expires={expires_s}"

    def lasting_link(self, key: str, expires_s: int) -> str:
        return f"memory://{key}?expires={expires_s}&lasting=1"


class MemoryQueue:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.delays: list[int] = []

    def send(self, body: dict[str, Any], delay_s: int = 0) -> None:
        self.messages.append(body)
        self.delays.append(delay_s)


class MemoryNotifier:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, channel: str, subject: str, messages: dict[str, str], attributes: dict[str, str]) -> None:
        self.published.append({"channel": channel, "subject": subject, "messages": messages, "attributes": attributes})

    def publish_batch(self, channel: str, notices: list[Any]) -> list[str]:
        # Entry by entry through `publish`, as SNS's PublishBatch does: an entry that fails is reported, the call
        # fails as a whole only if every entry did.
        failed: list[str] = []
        error: Exception | None = None
        for n in notices:
            try:
                self.publish(channel, n.subject, n.messages, n.attributes)
            except Exception as e:
                failed.append(n.audience)
                error = error or e
        if error is not None and len(failed) == len(notices):
            raise error
        return failed


class MemoryContactVault:
    """Not encryption: a stand-in that keeps the plain details out of the ticket, as the KMS vault does."""

    def __init__(self) -> None:
        self.sealed: dict[str, dict[str, str]] = {}

    def seal(self, ticket_id: str, contact: dict[str, str]) -> str:
        token = f"sealed:{ticket_id}:{len(self.sealed)}"
        self.sealed[token] = dict(contact)
        return token

    def open(self, ticket_id: str, sealed: str) -> dict[str, str]:
        if not sealed.startswith(f"sealed:{ticket_id}:"):
            raise PermissionError("sealed for another ticket")
        return dict(self.sealed[sealed])


class MemoryBoardStore:
    """The board's entries and postings in dicts, read as BoardTable's indexes read them (see ports.BoardStore)."""

    def __init__(self) -> None:
        self.items: dict[int, dict[str, Any]] = {}
        self.postings_of: dict[str, dict[str, int]] = {}  # term → {order: ticket_no}

    def entry(self, ticket_no: int, consistent: bool = False) -> dict[str, Any] | None:
        return copy.deepcopy(self.items.get(ticket_no))

    def entries(self, ticket_nos: list[int]) -> list[dict[str, Any]]:
        return [copy.deepcopy(self.items[n]) for n in ticket_nos if n in self.items]

    def save(self, entry: dict[str, Any]) -> bool:
        stored = self.items.get(entry["ticket_no"])
        if stored is not None and stored["version"] > entry["version"]:
            return False
        self.items[entry["ticket_no"]] = copy.deepcopy(entry)
        return True

    def post(self, terms: list[str], order: str, ticket_no: int) -> None:
        for term in terms:
            self.postings_of.setdefault(term, {})[order] = ticket_no

    def unpost(self, terms: list[str], order: str) -> None:
        for term in terms:
            self.postings_of.get(term, {}).pop(order, None)

    def index_page(
        self, index: str, value: str, filters: dict[str, str], after: str | None, limit: int
    ) -> tuple[list[Hit], str | None]:
        rows = sorted(((e["order"], e) for e in self.items.values() if e.get(index) == value), reverse=True)
        return self._page(
            [(o, e["ticket_no"], all(e.get(k) == v for k, v in filters.items())) for o, e in rows], after, limit
        )

    def postings(self, term: str, after: str | None, limit: int) -> tuple[list[Hit], str | None]:
        rows = sorted(self.postings_of.get(term, {}).items(), reverse=True)
        return self._page([(o, n, True) for o, n in rows], after, limit)

    @staticmethod
    def _page(rows: list[tuple[str, int, bool]], after: str | None, limit: int) -> tuple[list[Hit], str | None]:
        rows = [r for r in rows if after is None or r[0] < after]
        read = rows[:limit]
        hits = [Hit(order, n) for order, n, keep in read if keep]
        return hits, read[-1][0] if len(rows) > limit else None


class MemoryTokenStore:
    """WeChat's access-token record (domain.wechat_token.TokenStore) in memory."""

    def __init__(self) -> None:
        self.stored: StoredToken | None = None

    def current(self) -> StoredToken | None:
        return self.stored

    def replace(self, token: str, expires_at: float, expected_version: int | None) -> bool:
        version = self.stored.version if self.stored else None
        if version != expected_version:
            return False
        self.stored = StoredToken(token, expires_at, (version or 0) + 1)
        return True


class MemoryCarMovingStore:
    """car_moving.CarMovingStore in memory: each method all-or-nothing, as the DynamoDB transactions are."""

    def __init__(self) -> None:
        self.codes: dict[str, dict[str, Any]] = {}
        self.holds: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.requesters: dict[str, dict[str, Any]] = {}
        self.blocks: dict[tuple[str, str], str] = {}
        self.requests: dict[str, dict[str, Any]] = {}
        self.owner_links: dict[str, str] = {}
        self.notices: list[dict[str, Any]] = []
        self.audits: list[dict[str, Any]] = []

    def _check_hold(self, key: str, now: float, which: str) -> None:
        from complaints.domain.desk.car_moving import StoreRefused

        if self.holds.get(key, 0) > now:
            raise StoreRefused(which, self.holds[key])

    def start_code(self, phone_key, code_hash, expires_at, interval_until, day, per_day) -> None:
        from complaints.domain import clock
        from complaints.domain.desk.car_moving import StoreRefused

        now = clock.epoch()
        self._check_hold(f"code#{phone_key}", now, "minute")
        if self.counts.get(f"day#{phone_key}#{day}", 0) >= per_day:
            raise StoreRefused("day", now + 86400)
        self.holds[f"code#{phone_key}"] = interval_until
        self.counts[f"day#{phone_key}#{day}"] = self.counts.get(f"day#{phone_key}#{day}", 0) + 1
        self.codes[phone_key] = {"code_hash": code_hash, "expires_at": expires_at, "tries": 0}

    def try_code(self, phone_key, max_tries, now):
        code = self.codes.get(phone_key)
        if code is None or code["expires_at"] <= now or code["tries"] >= max_tries:
            return None
        code["tries"] += 1
        return dict(code)

    def use_code(self, phone_key, code_hash) -> bool:
        code = self.codes.get(phone_key)
        if code is None or code["code_hash"] != code_hash:
            return False
        del self.codes[phone_key]
        return True

    def save_requester(self, token_hash, requester, expires_at) -> None:
        self.requesters[token_hash] = {**requester, "expires_at": expires_at}

    def requester(self, token_hash):
        found = self.requesters.get(token_hash)
        return dict(found) if found else None

    def blocked(self, kind, key) -> bool:
        return (kind, key) in self.blocks

    def block(self, kind, key, reason) -> None:
        self.blocks[(kind, key)] = reason

    def unblock(self, kind, key) -> None:
        self.blocks.pop((kind, key), None)

    def create_request(
        self, request, notice, owner_code_hash, month_key, month_limit, month_expires, plate_until, now
    ) -> None:
        from complaints.domain.desk.car_moving import StoreRefused

        if self.counts.get(f"month#{month_key}", 0) >= month_limit:
            raise StoreRefused("month", month_expires)
        self._check_hold(f"plate#{request['plate']}", now, "plate")
        self.counts[f"month#{month_key}"] = self.counts.get(f"month#{month_key}", 0) + 1
        self.holds[f"plate#{request['plate']}"] = plate_until
        self.requests[request["id"]] = copy.deepcopy(request)
        self.owner_links[owner_code_hash] = request["id"]
        self.notices.append(copy.deepcopy(notice))

    def request(self, request_id):
        found = self.requests.get(request_id)
        return copy.deepcopy(found) if found else None

    def request_by_owner_code(self, owner_code_hash):
        request_id = self.owner_links.get(owner_code_hash)
        return self.request(request_id) if request_id else None

    def update_request(self, request_id, expect, changes, notice=None, owner_code_hash=None) -> bool:
        found = self.requests.get(request_id)
        if found is None or any(found.get(k) != v for k, v in expect.items()):
            return False
        found.update(changes)
        if notice is not None:
            self.notices.append(copy.deepcopy(notice))
        if owner_code_hash is not None:
            self.owner_links[owner_code_hash] = request_id
        return True

    def audit(self, entry) -> None:
        self.audits.append(dict(entry))

"""The ticket lifecycle in one table: every state, every move between states, who may make it, what it records.

A ticket is created in `received` or `awaiting_photo` (intake); from then on it changes state only by a move of
`MOVES`, made by a named method of the TicketRepository (ports.py) as one conditional write: the ticket must still be
in one of the move's source states (and, for the routing claim, still held by the worker that expects it). Of two
actors racing, one wins; the other gets MoveNotAllowed naming the state the ticket is in now.

A move in `recorded` appends a HistoryEntry (time, move, actor, note); the routing claim is a lease, not a step, and
leaves no trace in the history. An extension (延期) changes a ticket's deadline, not its state: it is not a move.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from complaints.domain.errors import MoveNotAllowed
from complaints.domain.outbox import OutboxMessage
from complaints.domain.tickets import SYSTEM as BY_SYSTEM
from complaints.domain.tickets import Actor, ActorKind, HistoryEntry, Status, TicketPhoto, now_iso

S = Status
SYSTEM, AGENCY, TRIAGE, CITIZEN = ActorKind.SYSTEM, ActorKind.AGENCY, ActorKind.TRIAGE, ActorKind.CITIZEN

# The states intake creates a ticket in: with a photo on its way straight to S3, or without.
INITIAL = frozenset({S.RECEIVED, S.AWAITING_PHOTO})
# The states of a ticket on the public board: from its dispatch (or its arrival in triage) on, to its close.
ON_BOARD = frozenset({S.DISPATCHED, S.TRIAGE, S.ACCEPTED, S.ANSWERED, S.RETURNED, S.REOPENED, S.CLOSED})


@dataclass(frozen=True)
class Move:
    name: str
    sources: frozenset[Status]
    target: Status | None  # None: an event, which leaves the ticket in its state (EVENTS)
    actors: frozenset[ActorKind]
    recorded: bool = True  # False: a claim on the ticket, not a step in its history
    needs_note: bool = False  # the move is not made without saying why (a return's reason, an answer's text)

    def permits(self, state: Status | None, actor: ActorKind) -> bool:
        return state in self.sources and actor in self.actors


def refused(move: Move, state: Status | str | None) -> MoveNotAllowed:
    """The error for a move that a ticket's state (reported by a failed conditional write) does not allow."""
    if state is None:
        return MoveNotAllowed(f"no ticket to {move.name}", move.name, None)
    state = Status(state)
    if state in move.sources:  # the state was right, an expectation was not
        routing = S.ROUTING in move.sources or move.target is S.ROUTING
        why = "its routing claim is another worker's" if routing else "it changed hands meanwhile"
        return MoveNotAllowed(f"the ticket is {state.value} and {why}", move.name, state.value)
    needed = " or ".join(sorted(s.value for s in move.sources))
    return MoveNotAllowed(f"the ticket is {state.value}; {move.name} needs it {needed}", move.name, state.value)


def _move(name, sources, target, actors, **kw) -> Move:
    return Move(name, frozenset(sources), target, frozenset(actors), **kw)


MOVES: dict[str, Move] = {
    m.name: m
    for m in (
        # ---- a photo uploaded straight to S3 (photo function), or the wait for it over (classify function)
        _move("attach_photo", {S.AWAITING_PHOTO}, S.RECEIVED, {SYSTEM}),
        _move("refuse_photo", {S.AWAITING_PHOTO}, S.PHOTO_REJECTED, {SYSTEM}),
        _move("end_photo_wait", {S.AWAITING_PHOTO}, S.RECEIVED, {SYSTEM}),
        # ---- classify
        _move("classify", {S.RECEIVED, S.PHOTO_REJECTED}, S.CLASSIFIED, {SYSTEM}),
        # ---- route: claim (or take over a claim whose lease is over), publish, then record or release
        _move("claim_routing", {S.CLASSIFIED}, S.ROUTING, {SYSTEM}, recorded=False),
        _move("take_over_routing", {S.ROUTING}, S.ROUTING, {SYSTEM}, recorded=False),
        _move("release_routing", {S.ROUTING}, S.CLASSIFIED, {SYSTEM}, recorded=False),
        _move("dispatch", {S.ROUTING}, S.DISPATCHED, {SYSTEM}),
        _move("send_to_triage", {S.ROUTING}, S.TRIAGE, {SYSTEM}),
        # ---- the agency's side (issue 11)
        _move("accept", {S.DISPATCHED, S.REOPENED}, S.ACCEPTED, {AGENCY}),  # 签收
        _move("answer", {S.ACCEPTED}, S.ANSWERED, {AGENCY}, needs_note=True),  # 答复
        _move("return", {S.DISPATCHED, S.ACCEPTED}, S.RETURNED, {AGENCY}, needs_note=True),  # 退单, with the reason
        _move("return_to_triage", {S.RETURNED}, S.TRIAGE, {SYSTEM}),
        _move("reassign", {S.TRIAGE}, S.DISPATCHED, {TRIAGE}),  # 改派, to any agency
        _move("reopen", {S.ANSWERED}, S.REOPENED, {CITIZEN}, needs_note=True),  # 重办
        # Not satisfied once more than the city's reopen limit allows: the triage desk decides who takes it on.
        _move("reopen_past_limit", {S.ANSWERED}, S.TRIAGE, {CITIZEN}, needs_note=True),
        _move("close", {S.ANSWERED}, S.CLOSED, {CITIZEN, SYSTEM}),  # 办结: the citizen rates it, or the deadline
    )
}


def allowed(source: Status, target: Status) -> bool:
    """Whether any move leads from `source` to `target`."""
    return any(source in m.sources and m.target is target for m in MOVES.values())


def moves_from(state: Status, actor: ActorKind) -> list[str]:
    """The moves and events `actor` may make on a ticket in `state`: what a workspace offers as buttons."""
    return [m.name for m in (*MOVES.values(), *EVENTS.values()) if m.permits(state, actor)]


def step(move: Move, actor: Actor, note: str | None, state: Status | None = None) -> HistoryEntry | None:
    """The history entry `move` appends (None for a claim), after checking who makes it and that it says why.
    `state`: the ticket's state, for an event (which leaves it there)."""
    if actor.kind not in move.actors:  # refused before anything is read or written: the state is not known
        raise MoveNotAllowed(f"{actor.kind.value} may not {move.name} a ticket", move.name, None)
    if move.needs_note and not note:
        raise ValueError(f"{move.name} needs a note saying why")
    if not move.recorded:
        return None
    status = move.target or state
    if status is None:
        raise ValueError(f"{move.name} leaves the ticket in its state: say which")
    return HistoryEntry(status=status, at=now_iso(), move=move.name, actor=actor, note=note)


# Events: what happens to a ticket without changing its state, made and recorded the same way as a move (one
# conditional write, a history entry with the ticket's state). The scheduler's reminder (催办) and escalation (督办)
# and the agency's extension (延期).
EVENTS: dict[str, Move] = {
    m.name: m
    for m in (
        _move("extend", {S.DISPATCHED, S.ACCEPTED, S.REOPENED}, None, {AGENCY}, needs_note=True),
        _move("remind", {S.DISPATCHED, S.REOPENED}, None, {SYSTEM}),
        _move("escalate", {S.DISPATCHED, S.ACCEPTED, S.REOPENED}, None, {SYSTEM}),
        # Moderation: the triage desk takes a ticket off the public board, or puts it back, saying why.
        _move("hide", ON_BOARD, None, {TRIAGE}, needs_note=True),
        _move("unhide", ON_BOARD, None, {TRIAGE}, needs_note=True),
    )
}

# Removes the claim fields when a ticket leaves `routing`.
_NO_CLAIM = {"routing_claim": None, "routing_since": None}
# Removes a ticket from the scheduler's index (nothing is due).
NOTHING_DUE = {"due": None, "due_at": None, "due_pk": None}


def due(what: str, at: str) -> dict[str, Any]:
    """The fields that put a ticket in the scheduler's `due` index: `what` falls due at `at` (ISO 8601, UTC)."""
    return {"due": what, "due_at": at, "due_pk": "due"}


# The one partition of the `labelled` index. One is enough: labels are people's decisions (a triage assignment, an
# agency's return), a few a minute at the busiest desk, far below what one index partition takes (1,000 writes/s);
# and an export since a date is then one Query on the sort key, in time order, with no months to walk.
LABELLED = "labelled"


def labelled(labels: list[Any]) -> dict[str, Any]:
    """The fields that put a ticket with routing labels in the `labelled` index, sorted by its latest label's time
    (labels are dicts as stored, or RoutingLabel); none when it has no label."""
    times = [label["at"] if isinstance(label, dict) else label.at for label in labels]
    return {"labelled_pk": LABELLED, "labelled_at": max(times)} if times else {}


def inbox(agency: str, status: Status) -> dict[str, Any]:
    """The fields of the agency inbox indexes: whose inbox holds the ticket, and in which state."""
    return {"agency": agency, "agency_status": f"{agency}#{status.value}"}


class TicketMoves:
    """The named moves of ports.TicketRepository (documented there), each one a move of MOVES or an event of EVENTS.
    An adapter supplies `_write`, the conditional write; the rules (which move, who, what it records, which fields)
    are all here."""

    def _write(
        self,
        ticket_id: str,
        move: Move,
        entry: HistoryEntry | None,
        fields: dict[str, Any],
        expect: dict[str, Any],
        messages: list[OutboxMessage],
    ) -> None:
        """In one atomic write: if the ticket is in one of `move.sources` and every field of `expect` holds its
        value (None: the field is absent), set its status to `move.target` (None: leave it) and `fields` (None
        removes one), append `entry` unless it is None, and create each of `messages` in the outbox (a message that
        exists already fails the write). Otherwise change nothing and raise `refused(move, current state)`."""
        raise NotImplementedError

    def _make(
        self,
        ticket_id: str,
        name: str,
        actor: Actor = BY_SYSTEM,
        note: str | None = None,
        fields: dict[str, Any] | None = None,
        expect: dict[str, Any] | None = None,
        messages: list[OutboxMessage] | None = None,
        state: Status | None = None,
    ) -> None:
        move = MOVES.get(name) or EVENTS[name]
        fields = dict(fields or {})
        if move.target is not None and "agency" in fields:
            fields.update(inbox(fields["agency"], move.target))
        # A move that records a label keeps the labels index current in the same write.
        if fields.get("routing_labels"):
            fields.update(labelled(fields["routing_labels"]))
        self._write(ticket_id, move, step(move, actor, note, state), fields, expect or {}, messages or [])

    # ---- photo
    def attach_photo(self, ticket_id: str, fields: dict[str, Any]) -> None:
        self._make(ticket_id, "attach_photo", note="photo processed", fields=fields)

    def refuse_photo(self, ticket_id: str, photo: TicketPhoto) -> None:
        self._make(ticket_id, "refuse_photo", note=photo.reason, fields={"photo": _photo(photo)})

    def end_photo_wait(self, ticket_id: str, photo: TicketPhoto) -> None:
        self._make(ticket_id, "end_photo_wait", note=photo.reason, fields={"photo": _photo(photo)})

    # ---- classify
    def record_classification(self, ticket_id: str, fields: dict[str, Any], note: str) -> None:
        self._make(ticket_id, "classify", note=note, fields=fields)

    # ---- route
    def claim_routing(self, ticket_id: str, claim: str) -> None:
        self._make(ticket_id, "claim_routing", fields=_claim(claim), expect={"routing_claim": None})

    def take_over_routing(self, ticket_id: str, claim: str, stale_claim: str | None) -> None:
        self._make(ticket_id, "take_over_routing", fields=_claim(claim), expect={"routing_claim": stale_claim})

    def release_routing(self, ticket_id: str, claim: str, notified: list[str] | None = None) -> None:
        fields = _NO_CLAIM if notified is None else {**_NO_CLAIM, "notified": notified}
        self._make(ticket_id, "release_routing", fields=fields, expect={"routing_claim": claim})

    def record_dispatched(
        self, ticket_id: str, claim: str, note: str | None, assigned: dict[str, Any] | None = None
    ) -> None:
        fields = {**_NO_CLAIM, "triage_reason": None, **(assigned or {})}
        self._make(ticket_id, "dispatch", note=note, fields=fields, expect={"routing_claim": claim})

    def record_sent_to_triage(
        self, ticket_id: str, claim: str, note: str | None, reason: str | None, desk: str | None = None
    ) -> None:
        fields = {**_NO_CLAIM, "triage_reason": reason, **({"agency": desk} if desk else {})}
        self._make(ticket_id, "send_to_triage", note=note, fields=fields, expect={"routing_claim": claim})

    # ---- the agency's side. `agency`: the agency whose inbox holds the ticket; the move is refused if it has
    # left that inbox meanwhile (a reassignment won the race).
    def accept(
        self, ticket_id: str, actor: Actor, note: str | None = None, agency: str | None = None, **changes: Any
    ) -> None:
        self._agency_move(ticket_id, "accept", actor, note, agency, **changes)

    def answer(self, ticket_id: str, actor: Actor, answer: str, agency: str | None = None, **changes: Any) -> None:
        self._agency_move(ticket_id, "answer", actor, answer, agency, **changes)

    def return_ticket(
        self, ticket_id: str, actor: Actor, reason: str, agency: str | None = None, **changes: Any
    ) -> None:
        self._agency_move(ticket_id, "return", actor, reason, agency, **changes)

    def extend(self, ticket_id: str, actor: Actor, reason: str, agency: str, state: Status, **changes: Any) -> None:
        self._agency_move(ticket_id, "extend", actor, reason, agency, state=state, **changes)

    def _agency_move(
        self,
        ticket_id: str,
        name: str,
        actor: Actor,
        note: str | None,
        agency: str | None,
        fields: dict[str, Any] | None = None,
        expect: dict[str, Any] | None = None,
        messages: list[OutboxMessage] | None = None,
        state: Status | None = None,
    ) -> None:
        holder = agency or actor.agency
        fields = {"agency": holder, **(fields or {})} if MOVES.get(name) else dict(fields or {})
        expect = {"agency": holder, **(expect or {})}
        self._make(ticket_id, name, actor, note, fields, expect, messages, state)

    # ---- the triage desk, the citizen and the scheduler
    def return_to_triage(
        self, ticket_id: str, note: str | None = None, desk: str | None = None, **changes: Any
    ) -> None:
        fields = {**({"agency": desk} if desk else {}), **changes.pop("fields", {})}
        self._make(ticket_id, "return_to_triage", note=note, fields=fields, **changes)

    def reassign(self, ticket_id: str, actor: Actor, department: str, note: str | None = None, **changes: Any) -> None:
        fields = {"department": department, "triage_reason": None, **changes.pop("fields", {})}
        self._make(ticket_id, "reassign", actor, note or department, fields=fields, **changes)

    def reopen(self, ticket_id: str, actor: Actor, reason: str, **changes: Any) -> None:
        self._make(ticket_id, "reopen", actor, reason, **changes)

    def reopen_past_limit(self, ticket_id: str, actor: Actor, reason: str, **changes: Any) -> None:
        self._make(ticket_id, "reopen_past_limit", actor, reason, **changes)

    def close(self, ticket_id: str, actor: Actor, note: str | None = None, *, agency: str, **changes: Any) -> None:
        # `agency` (the holder's) moves the ticket to `closed` in that agency's inbox_status index too.
        changes["fields"] = {**NOTHING_DUE, "agency": agency, **changes.get("fields", {})}
        self._make(ticket_id, "close", actor, note, **changes)

    def remind(self, ticket_id: str, note: str, state: Status, **changes: Any) -> None:
        self._make(ticket_id, "remind", note=note, state=state, **changes)

    def escalate(self, ticket_id: str, note: str, state: Status, **changes: Any) -> None:
        self._make(ticket_id, "escalate", note=note, state=state, **changes)

    def hide(self, ticket_id: str, actor: Actor, reason: str, state: Status) -> None:
        # Refused if another moderator hid it meanwhile: one hide, one history entry.
        self._make(ticket_id, "hide", actor, reason, fields={"hidden": True}, expect={"hidden": None}, state=state)

    def unhide(self, ticket_id: str, actor: Actor, reason: str, state: Status) -> None:
        self._make(ticket_id, "unhide", actor, reason, fields={"hidden": None}, expect={"hidden": True}, state=state)


def _claim(claim: str) -> dict[str, Any]:
    return {"routing_claim": claim, "routing_since": now_iso()}


def _photo(photo: TicketPhoto) -> dict[str, Any]:
    return photo.model_dump(exclude_none=True)

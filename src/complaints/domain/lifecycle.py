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
from complaints.domain.tickets import SYSTEM as BY_SYSTEM
from complaints.domain.tickets import Actor, ActorKind, HistoryEntry, Status, TicketPhoto, now_iso

S = Status
SYSTEM, AGENCY, TRIAGE, CITIZEN = ActorKind.SYSTEM, ActorKind.AGENCY, ActorKind.TRIAGE, ActorKind.CITIZEN

# The states intake creates a ticket in: with a photo on its way straight to S3, or without.
INITIAL = frozenset({S.RECEIVED, S.AWAITING_PHOTO})


@dataclass(frozen=True)
class Move:
    name: str
    sources: frozenset[Status]
    target: Status
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
    if state in move.sources:  # the state was right, the routing claim was not
        return MoveNotAllowed(
            f"the ticket is {state.value} and its routing claim is another worker's", move.name, state.value
        )
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
        _move("close", {S.ANSWERED}, S.CLOSED, {CITIZEN, SYSTEM}),  # 办结: the citizen rates it, or the deadline
    )
}


def allowed(source: Status, target: Status) -> bool:
    """Whether any move leads from `source` to `target`."""
    return any(source in m.sources and m.target is target for m in MOVES.values())


def step(move: Move, actor: Actor, note: str | None) -> HistoryEntry | None:
    """The history entry `move` appends (None for a claim), after checking who makes it and that it says why."""
    if actor.kind not in move.actors:  # refused before anything is read or written: the state is not known
        raise MoveNotAllowed(f"{actor.kind.value} may not {move.name} a ticket", move.name, None)
    if move.needs_note and not note:
        raise ValueError(f"{move.name} needs a note saying why")
    if not move.recorded:
        return None
    return HistoryEntry(status=move.target, at=now_iso(), move=move.name, actor=actor, note=note)


# Removes the claim fields when a ticket leaves `routing`.
_NO_CLAIM = {"routing_claim": None, "routing_since": None}


class TicketMoves:
    """The named moves of ports.TicketRepository (documented there), each one a move of MOVES. An adapter supplies
    `_write`, the conditional write; the rules (which move, who, what it records, which fields) are all here."""

    def _write(
        self, ticket_id: str, move: Move, entry: HistoryEntry | None, fields: dict[str, Any], expect: dict[str, Any]
    ) -> None:
        """In one conditional write: if the ticket is in one of `move.sources` and every field of `expect` holds its
        value (None: the field is absent), set its status to `move.target` and `fields` (None removes one), and
        append `entry` unless it is None. Otherwise change nothing and raise `refused(move, current state)`."""
        raise NotImplementedError

    def _make(
        self,
        ticket_id: str,
        name: str,
        actor: Actor = BY_SYSTEM,
        note: str | None = None,
        fields: dict[str, Any] | None = None,
        expect: dict[str, Any] | None = None,
    ) -> None:
        move = MOVES[name]
        self._write(ticket_id, move, step(move, actor, note), fields or {}, expect or {})

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

    def record_dispatched(self, ticket_id: str, claim: str, note: str | None) -> None:
        fields = {**_NO_CLAIM, "triage_reason": None}
        self._make(ticket_id, "dispatch", note=note, fields=fields, expect={"routing_claim": claim})

    def record_sent_to_triage(self, ticket_id: str, claim: str, note: str | None, reason: str | None) -> None:
        fields = {**_NO_CLAIM, "triage_reason": reason}
        self._make(ticket_id, "send_to_triage", note=note, fields=fields, expect={"routing_claim": claim})

    # ---- the agency's side, the triage desk's and the citizen's (issue 11: their use cases come next)
    def accept(self, ticket_id: str, actor: Actor, note: str | None = None) -> None:
        self._make(ticket_id, "accept", actor, note)

    def answer(self, ticket_id: str, actor: Actor, answer: str) -> None:
        self._make(ticket_id, "answer", actor, answer)

    def return_ticket(self, ticket_id: str, actor: Actor, reason: str) -> None:
        self._make(ticket_id, "return", actor, reason)

    def return_to_triage(self, ticket_id: str, note: str | None = None) -> None:
        self._make(ticket_id, "return_to_triage", note=note)

    def reassign(self, ticket_id: str, actor: Actor, department: str, note: str | None = None) -> None:
        self._make(ticket_id, "reassign", actor, note or department, fields={"department": department})

    def reopen(self, ticket_id: str, actor: Actor, reason: str) -> None:
        self._make(ticket_id, "reopen", actor, reason)

    def close(self, ticket_id: str, actor: Actor, note: str | None = None) -> None:
        self._make(ticket_id, "close", actor, note)


def _claim(claim: str) -> dict[str, Any]:
    return {"routing_claim": claim, "routing_since": now_iso()}


def _photo(photo: TicketPhoto) -> dict[str, Any]:
    return photo.model_dump(exclude_none=True)

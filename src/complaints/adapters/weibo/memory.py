"""The mention ledger in memory, for unit tests of the poller."""

from __future__ import annotations

import threading

from complaints.domain.weibo import MentionRecord, PendingReply


class MemoryMentionLedger:
    def __init__(self) -> None:
        self.cursor_id: str | None = None
        self.records: dict[str, MentionRecord] = {}
        self.replies: dict[str, PendingReply] = {}
        self.abandoned: dict[str, str] = {}
        self._lock = threading.Lock()

    def cursor(self) -> str | None:
        return self.cursor_id

    def advance(self, mention_id: str) -> None:
        with self._lock:
            if self.cursor_id is None or int(mention_id) > int(self.cursor_id):
                self.cursor_id = mention_id

    def record(self, mention_id: str) -> MentionRecord | None:
        return self.records.get(mention_id)

    def claim(self, mention_id: str, ticket_id: str, now: float, lease_s: float) -> str | None:
        with self._lock:
            rec = self.records.get(mention_id)
            if rec is not None and not (rec.state == "claimed" and rec.claimed_at < now - lease_s):
                return None
            chosen = (rec.ticket_id if rec is not None else None) or ticket_id
            self.records[mention_id] = MentionRecord(state="claimed", claimed_at=now, ticket_id=chosen)
            return chosen

    def mark_skipped(self, mention_id: str, reason: str, now: float) -> None:
        self.records[mention_id] = MentionRecord(state="skipped", reason=reason)

    def mark_ticketed(self, mention_id: str, ticket_id: str, ticket_no: int, now: float) -> None:
        with self._lock:
            rec = self.records.get(mention_id)
            if rec is not None and rec.state == "ticketed":
                return
            self.records[mention_id] = MentionRecord(state="ticketed", ticket_id=ticket_id, ticket_no=ticket_no)
            self.replies[mention_id] = PendingReply(mention_id=mention_id, ticket_no=ticket_no, next_at=now)

    def pending_replies(self) -> list[PendingReply]:
        return list(self.replies.values())

    def reply_sent(self, mention_id: str, now: float) -> None:
        self.replies.pop(mention_id, None)

    def reply_failed(self, mention_id: str, attempts: int, next_at: float) -> None:
        if mention_id in self.replies:
            self.replies[mention_id] = self.replies[mention_id].model_copy(
                update={"attempts": attempts, "next_at": next_at}
            )

    def reply_abandoned(self, mention_id: str, reason: str, now: float) -> None:
        self.replies.pop(mention_id, None)
        self.abandoned[mention_id] = reason

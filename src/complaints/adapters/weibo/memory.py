"""The mention ledger in memory, for unit tests of the poller."""

from __future__ import annotations

import threading

from complaints.domain.weibo import MentionRecord, PendingReply, UnknownMention, check_comment, comment_key


class MemoryMentionLedger:
    def __init__(self) -> None:
        self.cursor_id: str | None = None
        self.records: dict[str, MentionRecord] = {}
        self.replies: dict[str, PendingReply] = {}  # by entry: the mention id, or comment#<key>
        self.abandoned: dict[str, str] = {}
        # Every key ever queued, and what became of its comment: queued | sent | abandoned.
        self.comments: dict[str, str] = {}
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

    def queue_comment(self, mention_id: str, key: str, text: str, ticket_no: int, now: float) -> bool:
        check_comment(mention_id, key, text)
        rec = self.records.get(mention_id)
        if rec is None or rec.state != "ticketed" or rec.ticket_no != ticket_no:
            raise UnknownMention("not the mention of that ticket")
        comment = PendingReply(mention_id=mention_id, ticket_no=ticket_no, next_at=now, text=text, key=key)
        with self._lock:
            if key in self.comments:
                return False
            self.comments[key] = "queued"
            self.replies[comment.entry] = comment
            return True

    def comment_state(self, key: str) -> str | None:
        return self.comments.get(key)

    def pending_replies(self) -> list[PendingReply]:
        return list(self.replies.values())

    def reply_sent(self, entry: str, now: float) -> None:
        self.replies.pop(entry, None)
        if (key := comment_key(entry)) is not None:
            self.comments[key] = "sent"

    def reply_failed(self, entry: str, attempts: int, next_at: float) -> None:
        if entry in self.replies:
            self.replies[entry] = self.replies[entry].model_copy(update={"attempts": attempts, "next_at": next_at})

    def reply_abandoned(self, entry: str, reason: str, now: float) -> None:
        self.replies.pop(entry, None)
        self.abandoned[entry] = reason
        if (key := comment_key(entry)) is not None:
            self.comments[key] = "abandoned"

"""The Weibo channel: each new @-mention becomes a ticket exactly once and gets a comment with its number.
Later comments under the same mention (the agency's answer, a closing) are queued by the answer loop's messenger
(`MentionLedger.queue_comment`) and posted here, through the same outbox.

One run (`poll`) pages back through the mentions newer than the cursor, handles them oldest first — a ticket
through the same intake use case the API uses, or a recorded skip — and moves the cursor past each one handled.
Then it posts the replies still pending. What makes it safe to crash anywhere and to overlap with another run:

- a claim (with a lease) on the mention stops two runs from creating the same ticket at the same time, and records
  the ticket id it chose — random, like every ticket's, so nobody can work it out from the public mention — so a
  rerun finds the ticket a crashed run created, or creates it with that same id;
- recording the ticket and queueing its reply is one write, and the reply is only ever queued once;
- replies are an outbox: a failed one is retried on a later run with backoff, and never holds up tickets; a
  queued comment is one more entry in it, posted with the same retries, backoff and abandoning.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from complaints.domain.desk.intake import Intake, NewComplaint, Receipt
from complaints.domain.errors import PhotoRejected, PhotoTooLarge, TemporarilyUnavailable
from complaints.domain.tickets import new_ticket_id
from complaints.domain.weibo import (
    MalformedMention,
    MentionLedger,
    PendingReply,
    PictureUnavailable,
    WeiboApi,
    WeiboRateLimited,
    WeiboRejected,
    WeiboStatus,
    WeiboTokenInvalid,
    WeiboUnavailable,
    clean_text,
    picture_url,
    reply_text,
    skip_reason,
)

log = logging.getLogger("complaints.weibo")

Mention = WeiboStatus | MalformedMention


@dataclass
class PollOutcome:
    """What one run did. `stopped` says why it ended early, if it did; the handler turns it into metrics."""

    fetched: int = 0
    created: int = 0
    recovered: int = 0
    skipped: int = 0
    already_handled: int = 0
    malformed: int = 0  # statuses not in the documented shape: skipped (recorded, when they had a usable id)
    replies_sent: int = 0
    replies_failed: int = 0
    replies_abandoned: int = 0
    stopped: str | None = None  # rate_limited | token_invalid | unavailable | rejected | busy | desk_unavailable
    incomplete: bool = False
    skip_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class WeiboChannel:
    intake: Intake
    api: WeiboApi
    ledger: MentionLedger
    account: str  # our account's screen name, as it appears in @-mentions
    page_size: int = 100
    # The API keeps about 2,000 mentions; 50 pages of 100 reach back further than it does.
    max_pages: int = 50
    attempts: int = 3  # per Weibo call, for 5xx and timeouts
    backoff_s: float = 1.0
    # Longer than the function's timeout: a claim older than this belongs to a run that is no longer running.
    lease_s: float = 120.0
    max_reply_attempts: int = 8
    reply_backoff_s: float = 60.0
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    def poll(self) -> PollOutcome:
        """One scheduled run. Never raises for Weibo's errors: it stops and says why in the outcome."""
        outcome = PollOutcome()
        try:
            mentions, complete = self._fetch_new(outcome)
            outcome.fetched, outcome.incomplete = len(mentions), not complete
            if not complete:
                log.error("more mentions than %d pages since the cursor; the cursor stays", self.max_pages)
            for status in mentions:
                if not self._handle(status, outcome):
                    break
                if complete:
                    self.ledger.advance(status.idstr)
        except WeiboRateLimited:
            log.warning("Weibo rate limit reached; backing off until the next run")
            outcome.stopped = "rate_limited"
        except WeiboTokenInvalid as e:
            log.error("Weibo access token rejected; renew it in the SSM parameter", extra={"error_code": e.code})
            outcome.stopped = "token_invalid"
        except WeiboUnavailable as e:
            log.warning("Weibo unavailable; retrying on the next run", extra={"error": str(e)})
            outcome.stopped = "unavailable"
        except WeiboRejected as e:
            log.error("Weibo refused the mentions request", extra={"error": str(e)})
            outcome.stopped = "rejected"
        if outcome.stopped not in ("rate_limited", "token_invalid"):
            self._send_replies(outcome)
        return outcome

    # ------------------------------------------------------------ mentions
    def _fetch_new(self, outcome: PollOutcome) -> tuple[list[Mention], bool]:
        """Mentions newer than the cursor, oldest first, and whether paging reached the cursor."""
        since_id = self.ledger.cursor()
        found: dict[int, Mention] = {}
        max_id: str | None = None
        for _ in range(self.max_pages):
            page = self._call(self.api.mentions, since_id, max_id, self.page_size)
            if page.unidentified:
                # Nothing to record them by: counted, and left behind with the cursor.
                outcome.malformed += page.unidentified
                log.warning("Weibo mentions without a usable id skipped", extra={"count": page.unidentified})
            # A page holds only ids above since_id; an empty one means we are back at the cursor.
            fresh = [s for s in page.statuses if since_id is None or s.number > int(since_id)]
            if not fresh:
                return [found[k] for k in sorted(found)], True
            found.update((s.number, s) for s in fresh)
            max_id = str(min(s.number for s in fresh) - 1)
        return [found[k] for k in sorted(found)], False

    def _handle(self, status: Mention, outcome: PollOutcome) -> bool:
        """Make the mention's ticket (or record why not). False: stop here, leaving the cursor before it."""
        mention_id = status.idstr
        record = self.ledger.record(mention_id)
        if record is not None and record.state in ("ticketed", "skipped"):
            outcome.already_handled += 1
            return True
        if isinstance(status, MalformedMention):
            outcome.malformed += 1
            # Its id only: whatever else it holds is unchecked, and may be the citizen's.
            log.warning("Weibo mention malformed; skipped", extra={"mention_id": mention_id})
            self._skip(mention_id, "malformed", outcome)
            return True
        reason = skip_reason(status, self.account)
        if reason is not None:
            log.info("Weibo mention skipped", extra={"reason": reason})
            self._skip(mention_id, reason, outcome)
            return True
        existing = self.intake.tickets.get(record.ticket_id) if record is not None and record.ticket_id else None
        if existing is not None:
            # A run crashed after creating the ticket its claim chose: finish its bookkeeping, do not create another.
            self.ledger.mark_ticketed(mention_id, existing.id, existing.ticket_no, self.clock())
            outcome.recovered += 1
            log.info("Weibo ticket recovered", extra={"ticket_id": existing.id, "ticket_no": existing.ticket_no})
            return True
        ticket_id = self.ledger.claim(mention_id, new_ticket_id(), self.clock(), self.lease_s)
        if ticket_id is None:
            outcome.stopped = "busy"  # another run is creating this ticket right now
            return False
        try:
            receipt = self._submit(status, ticket_id)
        except TemporarilyUnavailable:
            outcome.stopped = "desk_unavailable"
            return False
        self.ledger.mark_ticketed(mention_id, ticket_id, receipt.ticket_no, self.clock())
        outcome.created += 1
        log.info("Weibo ticket created", extra={"ticket_id": ticket_id, "ticket_no": receipt.ticket_no})
        return True

    def _skip(self, mention_id: str, reason: str, outcome: PollOutcome) -> None:
        self.ledger.mark_skipped(mention_id, reason, self.clock())
        outcome.skipped += 1
        outcome.skip_reasons[reason] = outcome.skip_reasons.get(reason, 0) + 1

    def _submit(self, status: WeiboStatus, ticket_id: str) -> Receipt:
        complaint = NewComplaint(
            text=clean_text(status.text, self.account),
            channel="weibo",
            photo_base64=self._picture(status, ticket_id),
            location=status.location,
            # The mention too: the answer loop's messenger comments the agency's answer under it.
            contact={"weibo_mention": status.idstr, **({"weibo_uid": status.user.idstr} if status.user else {})},
            ticket_id=ticket_id,
        )
        try:
            return self.intake.submit(complaint)
        except (PhotoRejected, PhotoTooLarge) as e:
            # The complaint stands without its picture; the desk checks photos before storing anything.
            log.warning(
                "Weibo picture rejected; ticket without photo", extra={"ticket_id": ticket_id, "why": e.message}
            )
            return self.intake.submit(replace(complaint, photo_base64=None))

    def _picture(self, status: WeiboStatus, ticket_id: str) -> str | None:
        url = picture_url(status)
        if url is None:
            return None
        try:
            data = self.api.picture(url)
        except PictureUnavailable as e:
            log.warning(
                "Weibo picture not fetched; ticket without photo", extra={"ticket_id": ticket_id, "why": str(e)}
            )
            return None
        # The desk takes photos as the API receives them; one path for every channel's validation.
        return base64.b64encode(data).decode("ascii")

    # ------------------------------------------------------------- replies
    def _send_replies(self, outcome: PollOutcome) -> None:
        now = self.clock()
        # A ticket's number before the comments queued about it later; those in the order they fell due.
        due = sorted(
            (r for r in self.ledger.pending_replies() if r.next_at <= now),
            key=lambda r: (r.ticket_no, r.key is not None, r.next_at),
        )
        for reply in due:
            text = reply.text if reply.text is not None else reply_text(reply.ticket_no, self.intake.city)
            try:
                self._call(self.api.comment, reply.mention_id, text)
            except WeiboRateLimited:
                outcome.stopped = outcome.stopped or "rate_limited"
                return
            except WeiboTokenInvalid:
                outcome.stopped = "token_invalid"
                return
            except WeiboUnavailable as e:
                self._reply_failed(reply, str(e), outcome)
                return  # Weibo is down: the rest wait for the next run too
            except WeiboRejected as e:
                self._reply_failed(reply, str(e), outcome)
                continue
            self.ledger.reply_sent(reply.entry, self.clock())
            outcome.replies_sent += 1
            log.info("Weibo reply posted", extra={"ticket_no": reply.ticket_no, "kind": _kind(reply)})

    def _reply_failed(self, reply: PendingReply, error: str, outcome: PollOutcome) -> None:
        attempts = reply.attempts + 1
        if attempts >= self.max_reply_attempts:
            self.ledger.reply_abandoned(reply.entry, error, self.clock())
            outcome.replies_abandoned += 1
            log.error(
                "Weibo reply abandoned", extra={"ticket_no": reply.ticket_no, "kind": _kind(reply), "error": error}
            )
            return
        delay = min(self.reply_backoff_s * 2 ** (attempts - 1), 6 * 3600)
        self.ledger.reply_failed(reply.entry, attempts, self.clock() + delay)
        outcome.replies_failed += 1
        log.warning(
            "Weibo reply failed; retrying later",
            extra={"ticket_no": reply.ticket_no, "kind": _kind(reply), "error": error},
        )

    # ------------------------------------------------------------- helpers
    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call Weibo; 5xx and timeouts are retried with exponential backoff, everything else goes up."""
        for attempt in range(self.attempts):
            try:
                return fn(*args)
            except WeiboUnavailable:
                if attempt == self.attempts - 1:
                    raise
                self.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")


def _kind(reply: PendingReply) -> str:
    """For the logs: the ticket-number reply, or a comment queued later (its key names no person)."""
    return "ticket_no" if reply.key is None else "comment"

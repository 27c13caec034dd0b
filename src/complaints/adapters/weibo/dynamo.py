"""The mention ledger in the tickets table, next to the tickets it protects.

Items (all keyed by `pk`):
- `weibo#cursor` — `n` (the cursor as a number, for the only-forward condition) and `idstr`;
- `weibo#<mention id>` — the mention's fate: `state` claimed | ticketed | skipped, `ticket_id` (chosen, at random,
  by the first claim and kept by every later one), `ticket_no`, …;
- `weibo#replies` — the outbox: a map `pending` of entries, each one comment to post. A ticket-number reply's
  entry is named by its mention id → {ticket_no, attempts, next_at}; a queued comment's by `comment#<key>` (never
  a mention id, which is digits) → {mention_id, ticket_no, attempts, next_at, text, key};
- `weibo#comment#<key>` — that a comment was queued for `key`, kept after it was posted (`state` queued | sent |
  abandoned, `mention_id`, `ticket_no`, `queued_at`, `sent_at` or `reply_error`/`abandoned_at`).

Recording a ticket and queueing its reply is one transaction, conditional on the mention not being ticketed yet,
so a rerun after a crash can never queue a second comment. Queueing a comment is one transaction too: creating
`weibo#comment#<key>` (on condition it does not exist) and adding its outbox entry, so a key is queued once ever.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import ClientError

from complaints.domain.weibo import (
    MentionRecord,
    PendingReply,
    UnknownMention,
    check_comment,
    comment_entry,
    comment_key,
)

CURSOR_KEY = "weibo#cursor"
REPLIES_KEY = "weibo#replies"


def mention_key(mention_id: str) -> str:
    return f"weibo#{mention_id}"


def comment_item_key(key: str) -> str:
    return f"weibo#comment#{key}"


def _cancellation_reasons(e: ClientError) -> list[str | None]:
    return [r.get("Code") for r in e.response.get("CancellationReasons", [])]


def _failed_condition(e: ClientError) -> bool:
    return e.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class DynamoMentionLedger:
    def __init__(self, table_name: str, resource: Any = None) -> None:
        self.table = (resource or boto3.resource("dynamodb")).Table(table_name)
        self.client = self.table.meta.client
        self.table_name = table_name

    def cursor(self) -> str | None:
        item = self.table.get_item(Key={"pk": CURSOR_KEY}, ConsistentRead=True).get("Item")
        return item["idstr"] if item else None

    def advance(self, mention_id: str) -> None:
        try:
            self.table.update_item(
                Key={"pk": CURSOR_KEY},
                UpdateExpression="SET n = :n, idstr = :s",
                ConditionExpression="attribute_not_exists(n) OR n < :n",
                ExpressionAttributeValues={":n": int(mention_id), ":s": mention_id},
            )
        except ClientError as e:
            if not _failed_condition(e):
                raise  # else: an overlapping run already moved it further

    def record(self, mention_id: str) -> MentionRecord | None:
        item = self.table.get_item(Key={"pk": mention_key(mention_id)}, ConsistentRead=True).get("Item")
        if item is None:
            return None
        return MentionRecord.model_validate(_plain({k: v for k, v in item.items() if k in MentionRecord.model_fields}))

    def claim(self, mention_id: str, ticket_id: str, now: float, lease_s: float) -> str | None:
        try:
            item = self.table.update_item(
                Key={"pk": mention_key(mention_id)},
                # Taking over an expired claim keeps its ticket id: that run may have created the ticket.
                UpdateExpression="SET #s = :claimed, claimed_at = :now, ticket_id = if_not_exists(ticket_id, :tid)",
                ConditionExpression="attribute_not_exists(pk) OR (#s = :claimed AND claimed_at < :stale)",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":claimed": "claimed",
                    ":now": Decimal(str(now)),
                    ":tid": ticket_id,
                    ":stale": Decimal(str(now - lease_s)),
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as e:
            if _failed_condition(e):
                return None
            raise
        return item["ticket_id"]

    def mark_skipped(self, mention_id: str, reason: str, now: float) -> None:
        self.table.put_item(
            Item={"pk": mention_key(mention_id), "state": "skipped", "reason": reason, "at": Decimal(str(now))}
        )

    def mark_ticketed(self, mention_id: str, ticket_id: str, ticket_no: int, now: float) -> None:
        self._outbox_exists()
        at = Decimal(str(now))
        ticketed = {
            "TableName": self.table_name,
            "Key": {"pk": mention_key(mention_id)},
            "UpdateExpression": "SET #s = :ticketed, ticket_id = :tid, ticket_no = :no, ticketed_at = :at",
            "ConditionExpression": "attribute_not_exists(#s) OR #s <> :ticketed",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {":ticketed": "ticketed", ":tid": ticket_id, ":no": ticket_no, ":at": at},
        }
        queued = {
            "TableName": self.table_name,
            "Key": {"pk": REPLIES_KEY},
            "UpdateExpression": "SET pending.#m = :reply",
            "ExpressionAttributeNames": {"#m": mention_id},
            "ExpressionAttributeValues": {":reply": {"ticket_no": ticket_no, "attempts": 0, "next_at": at}},
        }
        try:
            # The table resource's client takes plain Python values, like the table itself.
            self.client.transact_write_items(TransactItems=[{"Update": ticketed}, {"Update": queued}])
        except ClientError as e:
            if "ConditionalCheckFailed" not in _cancellation_reasons(e):
                raise  # else: already ticketed, and its reply was queued then

    # Attempts at a comment's transaction when another transaction on the outbox item is in its way.
    CONFLICT_ATTEMPTS = 4

    def queue_comment(self, mention_id: str, key: str, text: str, ticket_no: int, now: float) -> bool:
        check_comment(mention_id, key, text)
        # `ticketed` is final: read once, it cannot change before the write below.
        record = self.record(mention_id)
        if record is None or record.state != "ticketed" or record.ticket_no != ticket_no:
            raise UnknownMention("not the mention of that ticket")
        self._outbox_exists()
        at = Decimal(str(now))
        remembered = {
            "TableName": self.table_name,
            "Item": {
                "pk": comment_item_key(key),
                "state": "queued",
                "mention_id": mention_id,
                "ticket_no": ticket_no,
                "queued_at": at,
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        entry = {"mention_id": mention_id, "ticket_no": ticket_no, "attempts": 0, "next_at": at, "text": text}
        queued = {
            "TableName": self.table_name,
            "Key": {"pk": REPLIES_KEY},
            "UpdateExpression": "SET pending.#e = :comment",
            "ExpressionAttributeNames": {"#e": comment_entry(key)},
            "ExpressionAttributeValues": {":comment": {**entry, "key": key}},
        }
        # One token per call: the SDK's own retry of this call is answered as the first try was (True), while
        # another caller's transaction for the same key fails its condition (False).
        token = uuid.uuid4().hex
        for attempt in range(self.CONFLICT_ATTEMPTS):
            try:
                self.client.transact_write_items(
                    TransactItems=[{"Put": remembered}, {"Update": queued}], ClientRequestToken=token
                )
                return True
            except ClientError as e:
                reasons = _cancellation_reasons(e)
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False  # queued before, by this caller or another
                if "TransactionConflict" not in reasons or attempt == self.CONFLICT_ATTEMPTS - 1:
                    raise
            time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def pending_replies(self) -> list[PendingReply]:
        item = self.table.get_item(Key={"pk": REPLIES_KEY}, ConsistentRead=True).get("Item") or {}
        # A ticket-number reply's entry is named by its mention id; a comment's entry carries its own.
        return [
            PendingReply.model_validate({"mention_id": name, **_plain(entry)})
            for name, entry in item.get("pending", {}).items()
        ]

    def reply_sent(self, entry: str, now: float) -> None:
        self._drop_reply(entry)
        key = comment_key(entry)
        if key is None:
            self.table.update_item(
                Key={"pk": mention_key(entry)},
                UpdateExpression="SET replied_at = :at",
                ExpressionAttributeValues={":at": Decimal(str(now))},
            )
            return
        self.table.update_item(
            Key={"pk": comment_item_key(key)},
            UpdateExpression="SET #s = :sent, sent_at = :at",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":sent": "sent", ":at": Decimal(str(now))},
        )

    def reply_failed(self, entry: str, attempts: int, next_at: float) -> None:
        try:
            self.table.update_item(
                Key={"pk": REPLIES_KEY},
                UpdateExpression="SET pending.#m.attempts = :a, pending.#m.next_at = :t",
                ConditionExpression="attribute_exists(pending.#m)",
                ExpressionAttributeNames={"#m": entry},
                ExpressionAttributeValues={":a": attempts, ":t": Decimal(str(next_at))},
            )
        except ClientError as e:
            if not _failed_condition(e):
                raise

    def reply_abandoned(self, entry: str, reason: str, now: float) -> None:
        self._drop_reply(entry)
        key = comment_key(entry)
        if key is None:
            self.table.update_item(
                Key={"pk": mention_key(entry)},
                UpdateExpression="SET reply_error = :r, reply_abandoned_at = :at",
                ExpressionAttributeValues={":r": reason[:500], ":at": Decimal(str(now))},
            )
            return
        self.table.update_item(
            Key={"pk": comment_item_key(key)},
            UpdateExpression="SET #s = :abandoned, reply_error = :r, abandoned_at = :at",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":abandoned": "abandoned", ":r": reason[:500], ":at": Decimal(str(now))},
        )

    def comment_state(self, key: str) -> str | None:
        """queued | sent | abandoned for a key queue_comment took; None for one it never saw."""
        item = self.table.get_item(Key={"pk": comment_item_key(key)}, ConsistentRead=True).get("Item")
        return item["state"] if item else None

    def _outbox_exists(self) -> None:
        # The outbox item must exist before a nested path in it can be set.
        self.table.update_item(
            Key={"pk": REPLIES_KEY},
            UpdateExpression="SET pending = if_not_exists(pending, :empty)",
            ExpressionAttributeValues={":empty": {}},
        )

    def _drop_reply(self, entry: str) -> None:
        self.table.update_item(
            Key={"pk": REPLIES_KEY},
            UpdateExpression="REMOVE pending.#m",
            ExpressionAttributeNames={"#m": entry},
        )

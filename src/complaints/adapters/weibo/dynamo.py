"""The mention ledger in the tickets table, next to the tickets it protects.

Items (all keyed by `pk`):
- `weibo#cursor` — `n` (the cursor as a number, for the only-forward condition) and `idstr`;
- `weibo#<mention id>` — the mention's fate: `state` claimed | ticketed | skipped, `ticket_id` (chosen, at random,
  by the first claim and kept by every later one), `ticket_no`, …;
- `weibo#replies` — the outbox: a map `pending` of mention id → {ticket_no, attempts, next_at}.

Recording a ticket and queueing its reply is one transaction, conditional on the mention not being ticketed yet,
so a rerun after a crash can never queue a second comment.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import ClientError

from complaints.domain.weibo import MentionRecord, PendingReply

CURSOR_KEY = "weibo#cursor"
REPLIES_KEY = "weibo#replies"


def mention_key(mention_id: str) -> str:
    return f"weibo#{mention_id}"


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
        # The outbox item must exist before a nested path in it can be set.
        self.table.update_item(
            Key={"pk": REPLIES_KEY},
            UpdateExpression="SET pending = if_not_exists(pending, :empty)",
            ExpressionAttributeValues={":empty": {}},
        )
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
            reasons = [r.get("Code") for r in e.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" not in reasons:
                raise  # else: already ticketed, and its reply was queued then

    def pending_replies(self) -> list[PendingReply]:
        item = self.table.get_item(Key={"pk": REPLIES_KEY}, ConsistentRead=True).get("Item") or {}
        return [
            PendingReply(mention_id=mention_id, **_plain(entry))
            for mention_id, entry in item.get("pending", {}).items()
        ]

    def reply_sent(self, mention_id: str, now: float) -> None:
        self._drop_reply(mention_id)
        self.table.update_item(
            Key={"pk": mention_key(mention_id)},
            UpdateExpression="SET replied_at = :at",
            ExpressionAttributeValues={":at": Decimal(str(now))},
        )

    def reply_failed(self, mention_id: str, attempts: int, next_at: float) -> None:
        try:
            self.table.update_item(
                Key={"pk": REPLIES_KEY},
                UpdateExpression="SET pending.#m.attempts = :a, pending.#m.next_at = :t",
                ConditionExpression="attribute_exists(pending.#m)",
                ExpressionAttributeNames={"#m": mention_id},
                ExpressionAttributeValues={":a": attempts, ":t": Decimal(str(next_at))},
            )
        except ClientError as e:
            if not _failed_condition(e):
                raise

    def reply_abandoned(self, mention_id: str, reason: str, now: float) -> None:
        self._drop_reply(mention_id)
        self.table.update_item(
            Key={"pk": mention_key(mention_id)},
            UpdateExpression="SET reply_error = :r, reply_abandoned_at = :at",
            ExpressionAttributeValues={":r": reason[:500], ":at": Decimal(str(now))},
        )

    def _drop_reply(self, mention_id: str) -> None:
        self.table.update_item(
            Key={"pk": REPLIES_KEY},
            UpdateExpression="REMOVE pending.#m",
            ExpressionAttributeNames={"#m": mention_id},
        )

"""WeChat's items in the tickets table (no OpenID in any key or attribute: users are keyed by `openid_key`):

- `wechat#in#<delivery key>`: a handled delivery and the reply it got (desk/wechat_inbox.py), kept two days;
- `wechat#user#<openid_key>`: the user's last message time, pending pictures and location, recent tickets, with a
  version every write expects;
- `wechat#draft#<ticket id>`: a complaint to make (desk/wechat_drafts.py reads it from the stream), kept a week.
"""

from __future__ import annotations

import time
from typing import Any

import boto3
from botocore.exceptions import ClientError

from complaints.adapters.aws import _from_dynamo, _to_dynamo
from complaints.domain.desk.wechat_conversation import WechatUser
from complaints.domain.desk.wechat_inbox import NOT_SEEN, NotSeen, UserChanged

DELIVERY_KEEP_S = 2 * 86400  # WeChat redelivers within a minute; two days leave room for any replay
DRAFT_KEEP_S = 7 * 86400


def user_pk(user_key: str) -> str:
    return f"wechat#user#{user_key}"


def draft_pk(ticket_id: str) -> str:
    return f"wechat#draft#{ticket_id}"


def draft_of(image: dict[str, Any]) -> dict[str, Any]:
    """A draft as the stream's new image holds it (numbers as Decimal) in plain Python."""
    return _from_dynamo({k: v for k, v in image.items() if k not in ("pk", "ttl")})


class DynamoWechatStore:
    """desk.wechat_inbox.InboxStore and desk.wechat_drafts.WechatUsers over the tickets table."""

    def __init__(self, table_name: str, client: Any = None, clock=time.time) -> None:
        self.table = (client or boto3.resource("dynamodb")).Table(table_name)
        self.clock = clock

    # ------------------------------------------------------------ deliveries
    def reply(self, key: str) -> str | None | NotSeen:
        item = self.table.get_item(Key={"pk": f"wechat#in#{key}"}, ConsistentRead=True).get("Item")
        if item is None:
            return NOT_SEEN
        return item.get("reply")

    def commit(self, key: str, reply: str | None, user: WechatUser, draft: dict[str, Any] | None) -> bool:
        now = int(self.clock())
        delivery = {"pk": f"wechat#in#{key}", "at": now, "ttl": now + DELIVERY_KEEP_S}
        if reply is not None:
            delivery["reply"] = reply
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table.name,
                    "Item": delivery,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {"Put": self._user_put(user)},
        ]
        if draft is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self.table.name,
                        "Item": {
                            "pk": draft_pk(draft["ticket_id"]),
                            **_to_dynamo(draft),
                            "ttl": now + DRAFT_KEEP_S,
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        try:
            self.table.meta.client.transact_write_items(TransactItems=items)
        except ClientError as e:
            reasons = [r.get("Code") for r in e.response.get("CancellationReasons") or []]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise UserChanged(user.key) from None
            raise
        return True

    # ----------------------------------------------------------------- users
    def user(self, user_key: str) -> WechatUser:
        item = self.table.get_item(Key={"pk": user_pk(user_key)}, ConsistentRead=True).get("Item")
        if item is None:
            return WechatUser(key=user_key)
        data = _from_dynamo(item)
        return WechatUser(
            key=user_key,
            last_seen=int(data.get("last_seen", 0)),
            pictures=list(data.get("pictures", [])),
            location=data.get("location"),
            dialogue=data.get("dialogue"),
            tickets={str(k): str(v) for k, v in (data.get("tickets") or {}).items()},
            car=data.get("car"),
            version=int(data.get("version", 0)),
        )

    def save_user(self, user: WechatUser) -> None:
        try:
            put = self._user_put(user)
            del put["TableName"]
            self.table.put_item(**put)
        except ClientError as e:
            if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise UserChanged(user.key) from None
            raise

    def last_seen(self, user_key: str) -> float | None:
        item = self.table.get_item(
            Key={"pk": user_pk(user_key)}, ProjectionExpression="last_seen", ConsistentRead=True
        ).get("Item")
        return float(item["last_seen"]) if item and "last_seen" in item else None

    def _user_put(self, user: WechatUser) -> dict[str, Any]:
        item = {
            "pk": user_pk(user.key),
            "last_seen": user.last_seen,
            "pictures": user.pictures,
            "tickets": user.tickets,
            "version": user.version + 1,
        }
        if user.location is not None:
            item["location"] = user.location
        if user.dialogue is not None:
            item["dialogue"] = user.dialogue
        if user.car is not None:
            item["car"] = user.car
        put: dict[str, Any] = {"TableName": self.table.name, "Item": _to_dynamo(item)}
        if user.version:
            put["ConditionExpression"] = "version = :seen"
            put["ExpressionAttributeValues"] = {":seen": user.version}
        else:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        return put

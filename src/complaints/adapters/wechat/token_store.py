"""WeChat's access token in the tickets table: one item, `wechat#access-token`, changed only by a conditional write
on its version (domain.wechat_token.TokenStore). The table is encrypted at rest; the token is never logged."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import ClientError

from complaints.domain.wechat_token import StoredToken

TOKEN_KEY = "wechat#access-token"


class DynamoTokenStore:
    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table = (client or boto3.resource("dynamodb")).Table(table_name)

    def current(self) -> StoredToken | None:
        item = self.table.get_item(Key={"pk": TOKEN_KEY}, ConsistentRead=True).get("Item")
        if item is None:
            return None
        return StoredToken(str(item["token"]), float(item["expires_at"]), int(item["version"]))

    def replace(self, token: str, expires_at: float, expected_version: int | None) -> bool:
        condition = "attribute_not_exists(pk)" if expected_version is None else "version = :seen"
        values: dict[str, Any] = {} if expected_version is None else {":seen": expected_version}
        try:
            self.table.put_item(
                Item={
                    "pk": TOKEN_KEY,
                    "token": token,
                    "expires_at": Decimal(str(round(expires_at, 3))),
                    "version": (expected_version or 0) + 1,
                },
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except ClientError as e:
            if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

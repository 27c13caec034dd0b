"""The car-moving ports on AWS: the store (items of the tickets table, `carmove#…`), the vehicle registry
(VehiclesTable) and the keyed hash of phones.

Every limit is a condition of the write that uses it up, so two requests at once cannot both pass: a code's
interval and daily count in one transaction with the code, a request's monthly count and plate hold in one
transaction with the request, its owner link and its notice (memory.MemoryCarMovingStore is the same in memory).

Items (`pk`):
    carmove#code#<phone key>                 the pending code (code_hash, expires_at, tries)
    carmove#interval#<phone key>             one code a minute (until)
    carmove#day#<phone key>#<yyyy-mm-dd>     codes sent that day (n)
    carmove#requester#<token hash>           a verified requester (id, sealed_phone, expires_at)
    carmove#block#<phone|plate>#<key>        the block list (reason, at)
    carmove#request#<id>                     a request
    carmove#owner#<owner code hash>          the owner's link to it (request_id)
    carmove#month#<requester>#<yyyy-mm>      the requester's requests that month (n)
    carmove#plate#<plate>                    one notification per plate per 10 minutes (until)
    carmove#notice#<request id>#<key>        what the notifier sends the owner, with its `deliveries`
    carmove#audit#<at>#<random>              one per request, refused or not
Items that only matter until a time carry it as `ttl` (epoch seconds), for a TimeToLiveSpecification on `ttl`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import ClientError

from complaints.adapters.aws import _from_dynamo, _to_dynamo
from complaints.domain.desk.car_moving import StoreRefused

PREFIX = "carmove#"
# A day's count outlives its day in every time zone.
_DAY_KEPT_S = 2 * 86400


def _n(value: float) -> Decimal:
    return Decimal(str(value))


def _ttl(epoch: float) -> int:
    return math.ceil(epoch)


def _refused(e: ClientError) -> list[str]:
    """The failed conditions of a cancelled transaction, one code per item ("" where it held); else re-raise."""
    if e.response["Error"]["Code"] != "TransactionCanceledException":
        raise e
    return [r.get("Code") or "" for r in e.response.get("CancellationReasons") or []]


def _failed(codes: list[str], index: int) -> bool:
    return len(codes) > index and codes[index] == "ConditionalCheckFailed"


class DynamoCarMovingStore:
    """car_moving.CarMovingStore over the tickets table (see the module's list of items)."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table = (client or boto3.resource("dynamodb")).Table(table_name)
        self.client = self.table.meta.client

    # ---------------------------------------------------------------- codes
    def start_code(
        self, phone_key: str, code_hash: str, expires_at: float, interval_until: float, day: str, per_day: int
    ) -> None:
        from complaints.domain import clock

        now = clock.epoch()
        name = self.table.name
        interval = f"{PREFIX}interval#{phone_key}"
        items = [
            _hold(name, interval, interval_until, now),
            _count(name, f"{PREFIX}day#{phone_key}#{day}", per_day, now + _DAY_KEPT_S),
            {
                "Put": {
                    "TableName": name,
                    "Item": {
                        "pk": f"{PREFIX}code#{phone_key}",
                        "code_hash": code_hash,
                        "expires_at": _n(expires_at),
                        "tries": 0,
                        "ttl": _ttl(expires_at),
                    },
                }
            },
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as e:
            codes = _refused(e)
            if _failed(codes, 0):
                raise StoreRefused("minute", self._until(interval, now)) from None
            if _failed(codes, 1):
                raise StoreRefused("day", now + 86400) from None
            raise

    def try_code(self, phone_key: str, max_tries: int, now: float) -> dict[str, Any] | None:
        try:
            out = self.table.update_item(
                Key={"pk": f"{PREFIX}code#{phone_key}"},
                UpdateExpression="ADD tries :one",
                ConditionExpression="attribute_exists(pk) AND expires_at > :now AND tries < :max",
                ExpressionAttributeValues={":one": 1, ":now": _n(now), ":max": max_tries},
                ReturnValues="ALL_NEW",
            )
        except ClientError as e:
            if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        item = _from_dynamo(out["Attributes"])
        return {k: item[k] for k in ("code_hash", "expires_at", "tries")}

    def use_code(self, phone_key: str, code_hash: str) -> bool:
        try:
            self.table.delete_item(
                Key={"pk": f"{PREFIX}code#{phone_key}"},
                ConditionExpression="code_hash = :h",
                ExpressionAttributeValues={":h": code_hash},
            )
        except ClientError as e:
            if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # ---------------------------------------------------------------- requesters and the block list
    def save_requester(self, token_hash: str, requester: dict[str, Any], expires_at: float) -> None:
        item = {**_to_dynamo(requester), "expires_at": _n(expires_at), "ttl": _ttl(expires_at)}
        self.table.put_item(Item={**item, "pk": f"{PREFIX}requester#{token_hash}"})

    def requester(self, token_hash: str) -> dict[str, Any] | None:
        return self._get(f"{PREFIX}requester#{token_hash}")

    def blocked(self, kind: str, key: str) -> bool:
        return self._get(f"{PREFIX}block#{kind}#{key}") is not None

    def block(self, kind: str, key: str, reason: str) -> None:
        from complaints.domain.tickets import now_iso

        self.table.put_item(Item={"pk": f"{PREFIX}block#{kind}#{key}", "reason": reason, "at": now_iso()})

    def unblock(self, kind: str, key: str) -> None:
        self.table.delete_item(Key={"pk": f"{PREFIX}block#{kind}#{key}"})

    # ---------------------------------------------------------------- requests
    def create_request(
        self,
        request: dict[str, Any],
        notice: dict[str, Any],
        owner_code_hash: str,
        month_key: str,
        month_limit: int,
        month_expires: float,
        plate_until: float,
        now: float,
    ) -> None:
        name = self.table.name
        plate = f"{PREFIX}plate#{request['plate']}"
        items = [
            _count(name, f"{PREFIX}month#{month_key}", month_limit, month_expires),
            _hold(name, plate, plate_until, now),
            _new(name, {**_to_dynamo(request), "pk": f"{PREFIX}request#{request['id']}"}),
            _new(name, _owner_link(owner_code_hash, request["id"])),
            _new(name, _notice_item(notice)),
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as e:
            codes = _refused(e)
            if _failed(codes, 0):
                raise StoreRefused("month", month_expires) from None
            if _failed(codes, 1):
                raise StoreRefused("plate", self._until(plate, now)) from None
            raise

    def request(self, request_id: str) -> dict[str, Any] | None:
        return self._get(f"{PREFIX}request#{request_id}")

    def request_by_owner_code(self, owner_code_hash: str) -> dict[str, Any] | None:
        link = self._get(f"{PREFIX}owner#{owner_code_hash}")
        return self.request(link["request_id"]) if link else None

    def update_request(
        self,
        request_id: str,
        expect: dict[str, Any],
        changes: dict[str, Any],
        notice: dict[str, Any] | None = None,
        owner_code_hash: str | None = None,
    ) -> bool:
        update = _conditional_update(f"{PREFIX}request#{request_id}", expect, changes)
        extra = [] if notice is None else [_new(self.table.name, _notice_item(notice))]
        if owner_code_hash is not None:
            extra.append(_new(self.table.name, _owner_link(owner_code_hash, request_id)))
        if not extra:
            try:
                self.table.update_item(**update)
            except ClientError as e:
                if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    return False
                raise
            return True
        try:
            self.client.transact_write_items(
                TransactItems=[{"Update": {"TableName": self.table.name, **update}}, *extra]
            )
        except ClientError as e:
            if _failed(_refused(e), 0):
                return False
            raise
        return True

    def audit(self, entry: dict[str, Any]) -> None:
        pk = f"{PREFIX}audit#{entry.get('at', '')}#{secrets.token_hex(8)}"
        self.table.put_item(Item={**_to_dynamo(entry), "pk": pk}, ConditionExpression="attribute_not_exists(pk)")

    # ---------------------------------------------------------------- reads
    def _get(self, pk: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"pk": pk}, ConsistentRead=True).get("Item")
        if item is None:
            return None
        item.pop("pk", None)
        item.pop("ttl", None)
        return _from_dynamo(item)

    def _until(self, pk: str, now: float) -> float:
        # Read after the refusal (not every DynamoDB returns the failed item): when the hold frees.
        held = self._get(pk)
        return float(held["until"]) if held else now + 1


def _hold(table: str, pk: str, until: float, now: float) -> dict[str, Any]:
    """Take a hold until `until` if it is free (absent, or over at `now`)."""
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": pk},
            "UpdateExpression": "SET #u = :until, #t = :ttl",
            "ConditionExpression": "attribute_not_exists(pk) OR #u <= :now",
            "ExpressionAttributeNames": {"#u": "until", "#t": "ttl"},
            "ExpressionAttributeValues": {":until": _n(until), ":now": _n(now), ":ttl": _ttl(until)},
        }
    }


def _count(table: str, pk: str, limit: int, kept_until: float) -> dict[str, Any]:
    """Count one more if the count is below `limit`."""
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": pk},
            "UpdateExpression": "ADD #n :one SET #t = :ttl",
            "ConditionExpression": "attribute_not_exists(#n) OR #n < :limit",
            "ExpressionAttributeNames": {"#n": "n", "#t": "ttl"},
            "ExpressionAttributeValues": {":one": 1, ":limit": limit, ":ttl": _ttl(kept_until)},
        }
    }


def _new(table: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}


def _owner_link(owner_code_hash: str, request_id: str) -> dict[str, Any]:
    return {"pk": f"{PREFIX}owner#{owner_code_hash}", "request_id": request_id}


def notice_key(request_id: str, key: str) -> str:
    """The notice's item: the notifier reads it from the tickets table's stream (INSERT, this prefix)."""
    return f"{PREFIX}notice#{request_id}#{key}"


def _notice_item(notice: dict[str, Any]) -> dict[str, Any]:
    return {**_to_dynamo(notice), "pk": notice_key(notice["request_id"], notice["key"]), "deliveries": {}}


def _conditional_update(pk: str, expect: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """SET what changes (REMOVE what becomes None), if each expected attribute holds its value (None: absent)."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    sets, removes, conditions = [], [], ["attribute_exists(pk)"]
    for i, (field, value) in enumerate(changes.items()):
        names[f"#c{i}"] = field
        if value is None:
            removes.append(f"#c{i}")
        else:
            values[f":c{i}"] = _to_dynamo(value)
            sets.append(f"#c{i} = :c{i}")
    for i, (field, value) in enumerate(expect.items()):
        names[f"#e{i}"] = field
        if value is None:
            conditions.append(f"attribute_not_exists(#e{i})")
        else:
            values[f":e{i}"] = _to_dynamo(value)
            conditions.append(f"#e{i} = :e{i}")
    expression = " ".join(
        part for part in (f"SET {', '.join(sets)}" if sets else "", f"REMOVE {', '.join(removes)}" if removes else "")
    ).strip()
    update: dict[str, Any] = {
        "Key": {"pk": pk},
        "UpdateExpression": expression,
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names,
    }
    if values:
        update["ExpressionAttributeValues"] = values
    return update


class DynamoVehicleRegistry:
    """car_moving.VehicleRegistry over VehiclesTable (`plate` → `owner_sealed`, sealed under VehicleKey): the
    owner's phone as stored, never opened here."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table = (client or boto3.resource("dynamodb")).Table(table_name)

    def owner_phone(self, plate: str) -> str | None:
        item = self.table.get_item(Key={"plate": plate}, ProjectionExpression="owner_sealed").get("Item")
        return None if item is None else item.get("owner_sealed")


class HmacPhoneKeys:
    """car_moving.PhoneKeys: HMAC-SHA256 of the phone under a secret (SSM, PhoneKeyParameter), in hex."""

    def __init__(self, secret: str | bytes) -> None:
        self.secret = secret.encode("utf-8") if isinstance(secret, str) else secret
        if len(self.secret) < 16:
            raise ValueError("the phone-key secret must be at least 16 bytes")

    def key(self, phone: str) -> str:
        return hmac.new(self.secret, phone.encode("utf-8"), hashlib.sha256).hexdigest()

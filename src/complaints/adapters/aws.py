"""AWS adapters of the domain ports. Endpoints come from the environment (AWS_ENDPOINT_URL locally)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from complaints.domain.errors import PhotoTooLarge
from complaints.domain.lifecycle import LABELLED, Move, TicketMoves, refused
from complaints.domain.outbox import OutboxMessage, message_key, stored_fields
from complaints.domain.ports import Hit
from complaints.domain.tickets import HistoryEntry, LabelledTicket, Ticket

COUNTER_KEY = "counter#ticket_no"


def _to_dynamo(value: Any) -> Any:
    return json.loads(json.dumps(value), parse_float=Decimal)


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class DynamoTicketRepository(TicketMoves):
    """Tickets in one table keyed by `pk`: `ticket#<id>` items and the `counter#ticket_no` item. Every move is one
    conditional UpdateItem (see lifecycle.TicketMoves)."""

    # Index items read per request by an inbox page that a filter thins (?overdue=true). DynamoDB applies Limit
    # before the filter: asking for the 20 tickets missing reads 20 and may keep none, one round trip after another
    # through the whole inbox. Overdue tickets are a few in a hundred; a read of this many fills a page in one or
    # two round trips (each reads at most 1 MB, whatever the Limit).
    filtered_read = 200

    def __init__(self, table_name: str, first_ticket_no: int = 1, client: Any = None) -> None:
        self.table = (client or boto3.resource("dynamodb")).Table(table_name)
        self.first_ticket_no = first_ticket_no

    def next_ticket_no(self) -> int:
        # ADD on a missing attribute starts from 0; the offset makes the city's first number come out right.
        out = self.table.update_item(
            Key={"pk": COUNTER_KEY},
            UpdateExpression="ADD #n :one",
            ExpressionAttributeNames={"#n": "n"},
            ExpressionAttributeValues={":one": 1},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["n"]) + self.first_ticket_no - 1

    def create(self, ticket: Ticket, messages: Sequence[OutboxMessage] = ()) -> None:
        item = _to_dynamo(ticket.model_dump(mode="json", exclude_none=True))
        item["pk"] = f"ticket#{ticket.id}"
        if not messages:
            self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
            return
        # The ticket and the messages it owes at once (a WeChat ticket's number), both or neither: the outbox.
        self.table.meta.client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self.table.name, "Item": p, "ConditionExpression": "attribute_not_exists(pk)"}}
                for p in [item, *(_to_dynamo(_message_item(m)) for m in messages)]
            ]
        )

    def get(self, ticket_id: str) -> Ticket | None:
        item = self.table.get_item(Key={"pk": f"ticket#{ticket_id}"}, ConsistentRead=True).get("Item")
        if item is None:
            return None
        item.pop("pk", None)
        return Ticket.model_validate(_from_dynamo(item))

    def delete(self, ticket_id: str) -> None:
        self.table.delete_item(Key={"pk": f"ticket#{ticket_id}"})

    def _write(
        self,
        ticket_id: str,
        move: Move,
        entry: HistoryEntry | None,
        fields: dict[str, Any],
        expect: dict[str, Any],
        messages: list[OutboxMessage],
    ) -> None:
        update = _conditional_update(ticket_id, move, entry, fields, expect)
        if not messages:
            try:
                self.table.update_item(**update)
            except ClientError as e:
                if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    raise refused(move, _status_of(e.response.get("Item"))) from None
                raise
            return
        # The move and the messages it owes, in one transaction: both are stored or neither (the outbox).
        items = [{"Update": {"TableName": self.table.name, **update}}]
        items += [
            {
                "Put": {
                    "TableName": self.table.name,
                    "Item": _to_dynamo(_message_item(m)),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for m in messages
        ]
        try:
            self.table.meta.client.transact_write_items(TransactItems=items)
        except ClientError as e:
            reasons = e.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                state = _status_of(reasons[0].get("Item"))
                if state is None:  # not every DynamoDB returns the item: read it
                    current = self.get(ticket_id)
                    state = current.status.value if current else None
                raise refused(move, state) from None
            raise

    # ---- the indexes: agency inboxes and what falls due (template.yaml, TicketsTable)
    def inbox(
        self, agency: str, status: str | None, overdue: bool, limit: int, cursor: dict[str, str] | None
    ) -> tuple[list[Ticket], dict[str, str] | None]:
        """One page of an agency's tickets, newest first, from the `inbox` index (or `inbox_status` for one state);
        the cursor is the index key of the page's last ticket."""
        if status:
            index, key = "inbox_status", {"agency_status": f"{agency}#{status}"}
        else:
            index, key = "inbox", {"agency": agency}
        ((name, value),) = key.items()
        query: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": "#k = :k",
            "ExpressionAttributeNames": {"#k": name},
            "ExpressionAttributeValues": {":k": value},
            "ScanIndexForward": False,
        }
        if overdue:
            query["FilterExpression"] = "#o = :yes"
            query["ExpressionAttributeNames"]["#o"] = "overdue"
            query["ExpressionAttributeValues"][":yes"] = True
        found: list[Ticket] = []
        start = cursor
        while len(found) < limit:
            # A filter drops items after the read: read a good many at a time, until the page is full or the end.
            wanted = self.filtered_read if overdue else limit - len(found)
            page = self.table.query(**query, Limit=wanted, **({"ExclusiveStartKey": start} if start else {}))
            for item in page.get("Items", []):
                item.pop("pk", None)
                found.append(Ticket.model_validate(_from_dynamo(item)))
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        over = len(found) > limit
        found = found[:limit]
        if len(found) == limit and (over or start is not None):
            last = found[-1]
            return found, {"pk": f"ticket#{last.id}", name: value, "created_at": last.created_at}
        return found, None

    def due_before(self, at: str, limit: int = 100) -> list[str]:
        """The ids of tickets with something due at or before `at` (UTC ISO 8601), soonest first."""
        page = self.table.query(
            IndexName="due",
            KeyConditionExpression="due_pk = :due AND due_at <= :at",
            ExpressionAttributeValues={":due": "due", ":at": at},
            Limit=limit,
        )
        return [item["pk"].removeprefix("ticket#") for item in page.get("Items", [])]

    def labelled(self, since: str | None = None, page_size: int = 500) -> Iterator[LabelledTicket]:
        """The `labelled` index, oldest label first, one Query a page (at most `page_size` items or 1 MB)."""
        condition, values = "labelled_pk = :pk", {":pk": LABELLED}
        if since is not None:
            condition += " AND labelled_at >= :since"
            values[":since"] = since
        query: dict[str, Any] = {
            "IndexName": "labelled",
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "Limit": page_size,
        }
        while True:
            page = self.table.query(**query)
            for item in page.get("Items", []):
                yield LabelledTicket.model_validate(_from_dynamo(item))
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _conditional_update(
    ticket_id: str, move: Move, entry: HistoryEntry | None, fields: dict[str, Any], expect: dict[str, Any]
) -> dict[str, Any]:
    """The UpdateItem request of a move: see lifecycle.TicketMoves._write."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    sets = []
    if move.target is not None:
        names["#s"] = "status"
        values[":to"] = move.target.value
        sets.append("#s = :to")
    if entry is not None:
        names["#h"] = "history"
        values[":entry"] = _to_dynamo([entry.model_dump(mode="json", exclude_none=True)])
        sets.append("#h = list_append(#h, :entry)")
    names["#st"] = "status"
    sources = []
    for i, source in enumerate(sorted(move.sources)):
        values[f":from{i}"] = source.value
        sources.append(f":from{i}")
    conditions = [f"#st IN ({', '.join(sources)})"]
    for i, (key, value) in enumerate(sorted(expect.items())):
        names[f"#e{i}"] = key
        if value is None:
            conditions.append(f"attribute_not_exists(#e{i})")
        else:
            values[f":e{i}"] = _to_dynamo(value)
            conditions.append(f"#e{i} = :e{i}")
    removes = []
    for i, (key, value) in enumerate(sorted(fields.items())):
        names[f"#f{i}"] = key
        if value is None:
            removes.append(f"#f{i}")
        else:
            values[f":f{i}"] = _to_dynamo(value)
            sets.append(f"#f{i} = :f{i}")
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    update = {
        "Key": {"pk": f"ticket#{ticket_id}"},
        "UpdateExpression": expression,
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        # A lost race says where the ticket is now, from the same read as the refusal: no second read.
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    return update


def _message_item(message: OutboxMessage) -> dict[str, Any]:
    return {
        "pk": message_key(message.ticket_id, message.key),
        **stored_fields(message),
        "deliveries": {},
    }


def _status_of(item: dict[str, Any] | None) -> str | None:
    """The status in the item a failed condition returns: low-level DynamoDB JSON (`{"S": ...}`), or plain."""
    status = (item or {}).get("status")
    return status.get("S") if isinstance(status, dict) else status


# SigV4 links: required in newer regions, and they carry their expiry (at most 7 days).
_SIGV4 = Config(signature_version="s3v4")


class S3PhotoStore:
    """`link_role_arn`: a role that may only read the derived photos; `lasting_link` signs with a session of it
    made for that one link, so the link lives exactly as long as it says (a link signed with the function's own
    temporary credentials dies with them, whatever its expiry says)."""

    def __init__(self, bucket: str, client: Any = None, link_role_arn: str | None = None, sts: Any = None) -> None:
        self.bucket = bucket
        self.s3 = client or boto3.client("s3", config=_SIGV4)
        self.link_role_arn = link_role_arn
        self._sts = sts

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def read(self, key: str, max_bytes: int) -> bytes:
        # The size is checked before a byte is read; the ranged GET holds even if the object changed meanwhile.
        size = self.s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        if size > max_bytes:
            raise PhotoTooLarge(f"photo is larger than {max_bytes // (1024 * 1024)} MB")
        if size == 0:
            return b""
        body = self.s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{max_bytes}")["Body"]
        data = body.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise PhotoTooLarge(f"photo is larger than {max_bytes // (1024 * 1024)} MB")
        return data

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def upload_form(self, key: str, content_type: str, max_bytes: int, expires_s: int) -> dict[str, Any]:
        # S3 enforces the policy: this key only, this Content-Type only, 1..max_bytes bytes, until it expires.
        return self.s3.generate_presigned_post(
            self.bucket,
            key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_s,
        )

    def link(self, key: str, expires_s: int) -> str:
        return self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
        )

    def lasting_link(self, key: str, expires_s: int) -> str:
        if not self.link_role_arn:
            raise RuntimeError("lasting links need PHOTO_LINK_ROLE_ARN")
        self._sts = self._sts or boto3.client("sts")
        # STS accepts 900 s to 1 h for a session assumed from a role's own session (role chaining).
        creds = self._sts.assume_role(
            RoleArn=self.link_role_arn, RoleSessionName="photo-link", DurationSeconds=max(expires_s, 900)
        )["Credentials"]
        signer = boto3.client(
            "s3",
            config=_SIGV4,
            region_name=self.s3.meta.region_name,
            endpoint_url=self.s3.meta.endpoint_url,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        return signer.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
        )


class SqsWorkQueue:
    def __init__(self, queue_url: str, client: Any = None) -> None:
        self.url = queue_url
        self.sqs = client or boto3.client("sqs")

    def send(self, body: dict[str, Any], delay_s: int = 0) -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=json.dumps(body), DelaySeconds=delay_s)


class KmsContactVault:
    """Contact details encrypted with the ContactKey (kms:Encrypt of the small JSON, under 4 KB), bound to the
    ticket by the encryption context: a ciphertext copied onto another ticket does not decrypt."""

    def __init__(self, key_id: str, client: Any = None) -> None:
        self.key_id = key_id
        self.kms = client or boto3.client("kms")

    def seal(self, ticket_id: str, contact: dict[str, str]) -> str:
        out = self.kms.encrypt(
            KeyId=self.key_id,
            Plaintext=json.dumps(contact, ensure_ascii=False).encode("utf-8"),
            EncryptionContext={"ticket_id": ticket_id},
        )
        return base64.b64encode(out["CiphertextBlob"]).decode("ascii")

    def open(self, ticket_id: str, sealed: str) -> dict[str, str]:
        out = self.kms.decrypt(CiphertextBlob=base64.b64decode(sealed), EncryptionContext={"ticket_id": ticket_id})
        return json.loads(out["Plaintext"])


class SnsNotifier:
    """`dispatch` and `triage` are two topics; each protocol gets its own text (MessageStructure=json)."""

    def __init__(self, topic_arns: dict[str, str], client: Any = None) -> None:
        self.topics = topic_arns
        self.sns = client or boto3.client("sns")

    def publish(self, channel: str, subject: str, messages: dict[str, str], attributes: dict[str, str]) -> None:
        self.sns.publish(
            TopicArn=self.topics[channel],
            Subject=subject,
            Message=json.dumps(messages, ensure_ascii=False),
            MessageStructure="json",
            MessageAttributes=_attributes(attributes),
        )

    def publish_batch(self, channel: str, notices: list[Any]) -> list[str]:
        # One call for all of a ticket's notices (sns:Publish permission): they go out together or the call fails.
        answer = self.sns.publish_batch(
            TopicArn=self.topics[channel],
            PublishBatchRequestEntries=[
                {
                    "Id": n.audience,
                    "Subject": n.subject,
                    "Message": json.dumps(n.messages, ensure_ascii=False),
                    "MessageStructure": "json",
                    "MessageAttributes": _attributes(n.attributes),
                }
                for n in notices
            ],
        )
        return [f["Id"] for f in answer.get("Failed", [])]


def _attributes(attributes: dict[str, str]) -> dict[str, Any]:
    return {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}


class DynamoOutbox:
    """The outbox's messages (`message#<ticket id>#<key>` items of the tickets table) and their deliveries: one
    entry per delivery in the item's `deliveries` map, each changed by one conditional write."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table = (client or boto3.resource("dynamodb")).Table(table_name)

    def _pk(self, ticket_id: str, key: str) -> str:
        return message_key(ticket_id, key)

    def deliveries(self, ticket_id: str, key: str) -> dict[str, dict[str, Any]] | None:
        item = self.table.get_item(Key={"pk": self._pk(ticket_id, key)}, ConsistentRead=True).get("Item")
        return None if item is None else _from_dynamo(item.get("deliveries", {}))

    def claim(self, ticket_id: str, key: str, delivery: str, claim: str, stale_claim: str | None = None) -> None:
        from complaints.domain import clock
        from complaints.domain.deliveries import DeliveryTaken

        condition = "attribute_not_exists(#d.#n)" if stale_claim is None else "#d.#n.claim = :stale"
        values: dict[str, Any] = {":c": {"state": "sending", "claim": claim, "since": Decimal(str(clock.epoch()))}}
        if stale_claim is not None:
            values[":stale"] = stale_claim
        try:
            self.table.update_item(
                Key={"pk": self._pk(ticket_id, key)},
                UpdateExpression="SET #d.#n = :c",
                ConditionExpression=f"attribute_exists(pk) AND {condition}",
                ExpressionAttributeNames={"#d": "deliveries", "#n": delivery},
                ExpressionAttributeValues=values,
            )
        except ClientError as e:
            if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise DeliveryTaken(f"{key}/{delivery}") from None
            raise

    def record(self, ticket_id: str, key: str, delivery: str, claim: str, state: str, detail: str | None) -> None:
        from complaints.domain.tickets import now_iso

        outcome = {"state": state, "at": now_iso(), **({"detail": detail[:200]} if detail else {})}
        self._if_claimed(ticket_id, key, delivery, claim, "SET #d.#n = :o", {":o": outcome})

    def release(self, ticket_id: str, key: str, delivery: str, claim: str) -> None:
        self._if_claimed(ticket_id, key, delivery, claim, "REMOVE #d.#n", {})

    def _if_claimed(
        self, ticket_id: str, key: str, delivery: str, claim: str, expression: str, values: dict[str, Any]
    ) -> None:
        try:
            self.table.update_item(
                Key={"pk": self._pk(ticket_id, key)},
                UpdateExpression=expression,
                ConditionExpression="#d.#n.claim = :claim",
                ExpressionAttributeNames={"#d": "deliveries", "#n": delivery},
                ExpressionAttributeValues={":claim": claim, **values},
            )
        except ClientError as e:
            if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # Taken over after our lease ran out: the taker decides; nothing to do here.


class DynamoBoardStore:
    """The public board in BoardTable (template.yaml): an entry per ticket (`ticket#<no>` / `entry`), its search
    postings (`term#<word>` / `<created_at>#<ticket_no>`), and one sparse index per filter (`feed`, `by_agency`,
    `by_district`, `by_category`, `by_status`), each keyed by the filter's value and the entry's `order`. Every read
    is a Query of one partition, a GetItem or a BatchGetItem: nothing here scans."""

    ENTRY = "entry"

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.resource = client or boto3.resource("dynamodb")
        self.table = self.resource.Table(table_name)

    def entry(self, ticket_no: int, consistent: bool = False) -> dict[str, Any] | None:
        key = {"pk": f"ticket#{ticket_no}", "sk": self.ENTRY}
        item = self.table.get_item(Key=key, ConsistentRead=consistent).get("Item")
        return _entry_of(item) if item else None

    def entries(self, ticket_nos: list[int]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(ticket_nos), 100):  # BatchGetItem takes 100 keys
            request = {
                self.table.name: {
                    "Keys": [{"pk": f"ticket#{n}", "sk": self.ENTRY} for n in ticket_nos[start : start + 100]]
                }
            }
            while request:
                out = self.resource.batch_get_item(RequestItems=request)
                found += [_entry_of(item) for item in out.get("Responses", {}).get(self.table.name, [])]
                request = out.get("UnprocessedKeys") or None
        return found

    def save(self, entry: dict[str, Any]) -> bool:
        item = {**_to_dynamo(entry), "pk": f"ticket#{entry['ticket_no']}", "sk": self.ENTRY}
        try:
            self.table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR #v <= :v",
                ExpressionAttributeNames={"#v": "version"},
                ExpressionAttributeValues={":v": entry["version"]},
            )
        except ClientError as e:
            if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def post(self, terms: list[str], order: str, ticket_no: int) -> None:
        with self.table.batch_writer() as batch:  # 25 a request, unprocessed items resent
            for term in terms:
                batch.put_item(Item={"pk": f"term#{term}", "sk": order, "ticket_no": ticket_no})

    def unpost(self, terms: list[str], order: str) -> None:
        with self.table.batch_writer() as batch:
            for term in terms:
                batch.delete_item(Key={"pk": f"term#{term}", "sk": order})

    def index_page(
        self, index: str, value: str, filters: dict[str, str], after: str | None, limit: int
    ) -> tuple[list[Hit], str | None]:
        names, values = {"#k": index}, {":k": value}
        condition = "#k = :k"
        if after is not None:
            condition += " AND #o < :after"
            names["#o"], values[":after"] = "order", after
        query: dict[str, Any] = {"IndexName": index, "KeyConditionExpression": condition}
        if filters:
            # Applied after the read: `limit` counts the items read, kept or not (DynamoDB's Limit).
            parts = []
            for i, (name, wanted) in enumerate(sorted(filters.items())):
                names[f"#f{i}"], values[f":f{i}"] = name, wanted
                parts.append(f"#f{i} = :f{i}")
            query["FilterExpression"] = " AND ".join(parts)
        page = self.table.query(
            **query,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
            Limit=limit,
        )
        hits = [_hit(item["order"]) for item in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        return hits, last["order"] if last else None

    def postings(self, term: str, after: str | None, limit: int) -> tuple[list[Hit], str | None]:
        values = {":t": f"term#{term}"}
        condition = "pk = :t"
        if after is not None:
            condition += " AND sk < :after"
            values[":after"] = after
        page = self.table.query(
            KeyConditionExpression=condition, ExpressionAttributeValues=values, ScanIndexForward=False, Limit=limit
        )
        hits = [_hit(item["sk"]) for item in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        return hits, last["sk"] if last else None


def _hit(order: str) -> Hit:
    # The sort key ends in the ticket number (desk.board.order_of): an index item needs no other attribute.
    return Hit(order, int(order.rsplit("#", 1)[1]))


def _entry_of(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in _from_dynamo(item).items() if k not in ("pk", "sk")}

"""The local stack's repaired DynamoDB Query gives exactly moto's answers, at a page's cost instead of the table's.

moto sorts the whole table for every Query; the local stack's moto process (aws_server.py, moto_query.py) keeps each
index in moto's order as items are written and hands moto's own query code only the part of a partition its page
reads. These tests send the same requests through the moto application the local stack serves, once repaired and
once as moto ships (`moto_as_shipped`), on random tables written by random puts, updates, deletes, batch writes and
transactions (some cancelled), and compare the answers byte for byte: the items, their order, Count and
ScannedCount, LastEvaluatedKey page after page, for base-table and index queries (sparse indexes among them), every
sort key condition, both directions, Limit, filters and projections.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from complaints_tools.local import moto_query
from complaints_tools.local.aws_server import application

HEADERS = {
    "Host": "dynamodb.us-east-1.amazonaws.com",
    "Content-Type": "application/x-amz-json-1.0",
    "Authorization": "AWS4-HMAC-SHA256 Credential=local/20261201/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


@pytest.fixture(scope="module")
def dynamodb():
    import os

    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    client = Client(application("us-east-1"))

    def call(action: str, body: dict) -> tuple[int, bytes]:
        r = client.post("/", headers={**HEADERS, "X-Amz-Target": f"DynamoDB_20120810.{action}"}, data=json.dumps(body))
        return r.status_code, r.data

    yield call
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


# ---------------------------------------------------------------- values
def _b(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


KEY_VALUES = {
    "S": ["a", "ab", "abc", "b", "ba", "c", "é", "中", "中文"],
    "N": ["-3.5", "-1", "0", "1", "1.0", "2", "10", "10.25", "100"],
    "B": [_b(t) for t in ("a", "ab", "b", "ba", "c", "zz")],
}
scalars = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=6)),
    st.builds(lambda n: {"N": str(n)}, st.integers(-50, 50)),
    st.builds(lambda b: {"B": _b(b)}, st.text(min_size=1, max_size=4)),
    st.builds(lambda v: {"BOOL": v}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda s: {"SS": sorted(s)}, st.sets(st.text(min_size=1, max_size=3), min_size=1, max_size=3)),
    st.builds(lambda s: {"NS": sorted(str(n) for n in s)}, st.sets(st.integers(0, 9), min_size=1, max_size=3)),
)
attribute_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3)),
        st.builds(
            lambda v: {"M": v},
            st.dictionaries(st.sampled_from(["S", "L", "M", "x", "ListAttributeValue"]), inner, max_size=3),
        ),  # fmt: skip
    ),
    max_leaves=6,
)


# ---------------------------------------------------------------- tables
@st.composite
def tables(draw: Any) -> dict[str, Any]:
    hash_type = draw(st.sampled_from(["S", "N", "B"]))
    range_type = draw(st.sampled_from([None, "S", "N", "B"]))
    gsi_range_type = draw(st.sampled_from(["S", "N"]))
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attrs = {"pk": hash_type, "g": "S", "gr": gsi_range_type, "h": "N"}
    if range_type:
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attrs["sk"] = range_type
    gsis = [
        {"IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                            {"AttributeName": "gr", "KeyType": "RANGE"}],
         "Projection": {"ProjectionType": draw(st.sampled_from(["ALL", "KEYS_ONLY"]))}},
        {"IndexName": "by_h", "KeySchema": [{"AttributeName": "h", "KeyType": "HASH"}],
         "Projection": {"ProjectionType": "ALL"}},
    ]  # fmt: skip
    body = {
        "KeySchema": keys,
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": t} for a, t in attrs.items()],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": gsis,
    }
    if range_type:
        attrs["l"] = "S"
        body["AttributeDefinitions"].append({"AttributeName": "l", "AttributeType": "S"})
        body["LocalSecondaryIndexes"] = [
            {"IndexName": "by_l", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                {"AttributeName": "l", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "ALL"}}
        ]  # fmt: skip
    return {"body": body, "types": attrs, "range": range_type}


def _key_value(draw: Any, kind: str) -> dict[str, str]:
    return {kind: draw(st.sampled_from(KEY_VALUES[kind]))}


def _key(draw: Any, table: dict[str, Any]) -> dict[str, Any]:
    key = {"pk": _key_value(draw, table["types"]["pk"])}
    if table["range"]:
        key["sk"] = _key_value(draw, table["range"])
    return key


def _item(draw: Any, table: dict[str, Any]) -> dict[str, Any]:
    item = _key(draw, table)
    types = table["types"]
    # Index keys are often missing (sparse indexes) and drawn from few values (crowded partitions).
    if draw(st.booleans()) or draw(st.booleans()):
        item["g"] = {"S": draw(st.sampled_from(["g1", "g2", "g3"]))}
    if draw(st.integers(0, 3)):
        item["gr"] = _key_value(draw, types["gr"])
    if draw(st.booleans()):
        item["h"] = {"N": draw(st.sampled_from(["1", "2", "2.0"]))}
    if "l" in types and draw(st.booleans()):
        item["l"] = _key_value(draw, "S")
    for name in draw(st.lists(st.sampled_from(["x", "y", "text", "n"]), max_size=3, unique=True)):
        item[name] = draw(attribute_values) if name != "n" else {"N": str(draw(st.integers(0, 9)))}
    return item


@st.composite
def writes(draw: Any, table: dict[str, Any]) -> tuple[str, dict[str, Any]]:  # noqa: C901 - one branch a kind
    kind = draw(st.sampled_from(["put", "put", "put", "update", "delete", "batch", "transaction"]))
    if kind == "put":
        return "PutItem", {"TableName": "@", "Item": _item(draw, table)}
    if kind == "update":
        expression, names, values = draw(
            st.sampled_from([
                ("SET #a = :v", {"#a": "g"}, {":v": {"S": "g2"}}),
                ("REMOVE #a", {"#a": "g"}, None),
                ("REMOVE #a", {"#a": "gr"}, None),
                ("SET #a = :v", {"#a": "gr"}, {":v": _key_value(draw, table["types"]["gr"])}),
                ("SET #a = :v", {"#a": "h"}, {":v": {"N": "1"}}),
                ("SET #a = :v", {"#a": "x"}, {":v": draw(attribute_values)}),
            ])
        )  # fmt: skip
        body = {"TableName": "@", "Key": _key(draw, table), "UpdateExpression": expression}
        body["ExpressionAttributeNames"] = names
        if values:
            body["ExpressionAttributeValues"] = values
        return "UpdateItem", body
    if kind == "delete":
        return "DeleteItem", {"TableName": "@", "Key": _key(draw, table)}
    if kind == "batch":
        requests, seen = [], set()
        for _ in range(draw(st.integers(1, 6))):
            if draw(st.booleans()):
                entry = {"PutRequest": {"Item": _item(draw, table)}}
                key = {k: entry["PutRequest"]["Item"][k] for k in ("pk", "sk") if k in entry["PutRequest"]["Item"]}
            else:
                key = _key(draw, table)
                entry = {"DeleteRequest": {"Key": key}}
            if json.dumps(key, sort_keys=True) not in seen:
                seen.add(json.dumps(key, sort_keys=True))
                requests.append(entry)
        return "BatchWriteItem", {"RequestItems": {"@": requests}}
    entries, seen = [], set()
    for _ in range(draw(st.integers(1, 4))):
        item = _item(draw, table)
        key = {k: item[k] for k in ("pk", "sk") if k in item}
        if json.dumps(key, sort_keys=True) in seen:
            continue
        seen.add(json.dumps(key, sort_keys=True))
        if draw(st.booleans()):
            entries.append({"Put": {"TableName": "@", "Item": item}})
        else:
            entries.append({"Update": {"TableName": "@", "Key": key, "UpdateExpression": "SET #g = :g",
                                       "ExpressionAttributeNames": {"#g": "g"},
                                       "ExpressionAttributeValues": {":g": {"S": "g1"}}}})  # fmt: skip
        if draw(st.integers(0, 3)) == 0:  # a condition that may fail: the whole transaction is cancelled
            entries[-1][next(iter(entries[-1]))]["ConditionExpression"] = "attribute_not_exists(pk)"
    return "TransactWriteItems", {"TransactItems": entries}


CONDITIONS = ["=", "<", "<=", ">", ">=", "BETWEEN", "BEGINS_WITH", None]


@st.composite
def queries(draw: Any, table: dict[str, Any]) -> dict[str, Any]:
    types = table["types"]
    indexes = [None, "by_g", "by_h"] + (["by_l"] if "l" in types else [])
    index = draw(st.sampled_from(indexes))
    hash_name, range_name = {None: ("pk", "sk" if table["range"] else None), "by_g": ("g", "gr"),
                             "by_h": ("h", None), "by_l": ("pk", "l")}[index]  # fmt: skip
    hash_value = (
        {"S": draw(st.sampled_from(["g1", "g2", "g3", "g4"]))}
        if hash_name == "g"
        else {"N": draw(st.sampled_from(["1", "2", "3"]))}
        if hash_name == "h"
        else _key_value(draw, types["pk"])
    )
    names, values = {"#h": hash_name}, {":h": hash_value}
    condition = "#h = :h"
    op = draw(st.sampled_from(CONDITIONS)) if range_name else None
    range_type = types.get(range_name) if range_name else None
    if op == "BEGINS_WITH" and range_type == "N":
        op = "<"
    if op:
        names["#r"] = range_name
        values[":a"] = _key_value(draw, range_type)
        if op == "BETWEEN":
            values[":b"] = _key_value(draw, range_type)
            condition += " AND #r BETWEEN :a AND :b"
        elif op == "BEGINS_WITH":
            condition += " AND begins_with(#r, :a)"
        else:
            condition += f" AND #r {op} :a"
    body: dict[str, Any] = {"KeyConditionExpression": condition, "ScanIndexForward": draw(st.booleans())}
    if index:
        body["IndexName"] = index
    if draw(st.integers(0, 3)):
        body["Limit"] = draw(st.integers(1, 5))
    filtering = draw(st.sampled_from([None, "attribute_exists(#x)", "#n > :n", "attribute_not_exists(#x)"]))
    if filtering:
        body["FilterExpression"] = filtering
        if "#x" in filtering:
            names["#x"] = "x"
        else:
            names["#n"], values[":n"] = "n", {"N": "4"}
    if draw(st.integers(0, 4)) == 0:
        body["ProjectionExpression"] = "#h, #p"
        names["#p"] = "text"
    if draw(st.integers(0, 6)) == 0:
        body["Select"] = "COUNT"
        body.pop("ProjectionExpression", None)
        names.pop("#p", None)
    if draw(st.integers(0, 6)) == 0 and index in (None, "by_l"):
        body["ConsistentRead"] = True
    body["ExpressionAttributeNames"], body["ExpressionAttributeValues"] = names, values
    return body


def _named(body: dict[str, Any], name: str) -> dict[str, Any]:
    text = json.dumps(body).replace('"@"', json.dumps(name))
    return json.loads(text)


def _both(dynamodb: Any, action: str, body: dict[str, Any]) -> tuple[int, bytes]:
    """The same request repaired and as moto ships it: the same answer, byte for byte."""
    repaired = dynamodb(action, body)
    with moto_query.moto_as_shipped():
        shipped = dynamodb(action, body)
    assert repaired == shipped, (action, body)
    return repaired


def _all_pages(dynamodb: Any, name: str, query: dict[str, Any]) -> int:
    body, pages = {**query, "TableName": name}, 0
    while True:
        status, data = _both(dynamodb, "Query", body)
        pages += 1
        answer = json.loads(data)
        if status != 200 or "LastEvaluatedKey" not in answer or pages > 60:
            return pages
        body = {**body, "ExclusiveStartKey": answer["LastEvaluatedKey"]}


# ---------------------------------------------------------------- the properties
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data(), table=tables())
def test_every_query_answers_as_moto_does_page_after_page_while_the_table_is_written(dynamodb, data, table):
    name = f"t{abs(hash(json.dumps(table, sort_keys=True))) % 10**9}-{data.draw(st.integers(0, 10**6))}"
    status, _ = dynamodb("CreateTable", {**table["body"], "TableName": name})
    assert status == 200
    try:
        for _ in range(data.draw(st.integers(2, 5))):
            for _ in range(data.draw(st.integers(0, 12))):
                action, body = data.draw(writes(table))
                dynamodb(action, _named(body, name))  # writes go through the repaired process only
            for _ in range(data.draw(st.integers(1, 4))):
                _all_pages(dynamodb, name, data.draw(queries(table)))
    finally:
        dynamodb("DeleteTable", {"TableName": name})


@settings(max_examples=80)
@given(item=st.dictionaries(st.sampled_from(["pk", "a", "b", "ListAttributeValue", "S"]), attribute_values,
                            min_size=1).map(lambda d: {**d, "pk": {"S": "k"}}))  # fmt: skip
def test_an_item_of_any_shape_reads_back_as_moto_serialises_it(dynamodb, item):
    status, _ = dynamodb(
        "CreateTable",
        {
            "TableName": "shapes",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    try:
        assert dynamodb("PutItem", {"TableName": "shapes", "Item": item})[0] == 200
        status, data = _both(dynamodb, "GetItem", {"TableName": "shapes", "Key": {"pk": {"S": "k"}}})
        assert status == 200 and json.loads(data)["Item"] == item
        _both(dynamodb, "Query", {"TableName": "shapes", "KeyConditionExpression": "pk = :k",
                                  "ExpressionAttributeValues": {":k": {"S": "k"}}})  # fmt: skip
        _both(dynamodb, "BatchGetItem", {"RequestItems": {"shapes": {"Keys": [{"pk": {"S": "k"}}]}}})
    finally:
        dynamodb("DeleteTable", {"TableName": "shapes"})


def test_a_query_reads_its_page_not_the_table(dynamodb, monkeypatch):
    """With 2,000 items in the table, a first page of one index partition looks at a window of the partition:
    moto's own query code is handed no more than that."""
    from moto.dynamodb.models.table import Table

    name = "wide"
    feed = [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}]
    dynamodb(
        "CreateTable",
        {
            "TableName": name,
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "g", "at")],
            "GlobalSecondaryIndexes": [
                {"IndexName": "feed", "KeySchema": feed, "Projection": {"ProjectionType": "ALL"}}
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    try:
        for start in range(0, 2000, 25):
            puts = [{"PutRequest": {"Item": {"pk": {"S": f"p{i}"}, "g": {"S": "all"}, "at": {"S": f"{i:05d}"}}}}
                    for i in range(start, start + 25)]  # fmt: skip
            assert dynamodb("BatchWriteItem", {"RequestItems": {name: puts}})[0] == 200
        seen: list[int] = []
        shown = Table.sorted_items

        def sorted_items(self, hash_attrs, range_attrs, items):
            seen.append(len(items))
            return shown(self, hash_attrs, range_attrs, items)

        monkeypatch.setattr(Table, "sorted_items", sorted_items)
        body = {"TableName": name, "IndexName": "feed", "KeyConditionExpression": "g = :g",
                "ExpressionAttributeValues": {":g": {"S": "all"}}, "ScanIndexForward": False, "Limit": 20}  # fmt: skip
        status, data = dynamodb("Query", body)
        page = json.loads(data)
        assert status == 200 and [i["at"]["S"] for i in page["Items"]] == [f"{i:05d}" for i in range(1999, 1979, -1)]
        status, data = dynamodb("Query", {**body, "ExclusiveStartKey": page["LastEvaluatedKey"]})
        assert [i["at"]["S"] for i in json.loads(data)["Items"]] == [f"{i:05d}" for i in range(1979, 1959, -1)]
        assert seen and max(seen) <= 64, seen
    finally:
        dynamodb("DeleteTable", {"TableName": name})

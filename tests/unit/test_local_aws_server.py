"""The local stack's emulated AWS keeps DynamoDB's promises under concurrent calls, as the real service does.

moto alone does not: its UpdateItem and conditional PutItem read, decide and write without a lock, so two threads
of its server could both receive the same ticket number or both win a routing claim. The requests here go through
the application the moto process serves, with the interpreter switching threads very often to make races likely.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter

import pytest
from werkzeug.test import Client

from complaints_tools.local.aws_server import application

THREADS, ROUNDS = 16, 40
HEADERS = {
    "Host": "dynamodb.us-east-1.amazonaws.com",
    "Content-Type": "application/x-amz-json-1.0",
    "Authorization": "AWS4-HMAC-SHA256 Credential=local/20261128/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


@pytest.fixture()
def call(aws_credentials):
    client = Client(application("us-east-1"))

    def dynamodb(action: str, body: dict) -> tuple[int, dict]:
        r = client.post("/", headers={**HEADERS, "X-Amz-Target": f"DynamoDB_20120810.{action}"}, data=json.dumps(body))
        return r.status_code, json.loads(r.data)

    table = f"race-{id(client)}"
    status, _ = dynamodb(
        "CreateTable",
        {
            "TableName": table,
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    assert status == 200
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield dynamodb, table
    sys.setswitchinterval(interval)
    dynamodb("DeleteTable", {"TableName": table})


def _in_threads(work) -> None:
    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_an_atomic_counter_never_hands_out_a_number_twice(call):
    dynamodb, table = call
    numbers: list[str] = []

    def work():
        for _ in range(ROUNDS):
            status, out = dynamodb(
                "UpdateItem",
                {
                    "TableName": table,
                    "Key": {"pk": {"S": "counter"}},
                    "UpdateExpression": "ADD #n :one",
                    "ExpressionAttributeNames": {"#n": "n"},
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                    "ReturnValues": "UPDATED_NEW",
                },
            )
            numbers.append(out["Attributes"]["n"]["N"])

    _in_threads(work)
    assert [n for n, times in Counter(numbers).items() if times > 1] == []
    _, item = dynamodb("GetItem", {"TableName": table, "Key": {"pk": {"S": "counter"}}})
    assert item["Item"]["n"]["N"] == str(THREADS * ROUNDS)


def test_a_conditional_write_succeeds_once_however_many_race_for_it(call):
    dynamodb, table = call
    wins: list[str] = []
    refusals: list[str] = []

    def work():
        for i in range(ROUNDS):
            item = {"TableName": table, "Item": {"pk": {"S": f"claim#{i}"}}}
            status, out = dynamodb("PutItem", {**item, "ConditionExpression": "attribute_not_exists(pk)"})
            if status == 200:
                wins.append(f"claim#{i}")
            else:
                refusals.append(out.get("__type", str(out)).rsplit("#", 1)[-1])

    _in_threads(work)
    assert sorted(wins) == sorted(f"claim#{i}" for i in range(ROUNDS))
    assert set(refusals) == {"ConditionalCheckFailedException"}


def test_a_cancelled_transaction_leaves_the_table_as_it_was_and_a_committed_one_is_kept(call):
    # moto's backup is made of the items a transaction names only (aws_server._transactions_back_up_what_they_name):
    # what it changed before the cancelling condition is undone, and nothing else is touched.
    dynamodb, table = call
    for n in range(50):
        assert dynamodb("PutItem", {"TableName": table, "Item": {"pk": {"S": f"t{n}"}, "v": {"N": str(n)}}})[0] == 200

    def update(pk: str, v: str) -> dict:
        return {
            "Update": {
                "TableName": table,
                "Key": {"pk": {"S": pk}},
                "UpdateExpression": "SET v = :v",
                "ExpressionAttributeValues": {":v": {"N": v}},
            }
        }

    cancelled = [
        update("t1", "100"),
        {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}}}},
        {"Delete": {"TableName": table, "Key": {"pk": {"S": "t2"}}}},
        {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "t3"}}, "ConditionExpression": "v = :no",
                            "ExpressionAttributeValues": {":no": {"N": "-1"}}}},
    ]  # fmt: skip
    status, answer = dynamodb("TransactWriteItems", {"TransactItems": cancelled})
    assert status == 400 and "TransactionCanceledException" in answer["__type"]
    status, committed = dynamodb("TransactWriteItems", {"TransactItems": [update("t4", "400")]})
    assert status == 200, committed
    scanned = dynamodb("Scan", {"TableName": table})[1]["Items"]
    assert {i["pk"]["S"]: int(i["v"]["N"]) for i in scanned} == {f"t{n}": 400 if n == 4 else n for n in range(50)}

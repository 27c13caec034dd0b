"""`complaints redrive`: move dead letters back to the queue they came from, once the cause is fixed.

The pairs (source queue ← dead-letter queue) come from template.yaml's RedrivePolicy; the physical queues from the
deployed stack (CloudFormation) or from a running local stack's health endpoint. Safe to run twice: every step
downstream is idempotent, and a message is deleted from the dead-letter queue only after it was sent back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from complaints_tools.local.template import Template
from complaints_tools.stacks import local_client


def redrive_pairs(template: Path) -> dict[str, tuple[str, str]]:
    """{short name: (source queue, dead-letter queue)} by logical id, e.g. {"classify": ("ClassifyQueue", …)}."""
    tpl = Template.load(template)
    pairs = {}
    for logical, res in tpl.of_type("AWS::SQS::Queue").items():
        policy = res["Properties"].get("RedrivePolicy")
        if policy:
            pairs[logical.removesuffix("Queue").lower()] = (logical, policy["deadLetterTargetArn"]["Fn::GetAtt"][0])
    return pairs


def local_stack(url: str) -> tuple[Any, dict[str, str]]:
    """(SQS client, {logical id: queue URL}) of a local stack, from its health endpoint."""
    return local_client(url, "sqs")


def deployed_stack(stack: str) -> tuple[Any, dict[str, str]]:
    """(SQS client, {logical id: queue URL}) of a deployed CloudFormation stack."""
    cfn = boto3.client("cloudformation")
    physical = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
        for r in page["StackResourceSummaries"]:
            physical[r["LogicalResourceId"]] = r["PhysicalResourceId"]  # an SQS queue's is its URL
    return boto3.client("sqs"), physical


def redrive(sqs: Any, source_url: str, dlq_url: str, limit: int | None = None) -> int:
    """Move up to `limit` messages (all if None) from `dlq_url` to `source_url`; the number moved."""
    moved = 0
    while limit is None or moved < limit:
        batch = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(10, limit - moved) if limit else 10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return moved
        entries = [{"Id": str(i), "MessageBody": m["Body"], **_attributes(m)} for i, m in enumerate(batch)]
        sent = sqs.send_message_batch(QueueUrl=source_url, Entries=entries)
        ok = {e["Id"] for e in sent.get("Successful", [])}
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch) if str(i) in ok]
        if done:
            sqs.delete_message_batch(QueueUrl=dlq_url, Entries=done)
        moved += len(done)
        if len(done) < len(batch):
            raise RuntimeError(f"{len(batch) - len(done)} messages could not be sent back; they stay dead-lettered")
    return moved


def dead_letter_tickets(sqs: Any, dlq_url: str) -> set[str]:
    """Ticket ids of every message in `dlq_url`, left in the queue (a poison message names none).

    Receiving with visibility 0 would show the same first ten messages again and again; each message is instead
    held out of sight while the queue is walked to its end, then made visible again at once."""
    ids: set[str] = set()
    held: list[str] = []
    try:
        while got := sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages"
        ):
            held += [m["ReceiptHandle"] for m in got]
            for m in got:
                try:
                    body = json.loads(m["Body"])
                except ValueError:
                    continue
                if isinstance(body, dict) and isinstance(body.get("ticket_id"), str):
                    ids.add(body["ticket_id"])
    finally:
        for i in range(0, len(held), 10):
            page = enumerate(held[i : i + 10])
            entries = [{"Id": str(j), "ReceiptHandle": h, "VisibilityTimeout": 0} for j, h in page]
            sqs.change_message_visibility_batch(QueueUrl=dlq_url, Entries=entries)
    return ids


def _attributes(m: dict[str, Any]) -> dict[str, Any]:
    attrs = m.get("MessageAttributes")
    return {"MessageAttributes": attrs} if attrs else {}

"""`complaints redrive` moves dead letters back to the queue the template says they came from."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from complaints_tools.local.faults import Faults
from complaints_tools.local.resources import create_all
from complaints_tools.local.template import Template
from complaints_tools.redrive import dead_letter_tickets, redrive, redrive_pairs

ROOT = Path(__file__).resolve().parents[2]


def test_every_dead_letter_queue_is_paired_with_its_source_from_the_template():
    assert redrive_pairs(ROOT / "template.yaml") == {
        "classify": ("ClassifyQueue", "ClassifyDeadLetterQueue"),
        "route": ("RouteQueue", "RouteDeadLetterQueue"),
        "photo": ("PhotoQueue", "PhotoDeadLetterQueue"),
    }


def test_redrive_moves_every_message_back_once(aws_credentials):
    with mock_aws():
        tpl = Template.load(ROOT / "template.yaml")
        create_all(tpl)
        sqs = boto3.client("sqs")
        source, dlq = (tpl.physical[q]["QueueUrl"] for q in ("ClassifyQueue", "ClassifyDeadLetterQueue"))
        bodies = {f'{{"ticket_id": "{i:032x}"}}' for i in range(23)}
        for body in bodies:
            sqs.send_message(QueueUrl=dlq, MessageBody=body)
        assert redrive(sqs, source, dlq, limit=5) == 5
        assert redrive(sqs, source, dlq) == 18
        assert redrive(sqs, source, dlq) == 0
        moved = []
        while got := sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10).get("Messages"):
            moved += [m["Body"] for m in got]
            sqs.delete_message_batch(
                QueueUrl=source,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)],
            )
        assert sorted(moved) == sorted(bodies)


def test_every_dead_lettered_ticket_is_listed_and_stays_in_the_queue(aws_credentials):
    # More than one receive's worth (10): a queue of dead letters must be read to its end, not its first page.
    with mock_aws():
        sqs = boto3.client("sqs")
        dlq = sqs.create_queue(QueueName="dead")["QueueUrl"]
        tickets = {f"{i:032x}" for i in range(27)}
        for t in sorted(tickets):
            sqs.send_message(QueueUrl=dlq, MessageBody=f'{{"ticket_id": "{t}"}}')
        sqs.send_message(QueueUrl=dlq, MessageBody="{not json")
        assert dead_letter_tickets(sqs, dlq) == tickets
        assert dead_letter_tickets(sqs, dlq) == tickets  # nothing was taken or hidden
        assert redrive(sqs, sqs.create_queue(QueueName="source")["QueueUrl"], dlq) == 28


def test_fault_specs_are_read_from_the_environment_form_or_json_and_typos_refused():
    assert Faults.parse("sns_publish_fail=0.2,model=corrupt") == Faults(sns_publish_fail=0.2, model="corrupt")
    assert Faults.parse('{"dynamodb_throttle": 0.1}') == Faults(dynamodb_throttle=0.1)
    assert Faults.parse("") == Faults()
    with pytest.raises(ValueError, match="unknown faults"):
        Faults.parse("sns_fail=0.2")
    with pytest.raises(ValueError, match="model"):
        Faults.parse({"model": "gone"})

"""Nothing is lost: a message no handler can process ends in the dead-letter queue; the rest still flow."""

from __future__ import annotations

import time


def test_a_poison_message_lands_in_the_dead_letter_queue_and_others_still_flow(stack):
    sqs = stack.aws("sqs")
    sqs.send_message(QueueUrl=stack.resource("ClassifyQueue"), MessageBody='{"not": "a ticket"}')
    created = stack.post({"text": "上望街道薛里村有人焚烧垃圾，黑烟很大"}).json()
    assert stack.wait_for_status(created)["status"] == "dispatched"

    dlq = stack.resource("ClassifyDeadLetterQueue")
    deadline = time.monotonic() + 30
    dead = []
    while time.monotonic() < deadline and not dead:
        dead = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in dead] == ['{"not": "a ticket"}']

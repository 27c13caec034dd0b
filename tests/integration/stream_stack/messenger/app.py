"""The stream-events test's messenger: appends each event it gets to RECORD_FILE, then does what each message asks.

A message item's `behaviour`: `ok` (the default), `crash` (the invocation fails), `fail_once` (named in
batchItemFailures the first time, fine after), `email` (sent through SES v2 from SENDER to its `to`).
"""

import json
import os
from pathlib import Path

import boto3

_ses = boto3.client("sesv2")


def lambda_handler(event, context):
    with open(os.environ["RECORD_FILE"], "a", encoding="utf-8") as f:
        f.write(json.dumps({"request_id": context.aws_request_id, "records": event["Records"]}) + "\n")
    failed = []
    for record in event["Records"]:
        image = record["dynamodb"]["NewImage"]
        behaviour = image.get("behaviour", {}).get("S", "ok")
        if behaviour == "crash":
            raise RuntimeError(f"the messenger crashed on {image['pk']['S']}")
        marker = Path(f"{os.environ['RECORD_FILE']}.{image['pk']['S'].replace('#', '-')}.failed")
        if behaviour == "fail_once" and not marker.exists():
            marker.touch()
            failed.append(record["dynamodb"]["SequenceNumber"])
        if behaviour == "email":
            _ses.send_email(
                FromEmailAddress=os.environ["SENDER"],
                Destination={"ToAddresses": [image["to"]["S"]]},
                Content={
                    "Simple": {
                        "Subject": {"Data": f"#{image['ticket_no']['N']} 您的投诉已受理"},
                        "Body": {"Text": {"Data": image["text"]["S"]}},
                    }
                },
            )
    return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}

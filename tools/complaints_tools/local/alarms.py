"""The template's CloudWatch alarms, evaluated locally from what the local stack can see.

SQS alarms (a dead-letter queue holding messages) read the queue's depth from moto; Lambda `Errors` alarms read
the errors the local pollers (queue and stream pollers alike) and schedulers counted since start (init errors
included): invocations that raised, as Lambda's Errors metric counts them — a stream batch answered with
`batchItemFailures` is no error. Others are `UNKNOWN`.
"""

from __future__ import annotations

from typing import Any

import boto3

from complaints_tools.local.template import Template

_COMPARE = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def alarm_states(tpl: Template, pollers: list, schedulers: dict) -> dict[str, dict[str, Any]]:
    """{alarm: {"state": "OK" | "ALARM" | "UNKNOWN", "value": …}} for every alarm in the template; `pollers`: the
    queue and stream pollers (anything with `function.name` and `errors`)."""
    sqs = boto3.client("sqs", region_name=tpl.region)
    errors: dict[str, int] = {}
    for p in [*pollers, *schedulers.values()]:
        errors[p.function.name] = errors.get(p.function.name, 0) + p.errors
    out = {}
    for name, res in tpl.of_type("AWS::CloudWatch::Alarm").items():
        props = res["Properties"]
        dims = {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
        value = None
        if props["Namespace"] == "AWS/SQS" and props["MetricName"] == "ApproximateNumberOfMessagesVisible":
            queue = dims["QueueName"]["Fn::GetAtt"][0]
            attrs = sqs.get_queue_attributes(
                QueueUrl=tpl.physical[queue]["QueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
            )
            value = int(attrs["Attributes"]["ApproximateNumberOfMessages"])
        elif props["Namespace"] == "AWS/Lambda" and props["MetricName"] == "Errors":
            value = errors.get(dims["FunctionName"]["Ref"], 0)
        if value is None:
            out[name] = {"state": "UNKNOWN", "value": None}
        else:
            breached = _COMPARE[props["ComparisonOperator"]](value, float(props["Threshold"]))
            out[name] = {"state": "ALARM" if breached else "OK", "value": value}
    return out

"""Subscribe each agency's notification endpoints to the SNS topics, from the city configuration.

Run after every deploy (`complaints subscribe-agencies --stack NAME`) and by the local stack at start-up:
the city file is the one source of who is notified; SNS subscriptions follow it. Idempotent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from complaints.city import City
from complaints_tools.stacks import outputs


@dataclass(frozen=True)
class Wanted:
    topic_arn: str
    protocol: str
    endpoint: str
    filter_policy: dict[str, list[str]] | None


def wanted_subscriptions(city: City, dispatch_arn: str, triage_arn: str) -> list[Wanted]:
    out = []
    for agency in city.agencies:
        topic = triage_arn if agency.kind == "triage" else dispatch_arn
        for n in agency.notify:
            out.append(Wanted(topic, n.protocol, n.endpoint, city.filter_policy(agency, n)))
    return out


def sync(city: City, dispatch_arn: str, triage_arn: str, *, prune: bool = False, sns: Any = None) -> dict[str, int]:
    """Create missing subscriptions, update filter policies, and (with prune) remove ones the city no longer has."""
    sns = sns or boto3.client("sns")
    counts = {"created": 0, "updated": 0, "unchanged": 0, "removed": 0}
    wanted = wanted_subscriptions(city, dispatch_arn, triage_arn)
    existing: dict[tuple[str, str, str], str] = {}
    for topic in (dispatch_arn, triage_arn):
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
            for s in page["Subscriptions"]:
                existing[(topic, s["Protocol"], s["Endpoint"])] = s["SubscriptionArn"]
    for w in wanted:
        key = (w.topic_arn, w.protocol, w.endpoint)
        policy = json.dumps(w.filter_policy, ensure_ascii=False, sort_keys=True) if w.filter_policy else None
        arn = existing.pop(key, None)
        if arn is None:
            attrs = {"FilterPolicy": policy, "FilterPolicyScope": "MessageAttributes"} if policy else {}
            sns.subscribe(TopicArn=w.topic_arn, Protocol=w.protocol, Endpoint=w.endpoint, Attributes=attrs)
            counts["created"] += 1
        elif arn.startswith("arn:"):
            current = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"].get("FilterPolicy")
            if (json.loads(current) if current else None) != w.filter_policy:
                sns.set_subscription_attributes(
                    SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue=policy or "{}"
                )
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
        else:
            counts["unchanged"] += 1  # still PendingConfirmation: the e-mail's owner has not clicked yet
    if prune:
        for arn in existing.values():
            if arn.startswith("arn:"):
                sns.unsubscribe(SubscriptionArn=arn)
                counts["removed"] += 1
    return counts


def stack_topics(stack_name: str, cfn: Any = None) -> tuple[str, str]:
    """The dispatch and triage topic ARNs from a deployed stack's outputs."""
    found = outputs(stack_name, cfn)
    return found["DispatchTopicArn"], found["TriageTopicArn"]

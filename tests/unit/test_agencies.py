"""Subscribing agencies from the city file: complete, idempotent, and following edits to the file."""

from __future__ import annotations

import dataclasses
import json

import boto3
from moto import mock_aws

from complaints_tools.agencies import sync


def topics():
    sns = boto3.client("sns")
    return sns, sns.create_topic(Name="dispatch")["TopicArn"], sns.create_topic(Name="triage")["TopicArn"]


def subscriptions(sns, topic):
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    out = {}
    for s in subs:
        policy = sns.get_subscription_attributes(SubscriptionArn=s["SubscriptionArn"])["Attributes"].get("FilterPolicy")
        out[(s["Protocol"], s["Endpoint"])] = json.loads(policy) if policy else None
    return out


def test_every_endpoint_is_subscribed_once_with_its_filter(city, aws_credentials):
    with mock_aws():
        sns, dispatch, triage = topics()
        first = sync(city, dispatch, triage)
        again = sync(city, dispatch, triage)
        endpoints = sum(len(a.notify) for a in city.agencies)
        assert first["created"] == endpoints and again["created"] == 0 and again["unchanged"] == endpoints
        subs = subscriptions(sns, dispatch)
        assert subs[("email", "hbj@ruian.example")] == {"agency": ["eco"], "audience": ["agency", "co"]}
        assert subs[("email", "shangwang@ruian.example")] == {
            "$or": [
                {"agency": ["town-shangwang"], "audience": ["agency", "co"]},
                {"district": ["上望街道"], "audience": ["copy"]},
            ]
        }
        assert list(subscriptions(sns, triage)) == [("email", "paidan@ruian.example")]


def test_edits_to_the_city_file_are_followed(city, aws_credentials):
    with mock_aws():
        sns, dispatch, triage = topics()
        sync(city, dispatch, triage)
        eco = city.agency("eco")
        narrowed = dataclasses.replace(eco, notify=(dataclasses.replace(eco.notify[0], districts=("塘下镇",)),))
        others = tuple(a for a in city.agencies if a.id != "eco")
        edited = dataclasses.replace(city, agencies=(narrowed, *others))
        counts = sync(edited, dispatch, triage, prune=True)
        assert counts["updated"] == 1 and counts["removed"] == len(eco.notify) - 1
        subs = subscriptions(sns, dispatch)
        assert subs[("email", "hbj@ruian.example")] == {
            "agency": ["eco"],
            "audience": ["agency", "co"],
            "district": ["塘下镇"],
        }
        assert ("sms", eco.notify[1].endpoint) not in subs

"""Reaching a stack from the `complaints` command: a deployed one's outputs, a local one's AWS endpoint."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3


def outputs(stack_name: str, cfn: Any = None) -> dict[str, str]:
    """A deployed CloudFormation stack's outputs, by key."""
    cfn = cfn or boto3.client("cloudformation")
    (stack,) = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def local_client(url: str, service: str) -> tuple[Any, dict[str, str]]:
    """(a boto3 client of `service` on the local stack's moto, {logical id: physical id}), from its health page."""
    return _local(url, service, boto3.client)


def local_resource(url: str, service: str) -> tuple[Any, dict[str, str]]:
    """As local_client, with a boto3 resource (e.g. DynamoDB's, which the repositories take)."""
    return _local(url, service, boto3.resource)


def _local(url: str, service: str, make: Any) -> tuple[Any, dict[str, str]]:
    with urllib.request.urlopen(url.rstrip("/") + "/_local/health", timeout=10) as r:
        health = json.loads(r.read())
    made = make(
        service,
        endpoint_url=health["aws_endpoint"],
        region_name=health["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    return made, health["resources"]

"""The local stack's fault injector short-circuits the AWS call it fails, as the SDK would after its own retries."""

from __future__ import annotations

import boto3
import pytest

from complaints.adapters.citizen_channels import SesEmailSender, SnsSmsSender
from complaints.domain.errors import TemporarilyUnavailable
from complaints_tools.local.faults import FaultInjector, Faults


def _session(injector: FaultInjector) -> boto3.Session:
    # The hooks install() puts on the default session, on a session of the test's own.
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    session.events.register("before-call.sns.Publish", injector._sns_publish)
    for operation in ("sesv2.SendEmail", "ses.SendEmail", "ses.SendRawEmail"):
        session.events.register(f"before-call.{operation}", injector._ses_send)
    return session


def test_ses_sends_are_throttled_and_the_messenger_is_told_to_retry():
    injector = FaultInjector(Faults.parse("ses_send_fail=1"))
    session = _session(injector)
    sender = SesEmailSender("desk@ruian.example", client=session.client("sesv2", endpoint_url="http://127.0.0.1:9"))
    with pytest.raises(TemporarilyUnavailable):
        sender.send_email("citizen@example.com", "subject", "body", 10001)
    with pytest.raises(session.client("ses").exceptions.ClientError, match="Throttling"):
        session.client("ses", endpoint_url="http://127.0.0.1:9").send_email(
            Source="desk@ruian.example",
            Destination={"ToAddresses": ["citizen@example.com"]},
            Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
        )
    assert injector.injected["ses_send_fail"] == 2


def test_an_sms_straight_to_a_phone_number_is_an_sns_publish_the_fault_reaches():
    injector = FaultInjector(Faults(sns_publish_fail=1.0))
    sms = SnsSmsSender(client=_session(injector).client("sns", endpoint_url="http://127.0.0.1:9"))
    with pytest.raises(TemporarilyUnavailable):
        sms.send_sms("138 1234 5678", "text", 10001)
    assert injector.injected["sns_publish_fail"] == 1

"""The local stack's fault knobs strike the AWS calls they name, and only those: SNS Publish (to a topic or straight to
a citizen's phone) and SES sends (v2 and v1) fail as a whole, with errors the desk's adapters treat as worth a retry."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from complaints.adapters.citizen_channels import SesEmailSender, SnsSmsSender
from complaints.domain.errors import TemporarilyUnavailable
from complaints_tools.local.faults import FaultInjector, Faults

SENDER = "desk@ruian.example"
CITIZEN = "li@example.cn"


@pytest.fixture
def aws(aws_credentials):
    """A session of its own with the injector on it (never the default session other tests use)."""
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        injector = FaultInjector(seed=7)
        injector.install(session)
        session.client("ses").verify_email_identity(EmailAddress=SENDER)
        yield session, injector


def _v2_send(ses) -> dict:
    return ses.send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": [CITIZEN]},
        Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
    )


def _v1_send(ses) -> dict:
    return ses.send_email(
        Source=SENDER,
        Destination={"ToAddresses": [CITIZEN]},
        Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
    )


def _v1_raw(ses) -> dict:
    raw = f"From: {SENDER}\r\nTo: {CITIZEN}\r\nSubject: s\r\n\r\nb\r\n".encode()
    return ses.send_raw_email(Source=SENDER, Destinations=[CITIZEN], RawMessage={"Data": raw})


def test_ses_send_fail_is_read_like_the_other_faults():
    assert Faults.parse("ses_send_fail=0.3,sns_publish_fail=0.2") == Faults(ses_send_fail=0.3, sns_publish_fail=0.2)
    assert Faults.parse('{"ses_send_fail": 1}').ses_send_fail == 1.0


@pytest.mark.parametrize(
    ("service", "send", "code", "status"),
    [
        ("sesv2", _v2_send, "TooManyRequestsException", 429),
        ("ses", _v1_send, "Throttling", 400),
        ("ses", _v1_raw, "Throttling", 400),
    ],
    ids=["v2-SendEmail", "v1-SendEmail", "v1-SendRawEmail"],
)
def test_every_ses_send_fails_with_its_apis_throttling_error_and_passes_without_it(aws, service, send, code, status):
    session, injector = aws
    ses = session.client(service)
    injector.faults = Faults(ses_send_fail=1.0)
    with pytest.raises(ClientError) as failed:
        send(ses)
    assert failed.value.response["Error"]["Code"] == code
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert injector.as_dict()["injected"]["ses_send_fail"] == 1
    injector.faults = Faults(sns_publish_fail=1.0)  # another service's fault leaves SES alone
    assert send(ses)["MessageId"]
    assert injector.as_dict()["injected"]["ses_send_fail"] == 1


def test_a_failed_ses_send_is_one_the_desk_retries(aws):
    session, injector = aws
    sender = SesEmailSender(SENDER, client=session.client("sesv2"))
    injector.faults = Faults(ses_send_fail=1.0)
    with pytest.raises(TemporarilyUnavailable):  # not UndeliverableContact: the message is not given up
        sender.send_email(CITIZEN, "s", "b", 10001)
    injector.faults = Faults()
    assert sender.send_email(CITIZEN, "s", "b", 10001)


def test_sns_publish_fail_strikes_the_citizens_sms_straight_to_a_number_too(aws):
    session, injector = aws
    sns = session.client("sns")
    topic = sns.create_topic(Name="dispatch")["TopicArn"]
    sms = SnsSmsSender(client=sns)
    injector.faults = Faults(sns_publish_fail=1.0)
    with pytest.raises(TemporarilyUnavailable):
        sms.send_sms("13812345678", "问题10001已答复", 10001)
    with pytest.raises(ClientError):
        sns.publish(TopicArn=topic, Message="m")
    assert injector.as_dict()["injected"]["sns_publish_fail"] == 2
    injector.faults = Faults(ses_send_fail=1.0)
    assert sms.send_sms("13812345678", "问题10001已答复", 10001)


def test_a_share_of_calls_fails_not_all(aws):
    session, injector = aws
    ses = session.client("sesv2")
    injector.faults = Faults(ses_send_fail=0.5)
    outcomes = []
    for _ in range(40):
        try:
            _v2_send(ses)
            outcomes.append(True)
        except ClientError:
            outcomes.append(False)
    assert 5 < outcomes.count(False) < 35
    assert injector.as_dict()["injected"]["ses_send_fail"] == outcomes.count(False)

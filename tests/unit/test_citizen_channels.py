"""Writing to a citizen: SMS straight to their phone (SNS), e-mail through SES — against moto, and as the local
outbox lists them."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns import sns_backends

from complaints.adapters.citizen_channels import SesEmailSender, SnsSmsSender, UndeliverableContact, e164
from complaints_tools.local import outbox

REGION = "us-east-1"
SENDER = "noreply@wenzheng.ruian.example"


@pytest.mark.parametrize(
    ("written", "number"),
    [
        ("13812345678", "+8613812345678"),
        ("138 1234 5678", "+8613812345678"),
        ("138-1234-5678", "+8613812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("0086 13812345678", "+8613812345678"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_a_phone_number_as_citizens_write_it_becomes_the_number_sns_takes(written, number):
    assert e164(written) == number


@pytest.mark.parametrize("written", ["0577-65812345", "12345", "abc", "23812345678"])
def test_a_number_that_cannot_take_an_sms_is_undeliverable_and_the_error_does_not_repeat_it(written):
    with pytest.raises(UndeliverableContact) as e:
        e164(written)
    assert written not in str(e.value)


@pytest.fixture
def aws():
    with mock_aws():
        outbox.install()
        outbox.clear()
        yield


def test_an_sms_goes_to_the_citizen_s_number_as_a_transactional_message(aws):
    SnsSmsSender(boto3.client("sns", region_name=REGION)).send_sms("138 1234 5678", "【瑞安】问题10001已答复", 10001)
    sent = list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())
    assert sent == [("+8613812345678", "【瑞安】问题10001已答复")]


def test_an_email_goes_from_the_desk_s_verified_address(aws):
    ses = boto3.client("sesv2", region_name=REGION)
    ses.create_email_identity(EmailIdentity=SENDER)
    message_id = SesEmailSender(SENDER, ses).send_email("li@example.cn", "#10001 已答复", "答复内容", 10001)
    assert message_id


def test_an_address_ses_refuses_is_undeliverable_not_a_retry(aws):
    ses = boto3.client("sesv2", region_name=REGION)  # the sender is not verified: SES rejects the message
    with pytest.raises(UndeliverableContact, match="refused"):
        SesEmailSender(SENDER, ses).send_email("li@example.cn", "#10001", "答复", 10001)


def test_the_local_outbox_lists_messages_to_citizens_beside_the_agencies_notices(aws):
    ses = boto3.client("sesv2", region_name=REGION)
    ses.create_email_identity(EmailIdentity=SENDER)
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="dispatch")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="hbj@ruian.example")
    sns.publish(
        TopicArn=topic,
        Message="新工单",
        MessageAttributes={"ticket_no": {"DataType": "String", "StringValue": "10001"}},
    )
    SnsSmsSender(sns).send_sms("13812345678", "问题10001已答复", 10001)
    SesEmailSender(SENDER, ses).send_email("li@example.cn", "瑞网议事厅 #10001 已答复", "答复内容", 10001)
    entries = outbox.outbox(REGION, {topic: "dispatch"})
    assert [(e["to"], e["protocol"], e["endpoint"], e["ticket_no"]) for e in entries] == [
        ("agency", "email", "hbj@ruian.example", "10001"),
        ("citizen", "sms", "+8613812345678", "10001"),
        ("citizen", "email", "li@example.cn", "10001"),
    ]
    assert entries[1]["message"] == "问题10001已答复" and entries[2]["subject"] == "瑞网议事厅 #10001 已答复"


def test_the_local_outbox_numbers_a_citizens_email_by_its_tag_whatever_its_subject_says(aws):
    # The messenger's subjects say 编号10001, not #10001: the number comes from the message's ticket_no tag.
    ses = boto3.client("sesv2", region_name=REGION)
    ses.create_email_identity(EmailIdentity=SENDER)
    subject = "瑞网议事厅：您反映的问题（编号10002）已答复"
    SesEmailSender(SENDER, ses).send_email("li@example.cn", subject, "答复", 10002)
    ses.send_email(  # untagged: nothing to go by but the subject, which has no #number
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": ["wang@example.cn"]},
        Content={"Simple": {"Subject": {"Data": "编号10003"}, "Body": {"Text": {"Data": "x"}}}},
    )
    entries = outbox.outbox(REGION, {})
    assert [(e["endpoint"], e["ticket_no"]) for e in entries] == [("li@example.cn", "10002"), ("wang@example.cn", None)]

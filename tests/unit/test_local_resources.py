"""Resources the local stack makes from a template: a table's indexes and stream, an SES identity, a stream event.

The template here is a small one of this test's own, in the shape template.yaml's tickets table and messenger take.
"""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from complaints_tools.local.resources import create_all
from complaints_tools.local.runtime import StreamSettings
from complaints_tools.local.template import Template

TEMPLATE = """
Parameters:
  CitizenEmailSender:
    Type: String
    Default: wenzheng@ruian.example
Resources:
  TicketsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: agency, AttributeType: S}
        - {AttributeName: agency_status, AttributeType: S}
        - {AttributeName: created_at, AttributeType: S}
        - {AttributeName: due_pk, AttributeType: S}
        - {AttributeName: due_at, AttributeType: S}
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      GlobalSecondaryIndexes:
        - IndexName: inbox
          KeySchema: [{AttributeName: agency, KeyType: HASH}, {AttributeName: created_at, KeyType: RANGE}]
          Projection: {ProjectionType: INCLUDE, NonKeyAttributes: [ticket_no, status, category, district]}
        - IndexName: inbox_status
          KeySchema: [{AttributeName: agency_status, KeyType: HASH}, {AttributeName: created_at, KeyType: RANGE}]
          Projection: {ProjectionType: ALL}
        - IndexName: due
          KeySchema: [{AttributeName: due_pk, KeyType: HASH}, {AttributeName: due_at, KeyType: RANGE}]
          Projection: {ProjectionType: KEYS_ONLY}
      StreamSpecification:
        StreamViewType: NEW_IMAGE
  MessengerDeadLetterQueue:
    Type: AWS::SQS::Queue
    Properties: {MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true}
  CitizenEmailIdentity:
    Type: AWS::SES::EmailIdentity
    Properties:
      EmailIdentity: !Ref CitizenEmailSender
  MessengerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/messenger/
      Handler: app.lambda_handler
      Events:
        Outbox:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt TicketsTable.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            MaximumBatchingWindowInSeconds: 0
            MaximumRetryAttempts: 20
            BisectBatchOnFunctionError: true
            FunctionResponseTypes: [ReportBatchItemFailures]
            FilterCriteria:
              Filters:
                - Pattern: '{"eventName": ["INSERT"], "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "message#"}]}}}}'
            DestinationConfig:
              OnFailure:
                Destination: !GetAtt MessengerDeadLetterQueue.Arn
"""


@pytest.fixture()
def tpl(aws_credentials, tmp_path):
    with mock_aws():
        (tmp_path / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
        tpl = Template.load(tmp_path / "template.yaml")
        create_all(tpl)
        yield tpl


def test_the_table_has_its_indexes_with_their_projections_and_no_throughput(tpl):
    ddb = boto3.client("dynamodb")
    table = ddb.describe_table(TableName=tpl.physical["TicketsTable"]["Ref"])["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    want = tpl.resources["TicketsTable"]["Properties"]["GlobalSecondaryIndexes"]
    got = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    for index in want:
        assert got[index["IndexName"]]["KeySchema"] == index["KeySchema"]
        assert got[index["IndexName"]]["Projection"] == index["Projection"]
    name = tpl.physical["TicketsTable"]["Ref"]
    ddb.put_item(
        TableName=name,
        Item={
            "pk": {"S": "ticket#10001"},
            "agency": {"S": "eco"},
            "created_at": {"S": "2026-11-30T08:00:00Z"},
            "ticket_no": {"N": "10001"},
            "status": {"S": "dispatched"},
            "text": {"S": "河水发黑"},
        },
    )
    (item,) = ddb.query(
        TableName=name,
        IndexName="inbox",
        KeyConditionExpression="agency = :a",
        ExpressionAttributeValues={":a": {"S": "eco"}},
    )["Items"]
    assert "text" not in item and item["status"] == {"S": "dispatched"}  # INCLUDE projects the named ones only


def test_the_table_streams_its_new_images_and_getatt_stream_arn_resolves(tpl):
    table = boto3.client("dynamodb").describe_table(TableName=tpl.physical["TicketsTable"]["Ref"])["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert tpl.resolve({"Fn::GetAtt": ["TicketsTable", "StreamArn"]}) == table["LatestStreamArn"]


def test_the_messengers_stream_event_resolves_to_what_its_poller_honours(tpl):
    (event,) = tpl.dynamodb_events("MessengerFunction")
    assert event["Stream"] == tpl.physical["TicketsTable"]["StreamArn"]
    settings = StreamSettings.from_event(event)
    assert (settings.starting_position, settings.batch_size, settings.batching_window_s) == ("TRIM_HORIZON", 10, 0)
    assert (settings.max_retries, settings.bisect, settings.report_item_failures) == (20, True, True)
    assert settings.destination == tpl.physical["MessengerDeadLetterQueue"]["Arn"]
    assert settings.filters({"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "message#1"}}}})
    assert not settings.filters({"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "ticket#1"}}}})


def test_mail_can_be_sent_from_the_email_identity_and_from_no_other_address(tpl):
    sender = tpl.physical["CitizenEmailIdentity"]["Ref"]
    assert sender == "wenzheng@ruian.example"
    sesv2 = boto3.client("sesv2")
    content = {"Simple": {"Subject": {"Data": "#10001 已受理"}, "Body": {"Text": {"Data": "您的投诉已受理"}}}}
    sent = sesv2.send_email(
        FromEmailAddress=sender, Destination={"ToAddresses": ["citizen@example.com"]}, Content=content
    )
    assert sent["MessageId"]
    with pytest.raises(sesv2.exceptions.MessageRejected):
        sesv2.send_email(
            FromEmailAddress="someone@ruian.example", Destination={"ToAddresses": ["c@example.com"]}, Content=content
        )

"""Who may do what: each function's role grants exactly what its adapters call, on exactly the keys it touches.

The table below is the documentation. A statement in template.yaml that is not in it, or a row of it the template
does not grant, fails the test. Resources are spelt as in the template: `TicketsTable` for its ARN, a `!Sub` text
as written. Items of the tickets table are named by the prefixes of their `pk` (dynamodb:LeadingKeys).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from complaints_tools.local.template import Template

ROOT = Path(__file__).resolve().parents[2]

TICKETS = ("ticket#*",)
MESSAGES = ("message#*",)  # the outbox: messages a move owes, written in the move's transaction
COUNTER = ("counter#ticket_no",)
LEDGER = ("weibo#*",)  # the Weibo cursor, one item per mention, the reply outbox
WECHAT_USERS_AND_TOKEN = ("wechat#user#*", "wechat#access-token")  # the 48-hour window; the shared access token
WECHAT_APP_SECRET = (
    "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${WechatParameterPrefix}/app-secret"
)
ENTRIES = ("ticket#*",)  # BoardTable: one entry per ticket number
POSTINGS = ("term#*",)  # BoardTable: the search postings of one word
DERIVED = "${PhotosBucket.Arn}/photos/*"  # photos/<ticket id>/display.jpg and thumbnail.jpg
ORIGINALS = "${PhotosBucket.Arn}/originals/*"  # originals/<ticket id>, uploaded by presigned POST
CAR_MOVING = ("carmove#*",)  # codes, requesters, blocks, requests, owner links, limits, notices, the audit
NOTICES = ("carmove#notice#*",)  # an owner's notice, with its deliveries
REQUESTER_PHONES = "context ticket_id requester#*"  # sealed requesters' phones (car moving), no ticket's contact
QUEUE_READS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")

# (actions, resource, the tickets table's items it is limited to, or how else it is conditioned)
MAY: dict[str, list[tuple[tuple[str, ...], str, Any]]] = {
    "IntakeFunction": [
        (("kms:Encrypt",), "ContactKey", None),  # seal contact details; nobody decrypts
        (("dynamodb:UpdateItem",), "TicketsTable", COUNTER),  # the next ticket number
        # store the ticket, read it for GET /complaints/{id}, delete it when the intake fails half-way
        (("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"), "TicketsTable", TICKETS),
        # a rating closes or reopens the ticket, with the messages it owes in the same transaction
        (("dynamodb:UpdateItem",), "TicketsTable", TICKETS),
        (("dynamodb:PutItem",), "TicketsTable", MESSAGES),
        # Powertools Idempotency: the kept answer per Idempotency-Key
        (
            ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
            "IdempotencyTable",
            None,
        ),
        # inline photos: store the derived images, delete them on undo, sign the citizen's links (presigned GET)
        (("s3:PutObject", "s3:DeleteObject", "s3:GetObject"), DERIVED, None),
        (("s3:PutObject",), ORIGINALS, None),  # sign the upload form (presigned POST); never read an original
        (("sqs:SendMessage",), "ClassifyQueue", None),
    ],
    "PhotoFunction": [
        (("dynamodb:GetItem", "dynamodb:UpdateItem"), "TicketsTable", TICKETS),
        (("s3:GetObject", "s3:DeleteObject"), ORIGINALS, None),  # HEAD + ranged GET, then delete the original
        (("s3:PutObject", "s3:DeleteObject"), DERIVED, None),  # store the derived images; undo
        (("sqs:SendMessage",), "ClassifyQueue", None),
        (QUEUE_READS, "not PhotoQueue", "deny"),
    ],
    "ClassifyFunction": [
        (("dynamodb:GetItem", "dynamodb:UpdateItem"), "TicketsTable", TICKETS),
        (("sqs:SendMessage",), "RouteQueue", None),
        (QUEUE_READS, "not ClassifyQueue", "deny"),
    ],
    "RouteFunction": [
        (("dynamodb:GetItem", "dynamodb:UpdateItem"), "TicketsTable", TICKETS),
        (("sns:Publish",), "DispatchTopic", None),
        (("sns:Publish",), "TriageTopic", None),
        # the data key of the alias/aws/sns topics, only through SNS
        (
            ("kms:GenerateDataKey", "kms:Decrypt"),
            "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*",
            "via sns.${AWS::Region}.amazonaws.com",
        ),
        (("sts:AssumeRole",), "PhotoLinkRole", None),  # its session signs the e-mail's photo link
        (QUEUE_READS, "not RouteQueue", "deny"),
    ],
    "WeiboFunction": [
        (("kms:Encrypt",), "ContactKey", None),
        (("dynamodb:UpdateItem",), "TicketsTable", COUNTER),
        (("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"), "TicketsTable", TICKETS),
        (("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"), "TicketsTable", LEDGER),
        (("s3:PutObject", "s3:DeleteObject"), DERIVED, None),  # a mention's picture; undo
        (("sqs:SendMessage",), "ClassifyQueue", None),
        (
            ("ssm:GetParameter",),
            "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${WeiboTokenParameter}",
            None,
        ),
    ],
    # WeChat's server URL: a delivery, the user and the draft in one transaction, the OpenID sealed at once.
    "WechatFunction": [
        (("kms:Encrypt",), "ContactKey", None),
        (("dynamodb:GetItem", "dynamodb:PutItem"), "TicketsTable", ("wechat#in#*", "wechat#user#*", "wechat#draft#*")),
        (("dynamodb:GetItem",), "TicketsTable", TICKETS),  # 查询: the user's own tickets
        # 挪车: the car-moving use case, with CarMovingFunction's grants
        (("kms:Decrypt",), "ContactKey", REQUESTER_PHONES),
        (
            ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
            "TicketsTable",
            CAR_MOVING,
        ),
        (("dynamodb:UpdateItem",), "TicketsTable", COUNTER),
        (("dynamodb:PutItem", "dynamodb:DeleteItem"), "TicketsTable", TICKETS),
        (("sqs:SendMessage",), "ClassifyQueue", None),
        (("dynamodb:GetItem",), "VehiclesTable", None),
        (
            ("ssm:GetParameter",),
            "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${PhoneKeyParameter}",
            None,
        ),
        (("sns:Publish",), "*", None),
        (
            ("ssm:GetParameter",),
            "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${WechatParameterPrefix}/token",
            None,
        ),
        (
            ("ssm:GetParameter",),
            "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${WechatParameterPrefix}/aes-key",
            None,
        ),
    ],
    # Drafts to tickets: the intake's grants (no sealing: the draft's contact is sealed already), WeChat's media.
    "WechatDraftsFunction": [
        (("dynamodb:UpdateItem",), "TicketsTable", COUNTER),
        # the ticket and its received message in one transaction; read it on a redelivery; undo
        (("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"), "TicketsTable", TICKETS + MESSAGES),
        (("dynamodb:GetItem", "dynamodb:PutItem"), "TicketsTable", WECHAT_USERS_AND_TOKEN),
        (("s3:PutObject", "s3:DeleteObject"), DERIVED, None),
        (("sqs:SendMessage",), "ClassifyQueue", None),
        (("ssm:GetParameter",), WECHAT_APP_SECRET, None),
        (("sqs:SendMessage",), "WechatDraftsDeadLetterQueue", None),
        (
            ("dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"),
            "not TicketsTable.StreamArn",
            "deny",
        ),
    ],
    "WechatTokenFunction": [
        (("dynamodb:GetItem", "dynamodb:PutItem"), "TicketsTable", ("wechat#access-token",)),
        (("ssm:GetParameter",), WECHAT_APP_SECRET, None),
    ],
    "AgencyFunction": [
        # read and move tickets (accept, reply, return, extend, assign), with the messages they owe
        (("dynamodb:GetItem", "dynamodb:UpdateItem"), "TicketsTable", TICKETS),
        (("dynamodb:PutItem",), "TicketsTable", MESSAGES),
        # the inboxes: the caller's agency's tickets, from the indexes, never a scan
        (("dynamodb:Query",), "${TicketsTable.Arn}/index/inbox", None),
        (("dynamodb:Query",), "${TicketsTable.Arn}/index/inbox_status", None),
        (("s3:GetObject",), DERIVED, None),  # sign fresh photo links on each view
    ],
    "MessengerFunction": [
        (("kms:Decrypt",), "ContactKey", None),  # the one function that opens sealed contact details
        (("dynamodb:GetItem",), "TicketsTable", TICKETS),
        (("dynamodb:GetItem", "dynamodb:UpdateItem"), "TicketsTable", MESSAGES),  # claim and record deliveries
        (("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"), "TicketsTable", LEDGER),  # Weibo comments
        (("dynamodb:GetItem", "dynamodb:PutItem"), "TicketsTable", WECHAT_USERS_AND_TOKEN),  # answers in WeChat
        (("ssm:GetParameter",), WECHAT_APP_SECRET, None),  # a token, when WeChat rejected the stored one
        (("sns:Publish",), "*", None),  # SMS to a phone number has no resource but "*"
        (
            ("ses:SendEmail",),
            "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${CitizenEmailSender}",
            None,
        ),
        (
            ("kms:GenerateDataKey", "kms:Decrypt"),
            "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*",
            "via sns.${AWS::Region}.amazonaws.com",
        ),
        (("sqs:SendMessage",), "MessengerDeadLetterQueue", None),  # the stream's on-failure records
        (
            ("dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"),
            "not TicketsTable.StreamArn",
            "deny",
        ),
    ],
    # The public board reads BoardTable only, never the tickets table, and signs links to the derived copies only.
    "BoardFunction": [
        (("dynamodb:GetItem", "dynamodb:BatchGetItem"), "BoardTable", ENTRIES),
        (("dynamodb:Query",), "BoardTable", POSTINGS),  # a search walks one word's postings
        (("dynamodb:Query",), "${BoardTable.Arn}/index/*", None),  # the filters' indexes
        (("s3:GetObject",), "${PhotosBucket.Arn}/photos/*/thumbnail.jpg", None),
        (("s3:GetObject",), "${PhotosBucket.Arn}/photos/*/display.jpg", None),
    ],
    # The board's writer: the tickets table's stream in, BoardTable out; it reads no ticket by key.
    "BoardProjectionFunction": [
        (("dynamodb:GetItem", "dynamodb:PutItem"), "BoardTable", ENTRIES),
        (("dynamodb:BatchWriteItem",), "BoardTable", POSTINGS),
        (("sqs:SendMessage",), "BoardProjectionDeadLetterQueue", None),
        (
            ("dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"),
            "not TicketsTable.StreamArn",
            "deny",
        ),
    ],
    "DeadlinesFunction": [
        (("dynamodb:Query",), "${TicketsTable.Arn}/index/due", None),
        (("dynamodb:GetItem", "dynamodb:UpdateItem"), "TicketsTable", TICKETS),
        (("dynamodb:PutItem",), "TicketsTable", MESSAGES),
    ],
    "CarMovingFunction": [
        (("kms:Encrypt",), "ContactKey", None),  # seal the requester's phone; the police ticket's contact
        (("kms:Decrypt",), "ContactKey", REQUESTER_PHONES),  # the requester's phone for the police ticket
        (
            ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
            "TicketsTable",
            CAR_MOVING,
        ),
        # the hand-over to the police is a ticket, as the intake stores one (no photo), never read back here
        (("dynamodb:UpdateItem",), "TicketsTable", COUNTER),
        (("dynamodb:PutItem", "dynamodb:DeleteItem"), "TicketsTable", TICKETS),
        (("sqs:SendMessage",), "ClassifyQueue", None),
        (("dynamodb:GetItem",), "VehiclesTable", None),  # the owner's sealed phone, by plate
        (
            ("ssm:GetParameter",),
            "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${PhoneKeyParameter}",
            None,
        ),
        (("sns:Publish",), "*", None),  # the verification code by SMS
    ],
    "CarMovingNoticeFunction": [
        (("dynamodb:GetItem", "dynamodb:UpdateItem"), "TicketsTable", NOTICES),  # claim and record deliveries
        (("kms:Decrypt",), "VehicleKey", None),  # the one function that opens owners' phones
        (("sns:Publish",), "*", None),  # the owner's SMS
        (
            ("sms-voice:SendVoiceMessage", "sms-voice:DescribePhoneNumbers"),
            "arn:${AWS::Partition}:sms-voice:${AWS::Region}:${AWS::AccountId}:*",
            None,
        ),
        (("sqs:SendMessage",), "CarMovingNoticeDeadLetterQueue", None),  # the stream's on-failure records
        (
            ("dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"),
            "not TicketsTable.StreamArn",
            "deny",
        ),
    ],
}
# What SAM adds to each role by itself: CloudWatch Logs for every function, and for an SQS event source the
# AWS-managed queue-reading policy (any queue: hence the Deny rows above, which keep each to its own queue).
SAM_ADDS = {
    "IntakeFunction": ["AWSLambdaBasicExecutionRole"],
    "PhotoFunction": ["AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole"],
    "ClassifyFunction": ["AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole"],
    "RouteFunction": ["AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole"],
    "WeiboFunction": ["AWSLambdaBasicExecutionRole"],
    "AgencyFunction": ["AWSLambdaBasicExecutionRole"],
    "WechatFunction": ["AWSLambdaBasicExecutionRole"],
    "WechatDraftsFunction": ["AWSLambdaBasicExecutionRole", "AWSLambdaDynamoDBExecutionRole"],
    "WechatTokenFunction": ["AWSLambdaBasicExecutionRole"],
    "MessengerFunction": ["AWSLambdaBasicExecutionRole", "AWSLambdaDynamoDBExecutionRole"],
    "DeadlinesFunction": ["AWSLambdaBasicExecutionRole"],
    "BoardFunction": ["AWSLambdaBasicExecutionRole"],
    "BoardProjectionFunction": ["AWSLambdaBasicExecutionRole", "AWSLambdaDynamoDBExecutionRole"],
    "CarMovingFunction": ["AWSLambdaBasicExecutionRole"],
    "CarMovingNoticeFunction": ["AWSLambdaBasicExecutionRole", "AWSLambdaDynamoDBExecutionRole"],
}


@pytest.fixture(scope="module")
def tpl() -> Template:
    return Template.load(ROOT / "template.yaml")


def _name(value: Any) -> str:
    if isinstance(value, str):
        return value
    ((key, arg),) = value.items()
    if key == "Ref":
        return arg
    if key == "Fn::GetAtt" and arg[1] == "Arn":
        return arg[0]
    if key == "Fn::GetAtt" and arg[1] == "StreamArn":
        return f"{arg[0]}.StreamArn"
    if key == "Fn::Sub" and isinstance(arg, str):
        return arg
    raise AssertionError(f"the table cannot name the resource {value}")


def _limit(statement: dict[str, Any]) -> Any:
    condition = statement.get("Condition")
    if statement["Effect"] == "Deny":
        assert condition is None
        return "deny"
    if condition is None:
        return None
    if list(condition) == ["ForAllValues:StringLike"] and list(condition["ForAllValues:StringLike"]) == [
        "dynamodb:LeadingKeys"
    ]:
        return tuple(condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
    if list(condition) == ["StringEquals"] and list(condition["StringEquals"]) == ["kms:ViaService"]:
        return f"via {_name(condition['StringEquals']['kms:ViaService'])}"
    if list(condition) == ["StringLike"] and len(condition["StringLike"]) == 1:
        ((key, pattern),) = condition["StringLike"].items()
        if key.startswith("kms:EncryptionContext:"):
            return f"context {key.removeprefix('kms:EncryptionContext:')} {pattern}"
    raise AssertionError(f"the table cannot spell the condition {condition}")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(tpl: Template, fn: str) -> list[dict[str, Any]]:
    return [s for p in tpl.functions()[fn]["Properties"].get("Policies", []) for s in p["Statement"]]


def _grants(rows) -> set[tuple[str, str, Any]]:
    return {(action, resource, limit) for actions, resource, limit in rows for action in actions}


def _template_grants(tpl: Template, fn: str) -> set[tuple[str, str, Any]]:
    rows = []
    for s in _statements(tpl, fn):
        resources = (
            [f"not {_name(r)}" for r in _listed(s["NotResource"])]
            if "NotResource" in s
            else [_name(r) for r in _listed(s["Resource"])]
        )
        rows += [(tuple(_listed(s["Action"])), r, _limit(s)) for r in resources]
    return _grants(rows)


def test_each_function_may_do_exactly_what_the_permission_table_says(tpl):
    assert sorted(tpl.functions()) == sorted(MAY)
    for fn, rows in MAY.items():
        granted, documented = _template_grants(tpl, fn), _grants(rows)
        assert granted - documented == set(), f"{fn} may do more than the table says"
        assert documented - granted == set(), f"{fn} may do less than the table says"


def test_roles_are_written_out_statement_by_statement_without_templates_or_wildcards(tpl):
    for fn, res in tpl.functions().items():
        assert "Role" not in res["Properties"], f"{fn}: a role of its own escapes this table"
        for policy in res["Properties"].get("Policies", []):
            # SAM policy templates (DynamoDBCrudPolicy, S3CrudPolicy, …) grant far more than any function uses.
            assert isinstance(policy, dict) and list(policy) == ["Statement"], f"{fn} uses a policy template {policy}"
        for s in _statements(tpl, fn):
            assert "NotAction" not in s
            for action in _listed(s["Action"]):
                assert "*" not in action, f"{fn} is granted the wildcard action {action}"


def test_no_function_can_change_the_photo_bucket_or_remove_the_expiry_of_originals(tpl):
    for fn in tpl.functions():
        for action, resource, _ in _template_grants(tpl, fn):
            if action.startswith("s3:"):
                assert action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"), (fn, action)
                assert resource.startswith("${PhotosBucket.Arn}/"), (fn, resource)


def test_only_the_photo_function_reads_uploaded_originals(tpl):
    readers = [f for f in tpl.functions() if ("s3:GetObject", ORIGINALS, None) in _template_grants(tpl, f)]
    assert readers == ["PhotoFunction"]


def test_no_function_may_scan_or_read_the_tickets_table_in_bulk(tpl):
    for fn in tpl.functions():
        for action, resource, limit in _template_grants(tpl, fn):
            if resource == "TicketsTable":
                assert action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
                assert isinstance(limit, tuple) and limit, f"{fn} may {action} any item of the tickets table"


def test_each_queue_consumer_may_read_only_the_queue_of_its_event(tpl):
    for fn in tpl.functions():
        queues = [e["Queue"]["Fn::GetAtt"][0] for e in tpl.sqs_events(fn)]
        denied = {r for a, r, limit in _template_grants(tpl, fn) if limit == "deny" and a.startswith("sqs:")}
        assert denied == {f"not {q}" for q in queues}, fn


def test_only_the_messenger_opens_contact_details_and_only_the_stream_workers_read_the_tickets_stream(tpl):
    openers = [f for f in tpl.functions() if ("kms:Decrypt", "ContactKey", None) in _template_grants(tpl, f)]
    assert openers == ["MessengerFunction"]
    # Car moving (the API's and WeChat's 挪车) opens requesters' phones only (their own encryption context), never a
    # ticket's.
    limited = [
        f for f in tpl.functions() if ("kms:Decrypt", "ContactKey", REQUESTER_PHONES) in _template_grants(tpl, f)
    ]
    assert sorted(limited) == ["CarMovingFunction", "WechatFunction"]
    owners = [
        f
        for f in tpl.functions()
        if any(a == "kms:Decrypt" and r == "VehicleKey" for a, r, _ in _template_grants(tpl, f))
    ]
    assert owners == ["CarMovingNoticeFunction"]
    streams = [
        (fn, e["Properties"]["Stream"])
        for fn, res in tpl.functions().items()
        for e in res["Properties"].get("Events", {}).values()
        if e["Type"] == "DynamoDB"
    ]
    assert sorted(streams) == [
        ("BoardProjectionFunction", {"Fn::GetAtt": ["TicketsTable", "StreamArn"]}),
        ("CarMovingNoticeFunction", {"Fn::GetAtt": ["TicketsTable", "StreamArn"]}),
        ("MessengerFunction", {"Fn::GetAtt": ["TicketsTable", "StreamArn"]}),
        ("WechatDraftsFunction", {"Fn::GetAtt": ["TicketsTable", "StreamArn"]}),
    ]


SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
# Run with SAM's own translator (installed by `make lint` into .venv-sam): the roles SAM really creates.
_TRANSLATE = """
import json, os, sys
from samtranslator.translator.transform import transform
sys.path.insert(0, sys.argv[1])
from complaints_tools.local.template import load_template

class NoManagedPolicyNames:
    def load(self):
        return {}

doc = load_template(sys.argv[2])
for res in doc["Resources"].values():  # sam build would upload these; the translator wants S3 URIs
    for key in ("CodeUri", "ContentUri"):
        if key in res.get("Properties", {}):
            res["Properties"][key] = "s3://bucket/key"
out = transform(doc, {}, NoManagedPolicyNames())
roles = {k: v["Properties"] for k, v in out["Resources"].items() if v["Type"] == "AWS::IAM::Role"}
print(json.dumps(roles))
"""


@pytest.mark.lint
@pytest.mark.skipif(not SAM_PYTHON.exists(), reason="SAM is not installed (make lint installs it into .venv-sam)")
def test_sam_adds_nothing_to_the_roles_but_logs_and_queue_reading(tpl):
    result = subprocess.run(
        [str(SAM_PYTHON), "-c", _TRANSLATE, str(ROOT / "tools"), str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": os.environ.get("PATH", "")},
    )
    assert result.returncode == 0, result.stderr
    roles = json.loads(result.stdout)
    made_by_sam = [r for r in roles if r not in tpl.resources]
    assert sorted(made_by_sam) == sorted(f"{fn}Role" for fn in MAY)
    for fn, managed in SAM_ADDS.items():
        role = roles[f"{fn}Role"]
        assert [arn.rsplit("/", 1)[1] for arn in role["ManagedPolicyArns"]] == managed, fn
        statements = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
        assert statements == _statements(tpl, fn), f"SAM added statements of its own to {fn}Role"


def test_the_photo_link_role_reads_display_copies_only_and_only_route_may_assume_it(tpl):
    role = tpl.resources["PhotoLinkRole"]["Properties"]
    (statement,) = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "s3:GetObject")
    assert _name(statement["Resource"]) == "${PhotosBucket.Arn}/photos/*/display.jpg"
    assert role["MaxSessionDuration"] == 3600  # the link's lifetime: a session can live no longer
    # The trust is the account's; of the roles in the template, only route's allows assuming it.
    assumers = [fn for fn in MAY if any(s.get("Action") == "sts:AssumeRole" for s in _statements(tpl, fn))]
    assert assumers == ["RouteFunction"]

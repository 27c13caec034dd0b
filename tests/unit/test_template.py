"""template.yaml: what it promises, and that the local stack builds exactly what it declares."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from complaints_tools.local.resources import CREATED, create_all
from complaints_tools.local.runtime import compile_route, gateway_response, match_route
from complaints_tools.local.template import Template

ROOT = Path(__file__).resolve().parents[2]
# Resource types that have no run-time counterpart locally, each with the reason.
NOT_EMULATED = {
    "AWS::Serverless::Function": "run in-process by the local stack",
    "AWS::Serverless::Api": "the local gateway serves its routes",
    "AWS::Serverless::LayerVersion": "layer folders are mapped to /opt paths",
    "AWS::S3::BucketPolicy": "moto does not enforce TLS-only access",
    "AWS::CloudWatch::Alarm": "evaluated by /_local/health from queue depths and invocation errors",
    "AWS::SNS::Subscription": "agency subscriptions come from the city file",
    "AWS::WAFv2::WebACL": "the local gateway enforces its rate rules (local/waf.py)",
    "AWS::WAFv2::WebACLAssociation": "the local gateway is the only stage",
    "AWS::WAFv2::LoggingConfiguration": "blocked requests are answered, not logged",
    "AWS::Logs::LogGroup": "the local stack logs to its own output",
    "AWS::ApiGateway::Account": "the local gateway is no API Gateway account",
    "AWS::CloudFront::Distribution": "the local gateway routes pages and the API as it does (local/web.py)",
    "AWS::CloudFront::Function": "its page table is read and followed by local/web.py",
    "AWS::CloudFront::ResponseHeadersPolicy": "its headers are added by local/web.py",
    "AWS::CloudFront::OriginAccessControl": "pages are read from web/ directly",
}


@pytest.fixture(scope="module")
def tpl() -> Template:
    return Template.load(ROOT / "template.yaml")


def test_every_resource_type_is_created_or_knowingly_skipped(tpl):
    unknown = {r["Type"] for r in tpl.resources.values()} - set(CREATED) - set(NOT_EMULATED)
    assert not unknown, f"the local stack does not know how to emulate {unknown}"


def test_every_queue_has_a_dead_letter_queue_with_an_alarm(tpl):
    queues = tpl.of_type("AWS::SQS::Queue")
    alarms = tpl.of_type("AWS::CloudWatch::Alarm").values()
    for _name, q in queues.items():
        if "RedrivePolicy" in q["Properties"]:
            dlq = q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            assert dlq in queues
            watched = [
                a
                for a in alarms
                if any(
                    isinstance(d.get("Value"), dict) and d["Value"].get("Fn::GetAtt", [None])[0] == dlq
                    for d in a["Properties"]["Dimensions"]
                )
            ]
            assert watched, f"no alarm watches {dlq}"
    consumers = [e for f in tpl.functions() for e in tpl.sqs_events(f)]
    assert len(consumers) == 3
    assert all(e["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for e in consumers)


def test_storage_is_private_durable_and_encrypted(tpl):
    table = tpl.resources["TicketsTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    bucket = tpl.resources["PhotosBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert "BucketEncryption" in bucket


# What an access log line may say: who (address), when, which route (its template, not the path: that names the
# ticket), and how it went. Never the path, the query string (it may carry a receipt), a header or a body.
ACCESS_LOG_FIELDS = {
    "$context.requestId",
    "$context.identity.sourceIp",
    "$context.requestTime",
    "$context.httpMethod",
    "$context.resourcePath",
    "$context.status",
    "$context.responseLength",
    "$context.integrationLatency",
    "$context.responseLatency",
    "$context.wafResponseCode",
}


def test_every_api_request_is_logged_as_json_without_paths_query_strings_or_bodies(tpl):
    setting = tpl.resources["Api"]["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    line = json.loads(setting["Format"])  # CloudWatch Logs Insights reads the fields of a JSON line
    assert set(line.values()) == ACCESS_LOG_FIELDS
    assert tpl.resources["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "AccessLogRetentionDays"}
    # API Gateway logs only through the account's CloudWatch role; the stage waits for it, and it outlives the stack.
    account = tpl.resources["ApiGatewayAccount"]
    assert account["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}
    assert tpl.resources["Api"]["DependsOn"] == "ApiGatewayAccount"
    assert account["DeletionPolicy"] == tpl.resources["ApiGatewayCloudWatchRole"]["DeletionPolicy"] == "Retain"


def test_every_photo_request_is_logged_to_a_private_encrypted_bucket_that_forgets_it(tpl):
    logging = tpl.resources["PhotosBucket"]["Properties"]["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": "PhotoAccessLogBucket"}
    bucket = tpl.resources["PhotoAccessLogBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"  # the only default encryption a log delivery bucket supports
    }
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (expiry,) = bucket["LifecycleConfiguration"]["Rules"]
    assert expiry["Status"] == "Enabled" and "Prefix" not in expiry
    assert expiry["ExpirationInDays"] == {"Ref": "AccessLogRetentionDays"}
    policy = tpl.resources["PhotoAccessLogBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "PhotoAccessLogBucket"}
    (delivery,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"} and delivery["Action"] == "s3:PutObject"
    assert delivery["Resource"] == {"Fn::Sub": "${PhotoAccessLogBucket.Arn}/" + logging["LogFilePrefix"] + "*"}
    assert "PhotoAccessLogBucketPolicy" in tpl.resources["PhotosBucket"]["DependsOn"]


def test_uploaded_photos_reach_the_photo_function_and_heic_stays_out_of_classify(tpl):
    notifications = tpl.resources["PhotosBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert [(n["Queue"], n["Event"]) for n in notifications] == [
        ({"Fn::GetAtt": ["PhotoQueue", "Arn"]}, "s3:ObjectCreated:*")
    ]
    (event,) = tpl.sqs_events("PhotoFunction")
    assert event["Queue"] == {"Fn::GetAtt": ["PhotoQueue", "Arn"]}
    assert "PhotoLayer" in tpl.function_layers("PhotoFunction") and "PhotoLayer" in tpl.function_layers(
        "IntakeFunction"
    )
    assert "PhotoLayer" not in tpl.function_layers("ClassifyFunction")
    # The ticket cannot wait longer than SQS can delay its deadline message.
    assert tpl.doc["Parameters"]["PhotoWaitSeconds"]["MaxValue"] == 900


def test_api_routes(tpl):
    routes = sorted(tpl.api_routes("IntakeFunction"))
    assert routes == [
        ("ANY", "/{proxy+}"),
        ("GET", "/complaints/{id}"),
        ("GET", "/openapi.json"),
        ("POST", "/complaints"),
        ("POST", "/complaints/{id}/rating"),
    ]
    # Every staff route is behind the Cognito authorizer.
    staff = tpl.api_routes("AgencyFunction")
    assert sorted(staff) == [
        ("GET", "/agency/me"),
        ("GET", "/agency/tickets"),
        ("GET", "/agency/tickets/{id}"),
        ("POST", "/agency/tickets/{id}/accept"),
        ("POST", "/agency/tickets/{id}/extend"),
        ("POST", "/agency/tickets/{id}/reply"),
        ("POST", "/agency/tickets/{id}/return"),
        ("POST", "/triage/tickets/{id}/assign"),
        ("POST", "/triage/tickets/{id}/hide"),
        ("POST", "/triage/tickets/{id}/unhide"),
    ]
    assert set(tpl.api_route_authorizers("AgencyFunction").values()) == {"StaffAuthorizer"}
    assert set(tpl.api_route_authorizers("AgencyFunction")) == set(staff)
    # The public board takes no sign-in.
    assert sorted(tpl.api_routes("BoardFunction")) == [
        ("ANY", "/board"),  # answered 405 with Allow: GET, in the API's error shape
        ("ANY", "/board/{ticket_no}"),
        ("GET", "/board"),
        ("GET", "/board/{ticket_no}"),
    ]
    assert tpl.api_route_authorizers("BoardFunction") == {}
    # Car moving: its own bearer token (a verified phone), and the owner's link, which is its own secret.
    routes = [
        ("GET", "/car-moving/owner/{code}"),
        ("GET", "/car-moving/{id}"),
        ("POST", "/car-moving"),
        ("POST", "/car-moving/owner/{code}/moved"),
        ("POST", "/car-moving/{id}/police"),
        ("POST", "/car-moving/{id}/remind"),
        ("POST", "/verify"),
        ("POST", "/verify/confirm"),
    ]
    # Each path also takes ANY, answered 405 with Allow in the API's error shape.
    others = sorted({("ANY", path) for _, path in routes})
    assert sorted(tpl.api_routes("CarMovingFunction")) == sorted(routes + others)
    assert tpl.api_route_authorizers("CarMovingFunction") == {}


@pytest.mark.parametrize(
    "response_type, status, message",
    [
        ("REQUEST_TOO_LARGE", 413, "Request Too Long"),
        ("THROTTLED", 429, "Too Many Requests"),
        ("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token"),
        ("INTEGRATION_FAILURE", 502, "Internal server error"),
        ("INTEGRATION_TIMEOUT", 504, 'Endpoint request timed out "after 29 s"'),
        ("UNSUPPORTED_MEDIA_TYPE", 415, "Unsupported Media Type"),
    ],
)
def test_api_gateways_own_answers_have_the_apis_error_shape(tpl, response_type, status, message):
    got_status, body = gateway_response(tpl.gateway_responses(), response_type, status, message)
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message"} and all(isinstance(v, str) and v for v in error.values())
    # A body over API Gateway's limit and its throttle answer as the intake's cap and WAF's rate rule do.
    want = {
        "REQUEST_TOO_LARGE": (413, "body_too_large"),
        "THROTTLED": (429, "rate_limited"),
        "MISSING_AUTHENTICATION_TOKEN": (404, "not_found"),
    }.get(response_type, (status, "refused" if status < 500 else "unavailable"))
    assert (got_status, error["code"]) == want
    if response_type in ("INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT", "UNSUPPORTED_MEDIA_TYPE"):
        assert error["message"] == message


@pytest.mark.parametrize(
    "method, path, resource",
    [
        ("POST", "/complaints", "/complaints"),
        ("GET", "/complaints/abc", "/complaints/{id}"),
        # API Gateway picks the resource and the method together: a method its resource does not declare goes on
        # to the greedy /{proxy+} ANY (measured on AWS by the emulators ministack, PR 1423, and floci, issue 1547),
        # so the intake itself answers it with a 405.
        ("DELETE", "/complaints", "/{proxy+}"),
        ("TRACE", "/complaints/abc", "/{proxy+}"),
        ("GET", "/nothing/here", "/{proxy+}"),
    ],
)
def test_the_local_gateway_routes_as_api_gateway_does(tpl, method, path, resource):
    routes = [compile_route(m, template, function=None) for m, template in tpl.api_routes("IntakeFunction")]
    route, _ = match_route(routes, method, path)
    assert route.template == resource


def _assert_table_matches(ddb, tpl: Template, logical: str, props: dict) -> None:
    desc = ddb.describe_table(TableName=tpl.physical[logical]["Ref"])["Table"]
    assert desc["KeySchema"] == props["KeySchema"]
    indexes = {i["IndexName"]: i for i in desc.get("GlobalSecondaryIndexes", [])}
    for want in props.get("GlobalSecondaryIndexes", []):
        got = indexes.pop(want["IndexName"])
        assert (got["KeySchema"], got["Projection"]) == (want["KeySchema"], want["Projection"])
    assert not indexes
    if "StreamSpecification" in props:
        view = props["StreamSpecification"]["StreamViewType"]
        assert desc["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": view}
        assert tpl.physical[logical]["StreamArn"] == desc["LatestStreamArn"]
    backups = ddb.describe_continuous_backups(TableName=tpl.physical[logical]["Ref"])
    pitr = props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
    got = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
    assert got == ("ENABLED" if pitr else "DISABLED")
    ttl = ddb.describe_time_to_live(TableName=tpl.physical[logical]["Ref"])["TimeToLiveDescription"]
    if "TimeToLiveSpecification" in props:
        assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"]


def test_local_resources_match_the_template(tpl, aws_credentials):
    with mock_aws():
        create_all(tpl)
        ddb, sqs, sns, s3 = (boto3.client(s) for s in ("dynamodb", "sqs", "sns", "s3"))
        for logical, res in tpl.of_type("AWS::DynamoDB::Table").items():
            _assert_table_matches(ddb, tpl, logical, res["Properties"])
        for logical, res in tpl.of_type("AWS::SQS::Queue").items():
            attrs = sqs.get_queue_attributes(QueueUrl=tpl.physical[logical]["Ref"], AttributeNames=["All"])[
                "Attributes"
            ]
            if "VisibilityTimeout" in res["Properties"]:
                assert attrs["VisibilityTimeout"] == str(res["Properties"]["VisibilityTimeout"])
            if "RedrivePolicy" in res["Properties"]:
                want = tpl.resolve(res["Properties"]["RedrivePolicy"])
                got = json.loads(attrs["RedrivePolicy"])
                assert got["deadLetterTargetArn"] == want["deadLetterTargetArn"]
                assert int(got["maxReceiveCount"]) == int(want["maxReceiveCount"])
        topics = {t["TopicArn"] for t in sns.list_topics()["Topics"]}
        assert {tpl.physical[t]["Ref"] for t in tpl.of_type("AWS::SNS::Topic")} <= topics
        for logical, res in tpl.of_type("AWS::S3::Bucket").items():
            block = s3.get_public_access_block(Bucket=tpl.physical[logical]["Ref"])
            assert all(block["PublicAccessBlockConfiguration"].values())
            want = res["Properties"].get("NotificationConfiguration", {}).get("QueueConfigurations", [])
            got = s3.get_bucket_notification_configuration(Bucket=tpl.physical[logical]["Ref"])
            assert [
                (c["QueueArn"], c["Events"], c["Filter"]["Key"]["FilterRules"])
                for c in got.get("QueueConfigurations", [])
            ] == [(tpl.resolve(c["Queue"]), [c["Event"]], c["Filter"]["S3Key"]["Rules"]) for c in want]
        for res in tpl.of_type("AWS::SQS::QueuePolicy").values():
            for url in tpl.resolve(res["Properties"]["Queues"]):
                policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
                assert json.loads(policy) == tpl.resolve(res["Properties"]["PolicyDocument"])
        # Every variable each function reads resolves to something real: no dangling Ref, no /opt path. Empty only
        # where it is a parameter whose default is empty (an operator's choice, such as the account's default).
        parameters = tpl.doc["Parameters"]
        for fn, res in tpl.functions().items():
            declared = res["Properties"].get("Environment", {}).get("Variables", {})
            for key, value in tpl.function_environment(fn).items():
                ref = declared.get(key, {}).get("Ref") if isinstance(declared.get(key), dict) else None
                optional = ref in parameters and parameters[ref].get("Default") == ""
                assert (value or optional) and not value.startswith(("/opt/", "{")), (fn, key, value)


@pytest.mark.lint
@pytest.mark.skipif(
    shutil.which("cfn-lint") is None and not (ROOT / ".venv/bin/cfn-lint").exists(), reason="cfn-lint is not installed"
)
def test_cfn_lint_passes():
    exe = shutil.which("cfn-lint") or str(ROOT / ".venv/bin/cfn-lint")
    result = subprocess.run([exe, str(ROOT / "template.yaml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# -------------------------------------------------------------------- Weibo
def test_weibo_poller_runs_on_the_schedule_parameter_every_minute_by_default(tpl):
    from complaints_tools.local.runtime import schedule_seconds

    (event,) = tpl.schedule_events("WeiboFunction")
    assert tpl.doc["Parameters"]["WeiboPollSchedule"]["Default"] == "rate(1 minute)"
    raw = tpl.functions()["WeiboFunction"]["Properties"]["Events"]["Poll"]["Properties"]
    assert raw["Schedule"] == {"Ref": "WeiboPollSchedule"}
    assert schedule_seconds(event["Schedule"]) == 60  # what the local scheduler runs, unless WEIBO_POLL_SECONDS
    assert (
        Template.load(ROOT / "template.yaml", parameters={"WeiboPollSchedule": "rate(5 minutes)"}).schedule_events(
            "WeiboFunction"
        )[0]["Schedule"]
        == "rate(5 minutes)"
    )


@pytest.mark.parametrize(("expr", "seconds"), [("rate(1 minute)", 60), ("rate(2 hours)", 7200), ("rate(1 day)", 86400)])
def test_local_scheduler_reads_rate_expressions(expr, seconds):
    from complaints_tools.local.runtime import schedule_seconds

    assert schedule_seconds(expr) == seconds


def test_local_scheduler_refuses_what_it_cannot_emulate():
    from complaints_tools.local.runtime import schedule_seconds

    with pytest.raises(ValueError, match="rate"):
        schedule_seconds("cron(0 * * * ? *)")


def test_weibo_poller_reads_its_token_from_the_ssm_parameter_it_may_read(tpl):
    props = tpl.functions()["WeiboFunction"]["Properties"]
    env = props["Environment"]["Variables"]
    assert env["WEIBO_API_BASE"] == "https://api.weibo.com/2"
    assert env["WEIBO_TOKEN_PARAMETER"] == {"Ref": "WeiboTokenParameter"}
    statements = [s for p in props["Policies"] if "Statement" in p for s in p["Statement"]]
    (read,) = [s for s in statements if s["Action"] == "ssm:GetParameter"]
    assert "${WeiboTokenParameter}" in read["Resource"]["Fn::Sub"]
    assert tpl.doc["Parameters"]["WeiboTokenParameter"]["Default"].startswith("/")


def test_media_downloads_go_only_to_the_hosts_of_a_parameter_that_admits_host_names_alone(tpl):
    from complaints.adapters.fetch import FetchPolicy
    from complaints.adapters.wechat.http import WECHAT_PICTURE_HOSTS
    from complaints.adapters.weibo.http import WEIBO_PICTURE_HOSTS

    param = tpl.doc["Parameters"]["MediaFetchHosts"]
    for fn in ("WeiboFunction", "WechatDraftsFunction"):
        env = tpl.functions()[fn]["Properties"]["Environment"]["Variables"]
        assert env["MEDIA_FETCH_HOSTS"] == {"Ref": "MediaFetchHosts"}
    assert param["Default"] == f"{WEIBO_PICTURE_HOSTS},{WECHAT_PICTURE_HOSTS}"
    pattern = re.compile(param["AllowedPattern"])
    for admitted in (param["Default"], "*.sinaimg.cn,wx1.example.com", "media.weixin.qq.com"):
        assert pattern.fullmatch(admitted) and FetchPolicy.parse(admitted).hosts  # what it admits, the code takes
    # Exact origins (loopback, plain http) are for the local stack's fakes only; no address gets in either.
    for refused in ("http://127.0.0.1:8090", "*.sinaimg.cn,http://127.0.0.1:8090", "127.0.0.1", "10.0.0.1", "*", ""):
        assert not pattern.fullmatch(refused)


def test_the_token_alarm_watches_the_metric_the_poller_emits(tpl):
    alarm = tpl.resources["WeiboTokenAlarm"]["Properties"]
    env = tpl.functions()["WeiboFunction"]["Properties"]["Environment"]["Variables"]
    service = tpl.doc["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    assert alarm["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": service}]  # Powertools Metrics' default dimension
    assert f'"{alarm["MetricName"]}"' in (ROOT / "functions" / "weibo" / "app.py").read_text(encoding="utf-8")
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_the_api_is_throttled_for_everyone_and_each_address_is_held_to_its_own_rate(tpl):
    (setting,) = tpl.resources["Api"]["Properties"]["MethodSettings"]
    assert setting["ThrottlingRateLimit"] > 0 and setting["ThrottlingBurstLimit"] > 0
    # No usage plan or API key: no route requires a key, so a plan's quota would never apply.
    assert not tpl.of_type("AWS::ApiGateway::UsagePlan") and not tpl.of_type("AWS::ApiGateway::ApiKey")
    (acl,) = tpl.of_type("AWS::WAFv2::WebACL").values()
    assert acl["Properties"]["Scope"] == "REGIONAL"
    (rule,) = acl["Properties"]["Rules"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert (rate["AggregateKeyType"], rate["EvaluationWindowSec"]) == ("IP", 300)
    assert rate["Limit"] == {"Ref": "PerIpRequestsPer5Min"}
    parameter = tpl.doc["Parameters"]["PerIpRequestsPer5Min"]
    assert parameter["Type"] == "Number" and parameter["MinValue"] == 10
    # Above what the city's own backend (all its users behind one address) sends, below the stage's own ceiling.
    stage_per_5_min = setting["ThrottlingRateLimit"] * 300
    assert 2_100 * 2 <= parameter["Default"] < stage_per_5_min
    response = rule["Action"]["Block"]["CustomResponse"]
    body = acl["Properties"]["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert response["ResponseCode"] == 429 and body["ContentType"] == "APPLICATION_JSON"
    assert json.loads(body["Content"])["error"]["code"] == "rate_limited"
    assert acl["Properties"]["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True
    (association,) = tpl.of_type("AWS::WAFv2::WebACLAssociation").values()
    assert association["DependsOn"] == "ApiStage"  # the stage SAM creates for Api
    assert association["Properties"] == {
        "ResourceArn": {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${Stage}"},
        "WebACLArn": {"Fn::GetAtt": ["ApiWebAcl", "Arn"]},
    }
    (logging,) = tpl.of_type("AWS::WAFv2::LoggingConfiguration").values()
    assert logging["Properties"]["ResourceArn"] == {"Fn::GetAtt": ["ApiWebAcl", "Arn"]}
    assert {"SingleHeader": {"Name": "x-receipt"}} in logging["Properties"]["RedactedFields"]
    env = tpl.functions()["IntakeFunction"]["Properties"]["Environment"]["Variables"]
    assert 0 < int(env["MAX_REQUEST_BYTES"]) < 10 * 1024 * 1024  # below API Gateway's own cap


def test_contact_details_are_encrypted_by_intake_and_opened_only_by_the_messenger(tpl):
    assert tpl.resources["ContactKey"]["Properties"]["EnableKeyRotation"] is True
    key = {"Fn::GetAtt": ["ContactKey", "Arn"]}
    grants = {
        (f, action)
        for f, res in tpl.functions().items()
        for policy in res["Properties"].get("Policies", [])
        for s in policy["Statement"]
        if s.get("Resource") == key
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert sorted(grants) == [
        ("CarMovingFunction", "kms:Decrypt"),
        ("CarMovingFunction", "kms:Encrypt"),
        ("IntakeFunction", "kms:Encrypt"),
        ("MessengerFunction", "kms:Decrypt"),
        ("WechatFunction", "kms:Decrypt"),
        ("WechatFunction", "kms:Encrypt"),
        ("WeiboFunction", "kms:Encrypt"),
    ]
    # Car moving (the API and WeChat's 挪车) opens the phones it sealed for its requesters (context
    # requester#<id>), never a ticket's contact.
    for fn in ("CarMovingFunction", "WechatFunction"):
        (opening,) = [
            s for s in tpl.functions()[fn]["Properties"]["Policies"][0]["Statement"] if s["Action"] == "kms:Decrypt"
        ]
        assert opening["Condition"] == {"StringLike": {"kms:EncryptionContext:ticket_id": "requester#*"}}
    assert tpl.resources["VehicleKey"]["Properties"]["EnableKeyRotation"] is True


def test_the_pages_bucket_is_private_and_read_by_the_distribution_alone(tpl):
    bucket = tpl.resources["WebBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    (allow,) = [
        s
        for s in tpl.resources["WebBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    ]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    assert "${WebDistribution}" in allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    origins = {o["Id"]: o for o in tpl.resources["WebDistribution"]["Properties"]["DistributionConfig"]["Origins"]}
    assert origins["web"]["OriginAccessControlId"] == {"Fn::GetAtt": ["WebOriginAccessControl", "Id"]}
    assert origins["api"]["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"


def test_every_behaviour_of_the_distribution_answers_over_https_with_the_security_headers(tpl):
    config = tpl.resources["WebDistribution"]["Properties"]["DistributionConfig"]
    behaviours = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    for b in behaviours:
        assert b["ResponseHeadersPolicyId"] == {"Ref": "WebSecurityHeaders"}
        assert b["ViewerProtocolPolicy"] == "redirect-to-https" and b["Compress"] is True
    # The API is the default origin, uncached; the router picks the pages out of what reaches it.
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == "api"
    assert config["DefaultCacheBehavior"]["FunctionAssociations"][0]["EventType"] == "viewer-request"
    headers = tpl.resources["WebSecurityHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert all(h["Override"] for h in headers.values())

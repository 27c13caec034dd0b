"""Create the template's run-time resources in moto, with the properties the template gives them."""

from __future__ import annotations

import json
from typing import Any

import boto3

from complaints_tools.local.template import ACCOUNT, Template

# Types created locally; everything else in the template is reported as skipped.
CREATED = (
    "AWS::KMS::Key",
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::Topic",
    "AWS::IAM::Role",
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::SES::EmailIdentity",
)


def physical_name(tpl: Template, logical: str) -> str:
    return f"{tpl.stack_name}-{logical}"


def create_all(tpl: Template) -> list[str]:
    """Create tables, queues (dead-letter queues first) and their policies, topics, then buckets (whose
    notifications name queues); return the logical ids skipped."""
    for logical, res in tpl.of_type("AWS::KMS::Key").items():
        _key(tpl, logical, res["Properties"])
    for logical, res in tpl.of_type("AWS::DynamoDB::Table").items():
        _table(tpl, logical, res["Properties"])
    queues = tpl.of_type("AWS::SQS::Queue")
    for logical in sorted(queues, key=lambda q: "RedrivePolicy" in queues[q]["Properties"]):
        _queue(tpl, logical, queues[logical]["Properties"])
    for res in tpl.of_type("AWS::SQS::QueuePolicy").values():
        _queue_policy(tpl, res["Properties"])
    for logical in tpl.of_type("AWS::SNS::Topic"):
        _topic(tpl, logical)
    for logical, res in tpl.of_type("AWS::S3::Bucket").items():
        _bucket(tpl, logical, res["Properties"])
    for logical, res in tpl.of_type("AWS::Cognito::UserPool").items():
        _user_pool(tpl, logical, res["Properties"])
    for logical, res in tpl.of_type("AWS::Cognito::UserPoolClient").items():
        _user_pool_client(tpl, logical, res["Properties"])
    for logical, res in tpl.of_type("AWS::SES::EmailIdentity").items():
        _email_identity(tpl, logical, res["Properties"])
    for logical, res in tpl.of_type("AWS::IAM::Role").items():  # last: their policies name the others
        _role(tpl, logical, res["Properties"])
    return sorted(k for k, v in tpl.resources.items() if v["Type"] not in CREATED)


def _key(tpl: Template, logical: str, props: dict[str, Any]) -> None:
    kms = boto3.client("kms", region_name=tpl.region)
    meta = kms.create_key(Description=props.get("Description", logical))["KeyMetadata"]
    if props.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=meta["KeyId"])
    tpl.physical[logical] = {"Ref": meta["KeyId"], "Arn": meta["Arn"]}


def _table(tpl: Template, logical: str, props: dict[str, Any]) -> None:
    ddb = boto3.client("dynamodb", region_name=tpl.region)
    name = props.get("TableName") or physical_name(tpl, logical)
    billing = props.get("BillingMode", "PROVISIONED")
    extra: dict[str, Any] = {}
    if billing == "PROVISIONED" and "ProvisionedThroughput" in props:
        extra["ProvisionedThroughput"] = _throughput(props["ProvisionedThroughput"])
    if props.get("GlobalSecondaryIndexes"):
        extra["GlobalSecondaryIndexes"] = [_index(i, billing) for i in props["GlobalSecondaryIndexes"]]
    if props.get("LocalSecondaryIndexes"):
        extra["LocalSecondaryIndexes"] = [_index(i, None) for i in props["LocalSecondaryIndexes"]]
    stream = props.get("StreamSpecification")
    if stream:
        # CloudFormation's StreamSpecification has only the view type: a table with one has its stream enabled.
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode=billing,
        SSESpecification={"Enabled": bool(props.get("SSESpecification", {}).get("SSEEnabled", False))},
        **extra,
    )
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    pitr = props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled", False)
    if pitr:
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    desc = ddb.describe_table(TableName=name)["Table"]
    tpl.physical[logical] = {"Ref": name, "Arn": desc["TableArn"]}
    if stream:  # what `!GetAtt Table.StreamArn` names, as CloudFormation returns it
        tpl.physical[logical]["StreamArn"] = desc["LatestStreamArn"]


def _index(cfn: dict[str, Any], billing: str | None) -> dict[str, Any]:
    """A secondary index in the API's spelling: the same keys as CloudFormation's, throughput only where it applies
    (a PAY_PER_REQUEST table's indexes have none; local indexes share their table's)."""
    index = {k: cfn[k] for k in ("IndexName", "KeySchema", "Projection")}
    if billing == "PROVISIONED" and "ProvisionedThroughput" in cfn:
        index["ProvisionedThroughput"] = _throughput(cfn["ProvisionedThroughput"])
    return index


def _throughput(cfn: dict[str, Any]) -> dict[str, int]:
    return {k: int(cfn[k]) for k in ("ReadCapacityUnits", "WriteCapacityUnits")}


def _email_identity(tpl: Template, logical: str, props: dict[str, Any]) -> None:
    """An SES identity, verified: on AWS its owner follows the link SES mails it (or publishes the domain's DKIM
    records) before anything can be sent from it; locally nobody can. moto sends from any identity it knows (SES v1
    and v2 share them) and refuses all others, as SES refuses unverified ones; the moto process reports the
    identities it knows as verified (aws_server.py)."""
    identity = tpl.resolve(props["EmailIdentity"])
    boto3.client("sesv2", region_name=tpl.region).create_email_identity(EmailIdentity=identity)
    tpl.physical[logical] = {"Ref": identity}


def _bucket(tpl: Template, logical: str, props: dict[str, Any]) -> None:
    s3 = boto3.client("s3", region_name=tpl.region)
    name = (props.get("BucketName") or physical_name(tpl, logical)).lower()
    s3.create_bucket(Bucket=name)
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    if "BucketEncryption" in props:
        # CloudFormation says ServerSideEncryptionByDefault where the S3 API says ApplyServerSideEncryptionByDefault.
        rules = [
            {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
            for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "CorsConfiguration" in props:
        # CloudFormation says MaxAge where the S3 API says MaxAgeSeconds.
        rules = [
            {("MaxAgeSeconds" if k == "MaxAge" else k): v for k, v in r.items()}
            for r in props["CorsConfiguration"]["CorsRules"]
        ]
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
    if "NotificationConfiguration" in props:
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration=_notifications(tpl, props["NotificationConfiguration"])
        )
    # The host names AWS gives the bucket (the security headers name them; the local edge maps them to moto's).
    tpl.physical[logical] = {
        "Ref": name,
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{tpl.region}.amazonaws.com",
    }


def _notifications(tpl: Template, cfn: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration in the S3 API's spelling (queue notifications: the only kind used)."""
    unknown = set(cfn) - {"QueueConfigurations"}
    if unknown:
        raise NotImplementedError(f"the local stack cannot create bucket notifications of kind {sorted(unknown)}")
    configs = []
    for c in cfn["QueueConfigurations"]:
        config: dict[str, Any] = {"QueueArn": tpl.resolve(c["Queue"]), "Events": [c["Event"]]}
        if "Filter" in c:
            config["Filter"] = {"Key": {"FilterRules": c["Filter"]["S3Key"]["Rules"]}}
        configs.append(config)
    return {"QueueConfigurations": configs}


def _queue_policy(tpl: Template, props: dict[str, Any]) -> None:
    sqs = boto3.client("sqs", region_name=tpl.region)
    policy = json.dumps(tpl.resolve(props["PolicyDocument"]))
    for url in tpl.resolve(props["Queues"]):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})


def _queue(tpl: Template, logical: str, props: dict[str, Any]) -> None:
    sqs = boto3.client("sqs", region_name=tpl.region)
    name = props.get("QueueName") or physical_name(tpl, logical)
    attrs = {
        k: str(props[k])
        for k in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds")
        if k in props
    }
    if "RedrivePolicy" in props:
        attrs["RedrivePolicy"] = json.dumps(tpl.resolve(props["RedrivePolicy"]))
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = f"arn:aws:sqs:{tpl.region}:{ACCOUNT}:{name}"
    tpl.physical[logical] = {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}


def _role(tpl: Template, logical: str, props: dict[str, Any]) -> None:
    iam = boto3.client("iam", region_name=tpl.region)
    name = physical_name(tpl, logical)
    role = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(tpl.resolve(props["AssumeRolePolicyDocument"])),
        MaxSessionDuration=props.get("MaxSessionDuration", 3600),
    )["Role"]
    for policy in props.get("Policies", []):
        document = json.dumps(tpl.resolve(policy["PolicyDocument"]))
        iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=document)
    tpl.physical[logical] = {"Ref": name, "Arn": role["Arn"], "RoleId": role["RoleId"]}


def _user_pool(tpl: Template, logical: str, props: dict[str, Any]) -> None:
    idp = boto3.client("cognito-idp", region_name=tpl.region)
    pool = idp.create_user_pool(
        PoolName=physical_name(tpl, logical),
        UsernameAttributes=props.get("UsernameAttributes", []),
        AutoVerifiedAttributes=props.get("AutoVerifiedAttributes", []),
        AdminCreateUserConfig=props.get("AdminCreateUserConfig", {}),
        Policies=props.get("Policies", {}),
        MfaConfiguration=props.get("MfaConfiguration", "OFF"),
        AccountRecoverySetting=props.get("AccountRecoverySetting", {"RecoveryMechanisms": []}),
    )["UserPool"]
    tpl.physical[logical] = {"Ref": pool["Id"], "Arn": pool["Arn"], "ProviderName": f"cognito-idp.{tpl.region}"}


def _user_pool_client(tpl: Template, logical: str, props: dict[str, Any]) -> None:
    idp = boto3.client("cognito-idp", region_name=tpl.region)
    keys = (
        "ClientName",
        "GenerateSecret",
        "ExplicitAuthFlows",
        "PreventUserExistenceErrors",
        "EnableTokenRevocation",
        "IdTokenValidity",
        "AccessTokenValidity",
        "RefreshTokenValidity",
        "TokenValidityUnits",
    )
    client = idp.create_user_pool_client(
        UserPoolId=tpl.resolve(props["UserPoolId"]), **{k: props[k] for k in keys if k in props}
    )["UserPoolClient"]
    tpl.physical[logical] = {"Ref": client["ClientId"]}


def _topic(tpl: Template, logical: str) -> None:
    sns = boto3.client("sns", region_name=tpl.region)
    name = physical_name(tpl, logical)
    arn = sns.create_topic(Name=name)["TopicArn"]
    tpl.physical[logical] = {"Ref": arn, "TopicArn": arn, "TopicName": name}

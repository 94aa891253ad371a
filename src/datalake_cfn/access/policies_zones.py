"""Key, bucket and queue policies of zone storage that the CDK app wrote inline (awacs).

What lives here: the base statements every lake CMK carries (administration for the account, use
only through the services the key exists for), the ops key's service grants, the access-log
bucket's policy and the zone queues' policies. The access policies proper (who may read and write
a zone) stay in :mod:`datalake_cfn.access.policies`; the lead merges this module into it later.

Strings carry `${AWS::...}` / `${LogicalId.Arn}` placeholders; the stacks pass every document
through :func:`datalake_cfn.stacks.base.cfn`, which turns them into `Fn::Sub`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from awacs.aws import (
    Action,
    Allow,
    ArnEquals,
    ArnLike,
    Bool,
    BoolIfExists,
    Condition,
    Deny,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
    StringLike,
)

from datalake_cfn.naming import LakeNames

POLICY_VERSION = "2012-10-17"

KEY_ADMIN_ACTIONS = (
    "Create*",
    "Describe*",
    "Enable*",
    "List*",
    "Put*",
    "Update*",
    "Revoke*",
    "Disable*",
    "Get*",
    "Delete*",
    "TagResource",
    "UntagResource",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "RotateKeyOnDemand",
)
KEY_USE_ACTIONS = ("Decrypt", "Encrypt", "GenerateDataKey*", "ReEncrypt*", "DescribeKey")
LOGS_KEY_ACTIONS = ("Encrypt*", "Decrypt*", "ReEncrypt*", "GenerateDataKey*", "Describe*")

ZONE_KEY_SERVICES = ("s3", "sqs")
"""A zone key encrypts its bucket and its queues, nothing else."""
OPS_KEY_SERVICES = ("logs", "glue", "s3")
"""The ops key: CloudWatch Logs groups, Glue's security configuration, the Glue assets bucket."""


def _kms(actions: Iterable[str]) -> list[Action]:
    return [Action("kms", action) for action in actions]


def account_root(names: LakeNames) -> str:
    return f"arn:{names.partition}:iam::{names.account}:root"


def via_service(names: LakeNames, service: str) -> str:
    """`kms:ViaService` value of a service prefix (`s3` -> `s3.<region>.amazonaws.com`)."""
    return f"{service}.{names.region}.amazonaws.com"


def lake_key_base_statements(names: LakeNames, via_services: Sequence[str]) -> list[Statement]:
    """What every lake CMK's policy starts with, instead of CDK's default `kms:*` for the account.

    Administration stays with the account (a key nobody can manage is a key nobody can rotate or
    retire); cryptographic use is only through `via_services` and only by this account's
    principals, still granted per principal by identity policies.
    """
    root = Principal("AWS", account_root(names))
    statements = [
        Statement(Sid="KeyAdministration", Effect=Allow, Principal=root, Action=_kms(KEY_ADMIN_ACTIONS), Resource=["*"])
    ]
    if via_services:
        statements.append(
            Statement(
                Sid="UseThroughLakeServicesOnly",
                Effect=Allow,
                Principal=root,
                Action=_kms(KEY_USE_ACTIONS),
                Resource=["*"],
                Condition=Condition(
                    StringEquals(
                        {
                            "kms:CallerAccount": names.account,
                            "kms:ViaService": [via_service(names, s) for s in via_services],
                        }
                    )
                ),
            )
        )
    statements.append(deny_grants_for_non_aws_resources())
    return statements


def deny_grants_for_non_aws_resources() -> Statement:
    """No KMS grants except by AWS services, or for AWS resources (Control Tower CT.KMS.PR.3).

    `kms:Create*` of the administration statements includes `kms:CreateGrant`; a grant would let its
    grantee use the key without this policy naming it. No lake service needs a grant on these keys.
    """
    return Statement(
        Sid="DenyGrantsExceptForAwsResources",
        Effect=Deny,
        Principal=Principal("AWS", "*"),
        Action=_kms(("CreateGrant",)),
        Resource=["*"],
        Condition=Condition(BoolIfExists({"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"})),
    )


def cloudwatch_logs_key_statement(names: LakeNames) -> Statement:
    """CloudWatch Logs encrypts the lake's log groups with the ops key, for this account's groups only."""
    log_groups = f"arn:{names.partition}:logs:{names.region}:{names.account}:log-group:*"
    return Statement(
        Sid="CloudWatchLogsEncryptsLakeLogs",
        Effect=Allow,
        Principal=Principal("Service", f"logs.{names.region}.amazonaws.com"),
        Action=_kms(LOGS_KEY_ACTIONS),
        Resource=["*"],
        Condition=Condition(ArnLike({"kms:EncryptionContext:aws:logs:arn": log_groups})),
    )


def personas_via_s3_statement(names: LakeNames, sid: str, role_arns: Sequence[str], bucket: str) -> Statement:
    """Persona roles may use a key through S3 for one bucket only (the identity policies grant the prefixes)."""
    bucket_arn = f"arn:{names.partition}:s3:::{bucket}"
    return Statement(
        Sid=sid,
        Effect=Allow,
        Principal=Principal("AWS", list(role_arns)),
        Action=_kms(("Decrypt", "GenerateDataKey")),
        Resource=["*"],
        Condition=Condition(
            [
                StringEquals({"kms:ViaService": via_service(names, "s3")}),
                StringLike({"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]}),
            ]
        ),
    )


def deny_insecure_transport(service: str, resources: Sequence[str]) -> Statement:
    """TLS only, for every action of `service` on `resources`."""
    return Statement(
        Sid="DenyInsecureTransport",
        Effect=Deny,
        Principal=Principal("AWS", "*"),
        Action=[Action(service, "*")],
        Resource=list(resources),
        Condition=Condition(Bool({"aws:SecureTransport": "false"})),
    )


def access_log_bucket_policy(
    names: LakeNames, log_bucket_arn: str, logged_buckets: Sequence[tuple[str, str]]
) -> PolicyDocument:
    """TLS only, and S3's log delivery writes each logged bucket's logs under that bucket's prefix.

    `logged_buckets` are (Sid suffix, bucket name) pairs; a bucket's ARN is computed from its name,
    so this policy depends on none of them (each bucket's logging configuration references the
    log bucket already).
    """
    statements = [deny_insecure_transport("s3", [log_bucket_arn, f"{log_bucket_arn}/*"])]
    for label, bucket in logged_buckets:
        statements.append(
            Statement(
                Sid=f"ServerAccessLogsFrom{label}",
                Effect=Allow,
                Principal=Principal("Service", "logging.s3.amazonaws.com"),
                Action=[Action("s3", "PutObject")],
                Resource=[f"{log_bucket_arn}/{bucket}/*"],
                Condition=Condition(
                    [
                        ArnLike({"aws:SourceArn": f"arn:{names.partition}:s3:::{bucket}"}),
                        StringEquals({"aws:SourceAccount": names.account}),
                    ]
                ),
            )
        )
    return PolicyDocument(Version=POLICY_VERSION, Statement=statements)


def zone_queue_policy(names: LakeNames, queue_arn: str, bucket_arn: str) -> PolicyDocument:
    """TLS only, and only the zone's bucket, in this account, may publish its events into the queue.

    `bucket_arn` is computed from naming: the bucket depends on this policy (S3 tests the
    notification target when the configuration is written), so it cannot reference the bucket.
    """
    return PolicyDocument(
        Version=POLICY_VERSION,
        Statement=[
            deny_insecure_transport("sqs", [queue_arn]),
            Statement(
                Sid="S3PublishesZoneEvents",
                Effect=Allow,
                Principal=Principal("Service", "s3.amazonaws.com"),
                Action=[Action("sqs", "SendMessage")],
                Resource=[queue_arn],
                Condition=Condition(
                    [
                        ArnEquals({"aws:SourceArn": bucket_arn}),
                        StringEquals({"aws:SourceAccount": names.account}),
                    ]
                ),
            ),
        ],
    )

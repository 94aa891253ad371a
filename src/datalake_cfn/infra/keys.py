"""Customer-managed KMS keys with least-privilege key policies.

CDK's default key policy gives the account root `kms:*`, which lets any IAM policy in the
account use the key for anything. These keys split that in two:

- administration (describe, enable, rotate, policy, schedule deletion...) for the account, which
  is what keeps a key from becoming unmanageable;
- cryptographic use only *through* the services the key exists for (`kms:ViaService`, e.g. S3 and
  SQS for a zone key) and only by principals of this account (`kms:CallerAccount`), still
  granted per principal by IAM policies. Nobody can call Decrypt on a zone key directly.

Service principals that need the key on their own behalf (S3 publishing to an encrypted
queue, CloudWatch Logs, CloudTrail...) are added by the caller with their `aws:SourceArn` /
`aws:SourceAccount` conditions.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
]
USE_ACTIONS = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:DescribeKey"]


def lake_key(
    scope: Construct,
    construct_id: str,
    *,
    alias: str,
    description: str,
    via_services: Iterable[str],
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
) -> kms.Key:
    """A rotating CMK whose key policy allows administration, and use only via `via_services`.

    `via_services` are service prefixes such as "s3" or "sqs"; the condition value is
    `<service>.<region>.amazonaws.com`.
    """
    stack = Stack.of(scope)
    account = iam.AccountRootPrincipal()
    services = [f"{service}.{stack.region}.amazonaws.com" for service in via_services]
    policy = iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(
                sid="KeyAdministration",
                principals=[account],
                actions=ADMIN_ACTIONS,
                resources=["*"],
            )
        ]
    )
    if services:
        policy.add_statements(
            iam.PolicyStatement(
                sid="UseThroughLakeServicesOnly",
                principals=[account],
                actions=USE_ACTIONS,
                resources=["*"],
                conditions={
                    "StringEquals": {"kms:CallerAccount": stack.account, "kms:ViaService": services},
                },
            )
        )
    key = kms.Key(
        scope,
        construct_id,
        alias=alias,
        description=description,
        enable_key_rotation=True,
        rotation_period=Duration.days(365),
        policy=policy,
        removal_policy=removal_policy,
        pending_window=Duration.days(30),
    )
    return key


def allow_service(
    key: kms.Key,
    sid: str,
    service: str,
    actions: list[str],
    *,
    source_account: str | None = None,
    source_arns: list[str] | None = None,
    extra_conditions: dict[str, dict[str, object]] | None = None,
) -> None:
    """Let an AWS service use the key on behalf of one account/resource (confused-deputy safe)."""
    conditions: dict[str, dict[str, object]] = {}
    if source_account:
        conditions.setdefault("StringEquals", {})["aws:SourceAccount"] = source_account
    if source_arns:
        conditions.setdefault("ArnLike", {})["aws:SourceArn"] = source_arns if len(source_arns) > 1 else source_arns[0]
    for operator, values in (extra_conditions or {}).items():
        conditions.setdefault(operator, {}).update(values)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal(service)],
            actions=actions,
            resources=["*"],
            conditions=conditions or None,
        )
    )

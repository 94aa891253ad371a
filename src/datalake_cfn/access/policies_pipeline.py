"""The event pipeline's service and resource policies that are not lake-wide access rules, in awacs.

The lake-wide rules of a zone consumer (read its zone, write the next, its keys and queues, the
DLQ) are :func:`datalake_cfn.access.policies.pipeline_role_statements`; what is here is what a
Lambda in a VPC needs to run at all (its ENIs, its log group), who may use the dead-letter key,
and the dead-letter queue's TLS guard. Strings hold `${...}` placeholders; callers pass the
documents through :func:`datalake_cfn.stacks.base.cfn`.
"""

from __future__ import annotations

from awacs import ec2, kms, logs, sqs
from awacs.aws import Allow, Bool, Condition, Deny, PolicyDocument, Principal, Statement, StringEquals
from awacs.helpers.trust import make_simple_assume_statement

from datalake_cfn.access.policies_zones import deny_grants_for_non_aws_resources
from datalake_cfn.naming import LakeNames

POLICY_VERSION = "2012-10-17"

KEY_ADMIN_ACTIONS = [
    kms.Action("Create*"),
    kms.Action("Describe*"),
    kms.Action("Enable*"),
    kms.Action("List*"),
    kms.Action("Put*"),
    kms.Action("Update*"),
    kms.Action("Revoke*"),
    kms.Action("Disable*"),
    kms.Action("Get*"),
    kms.Action("Delete*"),
    kms.TagResource,
    kms.UntagResource,
    kms.ScheduleKeyDeletion,
    kms.CancelKeyDeletion,
    kms.RotateKeyOnDemand,
]
KEY_USE_ACTIONS = [kms.Decrypt, kms.Encrypt, kms.Action("GenerateDataKey*"), kms.Action("ReEncrypt*"), kms.DescribeKey]
VPC_ENI_ACTIONS = [
    ec2.CreateNetworkInterface,
    ec2.DescribeNetworkInterfaces,
    ec2.DescribeSubnets,
    ec2.DeleteNetworkInterface,
    ec2.AssignPrivateIpAddresses,
    ec2.UnassignPrivateIpAddresses,
]


def _account_root(names: LakeNames) -> Principal:
    return Principal("AWS", f"arn:{names.partition}:iam::{names.account}:root")


def lambda_trust_policy() -> PolicyDocument:
    """Only Lambda assumes a pipeline role (the consumers of one zone)."""
    statement = make_simple_assume_statement("lambda.amazonaws.com")
    statement.Sid = "LambdaAssumesPipelineRole"
    return PolicyDocument(Version=POLICY_VERSION, Statement=[statement])


def vpc_network_interface_statements() -> list[Statement]:
    """What Lambda needs to attach a function to the private subnets.

    These EC2 actions support no resource-level permissions, hence `*` (the CDK attached the same
    statement instead of the broader AWSLambdaVPCAccessExecutionRole managed policy).
    """
    return [Statement(Sid="ManageVpcNetworkInterfaces", Effect=Allow, Action=VPC_ENI_ACTIONS, Resource=["*"])]


def consumer_log_statements(log_group_arns: list[str]) -> list[Statement]:
    """Write to the consumers' own log groups only (they are created by the template, encrypted)."""
    return [
        Statement(
            Sid="WriteConsumerLogs",
            Effect=Allow,
            Action=[logs.CreateLogStream, logs.PutLogEvents],
            Resource=log_group_arns,
        )
    ]


def dead_letter_key_policy(names: LakeNames) -> PolicyDocument:
    """The DLQ key: administered by the account; used only through SQS, by principals of the account.

    The account root here delegates to IAM (no one can Decrypt directly): the pipeline roles'
    `EncryptDeadLetters` statement (and the redrive of the zone queues, which SQS performs through
    the same service) is what actually grants use.
    """
    return PolicyDocument(
        Version=POLICY_VERSION,
        Statement=[
            Statement(
                Sid="KeyAdministration",
                Effect=Allow,
                Principal=_account_root(names),
                Action=KEY_ADMIN_ACTIONS,
                Resource=["*"],
            ),
            Statement(
                Sid="UseThroughLakeServicesOnly",
                Effect=Allow,
                Principal=_account_root(names),
                Action=KEY_USE_ACTIONS,
                Resource=["*"],
                Condition=Condition(
                    StringEquals(
                        {
                            "kms:CallerAccount": names.account,
                            "kms:ViaService": [f"sqs.{names.region}.amazonaws.com"],
                        }
                    )
                ),
            ),
            deny_grants_for_non_aws_resources(),
        ],
    )


def dead_letter_queue_policy(queue_arn: str) -> PolicyDocument:
    """The DLQ accepts no request without TLS (what the CDK's `enforce_ssl` wrote)."""
    return PolicyDocument(
        Version=POLICY_VERSION,
        Statement=[
            Statement(
                Sid="DenyInsecureTransport",
                Effect=Deny,
                Principal=Principal("AWS", "*"),
                Action=[sqs.Action("*")],
                Resource=[queue_arn],
                Condition=Condition(Bool("aws:SecureTransport", "false")),
            )
        ],
    )

"""Policies of the catalog and the persona roles that the CDK code wrote inline (to merge into policies.py).

The lake-wide access policies (what a persona, the crawler or the Glue job role may do with the
zones) are in :mod:`datalake_cfn.access.policies`; this module has the rest: the service and
persona trust policies, the Glue roles' logs/ops-key/scratch/script statements, the Athena and
Glue buckets' TLS and key-pinning statements, the key policy of a lake key, and the persona
grants on the Athena and ops keys. ARNs carry `${...}` placeholders (`lake.names`, `${Id.Arn}`),
which :func:`datalake_cfn.stacks.base.cfn` turns into `Fn::Sub`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from awacs.aws import (
    Action,
    Allow,
    Bool,
    BoolIfExists,
    Condition,
    Deny,
    Null,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
    StringLike,
    StringNotEquals,
)
from awacs.helpers.trust import make_service_domain_name

from datalake_cfn.naming import LakeNames

POLICY_VERSION = "2012-10-17"
KEY_ADMIN_ACTIONS = (
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
)
KEY_USE_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:DescribeKey")
GLUE_LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey")
OPS_KEY_GLUE_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")
SCRATCH_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
PERSONA_KEY_VIA_S3_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


def actions(names: Iterable[str]) -> list[Action]:
    """awacs actions from `service:Name` strings (wildcards allowed)."""
    return [Action(*name.split(":", 1)) for name in names]


def document(statements: Sequence[Statement]) -> PolicyDocument:
    return PolicyDocument(Version=POLICY_VERSION, Statement=list(statements))


def account_root(names: LakeNames) -> str:
    return f"arn:{names.partition}:iam::{names.account}:root"


# -- trust -------------------------------------------------------------------------------------------
def glue_trust() -> PolicyDocument:
    """Glue (crawler or job run) assumes the role; nothing else does."""
    return document(
        [
            Statement(
                Sid="GlueAssumesRole",
                Effect=Allow,
                Principal=Principal("Service", make_service_domain_name("glue")),
                Action=actions(["sts:AssumeRole"]),
            )
        ]
    )


def persona_trust(names: LakeNames, *, session_tags: bool) -> PolicyDocument:
    """The account decides who assumes a persona role (Identity Center, a SAML IdP...).

    With `session_tags` (clearance_mode `tag`), the caller may pass a `clearance` session tag, which
    overrides the role's tag for that session: that is how a person's lower clearance reaches the
    bucket policies. In roles mode the clearance is the role itself, so tagging is not allowed.
    """
    return document(
        [
            Statement(
                Sid="AccountAssumesPersona",
                Effect=Allow,
                Principal=Principal("AWS", account_root(names)),
                Action=actions(["sts:AssumeRole", "sts:TagSession"] if session_tags else ["sts:AssumeRole"]),
            )
        ]
    )


# -- keys --------------------------------------------------------------------------------------------
def lake_key_statements(names: LakeNames, via_services: Iterable[str]) -> list[Statement]:
    """A lake key's base policy: the account administers it, and uses it only through `via_services`.

    Instead of KMS's default `kms:*` for the account root (any IAM policy could then use the key for
    anything), cryptographic use is limited to calls through the services the key exists for, by
    principals of this account, still granted per principal by IAM policies.
    """
    root = Principal("AWS", account_root(names))
    services = [f"{service}.{names.region}.amazonaws.com" for service in via_services]
    return [
        Statement(
            Sid="KeyAdministration", Effect=Allow, Principal=root, Action=actions(KEY_ADMIN_ACTIONS), Resource=["*"]
        ),
        Statement(
            Sid="UseThroughLakeServicesOnly",
            Effect=Allow,
            Principal=root,
            Action=actions(KEY_USE_ACTIONS),
            Resource=["*"],
            Condition=Condition(StringEquals({"kms:CallerAccount": names.account, "kms:ViaService": services})),
        ),
    ]


def deny_grants_except_for_aws_resources() -> Statement:
    """No KMS grant on the key unless an AWS service creates it for a resource it manages.

    S3 and Athena use the key directly (GenerateDataKey/Decrypt), never through grants, so this only
    closes a path: a principal with kms:Create* must not hand the key's use to someone else by grant.
    """
    return Statement(
        Sid="DenyGrantsExceptForAwsResources",
        Effect=Deny,
        Principal=Principal("AWS", "*"),
        Action=actions(["kms:CreateGrant"]),
        Resource=["*"],
        Condition=Condition(BoolIfExists({"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"})),
    )


def personas_via_s3_statement(sid: str, names: LakeNames, role_arns: Sequence[str], bucket_arn: str) -> Statement:
    """Persona roles may use a key through S3, for one bucket only.

    The persona identity policies grant the Athena results prefix and the Glue scripts prefix but no
    key; this key-policy grant completes them, bounded by the bucket's encryption context.
    """
    return Statement(
        Sid=sid,
        Effect=Allow,
        Principal=Principal("AWS", list(role_arns)),
        Action=actions(PERSONA_KEY_VIA_S3_ACTIONS),
        Resource=["*"],
        Condition=Condition(
            [
                StringEquals({"kms:ViaService": f"s3.{names.region}.amazonaws.com"}),
                StringLike({"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]}),
            ]
        ),
    )


# -- Glue roles ----------------------------------------------------------------------------------------
def glue_service_statements(names: LakeNames, logs_prefix: str, ops_key_arn: str) -> list[Statement]:
    """What every Glue role needs beyond its data: its log groups, and the ops key (Glue's CloudWatch
    logs and job bookmarks are encrypted with it by the security configuration)."""
    log_groups = f"arn:{names.partition}:logs:{names.region}:{names.account}:log-group:{logs_prefix}*"
    return [
        Statement(Sid="WriteGlueLogs", Effect=Allow, Action=actions(GLUE_LOG_ACTIONS), Resource=[log_groups]),
        Statement(
            Sid="UseOpsKeyForLogsAndBookmarks",
            Effect=Allow,
            Action=actions(OPS_KEY_GLUE_ACTIONS),
            Resource=[ops_key_arn],
        ),
    ]


def glue_scratch_statement(names: LakeNames) -> Statement:
    """Job scratch space (`--TempDir`) and Spark event logs, in the lake's Glue bucket."""
    bucket = f"arn:{names.partition}:s3:::{names.glue_assets_bucket}"
    return Statement(
        Sid="GlueScratchSpace",
        Effect=Allow,
        Action=actions(SCRATCH_ACTIONS),
        Resource=[f"{bucket}/tmp/*", f"{bucket}/spark-logs/*"],
    )


def read_scripts_statement(names: LakeNames, script_object_arns: Sequence[str]) -> Statement:
    """The published Glue scripts (in the code bucket), each one by its exact key."""
    return Statement(
        Sid="ReadPublishedScripts", Effect=Allow, Action=actions(["s3:GetObject"]), Resource=list(script_object_arns)
    )


# -- buckets -------------------------------------------------------------------------------------------
def deny_insecure_transport(bucket_arn: str) -> Statement:
    return Statement(
        Sid="DenyInsecureTransport",
        Effect=Deny,
        Principal=Principal("AWS", "*"),
        Action=actions(["s3:*"]),
        Resource=[bucket_arn, f"{bucket_arn}/*"],
        Condition=Condition(Bool({"aws:SecureTransport": "false"})),
    )


def pin_bucket_key(bucket_arn: str, key_arn: str) -> list[Statement]:
    """Uploads may omit SSE headers (the bucket default applies `key_arn`) but may not name anything else."""
    objects = f"{bucket_arn}/*"
    return [
        Statement(
            Sid="DenyUploadsUnderOtherKeys",
            Effect=Deny,
            Principal=Principal("AWS", "*"),
            Action=actions(["s3:PutObject"]),
            Resource=[objects],
            Condition=Condition(
                [
                    StringNotEquals({"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}),
                    Null({"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"}),
                ]
            ),
        ),
        Statement(
            Sid="DenyUploadsWithoutKms",
            Effect=Deny,
            Principal=Principal("AWS", "*"),
            Action=actions(["s3:PutObject"]),
            Resource=[objects],
            Condition=Condition(
                [
                    StringNotEquals({"s3:x-amz-server-side-encryption": "aws:kms"}),
                    Null({"s3:x-amz-server-side-encryption": "false"}),
                ]
            ),
        ),
    ]

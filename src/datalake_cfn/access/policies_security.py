"""The audit trail's and the alarms' service and resource policies, in awacs.

Kept apart from :mod:`datalake_cfn.access.policies` until the lead merges them: these documents
grant AWS services (CloudTrail, CloudWatch, Macie, EventBridge Scheduler, S3 logging) or the other
account of the lake, not a persona, so they play no part in the access matrix. Every ARN is a
string with `${...}` placeholders (`${ProdAccountId}`, `${AuditBucket.Arn}`...);
`stacks.base.cfn()` turns them into `Fn::Sub`.

What each grant is bounded by (confused-deputy safe): CloudTrail by the prod trail's ARN, CloudWatch
by the prod account and the lake's alarm names, Macie and the scheduler by the security account.
"""

from __future__ import annotations

from collections.abc import Iterable

from awacs import cloudwatch, logs, macie2, s3, sns
from awacs.aws import (
    Action,
    Allow,
    ArnEquals,
    ArnLike,
    Bool,
    Condition,
    ConditionElement,
    Deny,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
    StringLike,
)
from awacs.helpers.trust import make_simple_assume_statement

from datalake_cfn.access.policies_zones import deny_grants_for_non_aws_resources

VERSION = "2012-10-17"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
CLOUDWATCH = "cloudwatch.amazonaws.com"
MACIE = "macie.amazonaws.com"
SCHEDULER = "scheduler.amazonaws.com"
S3_LOGGING = "logging.s3.amazonaws.com"

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
AUDIT_KEY_VIA_SERVICES = ("s3", "sns")
MACIE_RESULTS_PREFIX = "macie-discovery-results/"
METRICS_READ_ACTIONS = (
    cloudwatch.GetMetricData,
    cloudwatch.GetMetricStatistics,
    cloudwatch.ListMetrics,
    cloudwatch.DescribeAlarms,
    cloudwatch.DescribeAlarmHistory,
    cloudwatch.GetMetricWidgetImage,
)


def _document(statements: Iterable[Statement]) -> PolicyDocument:
    return PolicyDocument(Version=VERSION, Statement=list(statements))


def _kms(actions: Iterable[str]) -> list[Action]:
    return [Action("kms", action) for action in actions]


def _conditions(*elements: ConditionElement) -> Condition:
    return Condition(list(elements))


def account_root(partition: str, account: str) -> str:
    return f"arn:{partition}:iam::{account}:root"


# -- the audit key (security account) ------------------------------------------------------------------
def audit_key_policy(*, partition: str, account: str, region: str, prod_account: str, trail_arn: str) -> PolicyDocument:
    """Administration by the security account; use only through S3 and SNS; the services on their own behalf.

    Nobody calls Decrypt on the audit key directly. CloudTrail encrypts the prod trail's files (only
    that trail, only prod's trails' encryption context), CloudWatch encrypts the prod alarms'
    messages into the encrypted topic, Macie its discovery results.
    """
    root = Principal("AWS", account_root(partition, account))
    trail_source = ArnLike({"aws:SourceArn": trail_arn})
    prod_trails = f"arn:{partition}:cloudtrail:*:{prod_account}:trail/*"
    return _document(
        [
            Statement(
                Sid="KeyAdministration", Effect=Allow, Principal=root, Action=_kms(KEY_ADMIN_ACTIONS), Resource=["*"]
            ),
            Statement(
                Sid="UseThroughLakeServicesOnly",
                Effect=Allow,
                Principal=root,
                Action=_kms(KEY_USE_ACTIONS),
                Resource=["*"],
                Condition=_conditions(
                    StringEquals(
                        {
                            "kms:CallerAccount": account,
                            "kms:ViaService": [
                                f"{service}.{region}.amazonaws.com" for service in AUDIT_KEY_VIA_SERVICES
                            ],
                        }
                    )
                ),
            ),
            Statement(
                Sid="CloudTrailEncryptsProdTrail",
                Effect=Allow,
                Principal=Principal("Service", CLOUDTRAIL),
                Action=_kms(["GenerateDataKey*"]),
                Resource=["*"],
                Condition=_conditions(
                    trail_source,
                    StringLike({"kms:EncryptionContext:aws:cloudtrail:arn": prod_trails}),
                ),
            ),
            Statement(
                Sid="CloudTrailDescribesKey",
                Effect=Allow,
                Principal=Principal("Service", CLOUDTRAIL),
                Action=_kms(["DescribeKey"]),
                Resource=["*"],
                Condition=_conditions(trail_source),
            ),
            Statement(
                Sid="ProdAlarmsPublishToEncryptedTopic",
                Effect=Allow,
                Principal=Principal("Service", CLOUDWATCH),
                Action=_kms(["GenerateDataKey*", "Decrypt"]),
                Resource=["*"],
                Condition=_conditions(StringEquals({"aws:SourceAccount": prod_account})),
            ),
            Statement(
                Sid="MacieWritesDiscoveryResults",
                Effect=Allow,
                Principal=Principal("Service", MACIE),
                Action=_kms(["GenerateDataKey", "Encrypt"]),
                Resource=["*"],
                Condition=_conditions(StringEquals({"aws:SourceAccount": account})),
            ),
            deny_grants_for_non_aws_resources(),
        ]
    )


# -- buckets (security account) ------------------------------------------------------------------------
def deny_insecure_transport(bucket_arn: str) -> Statement:
    """TLS only, on the bucket and its objects."""
    return Statement(
        Sid="DenyInsecureTransport",
        Effect=Deny,
        Principal=Principal("AWS", "*"),
        Action=[s3.Action("*")],
        Resource=[bucket_arn, f"{bucket_arn}/*"],
        Condition=_conditions(Bool({"aws:SecureTransport": "false"})),
    )


def audit_bucket_policy(*, bucket_arn: str, account: str, prod_account: str, trail_arn: str) -> PolicyDocument:
    """TLS only, never a delete, and writes only by the prod trail (under its own prefix) and Macie."""
    trail_source = {"aws:SourceArn": trail_arn}
    macie_source = _conditions(StringEquals({"aws:SourceAccount": account}))
    return _document(
        [
            deny_insecure_transport(bucket_arn),
            Statement(
                Sid="AuditRecordsAreNeverDeleted",
                Effect=Deny,
                Principal=Principal("AWS", "*"),
                Action=[s3.DeleteObject, s3.DeleteObjectVersion, s3.DeleteBucket, s3.BypassGovernanceRetention],
                Resource=[bucket_arn, f"{bucket_arn}/*"],
            ),
            Statement(
                Sid="CloudTrailChecksBucketAcl",
                Effect=Allow,
                Principal=Principal("Service", CLOUDTRAIL),
                Action=[s3.GetBucketAcl],
                Resource=[bucket_arn],
                Condition=_conditions(StringEquals(trail_source)),
            ),
            Statement(
                Sid="CloudTrailDeliversProdTrail",
                Effect=Allow,
                Principal=Principal("Service", CLOUDTRAIL),
                Action=[s3.PutObject],
                Resource=[f"{bucket_arn}/AWSLogs/{prod_account}/*"],
                Condition=_conditions(StringEquals({**trail_source, "s3:x-amz-acl": "bucket-owner-full-control"})),
            ),
            Statement(
                Sid="MacieWritesDiscoveryResults",
                Effect=Allow,
                Principal=Principal("Service", MACIE),
                Action=[s3.PutObject],
                Resource=[f"{bucket_arn}/{MACIE_RESULTS_PREFIX}*"],
                Condition=macie_source,
            ),
            Statement(
                Sid="MacieLocatesResultsBucket",
                Effect=Allow,
                Principal=Principal("Service", MACIE),
                Action=[s3.GetBucketLocation],
                Resource=[bucket_arn],
                Condition=macie_source,
            ),
        ]
    )


def access_log_bucket_policy(
    *, bucket_arn: str, account: str, source_bucket_name: str, source_bucket_arn: str
) -> PolicyDocument:
    """TLS only; S3 server access logging delivers the source bucket's logs under `<source bucket>/`."""
    return _document(
        [
            deny_insecure_transport(bucket_arn),
            Statement(
                Sid="S3ServerAccessLogsDelivery",
                Effect=Allow,
                Principal=Principal("Service", S3_LOGGING),
                Action=[s3.PutObject],
                Resource=[f"{bucket_arn}/{source_bucket_name}/*"],
                Condition=_conditions(
                    ArnLike({"aws:SourceArn": source_bucket_arn}), StringEquals({"aws:SourceAccount": account})
                ),
            ),
        ]
    )


# -- the alarm topic (security account) ----------------------------------------------------------------
def alarm_topic_policy(*, topic_arn: str, prod_account: str, alarm_arn_pattern: str) -> PolicyDocument:
    """TLS only; CloudWatch publishes for the lake's alarms (`<lake>-*`) of the prod account only."""
    return _document(
        [
            Statement(
                Sid="AllowPublishThroughSSLOnly",
                Effect=Deny,
                Principal=Principal("*"),
                Action=[sns.Publish],
                Resource=[topic_arn],
                Condition=_conditions(Bool({"aws:SecureTransport": "false"})),
            ),
            Statement(
                Sid="ProdAlarmsPublish",
                Effect=Allow,
                Principal=Principal("Service", CLOUDWATCH),
                Action=[sns.Publish],
                Resource=[topic_arn],
                Condition=_conditions(
                    StringEquals({"aws:SourceAccount": prod_account}), ArnLike({"aws:SourceArn": alarm_arn_pattern})
                ),
            ),
        ]
    )


# -- the Macie schedule (security account) -------------------------------------------------------------
def macie_schedule_trust(*, account: str, schedule_arn: str) -> PolicyDocument:
    """Only the lake's own schedule, in this account, may assume the role."""
    statement = make_simple_assume_statement(SCHEDULER)
    statement.Sid = "SchedulerAssumesRole"
    statement.Condition = _conditions(
        StringEquals({"aws:SourceAccount": account}), ArnEquals({"aws:SourceArn": schedule_arn})
    )
    return _document([statement])


def macie_schedule_permissions(job_arn_pattern: str) -> PolicyDocument:
    """Create (one-time) classification jobs, and nothing else: Macie assigns each job's id."""
    return _document(
        [
            Statement(
                Sid="StartClassificationJobs",
                Effect=Allow,
                Action=[macie2.CreateClassificationJob],
                Resource=[job_arn_pattern],
            )
        ]
    )


# -- the trail's log delivery (prod account) -----------------------------------------------------------
def trail_logs_trust(trail_arn: str) -> PolicyDocument:
    """Only the lake's trail may assume its log-delivery role."""
    statement = make_simple_assume_statement(CLOUDTRAIL)
    statement.Sid = "CloudTrailAssumesRole"
    statement.Condition = _conditions(StringEquals({"aws:SourceArn": trail_arn}))
    return _document([statement])


def trail_logs_permissions(log_group_arn: str) -> PolicyDocument:
    """Write the trail's events into its one log group (what CDK's `grant_write` granted).

    `log_group_arn` is the group's `Arn` attribute, which already covers its streams (`...:*`).
    """
    return _document(
        [
            Statement(
                Sid="WriteTrailEvents",
                Effect=Allow,
                Action=[logs.CreateLogStream, logs.PutLogEvents],
                Resource=[log_group_arn],
            )
        ]
    )


# -- cross-account metrics (prod account) --------------------------------------------------------------
def metrics_sharing_trust(security_account_root: str) -> PolicyDocument:
    """The security account (its dashboard) may assume the sharing role."""
    return _document(
        [
            Statement(
                Sid="SecurityAccountReadsMetrics",
                Effect=Allow,
                Principal=Principal("AWS", security_account_root),
                Action=[Action("sts", "AssumeRole")],
            )
        ]
    )


def metrics_sharing_permissions() -> PolicyDocument:
    """Read-only CloudWatch metrics and alarms (these actions support no resource-level permissions)."""
    return _document(
        [Statement(Sid="ReadMetricsAndAlarms", Effect=Allow, Action=list(METRICS_READ_ACTIONS), Resource=["*"])]
    )

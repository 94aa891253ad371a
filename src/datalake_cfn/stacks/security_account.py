"""The security account: the audit key and locked audit bucket, Macie and its schedule, the alarm topic, the dashboard.

It references nothing in the prod stack (the accounts differ): the prod resources it trusts (the
trail, the `<lake>-*` alarms, the zone buckets) are named by their deterministic ARNs, with the
prod account as the `ProdAccountId` parameter. Inside this template the security account is
`${AWS::AccountId}`; the prod template names the same resources with `${SecurityAccountId}`,
through the same functions (`audit.trail_arn`, `audit.audit_key_alias_arn`, `monitoring.alarm_topic_arn`).
Deploy this stack first: CloudTrail checks the audit bucket's policy and key when the prod trail
is created.

Macie: CloudFormation can enable Macie (`AWS::Macie::Session`) but has no classification-job
resource. The scan (per `audit.macie_schedule`) is an EventBridge Scheduler schedule whose target is
Macie's own `CreateClassificationJob` API (a "universal target": no Lambda), creating a one-time
job over the prod account's zone buckets each time it fires. What must be set up by hand across
the two accounts (the prod account as a Macie member of the security account, and Macie's
discovery-results repository) is in docs/deploy.md.
"""

from __future__ import annotations

import json
from dataclasses import replace

from troposphere import Equals, GetAtt, Not, Or, Output, Ref, iam, kms, macie, s3, scheduler, sns
from troposphere import cloudwatch as cw

from datalake_cfn.access import policies
from datalake_cfn.naming import ACCOUNT_ID, PARTITION, REGION, LakeNames, LogicalIds
from datalake_cfn.stacks import monitoring, outputs, params
from datalake_cfn.stacks.audit import trail_arn
from datalake_cfn.stacks.base import (
    INLINE_POLICY_RULES,
    LakeTemplate,
    cfn,
    eventbridge_notifications,
    nag_metadata,
    tls_resources_by_reference,
)
from datalake_cfn.stacks.monitoring import alarm_arn_pattern

PROD_ACCOUNT = "${" + params.PROD_ACCOUNT_ID + "}"
MACIE_SCHEDULES = {
    "daily": "cron(0 3 * * ? *)",
    "weekly": "cron(0 3 ? * SUN *)",
    "monthly": "cron(0 3 1 * ? *)",
}
KEY_ROTATION_DAYS = 365
KEY_PENDING_WINDOW_DAYS = 30
NONCURRENT_VERSION_DAYS = 90
INCOMPLETE_UPLOAD_DAYS = 7
ACCESS_LOG_DAYS = 400

# Logical ids of this module (the constant ones are in naming.LogicalIds).
AUDIT_KEY_ALIAS = "AuditKeyAlias"
AUDIT_BUCKET_POLICY = "AuditBucketPolicy"
ALARM_TOPIC_POLICY = "AlarmTopicPolicy"
ALARM_EMAIL_SUBSCRIPTION = "AlarmEmailSubscription"
MACIE_SESSION = "MacieSession"
MACIE_SCHEDULE = "MacieSchedule"
MACIE_SCHEDULE_ROLE = "MacieScheduleRole"
MACIE_SCHEDULE_POLICY = "MacieSchedulePolicy"
DASHBOARD = "Dashboard"

REPLICATION_RULES = (
    "NIST.800.53.R5-S3BucketReplicationEnabled",
    "HIPAA.Security-S3BucketReplicationEnabled",
    "PCI.DSS.321-S3BucketReplicationEnabled",
)


def security_names(lake: LakeTemplate) -> LakeNames:
    """Names in the security account: `${AWS::AccountId}` is this account, and the audit bucket is its own."""
    return replace(lake.names, account=ACCOUNT_ID, security_account=ACCOUNT_ID)


def prod_bucket(lake: LakeTemplate, zone: str) -> str:
    """A zone bucket of the prod account, as the security template names it (`${ProdAccountId}`).

    Computed from the template names and then re-pointed at `ProdAccountId`, because
    `LakeNames.bucket` validates names with the placeholders naming.py knows, which
    `${ProdAccountId}` is not (yet).
    """
    return lake.names.bucket(zone).replace(ACCOUNT_ID, PROD_ACCOUNT)


def _retained(resource: kms.Key | s3.Bucket) -> None:
    resource.DeletionPolicy = "Retain"
    resource.UpdateReplacePolicy = "Retain"


def _private() -> dict[str, object]:
    """Block Public Access, ACLs disabled, versioned: what every bucket of the lake is."""
    return {
        "PublicAccessBlockConfiguration": s3.PublicAccessBlockConfiguration(
            BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
        ),
        "OwnershipControls": s3.OwnershipControls(
            Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
        ),
        "VersioningConfiguration": s3.VersioningConfiguration(Status="Enabled"),
    }


def _abort_uploads() -> s3.LifecycleRule:
    return s3.LifecycleRule(
        Id="abort-incomplete-multipart-uploads",
        Status="Enabled",
        AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=INCOMPLETE_UPLOAD_DAYS),
    )


# -- the audit key ----------------------------------------------------------------------------------------
def _audit_key(lake: LakeTemplate, names: LakeNames) -> None:
    document = policies.audit_key_policy(
        partition=PARTITION,
        account=ACCOUNT_ID,
        region=REGION,
        prod_account=PROD_ACCOUNT,
        trail_arn=trail_arn(names, PROD_ACCOUNT),
    )
    key = kms.Key(
        LogicalIds.AUDIT_KEY,
        Description=f"Encrypts the {lake.config.lake} lake's audit trail, discovery results and alarms",
        EnableKeyRotation=True,
        RotationPeriodInDays=KEY_ROTATION_DAYS,
        PendingWindowInDays=KEY_PENDING_WINDOW_DAYS,
        KeyPolicy=cfn(document),
    )
    _retained(key)
    lake.add(key)
    lake.add(
        kms.Alias(AUDIT_KEY_ALIAS, AliasName=names.audit_key_alias, TargetKeyId=GetAtt(LogicalIds.AUDIT_KEY, "Arn"))
    )


# -- buckets ----------------------------------------------------------------------------------------------
def _access_log_bucket(lake: LakeTemplate, names: LakeNames) -> None:
    """The security account's S3 server-access-log target (SSE-S3: S3 logging cannot deliver to SSE-KMS)."""
    name = names.access_log_bucket
    lake_name = lake.config.lake
    bucket = s3.Bucket(
        LogicalIds.ACCESS_LOG_BUCKET,
        BucketName=cfn(name),
        BucketEncryption=s3.BucketEncryption(
            ServerSideEncryptionConfiguration=[
                s3.ServerSideEncryptionRule(
                    ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256")
                )
            ]
        ),
        NotificationConfiguration=eventbridge_notifications(),
        LifecycleConfiguration=s3.LifecycleConfiguration(
            Rules=[
                s3.LifecycleRule(Id="expire-access-logs", Status="Enabled", ExpirationInDays=ACCESS_LOG_DAYS),
                s3.LifecycleRule(
                    Id="expire-noncurrent-versions",
                    Status="Enabled",
                    NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=NONCURRENT_VERSION_DAYS),
                ),
                _abort_uploads(),
            ]
        ),
        Metadata=nag_metadata(
            *[
                (
                    rule,
                    f"The {lake_name} security account's access-log bucket receives S3 server access logs, which S3 "
                    "can only deliver to SSE-S3 buckets (not SSE-KMS).",
                )
                for rule in (
                    "NIST.800.53.R5-S3DefaultEncryptionKMS",
                    "HIPAA.Security-S3DefaultEncryptionKMS",
                    "PCI.DSS.321-S3DefaultEncryptionKMS",
                )
            ],
            *[
                (
                    rule,
                    f"The {lake_name} security account's access-log bucket keeps the audit bucket's access logs "
                    f"{ACCESS_LOG_DAYS} days for investigations; the audit records themselves are under Object Lock.",
                )
                for rule in REPLICATION_RULES
            ],
        ),
        **_private(),
    )
    _retained(bucket)
    lake.add(bucket)
    document = policies.access_log_bucket_policy(
        bucket_arn="${" + LogicalIds.ACCESS_LOG_BUCKET + ".Arn}",
        account=ACCOUNT_ID,
        sources=[("S3ServerAccessLogsDelivery", names.audit_bucket, "${" + LogicalIds.AUDIT_BUCKET + ".Arn}")],
    )
    lake.add(
        s3.BucketPolicy(
            LogicalIds.ACCESS_LOG_BUCKET_POLICY,
            Bucket=Ref(LogicalIds.ACCESS_LOG_BUCKET),
            PolicyDocument=tls_resources_by_reference(cfn(document), LogicalIds.ACCESS_LOG_BUCKET),
        )
    )


def _object_lock(lake: LakeTemplate) -> s3.ObjectLockConfiguration:
    audit = lake.config.audit
    return s3.ObjectLockConfiguration(
        ObjectLockEnabled="Enabled",
        Rule=s3.ObjectLockRule(
            DefaultRetention=s3.DefaultRetention(Days=audit.retention_days, Mode=audit.object_lock_mode)
        ),
    )


def _audit_bucket(lake: LakeTemplate, names: LakeNames) -> None:
    """SSE-KMS under the audit key, versioned, Object Lock per lake.yaml, logged, kept on deletion.

    Plain SSE-KMS without S3 Bucket Keys: CloudTrail needs kms:Decrypt on the key to deliver into a
    bucket that uses Bucket Keys, a grant the prod account would need across accounts. Noncurrent
    versions are evidence too: no expiration, Object Lock decides retention.
    """
    name = names.audit_bucket
    bucket = s3.Bucket(
        LogicalIds.AUDIT_BUCKET,
        BucketName=cfn(name),
        BucketEncryption=s3.BucketEncryption(
            ServerSideEncryptionConfiguration=[
                s3.ServerSideEncryptionRule(
                    BucketKeyEnabled=False,
                    ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                        SSEAlgorithm="aws:kms", KMSMasterKeyID=GetAtt(LogicalIds.AUDIT_KEY, "Arn")
                    ),
                )
            ]
        ),
        LifecycleConfiguration=s3.LifecycleConfiguration(Rules=[_abort_uploads()]),
        LoggingConfiguration=s3.LoggingConfiguration(
            DestinationBucketName=Ref(LogicalIds.ACCESS_LOG_BUCKET), LogFilePrefix=cfn(f"{name}/")
        ),
        ObjectLockEnabled=True,
        ObjectLockConfiguration=_object_lock(lake),
        NotificationConfiguration=eventbridge_notifications(),
        Metadata=nag_metadata(
            *[
                (
                    rule,
                    f"The {lake.config.lake} audit bucket is already the off-account copy of the prod trail, versioned "
                    "and under Object Lock; a cross-region replica is a per-organisation choice (cost, residency).",
                )
                for rule in REPLICATION_RULES
            ]
        ),
        **_private(),
    )
    _retained(bucket)
    lake.add(bucket)
    document = policies.audit_bucket_policy(
        bucket_arn="${" + LogicalIds.AUDIT_BUCKET + ".Arn}",
        account=ACCOUNT_ID,
        prod_account=PROD_ACCOUNT,
        trail_arn=trail_arn(names, PROD_ACCOUNT),
    )
    lake.add(
        s3.BucketPolicy(
            AUDIT_BUCKET_POLICY,
            Bucket=Ref(LogicalIds.AUDIT_BUCKET),
            PolicyDocument=tls_resources_by_reference(cfn(document), LogicalIds.AUDIT_BUCKET),
        )
    )


# -- alarms -----------------------------------------------------------------------------------------------
def _alarm_topic(lake: LakeTemplate, names: LakeNames) -> None:
    """Encrypted with the audit key; the prod account's `<lake>-*` alarms publish; e-mail when one is given."""
    lake.add(
        sns.Topic(
            LogicalIds.ALARM_TOPIC,
            TopicName=names.alarm_topic,
            DisplayName=f"{lake.config.lake} lake alarms",
            KmsMasterKeyId=GetAtt(LogicalIds.AUDIT_KEY, "Arn"),
        )
    )
    document = policies.alarm_topic_policy(
        topic_arn="${" + LogicalIds.ALARM_TOPIC + "}",
        prod_account=PROD_ACCOUNT,
        alarm_arn_pattern=alarm_arn_pattern(names, PROD_ACCOUNT),
    )
    lake.add(sns.TopicPolicy(ALARM_TOPIC_POLICY, Topics=[Ref(LogicalIds.ALARM_TOPIC)], PolicyDocument=cfn(document)))
    lake.add(
        sns.SubscriptionResource(
            ALARM_EMAIL_SUBSCRIPTION,
            Condition=params.HAS_ALARM_EMAIL,
            Protocol="email",
            Endpoint=Ref(params.ALARM_EMAIL),
            TopicArn=Ref(LogicalIds.ALARM_TOPIC),
        )
    )


def _dashboard(lake: LakeTemplate) -> None:
    body = monitoring.pipeline_dashboard_body(lake, account=PROD_ACCOUNT, region=REGION)
    lake.add(
        cw.Dashboard(
            DASHBOARD,
            DashboardName=lake.names.dashboard,
            DashboardBody=cfn(json.dumps(body, separators=(",", ":"))),
        )
    )


# -- Macie ------------------------------------------------------------------------------------------------
MACIE_AVAILABLE = "MacieAvailable"
MACIE_UNAVAILABLE_REGIONS = (
    "ap-east-2",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-2",
    "eu-south-2",
    "me-central-1",
    "mx-central-1",
    "us-gov-east-1",
    "us-gov-west-1",
)
"""Regions whose CloudFormation has no `AWS::Macie::Session` (the resource schemas cfn-lint ships; a test
keeps this list equal to them). There the security stack launches without Macie, and says so."""


def _add_macie_condition(lake: LakeTemplate) -> None:
    """`MacieAvailable`: this region's CloudFormation knows Macie (Fn::Or takes at most 10 conditions)."""
    equals = [Equals(Ref("AWS::Region"), region) for region in MACIE_UNAVAILABLE_REGIONS]
    chunks = [Or(*equals[i : i + 10]) if len(equals[i : i + 10]) > 1 else equals[i] for i in range(0, len(equals), 10)]
    lake.template.add_condition(MACIE_AVAILABLE, Not(Or(*chunks) if len(chunks) > 1 else chunks[0]))


def _macie(lake: LakeTemplate, names: LakeNames) -> None:
    _add_macie_condition(lake)
    lake.add(
        macie.Session(
            MACIE_SESSION,
            Condition=MACIE_AVAILABLE,
            Status="ENABLED",
            FindingPublishingFrequency="ONE_HOUR",
            Metadata={
                "cfn-lint": {
                    "config": {
                        "ignore_checks": ["E3006"],
                        "ignore_reasons": {
                            "E3006": "Macie is created only where CloudFormation offers it: the MacieAvailable "
                            "condition excludes exactly the regions cfn-lint reports (MACIE_UNAVAILABLE_REGIONS)."
                        },
                    }
                }
            },
        )
    )
    _macie_schedule(lake, names)


def _macie_job(lake: LakeTemplate) -> dict[str, object]:
    """The `CreateClassificationJob` request each run sends: a one-time job over every zone bucket of prod."""
    config = lake.config
    return {
        "clientToken": "<aws.scheduler.execution-id>",
        "name": f"{config.lake}-zones-<aws.scheduler.scheduled-time>",
        "description": f"Scheduled ({config.audit.macie_schedule}) scan of the lake's zone buckets",
        "jobType": "ONE_TIME",
        "managedDataIdentifierSelector": "RECOMMENDED",
        "s3JobDefinition": {
            "bucketDefinitions": [
                {"accountId": PROD_ACCOUNT, "buckets": [prod_bucket(lake, zone.name) for zone in config.zones]}
            ]
        },
    }


def _macie_schedule(lake: LakeTemplate, names: LakeNames) -> None:
    config = lake.config
    schedule_arn = (
        f"arn:{names.partition}:scheduler:{names.region}:{ACCOUNT_ID}:schedule/default/{names.macie_schedule}"
    )
    job_arns = f"arn:{names.partition}:macie2:{names.region}:{ACCOUNT_ID}:classification-job/*"
    lake.add(
        iam.Role(
            MACIE_SCHEDULE_ROLE,
            Condition=MACIE_AVAILABLE,
            AssumeRolePolicyDocument=cfn(policies.macie_schedule_trust(account=ACCOUNT_ID, schedule_arn=schedule_arn)),
            Description=f"Lets the {names.macie_schedule} schedule start Macie classification jobs",
        )
    )
    lake.add(
        iam.PolicyType(
            MACIE_SCHEDULE_POLICY,
            Condition=MACIE_AVAILABLE,
            PolicyName="start-classification-jobs",
            PolicyDocument=cfn(policies.macie_schedule_permissions(job_arns)),
            Roles=[Ref(MACIE_SCHEDULE_ROLE)],
            Metadata=nag_metadata(
                (
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:macie2:<AWS::Region>:<AWS::AccountId>:"
                    "classification-job/*]",
                    f"Each run of {names.macie_schedule} creates a new one-time Macie job whose id Macie assigns, "
                    "so the role may create classification-job/* in the security account and nothing else.",
                ),
                *[
                    (rule, f"The {names.macie_schedule} role's one-action policy has no use outside this role.")
                    for rule in INLINE_POLICY_RULES
                ],
            ),
        )
    )
    schedule = scheduler.Schedule(
        MACIE_SCHEDULE,
        Condition=MACIE_AVAILABLE,
        DependsOn=[MACIE_SESSION, MACIE_SCHEDULE_POLICY],
        Name=names.macie_schedule,
        Description=f"Runs a Macie classification job over the {config.lake} zone buckets",
        ScheduleExpression=MACIE_SCHEDULES[config.audit.macie_schedule],
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow=scheduler.FlexibleTimeWindow(Mode="FLEXIBLE", MaximumWindowInMinutes=60),
        State="ENABLED",
        Target=scheduler.Target(
            Arn=cfn(f"arn:{names.partition}:scheduler:::aws-sdk:macie2:createClassificationJob"),
            RoleArn=GetAtt(MACIE_SCHEDULE_ROLE, "Arn"),
            Input=cfn(json.dumps(_macie_job(lake))),
            RetryPolicy=scheduler.RetryPolicy(MaximumEventAgeInSeconds=3600, MaximumRetryAttempts=3),
        ),
    )
    lake.add(schedule)


# -- outputs ----------------------------------------------------------------------------------------------
def _outputs(lake: LakeTemplate) -> None:
    """What the prod stack's deployer and `datalake` read: the bucket and key the trail needs, the topic."""
    for name, value, description in (
        (outputs.AUDIT_BUCKET_NAME, Ref(LogicalIds.AUDIT_BUCKET), "The audit bucket the prod trail writes into"),
        (outputs.AUDIT_BUCKET_ARN, GetAtt(LogicalIds.AUDIT_BUCKET, "Arn"), "ARN of the audit bucket"),
        (
            outputs.AUDIT_KEY_ARN,
            GetAtt(LogicalIds.AUDIT_KEY, "Arn"),
            "ARN of the audit key (the trail names its alias)",
        ),
        (outputs.ALARM_TOPIC_ARN, Ref(LogicalIds.ALARM_TOPIC), "The topic the prod account's lake alarms notify"),
    ):
        lake.template.add_output(Output(name, Value=value, Description=description))


def add_security_account(lake: LakeTemplate) -> None:
    """Everything of the lake in the security account (see the module docstring)."""
    names = security_names(lake)
    _audit_key(lake, names)
    _access_log_bucket(lake, names)
    _audit_bucket(lake, names)
    _alarm_topic(lake, names)
    _macie(lake, names)
    _dashboard(lake)
    _outputs(lake)

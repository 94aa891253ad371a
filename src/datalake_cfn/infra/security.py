"""The security stack (security account): audit bucket, Macie, alarm topic, pipeline dashboard.

It references nothing in the prod stack by CloudFormation reference (the accounts differ); the
prod resources it trusts (trail, alarms, zone buckets) are named by their deterministic ARNs.
Deploy it before the prod stack: CloudTrail checks the audit bucket's policy and key when the
prod trail is created.

Macie: CloudFormation can enable Macie (`AWS::Macie::Session`) but has no classification-job
resource. The weekly (per `audit.macie_schedule`) scan is an EventBridge Scheduler schedule whose
target is Macie's own `CreateClassificationJob` API (a "universal target": no Lambda), creating a
one-time job over the zone buckets of the prod account each time it fires. What must be set up by
hand across the two accounts (the prod account as a Macie member of the security account, and
Macie's discovery-results repository) is in docs/deploy.md.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_macie as macie
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from constructs import Construct

from datalake_cfn.infra.buckets import INCOMPLETE_UPLOAD_DAYS, access_log_bucket, deny_insecure_transport, secure_bucket
from datalake_cfn.infra.deployment import Deployment
from datalake_cfn.infra.keys import allow_service, lake_key
from datalake_cfn.infra.monitoring import pipeline_dashboard
from datalake_cfn.infra.nag import acknowledge_inline_policy, expect_wildcards

MACIE_SCHEDULES = {
    "daily": "cron(0 3 * * ? *)",
    "weekly": "cron(0 3 ? * SUN *)",
    "monthly": "cron(0 3 1 * ? *)",
}
MACIE_RESULTS_PREFIX = "macie-discovery-results/"


class SecurityStack(Stack):
    """Audit trail storage, data discovery and monitoring for the lake, in the security account."""

    def __init__(self, scope: Construct, deployment: Deployment) -> None:
        names = deployment.names
        super().__init__(
            scope,
            names.security_stack,
            stack_name=names.security_stack,
            env=Environment(account=deployment.security_account, region=deployment.region),
            description=f"datalake {deployment.config.lake}: audit trail bucket, Macie, alarm topic, dashboard",
            termination_protection=True,
            # Compact JSON: a 12-zone lake's template stays well under CloudFormation's 1 MB.
            suppress_template_indentation=True,
        )
        self.deployment = deployment
        security_names = deployment.security_names

        self.audit_key = lake_key(
            self,
            "AuditKey",
            alias=names.audit_key_alias,
            description=f"Encrypts the {deployment.config.lake} lake's audit trail, discovery results and alarms",
            via_services=["s3", "sns"],
        )
        allow_service(
            self.audit_key,
            "CloudTrailEncryptsProdTrail",
            "cloudtrail.amazonaws.com",
            ["kms:GenerateDataKey*"],
            source_arns=[deployment.trail_arn],
            extra_conditions={
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": (
                        f"arn:{deployment.partition}:cloudtrail:*:{deployment.prod_account}:trail/*"
                    )
                }
            },
        )
        allow_service(
            self.audit_key,
            "CloudTrailDescribesKey",
            "cloudtrail.amazonaws.com",
            ["kms:DescribeKey"],
            source_arns=[deployment.trail_arn],
        )
        allow_service(
            self.audit_key,
            "ProdAlarmsPublishToEncryptedTopic",
            "cloudwatch.amazonaws.com",
            ["kms:GenerateDataKey*", "kms:Decrypt"],
            source_account=deployment.prod_account,
        )
        allow_service(
            self.audit_key,
            "MacieWritesDiscoveryResults",
            "macie.amazonaws.com",
            ["kms:GenerateDataKey", "kms:Encrypt"],
            source_account=deployment.security_account,
        )

        self.access_logs = access_log_bucket(self, "AccessLogs", name=security_names.access_log_bucket)
        self.audit_bucket = secure_bucket(
            self,
            "AuditBucket",
            name=names.audit_bucket,
            key=self.audit_key,
            access_logs=self.access_logs,
            object_lock=_object_lock(deployment),
            # CloudTrail needs kms:Decrypt on the key to deliver into a bucket that uses S3 Bucket Keys,
            # a grant the prod account's deployer would need across accounts: plain SSE-KMS instead.
            bucket_key=False,
            # Noncurrent versions are evidence too: no expiration, Object Lock decides retention.
            lifecycle=[
                s3.LifecycleRule(
                    id="abort-incomplete-multipart-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(INCOMPLETE_UPLOAD_DAYS),
                )
            ],
            replication_reason=(
                f"{names.audit_bucket} is already the off-account copy of the prod trail, versioned and under "
                "Object Lock; a cross-region replica is a per-organisation choice (cost, residency)."
            ),
        )
        self._audit_bucket_policy()

        self.alarm_topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=names.alarm_topic,
            display_name=f"{deployment.config.lake} lake alarms",
            master_key=self.audit_key,
            enforce_ssl=True,
        )
        self.alarm_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ProdAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.alarm_topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": deployment.prod_account},
                    "ArnLike": {"aws:SourceArn": deployment.alarm_arn_pattern()},
                },
            )
        )

        self.macie_session = macie.CfnSession(
            self, "MacieSession", status="ENABLED", finding_publishing_frequency="ONE_HOUR"
        )
        self.macie_schedule = self._macie_schedule()
        self.dashboard = pipeline_dashboard(self, "Dashboard", deployment=deployment)

    def _audit_bucket_policy(self) -> None:
        deployment = self.deployment
        bucket = self.audit_bucket
        deny_insecure_transport(bucket)
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AuditRecordsAreNeverDeleted",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=[
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                    "s3:DeleteBucket",
                    "s3:BypassGovernanceRetention",
                ],
                resources=[bucket.bucket_arn, bucket.arn_for_objects("*")],
            )
        )
        trail = {"StringEquals": {"aws:SourceArn": deployment.trail_arn}}
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailChecksBucketAcl",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["s3:GetBucketAcl"],
                resources=[bucket.bucket_arn],
                conditions=trail,
            )
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailDeliversProdTrail",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"AWSLogs/{deployment.prod_account}/*")],
                conditions={"StringEquals": {**trail["StringEquals"], "s3:x-amz-acl": "bucket-owner-full-control"}},
            )
        )
        macie_source = {"StringEquals": {"aws:SourceAccount": deployment.security_account}}
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="MacieWritesDiscoveryResults",
                principals=[iam.ServicePrincipal("macie.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"{MACIE_RESULTS_PREFIX}*")],
                conditions=macie_source,
            )
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="MacieLocatesResultsBucket",
                principals=[iam.ServicePrincipal("macie.amazonaws.com")],
                actions=["s3:GetBucketLocation"],
                resources=[bucket.bucket_arn],
                conditions=macie_source,
            )
        )

    def _macie_schedule(self) -> scheduler.CfnSchedule:
        deployment = self.deployment
        names = deployment.names
        schedule_arn = self.format_arn(
            service="scheduler", resource="schedule", resource_name=f"default/{names.macie_schedule}"
        )
        role = iam.Role(
            self,
            "MacieScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": deployment.security_account},
                    "ArnEquals": {"aws:SourceArn": schedule_arn},
                },
            ),
            description=f"Lets the {names.macie_schedule} schedule start Macie classification jobs",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="StartClassificationJobs",
                actions=["macie2:CreateClassificationJob"],
                resources=[self.format_arn(service="macie2", resource="classification-job", resource_name="*")],
            )
        )
        expect_wildcards(
            role,
            "Each run creates a new one-time Macie job whose id Macie assigns, so the role may create "
            "classification-job/* in the security account and nothing else.",
            [r"Resource::arn:<AWS::Partition>:macie2:[a-z0-9-]+:\d{12}:classification-job/\*"],
        )
        acknowledge_inline_policy(role, "The Macie schedule role's one-action policy has no use outside this role.")
        job = {
            "clientToken": "<aws.scheduler.execution-id>",
            "name": f"{deployment.config.lake}-zones-<aws.scheduler.scheduled-time>",
            "description": f"Scheduled ({deployment.config.audit.macie_schedule}) scan of the lake's zone buckets",
            "jobType": "ONE_TIME",
            "managedDataIdentifierSelector": "RECOMMENDED",
            "s3JobDefinition": {
                "bucketDefinitions": [
                    {
                        "accountId": deployment.prod_account,
                        "buckets": [names.bucket(zone.name) for zone in deployment.config.zones],
                    }
                ]
            },
        }
        schedule = scheduler.CfnSchedule(
            self,
            "MacieSchedule",
            name=names.macie_schedule,
            description=f"Runs a Macie classification job over the {deployment.config.lake} zone buckets",
            schedule_expression=MACIE_SCHEDULES[deployment.config.audit.macie_schedule],
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(
                mode="FLEXIBLE", maximum_window_in_minutes=60
            ),
            state="ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=f"arn:{deployment.partition}:scheduler:::aws-sdk:macie2:createClassificationJob",
                role_arn=role.role_arn,
                input=json.dumps(job),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=3600, maximum_retry_attempts=3
                ),
            ),
        )
        schedule.node.add_dependency(self.macie_session)
        return schedule


def _object_lock(deployment: Deployment) -> s3.ObjectLockRetention:
    audit = deployment.config.audit
    days = Duration.days(audit.retention_days)
    if audit.object_lock_mode == "COMPLIANCE":
        return s3.ObjectLockRetention.compliance(days)
    return s3.ObjectLockRetention.governance(days)

"""The audit trail, prod side: a CloudTrail trail that ships to the security account.

A trail records the events of the account it lives in, so the trail is a prod-stack resource; it
delivers into the security account's locked audit bucket, encrypted with the security account's
audit key (named by alias ARN: deterministic, so the prod stack never references the security
stack). It records management events and S3 data events (reads and writes) of every zone
bucket, with log file validation, and also streams to an encrypted CloudWatch Logs group in prod
for metric filters and alarms.

Deploy the security stack first: CloudTrail checks the bucket policy and the key when the trail is
created.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from datalake_cfn.infra.deployment import Deployment
from datalake_cfn.infra.nag import acknowledge_inline_policy

TRAIL_LOG_RETENTION_DAYS = 365


class AuditTrail(Construct):
    """The lake's CloudTrail trail (management + S3 data events of every zone)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        zone_buckets: list[str],
        logs_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        names = deployment.names
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=names.log_group("cloudtrail"),
            encryption_key=logs_key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=RemovalPolicy.RETAIN,
        )
        role = iam.Role(
            self,
            "LogsRole",
            assumed_by=iam.ServicePrincipal(
                "cloudtrail.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceArn": deployment.trail_arn}},
            ),
            description=f"Lets the {names.trail} trail write into its CloudWatch Logs group",
        )
        self.log_group.grant_write(role)
        acknowledge_inline_policy(role, f"The {names.trail} delivery role only writes the trail's log group.")
        self.trail = cloudtrail.CfnTrail(
            self,
            "Trail",
            trail_name=names.trail,
            is_logging=True,
            s3_bucket_name=names.audit_bucket,
            kms_key_id=deployment.audit_key_alias_arn,
            enable_log_file_validation=True,
            include_global_service_events=True,
            is_multi_region_trail=True,
            cloud_watch_logs_log_group_arn=self.log_group.log_group_arn,
            cloud_watch_logs_role_arn=role.role_arn,
            event_selectors=[
                cloudtrail.CfnTrail.EventSelectorProperty(
                    include_management_events=True,
                    read_write_type="All",
                    data_resources=[
                        cloudtrail.CfnTrail.DataResourceProperty(
                            type="AWS::S3::Object", values=[f"arn:{deployment.partition}:s3:::{bucket}/"]
                        )
                        for bucket in zone_buckets
                    ],
                )
            ],
        )
        self.trail.node.add_dependency(role.node.find_child("DefaultPolicy"))

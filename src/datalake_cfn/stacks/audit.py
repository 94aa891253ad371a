"""The audit trail, prod side: a CloudTrail trail that ships to the security account.

A trail records the events of the account it lives in, so the trail is a prod-template resource;
it delivers into the security account's locked audit bucket, encrypted with the security
account's audit key named by alias ARN (`${SecurityAccountId}`: deterministic, so the prod stack
never references the security stack). It records management events and S3 data events (reads and
writes) of every zone bucket, in every region, with log file validation, and also streams to a log
group in prod encrypted with the ops key, for metric filters and alarms.

Deploy the security stack first: CloudTrail checks the bucket policy and the key when the trail is
created.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, cloudtrail, iam, logs

from datalake_cfn.access import policies
from datalake_cfn.naming import ACCOUNT_ID, SECURITY_ACCOUNT_ID, LakeNames, LogicalIds
from datalake_cfn.stacks.base import INLINE_POLICY_RULES, LakeTemplate, cfn, lake_tags, nag_metadata

TRAIL_LOG_RETENTION_DAYS = 365

# Logical ids of this module (the trail's is naming.LogicalIds.TRAIL).
TRAIL_LOG_GROUP = "AuditTrailLogGroup"
TRAIL_LOGS_ROLE = "AuditTrailLogsRole"
TRAIL_LOGS_POLICY = "AuditTrailLogsPolicy"


def trail_arn(names: LakeNames, prod_account: str) -> str:
    """The lake's trail in the prod account (`${AWS::AccountId}` in prod, `${ProdAccountId}` in security)."""
    return f"arn:{names.partition}:cloudtrail:{names.region}:{prod_account}:trail/{names.trail}"


def audit_key_alias_arn(names: LakeNames, security_account: str) -> str:
    """CloudTrail in prod names the security account's key by alias ARN (KMS accepts it cross-account)."""
    return f"arn:{names.partition}:kms:{names.region}:{security_account}:{names.audit_key_alias}"


def _trail_logs(lake: LakeTemplate) -> None:
    """The trail's CloudWatch Logs group (ops key, a year, kept) and the role CloudTrail writes it with."""
    names = lake.names
    group = logs.LogGroup(
        TRAIL_LOG_GROUP,
        LogGroupName=names.log_group("cloudtrail"),
        KmsKeyId=GetAtt(LogicalIds.OPS_KEY, "Arn"),
        RetentionInDays=TRAIL_LOG_RETENTION_DAYS,
        Tags=lake_tags(lake),
    )
    group.DeletionPolicy = "Retain"
    group.UpdateReplacePolicy = "Retain"
    lake.add(group)
    lake.add(
        iam.Role(
            TRAIL_LOGS_ROLE,
            AssumeRolePolicyDocument=cfn(policies.trail_logs_trust(trail_arn(names, ACCOUNT_ID))),
            Description=f"Lets the {names.trail} trail write into its CloudWatch Logs group",
            Tags=lake_tags(lake),
        )
    )
    lake.add(
        iam.PolicyType(
            TRAIL_LOGS_POLICY,
            PolicyName="write-trail-log-group",
            PolicyDocument=cfn(policies.trail_logs_permissions("${" + TRAIL_LOG_GROUP + ".Arn}")),
            Roles=[Ref(TRAIL_LOGS_ROLE)],
            Metadata=nag_metadata(
                *[
                    (rule, f"The {names.trail} delivery role's policy only writes the trail's own log group.")
                    for rule in INLINE_POLICY_RULES
                ]
            ),
        )
    )


def add_trail(lake: LakeTemplate) -> None:
    """The lake's CloudTrail trail: management + S3 data events of every zone, into the security account."""
    names = lake.names
    _trail_logs(lake)
    lake.add(
        cloudtrail.Trail(
            LogicalIds.TRAIL,
            DependsOn=[TRAIL_LOGS_POLICY],
            TrailName=names.trail,
            IsLogging=True,
            S3BucketName=cfn(names.audit_bucket),
            KMSKeyId=cfn(audit_key_alias_arn(names, SECURITY_ACCOUNT_ID)),
            EnableLogFileValidation=True,
            IncludeGlobalServiceEvents=True,
            IsMultiRegionTrail=True,
            CloudWatchLogsLogGroupArn=GetAtt(TRAIL_LOG_GROUP, "Arn"),
            CloudWatchLogsRoleArn=GetAtt(TRAIL_LOGS_ROLE, "Arn"),
            EventSelectors=[
                cloudtrail.EventSelector(
                    IncludeManagementEvents=True,
                    ReadWriteType="All",
                    DataResources=[
                        cloudtrail.DataResource(
                            Type="AWS::S3::Object",
                            Values=[cfn(f"arn:{names.partition}:s3:::{names.bucket(zone.name)}/")],
                        )
                        for zone in lake.config.zones
                    ],
                )
            ],
            Tags=lake_tags(lake),
        )
    )

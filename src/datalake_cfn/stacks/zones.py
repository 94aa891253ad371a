"""Zone storage: the ops key and the access-log bucket, then each zone's CMK, bucket and queues.

Everything follows :func:`datalake_cfn.blueprint.lake_blueprint`, the settings the local lake
provisions too. The S3 -> SQS notifications are the bucket's native `NotificationConfiguration`
(no custom-resource Lambda). S3 tests a notification target when the configuration is written, so
the queue and its policy must exist first, and the policy must name the bucket: the cycle is broken
with deterministic names. Queue policies, key policies and the notifications use bucket and queue
ARNs computed from naming (not references), and the bucket `DependsOn` its queue policies. Only the
bucket's own policy references the bucket (`${Bucket.Arn}`): it is created after it anyway.

Every bucket, key and queue is kept when removed from the stack or replaced (`Retain`): a zone's
data outlives a template edit.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from troposphere import GetAtt, Output, Ref, Tags, kms, s3, sqs

from datalake_cfn.access import policies
from datalake_cfn.blueprint import BucketBlueprint, NotificationBlueprint, QueueBlueprint
from datalake_cfn.naming import LogicalIds, pascal
from datalake_cfn.stacks import outputs
from datalake_cfn.stacks.base import (
    TLS_SID,
    LakeTemplate,
    cfn,
    eventbridge_notifications,
    nag_metadata,
    template_arns,
    tls_resources_by_reference,
)

LAKE_TAG = "datalake:lake"
ZONE_TAG = "datalake:zone"

RETAIN = "Retain"
KEY_ROTATION_DAYS = 365
KEY_PENDING_WINDOW_DAYS = 30
QUEUE_DATA_KEY_REUSE_SECONDS = 3600
NONCURRENT_VERSION_DAYS = 90
INCOMPLETE_UPLOAD_DAYS = 7
ACCESS_LOG_DAYS = 400

REPLICATION_RULES = (
    "NIST.800.53.R5-S3BucketReplicationEnabled",
    "HIPAA.Security-S3BucketReplicationEnabled",
    "PCI.DSS.321-S3BucketReplicationEnabled",
)
ACCESS_LOG_KMS_RULES = (
    "NIST.800.53.R5-S3DefaultEncryptionKMS",
    "HIPAA.Security-S3DefaultEncryptionKMS",
    "PCI.DSS.321-S3DefaultEncryptionKMS",
)
ROOT_DELEGATION_SID = "EnableIamPolicies"
"""The `kms:*`-for-the-account statement :func:`policies.zone_key_policy` adds for the local lake.
The templates replace it with :func:`policies.lake_key_base_statements`, as the CDK app did."""


# -- shared ---------------------------------------------------------------------------------------------
def tags(lake: LakeTemplate, zone: str | None = None) -> Tags:
    """The lake tag on everything, the zone tag on a zone's bucket, key and queues."""
    values = {LAKE_TAG: lake.config.lake}
    if zone is not None:
        values[ZONE_TAG] = zone
    return Tags(values)


def lifecycle_rules() -> list[s3.LifecycleRule]:
    """Versioning keeps overwritten objects; they and abandoned multipart uploads do not pile up forever."""
    return [
        s3.LifecycleRule(
            Id="expire-noncurrent-versions",
            Status="Enabled",
            NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=NONCURRENT_VERSION_DAYS),
        ),
        s3.LifecycleRule(
            Id="abort-incomplete-multipart-uploads",
            Status="Enabled",
            AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(
                DaysAfterInitiation=INCOMPLETE_UPLOAD_DAYS
            ),
        ),
    ]


def _private() -> dict[str, Any]:
    """Bucket properties every lake bucket shares: versioned, Block Public Access, ACLs disabled."""
    return {
        "VersioningConfiguration": s3.VersioningConfiguration(Status="Enabled"),
        "PublicAccessBlockConfiguration": s3.PublicAccessBlockConfiguration(
            BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
        ),
        "OwnershipControls": s3.OwnershipControls(
            Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
        ),
    }


def readable(name: str) -> str:
    """A templated name for prose (nag reasons): `acme-raw-${AWS::AccountId}-...` -> `acme-raw-<AccountId>-...`.

    cfn-lint flags placeholders outside `Fn::Sub` anywhere, Metadata included."""
    return re.sub(r"\$\{(?:AWS::)?([A-Za-z0-9.]+)\}", r"<\1>", name)


def _arn_ref(logical_id: str) -> str:
    """A resource's ARN as a `Fn::Sub` placeholder (what :func:`cfn` substitutes)."""
    return f"${{{logical_id}.Arn}}"


def _key_policy(statements: list[Any]) -> Any:
    return cfn({"Version": policies.POLICY_VERSION, "Statement": cfn(statements)})


def _add_key(lake: LakeTemplate, logical_id: str, description: str, policy: Any, zone: str | None = None) -> kms.Key:
    """A rotating CMK (yearly), kept on removal, with its policy given whole."""
    return lake.add(
        kms.Key(
            logical_id,
            Description=description,
            EnableKeyRotation=True,
            RotationPeriodInDays=KEY_ROTATION_DAYS,
            PendingWindowInDays=KEY_PENDING_WINDOW_DAYS,
            KeyPolicy=policy,
            Tags=tags(lake, zone),
            DeletionPolicy=RETAIN,
            UpdateReplacePolicy=RETAIN,
        )
    )


def _add_alias(lake: LakeTemplate, logical_id: str, alias: str, key_id: str) -> None:
    lake.add(kms.Alias(logical_id, AliasName=alias, TargetKeyId=GetAtt(key_id, "Arn")))


def add_shared_storage(lake: LakeTemplate) -> None:
    """The ops key (logs, Glue, the Glue assets bucket) and the access-log bucket of the account."""
    _add_ops_key(lake)
    names = lake.names
    logged = [(f"Zone{pascal(bucket.zone)}", bucket.name) for bucket in lake.blueprint.buckets]
    logged += [("GlueAssets", names.glue_assets_bucket), ("AthenaResults", names.athena_results_bucket)]
    add_access_log_bucket(lake, logged)


def _add_ops_key(lake: LakeTemplate) -> None:
    """The key of the lake's operational data: consumer and flow log groups, Glue logs and bookmarks.

    Personas other than the BI analyst use the Glue assets bucket (scripts, temporary files), which
    this key encrypts; their identity policies grant the prefixes, this grant completes them (through
    S3, for that one bucket).
    """
    config, names = lake.config, lake.names
    arns = template_arns(lake)
    glue_users = [p for p in policies.persona_principals(config) if not p.startswith("analyst")]
    statements = [
        *policies.lake_key_base_statements(names, policies.OPS_KEY_SERVICES),
        policies.cloudwatch_logs_key_statement(names),
    ]
    if glue_users:
        statements.append(
            policies.personas_via_s3_statement(
                "PersonasGlueBucketViaS3",
                names,
                [arns.role_arn(p) for p in glue_users],
                policies.s3_arn(names, names.glue_assets_bucket),
            )
        )
    description = f"Encrypts the {config.lake} lake's operational logs and Glue scratch space"
    _add_key(lake, LogicalIds.OPS_KEY, description, _key_policy(statements))
    _add_alias(lake, LogicalIds.OPS_KEY_ALIAS, names.ops_key_alias, LogicalIds.OPS_KEY)


def add_access_log_bucket(lake: LakeTemplate, logged_buckets: list[tuple[str, str]]) -> None:
    """The S3 server-access-log target of one account's lake buckets, and its policy.

    `logged_buckets`: (Sid suffix, bucket name) of every bucket that logs here; each may write
    only under its own `<bucket name>/` prefix. S3 delivers server access logs only to SSE-S3
    buckets, and logging this bucket into itself would loop: both acknowledged on it.
    """
    name = lake.names.access_log_bucket
    shown = readable(name)
    lake.add(
        s3.Bucket(
            LogicalIds.ACCESS_LOG_BUCKET,
            BucketName=cfn(name),
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256")
                    )
                ]
            ),
            LifecycleConfiguration=s3.LifecycleConfiguration(
                Rules=[
                    s3.LifecycleRule(Id="expire-access-logs", Status="Enabled", ExpirationInDays=ACCESS_LOG_DAYS),
                    *lifecycle_rules(),
                ]
            ),
            NotificationConfiguration=eventbridge_notifications(),
            Tags=tags(lake),
            Metadata=nag_metadata(
                *(
                    (
                        rule,
                        f"{shown} receives S3 server access logs, which S3 can only deliver to SSE-S3 buckets "
                        "(not SSE-KMS).",
                    )
                    for rule in ACCESS_LOG_KMS_RULES
                ),
                *(
                    (
                        rule,
                        f"{shown} holds access logs kept {ACCESS_LOG_DAYS} days for investigations; the audit "
                        "trail of record (CloudTrail data events) is already copied to the security account, so no "
                        "second copy is kept.",
                    )
                    for rule in REPLICATION_RULES
                ),
            ),
            DeletionPolicy=RETAIN,
            UpdateReplacePolicy=RETAIN,
            **_private(),
        )
    )
    document = policies.access_log_bucket_policy(
        bucket_arn=_arn_ref(LogicalIds.ACCESS_LOG_BUCKET),
        account=lake.names.account,
        sources=[
            (f"ServerAccessLogsFrom{label}", bucket, policies.s3_arn(lake.names, bucket))
            for label, bucket in logged_buckets
        ],
    )
    lake.add(
        s3.BucketPolicy(
            LogicalIds.ACCESS_LOG_BUCKET_POLICY,
            Bucket=Ref(LogicalIds.ACCESS_LOG_BUCKET),
            PolicyDocument=tls_resources_by_reference(cfn(document), LogicalIds.ACCESS_LOG_BUCKET),
        )
    )


# -- zones -----------------------------------------------------------------------------------------------
def add_zones(lake: LakeTemplate) -> None:
    """Each zone of the blueprint: key, queues (and their policies), bucket (and its policy), outputs."""
    blueprint = lake.blueprint
    for bucket in blueprint.buckets:
        _add_zone_key(lake, bucket)
        queues = [q for q in blueprint.queues if q.zone == bucket.zone]
        queue_policies = [_add_zone_queue(lake, bucket, queue) for queue in queues]
        notifications = [n for n in blueprint.notifications if n.zone == bucket.zone]
        _add_zone_bucket(lake, bucket, notifications, queue_policies)
        _add_zone_bucket_policy(lake, bucket)
        lake.template.add_output(
            Output(
                outputs.bucket(bucket.zone),
                Value=Ref(LogicalIds.zone(bucket.zone, "Bucket")),
                Description=f"Zone {bucket.zone}",
            )
        )
        for queue in queues:
            lake.template.add_output(
                Output(
                    outputs.queue_url(queue.name),
                    Value=Ref(LogicalIds.route(queue.zone, queue.dataset, "Queue")),
                    Description=queue.name,
                )
            )


def zone_key_statements(lake: LakeTemplate, zone: str) -> list[Any]:
    """The zone key's policy: the lake key base (administration; use via S3 and SQS), then the access
    statements of :func:`policies.zone_key_policy` (readers, writers, the consumer, S3 publishing
    into the encrypted queue, the Denies), without its local-lake `kms:*` root delegation."""
    document = cfn(policies.zone_key_policy(lake.config, lake.names, template_arns(lake), zone))
    access = [s for s in document["Statement"] if s.get("Sid") != ROOT_DELEGATION_SID]
    return [*cfn(policies.lake_key_base_statements(lake.names, policies.ZONE_KEY_SERVICES)), *access]


def _add_zone_key(lake: LakeTemplate, bucket: BucketBlueprint) -> None:
    zone = bucket.zone
    key_id = LogicalIds.zone(zone, "Key")
    description = f"Encrypts the {lake.config.lake} lake's {zone} zone: its bucket and its queues"
    _add_key(lake, key_id, description, _key_policy(zone_key_statements(lake, zone)), zone=zone)
    _add_alias(lake, LogicalIds.zone(zone, "KeyAlias"), bucket.key_alias, key_id)


def _bucket_arn(lake: LakeTemplate, zone: str) -> str:
    """Computed, not referenced: see the module doc."""
    return f"arn:{lake.names.partition}:s3:::{lake.names.bucket(zone)}"


def _add_zone_queue(lake: LakeTemplate, bucket: BucketBlueprint, queue: QueueBlueprint) -> str:
    """The queue, encrypted with the zone key, redriven to the shared DLQ; returns its policy's id."""
    queue_id = LogicalIds.route(queue.zone, queue.dataset, "Queue")
    policy_id = LogicalIds.route(queue.zone, queue.dataset, "QueuePolicy")
    lake.add(
        sqs.Queue(
            queue_id,
            QueueName=cfn(queue.name),
            KmsMasterKeyId=GetAtt(LogicalIds.zone(bucket.zone, "Key"), "Arn"),
            KmsDataKeyReusePeriodSeconds=QUEUE_DATA_KEY_REUSE_SECONDS,
            VisibilityTimeout=queue.visibility_timeout_seconds,
            RedrivePolicy=sqs.RedrivePolicy(
                deadLetterTargetArn=GetAtt(LogicalIds.DLQ, "Arn"), maxReceiveCount=queue.max_receive_count
            ),
            Tags=tags(lake, bucket.zone),
            DeletionPolicy=RETAIN,
            UpdateReplacePolicy=RETAIN,
        )
    )
    document = policies.zone_queue_policy(lake.names, _arn_ref(queue_id), _bucket_arn(lake, bucket.zone))
    lake.add(sqs.QueuePolicy(policy_id, Queues=[Ref(queue_id)], PolicyDocument=cfn(document)))
    return policy_id


def _notification_configuration(
    lake: LakeTemplate, notifications: list[NotificationBlueprint]
) -> s3.NotificationConfiguration:
    """One queue configuration per notification and event (ARN from naming); an empty prefix: no filter.

    The blueprint gives each zone one unfiltered notification into its shared queue (S3 rejects
    overlapping prefix filters, so a catch-all cannot sit beside per-dataset ones).
    """
    return s3.NotificationConfiguration(
        QueueConfigurations=[
            s3.QueueConfigurations(
                Event=event,
                Queue=cfn(lake.names.queue_arn(note.queue_name)),
                **(
                    {"Filter": s3.Filter(S3Key=s3.S3Key(Rules=[s3.Rules(Name="prefix", Value=note.prefix)]))}
                    if note.prefix
                    else {}
                ),
            )
            for note in notifications
            for event in note.events
        ]
    )


def _add_zone_bucket(
    lake: LakeTemplate, bucket: BucketBlueprint, notifications: list[NotificationBlueprint], queue_policies: list[str]
) -> None:
    """SSE-KMS with the zone key and S3 Bucket Keys, private, logged, notifying the zone's queues."""
    extra: dict[str, Any] = {}
    if notifications:
        extra["NotificationConfiguration"] = _notification_configuration(lake, notifications)
    if queue_policies:
        extra["DependsOn"] = queue_policies
    replication_reason = (
        f"{readable(bucket.name)} is the {bucket.zone} zone of a single-region lake: versioning keeps every "
        "overwritten object and the zone can be rebuilt from the zone before it; cross-region "
        "replication is a per-deployment choice (cost, data residency), not a default."
    )
    lake.add(
        s3.Bucket(
            LogicalIds.zone(bucket.zone, "Bucket"),
            BucketName=cfn(bucket.name),
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        BucketKeyEnabled=bucket.bucket_key_enabled,
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                            SSEAlgorithm=bucket.sse_algorithm,
                            KMSMasterKeyID=GetAtt(LogicalIds.zone(bucket.zone, "Key"), "Arn"),
                        ),
                    )
                ]
            ),
            LoggingConfiguration=s3.LoggingConfiguration(
                DestinationBucketName=Ref(LogicalIds.ACCESS_LOG_BUCKET), LogFilePrefix=cfn(f"{bucket.name}/")
            ),
            LifecycleConfiguration=s3.LifecycleConfiguration(Rules=lifecycle_rules()),
            Tags=tags(lake, bucket.zone),
            Metadata=nag_metadata(*((rule, replication_reason) for rule in REPLICATION_RULES)),
            DeletionPolicy=RETAIN,
            UpdateReplacePolicy=RETAIN,
            **_private(),
            **extra,
        )
    )


def zone_bucket_document(lake: LakeTemplate, zone: str) -> dict[str, Any]:
    """The zone bucket's policy from :func:`policies.zone_bucket_policy`, naming the bucket by reference.

    Its own policy may reference the bucket (it is created after it anyway), which lets the
    checkers see that the TLS statement covers that very bucket. TLS-only is added should the
    access policies ever stop carrying it.
    """
    bucket_ref = _arn_ref(LogicalIds.zone(zone, "Bucket"))
    arns = replace(template_arns(lake), bucket_arn=lambda _zone: bucket_ref)
    document = cfn(policies.zone_bucket_policy(lake.config, lake.names, arns, zone))
    if not any(s.get("Sid") == TLS_SID for s in document["Statement"]):
        tls = policies.deny_insecure_transport_any_aws(policies.bucket_and_objects(bucket_ref))
        document["Statement"] = [cfn(tls), *document["Statement"]]
    return tls_resources_by_reference(document, LogicalIds.zone(zone, "Bucket"))


def _add_zone_bucket_policy(lake: LakeTemplate, bucket: BucketBlueprint) -> None:
    lake.add(
        s3.BucketPolicy(
            LogicalIds.zone(bucket.zone, "BucketPolicy"),
            Bucket=Ref(LogicalIds.zone(bucket.zone, "Bucket")),
            PolicyDocument=zone_bucket_document(lake, bucket.zone),
        )
    )

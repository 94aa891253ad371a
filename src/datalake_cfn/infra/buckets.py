"""The lake's S3 buckets: one hardened recipe, and the access-log bucket they all log to.

Every bucket is SSE-KMS with its own CMK and S3 Bucket Keys, versioned, private (Block Public
Access, ACLs disabled), logged to the access-log bucket, kept on stack deletion, and expires
noncurrent versions and incomplete multipart uploads. TLS-only and key-pinning statements are
added by the caller (zone buckets take theirs from the access policies).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from datalake_cfn.infra.nag import acknowledge

NONCURRENT_VERSION_DAYS = 90
INCOMPLETE_UPLOAD_DAYS = 7
ACCESS_LOG_DAYS = 400

REPLICATION_RULES = (
    "NIST.800.53.R5-S3BucketReplicationEnabled",
    "HIPAA.Security-S3BucketReplicationEnabled",
    "PCI.DSS.321-S3BucketReplicationEnabled",
)


def lifecycle_rules() -> list[s3.LifecycleRule]:
    return [
        s3.LifecycleRule(
            id="expire-noncurrent-versions",
            noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
        ),
        s3.LifecycleRule(
            id="abort-incomplete-multipart-uploads",
            abort_incomplete_multipart_upload_after=Duration.days(INCOMPLETE_UPLOAD_DAYS),
        ),
    ]


def secure_bucket(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    key: kms.IKey,
    access_logs: s3.IBucket,
    replication_reason: str,
    object_lock: s3.ObjectLockRetention | None = None,
    bucket_key: bool = True,
    lifecycle: list[s3.LifecycleRule] | None = None,
) -> s3.Bucket:
    """A private, versioned SSE-KMS bucket with access logs (see module doc)."""
    bucket = s3.Bucket(
        scope,
        construct_id,
        bucket_name=name,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=bucket_key,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=f"{name}/",
        lifecycle_rules=lifecycle_rules() if lifecycle is None else lifecycle,
        removal_policy=RemovalPolicy.RETAIN,
        object_lock_enabled=True if object_lock else None,
        object_lock_default_retention=object_lock,
    )
    acknowledge(bucket, REPLICATION_RULES, replication_reason)
    return bucket


def deny_insecure_transport(bucket: s3.IBucket) -> None:
    """TLS only, for buckets whose policy is not written by the access policies."""
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyInsecureTransport",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:*"],
            resources=[bucket.bucket_arn, bucket.arn_for_objects("*")],
            conditions={"Bool": {"aws:SecureTransport": "false"}},
        )
    )


def pin_bucket_key(bucket: s3.IBucket, key: kms.IKey) -> None:
    """Uploads may omit SSE headers (the bucket default applies `key`) but may not name anything else."""
    objects = bucket.arn_for_objects("*")
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyUploadsUnderOtherKeys",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:PutObject"],
            resources=[objects],
            conditions={
                "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key.key_arn},
                "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
            },
        )
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyUploadsWithoutKms",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:PutObject"],
            resources=[objects],
            conditions={
                "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                "Null": {"s3:x-amz-server-side-encryption": "false"},
            },
        )
    )


def access_log_bucket(scope: Construct, construct_id: str, *, name: str) -> s3.Bucket:
    """The target of S3 server access logging for every bucket of one account.

    S3 server access logging can only deliver to a bucket encrypted with SSE-S3 (not SSE-KMS),
    and logging a log bucket into itself would loop: both are acknowledged here, on this bucket.
    """
    bucket = s3.Bucket(
        scope,
        construct_id,
        bucket_name=name,
        encryption=s3.BucketEncryption.S3_MANAGED,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        lifecycle_rules=[
            s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(ACCESS_LOG_DAYS)),
            *lifecycle_rules(),
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )
    acknowledge(
        bucket,
        [
            "AwsSolutions-S1",
            "NIST.800.53.R5-S3BucketLoggingEnabled",
            "HIPAA.Security-S3BucketLoggingEnabled",
            "PCI.DSS.321-S3BucketLoggingEnabled",
        ],
        f"{name} is the server-access-log target of the account's lake buckets; logging it into itself would loop.",
    )
    acknowledge(
        bucket,
        [
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            "HIPAA.Security-S3DefaultEncryptionKMS",
            "PCI.DSS.321-S3DefaultEncryptionKMS",
        ],
        f"{name} receives S3 server access logs, which S3 can only deliver to SSE-S3 buckets (not SSE-KMS).",
    )
    acknowledge(
        bucket,
        REPLICATION_RULES,
        f"{name} holds access logs kept {ACCESS_LOG_DAYS} days for investigations; the audit trail of record "
        "(CloudTrail data events) is already copied to the security account, so no second copy is kept.",
    )
    return bucket

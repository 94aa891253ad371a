"""Creates in the emulator what the prod stack declares for each zone, from the same blueprint.

Per zone: its own KMS key (rotation on) and alias, its bucket (SSE-KMS with that key and
Bucket Keys, versioning, public access block, a bucket policy denying non-TLS access), its
queue(s) (encrypted, visibility timeout, redrive to the one shared DLQ) and the bucket
notification (every key into the zone's shared queue). Idempotent: provisioning a lake that already
exists (a restart with the same data directory) changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from datalake_cfn.access import policies
from datalake_cfn.blueprint import BucketBlueprint, LakeBlueprint, lake_blueprint
from datalake_cfn.config import LakeConfig
from datalake_cfn.local.emulator import local_client
from datalake_cfn.naming import LakeNames


@dataclass
class ProvisionedLake:
    """What the provisioner made: the ids and URLs the workers and tools need."""

    key_arns: dict[str, str] = field(default_factory=dict)  # alias -> key ARN
    queue_urls: dict[str, str] = field(default_factory=dict)  # queue name -> URL
    dlq_url: str = ""


def bucket_policy(names: LakeNames, bucket: BucketBlueprint) -> dict[str, Any]:
    """The bucket policy the local lake stores: the TLS guard of the zone bucket policies.

    It is the `to_dict()` of the same awacs statement the templates carry. moto stores bucket
    policies without enforcing them; the whole zone policy (persona, clearance and classification
    Denies) is enforced by the project's evaluator (:mod:`datalake_cfn.access.enforce`).
    """
    arn = policies.s3_arn(names, bucket.name)
    return policies.policy([policies.deny_insecure_transport([arn, policies.objects(arn)])]).to_dict()


class Provisioner:
    def __init__(self, config: LakeConfig, names: LakeNames, endpoint: str):
        self.config = config
        self.names = names
        self.blueprint: LakeBlueprint = lake_blueprint(config, names)
        self.s3 = local_client("s3", endpoint, names.region)
        self.sqs = local_client("sqs", endpoint, names.region)
        self.kms = local_client("kms", endpoint, names.region)

    def provision(self) -> ProvisionedLake:
        lake = ProvisionedLake()
        aliases = {b.key_alias for b in self.blueprint.buckets} | {self.blueprint.dead_letter.key_alias}
        for alias in sorted(aliases):
            lake.key_arns[alias] = self._key(alias)
        dead = self.blueprint.dead_letter
        lake.dlq_url = self._queue(
            dead.name,
            {"KmsMasterKeyId": lake.key_arns[dead.key_alias], "MessageRetentionPeriod": str(dead.retention_seconds)},
        )
        dlq_arn = self.names.queue_arn(dead.name)
        for queue in self.blueprint.queues:
            lake.queue_urls[queue.name] = self._queue(
                queue.name,
                {
                    "KmsMasterKeyId": lake.key_arns[queue.key_alias],
                    "VisibilityTimeout": str(queue.visibility_timeout_seconds),
                    "RedrivePolicy": json.dumps(
                        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
                    ),
                },
            )
        for bucket in self.blueprint.buckets:
            self._bucket(bucket, lake.key_arns[bucket.key_alias])
        return lake

    # -- resources -------------------------------------------------------------------------
    def _key(self, alias: str) -> str:
        existing = {a["AliasName"]: a.get("TargetKeyId") for a in self.kms.list_aliases()["Aliases"]}
        if existing.get(alias):
            return self.kms.describe_key(KeyId=existing[alias])["KeyMetadata"]["Arn"]
        key = self.kms.create_key(
            Description=f"datalake {self.names.lake}: {alias}",
            Tags=[{"TagKey": "datalake:lake", "TagValue": self.names.lake}],
        )["KeyMetadata"]
        self.kms.enable_key_rotation(KeyId=key["KeyId"])
        self.kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
        return key["Arn"]

    def _queue(self, name: str, attributes: dict[str, str]) -> str:
        return self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]

    def _bucket(self, bucket: BucketBlueprint, key_arn: str) -> None:
        s3 = self.s3
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if bucket.name not in existing:
            args: dict[str, Any] = {"Bucket": bucket.name}
            if self.names.region != "us-east-1":
                args["CreateBucketConfiguration"] = {"LocationConstraint": self.names.region}
            s3.create_bucket(**args)
        s3.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"})
        s3.put_public_access_block(
            Bucket=bucket.name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=bucket.name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": bucket.sse_algorithm,
                            "KMSMasterKeyID": key_arn,
                        },
                        "BucketKeyEnabled": bucket.bucket_key_enabled,
                    }
                ]
            },
        )
        s3.put_bucket_policy(Bucket=bucket.name, Policy=json.dumps(bucket_policy(self.names, bucket)))
        notifications = [n for n in self.blueprint.notifications if n.zone == bucket.zone]
        s3.put_bucket_notification_configuration(
            Bucket=bucket.name,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "Id": n.id,
                        "QueueArn": self.names.queue_arn(n.queue_name),
                        "Events": list(n.events),
                        **(
                            {"Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": n.prefix}]}}}
                            if n.prefix
                            else {}
                        ),
                    }
                    for n in notifications
                ]
            },
        )


def provision(config: LakeConfig, names: LakeNames, endpoint: str) -> ProvisionedLake:
    return Provisioner(config, names, endpoint).provision()

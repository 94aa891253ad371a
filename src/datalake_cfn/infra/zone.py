"""One zone of the lake: its CMK, its bucket, its queue(s) and the S3 -> SQS notifications.

Everything here follows :func:`datalake_cfn.blueprint.lake_blueprint`, the same settings the local
lake provisions. The S3 notifications are declared natively in the bucket's
`NotificationConfiguration` (no custom-resource Lambda). S3 validates a notification target when
the configuration is written, so the queue and its policy must exist first; the policy, in turn,
must name the bucket. The cycle is broken with deterministic names: the queue policy, the key
policy and the notification all use the bucket's and queue's ARNs computed from naming, not
CloudFormation references, and the bucket explicitly depends on the queue policies.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from datalake_cfn.blueprint import BucketBlueprint, NotificationBlueprint, QueueBlueprint
from datalake_cfn.infra.buckets import secure_bucket
from datalake_cfn.infra.deployment import Deployment
from datalake_cfn.infra.keys import lake_key


def construct_id(name: str) -> str:
    """A stable construct id from a lake name part (zone or dataset): `sales_eu` -> `SalesEu`."""
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def queue_construct_id(queue: QueueBlueprint) -> str:
    return "Queue" if queue.dataset is None else f"Queue{construct_id(queue.dataset)}"


class ZoneResources(Construct):
    """Key, bucket and queues of one zone."""

    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        deployment: Deployment,
        bucket: BucketBlueprint,
        queues: list[QueueBlueprint],
        notifications: list[NotificationBlueprint],
        dead_letter_queue: sqs.IQueue,
        access_logs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id_)
        self.zone = bucket.zone
        self.bucket_name = bucket.name
        self.bucket_arn_string = deployment.bucket_arn(bucket.zone)
        self.key = lake_key(
            self,
            "Key",
            alias=bucket.key_alias,
            description=f"Encrypts the {deployment.config.lake} lake's {bucket.zone} zone: its bucket and its queues",
            via_services=["s3", "sqs"],
        )
        # The rest of the key policy (who may use it, and S3 publishing into the encrypted queue,
        # without which notifications silently never arrive) is wired by the prod stack from
        # datalake_cfn.access.policies once every role exists.

        self.queues: dict[str, sqs.Queue] = {}
        queue_policies = []
        for queue in queues:
            created = sqs.Queue(
                self,
                queue_construct_id(queue),
                queue_name=queue.name,
                encryption=sqs.QueueEncryption.KMS,
                encryption_master_key=self.key,
                data_key_reuse=Duration.hours(1),
                visibility_timeout=Duration.seconds(queue.visibility_timeout_seconds),
                dead_letter_queue=sqs.DeadLetterQueue(
                    queue=dead_letter_queue, max_receive_count=queue.max_receive_count
                ),
                enforce_ssl=True,
                removal_policy=RemovalPolicy.RETAIN,
            )
            created.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="S3PublishesZoneEvents",
                    principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                    actions=["sqs:SendMessage"],
                    resources=[created.queue_arn],
                    conditions={
                        "ArnEquals": {"aws:SourceArn": self.bucket_arn_string},
                        "StringEquals": {"aws:SourceAccount": deployment.prod_account},
                    },
                )
            )
            queue_policies.append(created.node.find_child("Policy").node.default_child)
            self.queues[queue.name] = created

        self.bucket = secure_bucket(
            self,
            "Bucket",
            name=bucket.name,
            key=self.key,
            access_logs=access_logs,
            replication_reason=(
                f"{bucket.name} is the {bucket.zone} zone of a single-region lake: versioning keeps every "
                "overwritten object and the zone can be rebuilt from the zone before it; cross-region "
                "replication is a per-deployment choice (cost, data residency), not a default."
            ),
        )
        cfn_bucket: s3.CfnBucket = self.bucket.node.default_child  # type: ignore[assignment]
        if notifications:
            cfn_bucket.add_property_override(
                "NotificationConfiguration.QueueConfigurations",
                [
                    {
                        "Event": event,
                        "Queue": deployment.queue_arn(note.queue_name),
                        "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": note.prefix}]}},
                    }
                    for note in notifications
                    for event in note.events
                ],
            )
        for policy in queue_policies:
            cfn_bucket.node.add_dependency(policy)

    @property
    def key_arn(self) -> str:
        return self.key.key_arn

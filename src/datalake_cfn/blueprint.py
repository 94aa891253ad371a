"""The settings every zone's resources must have, derived once from LakeConfig.

The template modules declare these settings and the local provisioner creates them; a test
reads both back (the rendered template and the emulator's state) and compares each to
this blueprint, so "the local lake is the prod lake in miniature" is checked, not hoped.
"""

from __future__ import annotations

from dataclasses import dataclass

from datalake_cfn.config import LakeConfig
from datalake_cfn.naming import LakeNames
from datalake_cfn.routing import QueueRoute, queue_routes

S3_EVENTS = ("s3:ObjectCreated:*",)


@dataclass(frozen=True)
class BucketBlueprint:
    zone: str
    name: str
    key_alias: str
    sse_algorithm: str = "aws:kms"
    bucket_key_enabled: bool = True
    versioning: bool = True
    block_public_access: bool = True
    deny_insecure_transport: bool = True


@dataclass(frozen=True)
class NotificationBlueprint:
    """One S3 -> SQS notification: every key of a zone into the zone's shared queue (prefix "": no filter).

    One per zone, never per dataset: S3 rejects overlapping prefix filters for one event type, so
    a catch-all (objects outside every declared dataset must be picked up too) cannot sit beside
    per-dataset ones. The shared queue's consumer forwards own-queue datasets to their queues
    (:func:`datalake_cfn.routing.forwarded_prefixes`).
    """

    zone: str
    id: str
    prefix: str
    queue_name: str
    events: tuple[str, ...] = S3_EVENTS


@dataclass(frozen=True)
class QueueBlueprint:
    zone: str
    name: str
    key_alias: str
    visibility_timeout_seconds: int
    max_receive_count: int
    dead_letter_queue: str
    has_consumer: bool
    dataset: str | None


@dataclass(frozen=True)
class DeadLetterBlueprint:
    name: str
    key_alias: str
    retention_seconds: int = 14 * 24 * 3600


@dataclass(frozen=True)
class LakeBlueprint:
    buckets: tuple[BucketBlueprint, ...]
    queues: tuple[QueueBlueprint, ...]
    notifications: tuple[NotificationBlueprint, ...]
    dead_letter: DeadLetterBlueprint
    routes: tuple[QueueRoute, ...]

    def bucket(self, zone: str) -> BucketBlueprint:
        return next(b for b in self.buckets if b.zone == zone)


def lake_blueprint(config: LakeConfig, names: LakeNames) -> LakeBlueprint:
    routes = tuple(queue_routes(config, names))
    dead_letter = DeadLetterBlueprint(name=names.dlq, key_alias=names.dlq_key_alias)
    buckets = tuple(
        BucketBlueprint(zone=z.name, name=names.bucket(z.name), key_alias=names.key_alias(z.name)) for z in config.zones
    )
    queues = tuple(
        QueueBlueprint(
            zone=r.zone.name,
            name=r.queue_name,
            key_alias=names.key_alias(r.zone.name),
            visibility_timeout_seconds=config.pipeline.visibility_timeout_seconds,
            max_receive_count=config.pipeline.max_receive_count,
            dead_letter_queue=names.dlq,
            has_consumer=r.has_consumer,
            dataset=r.dataset,
        )
        for r in routes
    )
    notifications = tuple(
        NotificationBlueprint(
            zone=r.zone.name, id=names.notification_id(r.zone.name, "all"), prefix="", queue_name=r.queue_name
        )
        for r in routes
        if r.dataset is None
    )
    return LakeBlueprint(buckets, queues, notifications, dead_letter, routes)

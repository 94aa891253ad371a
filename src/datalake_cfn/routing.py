"""LakeConfig -> the consumers of a lake and their runtime specs.

Both the templates and the local lake need the same answer to "which queues exist, which
consumer reads each one, and where does it write": it is computed here once.
"""

from __future__ import annotations

from dataclasses import dataclass

from zone_consumer.spec import ConsumerSpec, DatasetRoute

from datalake_cfn.config import Dataset, LakeConfig, Zone
from datalake_cfn.naming import LakeNames


@dataclass(frozen=True)
class QueueRoute:
    """One SQS queue of a zone and the datasets whose S3 events it receives."""

    zone: Zone
    queue_name: str
    datasets: tuple[Dataset, ...]
    dataset: str | None  # set for an own_queue dataset's dedicated queue

    @property
    def has_consumer(self) -> bool:
        return self.zone.next is not None


def queue_routes(config: LakeConfig, names: LakeNames) -> list[QueueRoute]:
    """Every queue of the lake: one per zone, plus, in each zone with a consumer, one per own_queue dataset.

    A dataset's own queue is fed by the zone's consumer, which forwards the dataset's events
    to it; a zone without a consumer (the last of a chain, sandbox) has nobody to do that, so
    such a queue would only ever stand empty."""
    routes = []
    shared = tuple(d for d in config.datasets if not d.own_queue)
    for zone in config.zones:
        routes.append(QueueRoute(zone, names.queue(zone.name), shared, None))
        for dataset in config.datasets:
            if dataset.own_queue and zone.next is not None:
                routes.append(QueueRoute(zone, names.queue(zone.name, dataset.name), (dataset,), dataset.name))
    return routes


def consumer_spec(
    config: LakeConfig,
    names: LakeNames,
    route: QueueRoute,
    *,
    dlq_url: str | None,
    target_kms_key_id: str | None = None,
) -> ConsumerSpec:
    """The runtime spec of the consumer of `route` (which must have a next zone)."""
    zone = route.zone
    if zone.next is None:
        raise ValueError(f"zone {zone.name!r} has no next zone, so no consumer")
    target = config.zone(zone.next)
    first_hop_target = config.first_zone.next
    return ConsumerSpec(
        lake=config.lake,
        source_zone=zone.name,
        target_zone=target.name,
        target_bucket=names.bucket(target.name),
        target_format=target.format,
        clean=zone.name == config.first_zone.name,
        datasets=tuple(
            DatasetRoute(
                name=d.name,
                prefix=d.key_prefix,
                classification=d.classification,
                user_transform=d.transform_for(target.name, first_hop_target or ""),
            )
            for d in route.datasets
        ),
        dlq_url=dlq_url,
        max_receive_count=config.pipeline.max_receive_count,
        target_kms_key_id=target_kms_key_id,
        strict=config.strict,
        undeclared_classification=config.undeclared_classification,
        default_dataset=config.default_dataset,
        declared=tuple(d.name for d in config.datasets),
        forward=forwarded_prefixes(config, names, route),
    )


def forwarded_prefixes(config: LakeConfig, names: LakeNames, route: QueueRoute) -> dict[str, str]:
    """Own-queue dataset prefix -> queue name, for the consumer of a zone's shared queue.

    S3 refuses a notification configuration whose prefix filters overlap for one event type, so a
    catch-all cannot sit beside per-dataset notifications. Each zone therefore notifies its shared
    queue of every key (no filter), and that queue's consumer forwards the events of own-queue
    datasets, unchanged, to their queue (whose own consumer processes them).
    """
    if route.dataset is not None:
        return {}
    return {d.key_prefix: names.queue(route.zone.name, d.name) for d in config.datasets if d.own_queue}

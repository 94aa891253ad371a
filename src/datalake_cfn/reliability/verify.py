"""Reconcile each zone with the next: every object that entered a zone is accounted for.

The lake's promise is that an object landing in a chained zone reaches the next zone
exactly once, or waits in the dead-letter queue with a reason. This module checks that
promise from the outside, with nothing but S3 and SQS reads, so it works the same against
the local lake and against AWS:

- outputs are found through the lineage metadata the pipeline writes on every object
  (``x-amz-meta-datalake-source-bucket/-key/-etag``), never by recomputing output keys, so
  the check does not trust the code it is checking;
- an output counts only if it was made from the source's *current* bytes (same ETag); an
  output of an older version is "stale";
- dead letters count when their S3 event names the object (and, when the event carries
  one, the same ETag);
- two outputs naming the same source are a "duplicate": exactly-once was broken;
- a source without output whose expected output key holds another source's output is a
  "collision", named with both sources (the one place the output-key rule is consulted: to
  explain a loss, never to count an output).

Reading the DLQ means receiving its messages; they are made visible again straight away
so `datalake dlq list` and redrive see them as before.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from zone_consumer.events import MalformedEvent, objects_in_body
from zone_consumer.pipeline import output_key

from datalake_cfn.config import LakeConfig
from datalake_cfn.naming import LakeNames
from datalake_cfn.reliability.peek import peek_queue
from datalake_cfn.routing import queue_routes
from datalake_cfn.undeclared import UndeclaredDataset, undeclared_in

META = "datalake-"
HEAD_THREADS = 8


@dataclass(frozen=True)
class Lineage:
    """What an output object says about where it came from."""

    target_key: str
    source_bucket: str
    source_key: str
    source_etag: str


@dataclass(frozen=True)
class Problem:
    """One object that is not accounted for, and why."""

    zone: str
    key: str
    kind: str  # missing | stale | duplicate | collision | in flight (not yet processed, messages pending)
    detail: str


@dataclass
class HopReport:
    """The reconciliation of one source zone with its next zone."""

    source_zone: str
    target_zone: str
    objects: int = 0
    with_output: int = 0
    dead_lettered: int = 0
    resolved: int = 0  # with output made from the current bytes, and a DLQ entry from an earlier failure
    ignored: int = 0  # folder markers (keys ending in "/"): not data
    undeclared: list[UndeclaredDataset] = field(default_factory=list)  # reconciled too, named to be declared
    queued: int = 0  # messages still waiting or in flight in the source zone's queues
    orphans: list[str] = field(default_factory=list)  # outputs whose source no longer exists
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class VerifyReport:
    hops: list[HopReport]
    dead_letters: int

    @property
    def problems(self) -> list[Problem]:
        return [problem for hop in self.hops for problem in hop.problems]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def resolved(self) -> int:
        """DLQ entries whose object has been processed since (they no longer account for anything)."""
        return sum(hop.resolved for hop in self.hops)


@dataclass(frozen=True)
class LakeAccess:
    """The clients and names verify reads a lake through; `queue_url` resolves a queue name."""

    s3: Any
    sqs: Any
    names: LakeNames
    queue_url: Callable[[str], str]
    poll_seconds: int = 0  # AWS short polls may miss messages; there verify long-polls the DLQ
    visibility_seconds: int = 60  # how long a received message stays in flight before SQS delivers it again

    @classmethod
    def local(cls, config: LakeConfig, endpoint: str) -> LakeAccess:
        """A lake run by `datalake up` (or a test) behind `endpoint`."""
        from datalake_cfn.local.emulator import local_client
        from datalake_cfn.local.workers import WorkerSettings

        names = LakeNames.for_config(config)
        return cls(
            s3=local_client("s3", endpoint, names.region),
            sqs=local_client("sqs", endpoint, names.region),
            names=names,
            queue_url=lambda name: names.queue_url(name, endpoint),
            visibility_seconds=WorkerSettings().visibility_timeout_seconds,  # what local workers receive with
        )

    @classmethod
    def aws(cls, config: LakeConfig, profile: str | None = None, region: str | None = None) -> LakeAccess:
        """The deployed lake, with the default credential chain (or a named profile)."""
        import boto3

        session = boto3.session.Session(profile_name=profile, region_name=region or config.region)
        account = config.accounts.prod or session.client("sts").get_caller_identity()["Account"]
        names = LakeNames.for_config(config, account=account, region=session.region_name)
        sqs = session.client("sqs")
        return cls(
            s3=session.client("s3"),
            sqs=sqs,
            names=names,
            queue_url=lambda name: sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=names.account)["QueueUrl"],
            poll_seconds=1,
            visibility_seconds=config.pipeline.visibility_timeout_seconds,
        )


def verify_lake(config: LakeConfig, access: LakeAccess, zones: Iterable[str] | None = None) -> VerifyReport:
    """Reconcile every chained zone (or only `zones`) with its next zone."""
    wanted = set(zones) if zones is not None else None
    dead = dead_lettered_objects(access)
    hops = []
    for zone in config.chain():
        if zone.next is None or (wanted is not None and zone.name not in wanted):
            continue
        hops.append(reconcile_hop(config, access, zone.name, zone.next, dead))
    return VerifyReport(hops=hops, dead_letters=sum(len(etags) for etags in dead.values()))


def reconcile_hop(
    config: LakeConfig, access: LakeAccess, source_zone: str, target_zone: str, dead: dict[tuple[str, str], set[str]]
) -> HopReport:
    names = access.names
    source_bucket = names.bucket(source_zone)
    report = HopReport(source_zone, target_zone, queued=queued_messages(config, access, source_zone))
    visible_by = (datetime.now(UTC) + timedelta(seconds=access.visibility_seconds)).isoformat(timespec="seconds")
    outputs: dict[str, list[Lineage]] = defaultdict(list)
    by_target: dict[str, Lineage] = {}
    for lineage in output_lineage(access.s3, names.bucket(target_zone)):
        by_target[lineage.target_key] = lineage
        if lineage.source_bucket == source_bucket:
            outputs[lineage.source_key].append(lineage)
    target_format = config.zone(target_zone).format
    sources = {obj["Key"]: obj["ETag"].strip('"') for obj in list_objects(access.s3, source_bucket)}
    report.undeclared = undeclared_in(config, source_zone, list(sources))
    for key, etag in sorted(sources.items()):
        if key.endswith("/"):
            report.ignored += 1
            continue
        report.objects += 1
        made = outputs.get(key, [])
        current = [lineage for lineage in made if lineage.source_etag == etag]
        if len(current) > 1:
            targets = ", ".join(sorted(lineage.target_key for lineage in current))
            report.problems.append(
                Problem(source_zone, key, "duplicate", f"{len(current)} outputs in {target_zone}: {targets}")
            )
        elif current:
            report.with_output += 1
            if (source_bucket, key) in dead:  # failed once, processed since: the DLQ entry is resolved
                report.resolved += 1
        elif _dead_lettered(dead, source_bucket, key, etag):
            report.dead_lettered += 1
        elif (collision := _collision(by_target, key, target_format, target_zone)) is not None:
            report.problems.append(Problem(source_zone, key, "collision", collision))
        else:
            report.problems.append(
                Problem(source_zone, key, *_why_missing(made, target_zone, report.queued, visible_by))
            )
    report.orphans = sorted(
        lineage.target_key for key, made in outputs.items() if key not in sources for lineage in made
    )
    return report


def _collision(by_target: dict[str, Lineage], key: str, target_format: str, target_zone: str) -> str | None:
    """Another source's output sits where this one's belongs: one overwrote the other."""
    expected = output_key(key, target_format)
    other = by_target.get(expected)
    if other is None or other.source_key == key:
        return None
    return (
        f"its output {expected} in {target_zone} holds {other.source_key} instead: "
        "two sources map to one output key, one overwrote the other"
    )


def _dead_lettered(dead: dict[tuple[str, str], set[str]], bucket: str, key: str, etag: str) -> bool:
    etags = dead.get((bucket, key))
    return etags is not None and (etag in etags or "" in etags)


def _why_missing(made: list[Lineage], target_zone: str, queued: int, visible_by: str = "") -> tuple[str, str]:
    still = f"; {queued} message(s) still queued or in flight in this zone" if queued else ""
    if made:
        older = ", ".join(sorted({lineage.target_key for lineage in made}))
        return "stale", f"the output in {target_zone} ({older}) was made from an older version{still}"
    if queued:  # SQS does not say which objects its in-flight messages name: not "missing" while any are
        by = f" (visible again by {visible_by} at the latest)" if visible_by else ""
        return (
            "in flight",
            f"no output in {target_zone} yet{still}: in flight, will be retried when its visibility timeout "
            f"ends{by}; run verify again then",
        )
    return "missing", f"no output in {target_zone} names it and no DLQ message does"


# -- reads ------------------------------------------------------------------------------------
def list_objects(s3: Any, bucket: str) -> list[dict[str, Any]]:
    paginator = s3.get_paginator("list_objects_v2")
    return [obj for page in paginator.paginate(Bucket=bucket) for obj in page.get("Contents", [])]


def output_lineage(s3: Any, bucket: str) -> list[Lineage]:
    """The lineage metadata of every object of `bucket` (objects without it are not outputs)."""
    keys = [obj["Key"] for obj in list_objects(s3, bucket)]

    def head(key: str) -> Lineage | None:
        meta = s3.head_object(Bucket=bucket, Key=key).get("Metadata", {})
        if f"{META}source-key" not in meta:
            return None
        return Lineage(
            target_key=key,
            source_bucket=meta.get(f"{META}source-bucket", ""),
            source_key=unquote(meta[f"{META}source-key"]),
            source_etag=meta.get(f"{META}source-etag", "").strip('"'),
        )

    with ThreadPoolExecutor(HEAD_THREADS) as pool:
        return [lineage for lineage in pool.map(head, keys) if lineage is not None]


def queued_messages(config: LakeConfig, access: LakeAccess, zone: str) -> int:
    """Messages waiting or in flight in every queue of `zone`."""
    total = 0
    for route in queue_routes(config, access.names):
        if route.zone.name != zone:
            continue
        attrs = access.sqs.get_queue_attributes(
            QueueUrl=access.queue_url(route.queue_name),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        total += int(attrs.get("ApproximateNumberOfMessages", 0)) + int(
            attrs.get("ApproximateNumberOfMessagesNotVisible", 0)
        )
    return total


def dead_lettered_objects(access: LakeAccess) -> dict[tuple[str, str], set[str]]:
    """(bucket, key) -> ETags named by DLQ messages ("" when an event carries none)."""
    dead: dict[tuple[str, str], set[str]] = defaultdict(set)
    for body in peek_messages(access.sqs, access.queue_url(access.names.dlq), access.poll_seconds):
        try:
            objects = objects_in_body(body)
        except MalformedEvent:
            continue
        for obj in objects:
            dead[(obj.bucket, obj.key)].add(obj.etag)
    return dead


def peek_messages(sqs: Any, queue_url: str, wait_seconds: int = 0) -> list[str]:
    """Every message body of a queue, left in the queue and visible again afterwards."""
    return [message["Body"] for message in peek_queue(sqs, queue_url, wait_seconds=wait_seconds)]


def wait_for_queues(config: LakeConfig, access: LakeAccess, timeout: float, poll: float = 0.5) -> int:
    """Wait until every chained zone's queues are empty (or `timeout`); returns what is still queued."""
    deadline = time.monotonic() + timeout
    while True:
        queued = sum(queued_messages(config, access, zone.name) for zone in config.chained_zones)
        if queued == 0 or time.monotonic() >= deadline:
            return queued
        time.sleep(poll)

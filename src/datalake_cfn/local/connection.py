"""Operations on a lake through its AWS APIs: put, list, status, the DLQ.

They take only an endpoint, so they work the same on a lake running in this process
(`datalake demo`, tests) and on one started by `datalake up` in another terminal.
"""

from __future__ import annotations

import json
import mimetypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_plus, urlencode

from datalake_cfn.config import LakeConfig
from datalake_cfn.local.emulator import local_client
from datalake_cfn.naming import LakeNames
from datalake_cfn.routing import queue_routes
from datalake_cfn.undeclared import UndeclaredDataset, undeclared_datasets

CLASSIFICATION_TAG = "dataclassification"


class LakeError(Exception):
    """A user-facing problem with a lake operation (unknown dataset, no such file...)."""


@dataclass(frozen=True)
class QueueStatus:
    zone: str
    queue: str
    visible: int
    in_flight: int
    has_consumer: bool


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    reason: str
    zone: str
    source_queue_arn: str
    attempts: str
    failed_at: str
    keys: list[str]
    resolved: bool = False  # every object it names was processed since: its output names the current bytes


class LakeConnection:
    """A lake reached through an endpoint (the emulator, or AWS itself when endpoint is None)."""

    def __init__(self, config: LakeConfig, endpoint: str, names: LakeNames | None = None):
        self.config = config
        self.endpoint = endpoint
        self.names = names or LakeNames.for_config(config)
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    def client(self, service: str) -> Any:
        """One client per service, shared by the caller's threads (boto3 clients are thread-safe).

        Created under a lock: eight uploader threads asking at once otherwise build eight clients
        (a quarter of a second of GIL each) and keep one.
        """
        client = self._clients.get(service)
        if client is None:
            with self._clients_lock:
                client = self._clients.get(service)
                if client is None:
                    client = self._clients[service] = local_client(service, self.endpoint, self.names.region)
        return client

    # -- writing ------------------------------------------------------------------------------
    def landing_key(self, path: Path, dataset: str | None) -> str:
        """`--dataset sales` + `q1.csv` -> `sales/q1.csv`; without it, the file's parent folder names it."""
        name = dataset or path.parent.name
        try:
            ds = self.config.dataset(name)
        except KeyError:
            known = ", ".join(d.name for d in self.config.datasets) or "none"
            raise LakeError(f"unknown dataset {name!r}: pass --dataset with one of: {known}") from None
        return f"{ds.key_prefix}{path.name}"

    def put_file(self, path: Path, dataset: str | None = None, zone: str | None = None, key: str | None = None) -> str:
        if not path.is_file():
            raise LakeError(f"{path}: no such file")
        key = key or self.landing_key(path, dataset)
        bucket = self.names.bucket(zone or self.config.first_zone.name)
        extra = {"ContentType": mimetypes.guess_type(path.name)[0] or "text/csv"}
        tags = self.upload_tags(key, zone)
        if tags:
            extra["Tagging"] = urlencode(tags)
        self.client("s3").upload_file(str(path), bucket, key, ExtraArgs=extra)
        return key

    def upload_tags(self, key: str, zone: str | None) -> dict[str, str]:
        """Tags an upload carries: its dataset's classification, except in the landing zone.

        Landing objects are classified by the pipeline on their way to the next zone; until
        then they stay untagged, which the bucket policies make readable by nobody but the
        steward and the pipeline (fail-closed), and only those two may classify there.
        """
        level = self.classification_of(key)
        if level is None or (zone or self.config.first_zone.name) == self.config.first_zone.name:
            return {}
        return {CLASSIFICATION_TAG: level}

    def classification_of(self, key: str) -> str | None:
        """The classification of the dataset whose prefix `key` lies under, if any."""
        for dataset in self.config.datasets:
            if key.startswith(dataset.key_prefix):
                return dataset.classification
        return None

    def put_bytes(self, data: bytes, key: str, zone: str | None = None, tags: dict[str, str] | None = None) -> str:
        bucket = self.names.bucket(zone or self.config.first_zone.name)
        args: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": data}
        if tags:
            args["Tagging"] = urlencode(tags)
        self.client("s3").put_object(**args)
        return key

    # -- reading ------------------------------------------------------------------------------
    def list_objects(self, zone: str) -> list[dict[str, Any]]:
        bucket = self.names.bucket(zone)
        paginator = self.client("s3").get_paginator("list_objects_v2")
        return [obj for page in paginator.paginate(Bucket=bucket) for obj in page.get("Contents", [])]

    def undeclared(self) -> list[UndeclaredDataset]:
        """Objects outside every declared dataset, per zone, as the undeclared datasets they flow as."""
        return undeclared_datasets(self.config, self.client("s3"), self.names.bucket)

    def object_tags(self, zone: str, key: str) -> dict[str, str]:
        tags = self.client("s3").get_object_tagging(Bucket=self.names.bucket(zone), Key=key)["TagSet"]
        return {t["Key"]: t["Value"] for t in tags}

    def head(self, zone: str, key: str) -> dict[str, Any]:
        return self.client("s3").head_object(Bucket=self.names.bucket(zone), Key=key)

    def get_bytes(self, zone: str, key: str) -> bytes:
        return self.client("s3").get_object(Bucket=self.names.bucket(zone), Key=key)["Body"].read()

    # -- queues -------------------------------------------------------------------------------
    def queue_url(self, queue_name: str) -> str:
        return self.names.queue_url(queue_name, self.endpoint)

    def queue_status(self) -> list[QueueStatus]:
        sqs = self.client("sqs")
        statuses = []
        for route in queue_routes(self.config, self.names):
            attrs = sqs.get_queue_attributes(
                QueueUrl=self.queue_url(route.queue_name),
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            statuses.append(
                QueueStatus(
                    zone=route.zone.name,
                    queue=route.queue_name,
                    visible=int(attrs.get("ApproximateNumberOfMessages", 0)),
                    in_flight=int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
                    has_consumer=route.has_consumer,
                )
            )
        return statuses

    def dlq_depth(self) -> int:
        from datalake_cfn.reliability.peek import queue_depth

        return queue_depth(self.client("sqs"), self.queue_url(self.names.dlq))

    def dead_letters(self, release: bool = True, resolve: bool = True) -> list[DeadLetter]:
        """Every DLQ message, read as :func:`peek_queue` does (waiting for entries another reader
        holds); without `release` the caller holds them. With `resolve`, each says whether its
        objects were processed since (see :meth:`is_resolved`)."""
        from datalake_cfn.reliability.peek import peek_queue

        messages = peek_queue(self.client("sqs"), self.queue_url(self.names.dlq), release=release)
        letters = [_dead_letter(message) for message in messages]
        if not resolve:
            return letters
        return [replace(letter, resolved=self.is_resolved(letter)) for letter in letters]

    def is_resolved(self, letter: DeadLetter) -> bool:
        """The failure no longer holds: every object it names has an output in the next zone made
        from the object's current bytes (a fixed re-upload under the same key, or a redrive)."""
        from zone_consumer.events import MalformedEvent, objects_in_body
        from zone_consumer.pipeline import output_key

        try:
            objects = objects_in_body(letter.body)
        except MalformedEvent:
            return False
        zone_of = {self.names.bucket(z.name): z for z in self.config.zones}
        s3 = self.client("s3")
        for obj in objects:
            zone = zone_of.get(obj.bucket)
            if zone is None or zone.next is None:
                return False
            target = self.config.zone(zone.next)
            try:
                current = s3.head_object(Bucket=obj.bucket, Key=obj.key)["ETag"].strip('"')
                made = s3.head_object(Bucket=self.names.bucket(target.name), Key=output_key(obj.key, target.format))
            except s3.exceptions.ClientError:
                return False
            meta = made.get("Metadata", {})
            if unquote(meta.get("datalake-source-key", "")) != obj.key or meta.get("datalake-source-etag") != current:
                return False
        return bool(objects)

    def delete_dead_letters(self, message_ids: set[str] | None = None, resolved_only: bool = False) -> int:
        """Delete DLQ messages (all, these ids, or the resolved ones); returns how many went."""
        sqs = self.client("sqs")
        url = self.queue_url(self.names.dlq)
        with self._held_dead_letters(resolve=resolved_only) as held:
            chosen = [
                letter
                for letter in held.letters
                if (message_ids is None or letter.message_id in message_ids) and (letter.resolved or not resolved_only)
            ]
            for letter in chosen:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=letter.receipt_handle)
                held.consumed(letter)
        return len(chosen)

    def redrive(self, message_ids: set[str] | None = None) -> int:
        """Send DLQ messages back to the queue they came from; returns how many moved.

        Every chosen message's source queue is worked out before any is moved, so a message
        that names none stops the redrive with nothing half done."""
        sqs = self.client("sqs")
        dlq_url = self.queue_url(self.names.dlq)
        with self._held_dead_letters(resolve=False) as held:
            chosen = [letter for letter in held.letters if not message_ids or letter.message_id in message_ids]
            targets = [(letter, self._source_queue(letter)) for letter in chosen]
            for letter, queue_name in targets:
                sqs.send_message(QueueUrl=self.queue_url(queue_name), MessageBody=letter.body)
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=letter.receipt_handle)
                held.consumed(letter)
        return len(targets)

    def _source_queue(self, letter: DeadLetter) -> str:
        queue_name = letter.source_queue_arn.rsplit(":", 1)[-1] if letter.source_queue_arn else ""
        if not queue_name and letter.zone:
            queue_name = self.names.queue(letter.zone)
        if not queue_name:
            raise LakeError(f"DLQ message {letter.message_id} names no source queue; cannot redrive it")
        return queue_name

    @contextmanager
    def _held_dead_letters(self, resolve: bool) -> Iterator[_HeldLetters]:
        """Every DLQ message, held by this reader; whatever the block did not consume is made
        visible again on the way out, even when the block raises."""
        from datalake_cfn.reliability.peek import release_messages

        held = _HeldLetters(self.dead_letters(release=False, resolve=resolve))
        try:
            yield held
        finally:
            release_messages(self.client("sqs"), self.queue_url(self.names.dlq), held.unconsumed_handles())


@dataclass
class _HeldLetters:
    letters: list[DeadLetter]
    _consumed: set[str] = field(default_factory=set)

    def consumed(self, letter: DeadLetter) -> None:
        self._consumed.add(letter.message_id)

    def unconsumed_handles(self) -> list[str]:
        return [letter.receipt_handle for letter in self.letters if letter.message_id not in self._consumed]


def _dead_letter(message: dict[str, Any]) -> DeadLetter:
    attrs = {
        k.removeprefix("datalake."): v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()
    }
    reason = attrs.get("reason") or (
        "no reason recorded: the consumer crashed or timed out on every attempt, "
        "and SQS's redrive policy moved the message"
    )
    try:
        records = json.loads(message["Body"]).get("Records", [])
        keys = [f"{r['s3']['bucket']['name']}/{unquote_plus(r['s3']['object']['key'])}" for r in records]
    except (ValueError, KeyError, TypeError, AttributeError):
        keys = []
    return DeadLetter(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message["Body"],
        reason=reason,
        zone=attrs.get("zone", ""),
        source_queue_arn=attrs.get("source_queue_arn", ""),
        attempts=attrs.get("attempts", message.get("Attributes", {}).get("ApproximateReceiveCount", "")),
        failed_at=attrs.get("failed_at", ""),
        keys=keys,
    )

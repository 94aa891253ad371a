"""moto's in-memory state as small, named entity images, and back again.

The durable local lake (:mod:`datalake_cfn.local.durability`) saves what a request changed,
not the whole emulator, so the cost of a write does not grow with the size of the lake.
This module knows how moto keeps its state and cuts it into entities:

==========================  ===============================================================
entity id                   image
==========================  ===============================================================
("svc", module, account,    a whole service backend (KMS, Glue, IAM, ...); for S3 and SQS
region)                     the backend without its buckets / queues / object tags
("s3b", account, bucket)    one bucket without its objects (policy, encryption, notifications,
                            versioning, its tags)
("s3k", account, bucket,    every version of one key (metadata and delete markers) and the
key)                        tags of each version; the bytes go to the blob store
("sqs", account, region,    one queue with its messages, receive counts and visibility
name)
==========================  ===============================================================

Images are pickles made by :class:`_ImagePickler`, which (1) writes object bytes once to
the blob store and pickles a reference instead, so a 200 MB object is written once and
never pickled; (2) replaces locks and conditions (unpicklable, and meaningless after a
restart) with fresh ones; (3) saves private keys (KMS) as DER; (4) saves a reference,
not a copy, when one queue points at another (a redrive target), so the restored queue
moves messages into the restored DLQ and not into a private copy of it.

Multipart uploads in progress are not saved: their client was talking to the process
that died and gets NoSuchUpload on completion, which the pipeline treats as a failed
attempt (retried), never as data.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import itertools
import os
import pickle
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EntityId = tuple[str, ...]
Selector = tuple[str, ...]
ALL: Selector = ("all",)
KNOWN: Selector = ("known",)  # every entity already saved: catches changes made without a request
COPY_CHUNK = 8 << 20
_RETRIES = 20


@dataclass(frozen=True)
class Image:
    """One entity's saved state: the pickle and the blobs it refers to."""

    data: bytes
    blobs: frozenset[str]


# -- blobs ----------------------------------------------------------------------------------------
class BlobStore:
    """Object bytes, one immutable file per object version, written once."""

    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.known = {path.name for path in directory.iterdir() if not path.name.startswith(".")}
        self._lock = threading.Lock()

    def path(self, blob_id: str) -> Path:
        return self.directory / blob_id

    def save_value(self, key: Any) -> str | None:
        """The blob id holding `key`'s bytes, writing them first if this version is new."""
        if getattr(key, "disposed", False):
            return None
        identity = "\0".join(
            [
                str(key.bucket_name),
                key.name,
                str(key.version_id),
                key.etag,
                str(key.contentsize),
                str(key.last_modified),
            ]
        )
        blob_id = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:40]
        if blob_id in self.known:
            return blob_id
        tmp = self.directory / f".{blob_id}.{threading.get_ident()}.tmp"
        with open(tmp, "wb") as out, key.lock:
            buffer = key._value_buffer
            buffer.seek(0)
            shutil.copyfileobj(buffer, out, COPY_CHUNK)
        os.replace(tmp, self.path(blob_id))
        with self._lock:
            self.known.add(blob_id)
        return blob_id

    def collect(self, live: set[str]) -> int:
        """Delete blobs no saved image refers to; returns how many."""
        removed = 0
        for blob_id in list(self.known - live):
            self.path(blob_id).unlink(missing_ok=True)
            self.known.discard(blob_id)
            removed += 1
        for stray in self.directory.glob(".*.tmp"):
            stray.unlink(missing_ok=True)
        return removed


_restore_blobs: BlobStore | None = None  # set while images are being loaded


def _restore_fake_key(cls: type, state: dict[str, Any], blob_id: str | None) -> Any:
    """Rebuild a FakeKey whose bytes are the (read-only) blob file: nothing is copied at start."""
    key = cls.__new__(cls)
    key.__dict__.update(state)
    if blob_id is None:  # a part of a completed upload, or a deleted version: no bytes were kept
        key._value_buffer = io.BytesIO()
    else:
        assert _restore_blobs is not None
        path = _restore_blobs.path(blob_id)
        if not path.exists():
            raise FileNotFoundError(f"the bytes of s3://{key.bucket_name}/{key.name} are missing ({path})")
        key._value_buffer = open(path, "rb")  # noqa: SIM115 - owned by the key, closed when it is disposed
    key.lock = threading.Lock()
    return key


def _load_private_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    return load_der_private_key(der, password=None)


def _new_condition() -> threading.Condition:
    return threading.Condition()


def _rebuild(cls: type, state: dict[str, Any]) -> Any:
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj


UNCHANGED = Image(b"", frozenset())
"""Returned for an entity known to be as last saved: the caller keeps the saved image."""


def _message_signature(message: Any, pending: bool) -> tuple[Any, ...]:
    """What changes when a message is received, re-hidden or deleted (cheap: no pickling)."""
    return (
        message.receipt_handle,
        message.approximate_receive_count,
        message.visible_at,
        message.delayed_until,
        message.approximate_first_receive_timestamp,
        len(message._old_receipt_handles),
        pending,
    )


class _QueueShell:
    """A queue's settings without its messages (they are entities of their own)."""

    def __init__(self, state: dict[str, Any]):
        self.state = state


@dataclass(frozen=True)
class _QueueRef:
    """A queue named inside another entity's image, resolved once every queue is back."""

    account: str
    region: str
    name: str


# -- pickling ---------------------------------------------------------------------------------------
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


class _ImagePickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, blobs: BlobStore, root: Any):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.blobs = blobs
        self.root = root
        self.blob_ids: set[str] = set()

    def persistent_id(self, obj: Any) -> Any:
        if obj is not self.root and type(obj) is _moto().Queue:
            return ("sqs-queue", obj.account_id, obj.region, obj.name)
        return None

    def reducer_override(self, obj: Any) -> Any:
        kind = _reducer_kind(type(obj))
        if kind is None:
            return NotImplemented
        if kind == "key":
            state = {k: v for k, v in obj.__dict__.items() if k not in ("_value_buffer", "lock")}
            blob_id = self.blobs.save_value(obj)
            if blob_id is not None:
                self.blob_ids.add(blob_id)
            return (_restore_fake_key, (type(obj), state, blob_id))
        if kind == "lock":
            return (type(obj), ())
        if kind == "condition":
            return (_new_condition, ())
        if kind == "private_key":
            from cryptography.hazmat.primitives import serialization

            der = obj.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            return (_load_private_key, (der,))
        return NotImplemented


_KINDS: dict[type, str | None] = {}


def _reducer_kind(cls: type) -> str | None:
    try:
        return _KINDS[cls]
    except KeyError:
        pass
    kind: str | None = None
    if cls is _moto().FakeKey:
        kind = "key"
    elif cls in _LOCK_TYPES:
        kind = "lock"
    elif cls is threading.Condition:
        kind = "condition"
    elif hasattr(cls, "private_bytes") and cls.__module__.startswith("cryptography"):
        kind = "private_key"
    _KINDS[cls] = kind
    return kind


class _ImageUnpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        if pid[0] == "sqs-queue":
            return _QueueRef(*pid[1:])
        raise pickle.UnpicklingError(f"unknown persistent reference {pid!r}")


def _dump(obj: Any, blobs: BlobStore) -> Image:
    """Pickle one entity, retrying when a request thread changes it mid-pickle."""
    for attempt in range(_RETRIES):
        buffer = io.BytesIO()
        pickler = _ImagePickler(buffer, blobs, obj[0] if isinstance(obj, tuple) and obj else obj)
        try:
            pickler.dump(obj)
        except RuntimeError:  # "dictionary changed size during iteration": it is being written to
            time.sleep(0.001 * (attempt + 1))
            continue
        return Image(buffer.getvalue(), frozenset(pickler.blob_ids))
    raise RuntimeError("an emulator entity kept changing while being saved")


def load_image(image: Image) -> Any:
    return _ImageUnpickler(io.BytesIO(image.data)).load()


# -- moto, lazily -------------------------------------------------------------------------------
class _Moto:
    def __init__(self) -> None:
        from moto.core.base_backend import BackendDict
        from moto.s3.models import FakeBucket, FakeKey, MultipartDict, s3_backends
        from moto.s3.utils import _VersionedKeyStore
        from moto.sqs.models import Queue, sqs_backends

        self.BackendDict = BackendDict
        self.FakeBucket = FakeBucket
        self.FakeKey = FakeKey
        self.MultipartDict = MultipartDict
        self.VersionedKeyStore = _VersionedKeyStore
        self.Queue = Queue
        self.s3_backends = s3_backends
        self.sqs_backends = sqs_backends


_moto_cache: _Moto | None = None


def _moto() -> _Moto:
    global _moto_cache
    if _moto_cache is None:
        _moto_cache = _Moto()
    return _moto_cache


def _backend_dicts() -> list[Any]:
    return list(_moto().BackendDict._instances)


def _iter_backends() -> Iterator[tuple[Any, str, str, Any]]:
    for backend_dict in _backend_dicts():
        for account, per_account in list(backend_dict.items()):
            for region, backend in list(per_account.items()):
                yield backend_dict, account, region, backend


def selectors_for(entities: Iterable[EntityId]) -> set[Selector]:
    """Selectors that image these entities again (and new keys of known buckets)."""
    selectors: set[Selector] = set()
    for entity in entities:
        if entity[0] == "svc":
            selectors.add(("svc", entity[2]))
        elif entity[0] in ("s3b", "s3k"):
            selectors |= {("s3bucket", entity[2]), ("s3keys", entity[2])}
        elif entity[0] in ("sqs", "sqsm"):
            selectors.add(("sqs", entity[3]))
    return selectors


def _service_id(backend_dict: Any, backend: Any, account: str, region: str) -> EntityId:
    return ("svc", type(backend).__module__, backend_dict.service_name, account, region)


def _s3_key_tags(backend: Any) -> set[str]:
    return {arn for arn in backend.tagger.tags if ":s3:::" in arn}


# -- imaging -------------------------------------------------------------------------------------
class StateImager:
    """Turns selectors ("what a request may have changed") into fresh images of those entities."""

    def __init__(self, blobs: BlobStore):
        self.blobs = blobs
        self._signatures: dict[EntityId, tuple[Any, ...]] = {}
        self._order: dict[EntityId, int] = {}
        self._counter = itertools.count()
        self._unchanged = UNCHANGED

    def images(self, selectors: Iterable[Selector], known: Iterable[EntityId]) -> dict[EntityId, Image | None]:
        """Images of every entity the selectors name; None for named entities that no longer exist."""
        selectors = set(selectors)
        known = list(known)
        if KNOWN in selectors:
            selectors.discard(KNOWN)
            selectors |= selectors_for(known)
        found: dict[EntityId, Image | None] = {}
        if ALL in selectors:
            for entity_id, image in self._everything():
                found[entity_id] = image
            for entity_id in known:
                found.setdefault(entity_id, None)
            return found
        queue_names: set[str | None] = set()
        for selector in selectors:
            kind = selector[0]
            if kind == "svc":
                found.update(self._services(selector[1]))
            elif kind == "s3key":
                found.update(self._s3_key(selector[1], selector[2]))
                queue_names |= self._notified_queues(selector[1])
            elif kind == "s3bucket":
                found.update(self._s3_bucket(selector[1], known))
                queue_names |= self._notified_queues(selector[1])
            elif kind == "s3keys":
                found.update(self._s3_all_keys(selector[1], known))
                queue_names |= self._notified_queues(selector[1])
            elif kind == "sqs":
                queue_names.add(selector[1])
        if queue_names:
            found.update(self._queues(queue_names, known))
        return found

    # S3 ----------------------------------------------------------------------------------
    def _s3_backends(self) -> Iterator[tuple[str, str, Any]]:
        for account, per_account in list(_moto().s3_backends.items()):
            for partition, backend in list(per_account.items()):
                yield account, partition, backend

    def _s3_shell(self, backend: Any) -> Image:
        tagger = _rebuild(type(backend.tagger), dict(backend.tagger.__dict__))
        tagger.tags = {arn: tags for arn, tags in list(backend.tagger.tags.items()) if ":s3:::" not in arn}
        state = dict(backend.__dict__, buckets={}, tagger=tagger)
        return _dump((_rebuild, type(backend), state), self.blobs)

    def _bucket_image(self, backend: Any, bucket: Any) -> Image:
        moto = _moto()
        state = dict(bucket.__dict__, keys=moto.VersionedKeyStore(), multiparts=moto.MultipartDict())
        tags = dict(backend.tagger.tags.get(bucket.arn, {}))
        return _dump((_rebuild, type(bucket), state, tags), self.blobs)

    def _key_image(self, backend: Any, bucket: Any, name: str) -> Image | None:
        versions = list(bucket.keys.getlist(name, []) or [])
        if not versions:
            return None
        tags = {}
        for version in versions:
            arn = getattr(version, "arn", None) if type(version) is _moto().FakeKey else None
            if arn and arn in backend.tagger.tags:
                tags[arn] = dict(backend.tagger.tags[arn])
        return _dump((versions, tags), self.blobs)

    def _s3_key(self, bucket_name: str, key: str) -> dict[EntityId, Image | None]:
        found: dict[EntityId, Image | None] = {}
        for account, _, backend in self._s3_backends():
            bucket = backend.buckets.get(bucket_name)
            if bucket is not None:
                found[("s3k", account, bucket_name, key)] = self._key_image(backend, bucket, key)
        return found

    def _s3_bucket(self, bucket_name: str, known: Iterable[EntityId]) -> dict[EntityId, Image | None]:
        found: dict[EntityId, Image | None] = {}
        for account, partition, backend in self._s3_backends():
            found[_service_id(_moto().s3_backends, backend, account, partition)] = self._s3_shell(backend)
            bucket = backend.buckets.get(bucket_name)
            entity = ("s3b", account, bucket_name)
            if bucket is not None:
                found[entity] = self._bucket_image(backend, bucket)
            else:  # deleted (or never there): its keys go with it
                found[entity] = None
                for other in known:
                    if other[:3] == ("s3k", account, bucket_name):
                        found[other] = None
        return found

    def _s3_all_keys(self, bucket_name: str, known: Iterable[EntityId]) -> dict[EntityId, Image | None]:
        found: dict[EntityId, Image | None] = {}
        for account, _, backend in self._s3_backends():
            bucket = backend.buckets.get(bucket_name)
            if bucket is None:
                continue
            for name in list(bucket.keys.keys()):
                found[("s3k", account, bucket_name, name)] = self._key_image(backend, bucket, name)
            for other in known:
                if other[:3] == ("s3k", account, bucket_name):
                    found.setdefault(other, None)
        return found

    def _notified_queues(self, bucket_name: str) -> set[str | None]:
        """Queues an S3 change may have sent an event to (moto delivers notifications in-process)."""
        names: set[str | None] = set()
        for _, _, backend in self._s3_backends():
            bucket = backend.buckets.get(bucket_name)
            config = getattr(bucket, "notification_configuration", None) if bucket is not None else None
            for target in getattr(config, "queue", None) or []:
                names.add(str(target.arn).rsplit(":", 1)[-1])
        return names

    # SQS ----------------------------------------------------------------------------------
    def _queues(self, names: set[str | None], known: Iterable[EntityId]) -> dict[EntityId, Image | None]:
        """The named queues (None: every queue), the queues they redrive into, and their changed messages."""
        found: dict[EntityId, Image | None] = {}
        everything = None in names
        imaged: set[EntityId] = set()
        for account, per_account in list(_moto().sqs_backends.items()):
            for region, backend in list(per_account.items()):
                queues = dict(backend.queues)
                wanted = set(queues) if everything else {n for n in names if n in queues}
                for name in list(wanted):
                    target = getattr(queues[name], "dead_letter_queue", None)
                    if target is not None:
                        wanted.add(target.name)
                for name in wanted:
                    if name in queues:
                        imaged.add(("sqs", account, region, name))
                        found.update(self._queue_images(account, region, queues[name]))
                found[_service_id(_moto().sqs_backends, backend, account, region)] = self._sqs_shell(backend)
        for entity in known:
            if entity in found or entity[0] not in ("sqs", "sqsm"):
                continue
            queue = ("sqs", *entity[1:4])
            if queue in imaged or everything or entity[3] in names:  # a deleted message, or a deleted queue
                found[entity] = None
        return found

    def _queue_images(self, account: str, region: str, queue: Any) -> dict[EntityId, Image | None]:
        """A queue's settings, and each message that changed since it was last saved (by signature)."""
        prefix = ("sqsm", account, region, queue.name)
        state = dict(queue.__dict__, _messages=[], _pending_messages=set(), deleted_messages=set())
        found: dict[EntityId, Image | None] = {
            ("sqs", account, region, queue.name): _dump(_QueueShell(state), self.blobs)
        }
        pending = set(map(id, list(queue._pending_messages)))
        for message in list(queue._messages):
            entity = (*prefix, message.id)
            signature = _message_signature(message, id(message) in pending)
            if self._signatures.get(entity) == signature:
                found[entity] = self._unchanged
                continue
            if entity not in self._order:
                self._order[entity] = next(self._counter)
            found[entity] = _dump((message, id(message) in pending, self._order[entity]), self.blobs)
            self._signatures[entity] = signature
        return found

    def forget(self) -> None:
        """Drop the message signatures (after a failed commit, so the next one saves them again)."""
        self._signatures.clear()

    def _sqs_shell(self, backend: Any) -> Image:
        return _dump((_rebuild, type(backend), dict(backend.__dict__, queues={})), self.blobs)

    # other services ---------------------------------------------------------------------------
    def _services(self, service: str) -> dict[EntityId, Image | None]:
        found: dict[EntityId, Image | None] = {}
        for backend_dict, account, region, backend in _iter_backends():
            if backend_dict.service_name == service:
                found.update(self._service_images(backend_dict, account, region, backend))
        return found

    def _service_images(self, backend_dict: Any, account: str, region: str, backend: Any) -> dict[EntityId, Image]:
        moto = _moto()
        entity = _service_id(backend_dict, backend, account, region)
        if backend_dict is moto.s3_backends:
            return {entity: self._s3_shell(backend)}
        if backend_dict is moto.sqs_backends:
            return {entity: self._sqs_shell(backend)}
        return {entity: _dump(backend, self.blobs)}

    def _everything(self) -> Iterator[tuple[EntityId, Image | None]]:
        moto = _moto()
        for backend_dict, account, region, backend in _iter_backends():
            yield from self._service_images(backend_dict, account, region, backend).items()
            if backend_dict is moto.s3_backends:
                for name, bucket in list(backend.buckets.items()):
                    yield ("s3b", account, name), self._bucket_image(backend, bucket)
                    for key in list(bucket.keys.keys()):
                        yield ("s3k", account, name, key), self._key_image(backend, bucket, key)
            elif backend_dict is moto.sqs_backends:
                for queue in list(backend.queues.values()):
                    yield from self._queue_images(account, region, queue).items()


# -- restoring -------------------------------------------------------------------------------------
def install(images: dict[EntityId, Image], blobs: BlobStore) -> dict[str, int]:
    """Load saved images into moto's (empty) backends; returns counts for the log."""
    global _restore_blobs
    moto = _moto()
    _restore_blobs = blobs
    counts = {"services": 0, "buckets": 0, "objects": 0, "queues": 0, "messages": 0}
    try:
        ordered = sorted(images.items(), key=lambda item: ("svc", "s3b", "s3k", "sqs", "sqsm").index(item[0][0]))
        messages: dict[EntityId, list[tuple[int, Any, bool]]] = {}
        for entity, image in ordered:
            kind = entity[0]
            if kind == "svc":
                _, module, service, account, region = entity
                backend = load_image(image)
                if isinstance(backend, tuple):  # an S3 / SQS shell
                    backend = backend[0](*backend[1:])
                per_account = _backend_dict(module, service)[account]
                dict.__setitem__(per_account, region, backend)
                counts["services"] += 1
            elif kind == "s3b":
                _, account, name = entity
                rebuild, cls, state, tags = load_image(image)
                bucket = rebuild(cls, state)
                backend = _s3_backend(account, bucket)
                backend.buckets[name] = bucket
                moto.s3_backends.bucket_accounts[name] = (bucket.partition, account)
                if tags:
                    backend.tagger.tags[bucket.arn] = tags
                counts["buckets"] += 1
            elif kind == "s3k":
                _, account, bucket_name, key = entity
                versions, tags = load_image(image)
                bucket = _find_bucket(account, bucket_name)
                if bucket is None:
                    continue
                dict.__setitem__(bucket.keys, key, versions)
                backend = _s3_backend(account, bucket)
                backend.tagger.tags.update(tags)
                counts["objects"] += 1
            elif kind == "sqs":
                _, account, region, name = entity
                queue = _rebuild(moto.Queue, load_image(image).state)
                moto.sqs_backends[account][region].queues[name] = queue
                counts["queues"] += 1
            elif kind == "sqsm":
                message, pending, order = load_image(image)
                messages.setdefault(("sqs", *entity[1:4]), []).append((order, message, pending))
        for (_, account, region, name), saved in messages.items():
            queue = moto.sqs_backends[account][region].queues.get(name)
            if queue is None:
                continue
            for _, message, pending in sorted(saved, key=lambda item: (item[1].sent_timestamp or 0, item[0])):
                queue._messages.append(message)
                if pending:
                    queue._pending_messages.add(message)
                counts["messages"] += 1
        _resolve_queue_refs()
    finally:
        _restore_blobs = None
    return counts


def _backend_dict(module: str, service: str) -> Any:
    """The BackendDict of `service` in `module` (e.g. moto.glue.models)."""
    for candidate in _backend_dicts():
        if candidate.service_name == service and type(candidate.backend).__module__ == module:
            return candidate
    imported = importlib.import_module(module)
    for value in vars(imported).values():
        if isinstance(value, _moto().BackendDict) and value.service_name == service:
            return value
    raise LookupError(f"no moto backend {service!r} in {module}")


def _s3_backend(account: str, bucket: Any) -> Any:
    return _moto().s3_backends[account][getattr(bucket, "partition", "aws")]


def _find_bucket(account: str, name: str) -> Any:
    for partition in list(_moto().s3_backends[account].values()):
        if name in partition.buckets:
            return partition.buckets[name]
    return None


def _resolve_queue_refs() -> None:
    moto = _moto()
    for _, per_account in list(moto.sqs_backends.items()):
        for _, backend in list(per_account.items()):
            for queue in backend.queues.values():
                ref = getattr(queue, "dead_letter_queue", None)
                if isinstance(ref, _QueueRef):
                    queue.dead_letter_queue = moto.sqs_backends[ref.account][ref.region].queues.get(ref.name)

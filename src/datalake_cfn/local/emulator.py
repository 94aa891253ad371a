"""moto's server, in-process on loopback, producing S3 events of the real shape.

Patches, each applied once per process (and :mod:`datalake_cfn.local.moto_speedups`, which
makes moto's SQS linear under a burst and its multipart completion copy less, answers unchanged):

- A completed multipart upload sends one event, not moto's two (see
  `_one_event_per_multipart_upload`).
- Bucket policies are stored and returned, but not enforced by moto: moto applies a
  conditional Deny unconditionally (it ignores Condition blocks), so the lake's TLS-only
  statement would deny every request. Access decisions in the local lake come from the
  project's own policy evaluator (:mod:`datalake_cfn.access`), which does evaluate conditions.

moto's S3 notifications already carry URL-encoded keys and send `s3:TestEvent` messages;
real notifications also carry the object's `versionId` (on versioned buckets) and a
`sequencer`, which moto leaves out, so they are added here: the runtime reads `versionId`
to fetch exactly the version that triggered the event.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3


LOCAL_ACCESS_KEY = "testing"
LOCAL_SECRET_KEY = "testing"
_patch_lock = threading.Lock()
_patched = False


def _patch_event_shape() -> None:
    """Add versionId and sequencer to moto's S3 event records (once per process)."""
    global _patched
    with _patch_lock:
        if _patched:
            return
        from moto.s3 import notifications

        original = notifications._get_s3_event

        def real_shaped_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict:
            event = original(event_name, bucket, key, notification_id)
            obj = event["Records"][0]["s3"]["object"]
            version = getattr(key, "version_id", None)
            if version and version != "null":
                obj["versionId"] = version
            obj["sequencer"] = f"{int(getattr(key, 'last_modified', 0).timestamp() * 1e6):016X}"
            return event

        notifications._get_s3_event = real_shaped_event
        _one_event_per_multipart_upload()

        from moto.iam.access_control import PermissionResult
        from moto.s3.models import FakeBucket

        FakeBucket.get_permission = lambda self, action, resource: PermissionResult.NEUTRAL  # type: ignore[method-assign]
        _patched = True


def _one_event_per_multipart_upload() -> None:
    """CompleteMultipartUpload sends one `ObjectCreated:CompleteMultipartUpload`, as S3 does.

    moto stores the completed object through its own `put_object`, which also sends an
    `ObjectCreated:Put` event (before the upload's metadata and tags are set on the object):
    every multipart object reached the next zone's queue twice, and the first event could be
    handled while the object still lacked its tags.
    """
    from moto.s3.models import S3Backend

    completing = threading.local()
    original_put = S3Backend.put_object
    original_complete = S3Backend.complete_multipart_upload

    def put_object(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(completing, "active", False):
            kwargs["disable_notification"] = True
        return original_put(self, *args, **kwargs)

    def complete_multipart_upload(self: Any, *args: Any, **kwargs: Any) -> Any:
        completing.active = True
        try:
            return original_complete(self, *args, **kwargs)
        finally:
            completing.active = False

    S3Backend.put_object = put_object  # type: ignore[method-assign]
    S3Backend.complete_multipart_upload = complete_multipart_upload  # type: ignore[method-assign]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class Emulator:
    """A running moto server; `endpoint` is what every client (boto3, aws CLI) points at."""

    host: str = "127.0.0.1"
    port: int = 0
    region: str = "us-east-1"

    def __post_init__(self) -> None:
        from moto.server import ThreadedMotoServer

        from datalake_cfn.local import moto_speedups

        _patch_event_shape()
        moto_speedups.install()
        self.port = self.port or free_port(self.host)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Emulator:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()


def local_session(region: str) -> boto3.session.Session:
    import boto3  # here, not at the top: `datalake --help` and other offline commands never need it

    return boto3.session.Session(
        aws_access_key_id=LOCAL_ACCESS_KEY, aws_secret_access_key=LOCAL_SECRET_KEY, region_name=region
    )


def local_client(service: str, endpoint: str, region: str) -> Any:
    """A boto3 client of the emulator: same API, same shapes as the real service.

    S3 payloads are not SHA-256 signed, as on AWS: there botocore sends uploads over HTTPS with a
    CRC32 checksum and UNSIGNED-PAYLOAD; over the emulator's plain HTTP it would hash every
    uploaded byte once more (the bench's 4 x 100 MB end to end: 37 CPU seconds with it, 31-33
    without). The CRC32 checksum is still computed and sent.
    """
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 10, "mode": "standard"},
        max_pool_connections=32,
        s3={"payload_signing_enabled": False},
    )
    return local_session(region).client(service, endpoint_url=endpoint, config=config)

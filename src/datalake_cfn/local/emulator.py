"""moto's server, in-process on loopback, producing S3 events of the real shape.

Two patches, both applied once per process:

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

        from moto.iam.access_control import PermissionResult
        from moto.s3.models import FakeBucket

        FakeBucket.get_permission = lambda self, action, resource: PermissionResult.NEUTRAL  # type: ignore[method-assign]
        _patched = True


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

        _patch_event_shape()
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
    """A boto3 client of the emulator: same API, same shapes as the real service."""
    from botocore.config import Config

    config = Config(retries={"max_attempts": 10, "mode": "standard"}, max_pool_connections=32)
    return local_session(region).client(service, endpoint_url=endpoint, config=config)

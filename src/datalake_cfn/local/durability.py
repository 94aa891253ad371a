"""The durable local lake: the emulator's state survives a stop, a crash and `kill -9`.

`datalake up --data DIR` keeps every object, tag, queued message, key and catalog table in
``DIR/state``. How, and why this way (docs/reliability.md has the long form):

- **Not moto's recorder.** moto can append every request to a file and replay it, but a
  replay is not the same history: KMS key ids, SQS message ids and receipt handles, S3
  version ids and multipart upload ids are random, so replayed deletes miss their
  messages (everything processed comes back), replayed multipart uploads fail, and a
  200 MB upload is stored as a 270 MB base64 line. It also records reads.
- **Not a periodic snapshot.** A snapshot every N seconds loses the last N seconds on
  `kill -9`: an upload the user saw succeed, or the S3 event it produced, would vanish
  silently - exactly what the lake promises never to do.
- **A write-ahead journal of entity images, with group commit.** A WSGI middleware in
  front of moto sees each request that can change state, lets moto handle it, then asks
  the committer thread to save the entities it touched (one object key, one bucket, one
  queue, one service backend: see :mod:`datalake_cfn.local.moto_state`) and only then sends
  the response. So a response the client saw is always on disk, and a crash can only
  lose requests whose response never left. Requests arriving while a commit is being
  written share the next one (group commit), so concurrent workers do not queue up
  behind each other's disk writes. Object bytes go to ``blobs/`` once per version.
- The journal is compacted into a checkpoint when it grows past ``journal_limit`` and on
  a clean stop; the tail of a journal cut by a crash mid-write is detected (length +
  CRC32 per frame) and dropped, which is safe because its requests were never answered.
- Receives (SQS ReceiveMessage) are saved but not waited for: losing one is the same as
  its visibility timeout expiring early, and it keeps polling cheap.
- What changes an already saved entity without a request (code reaching into moto
  directly) is picked up by a rescan of every saved entity each ``scan_interval`` seconds
  and at stop. Only entities this lake's requests touched are saved: moto's state is
  global to the process, and another lake running in the same process (tests) is not
  this directory's business.

Durability is against the process dying (Ctrl-C, SIGKILL, a crash), which is what a
developer's laptop sees; with ``fsync=True`` every commit is also flushed to the disk so
it survives a power cut, at some cost per write.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import pickle
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from datalake_cfn.local.moto_state import (
    ALL,
    KNOWN,
    UNCHANGED,
    BlobStore,
    EntityId,
    Image,
    Selector,
    StateImager,
    install,
)

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pickle"
JOURNAL = "journal.log"
LOCK = "lock"
FRAME_HEADER = struct.Struct("<II")  # payload length, CRC32 of the payload
FORMAT_VERSION = 1
READ_ACTION_PREFIXES = (
    "Get",
    "List",
    "Describe",
    "Head",
    "Search",
    "Lookup",
    "Query",
    "Scan",
    "BatchGet",
    "Check",
    "Validate",
    "Estimate",
    "Preview",
    "Select",
)
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class DurabilityError(RuntimeError):
    """The state directory cannot be used (another lake holds it) or a save failed."""


# -- what a request may change ------------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """What a request may have changed, and whether its response must wait until it is saved."""

    selectors: frozenset[Selector]
    wait: bool = True


def classify_request(environ: dict[str, Any]) -> Change | None:
    """None for a read; otherwise the entities a request may have changed.

    It may read (and then replace) the body of a small non-S3 request, to find the
    action and the queue it names.
    """
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = _raw_path(environ)
    if path.startswith("/moto-api"):
        return None if method in ("GET", "HEAD") else Change(frozenset({ALL}))
    service = request_service(environ)
    if service == "s3":
        return _s3_change(method, path, environ)
    plain_read = method in ("GET", "HEAD", "OPTIONS") and not environ.get("HTTP_X_AMZ_TARGET")
    if plain_read and "Action=" not in environ.get("QUERY_STRING", ""):
        return None
    fields = _request_fields(environ)
    action = str(fields.get("Action") or "")
    if not action and "HTTP_X_AMZ_TARGET" in environ:
        action = environ["HTTP_X_AMZ_TARGET"].rsplit(".", 1)[-1]
    if action.startswith(READ_ACTION_PREFIXES):
        return None
    if service is None:
        return Change(frozenset({ALL}))
    if service == "sqs":
        return _sqs_change(action, fields)
    return Change(frozenset({("svc", service)}))


def request_service(environ: dict[str, Any]) -> str | None:
    """The signing name in a SigV4 credential scope (header or presigned query)."""
    credential = ""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        credential = auth.split("Credential=", 1)[1].split(",", 1)[0]
    else:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        credential = (query.get("X-Amz-Credential") or [""])[0]
    parts = credential.split("/")
    return parts[3].lower() if len(parts) >= 5 else None


def _raw_path(environ: dict[str, Any]) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return unquote(urlsplit(raw).path)
    path = environ.get("PATH_INFO", "")
    try:
        return path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return path


def _s3_change(method: str, path: str, environ: dict[str, Any]) -> Change | None:
    if method in ("GET", "HEAD", "OPTIONS"):
        return None
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    host = environ.get("HTTP_HOST", "").split(":", 1)[0]
    if not (host.replace(".", "").isdigit() or host in ("localhost", "") or host.startswith("s3.")):
        return Change(frozenset({ALL}))  # virtual-hosted style: the bucket is in the host name
    bucket, _, key = path.lstrip("/").partition("/")
    if not bucket:
        return Change(frozenset({("svc", "s3")}))
    if key:
        if "uploadId" in query and method in ("PUT", "DELETE"):
            return None  # a part, or an abort: uploads in progress are not kept
        if "uploads" in query:
            return None  # CreateMultipartUpload
        return Change(frozenset({("s3key", bucket, key)}))
    if "delete" in query and method == "POST":
        return Change(frozenset({("s3keys", bucket)}))
    return Change(frozenset({("s3bucket", bucket)}))


def _sqs_change(action: str, fields: dict[str, Any]) -> Change:
    queue = str(fields.get("QueueUrl") or "").rstrip("/").rsplit("/", 1)[-1] or fields.get("QueueName")
    selectors: set[Selector] = {("sqs", str(queue))} if queue else {("sqs", None)}  # type: ignore[arg-type]
    if action in ("CreateQueue", "DeleteQueue", "TagQueue", "UntagQueue") or not queue:
        selectors.add(("svc", "sqs"))
    return Change(frozenset(selectors), wait=action != "ReceiveMessage")


def _request_fields(environ: dict[str, Any]) -> dict[str, Any]:
    """Top-level fields of a JSON or form body (or query string), leaving the body readable."""
    import io

    body = b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length and length < (1 << 20):
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
    fields: dict[str, Any] = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if body[:1] == b"{":
        try:
            document = json.loads(body)
            if isinstance(document, dict):
                fields.update(document)
        except ValueError:
            pass
    elif body:
        fields.update({k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
    return fields


# -- the store ------------------------------------------------------------------------------------------
@dataclass
class RestoreReport:
    entities: int = 0
    journal_frames: int = 0
    dropped_bytes: int = 0
    blobs_collected: int = 0
    counts: dict[str, int] = field(default_factory=dict)


class DurableState:
    """The emulator's state directory: restore at start, journal while running, checkpoint at stop."""

    def __init__(
        self,
        directory: Path,
        *,
        fsync: bool = False,
        scan_interval: float = 60.0,
        journal_limit: int = 64 << 20,
    ):
        self.directory = Path(directory)
        self.fsync = fsync
        self.scan_interval = scan_interval
        self.journal_limit = journal_limit
        self._images: dict[EntityId, Image] = {}
        self._blobs: BlobStore | None = None
        self._imager: StateImager | None = None
        self._journal_fd: int | None = None
        self._lock_file: Any = None
        self._cond = threading.Condition()
        self._dirty: set[Selector] = set()
        self._next_generation = 1
        self._done_generation = 0
        self._failures: dict[int, BaseException] = {}
        self._closing = False
        self._thread: threading.Thread | None = None
        self.commits = 0

    # lifecycle ----------------------------------------------------------------------------------
    def open(self) -> RestoreReport:
        """Lock the directory, load checkpoint + journal into moto, start the committer."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.directory / LOCK, "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            raise DurabilityError(
                f"{self.directory} is in use by another running lake; stop it first or use another --data directory"
            ) from None
        self._blobs = BlobStore(self.directory / "blobs")
        self._imager = StateImager(self._blobs)
        report = RestoreReport()
        try:
            images = self._read_checkpoint()
            report.journal_frames, report.dropped_bytes = self._replay_journal(images)
            if images:
                report.counts = install(images, self._blobs)
        except Exception as exc:
            self._release()
            if isinstance(exc, DurabilityError):
                raise
            raise DurabilityError(
                f"the lake's saved state in {self.directory} cannot be loaded ({type(exc).__name__}: {exc}); "
                "move that directory away to start with an empty lake"
            ) from exc
        self._images = images
        report.entities = len(images)
        report.blobs_collected = self._blobs.collect(self._live_blobs())
        self._journal_fd = os.open(self.directory / JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._thread = threading.Thread(target=self._committer, name="datalake-durability", daemon=True)
        self._thread.start()
        if images:
            logger.info("restored %s from %s", report.counts, self.directory)
        return report

    def close(self) -> None:
        """Save everything (a full scan), write a checkpoint, release the directory."""
        if self._thread is None:
            return
        with self._cond:
            self._dirty.add(KNOWN)
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        self._thread = None
        self.checkpoint()
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None
        self._release()

    def _release(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    # requests -------------------------------------------------------------------------------------
    def record(self, change: Change) -> None:
        """Note what a request changed; if it must wait, return only once that is on disk."""
        with self._cond:
            if self._thread is None:
                raise DurabilityError("the state directory is closed")
            self._dirty |= change.selectors
            generation = self._next_generation
            self._cond.notify_all()
            if not change.wait:
                return
            while self._done_generation < generation:
                self._cond.wait()
            failure = self._failures.get(generation)
        if failure is not None:
            raise DurabilityError(f"could not save the lake's state: {failure}") from failure

    def flush(self) -> None:
        """Save every entity of the emulator now (a full scan) and wait for it."""
        self.record(Change(frozenset({ALL})))

    def wrap(self, app: WSGIApp) -> WSGIApp:
        return DurableApp(app, self)

    # the committer ----------------------------------------------------------------------------------
    def _committer(self) -> None:
        next_scan = time.monotonic() + self.scan_interval
        while True:
            with self._cond:
                while not self._dirty and not self._closing:
                    remaining = next_scan - time.monotonic()
                    if remaining <= 0:
                        self._dirty.add(KNOWN)
                        break
                    self._cond.wait(remaining)
                if not self._dirty and self._closing:
                    return
                selectors, self._dirty = self._dirty, set()
                generation = self._next_generation
                self._next_generation += 1
            if ALL in selectors or KNOWN in selectors:
                next_scan = time.monotonic() + self.scan_interval
            failure: BaseException | None = None
            try:
                self._commit(selectors)
            except Exception as exc:
                logger.exception("saving the lake's state failed")
                failure = exc
                if self._imager is not None:
                    self._imager.forget()
            with self._cond:
                if failure is not None:
                    self._failures[generation] = failure
                    self._dirty |= selectors  # try again with the next commit
                self._failures = {g: f for g, f in self._failures.items() if g >= generation - 100}
                self._done_generation = generation
                self._cond.notify_all()

    def _commit(self, selectors: set[Selector]) -> None:
        assert self._imager is not None and self._journal_fd is not None
        images = self._imager.images(selectors, list(self._images))
        changed: dict[EntityId, Image | None] = {}
        for entity, image in images.items():
            if image is UNCHANGED:
                continue
            previous = self._images.get(entity)
            if image is None and previous is None:
                continue
            if image is not None and previous is not None and image.data == previous.data:
                continue
            changed[entity] = image
        if not changed:
            return
        payload = pickle.dumps(changed, protocol=pickle.HIGHEST_PROTOCOL)
        os.write(self._journal_fd, FRAME_HEADER.pack(len(payload), zlib.crc32(payload)) + payload)
        if self.fsync:
            os.fsync(self._journal_fd)
        for entity, image in changed.items():
            if image is None:
                self._images.pop(entity, None)
            else:
                self._images[entity] = image
        self.commits += 1
        if os.fstat(self._journal_fd).st_size > self.journal_limit:
            self.checkpoint()

    # files --------------------------------------------------------------------------------------------
    def checkpoint(self) -> None:
        """Write every image to the checkpoint (atomically), then empty the journal."""
        tmp = self.directory / f".{CHECKPOINT}.tmp"
        with open(tmp, "wb") as out:
            pickle.dump({"format": FORMAT_VERSION, "images": self._images}, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.directory / CHECKPOINT)
        if self._journal_fd is not None:
            os.ftruncate(self._journal_fd, 0)
        if self._blobs is not None:
            self._blobs.collect(self._live_blobs())

    def _live_blobs(self) -> set[str]:
        return {blob for image in self._images.values() for blob in image.blobs}

    def _read_checkpoint(self) -> dict[EntityId, Image]:
        path = self.directory / CHECKPOINT
        if not path.exists():
            return {}
        with open(path, "rb") as source:
            document = pickle.load(source)
        if document.get("format") != FORMAT_VERSION:
            raise DurabilityError(f"{path} was written by another datalake version; move it away to start afresh")
        return dict(document["images"])

    def _replay_journal(self, images: dict[EntityId, Image]) -> tuple[int, int]:
        """Apply every whole frame; cut off a torn tail. Returns (frames applied, bytes dropped)."""
        path = self.directory / JOURNAL
        if not path.exists():
            return 0, 0
        data = path.read_bytes()
        offset = frames = 0
        while offset + FRAME_HEADER.size <= len(data):
            length, crc = FRAME_HEADER.unpack_from(data, offset)
            start, end = offset + FRAME_HEADER.size, offset + FRAME_HEADER.size + length
            if end > len(data) or zlib.crc32(data[start:end]) != crc:
                break
            for entity, image in pickle.loads(data[start:end]).items():
                if image is None:
                    images.pop(entity, None)
                else:
                    images[entity] = image
            offset, frames = end, frames + 1
        dropped = len(data) - offset
        if dropped:
            logger.warning("dropping %d bytes of a journal frame cut by a crash (never acknowledged)", dropped)
            with open(path, "r+b") as journal:
                journal.truncate(offset)
        return frames, dropped


# -- the middleware -------------------------------------------------------------------------------------
class DurableApp:
    """WSGI middleware: answer a state-changing request only once its changes are saved."""

    def __init__(self, app: WSGIApp, state: DurableState):
        self.app = app
        self.state = state

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            change = classify_request(environ)
        except Exception:  # never guess "read" for a request we do not understand
            logger.exception("could not classify a request; saving everything")
            change = Change(frozenset({ALL}))
        if change is None:
            return self.app(environ, start_response)
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured[:] = [status, headers, exc_info]
            return chunks.append

        chunks: list[bytes] = []
        result = self.app(environ, capture)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        try:
            self.state.record(change)
        except DurabilityError as exc:
            message = f"datalake: the local lake could not save this change: {exc}".encode()
            start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Retry-After", "1")])
            return [message]
        start_response(*captured)
        return [b"".join(chunks)]


def durable_server(state: DurableState, host: str, port: int) -> Any:
    """A ThreadedMotoServer whose WSGI app is wrapped by :class:`DurableApp`."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class DurableMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = state.wrap(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return DurableMotoServer(ip_address=host, port=port, verbose=False)


def attach(state: DurableState, emulator: Any) -> None:
    """Serve `emulator` through the durable middleware (call before it starts)."""
    emulator._server = durable_server(state, emulator.host, emulator.port)

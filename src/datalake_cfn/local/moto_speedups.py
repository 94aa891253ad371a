"""moto's hot spots under a burst, made cheap without changing a single answer it gives.

A burst of 1,000 uploads queues 1,000 S3 events, and moto 5's SQS then goes quadratic:

- every received message is checked against the queue's retention period by building the
  queue's *whole* attribute map (`Queue.attributes`), which counts the visible, in-flight and
  delayed messages by scanning all of them: one ReceiveMessage of 10 scans the queue 30 times
  (measured: 0.86 s of GIL per receive with 1,000 messages queued);
- every SendMessage builds that same map to read one flag (`ContentBasedDeduplication`);
- each scan asks every message whether it is visible or delayed, and each of those asks
  for the time by building two datetimes.

Here the retention check and the send read the one attribute they need, and the SQS
module's clock is `time.time()` (what `utcnow() - epoch` computes, without the datetimes).

For large objects, moto's CompleteMultipartUpload copies the whole object five times while
holding the GIL (the parts into one buffer, again into the checksum builder, both into
bytes), and every large value is written to its key's memory spool before that spool copies
it to a file; here the parts are read once, into one buffer of the object's size, the
full-object checksum is computed over that buffer, and a value larger than the spool goes
straight to its file (6 x 190 MB multipart uploads: CompleteMultipartUpload 0.75 -> 0.45 s
each, the emulator's CPU 7.2-8.5 -> 5.7 s). A part, which lives only until its upload
completes, stays in memory instead of going to a file that is then read back twice (for its
ETag, and at completion). ETag, checksum, size and contents are the same bytes as before.

Every request, moto's server picks the service's app by asking whether the host it inferred
(`s3.us-east-1.amazonaws.com`) names one of moto's modules, which lists moto's package directory
and stats each of its ~150 entries, then matches the host against every service's URL
patterns in turn, all under one lock that serialises every request: on 1,000 small PUTs and
GETs, a third of the server's time. Here the directory is listed once (it does not change
while moto runs) and the backend found for a host is remembered (a host that names none is
looked up again, so moto still says so each time). The server's line per request is no longer
formatted to be dropped.

Applied once per process by :class:`datalake_cfn.local.emulator.Emulator`, and only where moto
still has what a patch replaces; the multipart one, a copy of moto 5's logic, only on moto 5.
`tests/local/test_moto_speedups.py` compares each answer with moto's own.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import insort
from typing import Any

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_installed = False
ORIGINALS: dict[str, Any] = {}  # what each patch replaced, by name (the tests compare the two)


def _unix_time(dt: Any = None) -> float:
    """moto's `unix_time` (seconds since the epoch, UTC) without building datetimes when asked for now."""
    if dt is not None:
        from moto.core.utils import unix_time

        return unix_time(dt)
    return time.time()


def _unix_time_millis(dt: Any = None) -> float:
    return _unix_time(dt) * 1000.0


_sending = threading.local()  # the queue this thread's SendMessage is being handled for


def _patch_sqs() -> None:
    from moto.sqs import models

    if hasattr(models, "unix_time") and hasattr(models, "unix_time_millis"):
        ORIGINALS["sqs.unix_time"] = models.unix_time
        models.unix_time = _unix_time
        models.unix_time_millis = _unix_time_millis

    backend = models.SQSBackend
    if hasattr(backend, "is_message_valid_based_on_retention_period"):

        def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
            retention_period = self.get_queue(queue_name).message_retention_period
            return retention_period + message.sent_timestamp / 1000 > models.unix_time()

        ORIGINALS["sqs.retention"] = backend.is_message_valid_based_on_retention_period
        backend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period

    full_attributes = getattr(models.Queue, "attributes", None)
    if not (isinstance(full_attributes, property) and full_attributes.fget is not None):
        return
    full = full_attributes.fget
    original_send = backend.send_message

    def attributes(queue: Any) -> dict[str, Any]:
        """The whole map, except inside this thread's SendMessage: there only the flag it reads."""
        if getattr(_sending, "queue", None) is not queue:
            return full(queue)
        if not queue.fifo_queue:  # the map has FIFO attributes only for FIFO queues
            return {}
        return {"ContentBasedDeduplication": str(bool(queue.content_based_deduplication)).lower()}

    def send_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        _sending.queue = self.get_queue(queue_name)
        try:
            return original_send(self, queue_name, *args, **kwargs)
        finally:
            _sending.queue = None

    ORIGINALS["sqs.attributes"] = full_attributes
    ORIGINALS["sqs.send_message"] = original_send
    models.Queue.attributes = property(attributes)
    backend.send_message = send_message


def _complete(self: Any, body: Any) -> tuple[bytearray, str, tuple[str, str, int] | None]:
    """moto's FakeMultipart.complete, each part read once, straight into one buffer of the object's size.

    moto builds the object by growing a buffer part by part from a fresh copy of each part and
    copies it once more into `bytes`; a 190 MB object cost 0.7 s of the emulator's time in
    copies and the page faults of each new buffer. Here the buffer is allocated once at the
    object's size, each part's spool is read into its slice, and the full-object checksum
    is computed over that same buffer (what MultipartChecksumBuilder.build does over its copy).
    """
    import codecs

    from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML
    from moto.s3.models import S3_UPLOAD_PART_MIN_SIZE, MultipartChecksumBuilder
    from moto.s3.utils import compute_checksum
    from moto.utilities.utils import md5_hash

    decode_hex = codecs.getdecoder("hex_codec")
    parts = []
    last = None
    for number, etag in body:
        part = self.parts.get(number)
        if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
            raise InvalidPart()
        if last is not None and last.contentsize < S3_UPLOAD_PART_MIN_SIZE:
            raise EntityTooSmall()
        parts.append(part)
        last = part
    if not parts:
        raise MalformedXML
    builder = MultipartChecksumBuilder(
        self.metadata.get("x-amz-checksum-algorithm"), self.metadata.get("x-amz-checksum-type")
    )
    composite = builder.checksum_type == "COMPOSITE"
    data = bytearray(sum(part.contentsize for part in parts))
    view = memoryview(data)
    md5s = bytearray()
    position = 0
    for part in parts:
        md5s.extend(decode_hex(part.etag.replace('"', ""))[0])
        piece = view[position : position + part.contentsize]
        with part.lock:
            part._value_buffer.seek(0)
            if part._value_buffer.readinto(piece) != len(piece):
                raise InvalidPart()  # a part shorter than it says: never from moto's own parts
        if composite:
            builder.addPart(piece)
        position += len(piece)
    view.release()
    if composite:
        checksum = builder.build()
    else:
        checksum = (builder.checksum_type, compute_checksum(data, builder.checksum_algorithm).decode(), 1)
    full_etag = md5_hash()
    full_etag.update(bytes(md5s))
    return data, f"{full_etag.hexdigest()}-{len(parts)}", checksum


def _set_value(self: Any, new_value: bytes) -> None:
    """moto's FakeKey.value setter, a value larger than the key's memory buffer written straight to its spool file.

    moto writes every value into the SpooledTemporaryFile's memory first, which then, being over
    its size, copies it all to a temporary file: two more copies of a large object.
    """
    from moto.s3.models import DEFAULT_TEXT_ENCODING

    self._value_buffer.seek(0)
    self._value_buffer.truncate()
    if isinstance(new_value, str):
        new_value = new_value.encode(DEFAULT_TEXT_ENCODING)
    if len(new_value) > self._max_buffer_size:
        self._value_buffer.rollover()
    self._value_buffer.write(new_value)
    self.contentsize = len(new_value)


def _set_part(self: Any, part_id: int, value: bytes) -> Any:
    """moto's FakeMultipart.set_part, the part kept in memory with its ETag computed from the bytes at hand.

    A part lives only until its upload completes or aborts, yet moto spools every part over
    5 MB to a temporary file, reads it back whole to compute its ETag, and reads it once more
    at completion: for the 8 MiB parts of boto3's uploads, writing and re-reading those files
    was a third of the emulator's CPU time on 10 x 100 MB through the lake (sampled: 9.8 of 29.7
    s). The ETag is the same MD5 that moto's `FakeKey.etag` computes over the same bytes.
    """
    from moto.s3.exceptions import NoSuchUpload
    from moto.s3.models import FakeKey
    from moto.utilities.utils import md5_hash

    if part_id < 1:
        raise NoSuchUpload(upload_id=part_id)
    if isinstance(value, str):
        from moto.s3.models import DEFAULT_TEXT_ENCODING

        value = value.encode(DEFAULT_TEXT_ENCODING)
    key = FakeKey(
        part_id,  # type: ignore[arg-type]  (moto names a part by its number)
        value,
        account_id=self.account_id,
        region_name=self.region_name,
        etag=md5_hash(value).hexdigest(),
        max_buffer_size=len(value) + 1,
        encryption=self.sse_encryption,
        kms_key_id=self.kms_key_id,
    )
    if part_id in self.parts:
        self.parts[part_id].dispose()  # an overwritten part: dispose of it first, as moto does
    self.parts[part_id] = key
    if part_id not in self.partlist:
        insort(self.partlist, part_id)
    return key


def _patch_multipart() -> None:
    import moto
    from moto.s3 import models

    if not moto.__version__.startswith("5."):  # _complete restates moto 5's FakeMultipart.complete
        return
    multipart = getattr(models, "FakeMultipart", None)
    builder = getattr(models, "MultipartChecksumBuilder", None)
    if multipart is None or builder is None or not hasattr(builder(None, None), "complete_object"):
        return
    ORIGINALS["s3.complete"] = multipart.complete
    multipart.complete = _complete
    ORIGINALS["s3.set_part"] = multipart.set_part
    multipart.set_part = _set_part
    value = getattr(models.FakeKey, "value", None)
    if isinstance(value, property) and value.fget is not None and value.fset is not None:
        ORIGINALS["s3.set_value"] = value.fset
        models.FakeKey.value = value.setter(_set_value)


def _patch_dispatch() -> None:
    from moto import backends
    from moto.moto_server import werkzeug_app

    dispatcher = getattr(werkzeug_app, "DomainDispatcherApplication", None)
    listing = getattr(backends, "list_of_moto_modules", None)
    if dispatcher is None or listing is None or not hasattr(dispatcher, "get_backend_for_host"):
        return
    modules: list[tuple[str, ...]] = []

    def list_of_moto_modules() -> tuple[str, ...]:
        if not modules:
            modules.append(tuple(listing()))
        return modules[0]

    ORIGINALS["server.list_of_moto_modules"] = listing
    backends.list_of_moto_modules = list_of_moto_modules
    lookup = dispatcher.get_backend_for_host
    ORIGINALS["server.get_backend_for_host"] = lookup
    found: dict[str | None, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        backend = found.get(host)
        if backend is None:
            backend = lookup(self, host)
            if backend is not None:
                found[host] = backend
        return backend

    dispatcher.get_backend_for_host = get_backend_for_host


def _patch_request_log() -> None:
    """The server's line per request is formatted (path decoded, date rendered) only when it is logged.

    werkzeug formats it before its logger drops it; the emulator sets that logger to ERROR. A
    logger with no level is left to werkzeug, which sets it to INFO at its first line.
    """
    from werkzeug.serving import WSGIRequestHandler

    original = WSGIRequestHandler.log_request
    ORIGINALS["server.log_request"] = original
    werkzeug_logger = logging.getLogger("werkzeug")

    def log_request(self: Any, code: int | str = "-", size: int | str = "-") -> None:
        if werkzeug_logger.level == logging.NOTSET or werkzeug_logger.isEnabledFor(logging.INFO):
            original(self, code, size)

    WSGIRequestHandler.log_request = log_request  # type: ignore[method-assign]


def install() -> None:
    """Apply the patches (idempotent, thread-safe)."""
    global _installed
    with _lock:
        if _installed:
            return
        _patch_sqs()
        _patch_multipart()
        _patch_dispatch()
        _patch_request_log()
        _installed = True

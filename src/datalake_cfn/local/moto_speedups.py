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
bytes); here the parts are read once and the full-object checksum is computed over the same
buffer. ETag, checksum, size and contents are the same bytes as before.

Applied once per process by :class:`datalake_cfn.local.emulator.Emulator`, and only where moto
still has what a patch replaces; the multipart one, a copy of moto 5's logic, only on moto 5.
`tests/local/test_moto_speedups.py` compares each answer with moto's own.
"""

from __future__ import annotations

import logging
import threading
import time
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


def _complete(self: Any, body: Any) -> tuple[bytes, str, tuple[str, str, int] | None]:
    """moto's FakeMultipart.complete, reading each part once and checksumming the whole object in place."""
    import codecs

    from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML
    from moto.s3.models import S3_UPLOAD_PART_MIN_SIZE, MultipartChecksumBuilder
    from moto.utilities.utils import md5_hash

    checksum_algo = self.metadata.get("x-amz-checksum-algorithm")
    checksum_type = self.metadata.get("x-amz-checksum-type")
    decode_hex = codecs.getdecoder("hex_codec")
    total = bytearray()
    md5s = bytearray()
    builder = MultipartChecksumBuilder(checksum_algo, checksum_type)
    composite = builder.checksum_type == "COMPOSITE"
    last = None
    count = 0
    for number, etag in body:
        part = self.parts.get(number)
        part_etag = None
        if part is not None:
            part_etag = part.etag.replace('"', "")
            etag = etag.replace('"', "")
        if part is None or part_etag != etag:
            raise InvalidPart()
        if last is not None and last.contentsize < S3_UPLOAD_PART_MIN_SIZE:
            raise EntityTooSmall()
        md5s.extend(decode_hex(part_etag)[0])
        value = part.value
        total.extend(value)
        if composite:
            builder.addPart(value)
        else:
            builder.part_count += 1
        last = part
        count += 1
    if count == 0:
        raise MalformedXML
    data = bytes(total)
    del total
    if not composite:
        builder.complete_object = data  # build() checksums it as it would its own copy (bytes(data) is data)
    full_etag = md5_hash()
    full_etag.update(bytes(md5s))
    return data, f"{full_etag.hexdigest()}-{count}", builder.build()


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


def install() -> None:
    """Apply the patches (idempotent, thread-safe)."""
    global _installed
    with _lock:
        if _installed:
            return
        _patch_sqs()
        _patch_multipart()
        _installed = True

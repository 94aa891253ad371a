"""Streaming S3 output: a writable byte stream that becomes a multipart upload when large.

boto3's managed transfers read from a file; the zone engine produces bytes as it goes, so
this adapter buffers one part at a time (bounded memory: a part is at least `part_size`,
at most that plus one write), switches to a multipart upload when the output outgrows
one part, and commits or aborts explicitly: an object that was half written is never
visible. Tags and lineage metadata ride on PutObject or on
CreateMultipartUpload (UploadPart cannot carry them).

One part is uploaded in the background while the engine fills the next: an upload is a
wait on the network (or, locally, on the emulator's process) that would otherwise stall the
engine once per part. At most one part is in flight, so the writer holds two parts at
most, and a failed upload is raised by the next part or by commit.
"""

from __future__ import annotations

import io
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

PART_SIZE = 16 << 20  # S3's minimum part is 5 MiB; 16 MiB keeps 10,000 parts above 150 GB


class S3ObjectWriter(io.RawIOBase):
    """Write-only stream to `s3://bucket/key`; call :meth:`commit` to publish or :meth:`abort`."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        key: str,
        *,
        tags: dict[str, str],
        metadata: dict[str, str],
        content_type: str,
        kms_key_id: str | None = None,
        part_size: int = PART_SIZE,
    ):
        self._s3 = s3
        self._args: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "Tagging": urlencode(tags),
            "Metadata": metadata,
            "ContentType": content_type,
        }
        if kms_key_id:
            self._args |= {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id, "BucketKeyEnabled": True}
        self._part_size = part_size
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._uploader: ThreadPoolExecutor | None = None
        self._in_flight: Future[dict[str, Any]] | None = None
        self.bytes_written = 0
        self.response: dict[str, Any] = {}

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._buffer += view
        self.bytes_written += len(view)
        if len(self._buffer) >= self._part_size:
            # The whole buffer is the part, handed over rather than copied: slicing out exactly
            # one part size took two copies of it (the slice, then bytes()) at the writer's peak.
            # S3 wants every part but the last to be at least 5 MiB, not all the same size.
            body, self._buffer = self._buffer, bytearray()
            self._upload_part(body)
        return len(view)

    def close(self) -> None:
        """Closing the stream (as pyarrow does) does not publish; commit() does."""
        super().close()

    def commit(self) -> dict[str, Any]:
        try:
            if self._upload_id is None:
                self.response = self._s3.put_object(Body=self._buffer, **self._args)
            else:
                if self._buffer:
                    self._upload_part(self._buffer)
                self._finish_in_flight()
                self.response = self._s3.complete_multipart_upload(
                    Bucket=self._args["Bucket"],
                    Key=self._args["Key"],
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        finally:
            self._stop_uploader()
        self._buffer.clear()
        return self.response

    def abort(self) -> None:
        if self._in_flight is not None:
            self._in_flight.exception()  # wait for it: a part landing after the abort would be billed storage
            self._in_flight = None
        self._stop_uploader()
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(
                Bucket=self._args["Bucket"], Key=self._args["Key"], UploadId=self._upload_id
            )
            self._upload_id = None
        self._buffer.clear()

    def _upload_part(self, body: bytearray) -> None:
        if self._upload_id is None:
            self._upload_id = self._s3.create_multipart_upload(**self._args)["UploadId"]
            self._uploader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="s3-part-upload")
        self._finish_in_flight()
        number = len(self._parts) + 1
        assert self._uploader is not None
        self._in_flight = self._uploader.submit(self._send_part, number, body)

    def _send_part(self, number: int, body: bytearray) -> dict[str, Any]:
        response = self._s3.upload_part(
            Bucket=self._args["Bucket"], Key=self._args["Key"], UploadId=self._upload_id, PartNumber=number, Body=body
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

    def _finish_in_flight(self) -> None:
        """Wait for the part in flight; its failure is raised here, to the engine."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            self._parts.append(in_flight.result())

    def _stop_uploader(self) -> None:
        if self._uploader is not None:
            self._uploader.shutdown(wait=True)
            self._uploader = None

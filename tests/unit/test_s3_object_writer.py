"""The engine's streaming S3 output: one PutObject when small, a multipart upload when large,
and nothing visible until commit (moto in-process)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from zone_consumer.s3io import S3ObjectWriter

MIB = 1 << 20
BUCKET = "writer-test"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def writer(s3: Any, key: str, part_size: int = 5 * MIB) -> S3ObjectWriter:
    return S3ObjectWriter(
        s3,
        BUCKET,
        key,
        tags={"dataclassification": "internal"},
        metadata={"datalake-source-key": "sales/a.csv"},
        content_type="text/csv",
        part_size=part_size,
    )


def uneven_chunks(total: int) -> list[bytes]:
    """Chunks of 1 byte to 3 MiB whose sum is `total`, with distinct content."""
    chunks, size, n = [], 0, 0
    while size < total:
        length = min(total - size, (n * 797_003) % (3 * MIB) + 1)
        chunks.append(os.urandom(length))
        size += length
        n += 1
    return chunks


def test_a_large_output_is_one_multipart_object_with_every_byte_in_order(s3: Any) -> None:
    chunks = uneven_chunks(23 * MIB + 12_345)
    out = writer(s3, "sales/big.csv")
    for chunk in chunks:
        assert out.write(chunk) == len(chunk)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads"), "the output outgrew a part: a multipart upload"
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET), "visible before commit"
    out.commit()
    body = s3.get_object(Bucket=BUCKET, Key="sales/big.csv")
    assert body["Body"].read() == b"".join(chunks)
    assert body["ContentType"] == "text/csv" and body["Metadata"] == {"datalake-source-key": "sales/a.csv"}
    assert int(body["ETag"].strip('"').split("-")[1]) == len(out._parts) >= 4
    sizes = [s3.head_object(Bucket=BUCKET, Key="sales/big.csv", PartNumber=n)["ContentLength"] for n in (1, 2, 3)]
    assert all(size >= 5 * MIB for size in sizes)  # S3's minimum, for every part but the last
    tags = s3.get_object_tagging(Bucket=BUCKET, Key="sales/big.csv")["TagSet"]
    assert tags == [{"Key": "dataclassification", "Value": "internal"}]
    assert out.bytes_written == sum(map(len, chunks))


def test_a_small_output_is_one_put(s3: Any) -> None:
    out = writer(s3, "sales/small.csv")
    out.write(b"id,amount\n")
    out.write(memoryview(b"1,10\n"))
    out.commit()
    assert not s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads")
    assert s3.get_object(Bucket=BUCKET, Key="sales/small.csv")["Body"].read() == b"id,amount\n1,10\n"


def test_an_aborted_output_leaves_no_object_and_no_upload(s3: Any) -> None:
    out = writer(s3, "sales/half.csv")
    for chunk in uneven_chunks(12 * MIB):
        out.write(chunk)
    out.abort()
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)
    assert not s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads")


class SlowParts:
    """An S3 client whose UploadPart blocks until released, counting parts in flight at once."""

    def __init__(self, fail_part: int | None = None) -> None:
        self.release = threading.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()
        self.fail_part = fail_part
        self.calls: list[str] = []

    def create_multipart_upload(self, **_: Any) -> dict[str, str]:
        self.calls.append("create")
        return {"UploadId": "u1"}

    def upload_part(self, *, PartNumber: int, Body: bytearray, **_: Any) -> dict[str, str]:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            assert self.release.wait(10), "the test never released the part"
            if PartNumber == self.fail_part:
                raise ConnectionError(f"part {PartNumber} lost")
            self.calls.append(f"part {PartNumber} ({len(Body)} bytes)")
            return {"ETag": f'"etag-{PartNumber}"'}
        finally:
            with self.lock:
                self.in_flight -= 1

    def complete_multipart_upload(self, *, MultipartUpload: dict, **_: Any) -> dict[str, Any]:
        self.calls.append("complete " + ",".join(p["ETag"] for p in MultipartUpload["Parts"]))
        return {"ETag": '"whole-2"'}

    def abort_multipart_upload(self, **_: Any) -> None:
        self.calls.append("abort")


def test_the_engine_fills_the_next_part_while_one_uploads() -> None:
    client = SlowParts()
    out = writer(client, "overlap.csv", part_size=MIB)
    out.write(b"a" * MIB)  # part 1 goes out and blocks in UploadPart ...
    returned = threading.Event()
    filler = threading.Thread(target=lambda: (out.write(b"b" * (MIB // 2)), returned.set()))
    filler.start()
    assert returned.wait(5), "writing stalled on the part in flight"  # ... while the engine goes on writing
    filler.join()
    client.release.set()
    out.commit()
    assert client.most_in_flight == 1  # one part in flight, so at most two parts in memory
    assert client.calls == [
        "create",
        f"part 1 ({MIB} bytes)",
        f"part 2 ({MIB // 2} bytes)",
        'complete "etag-1","etag-2"',
    ]


def test_a_part_that_failed_in_the_background_fails_the_commit_and_abort_cleans_up() -> None:
    client = SlowParts(fail_part=1)
    client.release.set()
    out = writer(client, "lost.csv", part_size=MIB)
    out.write(b"a" * MIB)
    out.write(b"b" * 10)
    with pytest.raises(ConnectionError, match="part 1 lost"):
        out.commit()
    out.abort()
    assert client.calls == ["create", "abort"]

"""The engine's streaming S3 output: one PutObject when small, a multipart upload when large,
and nothing visible until commit (moto in-process)."""

from __future__ import annotations

import os
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

"""Rows longer than the first read's 1 MiB block: read again with 2 MiB blocks, up to the 2 MiB
contract (tests/data/bad: a longer row is refused with its reason).

The first read uses small blocks because the block sets the engine's memory (docs/performance.md);
the contract on row length stays what it was. Both entry points that re-read an object are
covered: the consumer's ZonePipeline.process (GET again) and `transform_file` (the CLI's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from zone_consumer import formats
from zone_consumer.events import ObjectCreated
from zone_consumer.formats import InputError
from zone_consumer.pipeline import ZonePipeline
from zone_consumer.spec import ConsumerSpec, DatasetRoute

from datalake_cfn.cli.perf import transform_file
from datalake_cfn.cli.state import UserError
from datalake_cfn.config import parse_config

SPEC = ConsumerSpec(
    lake="unit",
    source_zone="raw",
    target_zone="staged",
    target_bucket="unit-staged",
    target_format="csv",
    clean=True,
    datasets=(DatasetRoute("sales", "sales/", "internal"),),
)


FIRST_BLOCK = 64 << 10  # the first read's block, small here so that a row of a few blocks is cheap


@pytest.fixture(autouse=True)
def small_first_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "BLOCK_SIZE", FIRST_BLOCK)


def csv_with_a_row_of(length: int) -> bytes:
    rows = [f"{i},note {i}" for i in range(20_000)]
    rows.insert(15_000, f'long,"{"x" * length}"')  # well past the first block
    return ("id,note\n" + "\n".join(rows) + "\n").encode()


# A row longer than twice a block always spans two block boundaries, which Arrow's streaming
# reader cannot read; one of at most a block spans at most one, which it always can.
LONG_FOR_THE_FIRST_READ = 3 * FIRST_BLOCK
LONGER_THAN_THE_CONTRACT = 2 * formats.MAX_ROW_BYTES + 1


class CountingS3:
    """The S3 client, counting GetObject calls (one per read of the object)."""

    def __init__(self, s3: Any):
        self._s3, self.gets = s3, 0

    def get_object(self, **kwargs: Any) -> Any:
        self.gets += 1
        return self._s3.get_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for bucket in ("unit-raw", "unit-staged"):
            client.create_bucket(Bucket=bucket)
        yield CountingS3(client)


def process(s3: Any, data: bytes) -> Any:
    etag = s3.put_object(Bucket="unit-raw", Key="sales/long.csv", Body=data)["ETag"].strip('"')
    obj = ObjectCreated("unit-raw", "sales/long.csv", len(data), etag, None, "2026-12-01T10:00:00.000Z", "Put")
    return ZonePipeline(SPEC, s3).process(obj)


def test_a_row_longer_than_the_first_block_is_read_with_larger_blocks(s3: CountingS3) -> None:
    result = process(s3, csv_with_a_row_of(LONG_FOR_THE_FIRST_READ))
    assert result.rows == 20_001 and s3.gets == 2
    out = s3.get_object(Bucket="unit-staged", Key="sales/long.csv")["Body"].read()
    assert ("x" * LONG_FOR_THE_FIRST_READ).encode() in out and b'"19999","note 19999"' in out
    assert not s3.list_multipart_uploads(Bucket="unit-staged").get("Uploads"), "the first try's upload was left"


def test_an_object_of_short_rows_is_read_once(s3: CountingS3) -> None:
    assert process(s3, csv_with_a_row_of(100)).rows == 20_001 and s3.gets == 1


def test_a_row_longer_than_the_contract_is_refused_with_its_reason(s3: CountingS3) -> None:
    with pytest.raises(InputError, match=r"a row is longer than 2 MiB, the longest row the lake reads"):
        process(s3, csv_with_a_row_of(LONGER_THAN_THE_CONTRACT))
    assert "Contents" not in s3.list_objects_v2(Bucket="unit-staged")
    assert not s3.list_multipart_uploads(Bucket="unit-staged").get("Uploads")


def test_the_cli_transform_reads_a_long_row_again_too(tmp_path: Path) -> None:
    config = parse_config({"lake": "unit", "datasets": [{"name": "sales"}]})
    source, target = tmp_path / "long.csv", tmp_path / "out" / "long.csv"
    source.write_bytes(csv_with_a_row_of(LONG_FOR_THE_FIRST_READ))
    report = transform_file(config, "sales", "raw", source, target)
    assert report.rows == 20_001 and ("x" * LONG_FOR_THE_FIRST_READ).encode() in target.read_bytes()
    source.write_bytes(csv_with_a_row_of(LONGER_THAN_THE_CONTRACT))
    with pytest.raises(UserError, match="longer than 2 MiB"):
        transform_file(config, "sales", "raw", source, tmp_path / "out" / "refused.csv")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["long.csv"]  # no partial file left

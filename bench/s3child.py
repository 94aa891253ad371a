"""I/O paths against the emulator, each in its own process: `python -m bench.s3child MODE ENDPOINT KEY`.

- `get`: one streamed GetObject, read to the end (the I/O floor).
- `download_file`: boto3's managed download to a temp file (what many Lambda handlers do).
- `engine-get`: the zone consumer itself (`ZonePipeline.process`): streamed GET -> engine ->
  S3 multipart upload, with tags and lineage metadata, exactly as in the lake.
- `engine-s3fs`: the same engine reading and writing through pyarrow's S3FileSystem.

The objects are the benchmark input, put in the bench lake's raw bucket by bench.run.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from typing import Any

from bench.measure import peak_rss_mb

REGION = "us-east-1"


def _client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def _spec():  # -> tuple[ConsumerSpec, DatasetRoute]
    from bench.engines import BENCH_LAKE, DATASET
    from datalake_cfn.cli.perf import hop_spec
    from datalake_cfn.config import parse_config

    return hop_spec(parse_config(BENCH_LAKE), DATASET, "raw")


def run_get(endpoint: str, bucket: str, key: str) -> dict:
    body = _client(endpoint).get_object(Bucket=bucket, Key=key)["Body"]
    size = 0
    for chunk in body.iter_chunks(1 << 20):
        size += len(chunk)
    return {"bytes": size}


def run_download_file(endpoint: str, bucket: str, key: str) -> dict:
    with tempfile.NamedTemporaryFile() as target:
        _client(endpoint).download_file(bucket, key, target.name)
        return {"bytes": os.path.getsize(target.name)}


def run_engine_get(endpoint: str, bucket: str, key: str) -> dict:
    from zone_consumer.events import ObjectCreated
    from zone_consumer.pipeline import ZonePipeline

    s3 = _client(endpoint)
    spec, _ = _spec()
    head = s3.head_object(Bucket=bucket, Key=key)
    etag = head["ETag"].strip('"')
    obj = ObjectCreated(bucket, key, head["ContentLength"], etag, None, "2026-01-01T00:00:00.000Z", "ObjectCreated:Put")
    result = ZonePipeline(spec, s3).process(obj)
    out = s3.head_object(Bucket=result.target_bucket, Key=result.target_key)
    return {"rows": result.rows, "output_bytes": out["ContentLength"]}


def run_engine_s3fs(endpoint: str, bucket: str, key: str) -> dict:
    from pyarrow import fs
    from zone_consumer.pipeline import output_key, transform_stream

    from bench.engines import INGESTED_AT

    spec, route = _spec()
    s3fs = fs.S3FileSystem(
        access_key="testing", secret_key="testing", region=REGION, endpoint_override=endpoint, scheme="http"
    )
    target = f"{spec.target_bucket}/{output_key(key, spec.target_format)}.s3fs"
    with s3fs.open_input_stream(f"{bucket}/{key}") as source, s3fs.open_output_stream(target) as sink:
        rows, _ = transform_stream(source, sink, spec=spec, dataset=route, source_key=key, ingested_at=INGESTED_AT)
    return {"rows": rows, "output_bytes": s3fs.get_file_info(target).size}


MODES = {
    "get": run_get,
    "download_file": run_download_file,
    "engine-get": run_engine_get,
    "engine-s3fs": run_engine_s3fs,
}


def main(argv: list[str]) -> None:
    mode, endpoint, bucket, key = argv
    started = time.perf_counter()
    report = MODES[mode](endpoint, bucket, key)
    print(json.dumps({**report, "seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main(sys.argv[1:])

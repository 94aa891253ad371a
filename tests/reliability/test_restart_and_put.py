"""After a `kill -9` and restart, verify never calls an in-flight object missing; a `put` of many files
into a lake that goes away midway says what was uploaded and what not (issue 14). Both through the
installed console script against `datalake up` in a subprocess."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
from reliability_helpers import wait_for
from test_durable_lake import UpProcess

from datalake_cfn.config import load_config
from datalake_cfn.naming import LakeNames

DATALAKE = str(Path(sys.executable).parent / "datalake")


def cli(lake_yaml: Path, data_dir: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DATALAKE, "--config", str(lake_yaml), "--data", str(data_dir), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
        timeout=timeout,
    )


def rows(i: int, n: int = 40_000) -> bytes:
    return ("id,amount,note\n" + "".join(f"{i * n + r},{r},row {r} of file {i}\n" for r in range(n))).encode()


def test_verify_after_a_kill_9_calls_nothing_in_flight_missing(lake_yaml: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "lake"
    names = LakeNames.for_config(load_config(lake_yaml))
    up = UpProcess(lake_yaml, data_dir)
    s3 = boto3.client("s3", endpoint_url=up.endpoint, region_name=names.region)
    for i in range(12):
        s3.put_object(Bucket=names.bucket("raw"), Key=f"sales/kill-{i:02d}.csv", Body=rows(i))

    def some_staged() -> bool:
        return bool(s3.list_objects_v2(Bucket=names.bucket("staged")).get("Contents"))

    wait_for(some_staged, 60, "the workers to be busy")
    up.stop(signal.SIGKILL)  # mid-batch: received messages stay in flight until their visibility timeout
    up = UpProcess(lake_yaml, data_dir)
    try:
        at_once = cli(lake_yaml, data_dir, "verify", "--wait", "0")
        assert "missing" not in at_once.stdout, at_once.stdout
        if at_once.returncode == 1:  # something was still in flight: said so, with when it comes back
            assert "in flight" in at_once.stdout and "visible again by" in at_once.stdout
        settled = cli(lake_yaml, data_dir, "verify")  # the default wait covers a visibility timeout
        assert settled.returncode == 0, settled.stdout + settled.stderr
        assert "every object is accounted for" in settled.stdout
    finally:
        up.stop(signal.SIGINT)


def test_put_of_many_files_into_a_lake_that_goes_away_says_what_made_it(lake_yaml: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "lake"
    folder = tmp_path / "sales"
    folder.mkdir()
    files = []
    for i in range(3):
        files.append(folder / f"small-{i}.csv")
        files[-1].write_bytes(b"id\n1\n")
    big = folder / "big.csv"
    big.write_bytes(rows(0, 1_500_000))  # tens of MB: the lake dies while this one uploads
    files += [big, folder / "after.csv"]
    files[-1].write_bytes(b"id\n2\n")
    up = UpProcess(lake_yaml, data_dir)
    put = subprocess.Popen(
        [DATALAKE, "--config", str(lake_yaml), "--data", str(data_dir), "put", *map(str, files)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "250", "AWS_MAX_ATTEMPTS": "2"},
    )
    assert put.stdout is not None
    seen = [put.stdout.readline() for _ in range(3)]
    assert all("small-" in line for line in seen), seen
    up.stop(signal.SIGKILL)
    out, err = put.communicate(timeout=180)
    assert put.returncode == 4, (out, err)
    assert "Traceback" not in err
    assert "uploaded 3 of 5 file(s)" in err and "small-2.csv" in err
    assert "not uploaded (2)" in err and "big.csv" in err and "after.csv" in err


def test_every_output_of_a_hop_has_the_same_lineage_types(lake_yaml: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "lake"
    names = LakeNames.for_config(load_config(lake_yaml))
    up = UpProcess(lake_yaml, data_dir)
    try:
        s3 = boto3.client("s3", endpoint_url=up.endpoint, region_name=names.region)
        s3.put_object(Bucket=names.bucket("raw"), Key="sales/rows.csv", Body=b"id,amount\n1,10\n")
        s3.put_object(Bucket=names.bucket("raw"), Key="sales/header-only.csv", Body=b"id,amount\n")

        def both() -> list[str]:
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket=names.bucket("curated")).get("Contents", [])]
            return keys if {"sales/rows.parquet", "sales/header-only.parquet"} <= set(keys) else []

        wait_for(both, 60, "both files in curated")
        schemas = {}
        for key in ("sales/rows.parquet", "sales/header-only.parquet"):
            body = s3.get_object(Bucket=names.bucket("curated"), Key=key)["Body"].read()
            schemas[key] = pq.read_schema(io.BytesIO(body))
        lineage = {k: (s.field("_source_key").type, s.field("_ingested_at").type) for k, s in schemas.items()}
        assert lineage["sales/rows.parquet"] == lineage["sales/header-only.parquet"]
        assert pa.types.is_timestamp(lineage["sales/header-only.parquet"][1])
    finally:
        up.stop(signal.SIGINT)

"""Nothing lost, nothing silently ignored (issue 14), with the real AWS CLI against `datalake up`.

- names that used to share one output (`a.csv.gz` and `a.csv`, `b.txt` and `b.csv`) each reach
  staged and curated with all their rows;
- objects outside every declared dataset (`misc/x.csv`, `y.csv` at the root) reach curated, are
  catalogued and queryable, and `status` and `verify` name them as undeclared;
- in a `strict` lake the same objects land in the DLQ on the first receive, with a reason naming
  their prefix.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import yaml
from zone_consumer.pipeline import output_key

from datalake_cfn.config import load_config
from datalake_cfn.naming import LakeNames

VENV_BIN = Path(sys.executable).parent
DATALAKE = str(VENV_BIN / "datalake")
LAKE = {
    "lake": "lostlake",
    "datasets": [
        {"name": "sales", "classification": "internal"},
        {"name": "clickstream", "classification": "public", "own_queue": True},
    ],
    "pipeline": {"max_receive_count": 3},
}
SOURCES = {  # key -> (bytes, rows)
    "sales/a.csv.gz": (gzip.compress(b"id,amount\n1,10\n2,20\n"), 2),
    "sales/a.csv": (b"id,amount\n3,30\n4,40\n5,50\n", 3),
    "sales/b.txt": (b"id,amount\n6,60\n", 1),
    "sales/b.csv": (b"id,amount\n7,70\n8,80\n", 2),
    "clickstream/c.csv": (b"page,ms\n/,10\n", 1),  # forwarded to its own queue by the shared consumer
    "misc/x.csv": (b"id,note\n9,undeclared\n10,also\n", 2),
    "y.csv": (b"id,note\n11,root\n", 1),
}


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def running_lake(tmp_path: Path, settings: dict[str, Any]) -> Iterator[tuple[Path, Path, str, LakeNames]]:
    lake_yaml = tmp_path / "lake.yaml"
    lake_yaml.write_text(yaml.safe_dump(settings))
    data_dir = tmp_path / "lake"
    up = subprocess.Popen(
        [DATALAKE, "--config", str(lake_yaml), "--data", str(data_dir), "up", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        wait_for((data_dir / "endpoint.json").exists, 60, "datalake up to write its endpoint")
        endpoint = json.loads((data_dir / "endpoint.json").read_text())["endpoint"]
        yield lake_yaml, data_dir, endpoint, LakeNames.for_config(load_config(lake_yaml))
    finally:
        up.send_signal(signal.SIGINT)
        up.communicate(timeout=60)


def aws_cp(tmp_path: Path, endpoint: str, names: LakeNames, key: str, data: bytes) -> None:
    local = tmp_path / "upload"
    local.write_bytes(data)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    env["AWS_DEFAULT_REGION"] = names.region
    copy = subprocess.run(
        [
            str(VENV_BIN / "aws"),
            "--endpoint-url",
            endpoint,
            "s3",
            "cp",
            str(local),
            f"s3://{names.bucket('raw')}/{key}",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert copy.returncode == 0, copy.stderr


def cli(lake_yaml: Path, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DATALAKE, "--config", str(lake_yaml), "--data", str(data_dir), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
        timeout=180,
    )


def test_every_file_reaches_curated_with_its_rows_and_undeclared_ones_are_named(tmp_path: Path) -> None:
    with running_lake(tmp_path, LAKE) as (lake_yaml, data_dir, endpoint, names):
        for key, (data, _) in SOURCES.items():
            aws_cp(tmp_path, endpoint, names, key, data)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=names.region)
        curated_keys = {key: output_key(output_key(key, "csv"), "parquet") for key in SOURCES}
        assert len(set(curated_keys.values())) == len(SOURCES)

        def all_landed() -> bool:
            listed = s3.list_objects_v2(Bucket=names.bucket("curated")).get("Contents", [])
            return set(curated_keys.values()) <= {o["Key"] for o in listed}

        wait_for(all_landed, 120, "every upload to reach curated")
        for key, (_, rows) in SOURCES.items():
            staged = s3.head_object(Bucket=names.bucket("staged"), Key=output_key(key, "csv"))
            assert staged["Metadata"]["datalake-source-key"] == key
            body = s3.get_object(Bucket=names.bucket("curated"), Key=curated_keys[key])["Body"].read()
            table = pq.read_table(io.BytesIO(body))
            assert table.num_rows == rows, key
            assert set(table.column("_source_key").to_pylist()) == {key}
        tags = s3.get_object_tagging(Bucket=names.bucket("curated"), Key=curated_keys["misc/x.csv"])["TagSet"]
        assert tags == [{"Key": "dataclassification", "Value": "secret"}]  # fail-closed: the highest level

        crawled = cli(lake_yaml, data_dir, "crawl")
        assert crawled.returncode == 0, crawled.stderr
        assert "undeclared dataset 'misc'" in crawled.stderr and "declare it in lake.yaml" in crawled.stderr
        misc = cli(lake_yaml, data_dir, "query", "select id, note from curated_misc order by id", "--format", "csv")
        assert misc.returncode == 0, misc.stderr
        assert misc.stdout.replace('"', "").split() == ["id,note", "9,undeclared", "10,also"]
        root = cli(lake_yaml, data_dir, "query", "select count(*) as n from curated_unsorted", "--format", "csv")
        assert root.returncode == 0 and root.stdout.replace('"', "").split() == ["n", "1"], root.stderr

        status = cli(lake_yaml, data_dir, "status")
        assert status.returncode == 0, status.stderr
        assert "undeclared dataset 'misc' (prefix 'misc/', 1 object(s): misc/x.csv)" in status.stdout
        assert "undeclared dataset 'unsorted' (the bucket root, 1 object(s): y.csv)" in status.stdout
        assert "declare it in lake.yaml" in status.stdout
        verify = cli(lake_yaml, data_dir, "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "every object is accounted for" in verify.stdout
        assert "undeclared dataset 'misc'" in verify.stdout and "y.csv" in verify.stdout


def test_a_strict_lake_dead_letters_undeclared_objects_naming_their_prefix(tmp_path: Path) -> None:
    with running_lake(tmp_path, {**LAKE, "lake": "strictlake", "strict": True}) as (
        lake_yaml,
        data_dir,
        endpoint,
        names,
    ):
        aws_cp(tmp_path, endpoint, names, "misc/x.csv", SOURCES["misc/x.csv"][0])
        aws_cp(tmp_path, endpoint, names, "y.csv", SOURCES["y.csv"][0])

        def two_letters() -> list[dict[str, Any]]:
            listed = cli(lake_yaml, data_dir, "dlq", "list", "--json")
            messages = json.loads(listed.stdout)["messages"] if listed.returncode == 0 else []
            return messages if len(messages) == 2 else []

        letters = {m["keys"][0].split("/", 1)[1]: m for m in wait_for(two_letters, 60, "two dead letters")}
        assert "prefix 'misc/'" in letters["misc/x.csv"]["reason"] and "strict" in letters["misc/x.csv"]["reason"]
        assert "the bucket root" in letters["y.csv"]["reason"]
        assert {m["attempts"] for m in letters.values()} == {"1"}  # refused at once: retrying cannot help
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=names.region)
        assert not s3.list_objects_v2(Bucket=names.bucket("staged")).get("Contents")

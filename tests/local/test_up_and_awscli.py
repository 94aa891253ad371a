"""`datalake up` runs a lake real AWS clients can use: a file copied with the AWS CLI reaches curated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3

from datalake_cfn.config import load_config
from datalake_cfn.naming import LakeNames

VENV_BIN = Path(sys.executable).parent


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_file_uploaded_with_the_aws_cli_reaches_curated(lake_yaml: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "lake"
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "datalake_cfn",
            "--config",
            str(lake_yaml),
            "--data",
            str(data_dir),
            "up",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # `up` checks every transform at start: the test lake's flaky_transforms lives beside this file
        env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(Path(__file__).parent)},
    )
    try:
        endpoint_file = data_dir / "endpoint.json"
        wait_for(endpoint_file.exists, 30, "datalake up to write its endpoint")
        endpoint = json.loads(endpoint_file.read_text())["endpoint"]
        names = LakeNames.for_config(load_config(lake_yaml))
        csv = tmp_path / "from cli.csv"
        csv.write_text("id,amount\n1,10\n2,20\n")
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": names.region,
        }
        copy = subprocess.run(
            [
                str(VENV_BIN / "aws"),
                "--endpoint-url",
                endpoint,
                "s3",
                "cp",
                str(csv),
                f"s3://{names.bucket('raw')}/sales/from cli.csv",
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        assert copy.returncode == 0, copy.stderr
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=names.region)

        def landed() -> bool:
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket=names.bucket("curated")).get("Contents", [])]
            return "sales/from cli.parquet" in keys

        wait_for(landed, 60, "the AWS CLI upload to reach curated")
        tags = s3.get_object_tagging(Bucket=names.bucket("curated"), Key="sales/from cli.parquet")["TagSet"]
        assert tags == [{"Key": "dataclassification", "Value": "internal"}]
    finally:
        up.send_signal(signal.SIGINT)
        out, err = up.communicate(timeout=30)
    assert up.returncode == 0, err
    assert endpoint in out and "AWS_ENDPOINT_URL" in out
    assert "stopped" in err
    assert not (data_dir / "endpoint.json").exists()

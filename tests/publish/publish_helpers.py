"""The installed commands, run as a person runs them, against the moto server of conftest.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from datalake_cfn.local.emulator import local_client

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BASE = "acme-artifacts"


def client(service: str, endpoint: str, region: str = "us-east-1"):
    return local_client(service, endpoint, region)


def env(endpoint: str | None = None) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    environ["COLUMNS"] = "200"
    if endpoint:
        environ["AWS_ENDPOINT_URL"] = endpoint
    return environ


def run(args: list[str], cwd: Path, endpoint: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env(endpoint), capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def build(cwd: Path, *args: str, endpoint: str | None = None) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, str(REPO / "build.py"), *args], cwd, endpoint)


def datalake(cwd: Path, *args: str, endpoint: str | None = None) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "datalake"), *args], cwd, endpoint)


def publish_json(cwd: Path, endpoint: str, *args: str, bucket: str = BASE) -> dict:
    """Publish into the emulator; each test module its own `bucket`, so the session's server is shared safely."""
    result = build(cwd, "publish", "--bucket", bucket, "--endpoint-url", endpoint, "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)

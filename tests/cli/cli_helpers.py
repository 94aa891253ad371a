"""What the CLI tests share: the installed `datalake` console script in a subprocess.

These tests never use CliRunner: it bypasses `main()`, the one error path they check.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from datalake_cfn.local.workers import WorkerSettings

DATALAKE = Path(sys.executable).parent / "datalake"
CLI_LAKE = {
    "lake": "clilake",
    "datasets": [
        {"name": "sales", "classification": "internal"},
        {"name": "customers", "classification": "confidential", "transform": "zone_consumer.samples:mask_emails"},
    ],
}
FAST = WorkerSettings(batch_size=10, batching_window_seconds=0.2, visibility_timeout_seconds=30, retry_delay_seconds=0)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_datalake(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> Result:
    """Run the installed console script, as a user's shell would (not a terminal: plain output)."""
    assert DATALAKE.exists(), f"console script not installed at {DATALAKE}"
    environment = {
        "PATH": f"{DATALAKE.parent}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "COLUMNS": "80",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        **(env or {}),
    }
    done = subprocess.run(
        [str(DATALAKE), *args], capture_output=True, text=True, cwd=cwd, env=environment, timeout=timeout
    )
    return Result(done.returncode, done.stdout, done.stderr)


def assert_clean(result: Result, code: int, *needles: str) -> None:
    """The documented exit code, no traceback, and a message naming the problem."""
    assert "Traceback" not in result.output, result.output
    assert result.returncode == code, f"exit {result.returncode}, expected {code}:\n{result.output}"
    for needle in needles:
        assert needle.lower() in result.output.lower(), f"{needle!r} not in:\n{result.output}"

"""`datalake --help` and `--version` load only the command line itself (issue 15, goal 5).

The time is the bench's to measure (bench/imports.py); what a test can hold is the cause: the
libraries a command needs are imported by that command, so starting the CLI never pays for
pydantic, the AWS SDK, Arrow or the emulator.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from cli_helpers import DATALAKE

HEAVY = ("pydantic", "yaml", "boto3", "botocore", "pyarrow", "numpy", "moto", "duckdb", "troposphere")


def imported_modules(*args: str) -> tuple[set[str], str]:
    """Top-level packages the console script imports for `args` (from -X importtime), and its stdout."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(DATALAKE), *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return modules, done.stdout


# Not a subcommand's --help: typer itself builds list-typed options with pydantic.
@pytest.mark.parametrize("args", [("--help",), ("--version",)])
def test_starting_the_cli_loads_no_heavy_library(args: tuple[str, ...]) -> None:
    modules, stdout = imported_modules(*args)
    assert "typer" in modules and stdout.strip()  # the measurement saw the CLI start and print
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))

"""The README's first command ends with curated Parquet for every sample dataset and a query result."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from datalake_cfn.cli.demo import sample_files


def test_demo_flows_every_sample_dataset_to_curated_and_queries_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "datalake_cfn", "demo"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "220"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    datasets = {dataset for dataset, _ in sample_files()}
    assert len(datasets) >= 3
    for dataset, path in sample_files():
        assert f"{dataset}/{path.stem}.parquet" in out, f"{dataset}/{path.stem}.parquet missing from curated"
    assert "confidential" in out
    assert "query result" in out and "revenue" in out
    assert "demo finished" in out
    assert "Traceback" not in result.stderr


def test_the_demo_ends_with_status_4_when_its_emulator_dies(
    emulator_death: Callable[[subprocess.Popen, float], str],
) -> None:
    """The installed `datalake demo`: its emulator killed once the samples are put, while the flow is
    watched; the demo says what happened at once instead of waiting for its timeout."""
    demo = subprocess.Popen(
        [str(Path(sys.executable).parent / "datalake"), "demo", "--timeout", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "220"},
    )
    try:
        assert demo.stdout is not None
        started = time.monotonic()
        puts = 0
        while puts < len(sample_files()):
            line = demo.stdout.readline()
            assert line, "the demo ended before it put every sample"
            puts += "put raw/" in line
        emulator_death(demo, 120)
    finally:
        demo.kill()
    assert time.monotonic() - started < 120  # well before the demo's 300 s timeout

"""The README's first command ends with curated Parquet for every sample dataset and a query result."""

from __future__ import annotations

import os
import subprocess
import sys

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

"""The benchmark harness itself, end to end on a tiny input (its numbers are not asserted: no timings)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # `bench` is a top-level package of the repository, not of datalake

from bench import run  # noqa: E402


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    (out / "performance.md").write_text("# P\n\n<!-- bench:engines -->\nold\n<!-- /bench:engines -->\nkept prose\n")
    code = run.main(
        [
            "--sizes=1MB",
            "--emulator-sizes=1MB",
            "--emulator-modes=engine-get,engine-s3fs",
            "--import-samples=1",
            "--no-lake",
            f"--data={out / 'data'}",
            f"--out={out}",
            f"--docs={out / 'performance.md'}",
            f"--throughput-file={out / 'throughput.json'}",
        ]
    )
    assert code == 0
    return out


def test_all_four_engines_run_in_their_own_process_and_agree(tiny_run: Path):
    result = json.loads((tiny_run / "engines.json").read_text())["runs"]["1MB"]
    assert set(result["engines"]) == {"pandas", "duckdb", "polars", "datalake"}
    for name, entry in result["engines"].items():
        assert entry["ok"], (name, entry["error"])
        assert entry["same_rows"] is True
        assert entry["peak_rss_mb"] > 10 and entry["output_bytes"] > 0
    rows = {entry["rows"] for entry in result["engines"].values()}
    assert len(rows) == 1 and rows.pop() > 1000
    assert result["all_same_rows"] is True
    assert {"datalake", "pandas"} <= set(result["typed"])


def test_emulator_paths_and_cold_import_are_recorded(tiny_run: Path):
    emulator = json.loads((tiny_run / "emulator.json").read_text())["runs"]["1MB"]["modes"]
    assert set(emulator) == {"engine-get", "engine-s3fs"}
    assert all(mode["ok"] for mode in emulator.values()), emulator
    handler = json.loads((tiny_run / "import.json").read_text())["runs"]["handler"]
    assert handler["samples"] == 1 and handler["median_seconds"] > 0
    assert any(h["package"] == "pyarrow" for h in handler["heaviest"])


def test_outputs_chart_docs_and_cost_inputs(tiny_run: Path):
    assert (tiny_run / "throughput.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    docs = (tiny_run / "performance.md").read_text()
    assert "old" not in docs and "kept prose" in docs
    assert "| 1MB | datalake |" in docs
    from datalake_cfn.config import parse_config
    from datalake_cfn.costs import Workload, estimate

    throughput = json.loads((tiny_run / "throughput.json").read_text())
    assert set(throughput["engines"]) >= {"datalake", "pandas"}
    result = estimate(parse_config({"lake": "unit"}), Workload(daily_gb=1, file_mb=1), throughput=throughput)
    assert result.engine_total > 0


def test_a_bad_size_is_refused():
    with pytest.raises(ValueError, match="write it like 100MB"):
        run.main(["--sizes=lots", "--no-lake", "--no-import"])

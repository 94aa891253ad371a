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
            "--record",
            "--sizes=1MB",
            "--large-sizes=",
            "--shapes=orders,wide",
            "--rounds=2",
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


def test_every_engine_runs_in_rounds_of_its_own_processes_and_they_agree(tiny_run: Path):
    runs = json.loads((tiny_run / "engines.json").read_text())["runs"]
    assert set(runs) == {"orders-1MB", "wide-1MB"}
    for result in runs.values():
        assert set(result["engines"]) == {"pandas", "duckdb", "polars", "datalake", "floor"}
        for name, entry in result["engines"].items():
            assert entry["ok"], (name, entry["error"])
            assert len(entry["rounds"]) == 2 and entry["mb_per_second_min"] <= entry["mb_per_second"]
            assert entry["peak_rss_mb"] > 10 and "load" in entry
        compared = {name: e for name, e in result["engines"].items() if name != "floor"}
        assert all(e["same_rows"] is True and e["output_bytes"] > 0 for e in compared.values())
        rows = {entry["rows"] for entry in compared.values()}
        assert len(rows) == 1 and rows.pop() > 1000
        assert result["all_same_rows"] is True
        typed = result["typed"]
        assert {"datalake", "datalake-per-block", "pandas"} <= set(typed)
        assert typed["datalake"]["row_groups"] < typed["datalake-per-block"]["row_groups"]
        assert typed["datalake"]["duckdb_scan_seconds"] > 0


def test_emulator_paths_and_cold_import_are_recorded(tiny_run: Path):
    emulator = json.loads((tiny_run / "emulator.json").read_text())["runs"]["1MB"]["modes"]
    assert set(emulator) == {"engine-get", "engine-s3fs"}
    assert all(mode["ok"] for mode in emulator.values()), emulator
    imports = json.loads((tiny_run / "import.json").read_text())["runs"]
    assert imports["handler"]["samples"] == 1 and imports["handler"]["median_seconds"] > 0
    assert any(h["package"] == "pyarrow" for h in imports["handler"]["heaviest"])
    assert imports["cli"]["module"] == "datalake --help" and imports["cli"]["median_seconds"] > 0


def test_outputs_chart_docs_and_cost_inputs(tiny_run: Path):
    assert (tiny_run / "throughput.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    docs = (tiny_run / "performance.md").read_text()
    assert "old" not in docs and "kept prose" in docs
    assert "| orders-1MB | datalake |" in docs and "| wide-1MB | floor |" in docs
    from datalake_cfn.config import parse_config
    from datalake_cfn.costs import Workload, estimate

    throughput = json.loads((tiny_run / "throughput.json").read_text())
    assert set(throughput["engines"]) >= {"datalake", "pandas"}
    result = estimate(parse_config({"lake": "unit"}), Workload(daily_gb=1, file_mb=1), throughput=throughput)
    assert result.engine_total > 0


def test_stages_are_the_engines_own_steps_over_the_same_rows(tiny_run: Path):
    from bench.stages import STAGE_ORDER

    stages = json.loads((tiny_run / "stages.json").read_text())["runs"]
    engines = json.loads((tiny_run / "engines.json").read_text())["runs"]
    assert set(stages) == {"orders-1MB", "wide-1MB"}
    for key, run_entry in stages.items():
        assert run_entry["rows"] == engines[key]["engines"]["datalake"]["rows"]  # the same rows out as the engine
        assert set(run_entry["stages"]) <= set(STAGE_ORDER) and {"parse", "clean", "digest"} <= set(run_entry["stages"])
        assert run_entry["cpu_seconds"] == pytest.approx(sum(run_entry["stages"].values()))
    assert stages["wide-1MB"]["as_lines"] and "encode lines" in stages["wide-1MB"]["stages"]
    assert not stages["orders-1MB"]["as_lines"] and "encode lines" not in stages["orders-1MB"]["stages"]
    from bench import report

    table = report.tables(report.load_results(tiny_run))["stages"]  # what --record writes into the docs
    assert "goal 1 allows (CPU s)" in table and "| orders-1MB | " in table and "| wide-1MB | " in table


def test_the_stages_table_sets_the_stages_against_what_each_goal_allows():
    from bench import report

    environment = {"cpus": 2}
    engines = {"x-1MB": {"engines": {"polars": {"ok": True, "seconds": 3.0}, "floor": {"ok": True, "seconds": 0.5}}}}
    stages = {"x-1MB": {"environment": environment, "stages": {"parse": 1.0, "digest": 2.0}, "cpu_seconds": 3.0}}
    row = report.stages_table(stages, engines).splitlines()[-1]
    # goal 1: 2 cores x 3.0 s / 1.5 = 4 CPU s; goal 3: 2 cores x 0.5 s / 0.5 = 2 CPU s, 3 needed
    assert row == "| x-1MB | 1.00 | 2.00 | 3.00 | 4.00 (room) | 2.00 (50% short) |"
    assert report.stages_table({}, engines) == "_not measured yet_"
    no_polars = report.stages_table(stages, {}).splitlines()[-1]
    assert no_polars.endswith("| 3.00 | - | - |")


def test_a_plain_run_prints_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out, docs = tmp_path / "results", tmp_path / "performance.md"
    code = run.main(
        [
            "--sizes=1MB",
            "--large-sizes=",
            "--shapes=text",
            "--rounds=1",
            "--engines=datalake,floor",
            "--emulator-sizes=",
            "--no-import",
            "--no-lake",
            f"--data={tmp_path / 'data'}",
            f"--out={out}",
            f"--docs={docs}",
            f"--throughput-file={tmp_path / 'throughput.json'}",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "| text-1MB | datalake |" in printed and "nothing recorded" in printed
    assert not out.exists() and not docs.exists() and not (tmp_path / "throughput.json").exists()


def test_a_bad_size_is_refused():
    with pytest.raises(ValueError, match="write it like 100MB"):
        run.main(["--sizes=lots", "--no-lake", "--no-import"])


def test_a_run_of_one_lake_workload_keeps_the_other_workloads_entry(tmp_path: Path):
    from bench import report

    def lake_run(name: str, seconds: float) -> dict:
        workload = {"files": 3, "bytes": 300, "arrived": 3, "complete": True, "wall_seconds": seconds}
        workload |= {"files_per_second": 1.0, "mb_per_second": 1.0, "p50_seconds": 1.0, "p95_seconds": 2.0}
        return {"workloads": {name: workload}, "workers_per_queue": 1, "batch_size": 10}

    path = tmp_path / "lake.json"
    for environment, run_result in (
        ({"date": "first"}, lake_run("3 x 100 KB", 5.0)),
        ({"date": "second"}, lake_run("1 x 100 MB", 7.0)),
    ):
        for key, entry in run.lake_entries(run_result, workers=1).items():
            report.merge(path, environment, key, entry)
    runs = json.loads(path.read_text())["runs"]
    assert {key: entry["environment"]["date"] for key, entry in runs.items()} == {
        "e2e-burst": "first",
        "e2e-large": "second",
    }
    table = report.lake_table(runs)
    assert "| 3 x 100 KB | 1 | 3 |" in table and "| 1 x 100 MB | 1 | 3 |" in table
    assert list(run.lake_entries(lake_run("3 x 100 KB", 5.0), workers=2)) == ["e2e-burst-2-workers"]

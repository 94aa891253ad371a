"""`datalake --as <persona> put|ls` is allowed or denied exactly as the lake's policies say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from datalake_cfn.local.lake import LocalLake


def run_as(lake_yaml: Path, lake: LocalLake, persona: str, *args: str, clearance: str | None = None):
    extra = ["--clearance", clearance] if clearance else []
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "datalake_cfn",
            "--config",
            str(lake_yaml),
            "--data",
            str(lake.data_dir),
            "--as",
            persona,
            *extra,
            *args,
        ],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )


def keys(lake: LocalLake, zone: str) -> set[str]:
    return {o["Key"] for o in lake.connection.list_objects(zone)}


def test_analyst_uploads_to_sandbox_with_an_allowed_tag(lake: LocalLake, lake_yaml: Path, tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("a\n1\n")
    result = run_as(lake_yaml, lake, "analyst", "put", str(path), "--dataset", "sales", "--zone", "sandbox")
    assert result.returncode == 0, result.stderr
    assert "sales/mine.csv" in keys(lake, "sandbox")
    assert lake.connection.object_tags("sandbox", "sales/mine.csv") == {"dataclassification": "internal"}


def test_analyst_cannot_label_an_upload_above_their_clearance(lake: LocalLake, lake_yaml: Path, tmp_path: Path) -> None:
    path = tmp_path / "secret-people.csv"
    path.write_text("a\n1\n")
    result = run_as(lake_yaml, lake, "analyst", "put", str(path), "--dataset", "people", "--zone", "sandbox")
    assert result.returncode == 3
    assert "denied" in result.stderr.lower() and "Traceback" not in result.stderr
    assert "people/secret-people.csv" not in keys(lake, "sandbox")


def test_analyst_cannot_write_raw_and_the_steward_can(lake: LocalLake, lake_yaml: Path, tmp_path: Path) -> None:
    path = tmp_path / "landing.csv"
    path.write_text("a\n1\n")
    denied = run_as(lake_yaml, lake, "analyst", "put", str(path), "--dataset", "sales")
    assert denied.returncode == 3 and "denied" in denied.stderr.lower()
    assert "sales/landing.csv" not in keys(lake, "raw")
    allowed = run_as(lake_yaml, lake, "steward", "put", str(path), "--dataset", "sales")
    assert allowed.returncode == 0, allowed.stderr
    assert "sales/landing.csv" in keys(lake, "raw")


def test_listing_follows_the_personas_table(lake: LocalLake, lake_yaml: Path) -> None:
    assert run_as(lake_yaml, lake, "analyst", "ls", "curated").returncode == 0
    denied = run_as(lake_yaml, lake, "analyst", "ls", "raw")
    assert denied.returncode == 3 and "denied" in denied.stderr.lower()
    assert run_as(lake_yaml, lake, "engineer", "ls", "raw").returncode == 0

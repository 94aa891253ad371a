"""`datalake up`: the banner keeps every bucket name whole at any width, says where the logs go, and
a compact live view counts what each zone processed, failed and still has queued."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_helpers import assert_clean, run_datalake
from running import running_up
from tables import parse_tables

LAKE_YAML = "lake: viewlake\ndatasets:\n  - name: sales\n"


@pytest.mark.parametrize("columns", [60, 200])
def test_up_banner_live_view_and_logs(tmp_path: Path, columns: int) -> None:
    (tmp_path / "lake.yaml").write_text(LAKE_YAML)
    buckets = [f"viewlake-{zone}-123456789012-us-east-1" for zone in ("raw", "staged", "curated", "sandbox")]
    with running_up(tmp_path, columns=columns) as lake:
        banner = lake.wait_for("consumer logs:")
        lake.wait_for("flow:")
        assert "\x1b[" not in banner, "not a terminal: no colour codes"
        (table,) = parse_tables(banner)
        for bucket in buckets:
            assert bucket in table.joined("bucket"), (bucket, banner)
        for line in ("export AWS_ACCESS_KEY_ID=testing", "export AWS_SECRET_ACCESS_KEY=testing"):
            assert line in banner.splitlines() or f"  {line}" in banner.splitlines()
        endpoint = next(line.split()[1] for line in banner.splitlines() if line.startswith("endpoint"))
        assert f"export AWS_ENDPOINT_URL={endpoint}" in banner
        assert ".datalake/consumers.log" in banner and "datalake logs --follow" in banner

        csv = tmp_path / "q1.csv"
        csv.write_text("id,amount\n1,10\n2,20\n")
        assert_clean(run_datalake("put", str(csv), "--dataset", "sales", cwd=tmp_path), 0)
        (tmp_path / "bad.csv").write_bytes(bytes(range(256)) * 4)
        assert_clean(run_datalake("put", str(tmp_path / "bad.csv"), "--dataset", "sales", cwd=tmp_path), 0)
        flowed = r"flow: raw processed [1-9]\d* failed 1 queued 0"  # q1.csv flowed, bad.csv in the DLQ
        lake.wait_for(flowed)
        view = next(line for line in lake.lines if re.search(flowed, line))
        assert "DLQ 1" in view and "staged processed" in view, view

        logs = run_datalake("logs", "-n", "50", cwd=tmp_path)
        assert_clean(logs, 0)
        records = [json.loads(line) for line in logs.stdout.splitlines()]
        assert any(r.get("message") == "object processed" for r in records), logs.stdout
        assert any("DLQ" in r.get("message", "") for r in records), logs.stdout
    assert lake.process.returncode == 0, lake.stderr
    assert "stopped." in lake.stderr


def test_logs_without_a_lake_says_where_it_looks(tmp_path: Path) -> None:
    (tmp_path / "lake.yaml").write_text(LAKE_YAML)
    assert_clean(run_datalake("logs", cwd=tmp_path), 2, ".datalake/consumers.log", "datalake up", "--follow")

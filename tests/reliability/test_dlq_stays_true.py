"""The DLQ stays true (issue 14): an entry whose object was processed since shows as resolved, `verify`
agrees, and `dlq purge --resolved` / `dlq delete ID` remove entries. Through the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from datalake_cfn.config import parse_config
from datalake_cfn.local.lake import LocalLake
from datalake_cfn.local.workers import WorkerSettings

LAKE = {"lake": "truelake", "datasets": [{"name": "sales", "classification": "internal"}]}
FAST = WorkerSettings(batch_size=10, batching_window_seconds=0.2, visibility_timeout_seconds=30, retry_delay_seconds=0)
DATALAKE = str(Path(sys.executable).parent / "datalake")


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[tuple[LocalLake, Path, Path]]:
    lake_yaml = tmp_path / "lake.yaml"
    lake_yaml.write_text(yaml.safe_dump(LAKE))
    with LocalLake(parse_config(LAKE), data_dir=tmp_path / "data", worker_settings=FAST) as running:
        yield running, lake_yaml, tmp_path / "data"


def cli(lake: tuple[LocalLake, Path, Path], *args: str) -> subprocess.CompletedProcess[str]:
    _, lake_yaml, data_dir = lake
    return subprocess.run(
        [DATALAKE, "--config", str(lake_yaml), "--data", str(data_dir), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
        timeout=120,
    )


def listed(lake: tuple[LocalLake, Path, Path]) -> list[dict[str, Any]]:
    result = cli(lake, "dlq", "list", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["messages"]


def test_a_fixed_re_upload_resolves_its_dlq_entry_and_verify_agrees(lake: tuple[LocalLake, Path, Path]) -> None:
    running = lake[0]
    running.connection.put_bytes(b"a,b\n1,2,3\n4,5\n", "sales/ragged.csv")
    assert running.wait_until_idle(60)
    [entry] = listed(lake)
    assert entry["resolved"] is False and "Expected 2 columns, got 3" in entry["reason"]
    assert cli(lake, "verify", "--wait", "0").returncode == 0  # accounted for: it waits in the DLQ

    running.connection.put_bytes(b"a,b\n1,2\n4,5\n", "sales/ragged.csv")  # fixed, under the same key
    assert running.wait_until_idle(60)
    [entry] = listed(lake)
    assert entry["resolved"] is True
    table = cli(lake, "dlq", "list")
    assert "resolved" in table.stdout and "dlq purge --resolved" in table.stdout
    verify = cli(lake, "verify", "--wait", "0")
    assert verify.returncode == 0 and "1 of them resolved" in verify.stdout, verify.stdout

    purge = cli(lake, "dlq", "purge", "--resolved")
    assert purge.returncode == 0 and "deleted 1 resolved message(s)" in purge.stdout
    assert listed(lake) == []


def test_an_unresolved_entry_survives_purge_resolved_and_delete_removes_it(lake: tuple[LocalLake, Path, Path]) -> None:
    running = lake[0]
    running.connection.put_bytes(b"", "sales/empty.csv")
    assert running.wait_until_idle(60)
    assert "deleted 0 resolved" in cli(lake, "dlq", "purge", "--resolved").stdout
    [entry] = listed(lake)
    assert entry["resolved"] is False
    missing = cli(lake, "dlq", "delete", "nosuchid")
    assert missing.returncode == 2 and "no DLQ message matches" in missing.stderr and "Traceback" not in missing.stderr
    deleted = cli(lake, "dlq", "delete", entry["message_id"][:8])
    assert deleted.returncode == 0 and "deleted 1 message(s)" in deleted.stdout
    assert listed(lake) == []
    # ... and now verify calls it missing: nothing accounts for it any more (the DLQ was the record).
    verify = cli(lake, "verify", "--wait", "0")
    assert verify.returncode == 1 and "sales/empty.csv" in verify.stdout


def test_a_redrive_that_succeeds_removes_the_entry(lake: tuple[LocalLake, Path, Path]) -> None:
    running = lake[0]
    running.connection.put_bytes(b"", "sales/later.csv")
    assert running.wait_until_idle(60)
    [entry] = listed(lake)
    running.connection.put_bytes(b"a\n1\n", "sales/later.csv")  # the producer fixed it meanwhile
    assert running.wait_until_idle(60)
    redrive = cli(lake, "dlq", "redrive", "--id", entry["message_id"][:8])
    assert redrive.returncode == 0 and "redrove 1" in redrive.stdout
    assert running.wait_until_idle(60)
    assert listed(lake) == []  # the redriven event names the old ETag: skipped, acknowledged, not failed again

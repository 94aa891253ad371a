"""User transforms are checked at start by `up` and `build.py` (importable, one-argument callable),
with the lake.yaml field named; and a module beside lake.yaml is found by every command, the local
lake's workers included."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import Result, assert_clean, run_datalake
from running import running_up

ROOT = Path(__file__).resolve().parents[2]
TRANSFORMS = """
import pyarrow as pa


def add_region(batch):
    return batch.append_column("region", pa.array(["emea"] * batch.num_rows))


def two_args(batch, extra):
    return batch


NOT_A_FUNCTION = 42
"""
BROKEN_LAKE = """lake: acme
datasets:
  - name: sales
    transform: mytransforms:add_region
  - name: customers
    transform: nosuchmodule:clean
  - name: clicks
    transform: mytransforms:two_args
  - name: orders
    transform:
      curated: mytransforms:missing
  - name: events
    transform: mytransforms:NOT_A_FUNCTION
"""
PROBLEMS = (
    "datasets[1].transform: 'nosuchmodule:clean': cannot import module 'nosuchmodule'",
    "datasets[2].transform: 'mytransforms:two_args' must take exactly one argument",
    "datasets[3].transform.curated: 'mytransforms:missing'",
    "has no 'missing'",
    "datasets[4].transform: 'mytransforms:NOT_A_FUNCTION': 'NOT_A_FUNCTION' is a int, not a function",
)


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    (tmp_path / "mytransforms.py").write_text(TRANSFORMS)
    return tmp_path


def build_py(*args: str, cwd: Path) -> Result:
    done = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    return Result(done.returncode, done.stdout, done.stderr)


def test_up_refuses_bad_transforms_at_start_naming_each_field(lake_dir: Path) -> None:
    (lake_dir / "lake.yaml").write_text(BROKEN_LAKE)
    started = time.monotonic()
    result = run_datalake("up", "--port", "0", cwd=lake_dir, timeout=60)
    assert_clean(result, 2, "lake.yaml", *PROBLEMS)
    assert "datasets[0]" not in result.output  # the good one beside lake.yaml is found
    assert time.monotonic() - started < 30 and not (lake_dir / ".datalake" / "endpoint.json").exists()


def test_build_py_refuses_bad_transforms_naming_each_field(lake_dir: Path) -> None:
    (lake_dir / "lake.yaml").write_text(BROKEN_LAKE)
    result = build_py("--out", str(lake_dir / "out"), cwd=lake_dir)
    assert_clean(result, 2, *PROBLEMS)
    assert not (lake_dir / "out").exists()


def test_build_py_bundles_a_transform_beside_the_config(lake_dir: Path, tmp_path: Path) -> None:
    (lake_dir / "lake.yaml").write_text(
        "lake: acme\ndatasets:\n  - name: sales\n    transform: mytransforms:add_region\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = build_py("--config", str(lake_dir / "lake.yaml"), "--out", str(elsewhere / "out"), "--json", cwd=elsewhere)
    assert_clean(result, 0)
    import zipfile

    artifacts = json.loads(result.stdout)["artifacts"]
    (archive,) = [a for a in artifacts if a.endswith(".zip") and "consumer" in a]
    assert "mytransforms.py" in zipfile.ZipFile(archive).namelist()


def test_a_transform_beside_lake_yaml_runs_in_transform_and_in_the_workers(lake_dir: Path) -> None:
    (lake_dir / "lake.yaml").write_text(
        "lake: acme\ndatasets:\n  - name: sales\n    transform: mytransforms:add_region\n"
    )
    csv = lake_dir / "q1.csv"
    csv.write_text("id,amount\n1,10\n2,20\n")
    one_hop = run_datalake("transform", str(csv), str(lake_dir / "out.csv"), "-d", "sales", "-z", "raw", cwd=lake_dir)
    assert_clean(one_hop, 0, "mytransforms:add_region")
    assert "emea" in (lake_dir / "out.csv").read_text()

    with running_up(lake_dir) as lake:
        lake.wait_for("consumer logs:")
        assert_clean(run_datalake("put", str(csv), "--dataset", "sales", cwd=lake_dir), 0)
        deadline = time.monotonic() + 60
        staged: list[dict] = []
        while not staged and time.monotonic() < deadline:
            listing = run_datalake("ls", "staged", "--json", cwd=lake_dir)
            assert_clean(listing, 0)
            staged = json.loads(listing.stdout)["zones"][0]["objects"]
            time.sleep(0.5)
        assert staged and staged[0]["transform"] == "clean+mytransforms:add_region", staged
        got = run_datalake("get", "staged", staged[0]["key"], "-o", "-", cwd=lake_dir)
        assert_clean(got, 0, "region", "emea")

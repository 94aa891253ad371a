"""Rendered lakes, each rendered once per test session.

- `default_lake`: the bundled lake, rendered by `python build.py` itself in a subprocess, as a user runs it.
- `regional_lake`: eu-west-1, real account ids, one role per persona and clearance, Object Lock
  in COMPLIANCE mode, a daily Macie scan: the other branches of the templates.
- `evolved_lake`: the default lake plus one zone and one dataset (the update-in-place test).
- `big_lake`: 12 zones and 30 datasets.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from datalake_cfn.builder import default_config_text, render_checked, write_templates
from datalake_cfn.config import LakeConfig, parse_config
from tests.stacks.templates import Rendered

REPO = Path(__file__).resolve().parents[2]


def default_lake_data() -> dict[str, Any]:
    return yaml.safe_load(default_config_text())


def regional_lake_data() -> dict[str, Any]:
    data = default_lake_data()
    data.update(
        lake="globex",
        region="eu-west-1",
        accounts={"prod": "123456789012", "security": "210987654321"},
        audit={"object_lock_mode": "COMPLIANCE", "retention_days": 30, "macie_schedule": "daily"},
        network={"cidr": "10.40.0.0/16", "max_azs": 3, "subnet_mask": 22},
    )
    data["personas"] = {**data["personas"], "clearance_mode": "roles"}
    return data


def evolved_lake_data() -> dict[str, Any]:
    """The default lake, one more zone and one more dataset: what a real lake.yaml edit looks like."""
    data = default_lake_data()
    data["zones"] = [*data["zones"], {"name": "archive", "format": "parquet"}]
    data["datasets"] = [*data["datasets"], {"name": "orders", "classification": "proprietary"}]
    return data


def big_lake_data() -> dict[str, Any]:
    chain = [f"z{i:02d}" for i in range(11)]
    zones = [{"name": z, "next": n} for z, n in itertools.pairwise(chain)]
    zones += [{"name": chain[-1], "format": "parquet"}, {"name": "sandbox"}]
    datasets = [
        {"name": f"dataset_{i:02d}", "classification": "internal", "own_queue": i in (7, 21)} for i in range(30)
    ]
    return {"lake": "bigco", "zones": zones, "datasets": datasets}


def render_lake(config: LakeConfig, outdir: Path) -> Rendered:
    """Render in-process (the builder's library), write as `build.py` does, load back."""
    write_templates(render_checked(config), outdir / "templates")
    return Rendered.load(config, outdir)


@pytest.fixture(scope="session")
def default_lake(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    outdir = tmp_path_factory.mktemp("default-lake")
    result = subprocess.run(
        [sys.executable, str(REPO / "build.py"), "--out", str(outdir)],
        cwd=outdir,  # no lake.yaml here: the bundled default is rendered
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return Rendered.load(parse_config(default_lake_data()), outdir)


@pytest.fixture(scope="session")
def regional_lake(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render_lake(parse_config(regional_lake_data()), tmp_path_factory.mktemp("regional-lake"))


@pytest.fixture(scope="session")
def evolved_lake(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render_lake(parse_config(evolved_lake_data()), tmp_path_factory.mktemp("evolved-lake"))


@pytest.fixture(scope="session")
def big_lake(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render_lake(parse_config(big_lake_data()), tmp_path_factory.mktemp("big-lake"))


@pytest.fixture(scope="session", params=["default_lake", "regional_lake"])
def any_lake(request: pytest.FixtureRequest) -> Rendered:
    """Both fully-checked lakes: properties that must hold whatever the lake.yaml."""
    return request.getfixturevalue(request.param)

"""Synthesized lakes, each synthesized once per test session (a synth costs seconds).

- `default_lake`: the lake `datalake init` writes, synthesized by `datalake synth` itself (the CLI,
  in-process), so cdk-nag's four packs run on it.
- `regional_lake`: eu-west-1, real account ids, one role per persona and clearance, Object Lock
  in COMPLIANCE mode, a daily Macie scan: the other branches of the stacks, also under cdk-nag.
- `evolved_lake`: the default lake plus one zone and one dataset (the update-in-place test).
- `big_lake`: 12 zones and 30 datasets.
"""

from __future__ import annotations

import itertools
import os
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from datalake_cfn.config import LakeConfig, parse_config
from tests.infra.templates import Synthesized

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "16,18,20,22")


def default_lake_data() -> dict[str, Any]:
    return yaml.safe_load(resources.files("datalake_cfn.data").joinpath("lake.yaml").read_text(encoding="utf-8"))


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


def _synth(config: LakeConfig, outdir: Path, *, nag: bool) -> Synthesized:
    from datalake_cfn.infra.app import synth

    synth(config, outdir, nag=nag)
    return Synthesized.load(config, outdir)


@pytest.fixture(scope="session")
def default_lake(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return _synth(parse_config(default_lake_data()), tmp_path_factory.mktemp("default-lake") / "cdk.out", nag=True)


@pytest.fixture(scope="session")
def regional_lake(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return _synth(parse_config(regional_lake_data()), tmp_path_factory.mktemp("regional-lake"), nag=True)


@pytest.fixture(scope="session")
def evolved_lake(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return _synth(parse_config(evolved_lake_data()), tmp_path_factory.mktemp("evolved-lake"), nag=False)


@pytest.fixture(scope="session")
def big_lake(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return _synth(parse_config(big_lake_data()), tmp_path_factory.mktemp("big-lake"), nag=False)


@pytest.fixture(scope="session", params=["default_lake", "regional_lake"])
def any_lake(request: pytest.FixtureRequest) -> Synthesized:
    """Both lakes checked under cdk-nag: properties that must hold whatever the lake.yaml."""
    return request.getfixturevalue(request.param)

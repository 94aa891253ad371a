"""One local lake with the sample data of sales and customers, flowed to curated and catalogued."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pytest
import yaml
from cli_helpers import CLI_LAKE, FAST, Result, run_datalake

from datalake_cfn.config import LakeConfig, parse_config
from datalake_cfn.local.lake import LocalLake


@pytest.fixture(scope="session")
def cli_config() -> LakeConfig:
    return parse_config(CLI_LAKE)


@pytest.fixture(scope="session")
def cli_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-config") / "lake.yaml"
    path.write_text(yaml.safe_dump(CLI_LAKE))
    return path


@pytest.fixture(scope="session")
def cli_lake(cli_config: LakeConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLake]:
    """The samples of sales and customers flowed to curated and catalogued (every zone)."""
    from datalake_cfn.local.crawler import crawl

    data_dir = tmp_path_factory.mktemp("cli-lake")
    samples = Path(str(resources.files("datalake_cfn.data").joinpath("samples")))
    with LocalLake(cli_config, data_dir=data_dir, worker_settings=FAST) as lake:
        for dataset in ("sales", "customers"):
            for path in sorted((samples / dataset).glob("*.csv")):
                lake.connection.put_file(path, key=f"{dataset}/{path.name}")
        assert lake.wait_until_idle(timeout=120), "the samples did not flow through the lake"
        crawl(lake.connection, cli_config, lake.names)
        yield lake


@pytest.fixture
def cli(cli_lake: LocalLake, cli_yaml: Path) -> Callable[..., Result]:
    """`datalake --config <lake.yaml> --data <the lake's dir> ARGS...` against the shared lake."""

    def invoke(*args: str, **kwargs: object) -> Result:
        return run_datalake("--config", str(cli_yaml), "--data", str(cli_lake.data_dir), *args, **kwargs)  # type: ignore[arg-type]

    return invoke

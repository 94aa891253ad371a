"""One embedded lake for the local tests: starting one costs about a second, so tests share it
and keep out of each other's way by using their own keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from datalake_cfn.config import LakeConfig, parse_config
from datalake_cfn.local.lake import LocalLake
from datalake_cfn.local.workers import WorkerSettings

TEST_LAKE = {
    "lake": "testlake",
    "datasets": [
        {"name": "sales", "classification": "internal"},
        {"name": "people", "classification": "confidential"},
        {"name": "flaky", "classification": "internal", "transform": "flaky_transforms:maybe_fail"},
        {"name": "clickstream", "classification": "public", "own_queue": True},
    ],
    "pipeline": {"max_receive_count": 3},
}

FAST = WorkerSettings(batch_size=10, batching_window_seconds=0.2, visibility_timeout_seconds=30, retry_delay_seconds=0)


@pytest.fixture(scope="session")
def lake_config() -> LakeConfig:
    return parse_config(TEST_LAKE)


@pytest.fixture(scope="session")
def lake_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "lake.yaml"
    path.write_text(yaml.safe_dump(TEST_LAKE))
    return path


@pytest.fixture(scope="session")
def lake(lake_config: LakeConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLake]:
    data_dir = tmp_path_factory.mktemp("lake-data")
    with LocalLake(lake_config, data_dir=data_dir, worker_settings=FAST) as running:
        yield running

"""The reliability suite's lake (two plain datasets and one with its own queue) and the chaos harness."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from reliability_helpers import RELIABILITY_LAKE, ChaosLake


@pytest.fixture(scope="session")
def lake_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reliability-config") / "lake.yaml"
    path.write_text(yaml.safe_dump(RELIABILITY_LAKE))
    return path


_lake_numbers = itertools.count(1)


@pytest.fixture
def chaos_lake(tmp_path: Path) -> Iterator[ChaosLake]:
    """A fresh lake (its own name: moto's state is shared by everything in this process)."""
    with ChaosLake(f"chaos{next(_lake_numbers)}", tmp_path) as lake:
        yield lake

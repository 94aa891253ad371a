"""The reliability suite's lake: two plain datasets and one with its own queue."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

RELIABILITY_LAKE = {
    "lake": "rellake",
    "datasets": [
        {"name": "sales", "classification": "internal"},
        {"name": "people", "classification": "confidential"},
        {"name": "clickstream", "classification": "public", "own_queue": True},
    ],
    "pipeline": {"max_receive_count": 3},
}


@pytest.fixture(scope="session")
def lake_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reliability-config") / "lake.yaml"
    path.write_text(yaml.safe_dump(RELIABILITY_LAKE))
    return path

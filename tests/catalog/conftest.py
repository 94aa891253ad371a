"""One local lake with the bundled sample data, catalogued, shared by the catalog tests.

The samples go in under hive-style folders (`<dataset>/ingest_date=2026-11-24/<file>`)
except `customers`, which stays unpartitioned, so both layouts are exercised. The crawl
that registers the tables is the automatic one (the listener), not an explicit call.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from catalog_helpers import CATALOG_LAKE, FAST, SAMPLE_DATASETS, CatalogLake, sample_files, sample_key

from datalake_cfn.config import LakeConfig, parse_config
from datalake_cfn.local.crawler import register_crawl_listener
from datalake_cfn.local.lake import LocalLake


@pytest.fixture(scope="session")
def catalog_config() -> LakeConfig:
    return parse_config(CATALOG_LAKE)


@pytest.fixture(scope="session")
def catalog_lake(catalog_config: LakeConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogLake]:
    data_dir = tmp_path_factory.mktemp("catalog-lake")
    with LocalLake(catalog_config, data_dir=data_dir, worker_settings=FAST) as lake:
        scheduler = register_crawl_listener(lake, debounce_seconds=0.3)
        for dataset in SAMPLE_DATASETS:
            for path in sample_files(dataset):
                lake.connection.put_file(path, key=sample_key(dataset, path))
        assert lake.wait_until_idle(timeout=120), "the samples did not flow through the lake"
        assert lake.connection.dlq_depth() == 0, [d.reason for d in lake.connection.dead_letters()]
        assert scheduler.wait_idle(timeout=60), "the automatic crawl did not finish"
        yield CatalogLake(lake, scheduler, data_dir)
        scheduler.cancel()


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local SparkSession for the whole test session (starting one costs ~10-15 s)."""
    from datalake_cfn.local.etl import local_spark_session

    session = local_spark_session("datalake-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()

"""What the catalog tests share: the test lake's config, the sample data, and the lake handle.

The samples go in under hive-style folders (`<dataset>/ingest_date=2026-11-24/<file>`)
except `customers`, which stays unpartitioned, so both layouts are exercised. The crawl
that registers the tables is the automatic one (the listener), not an explicit call.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from datalake_cfn.config import LakeConfig
from datalake_cfn.local.crawler import CrawlScheduler
from datalake_cfn.local.lake import LocalLake
from datalake_cfn.local.workers import WorkerSettings

CATALOG_LAKE = {
    "lake": "catlake",
    "datasets": [
        {"name": "sales", "classification": "internal"},
        {"name": "customers", "classification": "confidential", "transform": "zone_consumer.samples:mask_emails"},
        {"name": "clickstream", "classification": "internal", "own_queue": True},
        {"name": "orders", "classification": "internal"},  # only the schema-evolution test writes here
        {"name": "sales_daily_totals", "classification": "internal"},  # the Glue job's output
    ],
}
SAMPLE_DATASETS = ("sales", "customers", "clickstream")
INGEST_DATE = "2026-11-24"
FAST = WorkerSettings(batch_size=10, batching_window_seconds=0.2, visibility_timeout_seconds=30, retry_delay_seconds=0)


def sample_files(dataset: str) -> list[Path]:
    root = Path(str(resources.files("datalake_cfn.data").joinpath("samples"))) / dataset
    return sorted(root.glob("*.csv"))


def sample_key(dataset: str, path: Path) -> str:
    if dataset == "customers":
        return f"{dataset}/{path.name}"
    return f"{dataset}/ingest_date={INGEST_DATE}/{path.name}"


def expected_rows(paths: list[Path]) -> int:
    """Data rows the pipeline keeps: per file, distinct rows after trimming (the clean hop drops exact duplicates)."""
    total = 0
    for path in paths:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))[1:]
        distinct = {tuple((cell.strip() or None) for cell in row) for row in rows if any(c.strip() for c in row)}
        total += len(distinct)
    return total


@dataclass
class CatalogLake:
    lake: LocalLake
    scheduler: CrawlScheduler
    data_dir: Path

    @property
    def config(self) -> LakeConfig:
        return self.lake.config

    @property
    def connection(self):  # type: ignore[no-untyped-def]
        return self.lake.connection

    @property
    def names(self):  # type: ignore[no-untyped-def]
        return self.lake.names

    def glue(self):  # type: ignore[no-untyped-def]
        return self.lake.connection.client("glue")

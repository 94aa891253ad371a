"""The catalog learns only from data the pipeline accepted (issue 14).

A PNG renamed `bad.csv` goes to the DLQ; the crawl leaves it out of `raw_sales` (named once,
printably), a table an earlier crawl polluted with a junk column is repaired by the next, and a
query over a table with an unreadable file leaves the file out and names it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from datalake_cfn.config import LakeConfig, parse_config
from datalake_cfn.local.crawler import LocalCrawler
from datalake_cfn.local.lake import LocalLake
from datalake_cfn.local.query import run_query
from datalake_cfn.local.workers import WorkerSettings

LAKE = {"lake": "acceptlake", "datasets": [{"name": "sales", "classification": "internal"}]}
FAST = WorkerSettings(batch_size=10, batching_window_seconds=0.2, visibility_timeout_seconds=30, retry_delay_seconds=0)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01" + bytes(range(256))
DATALAKE = str(Path(sys.executable).parent / "datalake")


@pytest.fixture(scope="module")
def config() -> LakeConfig:
    return parse_config(LAKE)


@pytest.fixture(scope="module")
def lake(config: LakeConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalLake, Path, Path]]:
    data_dir = tmp_path_factory.mktemp("accept")
    lake_yaml = data_dir / "lake.yaml"
    lake_yaml.write_text(yaml.safe_dump(LAKE))
    with LocalLake(config, data_dir=data_dir, worker_settings=FAST) as running:
        running.connection.put_bytes(b"order_id,amount\n1,10\n2,20\n", "sales/good.csv")
        running.connection.put_bytes(PNG, "sales/bad.csv")
        assert running.wait_until_idle(60)
        yield running, lake_yaml, data_dir


def columns(lake: LocalLake, table: str) -> list[str]:
    glue = lake.connection.client("glue")
    found = glue.get_table(DatabaseName=lake.names.glue_database, Name=table)["Table"]
    return [c["Name"] for c in found["StorageDescriptor"]["Columns"]]


def test_a_rejected_png_never_becomes_a_column_and_the_table_stays_queryable(
    lake: tuple[LocalLake, Path, Path],
) -> None:
    running, lake_yaml, data_dir = lake
    [letter] = [d for d in running.connection.dead_letters() if any(k.endswith("sales/bad.csv") for k in d.keys)]
    assert letter.attempts == "1"
    crawl = subprocess.run(
        [DATALAKE, "--config", str(lake_yaml), "--data", str(data_dir), "crawl"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert crawl.returncode == 0, crawl.stderr
    assert columns(running, "raw_sales") == ["order_id", "amount"]
    named = [line for line in crawl.stderr.splitlines() if "sales/bad.csv" in line and "raw_sales" in line]
    assert len(named) == 1 and "rejected by the pipeline" in named[0]
    assert all(c.isprintable() or c in "\n\t" for c in crawl.stdout + crawl.stderr), "raw bytes on the terminal"
    rows = run_query(running, None, None, "select * from raw_sales order by order_id")
    assert rows.column("order_id").to_pylist() in (["1", "2"], [1, 2])


def test_a_table_polluted_by_an_earlier_crawl_is_repaired_by_the_next(lake: tuple[LocalLake, Path, Path]) -> None:
    running, _, _ = lake
    glue = running.connection.client("glue")
    database = running.names.glue_database
    LocalCrawler(running.connection).crawl([("raw", "sales")])
    table = glue.get_table(DatabaseName=database, Name="raw_sales")["Table"]
    polluted = {k: v for k, v in table.items() if k in ("Name", "StorageDescriptor", "PartitionKeys", "Parameters")}
    polluted["StorageDescriptor"]["Columns"].append({"Name": "\ufffdpng\r", "Type": "string"})  # what PNG bytes made
    glue.update_table(DatabaseName=database, TableInput=polluted)
    assert "\ufffdpng\r" in columns(running, "raw_sales")
    report = LocalCrawler(running.connection).crawl([("raw", "sales")])
    assert columns(running, "raw_sales") == ["order_id", "amount"]
    assert any("dropped" in w and "png\\r" in w and w.isprintable() for w in report.warnings)
    assert run_query(running, None, None, "select count(*) as n from raw_sales").column("n").to_pylist() == [2]


def test_a_query_leaves_an_unreadable_file_out_and_names_it(lake: tuple[LocalLake, Path, Path]) -> None:
    running, _, _ = lake
    running.connection.put_bytes(b"order_id,amount\n5,50\n", "sales/fine.csv", zone="sandbox")
    LocalCrawler(running.connection).crawl([("sandbox", "sales")])
    running.connection.put_bytes(PNG, "sales/later.csv", zone="sandbox")  # after the crawl: the table lists it
    warnings: list[str] = []
    rows = run_query(running, None, None, "select * from sandbox_sales", on_warning=warnings.append)
    assert rows.num_rows == 1
    assert len(warnings) == 1 and "sales/later.csv" in warnings[0] and warnings[0].isprintable()


def test_the_crawler_skips_what_the_zone_format_cannot_read(lake: tuple[LocalLake, Path, Path]) -> None:
    """Not via the pipeline (the sandbox is not chained): a Latin-1 file is named, not learned."""
    running, _, _ = lake
    running.connection.put_bytes("order_id,caf\xe9\n1,x\n".encode("latin-1"), "sales/latin.csv", zone="sandbox")
    report = LocalCrawler(running.connection).crawl([("sandbox", "sales")])
    assert "café" not in columns(running, "sandbox_sales") and "caf\ufffd" not in columns(running, "sandbox_sales")
    assert any("sales/latin.csv" in w and "not valid UTF-8" in w for w in report.warnings)

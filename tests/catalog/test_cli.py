"""`datalake crawl`, `query` and `etl list` against the lake a `datalake up` would run."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from catalog_helpers import CATALOG_LAKE, CatalogLake, expected_rows, sample_files
from typer.testing import CliRunner

from datalake_cfn.cli import app
from datalake_cfn.cli.state import UserError


@pytest.fixture
def cli(catalog_lake: CatalogLake, tmp_path: Path):  # type: ignore[no-untyped-def]
    config = tmp_path / "lake.yaml"
    config.write_text(yaml.safe_dump(CATALOG_LAKE))
    runner = CliRunner()

    def invoke(*args: str, data_dir: Path | None = None):  # type: ignore[no-untyped-def]
        data = str(data_dir or catalog_lake.data_dir)
        return runner.invoke(app, ["--config", str(config), "--data", data, *args], env={"COLUMNS": "200"})

    return invoke


def test_query_prints_json_csv_and_a_table(cli) -> None:  # type: ignore[no-untyped-def]
    expected = expected_rows(sample_files("sales"))
    result = cli("query", "select count(*) as n from curated_sales", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"n": expected}]
    result = cli("query", "select count(*) as n from curated_sales", "-f", "csv")
    assert list(csv.DictReader(io.StringIO(result.output))) == [{"n": str(expected)}]
    result = cli("query", "select category, count(*) as n from curated_sales group by 1")
    assert result.exit_code == 0 and "category" in result.output and "row(s)" in result.output


def test_crawl_prints_one_line_per_table(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("crawl", "--zone", "curated")
    assert result.exit_code == 0, result.output
    assert "curated_sales" in result.output and "raw_sales" not in result.output
    assert "0 created" in result.output


def test_commands_without_a_running_lake_say_how_to_start_one(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("query", "select 1", data_dir=tmp_path / "nothing")
    assert isinstance(result.exception, UserError) and "datalake up" in str(result.exception)
    result = cli("crawl", "--dataset", "nope")
    assert isinstance(result.exception, UserError) and "unknown dataset nope" in str(result.exception)


def test_etl_list_names_the_job(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("etl", "list")
    assert (
        result.exit_code == 0
        and "sales_daily_totals" in result.output
        and "catlake-sales-daily-totals" in result.output
    )

"""SQL over the catalogued tables: DuckDB locally (counts, partitions, errors, output formats)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from catalog_helpers import INGEST_DATE, SAMPLE_DATASETS, CatalogLake, expected_rows, sample_files

from datalake_cfn.local.query import QueryError, referenced_tables, run_query, to_csv, to_json


@pytest.mark.parametrize("dataset", SAMPLE_DATASETS)
def test_count_equals_the_input_rows_in_every_zone(catalog_lake: CatalogLake, dataset: str) -> None:
    expected = expected_rows(sample_files(dataset))
    assert expected > 0
    for zone in ("raw", "staged", "curated"):
        sql = f"select count(*) as n from {zone}_{dataset}"
        result = run_query(catalog_lake.connection, catalog_lake.config, catalog_lake.names, sql)
        assert result.to_pylist() == [{"n": expected}], zone


def test_types_partition_values_and_qualified_names(catalog_lake: CatalogLake) -> None:
    result = run_query(
        catalog_lake.lake,
        None,
        None,
        "select ingest_date, min(order_date) as first, sum(quantity) as units, typeof(min(order_date)) as t "
        "from catlake.curated_sales group by ingest_date",
    ).to_pylist()
    units = 0
    for path in sample_files("sales"):
        with path.open(newline="") as handle:
            units += sum(int(row["Quantity"]) for row in csv.DictReader(handle))
    assert len(result) == 1
    assert result[0]["ingest_date"] == INGEST_DATE and result[0]["units"] == units and result[0]["t"] == "DATE"
    # a CSV table reads its text through the catalog's types: bigint is a number, not a string
    staged = run_query(catalog_lake.lake, None, None, "select typeof(order_id) as t from staged_sales limit 1")
    assert staged.to_pylist() == [{"t": "BIGINT"}]


def test_masked_emails_reach_curated(catalog_lake: CatalogLake) -> None:
    rows = run_query(catalog_lake.lake, None, None, "select email from curated_customers where email is not null")
    emails = [r["email"] for r in rows.to_pylist()]
    assert emails and all(e.startswith("***@") for e in emails)


def test_an_unknown_table_names_the_ones_there_are(catalog_lake: CatalogLake) -> None:
    with pytest.raises(QueryError) as error:
        run_query(catalog_lake.lake, None, None, "select * from curated_nothing")
    assert "curated_nothing" in str(error.value) and "curated_sales" in str(error.value)


def test_only_the_tables_a_query_names_are_read() -> None:
    tables = ["curated_sales", "raw_sales", "staged_clickstream"]
    assert referenced_tables("SELECT * FROM Curated_Sales s JOIN raw_sales r USING (x)", tables) == tables[:2]


def test_csv_and_json_output(catalog_lake: CatalogLake) -> None:
    sql = "select category, count(*) as n from curated_sales group by 1 order by 1"
    result = run_query(catalog_lake.lake, None, None, sql)
    rows = list(csv.DictReader(io.StringIO(to_csv(result))))
    assert [r["category"] for r in rows] == sorted(r["category"] for r in rows)
    assert sum(int(r["n"]) for r in rows) == expected_rows(sample_files("sales"))
    assert json.loads(to_json(result)) == [{"category": r["category"], "n": int(r["n"])} for r in rows]
    dates = json.loads(to_json(run_query(catalog_lake.lake, None, None, "select min(order_date) d from curated_sales")))
    assert dates == [{"d": "2026-10-01"}]

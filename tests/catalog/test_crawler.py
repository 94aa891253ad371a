"""The local crawl: names, columns and types as the cloud crawler gives them; idempotent; schema evolution."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from catalog_helpers import INGEST_DATE, SAMPLE_DATASETS, CatalogLake

from datalake_cfn.catalog import LAZY_SIMPLE_SERDE, OPEN_CSV_SERDE, PARQUET_SERDE
from datalake_cfn.local.crawler import LocalCrawler, crawl, csv_schema, partition_layout
from datalake_cfn.local.query import run_query


def columns_of(table: dict[str, Any]) -> dict[str, str]:
    return {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}


def get_table(lake: CatalogLake, name: str) -> dict[str, Any]:
    return lake.glue().get_table(DatabaseName=lake.names.glue_database, Name=name)["Table"]


def catalog_snapshot(lake: CatalogLake) -> dict[str, Any]:
    """Everything the crawl writes, minus what the catalog stamps itself (times, versions)."""
    glue = lake.glue()
    snapshot = {}
    for table in glue.get_tables(DatabaseName=lake.names.glue_database)["TableList"]:
        partitions = glue.get_partitions(DatabaseName=lake.names.glue_database, TableName=table["Name"])["Partitions"]
        volatile = {"CreateTime", "UpdateTime", "VersionId", "LastAccessTime", "CreationTime", "LastAnalyzedTime"}
        snapshot[table["Name"]] = (
            {k: v for k, v in table.items() if k not in volatile},
            sorted(({k: v for k, v in p.items() if k not in volatile} for p in partitions), key=lambda p: p["Values"]),
        )
    return snapshot


def test_the_crawl_ran_by_itself_after_data_landed(catalog_lake: CatalogLake) -> None:
    assert catalog_lake.scheduler.crawls >= 1 and not catalog_lake.scheduler.last_error
    tables = {t["Name"] for t in catalog_lake.glue().get_tables(DatabaseName="catlake")["TableList"]}
    for dataset in SAMPLE_DATASETS:
        for zone in ("raw", "staged", "curated"):
            assert f"{zone}_{dataset}" in tables
    assert not any(name.startswith("sandbox_") or name.endswith("_orders") for name in tables)  # no data, no table
    assert "raw_sales_daily_totals" not in tables


def test_parquet_tables_get_the_crawler_types_and_serde(catalog_lake: CatalogLake) -> None:
    table = get_table(catalog_lake, "curated_sales")
    assert columns_of(table) == {
        "order_id": "bigint",
        "order_date": "date",
        "category": "string",
        "unit_price": "double",
        "quantity": "bigint",
        "store": "string",
        "_source_key": "string",
        "_ingested_at": "timestamp",
    }
    sd = table["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert sd["InputFormat"].endswith("MapredParquetInputFormat")
    assert sd["Location"] == f"s3://{catalog_lake.names.bucket('curated')}/sales/"
    assert table["PartitionKeys"] == [{"Name": "ingest_date", "Type": "string"}]
    assert table["Parameters"]["classification"] == "parquet"
    assert table["Parameters"]["dataclassification"] == "internal"
    assert table["Parameters"]["recordCount"] == str(300)


def test_csv_tables_get_text_types_and_the_serde_their_quoting_needs(catalog_lake: CatalogLake) -> None:
    staged = get_table(catalog_lake, "staged_sales")
    # the crawler's CSV classifier only gives boolean/bigint/double/string: dates stay text
    assert columns_of(staged)["order_date"] == "string"
    assert columns_of(staged)["order_id"] == "bigint"
    assert columns_of(staged)["unit_price"] == "double"
    assert staged["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == OPEN_CSV_SERDE  # pyarrow quotes
    assert staged["Parameters"]["skip.header.line.count"] == "1"
    raw = get_table(catalog_lake, "raw_customers")
    assert raw["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == LAZY_SIMPLE_SERDE  # unquoted input
    assert list(columns_of(raw)) == ["customerid", "full name", "email", "country", "signup date"]
    assert raw["PartitionKeys"] == []


def test_hive_folders_become_partitions(catalog_lake: CatalogLake) -> None:
    partitions = catalog_lake.glue().get_partitions(DatabaseName="catlake", TableName="curated_clickstream")[
        "Partitions"
    ]
    assert [p["Values"] for p in partitions] == [[INGEST_DATE]]
    location = partitions[0]["StorageDescriptor"]["Location"]
    assert location == f"s3://{catalog_lake.names.bucket('curated')}/clickstream/ingest_date={INGEST_DATE}/"


def test_crawling_twice_changes_nothing(catalog_lake: CatalogLake) -> None:
    crawl(catalog_lake.lake, catalog_lake.config, catalog_lake.names)
    before = catalog_snapshot(catalog_lake)
    report = crawl(catalog_lake.connection, catalog_lake.config, catalog_lake.names)
    assert not report.changed, report.tables
    assert report.count("created") == report.count("updated") == 0 and report.partitions_added == 0
    assert catalog_snapshot(catalog_lake) == before


def test_an_added_column_is_added_and_old_partitions_stay(catalog_lake: CatalogLake) -> None:
    lake, scheduler = catalog_lake.lake, catalog_lake.scheduler
    lake.connection.put_bytes(b"Order ID,Amount\n1,10.5\n2,20.25\n", "orders/ingest_date=2026-11-01/a.csv")
    assert lake.wait_until_idle(60) and scheduler.wait_idle(60)  # the automatic crawl catalogues it
    assert list(columns_of(get_table(catalog_lake, "curated_orders"))) == [
        "order_id",
        "amount",
        "_source_key",
        "_ingested_at",
    ]

    lake.connection.put_bytes(b"Order ID,Amount,Coupon\n3,7.5,WELCOME\n", "orders/ingest_date=2026-11-02/b.csv")
    assert lake.wait_until_idle(60) and scheduler.wait_idle(60)
    table = get_table(catalog_lake, "curated_orders")
    assert columns_of(table) == {
        "order_id": "bigint",
        "amount": "double",
        "_source_key": "string",
        "_ingested_at": "timestamp",
        "coupon": "string",  # added at the end; nothing before it moved or changed
    }
    partitions = catalog_lake.glue().get_partitions(DatabaseName="catlake", TableName="curated_orders")["Partitions"]
    assert sorted(p["Values"][0] for p in partitions) == ["2026-11-01", "2026-11-02"]
    assert all("coupon" in columns_of(p) for p in partitions)  # partitions inherit the table's columns
    rows = run_query(lake, None, None, "select order_id, coupon, ingest_date from curated_orders order by 1")
    assert rows.to_pylist() == [
        {"order_id": 1, "coupon": None, "ingest_date": "2026-11-01"},
        {"order_id": 2, "coupon": None, "ingest_date": "2026-11-01"},
        {"order_id": 3, "coupon": "WELCOME", "ingest_date": "2026-11-02"},
    ]
    assert not crawl(lake, only=[("curated", "orders")]).changed


def test_the_report_names_added_columns_and_partitions(catalog_lake: CatalogLake) -> None:
    """The sandbox is not chained: objects put there are crawled as they are."""
    lake = catalog_lake.lake
    crawler = LocalCrawler(lake.connection)
    lake.connection.put_bytes(b"id,name\n1,a\n", "customers/day=1/a.csv", zone="sandbox")
    crawler.crawl([("sandbox", "customers")])
    lake.connection.put_bytes(b"id,name,score\n2,b,0.5\n", "customers/day=2/b.csv", zone="sandbox")
    result = crawler.crawl([("sandbox", "customers")]).table("sandbox_customers")
    if result.action == "unchanged":  # the automatic crawl got there first: ask the catalog instead
        assert "score" in columns_of(get_table(catalog_lake, "sandbox_customers"))
    else:
        assert result.action == "updated" and result.columns_added == ["score"] and result.partitions_added == 1
    assert result.partitions == 2


def test_a_changed_type_is_logged_not_applied(catalog_lake: CatalogLake) -> None:
    lake = catalog_lake.lake
    buffer = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int64())}), buffer)
    lake.connection.put_bytes(buffer.getvalue(), "sales/v1.parquet", zone="sandbox")
    crawler = LocalCrawler(lake.connection)
    crawler.crawl([("sandbox", "sales")])
    assert columns_of(get_table(catalog_lake, "sandbox_sales")) == {"id": "bigint"}
    lake.connection.put_bytes(b"id\nnot-a-number\n", "sales/v2.csv", zone="sandbox")
    buffer = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array(["x"], pa.string())}), buffer)
    lake.connection.put_bytes(buffer.getvalue(), "sales/v3.parquet", zone="sandbox")
    result = crawler.crawl([("sandbox", "sales")]).table("sandbox_sales")
    assert columns_of(get_table(catalog_lake, "sandbox_sales")) == {"id": "bigint"}  # not retyped
    assert any("kept as is" in w for w in result.warnings)
    assert any("v2.csv" in w and "csv object in a parquet table" in w for w in result.warnings)


# -- pure parts ------------------------------------------------------------------------------------
def test_partition_layout_names_keys_like_the_crawler() -> None:
    hive = partition_layout("d/", ["d/year=2026/month=11/a.csv", "d/year=2026/month=12/b.csv", "d/stray.csv"])
    assert hive.keys == ("year", "month")
    assert hive.values["d/year=2026/month=12/b.csv"] == ("2026", "12")
    assert hive.excluded == ("d/stray.csv",)
    plain = partition_layout("d/", ["d/2026/11/a.csv", "d/2026/12/b.csv"])
    assert plain.keys == ("partition_0", "partition_1")
    uneven = partition_layout("d/", ["d/2026/a.csv", "d/b.csv"])
    assert uneven.keys == () and not uneven.excluded
    fixed = partition_layout("d/", ["d/day=1/a.csv", "d/year=1/b.csv"], fixed=("day",))
    assert fixed.excluded == ("d/year=1/b.csv",)


@pytest.mark.parametrize(
    ("cell", "glue_type"),
    [("12", "bigint"), ("1.5", "double"), ("true", "boolean"), ("2026-01-02", "string"), ("x", "string")],
)
def test_csv_sample_types(cell: str, glue_type: str) -> None:
    schema = csv_schema(f"Col\n{cell}\n{cell}\n".encode(), complete=True)
    assert [(c.name, c.type) for c in schema.columns] == [("col", glue_type)]


def test_a_sample_cut_mid_row_is_read_up_to_the_last_whole_row() -> None:
    text = 'a,b\n1,"x"\n2,"y\nz"\n3,"w'
    schema = csv_schema(text.encode(), complete=False)
    assert [(c.name, c.type) for c in schema.columns] == [("a", "bigint"), ("b", "string")]
    assert schema.quoted

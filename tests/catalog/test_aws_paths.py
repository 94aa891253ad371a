"""The AWS side of crawl and query, against the emulator's Glue and Athena APIs (moto)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

import pytest
from botocore.config import Config
from botocore.stub import Stubber
from catalog_helpers import CatalogLake

from datalake_cfn.aws_catalog import AwsConnection, CrawlerError, register_missing_tables, run_cloud_crawler
from datalake_cfn.local.crawler import crawl
from datalake_cfn.local.emulator import local_client, local_session
from datalake_cfn.local.query import QueryError, athena_output_location, run_athena_query

TIMED = {"progression": "time", "seconds": 0.3}


def moto_api(endpoint: str, path: str, body: dict) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status in {200, 201}


def seed_athena_result(endpoint: str, rows: list[list[str]], columns: list[tuple[str, str]]) -> None:
    """moto returns queued results to the next GetQueryResults (Athena itself is not emulated)."""
    body = {
        "results": [
            {
                "rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
                "column_info": [{"Name": n, "Label": n, "Type": t, "Nullable": "UNKNOWN"} for n, t in columns],
            }
        ]
    }
    moto_api(endpoint, "static/athena/query-results", body)


def test_athena_query_runs_in_the_lake_workgroup_and_types_the_result(catalog_lake: CatalogLake) -> None:
    names = catalog_lake.names
    athena = local_client("athena", catalog_lake.lake.endpoint, names.region)
    athena.create_work_group(
        Name=names.athena_workgroup,
        Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{names.athena_results_bucket}/results/"}},
    )
    seed_athena_result(
        catalog_lake.lake.endpoint,
        [["category", "orders", "revenue", "day"], ["books", "12", "345.5", "2026-11-24"]],
        [("category", "varchar"), ("orders", "bigint"), ("revenue", "double"), ("day", "date")],
    )
    states = []
    user_id = local_client("sts", catalog_lake.lake.endpoint, names.region).get_caller_identity()["UserId"]
    table = run_athena_query(
        athena,
        names,
        "select ... from curated_sales",
        output_location=athena_output_location(names, user_id),
        poll_seconds=0,
        on_state=lambda s, _: states.append(s),
    )
    assert table.to_pylist() == [{"category": "books", "orders": 12, "revenue": 345.5, "day": dt.date(2026, 11, 24)}]
    assert states[-1] == "SUCCEEDED"
    execution_id = athena.list_query_executions(WorkGroup=names.athena_workgroup)["QueryExecutionIds"][-1]
    execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
    assert execution["QueryExecutionContext"]["Database"] == names.glue_database
    assert execution["WorkGroup"] == names.athena_workgroup
    location = execution["ResultConfiguration"]["OutputLocation"]
    assert location.startswith(f"s3://{names.athena_results_bucket}/{user_id}/")


def test_a_failed_athena_query_is_a_query_error_with_its_reason(catalog_lake: CatalogLake) -> None:
    athena = local_client("athena", catalog_lake.lake.endpoint, catalog_lake.names.region)
    with Stubber(athena) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
        stub.add_response(
            "get_query_execution",
            {
                "QueryExecution": {
                    "QueryExecutionId": "q-1",
                    "Status": {"State": "FAILED", "StateChangeReason": "line 1:8: Column 'x' cannot be resolved"},
                }
            },
        )
        with pytest.raises(QueryError, match="cannot be resolved"):
            run_athena_query(athena, catalog_lake.names, "select x from curated_sales", poll_seconds=0)


def test_cloud_crawl_starts_the_crawler_and_waits_until_it_is_ready(catalog_lake: CatalogLake) -> None:
    names = catalog_lake.names
    # one attempt per call: moto lacks GetCrawlerMetrics, and retrying its error only costs time
    glue = local_session(names.region).client(
        "glue", endpoint_url=catalog_lake.lake.endpoint, config=Config(retries={"max_attempts": 1})
    )
    glue.create_crawler(
        Name=names.crawler,
        Role=f"arn:aws:iam::{names.account}:role/crawler",
        DatabaseName=names.glue_database,
        Targets={"CatalogTargets": [{"DatabaseName": names.glue_database, "Tables": ["curated_sales"]}]},
    )
    seen: list[str] = []
    # moto's crawls finish only when told; make them take a moment, as a real crawl does
    endpoint = catalog_lake.lake.endpoint
    moto_api(endpoint, "state-manager/set-transition", {"model_name": "glue::crawl", "transition": TIMED})
    try:
        result = run_cloud_crawler(
            glue, names.crawler, poll_seconds=0.05, timeout_seconds=30, on_state=lambda s, _: seen.append(s)
        )
    finally:
        moto_api(endpoint, "state-manager/unset-transition", {"model_name": "glue::crawl"})
    assert result.status in {"SUCCEEDED", "COMPLETED"}
    assert seen[0] == "RUNNING" and seen[-1] == "READY"
    with pytest.raises(CrawlerError, match="does not exist"):
        run_cloud_crawler(glue, "no-such-crawler", poll_seconds=0)


def test_tables_missing_from_the_catalog_are_registered_before_the_cloud_crawl(catalog_lake: CatalogLake) -> None:
    names = catalog_lake.names
    glue = catalog_lake.glue()
    local = glue.get_table(DatabaseName=names.glue_database, Name="staged_sales")["Table"]
    glue.delete_table(DatabaseName=names.glue_database, Name="staged_sales")
    try:
        connection = AwsConnection(catalog_lake.config, names, endpoint=catalog_lake.lake.endpoint)
        created = register_missing_tables(connection, sample=1)
        assert [r.table for r in created] == ["staged_sales"]  # every other table is there already
        table = glue.get_table(DatabaseName=names.glue_database, Name="staged_sales")["Table"]
        assert table["StorageDescriptor"]["Columns"] == local["StorageDescriptor"]["Columns"]
        assert table["PartitionKeys"] == local["PartitionKeys"]  # keys from the listing; partitions: the crawler's
        assert glue.get_partitions(DatabaseName=names.glue_database, TableName="staged_sales")["Partitions"] == []
        assert register_missing_tables(connection) == []
    finally:
        crawl(catalog_lake.lake)  # the local crawl restores partitions and exact counts for the other tests

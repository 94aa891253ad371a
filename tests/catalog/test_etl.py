"""The Glue job, run locally on pyspark through the awsglue shim, against a pandas reference."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from catalog_helpers import CatalogLake

from datalake_cfn.config import parse_config
from datalake_cfn.etl import glue_job, glue_script_path
from datalake_cfn.local.etl import EtlError, run_job
from datalake_cfn.local.glue_shim import GlueArgumentError, getResolvedOptions
from datalake_cfn.local.query import run_query


def reference_daily_totals(lake: CatalogLake) -> pd.DataFrame:
    """The same aggregation, in pandas, over the staged objects the job reads."""
    connection = lake.connection
    frames = [
        pd.read_csv(io.BytesIO(connection.get_bytes("staged", obj["Key"])), dtype=str)
        for obj in connection.list_objects("staged")
        if obj["Key"].startswith("sales/")
    ]
    sales = pd.concat(frames)
    sales = sales.dropna(subset=["order_date", "category"])
    sales["revenue"] = sales["unit_price"].astype(float) * sales["quantity"].astype("int64")
    sales["units"] = sales["quantity"].astype("int64")
    totals = sales.groupby(["order_date", "category"], as_index=False).agg(
        orders=("order_id", "size"), units=("units", "sum"), revenue=("revenue", "sum")
    )
    totals["revenue"] = totals["revenue"].round(2)
    return totals.sort_values(["order_date", "category"]).reset_index(drop=True)


def test_the_job_output_equals_a_pandas_reference(catalog_lake: CatalogLake, spark: object) -> None:
    report = run_job(
        catalog_lake.connection, catalog_lake.config, catalog_lake.names, "sales_daily_totals", spark=spark
    )
    assert report.committed and report.staged_objects == 2 and report.rows_read == 300 and not report.warnings
    assert report.table is not None and report.table.table == "curated_sales_daily_totals"
    assert report.table.partitions == len({k.split("/")[1] for k in report.output_objects}) > 1

    result = run_query(
        catalog_lake.lake,
        None,
        None,
        "select cast(order_date as varchar) as order_date, category, orders, units, revenue "
        "from curated_sales_daily_totals order by order_date, category",
    ).to_pandas()
    expected = reference_daily_totals(catalog_lake)
    assert len(result) == len(expected) == report.rows_written
    assert result[["order_date", "category"]].values.tolist() == expected[["order_date", "category"]].values.tolist()
    assert result["orders"].tolist() == expected["orders"].tolist()
    assert result["units"].tolist() == expected["units"].tolist()
    assert result["revenue"].tolist() == pytest.approx(expected["revenue"].tolist(), abs=0.006)

    # output objects carry the source dataset's classification, like everything the pipeline writes
    key = report.output_objects[0]
    assert key.startswith("sales_daily_totals/order_date=")
    assert catalog_lake.connection.object_tags("curated", key) == {"dataclassification": "internal"}

    # the bookmark: a second run finds nothing new and writes nothing
    again = run_job(catalog_lake.connection, None, None, "sales_daily_totals", spark=spark)
    assert again.staged_objects == 0 and again.bookmarked_objects == 2 and again.output_objects == []
    count = run_query(catalog_lake.lake, None, None, "select count(*) as n from curated_sales_daily_totals")
    assert count.to_pylist() == [{"n": len(expected)}]


def test_unknown_jobs_and_missing_arguments_fail_clearly(catalog_lake: CatalogLake) -> None:
    with pytest.raises(EtlError, match="unknown job 'nope'; jobs: sales_daily_totals"):
        run_job(catalog_lake.connection, None, None, "nope")
    with pytest.raises(GlueArgumentError, match="--target_path"):
        getResolvedOptions(["job.py", "--JOB_NAME", "j", "--source_path", "/x"], ["JOB_NAME", "target_path"])
    assert getResolvedOptions(["job.py", "--a=1", "--b", "2", "--flag"], ["a", "b"]) == {"a": "1", "b": "2"}


def test_the_deployed_job_and_the_local_run_share_paths(catalog_lake: CatalogLake) -> None:
    spec = glue_job(catalog_lake.config, "sales_daily_totals")
    names = catalog_lake.names
    assert spec.target_declared and spec.target_prefix == "sales_daily_totals/"
    assert spec.arguments(names)["--target_path"] == f"s3://{names.bucket('curated')}/sales_daily_totals/"
    undeclared = parse_config({"lake": "other", "datasets": [{"name": "sales", "classification": "public"}]})
    assert not glue_job(undeclared, "sales_daily_totals").target_declared
    assert spec.arguments(names)["--source_path"] == f"s3://{names.bucket('staged')}/sales/"
    assert spec.default_arguments(names)["--job-bookmark-option"] == "job-bookmark-enable"
    assert (
        glue_script_path("sales_daily_totals")
        == Path(__file__).resolve().parents[2] / "glue_scripts/sales_daily_totals.py"
    )


def test_on_aws_the_script_tags_what_its_sink_wrote(catalog_lake: CatalogLake, monkeypatch: pytest.MonkeyPatch) -> None:
    """Glue's sink cannot tag objects, and an untagged object is the steward's only: the script tags them."""
    import datetime as dt
    import runpy

    from datalake_cfn.local.glue_shim import LocalGlueRun, installed

    connection = catalog_lake.connection
    import time

    connection.put_bytes(b"old", "tagtest/old.parquet", zone="sandbox")
    time.sleep(1.1)  # S3 times are whole seconds
    since = dt.datetime.now(dt.UTC).replace(microsecond=0)
    connection.put_bytes(b"new", "tagtest/order_date=2026-11-24/part-0.parquet", zone="sandbox")
    connection.put_bytes(b"", "tagtest/_SUCCESS", zone="sandbox")
    monkeypatch.setenv("AWS_ENDPOINT_URL", catalog_lake.lake.endpoint)
    with installed(LocalGlueRun()):
        script = runpy.run_path(str(glue_script_path("sales_daily_totals")), run_name="not_main")
    bucket = catalog_lake.names.bucket("sandbox")
    assert script["tag_outputs"](f"s3://{bucket}/tagtest/", "proprietary", since) == 1
    assert connection.object_tags("sandbox", "tagtest/order_date=2026-11-24/part-0.parquet") == {
        "dataclassification": "proprietary"
    }
    assert connection.object_tags("sandbox", "tagtest/_SUCCESS") == {}
    assert script["tag_outputs"]("/tmp/local/output", "internal", since) == 0  # local runs: the runner tags

"""Glue job: daily totals per category, staged sales (clean CSV) -> curated (partitioned Parquet).

The same file runs on AWS Glue 5.0 (deployed by the prod stack, job bookmarks on) and
locally on plain pyspark (`datalake etl run sales_daily_totals`, with datalake's awsglue
shim). Only `awsglue` and `pyspark` are imported, so nothing here depends on where it runs.

Job arguments (the prod stack sets them as the job's default arguments):
  --JOB_NAME      set by Glue
  --source_path   staged sales, e.g. s3://acme-staged-111111111111-us-east-1/sales/
  --target_path   where the totals go, e.g. s3://acme-curated-111111111111-us-east-1/sales_daily_totals/
  --database      the lake's Glue database
  --target_table  the table the sink creates or updates, e.g. curated_sales_daily_totals
  --classification  the `dataclassification` tag the output objects get (the lake is fail-closed:
                  an untagged object is readable by the steward only, and Glue's sink cannot tag)

With bookmarks on, each run reads only the staged objects that arrived since the last
successful run and appends their totals, so a (order_date, category) that appears in two
runs has two rows: `sum()` them in queries (the rows are additive by construction).
"""

import sys
from datetime import UTC, datetime, timedelta

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

ARGUMENTS = ["JOB_NAME", "source_path", "target_path", "database", "target_table", "classification"]
PARTITION_KEYS = ["order_date"]


def daily_totals(sales: DataFrame) -> DataFrame:
    """Orders, units and revenue per order date and category; rows without either are dropped."""
    typed = sales.select(
        F.to_date(F.col("order_date")).alias("order_date"),
        F.col("category"),
        F.col("unit_price").cast("double").alias("unit_price"),
        F.col("quantity").cast("bigint").alias("quantity"),
    ).where(F.col("order_date").isNotNull() & F.col("category").isNotNull())
    return typed.groupBy("order_date", "category").agg(
        F.count(F.lit(1)).alias("orders"),
        F.sum("quantity").alias("units"),
        F.round(F.sum(F.col("unit_price") * F.col("quantity")), 2).alias("revenue"),
    )


def tag_outputs(target_path: str, classification: str, since: datetime) -> int:
    """Tag the objects this run wrote under an s3:// target (a local run's runner tags what it uploads)."""
    if not target_path.startswith("s3://"):
        return 0
    import boto3

    bucket, _, prefix = target_path[len("s3://") :].partition("/")
    s3 = boto3.client("s3")
    tagged = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["LastModified"] >= since and not obj["Key"].rsplit("/", 1)[-1].startswith(("_", ".")):
                s3.put_object_tagging(
                    Bucket=bucket,
                    Key=obj["Key"],
                    Tagging={"TagSet": [{"Key": "dataclassification", "Value": classification}]},
                )
                tagged += 1
    return tagged


def main(argv: list) -> None:
    args = getResolvedOptions(argv, ARGUMENTS)
    started = datetime.now(UTC) - timedelta(minutes=1)  # S3 clocks may lag a little
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)

    staged = glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [args["source_path"]], "recurse": True},
        format="csv",
        format_options={"withHeader": True, "quoteChar": '"'},
        transformation_ctx="staged_sales",  # the bookmark: later runs read only new objects
    )
    sales = staged.toDF()
    if "order_date" not in sales.columns:  # nothing new since the last run
        job.commit()
        return

    totals = daily_totals(sales)
    sink = glue_context.getSink(
        connection_type="s3",
        path=args["target_path"],
        enableUpdateCatalog=True,
        updateBehavior="UPDATE_IN_DATABASE",
        partitionKeys=PARTITION_KEYS,
        transformation_ctx="daily_totals",
    )
    sink.setFormat("glueparquet", compression="snappy")
    sink.setCatalogInfo(catalogDatabase=args["database"], catalogTableName=args["target_table"])
    sink.writeFrame(DynamicFrame.fromDF(totals, glue_context, "daily_totals"))
    tag_outputs(args["target_path"], args["classification"], started)
    job.commit()


if __name__ == "__main__":
    main(sys.argv)

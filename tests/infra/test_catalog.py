"""CDK assertions for the catalog: the Glue database, the crawler, the Athena workgroup and the Glue job.

The crawler's table names must be the ones the local crawl gives (`datalake_cfn.catalog.catalog_tables`),
and the job's arguments the ones the local runner passes (`datalake_cfn.etl.glue_jobs`): both are
read from the same modules here, so a divergence fails.
"""

from __future__ import annotations

import json

from aws_cdk.assertions import Match, Template

from datalake_cfn.catalog import catalog_tables
from datalake_cfn.etl import GLUE_VERSION, glue_jobs
from datalake_cfn.infra.catalog import CATALOG_TARGET_TABLES, CRAWLER_SCHEDULE
from tests.infra.templates import Synthesized, arn_of


def cdk_template(lake: Synthesized) -> Template:
    return Template.from_json(lake.prod.template)


def crawler_of(lake: Synthesized) -> dict:
    (crawler,) = lake.prod.of_type("AWS::Glue::Crawler").values()
    return crawler["Properties"]


def test_one_database_per_lake(any_lake: Synthesized) -> None:
    template = cdk_template(any_lake)
    template.resource_count_is("AWS::Glue::Database", 1)
    template.has_resource_properties(
        "AWS::Glue::Database", {"DatabaseInput": Match.object_like({"Name": any_lake.names.glue_database})}
    )


def test_the_crawler_targets_every_table_by_its_zone_dataset_name(any_lake: Synthesized) -> None:
    crawler = crawler_of(any_lake)
    targets = crawler["Targets"]
    assert "S3Targets" not in targets  # folder-named tables would collide across zones
    tables = [t for target in targets["CatalogTargets"] for t in target["Tables"]]
    assert tables == [spec.name for spec in catalog_tables(any_lake.config, any_lake.names)]
    assert {target["DatabaseName"] for target in targets["CatalogTargets"]} == {any_lake.names.glue_database}
    assert "curated_sales" in tables and "raw_customers" in tables


def test_schema_changes_are_merged_and_logged_never_destructive(any_lake: Synthesized) -> None:
    template = cdk_template(any_lake)
    template.has_resource_properties(
        "AWS::Glue::Crawler",
        {
            "Name": any_lake.names.crawler,
            "SchemaChangePolicy": {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"},
            "RecrawlPolicy": {"RecrawlBehavior": Match.any_value()},
            "Schedule": {"ScheduleExpression": CRAWLER_SCHEDULE},
        },
    )
    configuration = json.loads(crawler_of(any_lake)["Configuration"])
    assert configuration["CrawlerOutput"]["Tables"] == {"AddOrUpdateBehavior": "MergeNewColumns"}
    assert configuration["CrawlerOutput"]["Partitions"] == {"AddOrUpdateBehavior": "InheritFromTable"}
    assert "Grouping" not in configuration  # an S3-target option, rejected with catalog targets


def test_a_big_lake_splits_its_tables_over_catalog_targets(big_lake: Synthesized) -> None:
    targets = crawler_of(big_lake)["Targets"]["CatalogTargets"]
    assert all(len(t["Tables"]) <= CATALOG_TARGET_TABLES for t in targets)
    assert sum(len(t["Tables"]) for t in targets) == 12 * 30


def test_athena_workgroup_with_encrypted_results(any_lake: Synthesized) -> None:
    template = cdk_template(any_lake)
    template.resource_count_is("AWS::Athena::WorkGroup", 1)
    template.has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "Name": any_lake.names.athena_workgroup,
            "State": "ENABLED",
            "WorkGroupConfiguration": Match.object_like(
                {
                    "ResultConfiguration": {
                        "OutputLocation": Match.string_like_regexp(f"^s3://{any_lake.names.athena_results_bucket}/"),
                        "EncryptionConfiguration": {
                            "EncryptionOption": "SSE_KMS",
                            "KmsKey": arn_of(any_lake.prod.id_of("Catalog/AthenaKey/Resource")),
                        },
                    }
                }
            ),
        },
    )


def test_the_glue_job_runs_on_glue_5_with_bookmarks_and_the_local_arguments(default_lake: Synthesized) -> None:
    names = default_lake.names
    specs = glue_jobs(default_lake.config)
    assert [s.job for s in specs] == ["sales_daily_totals"]
    template = cdk_template(default_lake)
    for spec in specs:
        template.has_resource_properties(
            "AWS::Glue::Job",
            {
                "Name": spec.name(names),
                "GlueVersion": GLUE_VERSION,
                "Command": Match.object_like({"Name": "glueetl", "PythonVersion": "3"}),
                "DefaultArguments": Match.object_like(
                    {"--job-bookmark-option": "job-bookmark-enable", **spec.arguments(names)}
                ),
            },
        )
    assert GLUE_VERSION == "5.0"  # the newest Glue version

"""`--as` on every read: `query` authorizes each object behind each table it scans, through the
policy evaluator; a denied table is exit 3 with the statement that denied and not one row."""

from __future__ import annotations

import json

import pytest
from cli_helpers import assert_clean

from datalake_cfn.access.spec import expected_matrix
from datalake_cfn.config import LakeConfig

ROW_MARKER = "@"  # customers rows carry (masked) e-mail addresses


def _may_read(config: LakeConfig, persona: str, zone: str, level: str, clearance: str | None = None) -> bool:
    clearances = {persona: clearance} if clearance else None
    matrix = expected_matrix(config, clearances=clearances, secure_transport=True)
    return matrix[(persona, zone, level, "read")]


def test_analyst_is_denied_curated_customers_and_sees_no_row(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("query", "select * from curated_customers", "-f", "json", "--as", "analyst")
    assert_clean(result, 3, "access denied", "curated_customers", "statement")
    assert result.stdout == "" and ROW_MARKER not in result.output


def test_analyst_is_denied_every_raw_table(cli) -> None:  # type: ignore[no-untyped-def]
    for table in ("raw_sales", "raw_customers"):
        result = cli("--as", "analyst", "query", f"select * from {table}")
        assert_clean(result, 3, "access denied", table)
        assert result.stdout == ""


def test_a_lowered_session_clearance_denies_internal_data(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("query", "select count(*) as n from curated_sales", "--as", "analyst", "--clearance", "public")
    assert_clean(result, 3, "access denied", "curated_sales", "public")


def test_the_steward_reads_what_the_analyst_may_not(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("--as", "steward", "query", "select count(*) as n from curated_customers", "-f", "json")
    assert_clean(result, 0)
    assert json.loads(result.stdout)[0]["n"] > 0


def test_direct_file_reads_cannot_bypass_the_catalog(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("--as", "analyst", "query", "select * from read_csv('s3://clilake-raw/customers/x.csv')")
    assert_clean(result, 2, "catalogued tables")
    assert result.stdout == ""


@pytest.mark.parametrize("persona", ["steward", "engineer", "scientist", "analyst"])
def test_query_get_and_ls_follow_the_access_matrix(cli, cli_lake, cli_config, persona: str) -> None:  # type: ignore[no-untyped-def]
    """Each persona against the design table, for query (every table), ls (every zone) and get."""
    connection = cli_lake.connection
    for zone in ("raw", "staged", "curated"):
        for dataset in ("sales", "customers"):
            keys = [o["Key"] for o in connection.list_objects(zone) if o["Key"].startswith(f"{dataset}/")]
            level = connection.object_tags(zone, keys[0]).get("dataclassification") if keys else None
            allowed = _may_read(cli_config, persona, zone, level) if keys else True
            query = cli("--as", persona, "query", f"select count(*) as n from {zone}_{dataset}", "-f", "json")
            assert_clean(query, 0 if allowed else 3)
            get = cli("--as", persona, "get", zone, keys[0], "-o", "-")
            assert_clean(get, 0 if allowed else 3)
        listing = cli("--as", persona, "ls", zone)
        may_list = expected_matrix(cli_config)[(persona, zone, "public", "list")]
        assert_clean(listing, 0 if may_list else 3)


def test_crawl_verify_and_etl_are_authorized_too(cli) -> None:  # type: ignore[no-untyped-def]
    assert_clean(cli("--as", "analyst", "crawl", "--zone", "raw"), 3, "crawl denied", "access denied")
    assert_clean(cli("--as", "analyst", "verify", "--wait", "0"), 3, "verify denied", "access denied")
    assert_clean(cli("--as", "analyst", "etl", "run", "sales_daily_totals"), 3, "etl job", "access denied")
    assert_clean(cli("--as", "steward", "verify", "--wait", "0"), 0, "accounted for")

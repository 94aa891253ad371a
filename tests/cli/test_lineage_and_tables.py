"""`datalake lineage ZONE KEY` from the lineage metadata; tables that fold, never cut, at any width."""

from __future__ import annotations

import json

import pytest
from cli_helpers import assert_clean
from tables import parse_tables


def test_lineage_of_a_curated_object_goes_back_to_raw(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("lineage", "curated", "customers/customers.parquet", "--json")
    assert_clean(result, 0)
    chain = json.loads(result.stdout)
    assert chain["object"]["zone"] == "curated" and chain["object"]["dataset"] == "customers"
    assert chain["object"]["transform"] == "typed"
    assert [(s["zone"], s["key"]) for s in chain["sources"]] == [
        ("staged", "customers/customers.csv"),
        ("raw", "customers/customers.csv"),
    ]
    assert chain["sources"][0]["transform"] == "clean+zone_consumer.samples:mask_emails"
    assert chain["sources"][-1]["source"] is None  # landed by a producer: the chain ends in raw
    assert chain["object"]["source"]["etag"] == chain["sources"][0]["etag"]
    assert chain["outputs"] == []

    tree = cli("lineage", "curated", "customers/customers.parquet", env={"COLUMNS": "200"})
    assert_clean(tree, 0, "<- this object", "mask_emails")
    lines = tree.stdout.splitlines()
    assert lines[0].startswith("raw") and "clilake-raw-" in lines[0] and "(landed)" in lines[0]
    assert "staged" in lines[1] and "curated" in lines[2] and "this object" in lines[2]


def test_lineage_of_a_raw_object_shows_its_outputs(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("lineage", "raw", "sales/sales-2026-10.csv", "--json")
    assert_clean(result, 0)
    chain = json.loads(result.stdout)
    assert chain["sources"] == []
    (staged,) = chain["outputs"]
    assert staged["zone"] == "staged" and staged["source"]["key"] == "sales/sales-2026-10.csv"
    (curated,) = staged["outputs"]
    assert curated["zone"] == "curated" and curated["key"].endswith(".parquet") and curated["outputs"] == []


def test_lineage_mistakes_and_denials(cli) -> None:  # type: ignore[no-untyped-def]
    assert_clean(cli("lineage", "raw", "sales/nope.csv"), 2, "no object", "datalake ls raw")
    assert_clean(cli("lineage", "bronze", "x"), 2, "unknown zone 'bronze'")
    denied = cli("lineage", "curated", "customers/customers.parquet", "--as", "analyst")
    assert_clean(denied, 3, "lineage denied", "analyst")
    assert denied.stdout == ""


@pytest.mark.parametrize("columns", ["60", "200"])
def test_ls_and_status_keep_keys_and_names_whole(cli, columns: str) -> None:  # type: ignore[no-untyped-def]
    listing = json.loads(cli("ls", "--json").stdout)
    result = cli("ls", env={"COLUMNS": columns})
    assert_clean(result, 0)
    assert "\x1b[" not in result.stdout and "…" not in result.stdout
    tables = parse_tables(result.stdout)
    for table, zone in zip(tables, listing["zones"], strict=True):
        assert f"(s3://{zone['bucket']})" in result.stdout  # the title: one whole line
        for obj in zone["objects"]:
            assert obj["key"] in table.joined("key"), (obj["key"], result.stdout)
    assert max(len(line) for line in result.stdout.splitlines()) <= int(columns)

    status = cli("status", env={"COLUMNS": columns})
    assert_clean(status, 0)
    (table,) = parse_tables(status.stdout)
    queues = table.joined("queue")
    for zone in json.loads(cli("status", "--json").stdout)["zones"]:
        for queue in zone["queues"]:
            assert queue["queue"] in queues

"""`--json` on status, ls, dlq list, verify, crawl, cost, access: it parses, and it carries the facts
the table shows (each test reads both from the installed console script and compares them)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from cli_helpers import CLI_LAKE, FAST, Result, assert_clean, run_datalake
from tables import AsciiTable, parse_tables

from datalake_cfn.cli.perf import _money as money
from datalake_cfn.config import parse_config
from datalake_cfn.console import human_size
from datalake_cfn.local.lake import LocalLake

WIDE = {"COLUMNS": "200"}


def both(cli: Callable[..., Result], *args: str, code: int = 0) -> tuple[list[AsciiTable], dict]:
    """The tables of `datalake ARGS` and the parsed `datalake ARGS --json`, both with exit `code`."""
    table = cli(*args, env=WIDE)
    assert_clean(table, code)
    as_json = cli(*args, "--json", env=WIDE)
    assert_clean(as_json, code)
    return parse_tables(table.stdout), json.loads(as_json.stdout)


FAILING_LAKE = {**CLI_LAKE, "lake": "clidlq"}  # its own names: emulators in one process share moto's state


@pytest.fixture(scope="module")
def failing_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dlq-config") / "lake.yaml"
    path.write_text(yaml.safe_dump(FAILING_LAKE))
    return path


@pytest.fixture(scope="module")
def failing_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLake]:
    """A lake of its own with one object in the DLQ (binary data is refused at once)."""
    config = parse_config(FAILING_LAKE)
    with LocalLake(config, data_dir=tmp_path_factory.mktemp("dlq-lake"), worker_settings=FAST) as lake:
        lake.connection.put_bytes(b"a,b\n1,2\n", key="sales/good.csv")
        lake.connection.put_bytes(bytes(range(256)) * 8, key="sales/not-a-csv.csv")
        assert lake.wait_until_idle(timeout=60)
        assert lake.connection.dlq_depth() == 1
        yield lake


@pytest.fixture
def failing_cli(failing_lake: LocalLake, failing_yaml: Path) -> Callable[..., Result]:
    def invoke(*args: str, **kwargs: object) -> Result:
        return run_datalake("--config", str(failing_yaml), "--data", str(failing_lake.data_dir), *args, **kwargs)  # type: ignore[arg-type]

    return invoke


def test_status_json_has_each_zone_once_with_its_queues(failing_cli) -> None:  # type: ignore[no-untyped-def]
    (table,), facts = both(failing_cli, "status")
    assert [z["zone"] for z in facts["zones"]] == ["raw", "staged", "curated", "sandbox"]
    rows = table.records()
    for zone in facts["zones"]:
        first = next(i for i, row in enumerate(rows) if row["zone"] == zone["zone"])
        assert rows[first]["objects"] == str(zone["objects"])
        for offset, queue in enumerate(zone["queues"]):
            row = rows[first + offset]
            assert row["queue"] == queue["queue"]
            assert row["queued"] == str(queue["queued"]) and row["in flight"] == str(queue["in_flight"])
            assert row["consumer"] == ("yes" if queue["consumer"] else "catalog")
            if offset:  # the zone's object count is not repeated on its other queues' rows
                assert row["zone"] == "" and row["objects"] == ""
    assert facts["zones"][0]["objects"] == 2 and facts["zones"][1]["objects"] == 1
    dlq = table.record(zone="DLQ")
    assert dlq["queue"] == facts["dlq"]["queue"] and dlq["queued"] == str(facts["dlq"]["depth"]) == "1"


def test_ls_json_lists_every_object_with_its_tag(cli) -> None:  # type: ignore[no-untyped-def]
    tables, facts = both(cli, "ls")
    assert [z["zone"] for z in facts["zones"]] == [t.split()[0] for t in _titles(cli("ls", env=WIDE).stdout)]
    assert len(tables) == len(facts["zones"])
    for table, zone in zip(tables, facts["zones"], strict=True):
        if not zone["objects"]:
            assert table.column("key") == ["(empty)"]
            continue
        assert table.column("key") == [o["key"] for o in zone["objects"]]
        assert table.column("size") == [human_size(o["size"]) for o in zone["objects"]]
        tags = [o["dataclassification"] or "untagged (steward, pipeline)" for o in zone["objects"]]
        assert table.column("dataclassification") == tags
        assert table.column("transform") == [o["transform"] or "-" for o in zone["objects"]]
    curated = next(z for z in facts["zones"] if z["zone"] == "curated")
    assert {o["key"].split("/")[0] for o in curated["objects"]} == {"sales", "customers"}
    assert all(o["dataclassification"] for o in curated["objects"])


def _titles(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if "(s3://" in line]


def test_dlq_list_json_names_the_object_and_the_reason(failing_cli) -> None:  # type: ignore[no-untyped-def]
    (table,), facts = both(failing_cli, "dlq", "list")
    (message,) = facts["messages"]
    assert message["zone"] == "raw" and message["keys"][0].endswith("sales/not-a-csv.csv")
    assert "binary" in message["reason"]
    (row,) = [r for r in table.records() if r["message"]]
    assert message["message_id"].startswith(row["message"]) and row["zone"] == message["zone"]
    assert message["keys"][0] in table.joined("object(s)")
    assert message["reason"].replace(" ", "") in table.joined("reason").replace(" ", "")
    assert row["attempts"] == message["attempts"]


def test_verify_json_carries_the_hops_and_the_same_exit_status(failing_cli) -> None:  # type: ignore[no-untyped-def]
    table_run = failing_cli("verify", "--wait", "5", env=WIDE)
    json_run = failing_cli("verify", "--wait", "5", "--json", env=WIDE)
    assert "Traceback" not in table_run.output + json_run.output
    assert table_run.returncode == json_run.returncode in (0, 1)
    facts = json.loads(json_run.stdout)
    assert facts["ok"] is (json_run.returncode == 0)
    summary = parse_tables(table_run.stdout)[0]
    assert len(facts["hops"]) == len(summary.rows) == 2
    for hop in facts["hops"]:
        row = summary.record(hop=f"{hop['source_zone']} -> {hop['target_zone']}")
        assert row["objects"] == str(hop["objects"]) and row["with output"] == str(hop["with_output"])
        assert row["in DLQ"] == str(hop["dead_lettered"])
    raw = next(h for h in facts["hops"] if h["source_zone"] == "raw")
    assert (raw["objects"], raw["with_output"], raw["dead_lettered"]) == (2, 1, 1)


def test_crawl_json_reports_every_table(cli) -> None:  # type: ignore[no-untyped-def]
    (table,), facts = both(cli, "crawl")
    assert facts["database"] and facts["summary"]
    assert table.column("table") == [t["table"] for t in facts["tables"]]
    assert table.column("result") == [t["action"] for t in facts["tables"]]
    assert table.column("objects") == [str(t["objects"]) for t in facts["tables"]]
    assert table.column("columns") == [str(len(t["columns"])) if t["columns"] else "-" for t in facts["tables"]]
    curated_sales = next(t for t in facts["tables"] if t["table"] == "curated_sales")
    assert curated_sales["objects"] >= 1 and "order_id" in curated_sales["columns"]


def test_cost_json_has_the_line_items_and_totals(tmp_path: Path, cli_yaml: Path) -> None:
    args = ("--config", str(cli_yaml), "cost", "--daily-gb", "5", "--file-mb", "20")
    table_run, json_run = run_datalake(*args, env=WIDE), run_datalake(*args, "--json", env=WIDE)
    assert_clean(table_run, 0)
    assert_clean(json_run, 0)
    facts = json.loads(json_run.stdout)
    costs = parse_tables(table_run.stdout)[0]
    assert facts["workload"]["daily_gb"] == 5 and facts["workload"]["files_per_month"] == 7680
    names = [item["name"] for item in facts["items"]]
    assert [n for n in costs.column("monthly cost") if n] == [*names, "total"]
    rows = {row[0]: row for row in costs.rows if row[0]}
    assert rows["total"][1:3] == [money(facts["total"]["engine"]), money(facts["total"]["original"])]
    for item in facts["items"]:
        assert rows[item["name"]][1:3] == [money(item["engine"]), money(item["original"])]


def test_access_json_has_the_letters_of_every_cell(tmp_path: Path, cli_yaml: Path) -> None:
    args = ("--config", str(cli_yaml), "--as", "analyst", "--clearance", "public", "access")
    table_run, json_run = run_datalake(*args, cwd=tmp_path, env=WIDE), run_datalake(*args, "--json", cwd=tmp_path)
    assert_clean(table_run, 0, "session clearance analyst=public")
    assert_clean(json_run, 0)
    facts = json.loads(json_run.stdout)
    assert facts["session_clearances"] == {"analyst": "public"} and "analyst=public" in facts["title"]
    (matrix,) = parse_tables(table_run.stdout)
    levels = matrix.headers[2:]
    assert len(facts["cells"]) == len(matrix.rows) * len(levels) == 4 * 6
    for row in matrix.records():
        for level in levels:
            (cell,) = [
                c
                for c in facts["cells"]
                if (c["persona"], c["zone"], c["level"]) == (row["persona"], row["zone"], level)
            ]
            assert row[level] == cell["letters"]
            assert cell["allowed"]["read"] is ("R" in cell["letters"])
    curated_public = next(c for c in facts["cells"] if c["zone"] == "curated" and c["level"] == "public")
    assert curated_public["letters"] == "LR··D"
    assert list(tmp_path.iterdir()) == []  # no picture unless -o asks for one

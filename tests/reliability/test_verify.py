"""`datalake verify` finds what is unaccounted for, and only that.

The lake here has no workers: each test arranges the zones by hand - sources, outputs with
lineage metadata (or without), DLQ messages - so every kind of finding is exercised
without depending on the pipeline that verify is meant to check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from reliability_helpers import ChaosLake
from typer.testing import CliRunner

from datalake_cfn.cli import app
from datalake_cfn.reliability.verify import LakeAccess, verify_lake


@pytest.fixture(scope="module")
def shared_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosLake]:
    with ChaosLake("verify", tmp_path_factory.mktemp("verify")) as lake:
        yield lake


@pytest.fixture
def lake(shared_lake: ChaosLake) -> ChaosLake:
    """The shared lake, emptied: no objects (nor versions) in any zone, no messages in any queue."""
    s3, sqs = shared_lake.connection.client("s3"), shared_lake.connection.client("sqs")
    names = shared_lake.lake.names
    for zone in shared_lake.config.zones:
        listing = s3.list_object_versions(Bucket=names.bucket(zone.name))
        for version in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
            s3.delete_object(Bucket=names.bucket(zone.name), Key=version["Key"], VersionId=version["VersionId"])
    for queue in [q.queue for q in shared_lake.connection.queue_status()] + [names.dlq]:
        url = shared_lake.connection.queue_url(queue)  # PurgeQueue is allowed once a minute: drain instead
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
    return shared_lake


def put_source(lake: ChaosLake, key: str, data: bytes = b"id\n1\n") -> str:
    lake.put(key, data)
    return lake.connection.head("raw", key)["ETag"].strip('"')


def lose_events(lake: ChaosLake) -> None:
    """Drop the S3 events waiting in the raw queue (there are no workers): their objects are truly missing."""
    sqs = lake.connection.client("sqs")
    url = lake.connection.queue_url(lake.lake.names.queue("raw"))
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )


def put_output(lake: ChaosLake, key: str, source_key: str, source_etag: str) -> None:
    names = lake.lake.names
    lake.connection.client("s3").put_object(
        Bucket=names.bucket("staged"),
        Key=key,
        Body=b"id\n1\n",
        Metadata={
            "datalake-source-bucket": names.bucket("raw"),
            "datalake-source-key": source_key.replace(" ", "%20"),
            "datalake-source-etag": source_etag,
        },
    )


def dead_letter(lake: ChaosLake, key: str, etag: str) -> None:
    names = lake.lake.names
    record = {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": names.bucket("raw")}, "object": {"key": key.replace(" ", "+"), "eTag": etag}},
    }
    lake.connection.client("sqs").send_message(
        QueueUrl=lake.connection.queue_url(names.dlq), MessageBody=json.dumps({"Records": [record]})
    )


def raw_hop(lake: ChaosLake) -> Any:
    report = verify_lake(lake.config, LakeAccess.local(lake.config, lake.lake.endpoint), zones=["raw"])
    assert [(hop.source_zone, hop.target_zone) for hop in report.hops] == [("raw", "staged")]
    return report.hops[0]


def test_every_kind_of_finding(lake: ChaosLake) -> None:
    ok = put_source(lake, "sales/ok.csv")
    put_output(lake, "sales/ok.csv", "sales/ok.csv", ok)
    put_source(lake, "sales/lost.csv")
    put_source(lake, "sales/changed.csv", b"id\n2\n")
    put_output(lake, "sales/changed.csv", "sales/changed.csv", "0123456789abcdef0123456789abcdef")
    twice = put_source(lake, "sales/twice.csv")
    put_output(lake, "sales/twice.csv", "sales/twice.csv", twice)
    put_output(lake, "sales/twice-copy.csv", "sales/twice.csv", twice)
    dead = put_source(lake, "sales/with space.csv")
    dead_letter(lake, "sales/with space.csv", dead)
    put_source(lake, "elsewhere/not-a-dataset.csv")
    put_output(lake, "sales/orphan.csv", "sales/deleted-since.csv", "feedfacefeedfacefeedfacefeedface")
    lake.connection.client("s3").put_object(
        Bucket=lake.lake.names.bucket("staged"), Key="sales/no-lineage.csv", Body=b""
    )
    lose_events(lake)

    hop = raw_hop(lake)
    # An object outside every dataset is picked up too (issue 14): reconciled, and named as undeclared.
    assert (hop.objects, hop.with_output, hop.dead_lettered, hop.ignored) == (6, 1, 1, 0)
    kinds = {problem.key: problem.kind for problem in hop.problems}
    assert kinds == {
        "sales/lost.csv": "missing",
        "sales/changed.csv": "stale",
        "sales/twice.csv": "duplicate",
        "elsewhere/not-a-dataset.csv": "missing",
    }
    assert [(u.name, u.prefix, u.keys) for u in hop.undeclared] == [
        ("elsewhere", "elsewhere/", ["elsewhere/not-a-dataset.csv"])
    ]
    assert hop.orphans == ["sales/orphan.csv"]


def test_a_collision_is_reported_with_both_sources(lake: ChaosLake) -> None:
    """Were two sources ever to share an output key, verify names the lost one and who overwrote it."""
    put_source(lake, "sales/zipped.csv")
    other = put_source(lake, "sales/zipped.txt")
    put_output(lake, "sales/zipped.csv", "sales/zipped.txt", other)  # where sales/zipped.csv's output belongs
    hop = raw_hop(lake)
    [problem] = hop.problems
    assert (problem.key, problem.kind) == ("sales/zipped.csv", "collision")
    assert "sales/zipped.txt" in problem.detail and "sales/zipped.csv in staged" in problem.detail


def test_a_dead_letter_for_an_older_version_does_not_count(lake: ChaosLake) -> None:
    put_source(lake, "sales/retried.csv")
    dead_letter(lake, "sales/retried.csv", "00000000000000000000000000000000")
    lose_events(lake)
    hop = raw_hop(lake)
    assert [problem.kind for problem in hop.problems] == ["missing"]


def test_the_dlq_is_left_as_it_was(lake: ChaosLake) -> None:
    etag = put_source(lake, "sales/failed.csv")
    dead_letter(lake, "sales/failed.csv", etag)
    raw_hop(lake)
    raw_hop(lake)  # read twice: the first read made its messages visible again
    assert len(lake.connection.dead_letters()) == 1


def test_queued_work_is_named_in_the_finding(lake: ChaosLake) -> None:
    put_source(lake, "sales/waiting.csv")  # its event waits in the raw queue: there is no worker
    hop = raw_hop(lake)
    assert hop.queued == 1
    [problem] = hop.problems
    assert problem.kind == "in flight" and "missing" not in problem.detail  # not lost: it will be processed
    assert "1 message(s) still queued" in problem.detail and "visible again by" in problem.detail


def invoke(lake: ChaosLake, *args: str) -> Any:
    return CliRunner().invoke(
        app, ["--config", str(lake.config_path), "--data", str(lake.data_dir), *args], env={"COLUMNS": "200"}
    )


def test_the_command_exits_1_and_lists_what_is_unaccounted(lake: ChaosLake) -> None:
    put_source(lake, "sales/lost.csv")
    lose_events(lake)
    result = invoke(lake, "verify", "raw", "--wait", "0")
    assert result.exit_code == 1
    assert "sales/lost.csv" in result.output and "missing" in result.output
    assert "1 object(s) unaccounted for" in result.output


def test_the_command_exits_0_when_everything_is_accounted_for(lake: ChaosLake) -> None:
    etag = put_source(lake, "sales/ok.csv")
    put_output(lake, "sales/ok.csv", "sales/ok.csv", etag)
    result = invoke(lake, "verify", "raw", "--wait", "0")
    assert result.exit_code == 0, result.output
    assert "every object is accounted for" in result.output


@pytest.mark.parametrize(
    ("zone", "message"),
    [("curated", "has no next zone"), ("nowhere", "unknown zone 'nowhere'")],
)
def test_zone_mistakes_are_explained(lake: ChaosLake, zone: str, message: str) -> None:
    result = invoke(lake, "verify", zone)
    assert result.exit_code != 0
    assert message in str(result.exception) + result.output


def test_without_a_running_lake_it_says_how_to_start_one(lake: ChaosLake, tmp_path: Any) -> None:
    result = CliRunner().invoke(app, ["--config", str(lake.config_path), "--data", str(tmp_path / "none"), "verify"])
    assert result.exit_code != 0
    assert "datalake up" in str(result.exception)

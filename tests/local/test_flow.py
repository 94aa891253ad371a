"""A CSV put into raw reaches curated as Parquet equal to the cleaned input, through real S3
events in real SQS messages; redelivery never duplicates; failures reach the DLQ with a reason."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote_plus

import flaky_transforms
import pyarrow.parquet as pq

from datalake_cfn.local.lake import LocalLake

INPUT = (
    "Order ID,Customer Name , unitPrice,Notes\r\n"
    "1, Alice ,3.50,  first order \r\n"
    "2,Bob,,\r\n"
    "1, Alice ,3.50,  first order \r\n"
    '3,"Carol, Jr.",4.25,"said ""hi"""\r\n'
    "4,Dan,1e2,   \r\n"
)


def reference_clean(text: str) -> tuple[list[str], list[list[str | None]]]:
    """An independent statement of the clean hop: snake_case, trim, empty -> null, drop exact duplicates."""
    rows = list(csv.reader(io.StringIO(text)))
    header = [re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", h.strip()) for h in rows[0]]
    header = [re.sub(r"[^0-9a-zA-Z]+", "_", h).strip("_").lower() for h in header]
    seen, cleaned = set(), []
    for row in rows[1:]:
        values = tuple(v.strip() or None for v in row)
        if values not in seen:
            seen.add(values)
            cleaned.append(list(values))
    return header, cleaned


def curated_table(lake: LocalLake, key: str):
    return pq.read_table(io.BytesIO(lake.connection.get_bytes("curated", key)))


def test_csv_reaches_curated_equal_to_cleaned_input_tagged_with_lineage(lake: LocalLake) -> None:
    lake.connection.put_bytes(INPUT.encode(), "sales/2026/orders one.csv")
    assert lake.wait_until_idle(60)
    header, rows = reference_clean(INPUT)
    assert header == ["order_id", "customer_name", "unit_price", "notes"]

    staged = lake.connection.get_bytes("staged", "sales/2026/orders one.csv").decode()
    staged_rows = list(csv.reader(io.StringIO(staged)))
    assert staged_rows[0] == [*header, "_source_key", "_ingested_at"]
    assert [[v or None for v in r[:4]] for r in staged_rows[1:]] == rows

    table = curated_table(lake, "sales/2026/orders one.parquet")
    assert table.column_names == [*header, "_source_key", "_ingested_at"]
    assert str(table.schema.field("order_id").type) == "int64"
    assert str(table.schema.field("unit_price").type) == "double"
    expected = [[int(r[0]), r[1], float(r[2]) if r[2] else None, r[3]] for r in rows]
    got = [[row[c] for c in header] for row in table.to_pylist()]
    assert got == expected
    assert set(table.column("_source_key").to_pylist()) == {"sales/2026/orders one.csv"}

    assert lake.connection.object_tags("curated", "sales/2026/orders one.parquet") == {"dataclassification": "internal"}
    meta = lake.connection.head("curated", "sales/2026/orders one.parquet")["Metadata"]
    staged_head = lake.connection.head("staged", "sales/2026/orders one.csv")
    assert meta["datalake-source-bucket"] == lake.names.bucket("staged")
    assert meta["datalake-source-key"] == "sales/2026/orders%20one.csv"
    assert meta["datalake-source-version"] == staged_head["VersionId"]
    assert meta["datalake-source-etag"] == staged_head["ETag"].strip('"')
    assert meta["datalake-transform"] == "typed" and meta["datalake-transform-version"]
    assert lake.connection.head("staged", "sales/2026/orders one.csv")["Metadata"]["datalake-transform"] == "clean"


def test_confidential_dataset_is_tagged_confidential_in_every_zone(lake: LocalLake) -> None:
    lake.connection.put_bytes(b"id,email\n1,a@example.com\n", "people/p.csv")
    assert lake.wait_until_idle(60)
    assert lake.connection.object_tags("staged", "people/p.csv") == {"dataclassification": "confidential"}
    assert lake.connection.object_tags("curated", "people/p.parquet") == {"dataclassification": "confidential"}


def test_own_queue_dataset_flows_through_its_own_queue(lake: LocalLake) -> None:
    lake.connection.put_bytes(b"page,ms\n/,10\n", "clickstream/c.csv")
    assert lake.wait_until_idle(60)
    assert curated_table(lake, "clickstream/c.parquet").num_rows == 1
    own = [w for w in lake.workers if w.name == "worker-testlake-raw-clickstream-0"]
    assert own and own[0].stats.succeeded >= 1


def real_event_body(lake: LocalLake, zone: str, key: str) -> str:
    head = lake.connection.head(zone, key)
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": lake.names.region,
        "eventTime": "2026-11-24T10:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "redelivery",
            "bucket": {"name": lake.names.bucket(zone), "arn": f"arn:aws:s3:::{lake.names.bucket(zone)}"},
            "object": {
                "key": quote_plus(key),
                "size": head["ContentLength"],
                "eTag": head["ETag"].strip('"'),
                "versionId": head["VersionId"],
                "sequencer": "0055AED6DCD90281E5",
            },
        },
    }
    return json.dumps({"Records": [record]})


def test_the_same_event_twice_leaves_exactly_one_output(lake: LocalLake) -> None:
    lake.connection.put_bytes(b"a,b\n1,2\n", "sales/dup.csv")
    assert lake.wait_until_idle(60)
    body = real_event_body(lake, "raw", "sales/dup.csv")
    sqs = lake.connection.client("sqs")
    for _ in range(2):
        sqs.send_message(QueueUrl=lake.connection.queue_url(lake.names.queue("raw")), MessageBody=body)
    assert lake.wait_until_idle(60)
    s3 = lake.connection.client("s3")
    for zone, key in [("staged", "sales/dup.csv"), ("curated", "sales/dup.parquet")]:
        listed = s3.list_objects_v2(Bucket=lake.names.bucket(zone), Prefix="sales/dup.")["KeyCount"]
        versions = s3.list_object_versions(Bucket=lake.names.bucket(zone), Prefix=key).get("Versions", [])
        assert listed == 1 and len(versions) == 1, (zone, listed, versions)


def run_cli(lake_yaml: Path, lake: LocalLake, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "datalake_cfn", "--config", str(lake_yaml), "--data", str(lake.data_dir), *args],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )


def test_unparseable_file_lands_in_dlq_with_reason_and_its_batch_neighbours_survive(
    lake: LocalLake, lake_yaml: Path
) -> None:
    sqs = lake.connection.client("sqs")
    raw_queue = lake.connection.queue_url(lake.names.queue("raw"))
    # Three objects in ONE batch: two good, one ragged.
    lake.connection.put_bytes(b"a,b\n1,2\n", "sales/good-1.csv")
    lake.connection.put_bytes(b"a,b\n1,2,3\n4,5\n", "sales/ragged.csv")
    lake.connection.put_bytes(b"a,b\n3,4\n", "sales/good-2.csv")
    assert lake.wait_until_idle(60)
    keys = {o["Key"] for o in lake.connection.list_objects("curated")}
    assert {"sales/good-1.parquet", "sales/good-2.parquet"} <= keys
    assert "sales/ragged.parquet" not in keys
    letters = [d for d in lake.connection.dead_letters() if any("ragged" in k for k in d.keys)]
    assert len(letters) == 1
    # A ragged row fails the same way every time: dead-lettered on the first receive (issue 14).
    assert letters[0].attempts == "1" and letters[0].zone == "raw"
    assert "Expected 2 columns, got 3" in letters[0].reason
    assert (
        int(
            sqs.get_queue_attributes(QueueUrl=raw_queue, AttributeNames=["All"])["Attributes"][
                "ApproximateNumberOfMessages"
            ]
        )
        == 0
    )

    listed = run_cli(lake_yaml, lake, "dlq", "list")
    assert listed.returncode == 0, listed.stderr
    assert "ragged.csv" in listed.stdout and "Expected 2 columns, got 3" in listed.stdout


def test_dlq_redrive_sends_a_failed_message_back_and_it_then_succeeds(lake: LocalLake, lake_yaml: Path) -> None:
    flaky_transforms.FAIL = True
    lake.connection.put_bytes(b"x,y\n1,2\n", "flaky/f.csv")
    assert lake.wait_until_idle(60)
    letters = [d for d in lake.connection.dead_letters() if any("flaky/f.csv" in k for k in d.keys)]
    assert len(letters) == 1 and "reference service unavailable" in letters[0].reason
    assert "flaky/f.csv" not in {o["Key"] for o in lake.connection.list_objects("staged")}

    flaky_transforms.FAIL = False  # the outage is over
    redrive = run_cli(lake_yaml, lake, "dlq", "redrive", "--id", letters[0].message_id[:8])
    assert redrive.returncode == 0, redrive.stderr
    assert "redrove 1" in redrive.stdout
    assert lake.wait_until_idle(60)
    assert "flaky/f.parquet" in {o["Key"] for o in lake.connection.list_objects("curated")}
    assert not [d for d in lake.connection.dead_letters() if any("flaky/f.csv" in k for k in d.keys)]


def test_status_and_ls_show_the_lake(lake: LocalLake, lake_yaml: Path) -> None:
    status = run_cli(lake_yaml, lake, "status")
    assert status.returncode == 0, status.stderr
    assert "testlake-raw" in status.stdout and "DLQ" in status.stdout
    listing = run_cli(lake_yaml, lake, "ls", "curated")
    assert listing.returncode == 0 and "sales/2026/orders one.parquet" in listing.stdout
    assert "internal" in listing.stdout
    unknown = run_cli(lake_yaml, lake, "ls", "nozone")
    assert unknown.returncode == 2 and "unknown zone" in unknown.stderr and "Traceback" not in unknown.stderr


def test_put_names_the_dataset_or_says_which_exist(lake: LocalLake, lake_yaml: Path, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a\n1\n")
    bad = run_cli(lake_yaml, lake, "put", str(path), "--dataset", "nope")
    assert bad.returncode == 2 and "unknown dataset 'nope'" in bad.stderr and "sales" in bad.stderr
    good = run_cli(lake_yaml, lake, "put", str(path), "--dataset", "sales")
    assert good.returncode == 0 and "sales/x.csv" in good.stdout

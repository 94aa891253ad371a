"""S3 event notifications inside SQS bodies, as AWS sends them."""

from __future__ import annotations

import json

import pytest
from zone_consumer.events import MalformedEvent, objects_in_body


def record(key: str, event: str = "ObjectCreated:Put", version: str | None = "v1") -> dict:
    obj = {"key": key, "size": 12, "eTag": "abc", "sequencer": "0A"}
    if version:
        obj["versionId"] = version
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-24T10:00:00.000Z",
        "eventName": event,
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "b", "arn": "arn:aws:s3:::b"}, "object": obj},
    }


def test_keys_are_url_decoded_like_s3_encodes_them() -> None:
    body = json.dumps({"Records": [record("sales/q1+report%C3%BC+%2B1.csv")]})
    [obj] = objects_in_body(body)
    assert obj.key == "sales/q1 reportü +1.csv"
    assert obj.version_id == "v1" and obj.etag == "abc" and obj.bucket == "b"


def test_test_events_are_skipped_not_failed() -> None:
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "x", "Bucket": "b"})
    assert objects_in_body(body) == []


def test_several_records_per_body_and_non_create_events_ignored() -> None:
    body = json.dumps({"Records": [record("a.csv"), record("b.csv", "ObjectRemoved:Delete"), record("c.csv")]})
    assert [o.key for o in objects_in_body(body)] == ["a.csv", "c.csv"]


@pytest.mark.parametrize(
    "body", ["not json", "[]", json.dumps({"foo": 1}), json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]})]
)
def test_malformed_bodies_raise_a_readable_error(body: str) -> None:
    with pytest.raises(MalformedEvent):
        objects_in_body(body)

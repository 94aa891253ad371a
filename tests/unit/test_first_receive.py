"""Deterministic input errors go to the DLQ on the first receive; transient errors keep SQS's retries.

The real handler, with moto's S3 and SQS in-process: each case is one SQS record on its first
receive (`ApproximateReceiveCount` 1 of a `maxReceiveCount` of 3).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from moto import mock_aws
from zone_consumer.formats import InputError
from zone_consumer.handler import ZoneConsumer, retrying_cannot_help
from zone_consumer.spec import ConsumerSpec, DatasetRoute

REGION = "us-east-1"
SPEC = dict(
    lake="unit",
    source_zone="raw",
    target_zone="staged",
    target_bucket="unit-staged",
    target_format="csv",
    clean=True,
    datasets=(DatasetRoute("sales", "sales/", "internal"),),
    max_receive_count=3,
)


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        for bucket in ("unit-raw", "unit-staged"):
            s3.create_bucket(Bucket=bucket)
        dlq = sqs.create_queue(QueueName="unit-dlq")["QueueUrl"]
        yield {"s3": s3, "sqs": sqs, "dlq": dlq}


def event(key: str, etag: str = "e") -> dict[str, Any]:
    record = {
        "eventName": "ObjectCreated:Put",
        "eventTime": "2026-12-01T10:00:00.000Z",
        "s3": {"bucket": {"name": "unit-raw"}, "object": {"key": key, "size": 1, "eTag": etag}},
    }
    return sqs_event(json.dumps({"Records": [record]}))


def sqs_event(body: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": "m-1",
                "receiptHandle": "r-1",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "x",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:unit-raw",
                "awsRegion": REGION,
            }
        ]
    }


def dead_letters(aws: dict[str, Any]) -> list[dict[str, Any]]:
    return (
        aws["sqs"]
        .receive_message(QueueUrl=aws["dlq"], MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        .get("Messages", [])
    )


DETERMINISTIC = {
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
    "latin-1": "id,caf\xe9\n1,cr\xe8me\n".encode("latin-1"),
    "no header": b"1,2026-01-01,3.5\n2,2026-01-02,4.5\n",
    "wrong delimiter": b"id;amount\n1;10\n",
    "over-long row": b"id,text\n1," + b"x" * (3 << 20) + b"\n",
    "empty": b"",
    "ragged": b"a,b\n1,2,3\n",
}


@pytest.mark.parametrize("case", sorted(DETERMINISTIC))
def test_a_deterministic_input_error_is_dead_lettered_on_the_first_receive(aws: dict[str, Any], case: str) -> None:
    key = f"sales/{case.replace(' ', '-')}.csv"
    aws["s3"].put_object(Bucket="unit-raw", Key=key, Body=DETERMINISTIC[case])
    consumer = ZoneConsumer(ConsumerSpec(**SPEC, dlq_url=aws["dlq"]), aws["s3"], aws["sqs"])
    assert consumer.handle(event(key)) == {"batchItemFailures": []}  # acknowledged: SQS will not retry it
    [letter] = dead_letters(aws)
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attributes["datalake.attempts"] == "1" and attributes["datalake.retryable"] == "no"
    assert attributes["datalake.error_type"] == "InputError"


def test_a_malformed_event_is_dead_lettered_at_once(aws: dict[str, Any]) -> None:
    consumer = ZoneConsumer(ConsumerSpec(**SPEC, dlq_url=aws["dlq"]), aws["s3"], aws["sqs"])
    assert consumer.handle(sqs_event("not json")) == {"batchItemFailures": []}
    assert len(dead_letters(aws)) == 1


class Flaky:
    """An S3 client whose reads fail the way networks and throttling do."""

    def __init__(self, s3: Any, error: Exception):
        self._s3 = s3
        self._error = error
        self.exceptions = s3.exceptions

    def get_object(self, **kwargs: Any) -> Any:
        raise self._error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "GetObject"),
        ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetObject"),
        EndpointConnectionError(endpoint_url="https://s3.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://s3.amazonaws.com"),
    ],
    ids=["slowdown", "throttling", "unreachable", "timeout"],
)
def test_a_transient_error_keeps_sqs_retries(aws: dict[str, Any], error: Exception) -> None:
    aws["s3"].put_object(Bucket="unit-raw", Key="sales/fine.csv", Body=b"a,b\n1,2\n")
    consumer = ZoneConsumer(ConsumerSpec(**SPEC, dlq_url=aws["dlq"]), Flaky(aws["s3"], error), aws["sqs"])
    assert consumer.handle(event("sales/fine.csv")) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert dead_letters(aws) == []


def test_an_input_error_raised_while_the_stream_broke_is_transient() -> None:
    try:
        try:
            raise TimeoutError("read timed out")
        except TimeoutError:
            raise InputError("the gzip data is corrupt or truncated") from None
    except InputError as exc:
        assert not retrying_cannot_help(exc)
    assert retrying_cannot_help(InputError("the object is empty"))


def test_a_gzip_file_cut_short_is_an_input_error_at_once(aws: dict[str, Any]) -> None:
    aws["s3"].put_object(Bucket="unit-raw", Key="sales/cut.csv.gz", Body=gzip.compress(b"a,b\n1,2\n" * 1000)[:40])
    consumer = ZoneConsumer(ConsumerSpec(**SPEC, dlq_url=aws["dlq"]), aws["s3"], aws["sqs"])
    assert consumer.handle(event("sales/cut.csv.gz")) == {"batchItemFailures": []}
    assert len(dead_letters(aws)) == 1

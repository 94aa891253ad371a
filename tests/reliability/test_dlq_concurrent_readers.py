"""Two DLQ readers at once both see every entry (SQS has no peek: a reader hides what it reads).

`datalake up`'s crawler reads the DLQ to skip rejected objects while a user runs `dlq list` or
`verify`; a reader that stopped at its first empty receive saw a shorter list (CI caught it in the
restart test). Every reader is now `reliability.peek.peek_queue`, which waits for the rest.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from datalake_cfn.config import parse_config
from datalake_cfn.local.connection import LakeConnection, LakeError
from datalake_cfn.local.lake import LocalLake
from datalake_cfn.reliability.peek import peek_queue, queue_depth
from datalake_cfn.reliability.verify import peek_messages


@pytest.fixture(scope="module")
def lake() -> Iterator[LocalLake]:
    config = parse_config({"lake": "twodlq", "datasets": [{"name": "sales", "classification": "internal"}]})
    with LocalLake(config, workers=False) as running:
        yield running


@pytest.fixture()
def dlq(lake: LocalLake) -> Iterator[tuple[LakeConnection, Any, str]]:
    connection = lake.connection
    sqs = connection.client("sqs")
    url = connection.queue_url(connection.names.dlq)
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Event": "s3:TestEvent", "n": i}))
    yield connection, sqs, url
    for message in peek_queue(sqs, url, release=False):  # PurgeQueue allows one call a minute
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def hold_all(sqs: Any, url: str, seconds: int) -> list[dict[str, Any]]:
    held = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=seconds)["Messages"]
    assert len(held) == 3 and queue_depth(sqs, url) == 3
    return held


def test_a_reader_waits_for_entries_another_reader_is_listing(dlq: tuple[LakeConnection, Any, str]) -> None:
    connection, sqs, url = dlq
    held = hold_all(sqs, url, 30)

    def release() -> None:
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(held)
            ],
        )

    timer = threading.Timer(0.5, release)
    timer.start()
    try:
        letters = connection.dead_letters(resolve=False)
    finally:
        timer.join()
    assert sorted(json.loads(letter.body)["n"] for letter in letters) == [0, 1, 2]
    assert len(connection.dead_letters(resolve=False)) == 3  # and released again for the next reader
    assert len(peek_messages(sqs, url)) == 3  # verify's reader is the same one


def test_a_reader_outlasts_one_that_died_holding_entries(dlq: tuple[LakeConnection, Any, str]) -> None:
    _, sqs, url = dlq
    hold_all(sqs, url, 2)  # and never released: SQS gives them back after their visibility timeout
    bodies = sorted(json.loads(m["Body"])["n"] for m in peek_queue(sqs, url))
    assert bodies == [0, 1, 2]


def test_deleting_some_entries_releases_the_others_at_once(dlq: tuple[LakeConnection, Any, str]) -> None:
    connection, sqs, url = dlq
    first = connection.dead_letters(resolve=False)[0]
    assert connection.delete_dead_letters({first.message_id}) == 1
    assert queue_depth(sqs, url) == 2
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]) == 2


def test_a_redrive_that_cannot_place_one_entry_moves_none_and_holds_none(
    dlq: tuple[LakeConnection, Any, str],
) -> None:
    connection, sqs, url = dlq
    sqs.send_message(  # one entry that could go back to raw's queue, among three that name no queue
        QueueUrl=url,
        MessageBody=json.dumps({"Event": "s3:TestEvent", "n": 3}),
        MessageAttributes={"datalake.zone": {"DataType": "String", "StringValue": "raw"}},
    )
    raw_url = connection.queue_url(connection.names.queue("raw"))
    raw_before = queue_depth(sqs, raw_url)
    with pytest.raises(LakeError, match="names no source queue"):
        connection.redrive()
    assert queue_depth(sqs, raw_url) == raw_before, "an entry moved before the redrive failed"
    visible = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    assert len(visible) == 4, "the failed redrive left entries held"

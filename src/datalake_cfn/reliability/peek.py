"""Read every message of a queue without consuming it: the one DLQ reader of the lake.

SQS has no peek. A reader receives each message, which hides it from every other reader
until the reader makes it visible again. Several readers overlap in a running lake
(`up`'s crawler skips rejected objects, `verify` and `dlq list` report them), so a reader
that stopped at its first empty receive would report a shorter list whenever another one
held some messages at that moment; one CI run of the restart test caught exactly that.

So a reader keeps going until it has seen as many messages as the queue holds (visible
and in flight), and waits for the ones another reader holds. Readers release what they
hold at once; one that died holding messages loses them after `PEEK_HOLD_SECONDS`, which
is why the wait lasts a little longer than that.
"""

from __future__ import annotations

import time
from typing import Any

PEEK_HOLD_SECONDS = 20  # how long a reader hides what it reads, if it dies before releasing
WAIT_BEYOND_HOLD_SECONDS = 5.0
POLL_PAUSE_SECONDS = 0.1


def queue_depth(sqs: Any, queue_url: str) -> int:
    """Messages in the queue, visible or held by some reader."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
        attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
    )


def peek_queue(
    sqs: Any,
    queue_url: str,
    *,
    release: bool = True,
    wait_seconds: int = 0,
    hold_seconds: int = PEEK_HOLD_SECONDS,
) -> list[dict[str, Any]]:
    """Every message of the queue (with attributes), each once, with its latest receipt handle.

    With `release` the messages are visible again when this returns; without it the caller
    holds them (to delete some) and must release the rest itself."""
    seen: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + hold_seconds + WAIT_BEYOND_HOLD_SECONDS
    try:
        while True:
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=hold_seconds,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
                WaitTimeSeconds=wait_seconds,
            ).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            for message in messages:
                seen[message["MessageId"]] = message  # a re-received message has a new receipt handle
            if fresh:
                continue
            if len(seen) >= queue_depth(sqs, queue_url) or time.monotonic() > deadline:
                break
            time.sleep(POLL_PAUSE_SECONDS)  # another reader holds the rest for the moment
    finally:
        if release:
            release_messages(sqs, queue_url, [m["ReceiptHandle"] for m in seen.values()])
    return list(seen.values())


def release_messages(sqs: Any, queue_url: str, receipt_handles: list[str]) -> None:
    """Make held messages visible again, ten per call."""
    for start in range(0, len(receipt_handles), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for i, handle in enumerate(receipt_handles[start : start + 10])
            ],
        )

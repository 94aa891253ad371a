"""Queue workers with the semantics of a Lambda SQS event source mapping.

Each worker long-polls one queue, gathers up to `batch_size` messages within the batching
window, hands them to the same `ZoneConsumer.handle` the Lambda runs, with the same event
shape, deletes what succeeded and leaves what failed for redelivery. The receive count
grows with each delivery; at `maxReceiveCount` the consumer dead-letters the message with
its reason (and the queue's redrive policy remains the safety net).

One difference, on purpose: in AWS a failed message waits for the visibility timeout
(six times the function timeout, minutes) before it is retried; locally the worker sets
the failed message's visibility to `retry_delay_seconds` so a developer sees retries and
the DLQ within seconds. Queue settings themselves are the prod ones.

The function timeout holds as in Lambda: an invocation still running after it is abandoned
(Lambda would stop the function), logged with the stack it was stuck in, and its messages
come back for another attempt; the worker goes on polling. Without it, one stuck transform
(an endless loop in a user transform, a read that never returns) would freeze its zone
with nothing said. A thread cannot be killed, so the abandoned one may still finish; the
pipeline's outputs are idempotent (see `ZonePipeline._already_done`).
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from zone_consumer.events import ObjectCreated, objects_in_body
from zone_consumer.handler import ZoneConsumer

# A child of the consumers' logger (Powertools, "datalake"): what a worker says about an invocation
# goes where the invocation's own lines go (the lake's log, as Lambda's go to CloudWatch), not
# over the live view of `datalake up`.
logger = logging.getLogger("datalake.workers")
Listener = Callable[[str, list[ObjectCreated]], None]


@dataclass(frozen=True)
class WorkerSettings:
    """Event-source-mapping settings of a local worker (defaults from lake.yaml's pipeline)."""

    batch_size: int = 10
    batching_window_seconds: float = 0.2
    visibility_timeout_seconds: int = 60
    retry_delay_seconds: int = 1
    poll_wait_seconds: int = 1
    function_timeout_seconds: float | None = None  # the Lambda's timeout; None: an invocation may run forever


@dataclass
class WorkerStats:
    batches: int = 0
    succeeded: int = 0
    failed: int = 0
    dead_lettered: int = 0  # of `succeeded`: handled by sending them to the DLQ (their last attempt failed)
    in_flight: int = 0
    last_error: str = ""
    backoff_until: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class DeadLetterCounter:
    """The consumer's SQS client, counting what it sends to the DLQ.

    The consumer dead-letters a message on its last attempt and then reports it handled, so the
    worker alone cannot tell a success from a failure; this count is what `datalake up` shows as
    failed.
    """

    def __init__(self, sqs: Any, dlq_url: str | None, stats: WorkerStats):
        self._sqs = sqs
        self._dlq_url = dlq_url
        self._stats = stats

    def send_message(self, **kwargs: Any) -> Any:
        response = self._sqs.send_message(**kwargs)
        if self._dlq_url and kwargs.get("QueueUrl") == self._dlq_url:
            with self._stats.lock:
                self._stats.dead_lettered += 1
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)


def lambda_sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """SQS messages as the Lambda service delivers them to a function."""
    records = []
    for message in messages:
        attributes = message.get("Attributes", {})
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": attributes.get("SentTimestamp", "0"),
                    "SenderId": attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
                    "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
                },
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


class InvocationTimedOut(Exception):
    """An invocation outlived the function timeout; `stack` is where its thread was."""

    def __init__(self, seconds: float, stack: str):
        super().__init__(f"the invocation timed out after {seconds:g} s (the function timeout)")
        self.stack = stack


def thread_stack(thread: threading.Thread) -> str:
    frame = sys._current_frames().get(thread.ident or -1)
    return "".join(traceback.format_stack(frame)) if frame is not None else "(the thread has just ended)\n"


class QueueWorker(threading.Thread):
    """Polls one queue and calls a handler (a zone consumer, or catalog listeners)."""

    def __init__(
        self,
        *,
        name: str,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        region: str,
        settings: WorkerSettings,
        consumer: ZoneConsumer | None = None,
        listeners: list[Listener] | None = None,
        zone: str = "",
    ):
        super().__init__(name=f"worker-{name}", daemon=True)
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.region = region
        self.settings = settings
        self.consumer = consumer
        self.listeners = listeners if listeners is not None else []
        self.zone = zone
        self.stats = WorkerStats()
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        backoff = 0.5
        while not self._stop_event.is_set():
            try:
                self.poll_once()
                backoff = 0.5
            except (BotoCoreError, ClientError, OSError) as exc:
                # The emulator is unreachable or failing: back off and try again, never die.
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                self.stats.backoff_until = time.monotonic() + backoff
                self._stop_event.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception as exc:  # a bug in a handler must not silently stop the zone
                logger.exception("worker %s: unexpected error; messages will be redelivered", self.name)
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                self.stats.backoff_until = time.monotonic() + backoff
                self._stop_event.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def poll_once(self) -> int:
        """One receive -> handle -> delete cycle; returns the number of messages handled."""
        messages = self._receive_batch()
        if not messages:
            return 0
        with self.stats.lock:
            self.stats.in_flight += len(messages)
        try:
            failed_ids = self._handle(messages)
        except InvocationTimedOut as exc:
            count = f"{len(messages)} message{'s' if len(messages) != 1 else ''}"
            logger.error("worker %s: %s; its %s will be redelivered. It was in:\n%s", self.name, exc, count, exc.stack)
            self.stats.last_error = str(exc)  # the batch counts as failed (retried) below
            failed_ids = {m["MessageId"] for m in messages}
        finally:
            with self.stats.lock:
                self.stats.in_flight -= len(messages)
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        failed = [m for m in messages if m["MessageId"] in failed_ids]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        for message in failed:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=self.settings.retry_delay_seconds,
            )
        with self.stats.lock:
            self.stats.batches += 1
            self.stats.succeeded += len(done)
            self.stats.failed += len(failed)
        return len(messages)

    def _receive_batch(self) -> list[dict[str, Any]]:
        settings = self.settings
        messages: list[dict[str, Any]] = []
        deadline = None
        while len(messages) < settings.batch_size and not self._stop_event.is_set():
            wait = settings.poll_wait_seconds if not messages else 0
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, settings.batch_size - len(messages)),
                WaitTimeSeconds=wait,
                VisibilityTimeout=settings.visibility_timeout_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            messages += received
            if not messages:
                return []
            deadline = deadline or time.monotonic() + settings.batching_window_seconds
            if not received or time.monotonic() >= deadline:
                break
        return messages

    def _handle(self, messages: list[dict[str, Any]]) -> set[str]:
        if self.consumer is not None:
            event = lambda_sqs_event(messages, self.queue_arn, self.region)
            response = self._invoke(self.consumer, event)
            return {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        failed: set[str] = set()
        for message in messages:
            try:
                objects = objects_in_body(message["Body"])
                for listener in self.listeners:
                    listener(self.zone, objects)
            except Exception as exc:  # a listener (e.g. the catalog) failing must not kill the worker
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                failed.add(message["MessageId"])
        return failed

    def _invoke(self, consumer: ZoneConsumer, event: dict[str, Any]) -> dict[str, Any]:
        """`consumer.handle(event)` on its own thread, given the function timeout to finish."""
        timeout = self.settings.function_timeout_seconds
        if timeout is None:
            return consumer.handle(event)
        outcome: dict[str, Any] = {}

        def invocation() -> None:
            try:
                outcome["response"] = consumer.handle(event)
            except BaseException as exc:  # raised on the worker's thread below
                outcome["error"] = exc

        thread = threading.Thread(target=invocation, name=f"{self.name}-invocation", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            raise InvocationTimedOut(timeout, thread_stack(thread))
        if "error" in outcome:
            raise outcome["error"]
        return outcome["response"]

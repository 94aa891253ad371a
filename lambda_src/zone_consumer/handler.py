"""Lambda entry point: an SQS batch of S3 event notifications -> one hop per object.

Powertools' BatchProcessor reports partial batch failures (`batchItemFailures`), so one bad
object never makes SQS redeliver its good neighbours. A record that fails on its last
allowed receive is sent to the shared DLQ *by the consumer*, with the reason attached, and
then acknowledged: SQS's own redrive (which stays configured as a safety net for crashes
and timeouts) moves messages without saying why they failed.

A deterministic input error (binary data, wrong encoding, no header, wrong delimiter, an
over-long row, an empty object, a malformed event, an undeclared prefix in a strict lake)
fails the same way on every receive, so it is dead-lettered on the first one; anything else
(throttling, timeouts, an unreachable endpoint) keeps SQS's retries.

The zone's shared queue receives every key of the zone (one unfiltered notification, see
`datalake_cfn.routing.forwarded_prefixes`); events of own-queue datasets are forwarded,
unchanged, to their queue, whose consumer processes them.
"""

from __future__ import annotations

import os
import traceback
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from zone_consumer.events import MalformedEvent, ObjectCreated, objects_in_body
from zone_consumer.formats import InputError
from zone_consumer.pipeline import HopResult, UnknownDataset, ZonePipeline, forwarded_queue
from zone_consumer.spec import ConsumerSpec

logger = Logger(service="datalake")

REASON_LIMIT = 1000
DETERMINISTIC = (InputError, MalformedEvent, UnknownDataset)
TRANSIENT_CAUSES = (TimeoutError, ConnectionError)
TRANSIENT_MODULES = ("botocore", "urllib3", "socket", "ssl", "http.client")


def retrying_cannot_help(exc: BaseException) -> bool:
    """The same bytes fail the same way on every receive: an input error not caused by I/O."""
    if not isinstance(exc, DETERMINISTIC):
        return False
    cause = exc.__cause__ or exc.__context__
    while cause is not None:  # an input error raised while the body's stream broke is I/O, not input
        if isinstance(cause, TRANSIENT_CAUSES) or type(cause).__module__.startswith(TRANSIENT_MODULES):
            return False
        cause = cause.__cause__ or cause.__context__
    return True


class ZoneConsumer:
    """The consumer of one queue: spec + clients. One per Lambda container or local worker."""

    def __init__(self, spec: ConsumerSpec, s3: Any, sqs: Any):
        self.spec = spec
        self.pipeline = ZonePipeline(spec, s3)
        self.sqs = sqs

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Process one SQS event; returns `{"batchItemFailures": [...]}`."""
        # Report every failed record, even when all of them failed: raising instead would make
        # SQS redeliver the whole batch and hide which records were at fault.
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        return process_partial_response(
            event=event, record_handler=self._handle_record, processor=processor, context=context
        )

    def _handle_record(self, record: SQSRecord) -> list[HopResult]:
        try:
            results = []
            for obj in objects_in_body(record.body):
                queue = forwarded_queue(self.spec, obj.key)
                if queue is not None:
                    self._forward(obj, queue)
                else:
                    results.append(self.pipeline.process(obj))
        except Exception as exc:
            attempts = int(record.attributes.approximate_receive_count or 1)
            final = retrying_cannot_help(exc) or attempts >= self.spec.max_receive_count
            if not final or not self.spec.dlq_url:
                logger.warning(
                    "record failed; SQS will redeliver it",
                    extra={"message_id": record.message_id, "attempt": attempts, "error": str(exc)},
                )
                raise
            self._dead_letter(record, exc, attempts)
            return []
        for result in results:
            logger.info("object processed", extra={"result": result.__dict__})
        return results

    def _forward(self, obj: ObjectCreated, queue_name: str) -> None:
        """Send an own-queue dataset's event on to its queue (same account and endpoint as the DLQ)."""
        if not self.spec.dlq_url:
            raise RuntimeError(f"cannot forward {obj.key!r} to {queue_name}: the consumer knows no queue URL")
        url = f"{self.spec.dlq_url.rsplit('/', 1)[0]}/{queue_name}"
        self.sqs.send_message(QueueUrl=url, MessageBody=obj.body())

    def _dead_letter(self, record: SQSRecord, exc: Exception, attempts: int) -> None:
        """Send the original message to the shared DLQ with why it failed, then let it be deleted."""
        reason = f"{type(exc).__name__}: {exc}"[:REASON_LIMIT]
        logger.error(
            "record failed for the last time; sent to the DLQ",
            extra={"message_id": record.message_id, "attempts": attempts, "reason": reason},
        )
        attributes = {
            "reason": reason,
            "error_type": type(exc).__name__,
            "source_queue_arn": record.event_source_arn or "",
            "zone": self.spec.source_zone,
            "attempts": str(attempts),
            "retryable": "no" if retrying_cannot_help(exc) else "yes",
            "failed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "trace": "".join(traceback.format_exception_only(type(exc), exc)).strip()[:REASON_LIMIT],
        }
        self.sqs.send_message(
            QueueUrl=self.spec.dlq_url,
            MessageBody=record.body,
            MessageAttributes={
                f"datalake.{name}": {"DataType": "String", "StringValue": value or "-"}
                for name, value in attributes.items()
            },
        )


_consumer: ZoneConsumer | None = None


def _lambda_consumer() -> ZoneConsumer:
    global _consumer
    if _consumer is None:
        # botocore, not boto3: boto3's resource layer and s3transfer cost a cold start ~0.2 s and go unused
        import botocore.session

        region = os.environ.get("AWS_REGION")
        session = botocore.session.get_session()
        _consumer = ZoneConsumer(
            ConsumerSpec.from_env(),
            session.create_client("s3", region_name=region),
            session.create_client("sqs", region_name=region),
        )
    return _consumer


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda handler: `zone_consumer.handler.handler`."""
    return _lambda_consumer().handle(event, context)

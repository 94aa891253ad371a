"""Lambda entry point: an SQS batch of S3 event notifications -> one hop per object.

Powertools' BatchProcessor reports partial batch failures (`batchItemFailures`), so one bad
object never makes SQS redeliver its good neighbours. A record that fails on its last
allowed receive is sent to the shared DLQ *by the consumer*, with the reason attached, and
then acknowledged: SQS's own redrive (which stays configured as a safety net for crashes
and timeouts) moves messages without saying why they failed.
"""

from __future__ import annotations

import os
import traceback
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from zone_consumer.events import objects_in_body
from zone_consumer.pipeline import HopResult, ZonePipeline
from zone_consumer.spec import ConsumerSpec

logger = Logger(service="datalake")

REASON_LIMIT = 1000


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
            results = [self.pipeline.process(obj) for obj in objects_in_body(record.body)]
        except Exception as exc:
            attempts = int(record.attributes.approximate_receive_count or 1)
            if attempts < self.spec.max_receive_count or not self.spec.dlq_url:
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
        region = os.environ.get("AWS_REGION")
        _consumer = ZoneConsumer(
            ConsumerSpec.from_env(), boto3.client("s3", region_name=region), boto3.client("sqs", region_name=region)
        )
    return _consumer


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda handler: `zone_consumer.handler.handler`."""
    return _lambda_consumer().handle(event, context)

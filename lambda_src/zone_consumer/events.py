"""S3 event notifications as they arrive inside SQS message bodies.

Real bodies carry URL-encoded keys (spaces as '+'), may hold several records, and S3 sends
an `s3:TestEvent` body when a notification configuration is saved: that one is skipped,
never failed, or every deploy would put a message in the DLQ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus


class MalformedEvent(ValueError):
    """A message body that is not an S3 event notification: it can never succeed."""


@dataclass(frozen=True)
class ObjectCreated:
    """One created object, as named by its event."""

    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None
    event_time: str
    event_name: str
    record: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # as received

    def body(self) -> str:
        """An SQS body holding only this object's event record (what forwarding sends on)."""
        return json.dumps({"Records": [self.record]})


def objects_in_body(body: str) -> list[ObjectCreated]:
    """Parse one SQS body; [] for test events and for events other than ObjectCreated."""
    try:
        document: dict[str, Any] = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MalformedEvent(f"message body is not JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(document, dict):
        raise MalformedEvent("message body is not a JSON object")
    if document.get("Event") == "s3:TestEvent":
        return []
    records = document.get("Records")
    if not isinstance(records, list):
        raise MalformedEvent("message body has no 'Records' list: not an S3 event notification")
    objects = []
    for record in records:
        try:
            if not str(record["eventName"]).startswith("ObjectCreated:"):
                continue
            s3 = record["s3"]
            obj = s3["object"]
            objects.append(
                ObjectCreated(
                    bucket=s3["bucket"]["name"],
                    key=unquote_plus(obj["key"]),
                    size=int(obj.get("size", 0)),
                    etag=str(obj.get("eTag", "")).strip('"'),
                    version_id=obj.get("versionId"),
                    event_time=record.get("eventTime", ""),
                    event_name=record["eventName"],
                    record=record,
                )
            )
        except (KeyError, TypeError) as exc:
            raise MalformedEvent(f"S3 event record lacks field {exc}") from None
    return objects

"""Sample user transforms, referenced by the default lake.yaml (`zone_consumer.samples:mask_emails`).

A user transform takes one pyarrow RecordBatch and returns a RecordBatch or Table. Write
your own in any importable module and name it in lake.yaml as `package.module:function`.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def mask_emails(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Keep the domain of every `email` column value, hide the mailbox: `ana.1@example.com` -> `***@example.com`."""
    if "email" not in batch.schema.names:
        return batch
    index = batch.schema.get_field_index("email")
    masked = pc.replace_substring_regex(batch.column(index), pattern=r"^[^@]+", replacement="***")
    return batch.set_column(index, "email", masked)

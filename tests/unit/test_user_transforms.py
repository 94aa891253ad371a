"""User transforms: a dotted path in lake.yaml, Arrow batches in and out, or pandas via the adapter."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from zone_consumer.pipeline import transform_stream
from zone_consumer.samples import mask_emails
from zone_consumer.spec import ConsumerSpec, DatasetRoute
from zone_consumer.transforms import TransformError, apply_user_transform, load_user_transform, pandas_transform


class Sink(io.BytesIO):
    def close(self) -> None:  # keep the bytes readable after the writer closes its stream
        pass


def run(csv: bytes, transform: str | None) -> pa.Table:
    dataset = DatasetRoute("people", "people/", "confidential", transform)
    spec = ConsumerSpec("acme", "raw", "staged", "bucket", "csv", True, (dataset,))
    sink = Sink()
    transform_stream(io.BytesIO(csv), sink, spec=spec, dataset=dataset, source_key="people/p.csv", ingested_at="t")
    return pacsv.read_csv(io.BytesIO(sink.getvalue()), convert_options=pacsv.ConvertOptions(strings_can_be_null=True))


def test_the_sample_transform_masks_mailboxes_and_keeps_domains() -> None:
    table = run(b"Id,Email\n1, ana@example.com \n2,\n", "zone_consumer.samples:mask_emails")
    assert table.column("email").to_pylist() == ["***@example.com", None]


def test_pandas_style_functions_are_adapted() -> None:
    @pandas_transform
    def shout(frame):
        frame["name"] = frame["name"].str.upper()
        return frame

    batch = pa.RecordBatch.from_pydict({"name": ["ana", "bo"]})
    [out] = apply_user_transform(shout, batch, "test:shout")
    assert out.column("name").to_pylist() == ["ANA", "BO"]


def test_both_path_spellings_load_and_bad_paths_say_why() -> None:
    assert load_user_transform("zone_consumer.samples:mask_emails") is mask_emails
    assert load_user_transform("zone_consumer.samples.mask_emails") is mask_emails
    with pytest.raises(TransformError, match="cannot import module"):
        load_user_transform("no_such_module_xyz:f")
    with pytest.raises(TransformError, match="has no callable"):
        load_user_transform("zone_consumer.samples:nope")


def test_a_transform_returning_something_else_is_a_clear_error() -> None:
    batch = pa.RecordBatch.from_pydict({"a": [1]})
    with pytest.raises(TransformError, match="not a pyarrow RecordBatch"):
        apply_user_transform(lambda b: [1, 2], batch, "x:y")
    with pytest.raises(TransformError, match="failed: ZeroDivisionError"):
        apply_user_transform(lambda b: 1 / 0, batch, "x:y")

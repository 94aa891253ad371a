"""The engine's writer: Parquet row groups at the target, dictionary encoding where it pays, the writer-side step."""

from __future__ import annotations

import io
import subprocess
import sys

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import zone_consumer.formats as formats
from zone_consumer.formats import BatchWriter, dictionary_columns, iter_batches, open_csv_stream, row_group_target


class Sink(io.BytesIO):
    """A byte sink that keeps its bytes when the writer closes it (as a file or an S3 upload would)."""

    def close(self) -> None:
        self.value = self.getvalue()
        super().close()


def batches(count: int, rows: int) -> list[pa.RecordBatch]:
    """`count` batches of `rows` rows: a unique id, a low-cardinality category, a number."""
    out = []
    for b in range(count):
        ids = [f"id-{b * rows + i}" for i in range(rows)]
        out.append(
            pa.RecordBatch.from_pydict(
                {"id": ids, "category": [("a", "b", "c")[i % 3] for i in range(rows)], "n": list(range(rows))}
            )
        )
    return out


def write_parquet(parts: list[pa.RecordBatch], **kwargs) -> pq.FileMetaData:
    sink = Sink()
    writer = BatchWriter(sink, parts[0].schema, "parquet", **kwargs)
    for batch in parts:
        writer.write(batch)
    writer.close()
    return pq.ParquetFile(io.BytesIO(sink.value)).metadata


@pytest.mark.parametrize("background", [True, False])
def test_row_groups_are_cut_at_the_row_target_not_per_batch(background: bool):
    metadata = write_parquet(batches(10, 300), row_group=(1000, 1 << 30), background=background)
    assert metadata.num_rows == 3000
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [1000, 1000, 1000]


def test_row_groups_are_cut_at_the_byte_target_when_it_comes_first():
    parts = batches(10, 300)
    metadata = write_parquet(parts, row_group=(10**9, parts[0].nbytes * 2))
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [600] * 5


def test_zero_rows_target_writes_one_row_group_per_batch(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATALAKE_ROW_GROUP_ROWS", "0")
    assert row_group_target()[0] == 0
    assert write_parquet(batches(4, 50)).num_row_groups == 4
    monkeypatch.setenv("DATALAKE_ROW_GROUP_ROWS", "70")
    monkeypatch.setenv("DATALAKE_ROW_GROUP_MB", "5")
    assert row_group_target() == (70, 5 << 20)
    monkeypatch.delenv("DATALAKE_ROW_GROUP_ROWS")
    monkeypatch.delenv("DATALAKE_ROW_GROUP_MB")
    assert row_group_target() == (formats.ROW_GROUP_ROWS, formats.ROW_GROUP_MB << 20)


def test_dictionary_only_where_values_repeat_and_statistics_everywhere():
    parts = batches(3, 400)
    assert dictionary_columns(parts[0]) == ["category"]
    metadata = write_parquet(parts, row_group=(10**6, 1 << 30))
    group = metadata.row_group(0)
    chunks = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    assert chunks["category"].has_dictionary_page and not chunks["id"].has_dictionary_page
    assert all(chunk.is_stats_set for chunk in chunks.values())
    assert chunks["n"].statistics.min == 0 and chunks["n"].statistics.max == 399


def test_an_empty_output_still_has_the_schema():
    schema = pa.schema([("a", pa.string())])
    sink = Sink()
    BatchWriter(sink, schema, "parquet").close()
    assert pq.read_table(io.BytesIO(sink.value)).schema.equals(schema)


def test_prepare_runs_on_every_batch_before_encoding():
    seen = []

    def upper(batch: pa.RecordBatch) -> pa.RecordBatch:
        import threading

        seen.append(threading.current_thread().name)
        return pa.RecordBatch.from_arrays([pa.array([v.upper() for v in batch.column(0).to_pylist()])], ["v"])

    sink = Sink()
    writer = BatchWriter(sink, pa.schema([("v", pa.string())]), "csv", prepare=upper)
    for word in ("a", "b"):
        writer.write(pa.RecordBatch.from_pydict({"v": [word]}))
    writer.close()
    assert sink.value.decode().split() == ['"v"', '"A"', '"B"']
    assert seen == ["datalake-writer", "datalake-writer"]


def test_the_reader_thread_prepares_batches():
    header, reader = open_csv_stream(io.BytesIO(b"a,b\n x ,y\n"))
    got = list(iter_batches(reader, header, prepare=lambda b: b.select([1])))
    assert [b.num_columns for b in got] == [1] and got[0].column(0).to_pylist() == ["y"]


def test_the_engine_uses_jemalloc_unless_told_otherwise():
    code = "import zone_consumer.formats, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    chosen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        assert chosen != "jemalloc"
    else:
        assert chosen == "jemalloc"
    env = {"ARROW_DEFAULT_MEMORY_POOL": "system", "PATH": ""}
    kept = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert kept.stdout.strip() == "system"


def test_csv_writer_output_is_readable_back():
    sink = Sink()
    writer = BatchWriter(sink, batches(1, 5)[0].schema, "csv")
    writer.write(batches(1, 5)[0])
    writer.close()
    assert pacsv.read_csv(io.BytesIO(sink.value)).num_rows == 5

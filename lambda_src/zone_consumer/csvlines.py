"""A batch of text columns as its CSV lines, one binary value per row: encoded once, hashed, written.

Why: the landing hop used to join every row's values into a padded matrix to digest it
(Arrow's variadic join costs ~15 ns per cell: most of the digest on a 60-column input),
then filter the cleaned batch column by column, then encode the survivors as CSV. Arrow's
CSV encoding of a row is itself an injective, batch-independent rendering of its values
(every string quoted, quotes doubled, a null an empty field), so the rows are encoded
first, on the worker threads, and the de-duplicator digests and filters one column of
lines; the writer only copies bytes.

The line boundaries are found one of two exact ways, whichever costs less for the batch:

- From the values, for a batch of few columns: a non-null string renders as its bytes plus
  two quotes plus one more per quote inside, a null as nothing, plus a delimiter between
  fields and the end of line. That is a few numpy operations per column, checked against
  the encoded buffer (total length, and an end of line before every boundary).
- From the encoded bytes, for a wide batch, where those per-column operations cost about as
  much as the encoding itself: Arrow quotes every string and doubles the quotes inside one,
  so a line break lies inside a value exactly when an odd number of quotes comes before it.
  When there are exactly as many line breaks as rows, none can be inside a value and the
  quotes need not be counted at all.

Should a split ever not check out, the rows are encoded one by one instead, so the split
is never guessed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from zone_consumer.dedupe import validity_mask
from zone_consumer.transforms import constant_column

_QUOTE = ord('"')
_NEWLINE = ord("\n")
SPLIT_BY_BYTES_COLUMNS = 16  # batches of at least this many columns are split from their encoded bytes


def header_line(schema: pa.Schema) -> bytes:
    """The header line Arrow's CSV writer writes for `schema`."""
    sink = pa.BufferOutputStream()
    pacsv.CSVWriter(sink, schema).close()  # not write_csv(schema.empty_table()): that imports pandas
    return sink.getvalue().to_pybytes()


def is_text_batch(batch: pa.RecordBatch) -> bool:
    """Whether every column is a (32-bit offset) string column, the only kind :func:`csv_lines` splits."""
    return all(pa.types.is_string(field.type) for field in batch.schema)


def csv_lines(batch: pa.RecordBatch, eol: str = "\n") -> pa.Array:
    """The rows of an all-text batch as Arrow's CSV lines (no header), a binary array of `num_rows` values.

    `eol` ends every line; it must end in a line break and hold no quote (the split looks for both).
    """
    if not eol.endswith("\n") or '"' in eol:
        raise ValueError("a line must end in a line break, with no quote in it")
    if not is_text_batch(batch):
        return _lines_one_by_one(batch, eol)
    n = batch.num_rows
    sink = pa.BufferOutputStream()
    pacsv.write_csv(batch, sink, write_options=pacsv.WriteOptions(include_header=False, eol=eol))
    encoded = sink.getvalue()
    data = np.frombuffer(encoded, dtype=np.uint8)
    offsets = np.zeros(n + 1, dtype=np.int64)
    if batch.num_columns >= SPLIT_BY_BYTES_COLUMNS:
        ends = _line_ends(data, n)
        if len(ends) == n:
            offsets[1:] = ends
    else:
        np.cumsum(_rendered_lengths(batch, len(eol.encode("utf-8"))), out=offsets[1:])
    if offsets[-1] != len(data) or offsets[-1] >= 2**31 or (n and not (data[offsets[1:] - 1] == _NEWLINE).all()):
        return _lines_one_by_one(batch, eol)
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets.astype(np.int32)), encoded])


def trailing_fields(columns: dict[str, str], prepare: Callable[[pa.RecordBatch], pa.RecordBatch] | None = None) -> str:
    """Fields that end a line (``,"a","b"``) as Arrow's writer renders them, `prepare` (the formula escaping) first.

    The lineage columns of a landing hop are the same on every row of an object, so every
    line ends in these bytes: the line's digest can leave them out.
    """
    batch = pa.RecordBatch.from_arrays([constant_column(value, 1) for value in columns.values()], names=list(columns))
    line = lines_bytes(csv_lines(prepare(batch) if prepare else batch)).to_pybytes()
    return "," + line.decode("utf-8").removesuffix("\n")


def lines_bytes(lines: pa.Array) -> pa.Buffer:
    """The bytes of a binary array of lines, back to back (what a writer writes)."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    data = lines.buffers()[2]
    if data is None or not len(lines):
        return pa.py_buffer(b"")
    return data.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))


def _rendered_lengths(batch: pa.RecordBatch, eol_bytes: int) -> np.ndarray:
    """Each row's encoded length: quoted values (quotes doubled), empty nulls, delimiters, the end of line."""
    lengths = np.full(batch.num_rows, max(0, batch.num_columns - 1) + eol_bytes, dtype=np.int64)
    for column in batch.columns:
        offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[column.offset : column.offset + len(column) + 1]
        rendered = np.diff(offsets).astype(np.int64) + 2
        data = column.buffers()[2]
        if data is not None and len(column):
            rendered += _quotes_per_value(data, offsets)  # a null's are set to 0 below
        valid = validity_mask(column)
        if valid is not None:
            rendered[~valid] = 0
        lengths += rendered
    return lengths


def _quotes_per_value(data: pa.Buffer, offsets: np.ndarray) -> np.ndarray | int:
    """How many quotes each value holds (0 if none does): the positions of the quotes, binned by value.

    Quotes are rare in most columns, so finding them in the bytes and looking up their
    values is a few passes of numpy; Arrow's count_substring searches every value (5x slower
    on the bench's long-text input).
    """
    start = int(offsets[0])
    quotes = np.flatnonzero(np.frombuffer(data, dtype=np.uint8)[start : int(offsets[-1])] == _QUOTE)
    if not quotes.size:
        return 0
    values = np.searchsorted(offsets[1:] - start, quotes, side="right")  # the value each quote lies in
    return np.bincount(values, minlength=len(offsets) - 1)


def _line_ends(data: np.ndarray, rows: int) -> np.ndarray:
    """The offsets just past every line break outside quotes (an even number of quotes before it)."""
    breaks = np.flatnonzero(data == _NEWLINE)
    if len(breaks) == rows:  # every line has its own end: there is no line break left for a value to hold
        return breaks + 1
    starts = np.zeros(len(breaks), dtype=np.int64)
    starts[1:] = breaks[:-1] + 1
    quotes = np.add.reduceat((data[: breaks[-1] + 1] == _QUOTE).view(np.uint8), starts, dtype=np.int64)
    return breaks[(np.cumsum(quotes) & 1) == 0] + 1


def _lines_one_by_one(batch: pa.RecordBatch, eol: str) -> pa.Array:
    """The slow, certain way: each row encoded on its own (never expected to run; see the module's docstring)."""
    lines = []
    options = pacsv.WriteOptions(include_header=False, eol=eol)
    for row in range(batch.num_rows):
        sink = pa.BufferOutputStream()
        pacsv.write_csv(batch.slice(row, 1), sink, write_options=options)
        lines.append(sink.getvalue().to_pybytes())
    offsets = np.zeros(len(lines) + 1, dtype=np.int32)
    np.cumsum([len(line) for line in lines], out=offsets[1:])
    return pa.Array.from_buffers(pa.binary(), len(lines), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(lines))])

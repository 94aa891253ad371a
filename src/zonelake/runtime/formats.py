"""Streaming CSV input and CSV/Parquet output, block by block.

Nothing here holds a whole object: input is parsed in blocks of ``BLOCK_SIZE`` from any
readable byte stream (an S3 GetObject body, a local file), and output goes to any
writable byte stream (an S3 multipart upload, a local file). That keeps a consumer's
memory bounded whatever the object size, which is what lets a 2 GB CSV pass through a
Lambda sized for a 20 MB one.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

BLOCK_SIZE = 4 << 20
HEADER_PEEK = 1 << 20
UTF8_BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"


class InputError(ValueError):
    """The object's bytes cannot be read as a CSV: a permanent, user-facing failure."""


class _PrefixedStream(io.RawIOBase):
    """Replays bytes already read (the header peek) before the rest of the stream."""

    def __init__(self, prefix: bytes, rest: BinaryIO):
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n


@dataclass(frozen=True)
class CsvHeader:
    """The header row: original names and the column names the lake will use."""

    original: list[str]
    columns: list[str]


def snake_case(name: str) -> str:
    """'Order ID' -> 'order_id', 'unitPrice' -> 'unit_price': names every engine accepts unquoted."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    leading = "_" if name.startswith("_") else ""  # keeps the lake's own `_source_key` columns
    name = leading + re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()
    if name and name[0].isdigit():
        name = f"c_{name}"
    return name


def lake_column_names(original: list[str]) -> list[str]:
    """snake_case names, with blanks named by position and duplicates suffixed, so each is unique."""
    names: list[str] = []
    seen: set[str] = set()
    for position, raw in enumerate(original, start=1):
        base = snake_case(raw) or f"column_{position}"
        name, suffix = base, 2
        while name in seen:
            name, suffix = f"{base}_{suffix}", suffix + 1
        seen.add(name)
        names.append(name)
    return names


def _maybe_gunzip(stream: BinaryIO) -> BinaryIO:
    head = stream.read(2)
    rest = io.BufferedReader(_PrefixedStream(head, stream), buffer_size=BLOCK_SIZE)
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=rest, mode="rb")  # type: ignore[return-value]
    return rest  # type: ignore[return-value]


def _peek_header(stream: BinaryIO) -> tuple[bytes, list[str]]:
    peek = stream.read(HEADER_PEEK)
    if not peek:
        raise InputError("the object is empty: no header row and no data")
    if peek.startswith(UTF8_BOM):
        peek = peek[len(UTF8_BOM) :]
    try:
        text = peek.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(peek) - 4:  # not just a multi-byte character cut by the peek
            raise InputError(f"the header is not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8") from None
        text = peek[: exc.start].decode("utf-8")
    row = next(csv.reader(io.StringIO(text, newline="")), None)
    if not row or all(not cell.strip() for cell in row):
        raise InputError("the first line is blank: a CSV header row is required")
    return peek, row


def open_csv_stream(
    stream: BinaryIO, column_types: dict[str, pa.DataType] | None = None, infer_types: bool = False
) -> tuple[CsvHeader, pacsv.CSVStreamingReader]:
    """Open a CSV byte stream (plain or gzip) as a stream of record batches.

    Columns are read by position (`c0`, `c1`, ...) and renamed to the lake's names by the
    caller; that makes blank and duplicate header names harmless. Unless `infer_types`,
    every column is read as text, so leading zeros and ids survive the cleaning hop.
    """
    stream = _maybe_gunzip(stream)
    peek, original = _peek_header(stream)
    header = CsvHeader(original=original, columns=lake_column_names(original))
    positional = [f"c{i}" for i in range(len(original))]
    types = column_types or ({} if infer_types else {name: pa.string() for name in positional})
    try:
        reader = pacsv.open_csv(
            io.BufferedReader(_PrefixedStream(peek, stream), buffer_size=BLOCK_SIZE),
            read_options=pacsv.ReadOptions(column_names=positional, skip_rows=1, block_size=BLOCK_SIZE),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=infer_types, quoted_strings_can_be_null=infer_types
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InputError(describe_arrow_error(exc, header)) from None
    return header, reader


def describe_arrow_error(exc: Exception, header: CsvHeader | None = None) -> str:
    """Arrow's parse errors name columns by position; say which column a person would look at."""
    message = str(exc).strip()
    match = re.search(r"column #(\d+)", message)
    if match and header is not None and int(match.group(1)) < len(header.columns):
        name = header.original[int(match.group(1))]
        message = f"{message} (column {name!r})"
    if "invalid UTF8" in message or "UTF8" in message:
        message += "; the file is not UTF-8: re-save it as UTF-8"
    return f"cannot parse CSV: {message}"


def iter_batches(reader: pacsv.CSVStreamingReader, header: CsvHeader | None = None) -> Iterator[pa.RecordBatch]:
    """Record batches, turning Arrow's errors mid-stream into InputError with a readable reason."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except (pa.ArrowInvalid, UnicodeDecodeError, OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputError(describe_arrow_error(exc, header)) from None
        yield batch


class BatchWriter:
    """Writes record batches as CSV or Parquet to a byte sink, as they come."""

    def __init__(self, sink: BinaryIO, schema: pa.Schema, file_format: str):
        self._file = pa.PythonFile(sink, mode="w")
        self.rows = 0
        if file_format == "parquet":
            self._writer: pq.ParquetWriter | pacsv.CSVWriter = pq.ParquetWriter(self._file, schema, compression="zstd")
        elif file_format == "csv":
            self._writer = pacsv.CSVWriter(self._file, schema)
        else:
            raise ValueError(f"unknown output format {file_format!r}")

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self._writer.write_batch(batch)
            self.rows += batch.num_rows

    def close(self) -> None:
        self._writer.close()
        self._file.close()

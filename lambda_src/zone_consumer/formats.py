"""Streaming CSV input and CSV/Parquet output, block by block.

Nothing here holds a whole object: input is parsed in blocks of ``BLOCK_SIZE`` from any
readable byte stream (an S3 GetObject body, a local file), and output goes to any
writable byte stream (an S3 multipart upload, a local file). That keeps a consumer's
memory bounded whatever the object size, which is what lets a 2 GB CSV pass through a
Lambda sized for a 20 MB one.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import os
import queue
import re
import threading
import weakref
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from zone_consumer import sniff
from zone_consumer.csvlines import header_line, lines_bytes
from zone_consumer.memory import use_engine_memory_settings

BLOCK_SIZE = 1 << 20  # input block of a first read: 1 MiB (see docs/performance.md) ...
MAX_ROW_BYTES = 2 << 20  # ... and of the read again when a row is longer: the longest row the lake reads
READ_AHEAD = 1  # parsed batches queued ahead of the transform
READER_THREADS = False  # our read-ahead thread overlaps parsing with the transform instead
INPUT_BLOCKS_AHEAD = 3  # raw input blocks Arrow may buffer beyond what has been parsed
STALL_SECONDS = 0.05  # a consumer waiting this long for a batch gets up to STALL_BLOCKS more blocks read ...
STALL_BLOCKS = 2
STARVED_SECONDS = 1.0  # ... and one waiting this long one more block still, whatever the count (no deadlock)
ARROW_BUFFER = 64 << 10  # Arrow's copy of small reads; a block is read straight into Arrow memory
RELEASE_SECONDS = 5.0  # the longest a close waits for Arrow to let go of the input (wait_released)
WRITE_BEHIND = 1  # transformed batches queued for the writer
HEADER_PEEK = 1 << 20
UTF8_BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"


use_engine_memory_settings()  # jemalloc for Arrow, before the first batch is allocated (see zone_consumer.memory)


class InputError(ValueError):
    """The object's bytes cannot be read as a CSV: a permanent, user-facing failure."""


class RowLongerThanBlock(InputError):
    """A row did not fit a first read's input block (BLOCK_SIZE): the object is read again, from
    its start, with MAX_ROW_BYTES blocks (see :func:`zone_consumer.pipeline.with_read_retries`)."""


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
    rest = io.BufferedReader(_PrefixedStream(head, stream), buffer_size=HEADER_PEEK)  # the peek's one read
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=rest, mode="rb")  # type: ignore[return-value]
    return rest  # type: ignore[return-value]


def _peek_header(stream: BinaryIO) -> tuple[bytes, list[str]]:
    try:
        peek = stream.read(HEADER_PEEK)
    except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise InputError(f"the gzip data is corrupt or truncated: {exc}") from None
    if not peek:
        raise InputError("the object is empty: no header row and no data")
    if peek.startswith(UTF8_BOM):
        peek = peek[len(UTF8_BOM) :]
    problem = sniff.signature_problem(peek)
    if problem:
        raise InputError(problem)
    try:
        text = peek.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(peek) - 4:  # not just a multi-byte character cut by the peek
            raise InputError(sniff.decoding_problem(peek, exc.start)) from None
        text = peek[: exc.start].decode("utf-8")
    problem = sniff.first_line_problem(peek, complete=len(peek) < HEADER_PEEK)
    if problem:
        raise InputError(problem)
    try:
        row = next(csv.reader(io.StringIO(text, newline="")), None)
    except csv.Error as exc:
        raise InputError(f"the header row cannot be read: {exc}") from None
    if not row or all(not cell.strip() for cell in row):
        raise InputError("the first line is blank: a CSV header row is required")
    problem = sniff.header_problem(row)
    if problem:
        raise InputError(problem)
    return peek, row


class _ReadThrottle(io.RawIOBase):
    """The byte stream Arrow's CSV reader pulls from, kept at most `ahead` blocks ahead of use.

    Arrow reads input blocks on its I/O thread up to 32 blocks ahead of parsing, with no
    option to change that: with 4 MiB blocks and a slow consumer that is 128 MiB of input
    held in memory. This stream lets a read through while fewer than `ahead` blocks are
    unconsumed; if the consumer has been waiting for a batch for a while (Arrow may need
    one more block than expected to finish a batch), it lets a read through up to
    STALL_BLOCKS more; only a consumer that has waited STARVED_SECONDS gets one beyond
    that, so it can never deadlock. (An unbounded release on every short wait let the
    read-ahead creep up by a block each time a parse took longer than STALL_SECONDS, which
    on a loaded machine meant 20-odd blocks, 46 MB, held on the 100 MB wide input.)
    """

    def __init__(self, stream: BinaryIO, block_size: int, ahead: int):
        self._stream = stream
        self._block_size = block_size
        self._ahead = ahead
        self._bytes_read = 0
        self._batches = 0
        self._waiting = 0
        self._changed = threading.Condition()
        self._arrow_source: weakref.ref[io.RawIOBase] | None = None
        self._released = threading.Event()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        with self._changed:
            waited = 0.0
            while not self._changed.wait_for(self._may_read, timeout=STALL_SECONDS):
                waited += STALL_SECONDS
                if self._waiting and (self._may_read(STALL_BLOCKS) or waited >= STARVED_SECONDS):
                    break
        if self.closed:
            return b""  # the end, for a read-ahead that goes on after its reader was dropped
        data = self._stream.read(size)
        with self._changed:
            self._bytes_read += len(data)
        while b"\x00" in data:  # NUL bytes are removed from values (a C-string terminator downstream)
            stripped = data.replace(b"\x00", b"")
            if stripped:
                return stripped
            data = self._stream.read(size)  # all NULs: an empty read would end the stream
            with self._changed:
                self._bytes_read += len(data)
        return data

    def _may_read(self, extra: int = 0) -> bool:
        return self.closed or self._bytes_read < (self._batches + self._ahead + extra) * self._block_size

    def waiting(self, waiting: bool) -> None:
        """The consumer starts (True) or stops (False) waiting for the next batch."""
        with self._changed:
            self._waiting += 1 if waiting else -1
            if not waiting:
                self._batches += 1
            self._changed.notify_all()

    @contextlib.contextmanager
    def opening(self) -> Iterator[None]:
        """Count Arrow's `open_csv` as a consumer waiting for a batch, which it is: it reads and
        parses the first block before it returns. When that fails (a row longer than the block,
        a bad first row), `open_csv` waits for its background read to end before raising, and that
        read may be parked here with the budget spent: nobody would ever consume or close, and the
        open would hang for good (found under load: four consumers stuck in `open_csv`, the I/O
        threads parked in `read`). A waiting consumer lets a parked read through within
        STARVED_SECONDS."""
        with self._changed:
            self._waiting += 1
        try:
            yield
        finally:
            with self._changed:
                self._waiting -= 1
                self._changed.notify_all()

    def arrow_source(self) -> pa.NativeFile:
        """The stream to hand Arrow, once. Its Python file object is held by Arrow alone, so
        its end tells us when Arrow let go of the input (see `wait_released`). Arrow's
        buffered stream copies each read into Arrow memory: read straight from the Python
        object, a block would be a view of a Python bytes object, and Arrow frees unconsumed
        read-ahead blocks on its own threads, taking the GIL, whenever it gets to them."""
        source = _ArrowSource(self)
        self._arrow_source = weakref.ref(source, lambda _: self._released.set())
        return pa.BufferedInputStream(pa.PythonFile(source, mode="r"), buffer_size=ARROW_BUFFER)

    def close(self) -> None:
        """End the stream for Arrow: a read from now on is the end, and a parked one returns."""
        super().close()
        with self._changed:
            self._changed.notify_all()

    def wait_released(self) -> None:
        """Once the stream is closed and Arrow's reader dropped, wait (RELEASE_SECONDS at most)
        until Arrow has let go of the input. Its read-ahead goes on after the reader is dropped,
        and the last of its callbacks frees the reader, and with it the Python file object, on
        an Arrow thread: a process that exited meanwhile aborted in finalisation
        (PyGILState_Release "must be current when releasing": an Arrow thread taking the GIL
        from a finalising interpreter; seen in CI after many failing opens)."""
        if self._arrow_source is not None:
            self._released.wait(RELEASE_SECONDS)


class _ArrowSource(io.RawIOBase):
    """What Arrow reads from: the throttle's reads, in an object nobody but Arrow holds. Arrow's
    Python file calls `read` only (and `read_buffer`, which this has not), never `readinto`."""

    def __init__(self, throttle: _ReadThrottle):
        self._throttle = throttle

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._throttle.read(size)


class CsvBatchReader:
    """Arrow's streaming CSV reader plus the read throttle that bounds its input buffering."""

    def __init__(self, reader: pacsv.CSVStreamingReader, throttle: _ReadThrottle, block_size: int):
        self._reader: pacsv.CSVStreamingReader | None = reader
        self.schema: pa.Schema = reader.schema
        self._throttle = throttle
        self.block_size = block_size

    def read_next_batch(self) -> pa.RecordBatch:
        reader = self._reader
        if reader is None:  # closed while the background reader was between batches
            raise StopIteration
        self._throttle.waiting(True)
        try:
            return reader.read_next_batch()
        finally:
            del reader  # a parse error's traceback keeps this frame: it must not keep Arrow's reader
            self._throttle.waiting(False)

    def close(self) -> None:
        """Idempotent: the transform and the batch iterator both close on their way out. The
        throttle is closed first: freeing Arrow's reader waits for its background read, which
        may be parked in the throttle."""
        self._throttle.close()
        self._reader = None
        self._throttle.wait_released()


def open_csv_stream(
    stream: BinaryIO,
    column_types: dict[str, pa.DataType] | None = None,
    infer_types: bool = False,
    block_size: int | None = None,
) -> tuple[CsvHeader, CsvBatchReader]:
    """Open a CSV byte stream (plain or gzip) as a stream of record batches.

    Columns are read by position (`c0`, `c1`, ...) and renamed to the lake's names by the
    caller; that makes blank and duplicate header names harmless. Unless `infer_types`,
    every column is read as text, so leading zeros and ids survive the cleaning hop.
    Values may contain quoted line breaks: `newlines_in_values` costs nothing measurable
    with the serial block reader used here (see docs/performance.md). A row longer than
    `block_size` (default BLOCK_SIZE) raises :class:`RowLongerThanBlock`.
    """
    block_size = block_size or BLOCK_SIZE
    stream = _maybe_gunzip(stream)
    peek, original = _peek_header(stream)
    header = CsvHeader(original=original, columns=lake_column_names(original))
    positional = [f"c{i}" for i in range(len(original))]
    types = column_types or ({} if infer_types else {name: pa.string() for name in positional})
    throttle = _ReadThrottle(_PrefixedStream(peek, stream), block_size, INPUT_BLOCKS_AHEAD)
    try:
        with throttle.opening():
            reader = pacsv.open_csv(
                throttle.arrow_source(),
                read_options=pacsv.ReadOptions(
                    column_names=positional, skip_rows=1, block_size=block_size, use_threads=READER_THREADS
                ),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=types, strings_can_be_null=infer_types, quoted_strings_can_be_null=infer_types
                ),
            )
    except BaseException as exc:
        throttle.close()
        throttle.wait_released()
        if isinstance(exc, pa.ArrowInvalid):
            raise arrow_input_error(exc, header, block_size) from None
        raise
    return header, CsvBatchReader(reader, throttle, block_size)


def arrow_input_error(exc: Exception, header: CsvHeader | None, block_size: int) -> InputError:
    """The InputError for one of Arrow's parse errors: a row that did not fit a block smaller
    than MAX_ROW_BYTES is a :class:`RowLongerThanBlock` (read again with larger blocks); one
    that did not fit MAX_ROW_BYTES is too long for the lake."""
    if not _straddles(str(exc)):
        return InputError(describe_arrow_error(exc, header))
    if block_size < MAX_ROW_BYTES:
        return RowLongerThanBlock(f"a row is longer than the {block_size}-byte input block")
    longest = f"{MAX_ROW_BYTES >> 20} MiB"
    return InputError(f"cannot parse CSV: a row is longer than {longest}, the longest row the lake reads")


def _straddles(message: str) -> bool:
    return "straddling object" in message or "straddles two block boundaries" in message


def describe_arrow_error(exc: Exception, header: CsvHeader | None = None) -> str:
    """Arrow's parse errors name columns by position; say which column a person would look at."""
    message = str(exc).strip()
    match = re.search(r"column #(\d+)", message)
    if match and header is not None and int(match.group(1)) < len(header.columns):
        name = header.original[int(match.group(1))]
        message = f"{message} (column {name!r})"
    if "invalid UTF8" in message or "UTF8" in message:
        message += "; the file is not UTF-8: re-save it as UTF-8"
    if isinstance(exc, EOFError) or "end-of-stream marker" in message:
        message = f"the gzip data is truncated ({message})"
    return f"cannot parse CSV: {message}"


def iter_batches(
    reader: CsvBatchReader,
    header: CsvHeader | None = None,
    read_ahead: int = READ_AHEAD,
    prepare: Callable[[pa.RecordBatch], Any] | None = None,
    spare: Callable[[Any], Any] | None = None,
) -> Iterator[Any]:
    """Record batches, turning Arrow's errors mid-stream into InputError with a readable reason.

    With `read_ahead` > 0 the stream is read and parsed on a background thread, up to that
    many batches ahead: parsing the next block overlaps transforming and writing this one
    (Arrow releases the GIL while it parses), and memory stays bounded by the queue.
    `prepare` (the cleaning) runs on that thread too, and `spare` (the digest) on those
    items the consumer is not ready for (see :func:`_background`).
    """
    batches = _read_batches(reader, header)
    if prepare is not None:
        batches = map(prepare, batches)
    try:
        if read_ahead <= 0:
            yield from batches
        else:
            yield from _background(batches, read_ahead, name="datalake-reader", spare=spare)
    finally:
        reader.close()  # releases Arrow's I/O thread if it waits on the throttle


def _read_batches(reader: CsvBatchReader, header: CsvHeader | None) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except (pa.ArrowInvalid, UnicodeDecodeError, OSError, EOFError, gzip.BadGzipFile) as exc:
            raise arrow_input_error(exc, header, reader.block_size) from None
        inexact = sniff.inexact_float_column(batch)
        if inexact is not None:  # the pipeline reads the column again as text (see _CONVERSION_ERROR)
            raise InputError(
                f"In CSV column #{inexact}: CSV conversion error to double: an integer beyond 2^53 would be rounded"
            )
        yield batch


_END = object()


def _background(
    iterator: Iterator[Any], depth: int, name: str, spare: Callable[[Any], Any] | None = None
) -> Iterator[Any]:
    """Run `iterator` on a daemon thread, handing items (and its exception, if any) over a bounded queue.

    An item that finds the queue full would only wait there for the consumer, so the thread
    first passes it through `spare`, doing part of the consumer's work with the time; which
    items get it depends on timing, so `spare` must be optional work whose result the
    consumer can tell apart (the landing hop: a digest computed here or on the main thread).
    The split follows the load: of the 101 batches of the bench's 100 MB inputs, the reader
    digested 44 of the long-text input's (cheap to parse, costly to digest) and 30 of orders'.
    """
    handoff: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in iterator:
                if spare is not None and handoff.full():
                    item = spare(item)
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((None, exc))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item, error = handoff.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()


class BatchWriter:
    """Writes record batches as CSV or Parquet to a byte sink, as they come.

    With `background` the encoding and the sink's writes (an S3 part upload, a file write)
    run on a writer thread behind a small queue, overlapping the next batch's transform.
    A failure there is raised by the next :meth:`write` or by :meth:`close`; call
    :meth:`abort` when giving up, so the thread stops.

    Parquet is written in row groups of ``row_group_rows`` rows or ``row_group_bytes`` of
    Arrow data, whichever comes first (see :func:`row_group_target`), not one per input
    block: query engines (Athena, Spark, DuckDB) pay per row group, so 2 MiB blocks would
    cut a large object into hundreds of tiny ones. Batches wait on the writer thread until
    a group is full; dictionary encoding is chosen per column from the first batch.
    `prepare` runs on each batch first, on the writer thread; it must keep the schema.

    With `lines` the batches are already CSV: one binary column of encoded lines (see
    zone_consumer.csvlines) under `schema`'s header, and writing them is copying bytes.
    """

    def __init__(
        self,
        sink: BinaryIO,
        schema: pa.Schema,
        file_format: str,
        background: bool = True,
        row_group: tuple[int, int] | None = None,
        prepare: Callable[[pa.RecordBatch], pa.RecordBatch] | None = None,
        lines: bool = False,
    ):
        if file_format not in {"parquet", "csv"} or (lines and file_format != "csv"):
            raise ValueError(f"unknown output format {file_format!r}{' (lines)' if lines else ''}")
        self._file = pa.PythonFile(sink, mode="w")
        self.rows = 0
        self._format = file_format
        self._schema = schema
        self._prepare = prepare  # the last per-batch step (formula escaping), on the writer thread
        self._row_group_rows, self._row_group_bytes = row_group or row_group_target()
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = self._pending_bytes = 0
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
        self._lines = lines
        if lines:
            self._file.write(header_line(schema))
        elif file_format == "csv":
            self._writer = pacsv.CSVWriter(self._file, schema)
        self._error: BaseException | None = None
        self._stopped = False
        self._queue: queue.Queue[Any] | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._queue = queue.Queue(maxsize=WRITE_BEHIND)
            self._thread = threading.Thread(target=self._drain, name="datalake-writer", daemon=True)
            self._thread.start()

    def write(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        self.rows += batch.num_rows
        if self._queue is None:
            self._encode(batch)
            return
        self._raise_failure()
        self._queue.put(batch)  # blocks while the writer is WRITE_BEHIND batches behind

    def close(self) -> None:
        if self._queue is not None and self._thread is not None:
            self._queue.put(_END)
            self._thread.join()
            self._raise_failure()
        if not self._lines:
            self._flush()
            self._open(None).close()
        self._file.close()

    def abort(self) -> None:
        """Stop the writer thread without finishing the output (the caller discards the sink)."""
        self._stopped = True
        if self._queue is not None and self._thread is not None:
            while self._thread.is_alive():
                try:
                    self._queue.put(_END, timeout=0.1)
                    break
                except queue.Full:
                    continue
            self._thread.join(timeout=5)
        self._pending.clear()
        with contextlib.suppress(Exception):  # or the writer's finaliser writes into a closed sink later
            if self._writer is not None:
                self._writer.close()

    def _raise_failure(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self._stopped = True
            raise error

    def _drain(self) -> None:
        assert self._queue is not None
        while True:
            batch = self._queue.get()
            if batch is _END:
                return
            if self._stopped or self._error is not None:
                continue  # keep taking batches so the producer never blocks on a dead writer
            try:
                self._encode(batch)
            except BaseException as exc:
                self._error = exc

    def _open(self, first: pa.RecordBatch | None) -> pq.ParquetWriter | pacsv.CSVWriter:
        """The format's writer; Parquet's is opened at the first batch, which decides the dictionary columns."""
        if self._writer is None:
            self._writer = pq.ParquetWriter(
                self._file,
                self._schema,
                compression="zstd",
                use_dictionary=dictionary_columns(first) if first is not None else True,
                write_statistics=True,
            )
        return self._writer

    def _encode(self, batch: pa.RecordBatch) -> None:
        if self._lines:
            self._file.write(lines_bytes(batch.column(0)))
            return
        if self._prepare is not None:
            batch = self._prepare(batch)
        writer = self._open(batch)
        if self._format == "csv" or self._row_group_rows <= 0:
            writer.write_batch(batch)
            return
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self._pending_bytes += batch.nbytes
        if self._pending_rows >= self._row_group_rows or self._pending_bytes >= self._row_group_bytes:
            self._flush(whole_groups_only=True)

    def _flush(self, whole_groups_only: bool = False) -> None:
        """Write the waiting batches as row groups of the target's rows; with `whole_groups_only` the
        rows short of a full group wait for the next batch, unless the byte target is what was reached."""
        if not self._pending:
            return
        table = pa.Table.from_batches(self._pending, schema=self._pending[0].schema)
        rows = self._row_group_rows
        if whole_groups_only and self._pending_bytes < self._row_group_bytes:
            cut = table.num_rows - table.num_rows % rows
        else:
            cut = table.num_rows
        rest = table.slice(cut)
        self._pending = rest.to_batches()
        self._pending_rows, self._pending_bytes = rest.num_rows, sum(b.nbytes for b in self._pending)
        if cut:
            self._open(None).write_table(table.slice(0, cut), row_group_size=rows)


ROW_GROUP_ROWS = 1_000_000  # Parquet row group: at most this many rows ...
ROW_GROUP_MB = 16  # ... or this much Arrow data, whichever first: held until written, so within the memory bound
DICTIONARY_MAX_DISTINCT_SHARE = 0.5  # a column whose first batch is more distinct than this gets plain encoding


def row_group_target() -> tuple[int, int]:
    """(rows, bytes) of a Parquet row group: DATALAKE_ROW_GROUP_ROWS / DATALAKE_ROW_GROUP_MB, else the defaults.

    0 rows writes one row group per input block (the behaviour before the target; the bench's "before").
    """
    rows = int(os.environ.get("DATALAKE_ROW_GROUP_ROWS") or ROW_GROUP_ROWS)
    megabytes = int(os.environ.get("DATALAKE_ROW_GROUP_MB") or ROW_GROUP_MB)
    return (0 if os.environ.get("DATALAKE_ROW_GROUP_ROWS") == "0" else rows), max(1, megabytes) << 20


def dictionary_columns(batch: pa.RecordBatch) -> list[str]:
    """Columns where dictionary encoding pays: few distinct values in the first batch (categories, flags).

    An id or free-text column would fill the dictionary page, fall back to plain encoding and
    have spent the hashing for nothing; those are written plain from the start.
    """
    chosen = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        present = len(column) - column.null_count
        if present == 0 or pa.types.is_boolean(column.type):
            continue
        if pc.count_distinct(column).as_py() <= DICTIONARY_MAX_DISTINCT_SHARE * present:
            chosen.append(name)
    return chosen

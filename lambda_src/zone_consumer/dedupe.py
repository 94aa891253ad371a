"""Exact-duplicate row removal within one object, in bounded memory, vectorised.

Why not a Python set of row hashes: it costs ~80 bytes and ~1 µs of interpreter time per
row, which makes a 2 GB CSV (27 M rows) both slow and too big for the consumer's memory.
Here a row is reduced to a 128-bit digest with numpy (no per-row Python), digests are
kept in sorted numpy runs (16 bytes a row), and once those reach ``memory_limit`` the
deduplicator stops emitting and spills instead (the rest of the cleaned rows to an Arrow
IPC file, their digests to hash-partitioned files on local disk); at the end it resolves
duplicates one partition at a time and replays the held-back rows, minus duplicates, in
their original order. Memory therefore stays flat whatever the object size; a small
object never touches the disk.

The digest (see :class:`RowDigester`) is a keyed, strongly universal hash, so the chance
that two *different* rows get the same digest, and one is wrongly dropped, is at most
2^-128 per pair for any input (the key is drawn at random per object): with n rows the
probability of any false duplicate is below n^2 / 2^129, about 10^-24 for a 30 M-row file.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DEDUPE_MEMORY_LIMIT = 32 << 20  # bytes of digests kept in memory before spilling (2 M rows)
PARTITION_BITS = 7
PARTITIONS = 1 << PARTITION_BITS  # digest partitions on disk; each is resolved on its own
LANES = 4  # 4 x 32 bits = a 128-bit digest
DIGEST_BYTES = 4 << 20  # working memory of one digest step, which sets how many rows it takes (RowDigester.__call__)
DIGEST_MIN_ROWS, DIGEST_MAX_ROWS = 2048, 16384
WORD_BLOCK = 32  # content words multiplied at once: the uint64 copy of the word matrix stays this narrow
NULL_LENGTH = np.uint64(0xFFFFFFFF)  # the "length" of a null value: no real value is 4 GiB long
_KEY = np.dtype([("h", "<u8"), ("l", "<u8")])
_DIGEST = np.dtype([("h", "<u8"), ("l", "<u8"), ("ordinal", "<i8")])
_EMITTED = -1  # ordinal of a digest whose row was already written (before spilling began)


def _offsets(array: pa.Array) -> np.ndarray:
    """The int32 value offsets of a string/binary array, as numpy, honouring its slice offset."""
    return np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + len(array) + 1]


def _data_bytes(array: pa.Array) -> int:
    """Bytes of value data a (32-bit offset) binary array covers."""
    offsets = _offsets(array)
    return int(offsets[-1] - offsets[0]) if len(offsets) else 0


def _bitmap(buffer: pa.Buffer, offset: int, length: int) -> np.ndarray:
    bits = np.frombuffer(buffer, dtype=np.uint8)
    return np.unpackbits(bits, count=offset + length, bitorder="little")[offset:].view(bool)


def validity_mask(array: pa.Array) -> np.ndarray | None:
    """A boolean mask of the non-null values, or None if there are none null (from the bitmap: no pandas)."""
    if array.null_count == 0:
        return None
    return _bitmap(array.buffers()[0], array.offset, len(array))


def true_mask(array: pa.BooleanArray) -> np.ndarray:
    """Where a boolean array is true (null counts as false), from its bitmaps.

    `to_numpy(zero_copy_only=False)` on a boolean array makes pyarrow import pandas, which a
    Lambda's cold invocation cannot afford (seen: the formula check on any negative number).
    """
    values = _bitmap(array.buffers()[1], array.offset, len(array))
    valid = validity_mask(array)
    return values if valid is None else values & valid


def as_binary(array: pa.Array) -> pa.Array:
    """Any column as a (32-bit offset) binary array: its bytes are what a digest covers."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        return array.view(pa.binary())
    if pa.types.is_large_string(kind) or pa.types.is_large_binary(kind):
        return array.view(pa.large_binary()).cast(pa.binary())
    return pc.cast(array, pa.string()).view(pa.binary())


def _empty_binary(n: int) -> pa.Array:
    """n empty byte strings: the join's separator (a Python b"" would be converted via pandas)."""
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(np.zeros(n + 1, np.int32)), pa.py_buffer(b"")])


def mask_array(mask: np.ndarray) -> pa.Array:
    """A numpy boolean mask as an Arrow boolean array, built from buffers.

    Building from buffers (not ``pa.array``) matters: pyarrow imports pandas the first time
    it converts a Python or numpy object, which adds about a second and 50 MB to a cold
    Lambda; the zone engine never needs pandas.
    """
    bits = np.packbits(mask, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(mask), [None, pa.py_buffer(bits)])


class RowDigester:
    """128-bit digests of the rows of record batches: keyed, vectorised, strongly universal.

    A row is encoded injectively as the 32-bit word vector
    ``[len(v1) .. len(vk), zero padding, words of v1 || v2 || .. || vk]`` (a null's length is
    0xFFFFFFFF, so null and "" differ; the lengths make the concatenation unambiguous, so
    no separator can collide with data). Each of 4 lanes hashes that vector with
    Dietzfelbinger's multiply-shift for vectors, ``(a0 + sum(a_i * x_i) mod 2^64) >> 32``
    with random 64-bit keys: strongly universal onto 32 bits, so two different rows agree
    on a lane with probability 2^-32, and on all four with 2^-128. The content words are
    aligned to the row's end and keyed by their distance from it, so zero padding adds
    nothing to the sum and a row's digest does not depend on the batch it arrives in.

    Aligned to the end, a suffix every row shares (``constant_suffix`` bytes: the lineage
    fields closing each CSV line, see zone_consumer.csvlines) fills the same last words of
    every row; those words add the same to every digest, so they are not hashed at all.
    Rows that differ still differ in what is hashed (their lengths or the words before the
    suffix), so the bound above holds for them.

    The row matrix is built by Arrow (a join of a zero-padding column and the columns) and
    hashed by one integer matrix product; rows much longer than their batch's average are
    hashed in their own group so that one huge value does not blow up the matrix.
    """

    def __init__(self, seed: int | None = None):
        self._rng = np.random.default_rng(secrets.randbits(128) if seed is None else seed)
        self._base = self._rng.integers(0, 2**64, size=LANES, dtype=np.uint64)
        self._length_keys = np.empty((0, LANES), dtype=np.uint64)
        self._word_keys = np.empty((0, LANES), dtype=np.uint64)
        self._growing = threading.Lock()  # batches are digested on several threads; the keys must be one sequence

    def __call__(self, batch: pa.RecordBatch, constant_suffix: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(high, low) uint64 digest halves, one per row.

        `constant_suffix`: the caller's promise that every row's bytes end in the same that
        many bytes (a batch of one column of CSV lines); those are left out of the hash.

        A batch is digested a slice of rows at a time (zero-copy slices), sized so that the
        step's temporaries (the lengths matrix, 8 bytes per column, and the joined and padded
        rows with their words, about 3 bytes per byte of row) stay near DIGEST_BYTES: that,
        not the batch, sets this step's memory on each thread that runs it.
        """
        columns = [as_binary(column) for column in batch.columns]  # once: a non-string column is a cast
        rows = self.rows_per_step(columns, batch.num_rows)
        if constant_suffix and len(columns) != 1:
            raise ValueError("a constant suffix is a promise about the rows of a single column")
        if batch.num_rows <= rows:
            return self._digest(columns, batch.num_rows, constant_suffix)
        parts = [
            self._digest(
                [column.slice(start, rows) for column in columns], min(rows, batch.num_rows - start), constant_suffix
            )
            for start in range(0, batch.num_rows, rows)
        ]
        return np.concatenate([high for high, _ in parts]), np.concatenate([low for _, low in parts])

    @staticmethod
    def rows_per_step(columns: list[pa.Array], num_rows: int) -> int:
        """Rows digested at once: DIGEST_BYTES over the estimated working bytes of a row."""
        if num_rows == 0:
            return DIGEST_MAX_ROWS
        row_bytes = sum(_data_bytes(column) for column in columns) // num_rows
        per_row = 8 * len(columns) + 3 * (row_bytes + 4) + 8 * LANES
        return max(DIGEST_MIN_ROWS, min(DIGEST_MAX_ROWS, DIGEST_BYTES // per_row))

    def _digest(self, columns: list[pa.Array], n: int, constant_suffix: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Digests of `n` rows given as binary columns (:func:`as_binary`)."""
        lengths = np.empty((len(columns), n), dtype=np.uint64)  # one contiguous row per column: cheap to fill
        row_bytes = np.zeros(n, dtype=np.int64)
        for i, column in enumerate(columns):
            length = np.diff(_offsets(column))
            row_bytes += length
            lengths[i] = length
            valid = validity_mask(column)
            if valid is not None:
                lengths[i][~valid] = NULL_LENGTH
        acc = (self._keys("_length_keys", len(columns)).T @ lengths).T + self._base
        del lengths
        if n:
            self._add_content(acc, columns, row_bytes, np.arange(n), constant_suffix // 4)
        top = acc >> np.uint64(32)
        return (top[:, 0] << np.uint64(32)) | top[:, 1], (top[:, 2] << np.uint64(32)) | top[:, 3]

    def _keys(self, name: str, count: int) -> np.ndarray:
        keys = getattr(self, name)
        if len(keys) < count:
            with self._growing:
                keys = getattr(self, name)
                if len(keys) < count:
                    size = (max(count, 2 * len(keys)) - len(keys), LANES)
                    keys = np.concatenate([keys, self._rng.integers(0, 2**64, size=size, dtype=np.uint64)])
                    setattr(self, name, keys)
        return keys[:count]

    def _add_content(
        self, acc: np.ndarray, columns: list[pa.Array], row_bytes: np.ndarray, rows: np.ndarray, skip: int = 0
    ) -> None:
        """Add the content words of `rows` to `acc`, splitting off rows far longer than average.

        `skip`: the last words of every row, all of them inside a suffix every row shares.
        """
        lengths = row_bytes[rows]
        limit = max(64, 4 * int(lengths.mean()) + 4)
        if int(lengths.max()) > limit and len(rows) > 1:
            short = lengths <= limit
            self._add_content(acc, columns, row_bytes, rows[short], skip)
            self._add_content(acc, columns, row_bytes, rows[~short], skip)
            return
        width = (int(lengths.max()) + 3) // 4 * 4
        if width // 4 <= skip:
            return
        if len(rows) != len(row_bytes):
            indices = pa.Array.from_buffers(pa.int64(), len(rows), [None, pa.py_buffer(rows)])
            columns = [column.take(indices) for column in columns]
        padding = np.zeros(len(rows) + 1, dtype=np.int32)
        np.cumsum(width - lengths, out=padding[1:])
        pad = pa.Array.from_buffers(
            pa.binary(), len(rows), [None, pa.py_buffer(padding), pa.py_buffer(np.zeros(int(padding[-1]), np.uint8))]
        )
        joined = pc.binary_join_element_wise(pad, *columns, _empty_binary(len(rows)), null_handling="skip")
        start, end = _offsets(joined)[[0, -1]]
        data = np.frombuffer(joined.buffers()[2], dtype=np.uint8)[start:end]
        hashed = width // 4 - skip  # the words before the shared suffix's
        words = data.view("<u4").reshape(len(rows), width // 4)[:, :hashed]
        keys = self._keys("_word_keys", width // 4)[::-1][:hashed]  # a word's key: its distance from the row's end
        contribution = words[:, :WORD_BLOCK].astype(np.uint64) @ keys[:WORD_BLOCK]
        for start in range(WORD_BLOCK, hashed, WORD_BLOCK):  # a narrow uint64 copy at a time
            contribution += words[:, start : start + WORD_BLOCK].astype(np.uint64) @ keys[start : start + WORD_BLOCK]
        if len(rows) == len(acc):
            acc += contribution
        else:
            acc[rows] += contribution


class _DigestTable:
    """The digests seen so far: an open-addressing hash table in numpy, probed a batch at a time.

    One probe round handles every pending digest of the batch with a few array operations
    (gather the slots, compare, claim the empty ones, advance the rest by a digest-derived
    odd step), so a batch costs a dozen rounds of vectorised work, not a Python loop. The
    table starts small and grows GROWTH times at a step up to ``max_bytes``: random probing
    touches every page of a table, so a table sized for the worst case would cost a small
    object its full size, while every growth re-inserts what the table holds (doubling, a
    1 M-row object re-inserted 1.2 M digests over 9 growths, a fifth of the main thread's
    work; eight times at a step, about 0.15 M over 3).
    """

    MAX_LOAD = 0.6
    MIN_CAPACITY = 1 << 12
    GROWTH = 8

    def __init__(self, max_bytes: int):
        self.max_capacity = 1 << max(4, (max(max_bytes, 1) // _KEY.itemsize).bit_length() - 1)
        self.capacity = min(self.MIN_CAPACITY, self.max_capacity)
        self.slots = np.zeros(self.capacity, dtype=_KEY)
        self.size = 0

    def has_room_for(self, count: int) -> bool:
        return self.size + count <= self.max_capacity * self.MAX_LOAD

    def insert(self, h: np.ndarray, low: np.ndarray) -> np.ndarray:
        """Insert distinct digests; True where a digest was new, False where it was already in."""
        while self.size + len(h) > self.capacity * self.MAX_LOAD and self.capacity < self.max_capacity:
            self._grow()
        new = self._probe(self.slots, h, low)
        self.size += int(new.sum())
        return new

    def entries(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        slots = self.slots[start:stop]
        return slots[(slots["h"] != 0) | (slots["l"] != 0)]

    def drain_entries(self, chunk: int = 1 << 16) -> Iterator[np.ndarray]:
        """Every digest, a slice of the table at a time; the table is empty afterwards."""
        for start in range(0, self.capacity, chunk):
            yield self.entries(start, start + chunk)
        self.clear()

    def clear(self) -> None:
        self.slots = np.zeros(0, dtype=_KEY)
        self.capacity = self.size = 0

    def _grow(self) -> None:
        old = self.entries()
        self.slots = np.zeros(0, dtype=_KEY)  # release the old table before allocating the new one
        self.capacity = min(self.capacity * self.GROWTH, self.max_capacity)
        self.slots = np.zeros(self.capacity, dtype=_KEY)
        for start in range(0, len(old), 1 << 16):  # in slices: the probe's temporaries stay small
            self._probe(self.slots, old["h"][start : start + (1 << 16)], old["l"][start : start + (1 << 16)])

    @staticmethod
    def _probe(slots: np.ndarray, h: np.ndarray, low: np.ndarray) -> np.ndarray:
        mask = len(slots) - 1
        slot = (h & np.uint64(mask)).astype(np.intp)
        step = ((low >> np.uint64(1)) & np.uint64(mask)).astype(np.intp) | 1  # odd: visits every slot
        new = np.zeros(len(h), dtype=bool)
        pending = np.arange(len(h))
        while pending.size:
            current = slots[slot[pending]]
            found = (current["h"] == h[pending]) & (current["l"] == low[pending])
            empty = (current["h"] == 0) & (current["l"] == 0)
            claim = pending[empty]
            keys = np.empty(claim.size, dtype=_KEY)
            keys["h"], keys["l"] = h[claim], low[claim]
            slots[slot[claim]] = keys  # several claims on one slot: one of them lands
            back = slots[slot[claim]]
            won = (back["h"] == keys["h"]) & (back["l"] == keys["l"])
            new[claim[won]] = True
            pending = np.concatenate([pending[~found & ~empty], claim[~won]])
            slot[pending] = (slot[pending] + step[pending]) & mask
        return new


class _Spill:
    """Held-back rows (Arrow IPC) and their digests (hash partitions) in a private temp dir."""

    def __init__(self, schema: pa.Schema, directory: str | None):
        self.path = Path(tempfile.mkdtemp(prefix="datalake-dedupe-", dir=directory))
        self._rows_file = pa.OSFile(str(self.path / "rows.arrows"), "wb")
        self._rows = pa.ipc.new_stream(self._rows_file, schema)
        self._partitions = [(self.path / f"digests-{i:03d}.bin").open("ab") for i in range(PARTITIONS)]
        self.rows = 0

    def add_digests(self, h: np.ndarray, low: np.ndarray, ordinals: np.ndarray) -> None:
        records = np.empty(len(h), dtype=_DIGEST)
        records["h"], records["l"], records["ordinal"] = h, low, ordinals
        part = (h >> np.uint64(64 - PARTITION_BITS)).astype(np.uint8)
        order = np.argsort(part, kind="stable")  # a radix sort for uint8: linear, keeps ordinal order
        bounds = np.searchsorted(part[order], np.arange(PARTITIONS + 1))
        records = records[order]
        for i in np.flatnonzero(np.diff(bounds)):
            self._partitions[i].write(records[bounds[i] : bounds[i + 1]].tobytes())

    def add_rows(self, batch: pa.RecordBatch, h: np.ndarray, low: np.ndarray) -> None:
        self._rows.write_batch(batch)
        self.add_digests(h, low, np.arange(self.rows, self.rows + batch.num_rows, dtype=np.int64))
        self.rows += batch.num_rows

    def duplicates(self) -> tuple[np.ndarray, int]:
        """A bitmap (1 bit a row) over held-back rows, set where an earlier row (written or held) is
        equal, and how many bits are set."""
        self._rows.close()
        self._rows_file.close()
        for handle in self._partitions:
            handle.close()
        dropped = np.zeros((self.rows + 7) // 8 + 1, dtype=np.uint8)
        count = 0
        for i in range(PARTITIONS):
            records = np.fromfile(self.path / f"digests-{i:03d}.bin", dtype=_DIGEST)  # in ordinal order
            ordinals = records["ordinal"][~_first_occurrences(records["h"], records["l"])]
            # never _EMITTED ones: those come first in the file and are distinct
            np.bitwise_or.at(dropped, ordinals >> 3, (1 << (ordinals & 7)).astype(np.uint8))
            count += len(ordinals)  # each held row has one ordinal, so none is counted twice
        return dropped, count

    def replay(self) -> Iterator[pa.RecordBatch]:
        with pa.OSFile(str(self.path / "rows.arrows"), "rb") as source:
            yield from pa.ipc.open_stream(source)

    def remove(self) -> None:
        for handle in self._partitions:
            handle.close()
        shutil.rmtree(self.path, ignore_errors=True)


@dataclass(frozen=True)
class BatchDigests:
    """A batch's row digests and which rows are the first of their digest within the batch.

    Everything here depends on the batch alone, so it can be computed on any thread and
    ahead of time (see :meth:`RowDeduplicator.digest`); only the insert into the table of
    digests seen so far has to happen batch after batch.
    """

    high: np.ndarray
    low: np.ndarray
    first: np.ndarray


class RowDeduplicator:
    """Drops rows equal to an earlier row of the same object, in bounded memory.

    Use :meth:`push` for each batch (it returns the rows that may be written now, or None
    once the deduplicator has started holding rows back), then :meth:`drain` for the held
    rows, and :meth:`close` (or a ``with`` block) to remove any spill files. Output order
    is input order, minus duplicates, in both modes. :meth:`digest` is thread-safe: batches
    may be digested on worker threads and pushed, in order, with their digests.
    """

    def __init__(self, memory_limit: int = DEDUPE_MEMORY_LIMIT, spill_dir: str | None = None, seed: int | None = None):
        self._digest = RowDigester(seed)
        self._seen = _DigestTable(memory_limit)
        self._spill_dir = spill_dir or os.environ.get("DATALAKE_SPILL_DIR")
        self._spill: _Spill | None = None
        self.dropped = 0
        self.rows_in = 0

    @property
    def spilled(self) -> bool:
        """Whether the object was too big for the in-memory digests (rows held on disk)."""
        return self._spill is not None

    def digest(self, batch: pa.RecordBatch, constant_suffix: int = 0) -> BatchDigests:
        """The batch's digests (for :meth:`push`); thread-safe, and independent of the batches pushed so far.

        `constant_suffix`: see :class:`RowDigester`."""
        h, low = self._digest(batch, constant_suffix)
        low[(h == 0) & (low == 0)] = 1  # (0, 0) marks an empty slot of the table
        return BatchDigests(h, low, _first_occurrences(h, low))

    def push(self, batch: pa.RecordBatch, digests: BatchDigests | None = None) -> pa.RecordBatch | None:
        """The batch's new rows if they can be written now; None if they are held back.

        `digests` are the batch's own, from :meth:`digest` (computed here if not given).
        """
        self.rows_in += batch.num_rows
        if batch.num_rows == 0:
            return batch if self._spill is None else None
        digests = digests or self.digest(batch)
        h, low = digests.high, digests.low
        if self._spill is not None:  # every duplicate among held rows is found when draining
            self._spill.add_rows(batch, h, low)
            return None
        keep = digests.first.copy()
        candidates = np.flatnonzero(keep)
        if self._seen.has_room_for(len(candidates)):
            keep[candidates] = self._seen.insert(h[candidates], low[candidates])
        else:
            self._start_spilling(batch.schema)
        if not keep.all():
            batch = batch.filter(mask_array(keep))
            h, low = h[keep], low[keep]
            self.dropped += len(keep) - len(h)
        if self._spill is not None:
            self._spill.add_rows(batch, h, low)
            return None
        return batch

    def drain(self) -> Iterator[pa.RecordBatch]:
        """The held-back rows without their duplicates (nothing if no row was held back)."""
        if self._spill is None:
            return
        dropped, count = self._spill.duplicates()
        self.dropped += count
        position = 0
        for batch in self._spill.replay():
            first, skip = divmod(position, 8)
            window = dropped[first : first + (skip + batch.num_rows + 7) // 8]
            gone = np.unpackbits(window, bitorder="little")[skip : skip + batch.num_rows].view(bool)
            position += batch.num_rows
            yield batch.filter(mask_array(~gone)) if gone.any() else batch

    def close(self) -> None:
        if self._spill is not None:
            self._spill.remove()
        self._seen.clear()

    def __enter__(self) -> RowDeduplicator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start_spilling(self, schema: pa.Schema) -> None:
        self._spill = _Spill(schema, self._spill_dir)
        for entries in self._seen.drain_entries():  # a slice at a time: no second copy of the table
            self._spill.add_digests(entries["h"], entries["l"], np.full(len(entries), _EMITTED, dtype=np.int64))


def _first_occurrences(h: np.ndarray, low: np.ndarray) -> np.ndarray:
    """True at the first position of each distinct (h, low) digest in the sequence.

    A plain sort of the high halves finds the (rare) repeats; only those are then ordered
    by (h, low, position), so the common all-distinct case costs one argsort.
    """
    first = np.ones(len(h), dtype=bool)
    if len(h) < 2:
        return first
    order = np.argsort(h)
    sorted_h = h[order]
    same = sorted_h[1:] == sorted_h[:-1]
    if not same.any():
        return first
    involved = np.zeros(len(h), dtype=bool)
    involved[1:] |= same
    involved[:-1] |= same
    group = order[involved]
    group = group[np.lexsort((group, low[group], h[group]))]
    repeat = (h[group][1:] == h[group][:-1]) & (low[group][1:] == low[group][:-1])
    first[group[1:][repeat]] = False
    return first

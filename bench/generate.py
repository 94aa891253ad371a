"""Seeded, realistic CSV inputs for the benchmark.

The columns are what a landing zone really receives from an export: ids, ISO timestamps,
names padded with stray spaces, floats, ints, categories, mostly-empty columns, free text
that needs quoting (commas, doubled quotes, the odd line break), whitespace-only cells, and
exact duplicate rows, some of which differ only by padding (so they are duplicates only
*after* cleaning, which is what the lake's contract says). Headers are deliberately messy
so the snake_case renaming is exercised.

Generation is vectorised (numpy + Arrow's CSV writer) so the 2 GB file takes seconds, and
it is deterministic for a given seed and size: every engine reads the very same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SEED = 20260101
CHUNK_ROWS = 200_000
ROW_BYTES = 89  # about the average line length, to size the last chunk
DUPLICATE_SHARE = 0.02  # share of rows that repeat an earlier row of the same chunk
HEADER = [
    "Order ID",
    "Customer ID",
    "Created At",
    "Customer Name",
    "unitPrice",
    "Quantity",
    "Country",
    "Discount",
    "Status",
    "Notes",
    "",  # a blank header: the lake names it column_<n>
]
FIRST_NAMES = np.array(["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Niklaus"])
LAST_NAMES = np.array(["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Wirth"])
COUNTRIES = np.array(["FR", "DE", "US", "GB", "JP", "BR", "IN", "", "ES", "IT"])
STATUSES = np.array(["shipped", "  pending", "cancelled  ", "returned", " delivered "])
NOTES = np.array(
    [
        "",
        "",
        "",
        "   ",
        "gift wrap",
        "leave at the door, ring twice",
        'customer said "urgent"',
        "call before delivery; fragile",
        "second floor\nback entrance",  # a quoted line break: parsers must keep it in one value
    ]
)
NOTE_WEIGHTS = np.array([0.40, 0.15, 0.10, 0.05, 0.1, 0.08, 0.05, 0.065, 0.005])
SIZES = {"1MB": 1 << 20, "10MB": 10 << 20, "100MB": 100 << 20, "1GB": 1 << 30, "2GB": 2 << 30, "4GB": 4 << 30}
WIDE_COLUMNS = 60  # the "wide" shape: a sparse export (most cells empty)
WIDE_FILLED = 0.15
TEXT_WORDS = np.array(
    [
        "the",
        "parcel",
        "arrived",
        "late,",
        "and",
        "box",
        'was "damaged"',
        "please",
        "refund;",
        "customer",
        "called",
        "twice",
        "about",
        "order",
        "status",
        "warehouse",
        "says",
        "it",
        "shipped",
        "on",
        "time",
        "courier",
        "lost,",
        "tracking",
        "shows",
        "delivered",
        "but",
        "neighbour",
        "has",
        "nothing",
    ]
)
TEXT_POOL = 4096  # distinct long texts the "text" shape draws from


def parse_size(text: str) -> int:
    """'100MB' -> bytes; accepts the names in SIZES or a number with KB/MB/GB."""
    if text in SIZES:
        return SIZES[text]
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMG]?)B?", text.strip().upper())
    if not match:
        raise ValueError(f"size {text!r}: write it like 100MB or 2GB")
    scale = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[match.group(2)]
    return int(float(match.group(1)) * scale)


def _padded(rng: np.random.Generator, values: pa.Array) -> pa.Array:
    """Add stray leading/trailing spaces to about a third of the values."""
    n = len(values)
    left = pa.array(np.where(rng.random(n) < 0.2, " ", ""))
    right = pa.array(np.where(rng.random(n) < 0.2, "  ", ""))
    return pc.binary_join_element_wise(left, values, right, "")


def _chunk(rng: np.random.Generator, first_id: int, rows: int) -> pa.Table:
    ids = np.arange(first_id, first_id + rows)
    seconds = rng.integers(1_735_689_600, 1_767_225_600, rows).astype("datetime64[s]")
    price = np.round(rng.gamma(2.0, 30.0, rows), 2)
    discount = np.where(rng.random(rows) < 0.8, "", np.round(rng.random(rows) * 0.3, 3).astype(str))
    names = pc.binary_join_element_wise(
        pa.array(FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), rows)]),
        pa.array(LAST_NAMES[rng.integers(0, len(LAST_NAMES), rows)]),
        " ",
    )
    columns = {
        "c0": pc.binary_join_element_wise("ORD-", pa.array(np.char.zfill(ids.astype(str), 10)), ""),
        "c1": pa.array(rng.integers(1, 250_000, rows).astype(str)),
        "c2": pc.strftime(pa.array(seconds), format="%Y-%m-%dT%H:%M:%SZ"),
        "c3": _padded(rng, names),
        "c4": pa.array(price.astype(str)),
        "c5": pa.array(rng.integers(1, 20, rows).astype(str)),
        "c6": pa.array(COUNTRIES[rng.integers(0, len(COUNTRIES), rows)]),
        "c7": pa.array(discount),
        "c8": pa.array(STATUSES[rng.integers(0, len(STATUSES), rows)]),
        "c9": pa.array(NOTES[rng.choice(len(NOTES), rows, p=NOTE_WEIGHTS)]),
        "c10": pa.array(np.where(rng.random(rows) < 0.9, "", "x")),
    }
    table = pa.table(columns)
    # Exact duplicates: rows that repeat an earlier row; half of them re-padded, so they are
    # duplicates only once cleaned.
    dupes = int(rows * DUPLICATE_SHARE)
    target = rng.choice(np.arange(rows // 2, rows), dupes, replace=False)
    source = rng.integers(0, rows // 2, dupes)
    take = np.arange(rows)
    take[target] = source
    table = table.take(pa.array(take))
    repad = np.zeros(rows, dtype=bool)
    repad[target[: dupes // 2]] = True
    names_col = table.column("c3").combine_chunks()
    repadded = pc.binary_join_element_wise("  ", pc.utf8_trim_whitespace(names_col), " ", "")
    return table.set_column(3, "c3", pc.if_else(pa.array(repad), repadded, names_col))


def _wide_chunk(rng: np.random.Generator, first_id: int, rows: int) -> pa.Table:
    """A sparse export: an id and WIDE_COLUMNS - 1 columns, about 85% of their cells empty or blank."""
    columns = {"c0": pa.array(np.char.add("W", np.arange(first_id, first_id + rows).astype(str)))}
    values = [
        np.round(rng.normal(100, 40, rows), 3).astype(str),
        rng.integers(0, 10_000, rows).astype(str),
        COUNTRIES[rng.integers(0, len(COUNTRIES), rows)],
        STATUSES[rng.integers(0, len(STATUSES), rows)],
    ]
    for i in range(1, WIDE_COLUMNS):
        filled = rng.random(rows) < WIDE_FILLED
        cell = np.where(filled, values[i % len(values)], np.where(rng.random(rows) < 0.05, " ", ""))
        columns[f"c{i}"] = pa.array(cell)
    return _with_duplicates(rng, pa.table(columns), repad_column=None)


def _text_pool(rng: np.random.Generator) -> np.ndarray:
    """Long free-text values (150-700 characters, commas, doubled quotes, the odd line break)."""
    lengths = rng.integers(25, 110, TEXT_POOL)
    texts = [" ".join(TEXT_WORDS[rng.integers(0, len(TEXT_WORDS), n)]) for n in lengths]
    return np.array([t.replace(" ", "\n", 1) if i % 50 == 0 else t for i, t in enumerate(texts)])


def _text_chunk(rng: np.random.Generator, first_id: int, rows: int, pool: np.ndarray) -> pa.Table:
    """Support tickets: an id, a padded subject, a long quoted body, an author and a tag."""
    body = pool[rng.integers(0, len(pool), rows)]
    columns = {
        "c0": pa.array(np.char.add("T", np.arange(first_id, first_id + rows).astype(str))),
        "c1": _padded(rng, pa.array(STATUSES[rng.integers(0, len(STATUSES), rows)])),
        "c2": pa.array(body),
        "c3": _padded(rng, pa.array(FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), rows)])),
        "c4": pa.array(np.where(rng.random(rows) < 0.5, "", COUNTRIES[rng.integers(0, len(COUNTRIES), rows)])),
    }
    return _with_duplicates(rng, pa.table(columns), repad_column=1)


def _with_duplicates(rng: np.random.Generator, table: pa.Table, repad_column: int | None) -> pa.Table:
    """Make DUPLICATE_SHARE of the rows repeat an earlier row; half of them re-padded in `repad_column`."""
    rows = table.num_rows
    dupes = int(rows * DUPLICATE_SHARE)
    target = rng.choice(np.arange(rows // 2, rows), dupes, replace=False)
    take = np.arange(rows)
    take[target] = rng.integers(0, rows // 2, dupes)
    table = table.take(pa.array(take))
    if repad_column is None:
        return table
    repad = np.zeros(rows, dtype=bool)
    repad[target[: dupes // 2]] = True
    name = table.column_names[repad_column]
    column = table.column(repad_column).combine_chunks()
    repadded = pc.binary_join_element_wise("  ", pc.utf8_trim_whitespace(column), " ", "")
    return table.set_column(repad_column, name, pc.if_else(pa.array(repad), repadded, column))


def _quoted_where_needed(values: pa.Array) -> pa.Array:
    """RFC 4180 quoting, only for values with a comma, a quote or a line break (as most exporters do)."""
    needs = pc.match_substring_regex(values, r'[,"\n\r]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, values)


def _csv_bytes(table: pa.Table) -> bytes:
    """The rows of `table` as CSV lines, built column-wise (no per-row Python)."""
    columns = [_quoted_where_needed(column.combine_chunks()) for column in table.columns]
    lines = pc.binary_join_element_wise(*columns, ",")
    lines = pc.binary_join_element_wise(lines, "\n", "")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return lines.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]


SHAPES = ("orders", "wide", "text")  # the bench's own input, wide with many nulls, long quoted text


def _shape(shape: str, rng: np.random.Generator) -> tuple[list[str], Callable[[int, int], pa.Table], int, int]:
    """(header, chunk(first_id, rows), bytes a row, rows a full chunk) of a shape."""
    if shape == "orders":
        return HEADER, lambda first, rows: _chunk(rng, first, rows), ROW_BYTES, CHUNK_ROWS
    if shape == "wide":
        header = ["Row ID"] + [f"Attribute {i}" for i in range(1, WIDE_COLUMNS)]
        return header, lambda first, rows: _wide_chunk(rng, first, rows), 135, 150_000
    if shape == "text":
        pool = _text_pool(rng)
        header = ["Ticket ID", "Subject", "Body", "Author", "Country"]
        return header, lambda first, rows: _text_chunk(rng, first, rows, pool), 480, 40_000
    raise ValueError(f"unknown shape {shape!r}; shapes are {', '.join(SHAPES)}")


def generate(path: Path, size: int, seed: int = SEED, shape: str = "orders") -> Path:
    """Write a CSV of about `size` bytes (whole rows; at least 50 of them) of `shape` to `path`."""
    rng = np.random.default_rng(seed)
    header, chunk, row_bytes, chunk_rows = _shape(shape, rng)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    with partial.open("wb") as out:
        out.write((",".join(header) + "\n").encode())
        first_id = 1
        while out.tell() < size:
            remaining = size - out.tell()
            rows = chunk_rows if remaining > chunk_rows * row_bytes * 2 else max(50, remaining // row_bytes + 1)
            out.write(_csv_bytes(chunk(first_id, rows)))
            first_id += rows
    partial.replace(path)
    return path


def dataset_file(data_dir: Path, size_name: str, seed: int = SEED, shape: str = "orders") -> Path:
    """The cached input of a shape and size, generated on first use (bench/data/ is git-ignored)."""
    path = data_dir / f"{shape}-{size_name}-seed{seed}.csv"
    if not path.exists():
        generate(path, parse_size(size_name), seed, shape)
    return path

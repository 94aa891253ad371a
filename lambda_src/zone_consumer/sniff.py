"""What an object's first bytes say before they are trusted as CSV.

Producers drop all sorts of things into a landing zone: a workbook saved as `.csv`, UTF-16
exports, Latin-1 files, a data dump without its header row, semicolon-separated files from
a European locale, a JSON blob with no line breaks. Each of these would otherwise fail
deep inside the CSV parser with a message about byte offsets and block boundaries - or,
worse, "succeed" as one wrong column. These checks look at the header peek (the first
MiB) and name the problem the way the person who made the file would understand it, so
the DLQ entry says what to fix.

Also here: the check that stops a float column from silently rounding integers that do
not fit in 64 bits (the typed hop then keeps that column as text).
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FILE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one): export the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office file (.xls): export the sheet as CSV"),
    (b"PAR1", "a Parquet file: put it in a Parquet zone, not the CSV landing zone"),
    (b"BZh", "a bzip2 archive: only gzip-compressed CSV (.csv.gz) is read"),
    (b"\xfd7zXZ\x00", "an xz archive: only gzip-compressed CSV (.csv.gz) is read"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive: only gzip-compressed CSV (.csv.gz) is read"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
)
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}
VALUE = re.compile(
    r"[+-]?(\d+([.,]\d+)*|\.\d+)([eE][+-]?\d+)?"  # numbers, with thousands or decimal separators
    r"|\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?"  # ISO dates and times
    r"|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}"  # 31/12/2026, 12.31.26
)
EXACT_DOUBLE_LIMIT = 2.0**53  # beyond this, doubles cannot hold every integer


def signature_problem(peek: bytes) -> str | None:
    """The object is a known binary format, or UTF-16/32 text, or has NUL bytes in its first line."""
    for signature, what in FILE_SIGNATURES:
        if peek.startswith(signature):
            return f"the object is {what}, not a CSV file"
    if peek.startswith(UTF32_BOMS):
        return "the object is UTF-32 text; re-save it as UTF-8 CSV"
    if peek.startswith(UTF16_BOMS):
        return "the object is UTF-16 text; re-save it as UTF-8 CSV"
    end = peek.find(b"\n")
    first_line = peek[: end if end >= 0 else 4096]
    if b"\x00" in first_line:
        zeros = first_line.count(b"\x00")
        if len(first_line) >= 4 and zeros * 2 >= len(first_line) - 2:
            return "the object looks like UTF-16 text (a NUL byte after every character); re-save it as UTF-8 CSV"
        return "the first line contains NUL bytes: the object is binary data, not a CSV file"
    return None


def decoding_problem(peek: bytes, position: int) -> str:
    """Why the peek is not UTF-8, with a guess at what it is."""
    line = peek.count(b"\n", 0, position) + 1
    byte = peek[position]
    sample = peek[: min(len(peek), 64 << 10)]
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    if controls > len(sample) // 20:
        return f"the object looks like binary data (control bytes from byte {position}), not a CSV file"
    try:
        peek[: position + 64].decode("cp1252")
        guess = "it looks like Latin-1 / Windows-1252 text"
    except UnicodeDecodeError:
        guess = "it is not UTF-8 text"
    where = f"byte 0x{byte:02X} at offset {position}, line {line}"
    return f"the file is not valid UTF-8 ({where}): {guess}; re-save it as UTF-8"


def first_line_problem(peek: bytes, complete: bool) -> str | None:
    """No line break in the whole peek: this is not a header row followed by data."""
    if not complete and b"\n" not in peek and b"\r" not in peek:
        return (
            f"the first line is longer than {len(peek) >> 20} MiB: a CSV header row was expected "
            "(is this a CSV file with line breaks?)"
        )
    return None


def header_problem(row: list[str]) -> str | None:
    """The first line is not a usable header row: the wrong delimiter, or data."""
    if len(row) == 1:
        for delimiter, name in DELIMITERS.items():
            if delimiter in row[0]:
                return (
                    f"the header is one column containing {delimiter!r}: the file looks {name}-separated; "
                    "the lake reads comma-separated CSV: re-export it with commas"
                )
    cells = [cell.strip() for cell in row if cell.strip()]
    if cells and all(VALUE.fullmatch(cell) for cell in cells):
        shown = ", ".join(cells[:4]) + (", ..." if len(cells) > 4 else "")
        return (
            f"the first row looks like data, not a header (every cell is a number or a date: {shown}); "
            "add a header row naming the columns"
        )
    return None


def inexact_float_column(batch: pa.RecordBatch) -> int | None:
    """Index of a float column holding an integer too large to be exact (the text said more digits)."""
    for index, column in enumerate(batch.columns):
        if not pa.types.is_floating(column.type) or column.null_count == len(column):
            continue
        extremes = pc.min_max(column)  # skips nulls and NaN, copies nothing: most columns end here
        if extremes["min"].as_py() > -EXACT_DOUBLE_LIMIT and extremes["max"].as_py() < EXACT_DOUBLE_LIMIT:
            continue
        dense = pc.drop_null(column) if column.null_count else column
        dtype = np.dtype(dense.type.to_pandas_dtype())  # a dtype object: no pandas import
        # From the buffer: to_numpy() on a column with nulls makes pyarrow import pandas.
        values = np.frombuffer(dense.buffers()[1], dtype=dtype)[dense.offset : dense.offset + len(dense)]
        with np.errstate(invalid="ignore"):
            if np.any((np.abs(values) >= EXACT_DOUBLE_LIMIT) & (np.floor(values) == values)):
                return index
    return None

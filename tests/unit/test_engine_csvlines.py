"""CSV lines: the landing hop's rows encoded once, split by row, and written as bytes."""

from __future__ import annotations

import io
import random

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from zone_consumer import csvlines
from zone_consumer.csvlines import csv_lines, header_line, lines_bytes

TRICKY = [
    "plain",
    None,
    "",
    'say "hi"',
    '""',
    "comma, inside",
    "line\nbreak",
    "cr\r\nlf",
    "ünïcödé ✓",
    '"',
    "'=1+1",
]


def _batch() -> pa.RecordBatch:
    n = len(TRICKY)
    return pa.record_batch(
        [pa.array(TRICKY), pa.array(list(reversed(TRICKY))), pa.array([str(i) if i % 3 else None for i in range(n)])],
        names=["a", "b", "c"],
    )


def _arrow_csv(batch: pa.RecordBatch) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(batch, sink, write_options=pacsv.WriteOptions(include_header=False))
    return sink.getvalue()


def test_lines_are_arrows_encoding_split_by_row():
    batch = _batch()
    lines = csv_lines(batch)
    assert len(lines) == batch.num_rows
    assert b"".join(lines.to_pylist()) == _arrow_csv(batch)
    for row in range(batch.num_rows):  # each line is that row's encoding on its own
        assert lines[row].as_py() == _arrow_csv(batch.slice(row, 1))


def test_a_sliced_batch_and_its_lines_bytes():
    batch = _batch().slice(3, 6)
    lines = csv_lines(batch)
    assert lines_bytes(lines).to_pybytes() == _arrow_csv(batch)
    assert lines_bytes(lines.slice(2, 3)).to_pybytes() == _arrow_csv(batch.slice(2, 3))
    assert lines_bytes(lines.slice(0, 0)).to_pybytes() == b""


def test_lines_parse_back_to_the_values():
    batch = _batch()
    text = header_line(batch.schema) + lines_bytes(csv_lines(batch)).to_pybytes()
    back = pacsv.read_csv(
        pa.py_buffer(text),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(batch.schema.names, pa.string()),
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    assert back.to_pydict() == pa.Table.from_batches([batch]).to_pydict()


def test_equal_rows_give_equal_lines_and_different_rows_different_lines():
    batch = pa.record_batch(
        [pa.array(["x", "x", None, "", 'a"', 'a"']), pa.array(["1", "1", "", None, "b", "b"])], ["p", "q"]
    )
    lines = csv_lines(batch).to_pylist()
    assert lines[0] == lines[1] and lines[4] == lines[5]
    assert len({lines[0], lines[2], lines[3], lines[4]}) == 4  # null and "" differ, in either column


def test_a_split_that_does_not_check_out_falls_back_to_row_by_row(monkeypatch: pytest.MonkeyPatch):
    batch = _batch()
    expected = csv_lines(batch).to_pylist()
    monkeypatch.setattr(csvlines, "_rendered_lengths", lambda b, eol_bytes: [1] * b.num_rows)  # wrong on purpose
    monkeypatch.setattr(csvlines, "_line_ends", lambda data, rows: csvlines.np.arange(1, rows + 1))  # and this
    assert csv_lines(batch).to_pylist() == expected
    monkeypatch.setattr(csvlines, "SPLIT_BY_BYTES_COLUMNS", 1)
    assert csv_lines(batch).to_pylist() == expected


def test_both_splits_match_encoding_each_row_alone(monkeypatch: pytest.MonkeyPatch):
    """Values made of quotes, line breaks, commas and spaces: either split finds every row's own line."""
    rng = random.Random(7)
    alphabet = ['"', "\n", "\r", ",", "a", " ", "é"]

    def value() -> str | None:
        return None if rng.random() < 0.15 else "".join(rng.choice(alphabet) for _ in range(rng.randrange(7)))

    batch = pa.record_batch([pa.array([value() for _ in range(3000)]) for _ in range(4)], names=["a", "b", "c", "d"])
    for eol in ("\n", "\r\n"):
        expected = csvlines._lines_one_by_one(batch, eol).to_pylist()
        for columns in (1, csvlines.SPLIT_BY_BYTES_COLUMNS + 1):  # split by bytes, then by the values' lengths
            monkeypatch.setattr(csvlines, "SPLIT_BY_BYTES_COLUMNS", columns)
            assert csv_lines(batch, eol).to_pylist() == expected
    monkeypatch.setattr(csvlines, "SPLIT_BY_BYTES_COLUMNS", 1)
    no_breaks = pa.record_batch([pa.array(['"a",', None, "b"] * 50)], names=["a"])  # as many line breaks as rows
    assert csv_lines(no_breaks).to_pylist() == csvlines._lines_one_by_one(no_breaks, "\n").to_pylist()


def test_an_end_of_line_with_a_quote_is_refused():
    with pytest.raises(ValueError, match="no quote in it"):
        csv_lines(_batch(), eol='"\n')


def test_non_text_columns_are_encoded_row_by_row():
    batch = pa.record_batch([pa.array([1, 2, None]), pa.array(["a", None, "c"])], ["n", "s"])
    assert b"".join(csv_lines(batch).to_pylist()) == _arrow_csv(batch)


def test_header_line_is_what_arrows_writer_writes():
    schema = pa.schema([("order_id", pa.string()), ("_source_key", pa.string())])
    sink = io.BytesIO()
    pacsv.CSVWriter(sink, schema).close()
    assert header_line(schema) == sink.getvalue() == b'"order_id","_source_key"\n'

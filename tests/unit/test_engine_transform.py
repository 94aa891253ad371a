"""The zone engine (`transform_stream` via `datalake transform`'s code path) against a pandas reference."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zone_consumer.formats as formats
from zone_consumer.pipeline import transform_stream

from datalake_cfn.cli.perf import hop_spec, transform_file
from datalake_cfn.cli.state import UserError
from datalake_cfn.config import parse_config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the bench package (its seeded generator) lives at the repository root

from bench.generate import generate  # noqa: E402

LAKE = parse_config({"lake": "unit", "datasets": [{"name": "orders"}]})
INGESTED_AT = "2026-01-01T00:00:00.000Z"


@pytest.fixture(scope="module")
def orders_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 1.5 MB of the benchmark's data: padding, empties, quoting, line breaks, duplicates."""
    return generate(tmp_path_factory.mktemp("input") / "orders.csv", 1_500_000, seed=99)


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """64 KiB blocks: the file arrives in dozens of batches, so duplicates span batches."""
    monkeypatch.setattr(formats, "BLOCK_SIZE", 64 << 10)


def pandas_reference(source: Path, source_key: str) -> pd.DataFrame:
    """The contract, written the obvious way: clean every cell, drop exact duplicates, add lineage."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False, na_filter=False)
    frame.columns = formats.lake_column_names(list(frame.columns.str.replace(r"^Unnamed: \d+$", "", regex=True)))
    frame = frame.apply(lambda column: column.str.strip().replace("", None))
    frame = frame.drop_duplicates().reset_index(drop=True)
    frame["_source_key"] = source_key
    frame["_ingested_at"] = INGESTED_AT
    return frame


def read_output(path: Path) -> pd.DataFrame:
    """The engine's CSV as text, with its unquoted empty cells (nulls) as None."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return frame.astype(object).where(frame.notna(), None)


def run(source: Path, target: Path, **kwargs) -> tuple[int, int]:
    report = transform_file(LAKE, "orders", "raw", source, target, ingested_at=INGESTED_AT, **kwargs)
    return report.rows, report.duplicates_dropped


def test_engine_matches_the_pandas_reference(orders_csv: Path, tmp_path: Path, small_blocks: None):
    rows, dropped = run(orders_csv, tmp_path / "out.csv")
    expected = pandas_reference(orders_csv, "orders/orders.csv")
    actual = read_output(tmp_path / "out.csv")
    assert list(actual.columns) == list(expected.columns)
    assert list(actual.columns)[-3:] == ["column_11", "_source_key", "_ingested_at"]  # blank header named
    pd.testing.assert_frame_equal(actual, expected.astype(object).where(expected.notna(), None))
    assert rows == len(expected)
    assert dropped > 0 and rows + dropped == len(pd.read_csv(orders_csv, dtype=str))


def test_spilled_and_in_memory_dedupe_write_the_same_bytes(
    orders_csv: Path, tmp_path: Path, small_blocks: None, monkeypatch: pytest.MonkeyPatch
):
    run(orders_csv, tmp_path / "memory.csv")
    import zone_consumer.dedupe as dedupe

    monkeypatch.setattr(dedupe.RowDeduplicator.__init__, "__defaults__", (64 << 10, str(tmp_path), None))
    run(orders_csv, tmp_path / "spilled.csv")
    assert (tmp_path / "spilled.csv").read_bytes() == (tmp_path / "memory.csv").read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("datalake-dedupe-")]


def test_gzip_input_gives_the_same_output(orders_csv: Path, tmp_path: Path, small_blocks: None):
    compressed = tmp_path / "orders.csv.gz"
    compressed.write_bytes(gzip.compress(orders_csv.read_bytes()))
    run(orders_csv, tmp_path / "plain.csv", source_key="k")
    run(compressed, tmp_path / "gzip.csv", source_key="k")
    assert (tmp_path / "gzip.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()


def test_quoted_line_breaks_commas_and_quotes_stay_inside_their_value(tmp_path: Path, small_blocks: None):
    rows = [f'{i},"line one\nline two, ""quoted""",  x  ' for i in range(4000)]
    source = tmp_path / "in.csv"
    source.write_text("Id,Note,Flag\n" + "\n".join(rows) + "\n")
    count, dropped = run(source, tmp_path / "out.csv")
    out = read_output(tmp_path / "out.csv")
    assert (count, dropped) == (4000, 0)
    assert set(out["note"]) == {'line one\nline two, "quoted"'}
    assert set(out["flag"]) == {"x"}
    assert list(out["id"]) == [str(i) for i in range(4000)]


def test_header_only_input_writes_the_header(tmp_path: Path):
    source = tmp_path / "empty.csv"
    source.write_text("Order ID,unitPrice\n")
    assert run(source, tmp_path / "out.csv") == (0, 0)
    assert (tmp_path / "out.csv").read_text().splitlines() == ['"order_id","unit_price","_source_key","_ingested_at"']


@pytest.mark.parametrize("input_kind", ["orders", "formulas"])
def test_engine_never_imports_pandas(orders_csv: Path, tmp_path: Path, input_kind: str):
    """pyarrow imports pandas the first time it converts a Python object: a second and 50 MB of cold start.

    `formulas` holds what the spreadsheet escape and its undoing look at with regexes (negative
    numbers, formulas, escaped values), and padded blanks that become nulls.
    """
    if input_kind == "formulas":
        orders_csv = tmp_path / "formulas.csv"
        orders_csv.write_text("id,amount,note\n1,-5,=SUM(A1)\n2,  ,'+x\n3,+1e3,@me\n1,-5,=SUM(A1)\n")
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from datalake_cfn.config import parse_config
        from datalake_cfn.cli.perf import transform_file
        config = parse_config({{"lake": "unit", "datasets": [{{"name": "orders"}}]}})
        staged, curated = Path({str(tmp_path / "o.csv")!r}), Path({str(tmp_path / "o.parquet")!r})
        transform_file(config, "orders", "raw", Path({str(orders_csv)!r}), staged)
        transform_file(config, "orders", "staged", staged, curated)
        print("pandas" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_input_is_read_a_bounded_number_of_blocks_ahead(orders_csv: Path, monkeypatch: pytest.MonkeyPatch):
    """However slow the consumer, Arrow's reader may not buffer the whole object."""
    block = 64 << 10
    monkeypatch.setattr(formats, "BLOCK_SIZE", block)

    class CountingStream(io.BytesIO):
        def __init__(self, data: bytes):
            super().__init__(data)
            self.consumed = 0

        def read(self, size: int = -1) -> bytes:
            data = super().read(size)
            self.consumed += len(data)
            return data

    stream = CountingStream(orders_csv.read_bytes())
    _, reader = formats.open_csv_stream(stream)
    worst = 0
    for batches, batch in enumerate(formats.iter_batches(reader), start=1):
        import time

        time.sleep(0.01)  # a slow consumer: Arrow's I/O thread would race ahead of it
        worst = max(worst, stream.consumed - batches * block)
        assert batch.num_rows
    limit = formats.HEADER_PEEK + (formats.INPUT_BLOCKS_AHEAD + formats.READ_AHEAD + 3) * block
    assert batches > 10
    assert worst <= limit


def test_a_failing_sink_fails_the_transform_instead_of_hanging(orders_csv: Path, small_blocks: None):
    class BrokenSink(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data) -> int:  # type: ignore[no-untyped-def]
            raise OSError("disk full")

    spec, route = hop_spec(LAKE, "orders", "raw")
    with orders_csv.open("rb") as source, pytest.raises(OSError, match="disk full"):
        transform_stream(source, BrokenSink(), spec=spec, dataset=route, source_key="k", ingested_at="t")


def test_bad_bytes_mid_file_are_an_input_error(tmp_path: Path, small_blocks: None):
    source = tmp_path / "bad.csv"
    source.write_bytes(b"a,b\n" + b"1,2\n" * 50_000 + b"3,\xff\xfe\n")
    with pytest.raises(UserError, match="not UTF-8"):
        run(source, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_typed_hop_widens_a_column_that_a_later_block_breaks(tmp_path: Path, small_blocks: None):
    lines = [f'"{i}","{i * 2}"' for i in range(30_000)] + ['"30000","not a number"']
    source = tmp_path / "staged.csv"
    source.write_text('"id","amount"\n' + "\n".join(lines) + "\n")
    report = transform_file(LAKE, "orders", "staged", source, tmp_path / "out.parquet")
    table = pq.read_table(tmp_path / "out.parquet")
    assert report.rows == 30_001
    assert table.schema.field("id").type == pa.int64()
    assert table.schema.field("amount").type == pa.string()
    assert table.column("amount")[-1].as_py() == "not a number"


def test_datalake_transform_command(orders_csv: Path, tmp_path: Path):
    from typer.testing import CliRunner

    from datalake_cfn.cli import app

    (tmp_path / "lake.yaml").write_text("lake: unit\ndatasets:\n  - {name: orders}\n")
    args = ["--config", str(tmp_path / "lake.yaml"), "transform", "--dataset", "orders", "--zone", "raw"]
    result = CliRunner().invoke(app, [*args, str(orders_csv), str(tmp_path / "out.csv")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "raw -> staged (clean)" in result.output
    assert "duplicates dropped" in result.output
    assert (tmp_path / "out.csv").read_text().startswith('"order_id","customer_id"')
    missing = CliRunner().invoke(app, [*args, str(tmp_path / "nope.csv"), str(tmp_path / "x.csv")])
    assert isinstance(missing.exception, UserError)


def test_cli_errors_name_the_fix(orders_csv: Path, tmp_path: Path):
    with pytest.raises(UserError, match="unknown dataset 'nope'; datasets are: orders"):
        transform_file(LAKE, "nope", "raw", orders_csv, tmp_path / "o.csv")
    with pytest.raises(UserError, match="zone 'curated' has no next zone"):
        transform_file(LAKE, "orders", "curated", orders_csv, tmp_path / "o.csv")
    with pytest.raises(UserError, match="does not exist"):
        transform_file(LAKE, "orders", "raw", tmp_path / "missing.csv", tmp_path / "o.csv")

"""The landing hop as CSV lines (wide objects) writes exactly what the batch path writes."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest
import zone_consumer.formats as formats
import zone_consumer.pipeline as pipeline
from zone_consumer.dedupe import RowDeduplicator

from datalake_cfn.cli.perf import transform_file
from datalake_cfn.config import parse_config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the bench package (its seeded generator) lives at the repository root

from bench.generate import generate  # noqa: E402

LAKE = parse_config({"lake": "unit", "datasets": [{"name": "orders"}]})


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bench's orders and wide shapes, small: quoting, line breaks, empties, duplicates across batches."""
    folder = tmp_path_factory.mktemp("input")
    return {
        "orders": generate(folder / "orders.csv", 1_000_000, seed=5),
        "wide": generate(folder / "wide.csv", 1_000_000, seed=6, shape="wide"),
    }


def _output(source: Path, target: Path, monkeypatch: pytest.MonkeyPatch, *, lines: bool, spill: bool) -> bytes:
    monkeypatch.setattr(pipeline, "LINES_MIN_COLUMNS", 0 if lines else 10**9)
    if spill:  # about 600 digests in memory: the rest of the object is held on disk and replayed
        monkeypatch.setattr(pipeline, "RowDeduplicator", functools.partial(RowDeduplicator, memory_limit=16 << 10))
    report = transform_file(LAKE, "orders", "raw", source, target, ingested_at="2026-01-01T00:00:00.000Z")
    assert report.rows > 0 and report.duplicates_dropped > 0
    return target.read_bytes()


@pytest.mark.parametrize("shape", ["orders", "wide"])
@pytest.mark.parametrize("spill", [False, True])
def test_lines_and_batches_write_the_same_bytes(
    inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shape: str, spill: bool
):
    monkeypatch.setattr(formats, "BLOCK_SIZE", 64 << 10)
    as_batches = _output(inputs[shape], tmp_path / "batches.csv", monkeypatch, lines=False, spill=spill)
    as_lines = _output(inputs[shape], tmp_path / "lines.csv", monkeypatch, lines=True, spill=spill)
    assert as_lines == as_batches


@pytest.mark.parametrize("shape", ["orders", "wide"])
def test_the_worker_pool_writes_the_same_bytes_as_the_calling_thread(
    inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shape: str
):
    """DATALAKE_WORKERS=2 (opt-in) cleans and digests on a pool; the output must not change by a byte."""
    monkeypatch.setattr(formats, "BLOCK_SIZE", 64 << 10)
    monkeypatch.delenv("DATALAKE_WORKERS", raising=False)
    alone = _output(inputs[shape], tmp_path / "alone.csv", monkeypatch, lines=shape == "wide", spill=False)
    monkeypatch.setenv("DATALAKE_WORKERS", "2")
    pooled = _output(inputs[shape], tmp_path / "pooled.csv", monkeypatch, lines=shape == "wide", spill=False)
    assert pooled == alone


def test_formula_cells_and_lineage_are_escaped_on_the_lines_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(pipeline, "LINES_MIN_COLUMNS", 0)
    source = tmp_path / "f.csv"
    source.write_text('a,b\n=1+1, -5 \n=1+1,-5\n"x,""y"",z",\n')
    report = transform_file(LAKE, "orders", "raw", source, tmp_path / "out.csv", ingested_at="t", source_key="=k.csv")
    assert report.rows == 2 and report.duplicates_dropped == 1
    assert (tmp_path / "out.csv").read_text().splitlines() == [
        '"a","b","_source_key","_ingested_at"',
        '"\'=1+1","-5","\'=k.csv","t"',
        '"x,""y"",z",,"\'=k.csv","t"',
    ]


def test_every_line_ends_in_the_lineage_bytes_the_digest_leaves_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Rows that differ only just before the lineage fields stay apart; only true duplicates go."""
    monkeypatch.setattr(pipeline, "LINES_MIN_COLUMNS", 0)
    key = 'raw/"q"/é,=1.csv'  # quoted, escaped and multi-byte in the suffix
    rows = [f"x,y{i % 7}" for i in range(50)] + ["x,", "x,y"]  # 7 distinct + 2, the rest duplicates
    source = tmp_path / "s.csv"
    source.write_text("a,b\n" + "\n".join(rows) + "\n")
    report = transform_file(LAKE, "orders", "raw", source, tmp_path / "out.csv", ingested_at="t", source_key=key)
    assert (report.rows, report.duplicates_dropped) == (9, 43)
    lines = (tmp_path / "out.csv").read_bytes().splitlines(keepends=True)[1:]
    suffix = lines[0][-pipeline.lineage_suffix_bytes(key, "t") :]
    assert suffix == ',"raw/""q""/é,=1.csv","t"\n'.encode()
    assert all(line.endswith(suffix) for line in lines) and len(set(lines)) == 9


def test_the_output_is_the_same_whichever_thread_digests(
    inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The reader digests the batches the main thread is not ready for: every split writes the same bytes."""
    monkeypatch.setattr(formats, "BLOCK_SIZE", 64 << 10)
    original = formats._background
    spared = []

    def on_the_reader(item):  # type: ignore[no-untyped-def]
        spared.append(item)
        return item

    def every_batch(iterator, depth, name, spare=None):  # type: ignore[no-untyped-def]
        return original(map(on_the_reader, map(spare, iterator)) if spare else iterator, depth, name)

    def no_batch(iterator, depth, name, spare=None):  # type: ignore[no-untyped-def]
        return original(iterator, depth, name)

    outputs = []
    for split in (every_batch, no_batch):
        monkeypatch.setattr(formats, "_background", split)
        outputs.append(
            _output(inputs["orders"], tmp_path / f"{split.__name__}.csv", monkeypatch, lines=False, spill=False)
        )
    assert len(spared) > 10 and all(isinstance(item, tuple) for item in spared)
    assert outputs[0] == outputs[1]

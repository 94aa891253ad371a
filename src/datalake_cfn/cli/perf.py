"""`datalake transform` (one hop on local files, as the consumer runs it) and `datalake cost`.

`transform` is what a user runs to develop a dataset's transform without a lake, and what
the benchmark measures: it builds the very ConsumerSpec the stacks and the local lake
give the zone's consumer and runs the same engine entry point (`transform_stream`) on
file streams instead of S3 streams.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from datalake_cfn.cli.state import CliState, UserError
from datalake_cfn.console import console, human_size, print_json

if TYPE_CHECKING:
    from datalake_cfn.config import LakeConfig
    from datalake_cfn.costs import CostEstimate


def register(app: typer.Typer) -> None:
    app.command()(transform)
    app.command()(cost)


@dataclass(frozen=True)
class TransformReport:
    """What one local hop did."""

    source: Path
    target: Path
    source_zone: str
    target_zone: str
    target_format: str
    transform: str
    rows: int
    duplicates_dropped: int
    bytes_in: int
    bytes_out: int
    seconds: float

    @property
    def mb_per_second(self) -> float:
        return self.bytes_in / 1e6 / self.seconds if self.seconds else 0.0


def hop_spec(config: LakeConfig, dataset: str, zone: str):  # -> tuple[ConsumerSpec, DatasetRoute]
    """The consumer spec of `zone`'s queue for `dataset`, and the dataset's route in it."""
    from datalake_cfn.naming import LakeNames
    from datalake_cfn.routing import consumer_spec, queue_routes

    zones = [z.name for z in config.zones]
    if zone not in zones:
        raise UserError(f"unknown zone {zone!r}; zones are: {', '.join(zones)}")
    if config.zone(zone).next is None:
        chained = ", ".join(z.name for z in config.chained_zones) or "none"
        raise UserError(f"zone {zone!r} has no next zone, so no consumer runs on it; zones with one: {chained}")
    names = [d.name for d in config.datasets]
    if dataset not in names:
        raise UserError(
            f"unknown dataset {dataset!r}; datasets are: {', '.join(names) or 'none (add one to lake.yaml)'}"
        )
    lake_names = LakeNames.for_config(config)
    route = next(
        r for r in queue_routes(config, lake_names) if r.zone.name == zone and dataset in {d.name for d in r.datasets}
    )
    spec = consumer_spec(config, lake_names, route, dlq_url=None)
    return spec, next(d for d in spec.datasets if d.name == dataset)


def transform_file(
    config: LakeConfig,
    dataset: str,
    zone: str,
    source: Path,
    target: Path,
    *,
    ingested_at: str | None = None,
    source_key: str | None = None,
) -> TransformReport:
    """Run the hop out of `zone` on a local file, writing `target` atomically (temp file + rename).

    The lineage columns get `source_key` (default: the dataset prefix + the file name, as if
    the file had been put in the zone) and `ingested_at` (default: now).
    """
    from zone_consumer.formats import InputError
    from zone_consumer.pipeline import transform_name, transform_stream, with_read_retries

    spec, route = hop_spec(config, dataset, zone)
    if not source.is_file():
        raise UserError(f"input {source} does not exist or is not a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    ingested_at = ingested_at or datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    started = time.perf_counter()

    def run(column_types: dict | None, block_size: int | None) -> tuple[int, int]:
        with source.open("rb") as stream, partial.open("wb") as sink:
            return transform_stream(
                stream,
                sink,
                spec=spec,
                dataset=route,
                source_key=source_key or f"{route.prefix}{source.name}",
                ingested_at=ingested_at,
                column_types=column_types,
                block_size=block_size,
            )

    try:
        rows, dropped = with_read_retries(run)  # as ZonePipeline.process: read again if a later block says so
    except InputError as exc:
        partial.unlink(missing_ok=True)
        raise UserError(f"{source}: {exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    seconds = time.perf_counter() - started
    os.replace(partial, target)
    return TransformReport(
        source=source,
        target=target,
        source_zone=spec.source_zone,
        target_zone=spec.target_zone,
        target_format=spec.target_format,
        transform=transform_name(spec, route),
        rows=rows,
        duplicates_dropped=dropped,
        bytes_in=source.stat().st_size,
        bytes_out=target.stat().st_size,
        seconds=seconds,
    )


def transform(
    ctx: typer.Context,
    source: Path = typer.Argument(..., help="Input file (CSV, optionally gzip-compressed).", metavar="IN"),
    target: Path = typer.Argument(..., help="Output file, in the next zone's format.", metavar="OUT"),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset whose transform to run."),
    zone: str = typer.Option(
        ..., "--zone", "-z", help="Zone the input lies in; its consumer's hop runs (raw: clean CSV to staged)."
    ),
) -> None:
    """Run one zone's hop on a local file, exactly as the zone's consumer would."""
    state: CliState = ctx.obj
    state.check_transforms()
    report = transform_file(state.config, dataset, zone, source, target)
    table = Table(title=f"{report.source_zone} -> {report.target_zone} ({report.transform})", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("input", f"{report.source} ({human_size(report.bytes_in)})")
    table.add_row("output", f"{report.target} ({human_size(report.bytes_out)}, {report.target_format})")
    table.add_row("rows written", f"{report.rows:,}")
    table.add_row("duplicates dropped", f"{report.duplicates_dropped:,}")
    table.add_row("time", f"{report.seconds:.2f} s ({report.mb_per_second:.0f} MB/s)")
    console.print(table)


def cost_facts(result: CostEstimate) -> dict[str, object]:
    """What `cost --json` prints: the workload, each line item and total (USD a month), each hop."""
    from dataclasses import asdict

    workload = result.workload
    return {
        "workload": {**asdict(workload), "files_per_month": workload.files_per_month},
        "items": [asdict(item) for item in result.items],
        "total": {"engine": result.engine_total, "original": result.original_total},
        "engine_hops": [asdict(hop) for hop in result.engine_hops],
        "original_hops": [asdict(hop) for hop in result.original_hops],
        "notes": list(result.notes),
        "prices_recorded": result.prices_recorded,
        "throughput_measured": result.throughput_measured,
    }


def _money(value: float | None) -> str:
    if value is None:
        return "cannot run"
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:,.4f}"


def cost(
    ctx: typer.Context,
    daily_gb: float = typer.Option(10.0, "--daily-gb", help="Data landing in the lake per day, in GB.", min=0.001),
    file_mb: float = typer.Option(10.0, "--file-mb", help="Typical size of one landed file, in MB.", min=0.001),
    memory: int | None = typer.Option(
        None, "--memory", help="Consumer Lambda memory in MB (default: pipeline.memory_mb of lake.yaml)."
    ),
    days: int = typer.Option(30, "--days", help="Days in the month.", min=1, max=31),
    crawls_per_day: int = typer.Option(24, "--crawls-per-day", help="Glue crawler runs a day (the stacks: hourly)."),
    throughput: Path | None = typer.Option(
        None, "--throughput", help="Measured figures to use instead of the packaged ones (a `make bench` output)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the estimate as JSON (the tables' facts)."),
) -> None:
    """Estimate the lake's monthly AWS cost, side by side with the original pandas-in-Lambda design."""
    import json

    from datalake_cfn.costs import Workload, estimate

    state: CliState = ctx.obj
    config = state.config
    if memory is not None and not 128 <= memory <= 10240:
        raise UserError(f"--memory {memory}: a Lambda has 128 to 10240 MB")
    measured = None
    if throughput is not None:
        if not throughput.is_file():
            raise UserError(f"{throughput} does not exist; `make bench` writes src/datalake_cfn/data/throughput.json")
        measured = json.loads(throughput.read_text())
    try:
        result = estimate(
            config,
            Workload(daily_gb=daily_gb, file_mb=file_mb, days=days, crawls_per_day=crawls_per_day),
            memory_mb=memory,
            throughput=measured,
        )
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        print_json(cost_facts(result))
        return
    engine_memory = result.engine_hops[0].memory_mb if result.engine_hops else config.pipeline.memory_mb
    original_memory = max((hop.memory_mb for hop in result.original_hops), default=0)
    table = Table(
        title=f"{daily_gb:g} GB/day in {file_mb:g} MB files: {result.workload.files_per_month:,} files a month",
        caption=f"prices recorded {result.prices_recorded} (list); throughput measured {result.throughput_measured}",
    )
    table.add_column("monthly cost")
    table.add_column(f"zone engine\n({engine_memory:,} MB)", justify="right", style="green")
    table.add_column(f"original pandas\n(up to {original_memory:,} MB)", justify="right")
    table.add_column("basis", style="dim")
    for item in result.items:
        table.add_row(item.name, _money(item.engine), _money(item.original), item.detail)
    table.add_section()
    table.add_row("total", _money(result.engine_total), _money(result.original_total), "", style="bold")
    console.print(table)

    hops = Table(title="per file and hop (Lambda)")
    for column in ("hop", "input", "engine: memory", "engine: duration", "pandas: memory", "pandas: duration"):
        hops.add_column(column, justify="right" if column != "hop" else "left")
    for mine, theirs in zip(result.engine_hops, result.original_hops, strict=True):
        hops.add_row(
            f"{mine.source_zone} -> {mine.target_zone}",
            f"{mine.input_mb:,.1f} MB",
            f"{mine.memory_mb:,} MB",
            f"{mine.seconds:,.2f} s",
            f"{theirs.memory_mb:,} MB" if theirs.feasible else "[red]too big[/]",
            f"{theirs.seconds:,.2f} s" if theirs.feasible else "-",
        )
    console.print(hops)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)

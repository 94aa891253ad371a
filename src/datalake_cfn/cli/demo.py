"""`datalake demo`: the whole local lake in one command, for a first look."""

from __future__ import annotations

import itertools
import time
from importlib import resources
from pathlib import Path

from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from datalake_cfn.cli.state import CliState, UserError
from datalake_cfn.console import console

DEMO_SQL = """
select category, count(*) as orders, round(sum(unit_price * quantity), 2) as revenue
from curated_sales group by category order by revenue desc
""".strip()


def sample_files() -> list[tuple[str, Path]]:
    """(dataset, path) of every bundled sample CSV."""
    root = Path(str(resources.files("datalake_cfn.data").joinpath("samples")))
    return [(csv.parent.name, csv) for csv in sorted(root.glob("*/*.csv"))]


def run_demo(state: CliState, timeout: float) -> None:
    from datalake_cfn.cli.lake import demo_config, status_table, zone_table
    from datalake_cfn.local.lake import LocalLake

    config = demo_config()
    state._config = config
    samples = sample_files()
    chain = config.chain()
    console.rule(f"[bold]datalake demo[/]: lake {config.lake!r}, zones {' -> '.join(z.name for z in chain)}")
    with LocalLake(config, port=0) as lake:
        console.print(f"embedded AWS emulator on [bold]{lake.endpoint}[/]; provisioned keys, buckets, queues, DLQ")
        for dataset, path in samples:
            key = lake.connection.put_file(path, dataset=dataset)
            tag = config.dataset(dataset).classification
            console.print(f"  put raw/{key}  ({dataset}, {tag})")
        _watch_flow(lake, chain, len(samples), timeout)
        for zone in chain:
            console.print(zone_table(lake.connection, zone.name))
        console.print(status_table(lake.connection))
        _show_query(lake, config)
    console.rule("[bold green]demo finished[/]: try `datalake up` and `datalake put` with your own CSVs")


def _watch_flow(lake, chain, expected: int, timeout: float) -> None:  # type: ignore[no-untyped-def]
    """Progress bars until the samples reach the last zone, a sample fails, or the emulator dies.

    A poll that cannot reach the emulator asks first whether its process died, so the demo
    says that (how it ended, its log) rather than only that an endpoint did not answer.
    """
    from botocore.exceptions import EndpointConnectionError

    from datalake_cfn.cli.observe import check_emulator

    progress = Progress(
        TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )
    tasks = {
        zone.name: progress.add_task(f"{previous.name} -> {zone.name}", total=expected)
        for previous, zone in itertools.pairwise(chain)
    }
    deadline = time.monotonic() + timeout
    with Live(progress, console=console, refresh_per_second=8):
        while time.monotonic() < deadline:
            try:
                done = {name: len(lake.connection.list_objects(name)) for name in tasks}
                failed = lake.connection.dlq_depth()
            except EndpointConnectionError:
                check_emulator(lake, wait=2.0)
                raise
            for name, task in tasks.items():
                progress.update(task, completed=done[name])
            if all(n >= expected for n in done.values()) or (failed and lake.pending() == 0):
                break
            time.sleep(0.25)
    console.print()
    if lake.connection.dlq_depth():
        reasons = "; ".join(letter.reason for letter in lake.connection.dead_letters())
        raise UserError(f"some sample files failed and are in the DLQ: {reasons}")
    if not all(len(lake.connection.list_objects(name)) >= expected for name in tasks):
        raise UserError(f"the samples did not reach {chain[-1].name} within {timeout:.0f}s")


def _show_query(lake, config) -> None:  # type: ignore[no-untyped-def]
    from datalake_cfn.local.crawler import crawl
    from datalake_cfn.local.query import run_query

    crawl(lake.connection, config, lake.names)
    console.print(f"[bold]SQL over curated[/] (DuckDB over the Glue catalog):\n  {DEMO_SQL}")
    result = run_query(lake.connection, config, lake.names, DEMO_SQL)
    table = Table(title="query result", title_justify="left")
    for name in result.column_names:
        table.add_column(name, justify="right")
    for row in result.to_pylist():
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)

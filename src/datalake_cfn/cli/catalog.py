"""Catalog commands: `crawl`, `query` and `etl run` (locally, or against AWS with --aws)."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from datalake_cfn.cli.state import CliState, UserError
from datalake_cfn.console import console, err_console, print_json

if TYPE_CHECKING:
    import pyarrow as pa

    from datalake_cfn.local.connection import LakeConnection
    from datalake_cfn.local.crawler import CrawlReport
    from datalake_cfn.local.etl import EtlReport

FORMATS = ("table", "csv", "json")
# SQL that reads files directly instead of catalogued tables (would bypass --as)
DIRECT_READ = re.compile(r"s3://|\b(read_\w+|glob|parquet_\w+|sniff_csv)\s*\(|'[^']*\.(csv|parquet|json)'", re.I)
etl_app = typer.Typer(
    help="Glue ETL jobs (glue_scripts/*.py): run them locally against the local lake.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.command()(crawl)
    app.command()(query)
    app.add_typer(etl_app, name="etl")


def connect(state: CliState) -> LakeConnection:
    """The lake `datalake up` runs for this data directory, or a clear error that also offers --aws."""
    return state.connect(aws_hint=True)


def _aws_client(state: CliState, service: str) -> Any:
    import boto3

    return boto3.client(service, region_name=state.config.region)


# -- crawl ------------------------------------------------------------------------------------------
def crawl(
    ctx: typer.Context,
    aws: bool = typer.Option(False, "--aws", help="Start the deployed lake's Glue crawler and wait for it."),
    dataset: list[str] = typer.Option(None, "--dataset", "-d", help="Only these datasets (repeatable)."),
    zone: list[str] = typer.Option(None, "--zone", "-z", help="Only these zones (repeatable)."),
    timeout: float = typer.Option(3600.0, help="With --aws: seconds to wait for the crawler."),
    as_json: bool = typer.Option(False, "--json", help="Print what the crawl did as JSON (the table's facts)."),
) -> None:
    """Catalog every zone's data as tables `<zone>_<dataset>` (columns, types, partitions)."""
    state: CliState = ctx.obj
    if aws:
        _crawl_aws(state, timeout, as_json)
        return
    from datalake_cfn.local.crawler import crawl as local_crawl

    config = state.config
    zones = _checked(zone, [z.name for z in config.zones], "zone")
    datasets = _checked(dataset, [d.name for d in config.datasets], "dataset")
    only = [(z, d) for z in zones for d in datasets] if (zone or dataset) else None
    connection = connect(state)
    _authorize_crawl(state, connection, zones, datasets, scoped=bool(zone or dataset))
    started = time.monotonic()
    with err_console.status("crawling the zones..."):
        report = local_crawl(connection, config, connection.names, only=only)
    if as_json:
        print_json(crawl_facts(report, time.monotonic() - started))
        return
    console.print(crawl_table(report))
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    console.print(f"{report.summary()} in {time.monotonic() - started:.1f} s")


def _authorize_crawl(
    state: CliState, connection: LakeConnection, zones: list[str], datasets: list[str], scoped: bool
) -> None:
    """With --as: the persona must be able to list and read every object the crawl reads."""
    from datalake_cfn.cli.authz import Authorizer

    authorizer = Authorizer(state, connection, "crawl denied")
    if not authorizer.enforced:
        return
    prefixes = [state.config.dataset(d).key_prefix for d in datasets] if scoped and datasets else None
    for name in zones:
        authorizer.read_zone(name, prefixes)


def _checked(values: list[str] | None, known: list[str], what: str) -> list[str]:
    unknown = [v for v in values or [] if v not in known]
    if unknown:
        raise UserError(f"unknown {what} {', '.join(unknown)}; {what}s are: {', '.join(known)}")
    return list(values) if values else known


def crawl_facts(report: CrawlReport, seconds: float) -> dict[str, Any]:
    """What `crawl --json` prints: every table's result, the warnings and the summary line."""
    from dataclasses import asdict

    return {
        "database": report.database,
        "tables": [asdict(result) for result in report.tables],
        "warnings": list(report.warnings),
        "summary": report.summary(),
        "seconds": round(seconds, 3),
    }


def crawl_table(report: CrawlReport) -> Table:
    table = Table(title=f"Glue database {report.database}", title_justify="left")
    for column in ("table", "result", "objects", "columns", "new columns", "partitions"):
        table.add_column(column, justify="right" if column in {"objects", "partitions"} else "left")
    style = {"created": "green", "updated": "yellow", "unchanged": "dim", "empty": "dim"}
    for result in report.tables:
        partitions = str(result.partitions or "-")
        if result.partitions_added:
            partitions += f" (+{result.partitions_added})"
        table.add_row(
            result.table,
            f"[{style.get(result.action, '')}]{result.action}[/]",
            str(result.objects),
            str(len(result.columns)) if result.columns else "-",
            ", ".join(result.columns_added) or "-",
            partitions,
        )
    return table


def _crawl_aws(state: CliState, timeout: float, as_json: bool = False) -> None:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from datalake_cfn.aws_catalog import AwsConnection, CrawlerError, register_missing_tables, run_cloud_crawler

    names = state.names
    connection = AwsConnection(state.config, names)
    glue = connection.client("glue")
    talk = err_console if as_json else console  # with --json, stdout carries the JSON only
    with talk.status("registering tables that are not in the catalog yet..."):
        created = register_missing_tables(connection)
    for result in created:
        talk.print(f"registered {result.table} ({len(result.columns)} columns, from {result.objects} object(s))")
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=talk)
    with progress:
        task = progress.add_task(f"crawler {names.crawler}: starting", total=None)

        def on_state(crawler_state: str, elapsed: float) -> None:
            progress.update(task, description=f"crawler {names.crawler}: {crawler_state.lower()}")

        try:
            result = run_cloud_crawler(glue, names.crawler, timeout_seconds=timeout, on_state=on_state)
        except CrawlerError as exc:
            raise UserError(str(exc)) from None
    if as_json:
        from dataclasses import asdict

        print_json({"registered": [asdict(r) for r in created], "crawler": asdict(result)})
        return
    summary = f"crawler {result.crawler}: {result.status.lower()} in {result.seconds:.0f} s"
    if result.tables_created is not None:
        summary += (
            f"; tables created {result.tables_created}, updated {result.tables_updated}, "
            f"deleted {result.tables_deleted}"
        )
    console.print(summary)


# -- query ------------------------------------------------------------------------------------------
def query(
    ctx: typer.Context,
    sql: str = typer.Argument(..., help='The SQL, e.g. "select count(*) from curated_sales".'),
    output: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
    aws: bool = typer.Option(False, "--aws", help="Run in the deployed lake's Athena workgroup."),
    max_rows: int = typer.Option(100, help="With --format table: rows to show."),
) -> None:
    """Run SQL over the catalogued tables: DuckDB on the local lake, Athena with --aws."""
    from datalake_cfn.local.query import (
        QueryError,
        athena_output_location,
        run_athena_query,
        run_query,
        to_csv,
        to_json,
    )

    state: CliState = ctx.obj
    if output not in FORMATS:
        raise UserError(f"unknown format {output!r}; use one of: {', '.join(FORMATS)}")
    if not sql.strip():
        raise UserError('empty SQL: pass a statement, e.g. datalake query "select count(*) from curated_sales"')
    try:
        if aws:
            user_id = _aws_client(state, "sts").get_caller_identity()["UserId"]
            with console.status("running in Athena..."):
                result = run_athena_query(
                    _aws_client(state, "athena"),
                    state.names,
                    sql,
                    output_location=athena_output_location(state.names, user_id),
                )
        else:
            from datalake_cfn.cli.authz import Authorizer

            connection = connect(state)
            authorizer = Authorizer(state, connection)
            if authorizer.enforced and DIRECT_READ.search(sql):
                raise UserError(
                    f"with --as, a query reads only catalogued tables (found {DIRECT_READ.search(sql).group(0)!r}): "
                    "name the table instead, e.g. select * from curated_sales"
                )
            result = run_query(
                connection,
                state.config,
                connection.names,
                sql,
                authorize=authorizer.table_check(),
                on_warning=lambda message: err_console.print(f"warning: {message}", markup=False, highlight=False),
            )
    except QueryError as exc:
        raise UserError(str(exc)) from None
    if output == "csv":
        typer.echo(to_csv(result), nl=False)
    elif output == "json":
        typer.echo(to_json(result))
    else:
        console.print(arrow_table(result, max_rows=max_rows))


def arrow_table(result: pa.Table, title: str | None = None, max_rows: int = 100) -> Table:
    """An Arrow table as a Rich table (numbers right-aligned, nulls dimmed)."""
    import pyarrow as pa

    table = Table(title=title, title_justify="left")
    for field in result.schema:
        numeric = pa.types.is_integer(field.type) or pa.types.is_floating(field.type) or pa.types.is_decimal(field.type)
        table.add_column(field.name, justify="right" if numeric else "left")
    for row in result.slice(0, max_rows).to_pylist():
        table.add_row(*("[dim]null[/]" if v is None else str(v) for v in row.values()))
    if result.num_rows > max_rows:
        table.caption = f"{max_rows} of {result.num_rows} rows (use --max-rows or --format csv for all)"
    else:
        table.caption = f"{result.num_rows} row(s)"
    return table


# -- etl ----------------------------------------------------------------------------------------------
@etl_app.command("list")
def etl_list(ctx: typer.Context) -> None:
    """The lake's Glue jobs, what they read and what they write."""
    from datalake_cfn.etl import glue_jobs, glue_script_path

    state: CliState = ctx.obj
    table = Table(title="Glue jobs", title_justify="left")
    for column in ("job", "deployed as", "reads", "writes", "table", "script"):
        table.add_column(column, overflow="fold")
    for spec in glue_jobs(state.config):
        table.add_row(
            spec.job,
            spec.name(state.names),
            spec.source_path(state.names),
            spec.target_path(state.names),
            spec.target_table,
            str(glue_script_path(spec.job)),
        )
    console.print(table)


@etl_app.command("run")
def etl_run(
    ctx: typer.Context,
    job: str = typer.Argument(..., help="The job: a script name in glue_scripts/ (see `datalake etl list`)."),
    reprocess: bool = typer.Option(False, "--reprocess", help="Ignore the bookmark and replace the job's output."),
) -> None:
    """Run a Glue job locally with pyspark against the local lake (same script as on AWS Glue)."""
    from datalake_cfn.local.etl import EtlError, run_job

    state: CliState = ctx.obj
    connection = connect(state)
    _authorize_job(state, connection, job)
    try:
        with console.status(f"running {job} on local Spark (the first start takes ~15 s)..."):
            report = run_job(connection, state.config, connection.names, job, reprocess=reprocess)
    except EtlError as exc:
        raise UserError(str(exc)) from None
    console.print(etl_summary(report))
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)


def _authorize_job(state: CliState, connection: LakeConnection, job: str) -> None:
    """With --as: the persona must read every source object and write the job's output."""
    from datalake_cfn.access.policies import CLASSIFICATION_TAG
    from datalake_cfn.cli.authz import Authorizer
    from datalake_cfn.etl import glue_jobs

    authorizer = Authorizer(state, connection, f"etl job {job} denied")
    spec = next((s for s in glue_jobs(state.config) if s.job == job), None)
    if not authorizer.enforced or spec is None:  # an unknown job is reported by run_job
        return
    authorizer.read_zone(spec.source_zone, [spec.source_prefix])
    authorizer.write(
        connection.names.bucket(spec.target_zone),
        f"{spec.target_prefix}part-00000.parquet",
        request_tags={CLASSIFICATION_TAG: spec.classification},
    )


def etl_summary(report: EtlReport) -> Table:
    table = Table(title=f"job {report.name}", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value")
    table.add_row("new source objects", f"{report.staged_objects} ({report.bookmarked_objects} already processed)")
    table.add_row("rows read / written", f"{report.rows_read} / {report.rows_written}")
    table.add_row("objects written", str(len(report.output_objects)))
    if report.table is not None:
        table.add_row(
            "catalog",
            f"{report.table.table}: {report.table.action}, {report.table.partitions} partition(s)"
            f" (+{report.table.partitions_added})",
        )
    table.add_row("bookmark", "saved" if report.committed else "[red]not committed[/]")
    table.add_row("time", f"{report.seconds:.1f} s")
    return table

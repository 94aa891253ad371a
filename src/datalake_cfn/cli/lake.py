"""Commands of the local lake: init, schema, up, demo, put, ls, status, dlq."""

from __future__ import annotations

import json
import signal
import threading
from importlib import resources
from pathlib import Path

import typer
from rich.table import Table

from datalake_cfn.cli.state import CliState, LakeUnavailable, UserError
from datalake_cfn.config import LakeConfig, json_schema, parse_config
from datalake_cfn.console import console, err_console, human_size
from datalake_cfn.local.connection import LakeConnection, LakeError

dlq_app = typer.Typer(help="The shared dead-letter queue: what failed, and why.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(schema)
    app.command()(up)
    app.command()(demo)
    app.command()(put)
    app.command(name="ls")(list_zone)
    app.command()(status)
    app.add_typer(dlq_app, name="dlq")


# -- helpers ----------------------------------------------------------------------------------
def default_lake_yaml() -> str:
    return resources.files("datalake_cfn.data").joinpath("lake.yaml").read_text(encoding="utf-8")


def demo_config() -> LakeConfig:
    import yaml

    return parse_config(yaml.safe_load(default_lake_yaml()), "datalake/data/lake.yaml")


def connect(state: CliState) -> LakeConnection:
    """The lake started by `datalake up` with the same data directory."""
    return state.connect()


def _zone_name(state: CliState, zone: str | None) -> str:
    names = [z.name for z in state.config.zones]
    if zone is not None and zone not in names:
        raise UserError(f"unknown zone {zone!r}; zones are: {', '.join(names)}")
    return zone or state.config.first_zone.name


# -- commands ---------------------------------------------------------------------------------
def init(
    path: Path = typer.Argument(Path("lake.yaml"), help="Where to write the configuration."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented default lake.yaml (four zones: raw -> staged -> curated, and sandbox)."""
    if path.exists() and not force:
        raise UserError(f"{path} exists; pass --force to overwrite it")
    path.write_text(default_lake_yaml(), encoding="utf-8")
    schema_path = path.parent / "lake.schema.json"
    schema_path.write_text(json.dumps(json_schema(), indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote [bold]{path}[/] and {schema_path} (editor completion); next: [bold]datalake up[/]")


def schema(
    docs: bool = typer.Option(False, "--docs", help="Print the Markdown field reference instead of JSON."),
) -> None:
    """Print the JSON schema of lake.yaml (generated from the model)."""
    if docs:
        from datalake_cfn.config_docs import reference_markdown

        typer.echo(reference_markdown(), nl=False)
    else:
        typer.echo(json.dumps(json_schema(), indent=2))


def up(
    ctx: typer.Context,
    port: int = typer.Option(4566, "--port", help="Port of the emulator on 127.0.0.1 (0: any free port)."),
) -> None:
    """Run the local lake in the foreground until Ctrl-C."""
    from datalake_cfn.local.crawler import register_crawl_listener
    from datalake_cfn.local.lake import LocalLake, running_endpoint

    state: CliState = ctx.obj
    config = state.config
    if running_endpoint(state.data_path):
        raise UserError(f"a lake is already running for {state.data_dir!r} ({running_endpoint(state.data_path)})")
    _check_port_free(port)
    lake = LocalLake(config, port=port, data_dir=state.data_path)
    try:
        lake.start()
    except OSError as exc:
        raise UserError(f"cannot start the emulator on 127.0.0.1:{port}: {exc}; try --port 0") from None
    crawler = register_crawl_listener(lake)  # tables appear and grow as data lands, like the cloud crawler
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    _print_endpoint(lake)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        err_console.print("stopping the lake ...")
        crawler.cancel()
        lake.stop()
        err_console.print("stopped.")


def _check_port_free(port: int) -> None:
    """Fail at once on a busy port (the emulator's server would print an error and hang)."""
    import socket

    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise LakeUnavailable(
                f"port {port} on 127.0.0.1 is in use ({exc.strerror or exc}): stop what listens there, "
                "or pass --port 0 for any free port"
            ) from None


def _print_endpoint(lake) -> None:  # type: ignore[no-untyped-def]
    env = lake.client_environment()
    table = Table(title=f"datalake {lake.names.lake}: local lake running", show_header=True)
    table.add_column("zone")
    table.add_column("bucket")
    table.add_column("queue(s)")
    from datalake_cfn.routing import queue_routes

    routes = queue_routes(lake.config, lake.names)
    for zone in lake.config.zones:
        queues = ", ".join(r.queue_name for r in routes if r.zone.name == zone.name)
        table.add_row(zone.name, lake.names.bucket(zone.name), queues)
    console.print(table)
    console.print(f"endpoint  [bold]{lake.endpoint}[/]   (DLQ: {lake.names.dlq})")
    console.print("use it from any AWS client:")
    for key, value in env.items():
        console.print(f"  export {key}={value}")
    first = lake.config.datasets[0].name if lake.config.datasets else "<dataset>"
    console.print(
        f"  aws --endpoint-url {lake.endpoint} s3 cp data.csv "
        f"s3://{lake.names.bucket(lake.config.first_zone.name)}/{first}/data.csv"
    )
    console.print("Ctrl-C stops the lake.")


def put(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="CSV files to upload into the landing zone."),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Dataset (default: the file's folder name)."),
    zone: str | None = typer.Option(None, "--zone", "-z", help="Zone to upload into (default: the landing zone)."),
) -> None:
    """Upload files into a zone of the running local lake (as `aws s3 cp` would)."""
    from datalake_cfn.access.enforce import check_access

    state: CliState = ctx.obj
    connection = connect(state)
    target = _zone_name(state, zone)
    bucket = connection.names.bucket(target)
    for path in files:
        try:
            key = connection.landing_key(path, dataset)
            check_access(
                state.config,
                connection.names,
                state.persona,
                state.clearance,
                "put",
                bucket,
                key,
                request_tags=connection.upload_tags(key, target) or None,
            )
            connection.put_file(path, zone=target, key=key)
        except LakeError as exc:
            raise UserError(str(exc)) from None
        console.print(f"put s3://{bucket}/{key}")


def list_zone(ctx: typer.Context, zone: str | None = typer.Argument(None, help="Zone (default: every zone).")) -> None:
    """List the objects of a zone, with their classification tag."""
    from datalake_cfn.access.enforce import check_access

    state: CliState = ctx.obj
    connection = connect(state)
    zones = [_zone_name(state, zone)] if zone else [z.name for z in state.config.zones]
    for name in zones:
        bucket = connection.names.bucket(name)
        check_access(state.config, connection.names, state.persona, state.clearance, "ls", bucket)
        console.print(zone_table(connection, name))


def zone_table(connection: LakeConnection, zone: str) -> Table:
    """Objects of a zone with their tag and transform (the operator's view: tags are read as the lake)."""
    objects = connection.list_objects(zone)
    table = Table(title=f"{zone}  (s3://{connection.names.bucket(zone)})", title_justify="left")
    table.add_column("key")
    table.add_column("size", justify="right")
    table.add_column("dataclassification")
    table.add_column("transform")
    for obj in objects:
        tags = connection.object_tags(zone, obj["Key"])
        meta = connection.head(zone, obj["Key"]).get("Metadata", {})
        table.add_row(
            obj["Key"],
            human_size(obj["Size"]),
            tags.get("dataclassification", "[yellow]untagged[/] (steward, pipeline)"),
            meta.get("datalake-transform", "-"),
        )
    if not objects:
        table.add_row("[dim](empty)[/]", "", "", "")
    return table


def status(ctx: typer.Context) -> None:
    """Per zone: objects, queue depth, messages in flight; and the DLQ's depth."""
    state: CliState = ctx.obj
    connection = connect(state)
    console.print(status_table(connection))


def status_table(connection: LakeConnection) -> Table:
    table = Table(title=f"lake {connection.names.lake} at {connection.endpoint}", title_justify="left")
    for column in ("zone", "objects", "queue", "queued", "in flight", "consumer"):
        table.add_column(column, justify="right" if column in {"objects", "queued", "in flight"} else "left")
    for queue in connection.queue_status():
        table.add_row(
            queue.zone,
            str(len(connection.list_objects(queue.zone))),
            queue.queue,
            str(queue.visible),
            str(queue.in_flight),
            "yes" if queue.has_consumer else "catalog",
        )
    depth = connection.dlq_depth()
    table.add_row("[bold]DLQ[/]", "", connection.names.dlq, f"[red]{depth}[/]" if depth else "0", "", "")
    return table


@dlq_app.command("list")
def dlq_list(ctx: typer.Context) -> None:
    """What is in the DLQ, and why it failed."""
    connection = connect(ctx.obj)
    letters = connection.dead_letters()
    table = Table(title=f"{connection.names.dlq}: {len(letters)} message(s)", title_justify="left")
    for column in ("message", "zone", "object(s)", "attempts", "failed at", "reason"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        table.add_row(
            letter.message_id[:8],
            letter.zone or "-",
            "\n".join(letter.keys) or "-",
            letter.attempts,
            letter.failed_at or "-",
            letter.reason,
        )
    console.print(table)


@dlq_app.command("redrive")
def dlq_redrive(
    ctx: typer.Context,
    message: list[str] = typer.Option(None, "--id", help="Only these message ids (prefixes as shown by list)."),
) -> None:
    """Send DLQ messages back to the queue they failed from (after you fixed the cause)."""
    connection = connect(ctx.obj)
    wanted = None
    if message:
        wanted = {m.message_id for m in connection.dead_letters() if any(m.message_id.startswith(p) for p in message)}
        if not wanted:
            raise UserError(f"no DLQ message matches {', '.join(message)}; see `datalake dlq list`")
    try:
        moved = connection.redrive(wanted)
    except LakeError as exc:
        raise UserError(str(exc)) from None
    console.print(f"redrove {moved} message(s)")


def demo(
    ctx: typer.Context,
    timeout: float = typer.Option(180.0, help="Seconds to wait for the data to flow."),
) -> None:
    """Start an embedded lake, drop the sample CSVs into raw, watch them flow, query curated."""
    from datalake_cfn.cli.demo import run_demo

    run_demo(ctx.obj, timeout=timeout)

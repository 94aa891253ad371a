"""Commands of the local lake: init, schema, up, demo, put, ls, status, dlq."""

from __future__ import annotations

import json
import signal
import threading
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from datalake_cfn.cli.state import CliState, LakeUnavailable, UserError
from datalake_cfn.console import console, err_console, human_size, print_json

if TYPE_CHECKING:  # pydantic and the lake's client load with the commands that use them, not with --help
    from datalake_cfn.config import LakeConfig
    from datalake_cfn.local.connection import LakeConnection

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

    from datalake_cfn.config import parse_config

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
    from datalake_cfn.config import json_schema

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
    from datalake_cfn.config import json_schema

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
    state.check_transforms()  # a bad transform fails here, naming its field, not once per object
    if running_endpoint(state.data_path):
        raise UserError(f"a lake is already running for {state.data_dir!r} ({running_endpoint(state.data_path)})")
    _check_port_free(port)
    lake = LocalLake(config, port=port, data_dir=state.data_path)
    # Before start(): it writes endpoint.json, and a Ctrl-C from whoever saw that file must stop the lake cleanly.
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    from datalake_cfn.local.durability import DurabilityError

    try:
        lake.start()
    except DurabilityError as exc:  # the state directory is held by another lake, or cannot be read
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot start the emulator on 127.0.0.1:{port}: {exc}; try --port 0") from None
    crawler = register_crawl_listener(lake)  # tables appear and grow as data lands, like the cloud crawler
    _print_endpoint(lake)
    from datalake_cfn.cli.observe import watch
    from datalake_cfn.local.lake import log_path

    console.print(
        f"consumer logs: {log_path(state.data_path)}  (`datalake logs --follow` in another terminal)",
        highlight=False,
        soft_wrap=True,
    )
    try:
        watch(lake, stop)
    finally:
        err_console.print("stopping the lake ...")
        crawler.cancel()
        lake.stop()
        err_console.print("stopped.")


def _check_port_free(port: int) -> None:
    """Fail at once on a busy port, with what to do, before the lake is built.

    The probe is the emulator process's own (`emulator_process.check_address`), which it runs
    again once started: one test of "free", said here sooner and in the user's terms.
    """
    from datalake_cfn.local.emulator_process import check_address

    if port == 0:
        return
    try:
        check_address("127.0.0.1", port)
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
    # Lines a user copies are printed whole (soft_wrap): a narrow terminal must not break them.
    copyable = {"highlight": False, "soft_wrap": True}
    console.print(f"endpoint  [bold]{lake.endpoint}[/]   (DLQ: {lake.names.dlq})", **copyable)
    console.print("use it from any AWS client (paste these into the other terminal):")
    for key, value in env.items():
        console.print(f"  export {key}={value}", **copyable)
    first = lake.config.datasets[0].name if lake.config.datasets else "<dataset>"
    console.print(
        f"  aws --endpoint-url {lake.endpoint} s3 cp data.csv "
        f"s3://{lake.names.bucket(lake.config.first_zone.name)}/{first}/data.csv",
        **copyable,
    )


def put(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="CSV files to upload into the landing zone."),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Dataset (default: the file's folder name)."),
    zone: str | None = typer.Option(None, "--zone", "-z", help="Zone to upload into (default: the landing zone)."),
) -> None:
    """Upload files into a zone of the running local lake (as `aws s3 cp` would)."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError

    from datalake_cfn.access.enforce import check_access
    from datalake_cfn.local.connection import LakeError

    state: CliState = ctx.obj
    connection = connect(state)
    target = _zone_name(state, zone)
    bucket = connection.names.bucket(target)
    done: list[Path] = []
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
        except (BotoCoreError, S3UploadFailedError) as exc:  # the lake went away midway: say what made it
            raise LakeUnavailable(_put_summary(done, files, path, exc)) from None
        done.append(path)
        console.print(f"put s3://{bucket}/{key}")


def _put_summary(done: list[Path], files: list[Path], failed: Path, exc: Exception) -> str:
    """Which files were uploaded and which were not, when an upload failed on the lake's side."""
    left = files[len(done) :]
    lines = [
        f"upload of {failed} failed: {str(exc).splitlines()[0]}",
        f"uploaded {len(done)} of {len(files)} file(s)" + (": " + ", ".join(map(str, done)) if done else ""),
        f"not uploaded ({len(left)}): " + ", ".join(map(str, left)),
        "is the lake still running? start it with `datalake up`, then put the files not uploaded again",
    ]
    return "\n".join(lines)


def list_zone(
    ctx: typer.Context,
    zone: str | None = typer.Argument(None, help="Zone (default: every zone)."),
    as_json: bool = typer.Option(False, "--json", help="Print the objects as JSON (the table's facts)."),
) -> None:
    """List the objects of a zone, with their classification tag."""
    from datalake_cfn.access.enforce import check_access

    state: CliState = ctx.obj
    connection = connect(state)
    zones = [_zone_name(state, zone)] if zone else [z.name for z in state.config.zones]
    listed = []
    for name in zones:
        bucket = connection.names.bucket(name)
        check_access(state.config, connection.names, state.persona, state.clearance, "ls", bucket)
        listed.append({"zone": name, "bucket": bucket, "objects": zone_objects(connection, name)})
    if as_json:
        print_json({"lake": connection.names.lake, "zones": listed})
        return
    for entry in listed:
        console.print(_objects_table(entry["zone"], entry["bucket"], entry["objects"]))


def zone_objects(connection: LakeConnection, zone: str) -> list[dict[str, object]]:
    """Objects of a zone with their tag and transform (the operator's view: tags are read as the lake)."""
    rows: list[dict[str, object]] = []
    for obj in connection.list_objects(zone):
        tags = connection.object_tags(zone, obj["Key"])
        meta = connection.head(zone, obj["Key"]).get("Metadata", {})
        rows.append(
            {
                "key": obj["Key"],
                "size": obj["Size"],
                "dataclassification": tags.get("dataclassification"),
                "transform": meta.get("datalake-transform"),
            }
        )
    return rows


def zone_table(connection: LakeConnection, zone: str) -> Table:
    """The objects of a zone as a table (see `zone_objects`)."""
    return _objects_table(zone, connection.names.bucket(zone), zone_objects(connection, zone))


def _objects_table(zone: str, bucket: str, objects: list[dict[str, object]]) -> Table:
    table = Table(title=f"{zone}  (s3://{bucket})", title_justify="left")
    table.add_column("key")
    table.add_column("size", justify="right")
    table.add_column("dataclassification")
    table.add_column("transform")
    for obj in objects:
        table.add_row(
            str(obj["key"]),
            human_size(int(obj["size"])),  # type: ignore[call-overload]
            str(obj["dataclassification"] or "[yellow]untagged[/] (steward, pipeline)"),
            str(obj["transform"] or "-"),
        )
    if not objects:
        table.add_row("[dim](empty)[/]", "", "", "")
    return table


def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON (the table's facts)."),
) -> None:
    """Per zone: objects, queue depth, messages in flight; and the DLQ's depth."""
    state: CliState = ctx.obj
    connection = connect(state)
    if as_json:
        print_json(status_facts(connection))
        return
    console.print(status_table(connection))
    for undeclared in connection.undeclared():  # picked up, but nobody declared them (issue 14)
        console.print(f"[yellow]{undeclared.zone}:[/] {escape(undeclared.describe())}", highlight=False)


def status_facts(connection: LakeConnection) -> dict[str, object]:
    """Per zone its object count once and its queues; the DLQ's depth."""
    queues = connection.queue_status()
    zones = []
    for zone in connection.config.zones:
        zone_queues = [
            {"queue": q.queue, "queued": q.visible, "in_flight": q.in_flight, "consumer": q.has_consumer}
            for q in queues
            if q.zone == zone.name
        ]
        zones.append({"zone": zone.name, "objects": len(connection.list_objects(zone.name)), "queues": zone_queues})
    return {
        "lake": connection.names.lake,
        "endpoint": connection.endpoint,
        "zones": zones,
        "dlq": {"queue": connection.names.dlq, "depth": connection.dlq_depth()},
        "undeclared": [
            {"zone": u.zone, "dataset": u.name, "prefix": u.prefix, "keys": u.keys, "hint": u.hint()}
            for u in connection.undeclared()
        ],
    }


def status_table(connection: LakeConnection) -> Table:
    """`status_facts` as a table: a zone's object count on its first row only."""
    facts = status_facts(connection)
    table = Table(title=f"lake {facts['lake']} at {facts['endpoint']}", title_justify="left")
    for column in ("zone", "objects", "queue", "queued", "in flight", "consumer"):
        table.add_column(column, justify="right" if column in {"objects", "queued", "in flight"} else "left")
    for zone in facts["zones"]:  # type: ignore[attr-defined]
        queues = zone["queues"] or [None]
        for index, queue in enumerate(queues):
            first = index == 0
            table.add_row(
                zone["zone"] if first else "",
                str(zone["objects"]) if first else "",
                queue["queue"] if queue else "-",
                str(queue["queued"]) if queue else "",
                str(queue["in_flight"]) if queue else "",
                ("yes" if queue["consumer"] else "catalog") if queue else "",
            )
    depth = facts["dlq"]["depth"]  # type: ignore[index]
    table.add_row("[bold]DLQ[/]", "", facts["dlq"]["queue"], f"[red]{depth}[/]" if depth else "0", "", "")  # type: ignore[index]
    return table


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the messages as JSON (the table's facts)."),
) -> None:
    """What is in the DLQ, and why it failed."""
    connection = connect(ctx.obj)
    letters = connection.dead_letters()
    if as_json:
        print_json(
            {
                "dlq": connection.names.dlq,
                "messages": [
                    {
                        "message_id": letter.message_id,
                        "zone": letter.zone or None,
                        "keys": list(letter.keys),
                        "attempts": letter.attempts,
                        "failed_at": letter.failed_at or None,
                        "reason": letter.reason,
                        "resolved": letter.resolved,
                    }
                    for letter in letters
                ],
            }
        )
        return
    table = Table(title=f"{connection.names.dlq}: {len(letters)} message(s)", title_justify="left")
    for column in ("message", "zone", "object(s)", "attempts", "failed at", "reason"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        table.add_row(
            letter.message_id[:8] + ("\n[green]resolved[/]" if letter.resolved else ""),
            letter.zone or "-",
            "\n".join(letter.keys) or "-",
            letter.attempts,
            letter.failed_at or "-",
            letter.reason,
        )
    console.print(table)
    if any(letter.resolved for letter in letters):
        console.print("resolved: processed since it failed; `datalake dlq purge --resolved` removes those entries")


@dlq_app.command("purge")
def dlq_purge(
    ctx: typer.Context,
    resolved: bool = typer.Option(False, "--resolved", help="Only the entries whose objects were processed since."),
) -> None:
    """Delete every DLQ message (or only the resolved ones)."""
    connection = connect(ctx.obj)
    deleted = connection.delete_dead_letters(resolved_only=resolved)
    console.print(f"deleted {deleted} {'resolved ' if resolved else ''}message(s) from {connection.names.dlq}")


@dlq_app.command("delete")
def dlq_delete(
    ctx: typer.Context,
    message: list[str] = typer.Argument(..., metavar="ID...", help="Message ids (prefixes as shown by list)."),
) -> None:
    """Delete these DLQ messages (after you dealt with them another way)."""
    connection = connect(ctx.obj)
    letters = connection.dead_letters(resolve=False)
    wanted = {m.message_id for m in letters if any(m.message_id.startswith(p) for p in message)}
    if not wanted:
        raise UserError(f"no DLQ message matches {', '.join(message)}; see `datalake dlq list`")
    deleted = connection.delete_dead_letters(wanted)
    console.print(f"deleted {deleted} message(s) from {connection.names.dlq}")


@dlq_app.command("redrive")
def dlq_redrive(
    ctx: typer.Context,
    message: list[str] = typer.Option(None, "--id", help="Only these message ids (prefixes as shown by list)."),
) -> None:
    """Send DLQ messages back to the queue they failed from (after you fixed the cause)."""
    from datalake_cfn.local.connection import LakeError

    connection = connect(ctx.obj)
    wanted = None
    if message:
        letters = connection.dead_letters(resolve=False)
        wanted = {m.message_id for m in letters if any(m.message_id.startswith(p) for p in message)}
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

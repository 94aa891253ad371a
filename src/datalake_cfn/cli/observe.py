"""Seeing what the local lake does: the live view of `datalake up`, `datalake logs`, `datalake lineage`.

The lineage comes from the metadata the consumer writes on every output (`datalake-source-bucket`,
`-source-key`, `-source-version`, `-source-etag`, `-dataset`, `-transform`, `-transform-version`;
see lambda_src/zone_consumer/pipeline.py), so it is the same on AWS and locally: back from an
object through its sources to the landing zone, and forward to every object made from it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import typer
from rich.live import Live
from rich.table import Table
from rich.tree import Tree

from datalake_cfn.cli.state import CliState, LakeUnavailable, UserError
from datalake_cfn.console import console, print_json

if TYPE_CHECKING:
    from datalake_cfn.cli.authz import Authorizer
    from datalake_cfn.local.connection import LakeConnection
    from datalake_cfn.local.lake import LocalLake, ZoneFlow

META = "datalake-"  # zone_consumer.pipeline.META_PREFIX (lambda_src is not imported for one constant)


def register(app: typer.Typer) -> None:
    app.command()(logs)
    app.command()(lineage)


# -- the live view of `datalake up` -------------------------------------------------------------------
def flow_table(flows: list[ZoneFlow], dlq_depth: int | None) -> Table:
    """Per zone: processed, retried, failed (sent to the DLQ), queued; and the DLQ's depth."""
    table = Table(title="flow since start (Ctrl-C stops the lake)", title_justify="left")
    for column in ("zone", "processed", "retried", "failed", "queued"):
        table.add_column(column, justify="left" if column == "zone" else "right")
    for flow in flows:
        failed = f"[red]{flow.failed}[/]" if flow.failed else "0"
        table.add_row(flow.zone, str(flow.processed), str(flow.retried), failed, str(flow.queued))
    table.caption = "DLQ: emulator not answering" if dlq_depth is None else f"DLQ: {dlq_depth} message(s)"
    return table


def flow_line(flows: list[ZoneFlow], dlq_depth: int | None) -> str:
    """The live view as one line, for output that is not a terminal (printed when it changes)."""
    zones = "; ".join(f"{f.zone} processed {f.processed} failed {f.failed} queued {f.queued}" for f in flows)
    return f"flow: {zones}; DLQ {'?' if dlq_depth is None else dlq_depth}"


def _snapshot(lake: LocalLake) -> tuple[list[ZoneFlow], int | None]:
    try:
        return lake.flow(), lake.connection.dlq_depth()
    except Exception:  # the emulator is stopping or busy: show the last counts, never die
        return [], None


def watch(lake: LocalLake, stop: threading.Event, interval: float = 0.5) -> None:
    """Until `stop`: a live table on a terminal, else one line whenever the counts change.

    It ends with LakeUnavailable (exit status 4) if the emulator's process dies under the lake:
    every request would fail from then on, and a live view of stale counts would hide that.
    """
    if console.is_terminal:
        with Live(flow_table(*_snapshot(lake)), console=console, refresh_per_second=4) as live:
            while not stop.wait(interval):
                check_emulator(lake)
                flows, depth = _snapshot(lake)
                if flows:
                    live.update(flow_table(flows, depth))
        return
    last = ""
    while not stop.wait(interval * 2):
        check_emulator(lake)
        flows, depth = _snapshot(lake)
        line = flow_line(flows, depth) if flows else last
        if line != last:
            console.print(line, highlight=False, soft_wrap=True)
            last = line


def check_emulator(lake: LocalLake, wait: float = 0.0) -> None:
    """LakeUnavailable (exit status 4) if the lake's emulator process has died, saying how and where its log is.

    `wait` is for a caller whose request was just refused: see EmulatorProcess.death_notice.
    """
    notice = lake.emulator.death_notice(wait)
    if notice is not None:
        raise LakeUnavailable(
            f"{notice}. The lake stops; `datalake up` starts it again"
            + (" and restores its state" if lake.data_dir is not None else "")
        )


# -- logs ---------------------------------------------------------------------------------------------
def logs(
    ctx: typer.Context,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until Ctrl-C."),
    lines: int = typer.Option(20, "--lines", "-n", min=0, help="How many of the last lines to print first."),
) -> None:
    """The consumers' log of the local lake (JSON lines, as in CloudWatch), from the data directory."""
    from datalake_cfn.local.lake import log_path

    state: CliState = ctx.obj
    path = log_path(state.data_path)
    if not path.exists() and not follow:
        raise UserError(
            f"no log yet at {path}: `datalake up` writes it there (with --data {state.data_dir}); "
            "pass --follow to wait for it"
        )
    if path.exists():
        for line in _last_lines(path, lines):
            typer.echo(line)
    if follow:
        try:
            _follow(path)
        except KeyboardInterrupt:
            return


def _last_lines(path: Path, count: int) -> list[str]:
    if count == 0:
        return []
    with path.open("r", encoding="utf-8", errors="replace") as stream:
        return [line.rstrip("\n") for line in stream.readlines()[-count:]]


def _follow(path: Path, interval: float = 0.5) -> None:
    """Print what is appended to `path`; start over when it is truncated or replaced."""
    position = path.stat().st_size if path.exists() else 0
    while True:
        if path.exists():
            size = path.stat().st_size
            if size < position:  # a new lake started over with an empty file
                position = 0
            if size > position:
                with path.open("r", encoding="utf-8", errors="replace") as stream:
                    stream.seek(position)
                    chunk = stream.read()
                    position = stream.tell()
                typer.echo(chunk, nl=False)
        time.sleep(interval)


# -- lineage ------------------------------------------------------------------------------------------
def lineage(
    ctx: typer.Context,
    zone: str = typer.Argument(..., help="Zone of the object."),
    key: str = typer.Argument(..., help="Object key, e.g. sales/q1.parquet."),
    as_json: bool = typer.Option(False, "--json", help="Print the chain as JSON."),
) -> None:
    """The object's sources back to the landing zone, and every object made from it, from lineage metadata."""
    from datalake_cfn.cli.authz import Authorizer

    state: CliState = ctx.obj
    config = state.config
    zones = [z.name for z in config.zones]
    if zone not in zones:
        raise UserError(f"unknown zone {zone!r}; zones are: {', '.join(zones)}")
    connection = state.connect()
    tracer = _Tracer(connection, Authorizer(state, connection, "lineage denied"))
    node = tracer.node(zone, key)
    if node is None:
        bucket = connection.names.bucket(zone)
        raise UserError(f"no object s3://{bucket}/{key}; list the zone with `datalake ls {zone}`")
    sources = tracer.sources(node)
    outputs = tracer.outputs(node, depth=len(zones))
    if as_json:
        print_json({"object": node, "sources": sources, "outputs": outputs})
        return
    console.print(lineage_tree(node, sources, outputs))


class _Tracer:
    """Walks lineage metadata with the operator's client; with --as, each object shown is authorized."""

    def __init__(self, connection: LakeConnection, authorizer: Authorizer):
        self.connection = connection
        self.authorizer = authorizer
        self.names = connection.names

    def node(self, zone: str, key: str) -> dict[str, Any] | None:
        """What the object's metadata says (None when it does not exist)."""
        from botocore.exceptions import ClientError

        bucket = self.names.bucket(zone)
        self.authorizer.read(bucket, key)
        try:
            head = self.connection.head(zone, key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return _describe(zone, bucket, key, head)

    def sources(self, node: dict[str, Any]) -> list[dict[str, Any]]:
        """The chain of sources, nearest first, ending in the landing zone (or where metadata stops)."""
        chain: list[dict[str, Any]] = []
        current = node
        for _ in range(len(self.connection.config.zones) + 1):
            source = current.get("source")
            if not source:
                break
            zone = self.names.zone_of_bucket(source["bucket"])
            found = self.node(zone, source["key"]) if zone else None
            if found is None:  # outside the lake, or deleted since
                chain.append({"zone": zone, "bucket": source["bucket"], "key": source["key"], "missing": True})
                break
            chain.append(found)
            current = found
        return chain

    def outputs(self, node: dict[str, Any], depth: int) -> list[dict[str, Any]]:
        """Objects of the next zone whose metadata names `node` as their source, with their own outputs."""
        next_zone = self.connection.config.zone(node["zone"]).next
        if next_zone is None or depth <= 0:
            return []
        found = []
        for obj in self.connection.list_objects(next_zone):
            meta = self.connection.head(next_zone, obj["Key"]).get("Metadata", {})
            if meta.get(f"{META}source-bucket") == node["bucket"] and _source_key(meta) == node["key"]:
                child = self.node(next_zone, obj["Key"])
                if child is not None:
                    child["outputs"] = self.outputs(child, depth - 1)
                    found.append(child)
        return found


def _source_key(meta: dict[str, str]) -> str | None:
    value = meta.get(f"{META}source-key")
    return unquote(value) if value is not None else None


def _describe(zone: str, bucket: str, key: str, head: dict[str, Any]) -> dict[str, Any]:
    meta = head.get("Metadata", {})
    source = None
    if f"{META}source-bucket" in meta:
        source = {
            "bucket": meta[f"{META}source-bucket"],
            "key": _source_key(meta),
            "version": meta.get(f"{META}source-version"),
            "etag": meta.get(f"{META}source-etag"),
        }
    transform = meta.get(f"{META}transform")
    return {
        "zone": zone,
        "bucket": bucket,
        "key": key,
        "size": head.get("ContentLength"),
        "etag": str(head.get("ETag", "")).strip('"') or None,
        "dataset": meta.get(f"{META}dataset"),
        "transform": unquote(transform) if transform else None,
        "transform_version": meta.get(f"{META}transform-version"),
        "source": source,
    }


def _label(node: dict[str, Any], this: bool = False) -> str:
    where = f"[bold]{node.get('zone') or '?'}[/]  s3://{node['bucket']}/{node['key']}"
    if node.get("missing"):
        return f"{where}  [yellow](not in the lake any more)[/]"
    made = f"  by {node['transform']} v{node['transform_version']}" if node.get("transform") else "  (landed)"
    return where + made + ("  [bold cyan]<- this object[/]" if this else "")


def lineage_tree(node: dict[str, Any], sources: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> Tree:
    """Oldest source at the root, down to the object, then everything made from it."""
    chain = [*reversed(sources), node]
    tree = Tree(_label(chain[0], this=len(chain) == 1), guide_style="dim")
    branch = tree
    for item in chain[1:]:
        branch = branch.add(_label(item, this=item is node))

    def add_outputs(parent: Tree, children: list[dict[str, Any]]) -> None:
        for child in children:
            add_outputs(parent.add(_label(child)), child.get("outputs", []))

    add_outputs(branch, outputs)
    return tree

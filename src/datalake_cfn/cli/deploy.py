"""`datalake deploy prod|security` and `datalake plan [prod|security]`: the remote-update commands.

The logic lives in :mod:`datalake_cfn.deploy`; this module parses options and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from datalake_cfn.cli.state import CliState, UserError
from datalake_cfn.console import console, err_console, print_json

STACKS = ("prod", "security")


def register(app: typer.Typer) -> None:
    app.command()(deploy)
    app.command()(plan)


def _error(exc: Any) -> UserError:
    error = UserError(str(exc))
    error.exit_code = exc.exit_code
    return error


def _stack(value: str) -> str:
    if value not in STACKS:
        raise typer.BadParameter(f"{value!r}: use prod or security")
    return value


def deploy(
    stack: str = typer.Argument(..., metavar="STACK", help="prod or security.", callback=_stack),
    version: str | None = typer.Option(None, "--version", metavar="V", help="Published version (default: latest)."),
    profile: str | None = typer.Option(None, "--profile", metavar="P", help="AWS profile."),
    region: str | None = typer.Option(None, "--region", metavar="R", help="Region (default: the first published)."),
    allow_replacement: bool = typer.Option(
        False, "--allow-replacement", help="Execute even if protected resources are replaced or removed."
    ),
    parameter: list[str] = typer.Option(
        [], "--parameter", metavar="K=V", help="A parameter value (repeatable); others keep their values."
    ),
    manifest: Path = typer.Option(
        Path("out/manifest.json"), "--manifest", metavar="FILE", help="The publisher's manifest."
    ),
    endpoint_url: str | None = typer.Option(
        None, "--endpoint-url", metavar="URL", help="An emulator (default: $AWS_ENDPOINT_URL, else AWS)."
    ),
) -> None:
    """Create or update a stack from its published template URL, through a reviewed change set."""
    import boto3

    from datalake_cfn import deploy as lib
    from datalake_cfn.publish import endpoint_from

    try:
        tgt = lib.target(lib.load_manifest(manifest), stack, version, region)
        given = lib.parse_assignments(parameter)
        session = boto3.Session(profile_name=profile) if profile else boto3.Session()
        console.print(
            f"deploying {tgt.stack_name} version {tgt.version} in {tgt.region} from {tgt.url}", soft_wrap=True
        )
        with err_console.status("") as status:
            reporter = lib.Reporter(
                changes=_print_changes,
                event=_print_event,
                status=lambda text: status.update(text),
                outputs=_print_outputs,
            )
            lib.deploy(session, tgt, given, allow_replacement, reporter, endpoint_from(endpoint_url))
    except lib.DeployError as exc:
        raise _error(exc) from None


def _print_changes(rows: list[dict[str, str]]) -> None:
    table = Table(title="change set")
    for column in ("action", "logical id", "type", "replacement", "why"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["action"], row["logical_id"], row["type"], row["replacement"], row["reason"])
    console.print(table)


def _print_event(event: dict[str, Any]) -> None:
    reason = f"  {event['ResourceStatusReason']}" if event.get("ResourceStatusReason") else ""
    console.print(
        f"{event['Timestamp']:%H:%M:%S}  {event['ResourceStatus']:<20} {event['LogicalResourceId']}"
        f" ({event.get('ResourceType', '')}){reason}",
        soft_wrap=True,
        highlight=False,
    )


def _print_outputs(outputs: list[dict[str, str]]) -> None:
    if not outputs:
        console.print("outputs: none reported")
        return
    table = Table(title="outputs")
    table.add_column("output")
    table.add_column("value", overflow="fold")
    for output in sorted(outputs, key=lambda o: o["OutputKey"]):
        table.add_row(output["OutputKey"], output.get("OutputValue", ""))
    console.print(table)


def plan(
    ctx: typer.Context,
    stack: str | None = typer.Argument(None, metavar="[STACK]", help="prod or security (default: both)."),
    against: str | None = typer.Option(None, "--against", metavar="V", help="Published version (default: latest)."),
    zones: int | None = typer.Option(None, "--zones", metavar="N", help="Render with N zones, as build.py does."),
    manifest: Path = typer.Option(
        Path("out/manifest.json"), "--manifest", metavar="FILE", help="The publisher's manifest."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
) -> None:
    """Offline: what deploying a fresh render over a published version would add, modify and replace."""
    from datalake_cfn import builder
    from datalake_cfn import deploy as lib
    from datalake_cfn.publish import read_manifest

    if stack is not None:
        _stack(stack)
    state: CliState = ctx.obj
    explicit = state.config_path != "lake.yaml" or Path("lake.yaml").is_file()
    config, source = builder.resolve_config(state.config_path if explicit else None, zones)
    rendered = builder.render_checked(config, source)
    published = read_manifest(manifest)
    if manifest.is_file() and published is None:
        raise UserError(f"{manifest} is not a publisher manifest")
    if published is not None:
        published["_dir"] = str(manifest.parent)
    result: dict[str, Any] = {}
    destructive = 0
    for name in [stack] if stack else list(STACKS):
        try:
            old, what = lib.published_template(published, name, against, builder.GOLDEN_DIR)
        except lib.DeployError as exc:
            raise _error(exc) from None
        found = lib.plan_rows(old, rendered[name].template)
        counts = {a: sum(c.action == a for c in found) for a in ("add", "modify", "replace", "remove")}
        destructive += counts["replace"] + counts["remove"]
        result[name] = {
            "against": what,
            "counts": counts,
            "changes": [
                {
                    "action": c.action,
                    "logical_id": c.logical_id,
                    "type": c.resource_type,
                    "reason": c.reason,
                    "protected": c.destructive,
                }
                for c in found
            ],
        }
    if as_json:
        print_json({"source": source, "stacks": result, "replacements": destructive})
    else:
        for name, entry in result.items():
            _print_plan(name, entry)
    if destructive:
        raise typer.Exit(1)


def _print_plan(name: str, entry: dict[str, Any]) -> None:
    table = Table(title=f"{name}: a fresh render against {entry['against']}")
    for column in ("action", "logical id", "type", "why"):
        table.add_column(column, overflow="fold")
    for change in entry["changes"]:
        action = change["action"] + (" (protected)" if change["protected"] else "")
        table.add_row(action, change["logical_id"], change["type"], change["reason"])
    if entry["changes"]:
        console.print(table)
    c = entry["counts"]
    console.print(
        f"{name}: {c['add']} to add, {c['modify']} to modify, {c['replace']} to replace, {c['remove']} to remove"
        + ("" if c["replace"] + c["remove"] else " (updates in place)"),
        highlight=False,
    )

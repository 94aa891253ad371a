"""Commands about who may do what: `datalake access` (the matrix) and `datalake get` (a read as a persona)."""

from __future__ import annotations

from pathlib import Path

import typer

from datalake_cfn.cli.state import CliState, UserError
from datalake_cfn.console import console, err_console, print_json


def register(app: typer.Typer) -> None:
    app.command()(access)
    app.command()(get)


def _session_clearances(state: CliState, values: list[str]) -> dict[str, str]:
    """`--session analyst=public` options (and the global `--as P --clearance L`) -> persona -> level."""
    config = state.config
    out: dict[str, str] = {}
    if state.clearance is not None and state.persona is None:
        raise UserError("--clearance sets the session clearance of --as <persona>; pass --as too")
    if state.clearance is not None and state.clearance not in config.classification:
        raise UserError(f"unknown clearance {state.clearance!r}; use one of {', '.join(config.classification)}")
    if state.persona and state.clearance:
        out[state.persona] = state.clearance
    for value in values:
        persona, sep, level = value.partition("=")
        if not sep or persona not in dict(config.personas.items()) or level not in config.classification:
            raise UserError(
                f"--session {value!r}: write it as persona=level, e.g. analyst={config.classification[0]} "
                f"(levels: {', '.join(config.classification)})"
            )
        out[persona] = level
    return out


def access(
    ctx: typer.Context,
    templates: bool = typer.Option(
        False,
        "--templates",
        help="Evaluate the rendered CloudFormation templates instead of the generated policies.",
    ),
    templates_dir: Path | None = typer.Option(
        None,
        "--templates-dir",
        metavar="DIR",
        help="Read the templates `python build.py --out DIR` wrote (default: render them now).",
    ),
    session: list[str] = typer.Option(
        [], "--session", help="Session clearance tag for a persona, e.g. --session analyst=public (repeatable)."
    ),
    without_tls: bool = typer.Option(False, "--without-tls", help="Evaluate every request as plain HTTP."),
    picture: Path | None = typer.Option(
        None,
        "--picture",
        "-o",
        metavar="FILE",
        help="Also write a picture there: a .png heat map or an .html page (default: none).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the matrix as JSON (the table's facts)."),
) -> None:
    """The access matrix persona x zone x classification x action, computed by evaluating the policies."""
    from datalake_cfn.access import render
    from datalake_cfn.access.matrix import AccessSetupError, compute_matrix, local_policy_set, template_policy_set
    from datalake_cfn.access.spec import expected_matrix

    state: CliState = ctx.obj
    config = state.config
    clearances = _session_clearances(state, session)
    if picture is not None and picture.suffix.lower() not in (".png", ".html", ".htm"):
        raise UserError(f"--picture {picture}: use a .png (heat map) or .html (page) file name")
    try:
        if templates or templates_dir:
            policies = template_policy_set(config, _templates(config, templates_dir))
        else:
            policies = local_policy_set(config)
        personas = [state.persona] if state.persona else [name for name, _ in config.personas.items()]
        matrix = compute_matrix(policies, personas=personas, clearances=clearances, secure_transport=not without_tls)
    except AccessSetupError as exc:
        raise UserError(str(exc)) from None
    expected = {
        key: value
        for key, value in expected_matrix(config, clearances=clearances, secure_transport=not without_tls).items()
        if key[0] in personas
    }
    wrong = matrix.mismatches(expected)
    path = render.write_picture(matrix, picture, expected) if picture is not None else None
    if as_json:
        print_json(render.matrix_facts(matrix, expected, picture=path))
        if wrong:
            raise typer.Exit(code=1)
        return
    console.print(render.rich_table(matrix, expected))
    if wrong:
        console.print(f"[bold red]{len(wrong)} of {len(expected)} cells differ from the design table (spec):[/]")
        for (persona, zone, level, action), _expected, decision in wrong[:20]:
            verdict = "allowed" if decision.allowed else "denied"
            console.print(
                f"  {persona} {action} {zone}/{level or 'untagged'}: {verdict}, expected the opposite "
                f"({decision.explain()})",
                highlight=False,
            )
    else:
        console.print(f"[green]all {len(expected)} cells match the design table (spec)[/]")
    if path is not None:
        console.print(f"picture: {path}", highlight=False, soft_wrap=True)
    if wrong:
        raise typer.Exit(code=1)  # a check found a problem: the policies break the design table


def _templates(config, templates_dir: Path | None) -> dict:  # type: ignore[no-untyped-def]
    from datalake_cfn.access.templates import load_templates, render_templates

    if templates_dir is not None:
        return load_templates(templates_dir, config)
    return render_templates(config)


def get(
    ctx: typer.Context,
    zone: str = typer.Argument(..., help="Zone of the object."),
    key: str = typer.Argument(..., help="Object key, e.g. sales/q1.parquet."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Where to write it (default: the key's file name here; '-' for stdout)."
    ),
) -> None:
    """Download an object from the running local lake; with --as, only if that persona may read it."""
    from botocore.exceptions import ClientError

    from datalake_cfn.access.enforce import check_access
    from datalake_cfn.cli.lake import connect

    state: CliState = ctx.obj
    config = state.config
    if zone not in {z.name for z in config.zones}:
        raise UserError(f"unknown zone {zone!r}; zones are: {', '.join(z.name for z in config.zones)}")
    target = None if output is not None and str(output) == "-" else (output or Path(Path(key).name))
    if target is not None and not target.parent.is_dir():
        raise UserError(f"--output {target}: directory {target.parent} does not exist; create it or pick another path")
    connection = connect(state)
    bucket = connection.names.bucket(zone)
    try:
        tags = connection.object_tags(zone, key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            raise UserError(f"no object s3://{bucket}/{key}; list the zone with `datalake ls {zone}`") from None
        raise
    decision = check_access(config, connection.names, state.persona, state.clearance, "read", bucket, key, tags)
    data = connection.get_bytes(zone, key)
    if target is None:
        typer.echo(data.decode("utf-8", errors="replace"), nl=False)
        return
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise UserError(f"cannot write {target}: {exc.strerror or exc}; pass -o with a writable path") from None
    who = f" as {state.persona}" if state.persona else ""
    reason = f" ({decision.explain()})" if decision is not None else ""
    err_console.print(f"got s3://{bucket}/{key}{who} -> {target}{reason}", highlight=False)

"""`datalake verify`: is every object that entered a zone accounted for?"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from datalake_cfn.cli.state import CliState, LakeUnavailable, UserError
from datalake_cfn.console import console, err_console, print_json

if TYPE_CHECKING:
    from datalake_cfn.config import LakeConfig
    from datalake_cfn.reliability.verify import LakeAccess, VerifyReport


VISIBILITY_MARGIN_SECONDS = 15  # a redelivered message is then processed (within a batching window)


def register(app: typer.Typer) -> None:
    app.command()(verify)


def verify(
    ctx: typer.Context,
    zone: str | None = typer.Argument(None, help="Reconcile only this zone with its next (default: every hop)."),
    aws: bool = typer.Option(False, "--aws", help="Verify the deployed lake in AWS instead of the local one."),
    profile: str | None = typer.Option(None, "--profile", help="AWS profile for --aws (default credential chain)."),
    region: str | None = typer.Option(None, "--region", help="AWS region for --aws (default: lake.yaml's)."),
    wait: float | None = typer.Option(
        None,
        "--wait",
        help=(
            "Seconds to wait for the zone queues to drain before reconciling (0: don't wait; default: one "
            "visibility timeout and a little, so messages in flight after a crash are delivered again)."
        ),
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the report as JSON (the tables' facts); same exit status."
    ),
) -> None:
    """Reconcile each zone with the next: every object has its output or a DLQ entry.

    Prints the objects that are unaccounted for and exits with status 1 if there are any.
    """
    from datalake_cfn.reliability.verify import LakeAccess, verify_lake, wait_for_queues

    state: CliState = ctx.obj
    config = state.config
    chained = [z.name for z in config.chained_zones]
    if zone is not None and zone not in chained:
        known = [z.name for z in config.zones]
        if zone in known:
            raise UserError(
                f"zone {zone!r} has no next zone, so nothing to reconcile; use one of: {', '.join(chained)}"
            )
        raise UserError(f"unknown zone {zone!r}; zones with a next zone are: {', '.join(chained)}")
    if aws:
        access = _aws_access(config, profile, region)
        where = f"AWS account {access.names.account} ({access.names.region})"
    else:
        endpoint = state.running_endpoint(aws_hint=True)
        _authorize(state, [zone] if zone else chained)
        access = LakeAccess.local(config, endpoint)
        where = endpoint
    if wait is None:
        wait = access.visibility_seconds + VISIBILITY_MARGIN_SECONDS
    if wait > 0:
        with err_console.status("waiting for the zone queues to drain ..."):
            still = wait_for_queues(config, access, wait)
        if still:
            err_console.print(f"[yellow]{still} message(s) still queued after {wait:.0f}s; reconciling anyway[/]")
    report = verify_lake(config, access, [zone] if zone else None)
    if as_json:
        print_json(report_facts(report, access.names.lake, where))
        if not report.ok:
            raise typer.Exit(code=1)
        return
    console.print(summary_table(report, f"lake {access.names.lake} at {where}"))
    for hop in report.hops:  # processed like the rest, but nobody declared them
        for undeclared in hop.undeclared:
            console.print(f"[yellow]{hop.source_zone}:[/] {escape(undeclared.describe())}", highlight=False)
    if report.ok:
        resolved = f", {report.resolved} of them resolved: processed since" if report.resolved else ""
        console.print(f"[green]every object is accounted for[/] ({report.dead_letters} in the DLQ{resolved})")
        return
    console.print(problems_table(report))
    raise typer.Exit(code=1)


def _authorize(state: CliState, zones: list[str]) -> None:
    """With --as: verify reads each reconciled zone and its next, so the persona must be able to."""
    from datalake_cfn.cli.authz import Authorizer

    authorizer = Authorizer(state, state.connect(aws_hint=True), "verify denied")
    if not authorizer.enforced:
        return
    for name in dict.fromkeys(z for source in zones for z in (source, state.config.zone(source).next) if z):
        authorizer.read_zone(name)


def _aws_access(config: LakeConfig, profile: str | None, region: str | None) -> LakeAccess:
    from botocore.exceptions import BotoCoreError, ClientError

    from datalake_cfn.reliability.verify import LakeAccess

    try:
        return LakeAccess.aws(config, profile=profile, region=region)
    except (BotoCoreError, ClientError) as exc:
        raise LakeUnavailable(f"cannot reach AWS: {exc}; check your credentials or pass --profile") from None


def report_facts(report: VerifyReport, lake: str, where: str) -> dict[str, object]:
    """What `--json` prints: every hop's counts and every problem, as the tables show them."""
    from dataclasses import asdict

    return {
        "lake": lake,
        "where": where,
        "ok": report.ok,
        "dead_letters": report.dead_letters,
        "hops": [asdict(hop) for hop in report.hops],
        "problems": [asdict(problem) for problem in report.problems],
    }


def summary_table(report: VerifyReport, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("hop", "objects", "with output", "in DLQ", "unaccounted", "still queued", "undeclared"):
        table.add_column(column, justify="left" if column == "hop" else "right")
    for hop in report.hops:
        bad = len(hop.problems)
        table.add_row(
            f"{hop.source_zone} -> {hop.target_zone}",
            str(hop.objects),
            str(hop.with_output),
            str(hop.dead_lettered),
            f"[bold red]{bad}[/]" if bad else "0",
            str(hop.queued),
            str(sum(len(u.keys) for u in hop.undeclared)),
        )
    return table


def problems_table(report: VerifyReport) -> Table:
    table = Table(title=f"{len(report.problems)} object(s) unaccounted for", title_justify="left")
    for column in ("zone", "key", "problem", "detail"):
        table.add_column(column, overflow="fold")
    for problem in report.problems:
        table.add_row(problem.zone, problem.key, problem.kind, problem.detail)
    return table

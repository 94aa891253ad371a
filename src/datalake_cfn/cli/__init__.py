"""The `datalake` command.

Each group of commands lives in its own module with a `register(app)` function; heavy
libraries (aws_cdk, duckdb, pyspark) are imported inside the commands that need them, so
`datalake --help` and `datalake put` start fast. User mistakes raise :class:`UserError` or
:class:`ConfigError` and are printed as one clear message, never as a traceback.
"""

from __future__ import annotations

import importlib

import typer

from datalake_cfn.cli.state import CliState, UserError
from datalake_cfn.config import ConfigError
from datalake_cfn.console import err_console

COMMAND_MODULES = (
    "datalake_cfn.cli.lake",
    "datalake_cfn.cli.reliability",
    "datalake_cfn.cli.perf",
    "datalake_cfn.cli.access",
    "datalake_cfn.cli.catalog",
    "datalake_cfn.cli.infra",
)

app = typer.Typer(
    name="datalake",
    help="A secure, zoned, event-driven data lake on AWS that also runs whole on one machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _options(
    ctx: typer.Context,
    config: str = typer.Option("lake.yaml", "--config", "-c", help="The lake's configuration file."),
    data: str = typer.Option(".datalake", "--data", help="Directory of the local lake's state."),
    as_persona: str | None = typer.Option(
        None, "--as", help="Run the command as this persona (steward, engineer, scientist, analyst)."
    ),
    clearance: str | None = typer.Option(None, "--clearance", help="Session clearance tag for --as."),
) -> None:
    ctx.obj = CliState(config_path=config, data_dir=data, persona=as_persona, clearance=clearance)


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def main() -> None:
    """Entry point: run the app, turning user mistakes into one readable message and exit code 2."""
    try:
        app(standalone_mode=False)
    except (UserError, ConfigError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise SystemExit(130) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            raise SystemExit(exc.exit_code) from None
        if isinstance(exc, click.exceptions.Abort):
            raise SystemExit(1) from None
        raise

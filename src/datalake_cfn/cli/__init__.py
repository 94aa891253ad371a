"""The `datalake` command.

Each group of commands lives in its own module with a `register(app)` function; heavy
libraries (duckdb, pyspark) are imported inside the commands that need them, so
`datalake --help` and `datalake put` start fast.

One error path for every command (:func:`main`): a user mistake prints one or a few lines and
exits with a documented status, never a traceback:

    0  success
    1  a check found a problem (verify)
    2  usage or configuration error (:class:`UserError`, :class:`ConfigError`, click's usage errors)
    3  access denied (:class:`~datalake_cfn.access.enforce.AccessDenied`, AWS AccessDenied)
    4  the lake or AWS unreachable or failed (:class:`LakeUnavailable`, botocore errors)

Anything else is a bug of the program: its traceback is shown, with a line asking for a report,
and the status is 70 (EX_SOFTWARE).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import typer
from typer import core as typer_core
from typer._click import exceptions as click_exceptions  # typer bundles its own click (typer pinned)

from datalake_cfn.cli.state import CliState, LakeUnavailable, UserError
from datalake_cfn.console import err_console

COMMAND_MODULES = (
    "datalake_cfn.cli.lake",
    "datalake_cfn.cli.reliability",
    "datalake_cfn.cli.perf",
    "datalake_cfn.cli.access",
    "datalake_cfn.cli.catalog",
    "datalake_cfn.cli.deploy",
    "datalake_cfn.cli.observe",
)

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_DENIED, EXIT_UNAVAILABLE, EXIT_BUG = 0, 1, 2, 3, 4, 70
ISSUES_URL = "https://github.com/datalake-cfn/datalake-cfn/issues"
# Global options also accepted after the subcommand (`datalake query ... --as analyst`).
HOISTED_OPTIONS = ("--as", "--clearance", "--config", "--data")
VALUE_OPTIONS = {*HOISTED_OPTIONS, "-c"}

app = typer.Typer(
    name="datalake",
    help="A secure, zoned, event-driven data lake on AWS that also runs whole on one machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from datalake_cfn import __version__

        typer.echo(f"datalake {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    config: str = typer.Option("lake.yaml", "--config", "-c", metavar="FILE", help="The lake's configuration file."),
    data: str = typer.Option(".datalake", "--data", metavar="DIR", help="Directory of the local lake's state."),
    as_persona: str | None = typer.Option(
        None,
        "--as",
        metavar="PERSONA",
        help="Run the command as this persona (steward, engineer, scientist, analyst); also after the command.",
    ),
    clearance: str | None = typer.Option(
        None, "--clearance", metavar="LEVEL", help="Session clearance tag for --as; also after the command."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    ctx.obj = CliState(config_path=config, data_dir=data, persona=as_persona, clearance=clearance)


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


# -- readable metavars: TEXT, INTEGER, PATH..., no `<bool>` on flags ------------------------------
_LABELS = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN"}


def _readable_type(self: typer_core._TyperParameter, ctx: typer.Context) -> str | None:
    if self.metavar is not None:
        return self.metavar
    if getattr(self, "is_flag", False) or getattr(self, "count", False):
        return None
    label = typer_core._TyperParameter.display_type(self, ctx).strip("<>")
    many = label.startswith("list[") or self.nargs != 1
    label = label.removeprefix("list[").removesuffix("]")
    label = f"[{label}]" if "|" in label else _LABELS.get(label, label.upper())
    return label + ("..." if many else "")


def _usage_name(self: typer_core.TyperArgument) -> str:
    """`FILES...` and `[ZONE]` on the usage line (typer writes `{files}...`)."""
    name = self.metavar or self.name.upper()
    name = name if self.required else f"[{name}]"
    return name + ("..." if self.nargs != 1 else "")


typer_core.TyperOption.display_type_rich = _readable_type  # type: ignore[method-assign]
typer_core.TyperArgument.display_type_rich = _readable_type  # type: ignore[method-assign]
typer_core.TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign]


# -- the one error path ---------------------------------------------------------------------------
def hoist_global_options(args: Sequence[str]) -> list[str]:
    """Move global options written after the subcommand (`ls raw --as analyst`) in front of it.

    Stops at `--` (everything after it is an argument).
    """
    args = list(args)
    front: list[str] = []
    rest: list[str] = []
    seen_command = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        name = arg.split("=", 1)[0]
        takes_value = name in VALUE_OPTIONS and "=" not in arg
        chunk = args[i : i + 2] if takes_value else [arg]
        i += len(chunk)
        if not seen_command:
            seen_command = not arg.startswith("-")
            (rest if seen_command else front).extend(chunk)
        elif name in HOISTED_OPTIONS:
            front += chunk
        else:
            rest += chunk
    return front + rest


def _error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)


def _botocore_status(exc: BaseException) -> tuple[int, str] | None:
    """(status, one-line message) for botocore's errors, or None when `exc` is not one."""
    try:
        from botocore import exceptions as boto
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return None
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return EXIT_UNAVAILABLE, (
            "no AWS credentials found: configure them (aws configure, AWS_PROFILE or the environment), "
            "or drop --aws to use the local lake"
        )
    if isinstance(exc, boto.ProfileNotFound):
        return EXIT_USAGE, f"{exc}; list your profiles with `aws configure list-profiles`"
    if isinstance(exc, boto.EndpointConnectionError | boto.ConnectTimeoutError | boto.ReadTimeoutError):
        return EXIT_UNAVAILABLE, f"cannot reach {getattr(exc, 'kwargs', {}).get('endpoint_url', 'AWS')}: {exc}"
    if isinstance(exc, boto.ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "error")
        op = getattr(exc, "operation_name", "the request")
        text = f"{op} failed: {code}: {error.get('Message', '') or exc}"
        if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
            return EXIT_DENIED, text
        return EXIT_UNAVAILABLE, text
    if isinstance(exc, boto.BotoCoreError):
        return EXIT_UNAVAILABLE, f"AWS request failed: {exc}"
    return None


def run(args: Sequence[str] | None = None) -> int:
    """Run the command line `args` (default: sys.argv[1:]) and return its exit status."""
    args = hoist_global_options(sys.argv[1:] if args is None else args)
    try:
        result = app(args=args, prog_name="datalake", standalone_mode=False)
    except click_exceptions.NoArgsIsHelpError as exc:
        exc.show()
        return EXIT_USAGE
    except click_exceptions.ClickException as exc:
        exc.show()
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        return 130
    except UserError as exc:
        _error(str(exc))
        return exc.exit_code
    except BrokenPipeError:  # `datalake ls | head`
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:
        # Imported here, not at the top: `datalake --help` never loads pydantic or the lake's client.
        from datalake_cfn.config import ConfigError
        from datalake_cfn.local.connection import LakeError

        if isinstance(exc, (ConfigError, LakeError)):
            _error(str(exc))
            return EXIT_USAGE
        status = _botocore_status(exc)
        if status is not None:
            _error(status[1])
            return status[0]
        import traceback

        traceback.print_exc()
        err_console.print(
            f"[bold red]this is a bug of datalake[/], not something you did: please report it with the "
            f"traceback above and the command you ran at {ISSUES_URL}",
            highlight=False,
        )
        return EXIT_BUG
    if isinstance(result, int) and not isinstance(result, bool):
        return result
    return EXIT_OK


def main() -> None:
    """Console entry point."""
    raise SystemExit(run())


__all__ = ["LakeUnavailable", "UserError", "app", "main", "run"]

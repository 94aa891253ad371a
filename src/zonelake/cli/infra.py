"""Commands for the AWS side: synth, diff, deploy.

`synth` builds both CloudFormation templates in-process (cdk-nag's four packs included) and writes
them to cdk.out. `diff` and `deploy` run the AWS CDK CLI the project pins in package.json
(`node_modules/.bin/cdk`, installed by `make install`, never by hand), pointing its `--app` at
`python -m zonelake.infra.app` for the same lake.yaml.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import typer
from rich.table import Table

from zonelake.cli.state import CliState, UserError
from zonelake.console import console, err_console

STACK_CHOICES = ("prod", "security")
DEPLOY_ORDER = ("security", "prod")  # the prod trail needs the audit bucket and key to exist
# jsii prints a banner when Node is past its end of life (the value lists the majors to silence).
JSII_ENV = {
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "16,18,20,22",
}


def register(app: typer.Typer) -> None:
    app.command()(synth)
    app.command()(diff)
    app.command()(deploy)


def _prepare(state: CliState) -> None:
    """Imports of aws_cdk need the jsii warning silenced; user transforms sit next to lake.yaml."""
    os.environ.update(JSII_ENV)
    config_dir = str(Path(state.config_path).resolve().parent)
    if config_dir not in sys.path:
        sys.path.insert(0, config_dir)


def synth(
    ctx: typer.Context,
    out: Path = typer.Option(Path("cdk.out"), "--out", "-o", help="Directory for the cloud assembly."),
) -> None:
    """Write the prod and security CloudFormation templates (checked by cdk-nag) to cdk.out."""
    state: CliState = ctx.obj
    config = state.config
    _prepare(state)
    from zonelake.infra.app import NagFindings
    from zonelake.infra.app import synth as synth_app
    from zonelake.infra.assets import AssetError

    with console.status("Synthesizing the prod and security stacks (cdk-nag: 4 packs)..."):
        try:
            result = synth_app(config, out)
        except NagFindings as exc:
            raise UserError(
                f"{exc}\nFix the resources, or acknowledge a finding on its construct with a reason."
            ) from None
        except (AssetError, ValueError) as exc:
            raise UserError(str(exc)) from None
    _print_templates(result.templates)
    if result.placeholder_accounts:
        err_console.print(
            f"[yellow]note:[/] accounts.{' and accounts.'.join(result.placeholder_accounts)} not set in "
            f"{state.config_path}: the templates use placeholder account ids (see docs/deploy.md); "
            "set them before `zonelake deploy`."
        )


def _print_templates(templates: dict[str, Path]) -> None:
    import json

    table = Table(title="CloudFormation templates")
    table.add_column("stack")
    table.add_column("account")
    table.add_column("region")
    table.add_column("resources", justify="right")
    table.add_column("template")
    for name, path in sorted(templates.items()):
        template = json.loads(path.read_text(encoding="utf-8"))
        env = _stack_env(path.parent, name)
        table.add_row(name, env[0], env[1], str(len(template.get("Resources", {}))), str(path))
    console.print(table)


def _stack_env(outdir: Path, stack: str) -> tuple[str, str]:
    import json

    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    environment = manifest.get("artifacts", {}).get(stack, {}).get("environment", "aws://?/?")
    account, _, region = environment.removeprefix("aws://").partition("/")
    return account, region


def diff(
    ctx: typer.Context,
    stack: str | None = typer.Argument(None, help="prod or security (default: both)."),
    profile: str | None = typer.Option(None, "--profile", help="AWS CLI profile of the target account."),
) -> None:
    """Show what a deploy would change (AWS CDK CLI `cdk diff`)."""
    state: CliState = ctx.obj
    stacks = _stacks(state, stack)
    raise typer.Exit(_run_cdk(state, ["diff", *stacks], profile))


def deploy(
    ctx: typer.Context,
    stack: str | None = typer.Argument(None, help="prod or security (default: security, then prod)."),
    profile: str | None = typer.Option(None, "--profile", help="AWS CLI profile of the target account."),
    approve: bool = typer.Option(
        False, "--yes", help="Do not ask before IAM/security changes (CDK --require-approval never)."
    ),
) -> None:
    """Deploy a stack with the AWS CDK CLI (`cdk deploy`); the account must be bootstrapped."""
    state: CliState = ctx.obj
    stacks = _stacks(state, stack)
    from zonelake.infra.deployment import Deployment

    placeholders = Deployment.for_config(state.config).placeholder_accounts
    if placeholders:
        raise UserError(
            f"accounts.{' and accounts.'.join(placeholders)} not set in {state.config_path}: "
            "set the real 12-digit account ids (quoted) before deploying (see docs/deploy.md)"
        )
    arguments = ["deploy", *stacks, "--require-approval", "never" if approve else "broadening"]
    raise typer.Exit(_run_cdk(state, arguments, profile))


def _stacks(state: CliState, stack: str | None) -> list[str]:
    if stack is not None and stack not in STACK_CHOICES:
        raise UserError(f"unknown stack {stack!r}; use prod or security (or nothing for both)")
    names = state.names
    by_role = {"prod": names.prod_stack, "security": names.security_stack}
    return [by_role[stack]] if stack else [by_role[role] for role in DEPLOY_ORDER]


def cdk_executable() -> Path:
    """The project's pinned AWS CDK CLI: node_modules/.bin/cdk of this project (or of the cwd)."""
    from zonelake.infra.assets import REPO_ROOT

    for root in (Path.cwd(), *Path.cwd().parents, REPO_ROOT):
        candidate = root / "node_modules" / ".bin" / "cdk"
        if candidate.is_file():
            return candidate
    raise UserError(
        "the AWS CDK CLI is not installed: run `make install` in the zonelake project "
        "(it runs `npm install`, which installs the aws-cdk version pinned in package.json)"
    )


def cdk_command(state: CliState, arguments: list[str], profile: str | None) -> tuple[list[str], dict[str, str]]:
    """The `cdk` command line and environment for this lake (exposed for tests)."""
    app = f"{shutil.which(sys.executable) or sys.executable} -m zonelake.infra.app"
    command = [str(cdk_executable()), *arguments, "--app", app, "--output", "cdk.out"]
    if profile:
        command += ["--profile", profile]
    env = {**os.environ, **JSII_ENV, "ZONELAKE_CONFIG": str(Path(state.config_path).resolve())}
    return command, env


def _run_cdk(state: CliState, arguments: list[str], profile: str | None) -> int:
    state.config  # noqa: B018 - a broken lake.yaml is reported before Node starts
    command, env = cdk_command(state, arguments, profile)
    err_console.print(f"[dim]$ {' '.join(command)}[/]", highlight=False)
    try:
        return subprocess.run(command, env=env, check=False).returncode
    except OSError as exc:
        raise UserError(f"could not run the AWS CDK CLI ({exc}); is Node.js installed?") from None

"""The CDK app: exactly two stacks, prod and security, from one LakeConfig.

`build_app` assembles the app (and cdk-nag's four packs); `synth` writes the cloud assembly and
reports findings; `python -m datalake_cfn.infra.app` is the `--app` the AWS CDK CLI runs for
`datalake diff` / `datalake deploy` (it reads the lake.yaml named by `DATALAKE_CONFIG` and writes
into the `CDK_OUTDIR` the CLI gives it).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from datalake_cfn.config import LakeConfig, load_config
from datalake_cfn.infra.deployment import Deployment

if TYPE_CHECKING:
    from aws_cdk import App

    from datalake_cfn.infra.nag import Finding

CONFIG_ENV = "DATALAKE_CONFIG"
FEATURE_FLAGS = {
    # S3 server access logs are authorized by the log bucket's policy, not by an ACL (ACLs are off).
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    # No construct creation stack traces in the metadata: slower synths, and no use to a reader.
    "aws:cdk:disable-stack-trace": True,
    # `aws:cdk:path` on every resource, as the CDK CLI writes it: templates read the same either way.
    "aws:cdk:enable-path-metadata": True,
}


class NagFindings(Exception):
    """cdk-nag found unacknowledged errors or warnings; the message lists them."""

    def __init__(self, findings: list[Finding], report: Path) -> None:
        self.findings = findings
        self.report = report
        lines = [f"cdk-nag: {len(findings)} unacknowledged finding(s) (full report: {report})"]
        lines += [f"  {finding}" for finding in findings[:40]]
        if len(findings) > 40:
            lines.append(f"  ... and {len(findings) - 40} more")
        super().__init__("\n".join(lines))


@dataclass
class SynthResult:
    outdir: Path
    templates: dict[str, Path]  # stack name -> template file
    placeholder_accounts: tuple[str, ...] = ()
    findings: list[Finding] = field(default_factory=list)


def build_app(config: LakeConfig, *, outdir: str | Path | None = None, nag: bool = True) -> App:
    """Both stacks of the lake (and, with `nag`, the four cdk-nag packs) in one CDK app."""
    from aws_cdk import App

    from datalake_cfn.infra.assets import build_consumer_bundle, glue_job_scripts
    from datalake_cfn.infra.nag import acknowledge_expected_wildcards, add_packs
    from datalake_cfn.infra.prod import ProdStack
    from datalake_cfn.infra.security import SecurityStack

    deployment = Deployment.for_config(config)
    app = App(
        outdir=str(outdir) if outdir is not None else None, analytics_reporting=False, context=dict(FEATURE_FLAGS)
    )
    SecurityStack(app, deployment)
    ProdStack(app, deployment, bundle=build_consumer_bundle(config), job_scripts=glue_job_scripts())
    if nag:
        acknowledge_expected_wildcards(app)
        add_packs(app)
    return app


def synth(config: LakeConfig, outdir: str | Path = "cdk.out", *, nag: bool = True) -> SynthResult:
    """Write both templates into `outdir`; raise :class:`NagFindings` if cdk-nag objects."""
    from datalake_cfn.infra import nag as nag_module

    outdir = Path(outdir)
    report = outdir / nag_module.REPORT
    report.unlink(missing_ok=True)  # a stale report would be read as this synth's findings
    app = build_app(config, outdir=outdir, nag=nag)
    try:
        assembly = app.synth()
    except RuntimeError as exc:
        if "ValidationFailed" not in str(exc):
            raise
        raise NagFindings(nag_module.findings(outdir), report) from None
    leftovers = nag_module.findings(outdir)  # warnings alone do not fail the synth
    if leftovers:
        raise NagFindings(leftovers, report)
    deployment = Deployment.for_config(config)
    templates = {stack.stack_name: Path(assembly.directory) / stack.template_file for stack in assembly.stacks}
    return SynthResult(outdir=outdir, templates=templates, placeholder_accounts=deployment.placeholder_accounts)


def main() -> None:
    """Entry point for the AWS CDK CLI's `--app` (see datalake_cfn.cli.infra)."""
    config_path = os.environ.get(CONFIG_ENV, "lake.yaml")
    sys.path.insert(0, str(Path(config_path).resolve().parent))  # user transforms live next to lake.yaml
    app = build_app(load_config(config_path))
    app.synth()


if __name__ == "__main__":
    main()

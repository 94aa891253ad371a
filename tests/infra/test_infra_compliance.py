"""Acceptance 3 and 4: cdk-nag (four packs) and cfn-lint find nothing, and acknowledgements are specific."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from datalake_cfn.infra import nag
from tests.infra.templates import Synthesized

ACKNOWLEDGED = "aws:cdk:acknowledged-rules"


def test_cdk_nag_four_packs_report_no_unacknowledged_finding(any_lake: Synthesized) -> None:
    report = json.loads((any_lake.outdir / nag.REPORT).read_text())  # written by every synth with plugins
    assert report["title"] == "Validation Report"
    assert nag.findings(any_lake.outdir) == []


def test_the_four_packs_are_really_checking(tmp_path: Path) -> None:
    """The same wiring on a deliberately bad bucket fails, once per pack."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3

    app = App(outdir=str(tmp_path))
    s3.Bucket(Stack(app, "Bad"), "Plain")
    nag.add_packs(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    packs = {f.pack for f in nag.findings(tmp_path)}
    assert packs == set(nag.PACKS)


def acknowledgements(lake: Synthesized) -> list[tuple[str, str, str]]:
    """(construct path, rule, reason) of every acknowledgement in both stacks."""
    out = []
    for stack in (lake.names.prod_stack, lake.names.security_stack):
        metadata = json.loads((lake.outdir / f"{stack}.metadata.json").read_text())
        for path, entries in metadata.items():
            for entry in entries:
                if entry["type"] == ACKNOWLEDGED:
                    for rule, reason in entry["data"].items():
                        out.append((path, rule.split("::", 1)[-1], reason))
    return out


def test_every_acknowledgement_gives_a_reason_specific_to_its_resource(any_lake: Synthesized) -> None:
    acks = acknowledgements(any_lake)
    assert acks
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path, rule, reason in acks:
        assert len(reason) >= 60, (path, rule, reason)
        owners[(rule, reason)].add(path)
    shared = {key: paths for key, paths in owners.items() if len(paths) > 1}
    assert not shared, f"one reason used for several resources: {shared}"


def test_wildcard_acknowledgements_name_each_wildcard(any_lake: Synthesized) -> None:
    iam5 = [rule for _, rule, _ in acknowledgements(any_lake) if rule.startswith("AwsSolutions-IAM5")]
    assert iam5 and all(
        rule.startswith(("AwsSolutions-IAM5[Action::", "AwsSolutions-IAM5[Resource::")) for rule in iam5
    )


def cfn_lint(template: Path, region: str) -> list[str]:
    from cfnlint.api import ManualArgs, lint_file

    return [str(match) for match in lint_file(template, ManualArgs(regions=[region]))]


def test_cfn_lint_finds_no_error_or_warning(any_lake: Synthesized) -> None:
    for stack in (any_lake.names.prod_stack, any_lake.names.security_stack):
        matches = cfn_lint(any_lake.outdir / f"{stack}.template.json", any_lake.config.region)
        assert matches == [], "\n".join(matches)


def test_synth_needs_no_account_credentials(any_lake: Synthesized) -> None:
    """No context lookups (availability zones...): `datalake synth` works with no AWS access at all."""
    manifest = json.loads((any_lake.outdir / "manifest.json").read_text())
    assert not manifest.get("missing")

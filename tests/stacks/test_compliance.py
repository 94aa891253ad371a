"""The rendered templates pass cfn-lint, cdk-nag's four packs and cfn-guard's Control Tower rules.

Each tool runs once per template per session (session fixtures below); cfn-guard is started in
the background before cdk-nag's jsii work, so the two overlap. Assertion messages list every
finding: that list is what a module owner fixes (or acknowledges in the resource's Metadata, with
a reason about that resource).
"""

from __future__ import annotations

import ast
import json
import re
import time
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

from tests.stacks import checks
from tests.stacks.templates import Rendered

REPO = Path(__file__).resolve().parents[2]
STACKS = ("prod", "security")
# How long each check took per lake and template (printed with `pytest -s`; never asserted).
TIMINGS: dict[str, float] = {}


def _timed(label: str, started: float) -> None:
    TIMINGS[label] = time.monotonic() - started
    print(f"[checks] {label}: {TIMINGS[label]:.1f} s")


def _paths(lake: Rendered) -> dict[str, Path]:
    return {stack: getattr(lake, stack).path for stack in STACKS}


def _lake_label(lake: Rendered) -> str:
    return lake.outdir.name


def _listing(findings: list[str]) -> str:
    return f"{len(findings)} finding(s):\n  " + "\n  ".join(findings)


@pytest.fixture(scope="session")
def guard_runs(any_lake: Rendered) -> dict[str, checks.GuardRun]:
    """cfn-guard over both templates, started now, collected by `guard_failures`."""
    return {stack: checks.GuardRun(path) for stack, path in _paths(any_lake).items()}


@pytest.fixture(scope="session")
def nag_reports(any_lake: Rendered, guard_runs: dict[str, checks.GuardRun]) -> dict[str, checks.NagReport]:
    """The four packs over both templates (guard runs meanwhile: `guard_runs` is started first)."""
    reports = {}
    for stack, path in _paths(any_lake).items():
        started = time.monotonic()
        reports[stack] = checks.cdk_nag_report(path)
        _timed(f"cdk-nag {_lake_label(any_lake)}/{stack}", started)
    return reports


@pytest.fixture(scope="session")
def guard_failures(any_lake: Rendered, guard_runs: dict[str, checks.GuardRun]) -> dict[str, list[str]]:
    out = {}
    for stack, run in guard_runs.items():
        out[stack] = sorted({str(f) for f in run.failures()})
        TIMINGS[f"cfn-guard {_lake_label(any_lake)}/{stack}"] = run.seconds or 0.0
        print(f"[checks] cfn-guard {_lake_label(any_lake)}/{stack}: {run.seconds:.1f} s (wall, in background)")
    return out


@pytest.fixture(scope="session")
def lint_findings(any_lake: Rendered) -> dict[str, list[str]]:
    out = {}
    for stack, path in _paths(any_lake).items():
        started = time.monotonic()
        out[stack] = checks.cfn_lint_findings(path)
        _timed(f"cfn-lint {_lake_label(any_lake)}/{stack}", started)
    return out


# -- the rendered lakes ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("stack", STACKS)
def test_cfn_lint_finds_no_error_or_warning(lint_findings: dict[str, list[str]], stack: str) -> None:
    assert lint_findings[stack] == [], f"cfn-lint on {stack}: " + _listing(lint_findings[stack])


@pytest.mark.slow
@pytest.mark.parametrize("stack", STACKS)
def test_cdk_nag_four_packs_find_nothing_unacknowledged(nag_reports: dict[str, checks.NagReport], stack: str) -> None:
    findings = sorted({str(f) for f in nag_reports[stack].findings if f.severity in checks.NAG_SEVERITIES})
    assert findings == [], f"cdk-nag on {stack}: " + _listing(findings)


@pytest.mark.slow
@pytest.mark.parametrize("stack", STACKS)
def test_cfn_guard_control_tower_rules_pass(guard_failures: dict[str, list[str]], stack: str) -> None:
    excluded = ", ".join(sorted(checks.EXCLUDED_RULE_FILES))
    assert guard_failures[stack] == [], f"cfn-guard on {stack} (excluded: {excluded}): " + _listing(
        guard_failures[stack]
    )


@pytest.mark.slow
@pytest.mark.parametrize("stack", STACKS)
def test_every_acknowledgement_suppresses_a_real_finding(
    any_lake: Rendered, nag_reports: dict[str, checks.NagReport], stack: str
) -> None:
    """An acknowledgement that matches nothing is a stale reason (or a misspelt rule id that hides nothing)."""
    used = {(f.logical_id, f.rule) for f in nag_reports[stack].suppressed}
    declared = checks.template_acknowledgements(getattr(any_lake, stack).template)
    stale = sorted(
        f"{rule} on {logical_id}"
        for logical_id, acknowledgements in declared.items()
        for rule, _ in acknowledgements
        if (logical_id, rule) not in used
    )
    assert stale == [], f"acknowledgements in {stack} that match no cdk-nag finding: " + _listing(stale)


def _acknowledgements(lake: Rendered) -> list[tuple[str, str, str, str]]:
    """(stack, logical id, rule, reason) of every acknowledgement in both templates."""
    return [
        (stack, logical_id, rule, reason)
        for stack in STACKS
        for logical_id, acknowledgements in checks.template_acknowledgements(getattr(lake, stack).template).items()
        for rule, reason in acknowledgements
    ]


def test_every_acknowledgement_gives_a_reason_specific_to_its_resource(any_lake: Rendered) -> None:
    acknowledgements = _acknowledgements(any_lake)
    assert acknowledgements, "no cdk_nag acknowledgement in either template (the access-log buckets need some)"
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for stack, logical_id, rule, reason in acknowledgements:
        assert len(reason) >= 60, (stack, logical_id, rule, reason)
        owners[(rule, reason)].add(f"{stack}/{logical_id}")
    shared = {key: sorted(paths) for key, paths in owners.items() if len(paths) > 1}
    assert not shared, f"one reason used for several resources: {shared}"


def test_wildcard_acknowledgements_name_each_wildcard(any_lake: Rendered) -> None:
    """cdk-nag 3.x matches IAM5 findings one by one (`AwsSolutions-IAM5[Action::s3:Get*]`), never the bare rule."""
    iam5 = [rule for _, _, rule, _ in _acknowledgements(any_lake) if rule.startswith("AwsSolutions-IAM5")]
    bare = [
        rule for rule in iam5 if not rule.startswith(("AwsSolutions-IAM5[Action::", "AwsSolutions-IAM5[Resource::"))
    ]
    assert bare == []


# -- the harness itself ------------------------------------------------------------------------------

BAD_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "Acked": {
            "Type": "AWS::S3::Bucket",
            "Metadata": {
                "cdk_nag": {
                    "rules_to_suppress": [
                        {
                            "id": "AwsSolutions-S1",
                            "reason": "harness fixture: this bucket's missing access log is known",
                        }
                    ]
                }
            },
        },
        "Open": {"Type": "AWS::S3::Bucket"},
        "Locked": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "ObjectLockEnabled": True,
                "VersioningConfiguration": {"Status": "Enabled"},
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
            },
        },
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        },
        "Wildcards": {
            "Type": "AWS::IAM::Policy",
            "Metadata": {
                "cdk_nag": {
                    "rules_to_suppress": [
                        {
                            "id": "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::acked/*]",
                            "reason": "harness fixture: any object of this one bucket, the finding named exactly",
                        }
                    ]
                }
            },
            "Properties": {
                "PolicyName": "wildcards",
                "Roles": [{"Ref": "Role"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Resource": [
                                {"Fn::Sub": "arn:${AWS::Partition}:s3:::acked/*"},
                                {"Fn::Sub": "arn:${AWS::Partition}:s3:::open/*"},
                            ],
                        }
                    ],
                },
            },
        },
    },
}


@pytest.fixture(scope="module")
def bad_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bad-template") / "bad.json"
    path.write_text(json.dumps(BAD_TEMPLATE, indent=1), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bad_nag(bad_template: Path) -> checks.NagReport:
    return checks.cdk_nag_report(bad_template)


def test_an_acknowledged_finding_is_reported_as_suppressed_with_its_reason(bad_nag: checks.NagReport) -> None:
    """cdk-nag 3.x ignores `Metadata.cdk_nag`; the harness's translation is what makes it count."""
    suppressed = {(f.logical_id, f.rule): f.reason for f in bad_nag.suppressed}
    assert suppressed[("Acked", "AwsSolutions-S1")].startswith("harness fixture")
    assert ("Wildcards", "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::acked/*]") in suppressed
    open_ = {(f.logical_id, f.rule) for f in bad_nag.findings}
    assert ("Acked", "AwsSolutions-S1") not in open_
    assert ("Wildcards", "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::acked/*]") not in open_


def test_an_unacknowledged_finding_fails(bad_nag: checks.NagReport) -> None:
    open_ = {(f.logical_id, f.rule) for f in bad_nag.findings}
    assert ("Open", "AwsSolutions-S1") in open_
    # the same rule is still open on the acknowledged bucket's siblings, and on the other wildcard
    assert ("Wildcards", "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::open/*]") in open_
    assert ("Acked", "AwsSolutions-S10") in open_  # an acknowledgement covers its one rule only


def test_the_four_packs_are_really_checking(bad_nag: checks.NagReport) -> None:
    assert {f.pack for f in bad_nag.findings} == {"AwsSolutions", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"}


def test_cfn_guard_reports_the_failing_resource_only(bad_template: Path) -> None:
    failures = checks.guard_report(bad_template)
    public = {f.logical_id for f in failures if f.control == "CT.S3.PR.1"}
    assert public == {"Acked", "Open"}, failures  # Locked blocks public access: it complies
    assert all(f.rule_file == "s3/ct-s3-pr-1.guard" for f in failures if f.control == "CT.S3.PR.1")


def test_cfn_lint_reports_errors(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"Nope": 1}}}}))
    findings = checks.cfn_lint_findings(path)
    assert findings and any(line.startswith("E3002") for line in findings), findings


def test_excluded_guard_rules_exist_and_say_why() -> None:
    for rule_file, reason in checks.EXCLUDED_RULE_FILES.items():
        path = checks.GUARD_RULES / rule_file
        assert path.is_file(), rule_file
        control = re.search(r"\[(CT\.[A-Z0-9]+\.PR\.\d+)\]", path.read_text(encoding="utf-8"))
        assert control and reason.startswith(control.group(1)), (rule_file, reason)
        assert len(reason) >= 120, (rule_file, reason)


def test_every_guard_rule_file_says_what_it_reports_on() -> None:
    """The type prefilter skips a rule file only by its `Reports on` header: none may lack one unnoticed."""
    files = sorted(checks.GUARD_RULES.rglob("*.guard"))
    assert len(files) > 200
    assert [f.name for f in files if not checks.guard_reports_on(f)] == []


# -- test-only tools stay out of the product ---------------------------------------------------------

TEST_ONLY_MODULES = ("aws_cdk", "cdk_nag", "constructs")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_product_never_imports_cdk() -> None:
    sources = [REPO / "build.py"]
    for folder in ("src", "lambda_src", "glue_scripts"):
        sources += sorted((REPO / folder).rglob("*.py"))
    offenders = sorted(
        f"{path.relative_to(REPO)}: {module}"
        for path in sources
        for module in _imported_modules(path)
        if module.split(".", 1)[0] in TEST_ONLY_MODULES
    )
    assert offenders == [], _listing(offenders)


def _requirement_names(requirements: list[str]) -> dict[str, str]:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower(): r for r in requirements}


def test_troposphere_and_awacs_are_pinned_and_cdk_is_test_only() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = _requirement_names(project["dependencies"])
    dev = _requirement_names(project["optional-dependencies"]["dev"])
    for name in ("troposphere", "awacs"):
        assert re.fullmatch(rf"{name}==\d+(\.\d+)+", runtime.get(name, "")), runtime.get(name)
    for name in ("aws-cdk-lib", "constructs", "cdk-nag"):
        assert name not in runtime and name in dev, name
    npm = json.loads((REPO / "package.json").read_text(encoding="utf-8"))["devDependencies"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", npm["@cdklabs/cdk-validator-cfnguard"])

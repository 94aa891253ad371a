"""cdk-nag: four rule packs on the whole app, and acknowledgements that name their resource.

cdk-nag 3.x is a CDK policy-validation plugin (pinned `cdk-nag>=3.0.2,<4` on purpose: 2.x used
Aspects and `NagSuppressions`, a different API). Packs are added with
`Validations.of(app).add_plugins(...)`; a finding is acknowledged with
`Validations.of(construct).acknowledge(...)` on the construct it is about, with a reason that
explains why THAT resource is fine; `app.synth()` raises `ValidationFailed` and writes the
findings to `<outdir>/validation-report.json`. :func:`findings` reads that report, so the test
suite (and `datalake synth`) can demand zero unacknowledged errors and warnings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, App, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

PACKS = ("AwsSolutions", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")
REPORT = "validation-report.json"


def add_packs(app: App) -> None:
    """Run AwsSolutions, NIST 800-53 rev 5, HIPAA Security and PCI DSS 3.2.1 on every stack."""
    from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks

    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app), NIST80053R5Checks(app), HIPAASecurityChecks(app), PCIDSS321Checks(app)
    )


def acknowledge(construct: IConstruct, rules: str | Iterable[str], reason: str) -> None:
    """Acknowledge findings on one construct (and its children), with a reason specific to it."""
    for rule in [rules] if isinstance(rules, str) else rules:
        Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


# -- AwsSolutions-IAM5: wildcard permissions ---------------------------------------------------------
# IAM5 reports one finding per wildcard (`AwsSolutions-IAM5[Resource::arn:...:bucket/*]`,
# `[Action::s3:GetObject*]`), and an acknowledgement must name the exact finding. Writing them out
# by hand would tie the code to logical ids; instead a construct declares which wildcards it is
# expected to hold (regular expressions over the finding) and why, and
# :func:`acknowledge_expected_wildcards` acknowledges exactly the findings that match. Any other
# wildcard stays a finding and fails the synth.
_WILDCARDS = "_datalake_expected_wildcards"


def expect_wildcards(construct: IConstruct, reason: str, patterns: Iterable[str]) -> None:
    """Declare the IAM5 findings (regexes, full match) expected under `construct`, and why."""
    stack = Stack.of(construct)
    registry: list[tuple[str, str, list[re.Pattern[str]]]] = stack.__dict__.setdefault(_WILDCARDS, [])
    registry.append((construct.node.path, reason, [re.compile(p) for p in patterns]))


def acknowledge_expected_wildcards(app: App) -> None:
    """Acknowledge, on each IAM policy, the wildcard findings its owner declared (run before synth)."""
    for stack in app.node.children:
        registry = getattr(stack, _WILDCARDS, None) if isinstance(stack, Stack) else None
        if not registry:
            continue
        for node in stack.node.find_all():
            if not isinstance(node, (iam.CfnPolicy, iam.CfnManagedPolicy)):
                continue
            path = node.node.path
            owners = [(reason, patterns) for owner, reason, patterns in registry if path.startswith(owner + "/")]
            for finding in wildcard_findings(stack.resolve(node.policy_document)):
                for reason, patterns in owners:
                    if any(pattern.fullmatch(finding) for pattern in patterns):
                        acknowledge(node, f"AwsSolutions-IAM5[{finding}]", reason)
                        break


def lake_objects(buckets: Iterable[str]) -> str:
    """IAM5 finding pattern: any object (key pattern) inside one of these buckets."""
    alternatives = "|".join(re.escape(bucket) for bucket in buckets)
    return rf"Resource::arn:(aws|aws-cn|aws-us-gov|<AWS::Partition>):s3:::({alternatives})/.*"


def actions(names: Iterable[str]) -> str:
    """IAM5 finding pattern: exactly one of these wildcard actions."""
    return "Action::(" + "|".join(re.escape(name) for name in names if "*" in name) + ")"


def wildcard_findings(document: dict[str, Any]) -> list[str]:
    """The IAM5 findings cdk-nag reports for a resolved policy document (Allow statements only)."""
    findings: dict[str, None] = {}
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        for action in _as_list(statement.get("Action")):
            if "*" in action:
                findings[f"Action::{action}"] = None
        for resource in _as_list(statement.get("Resource")):
            flat = flatten_reference(resource)
            if "*" in flat:
                findings[f"Resource::{flat}"] = None
    return list(findings)


def flatten_reference(node: Any) -> str:
    """cdk-nag's flattening of CloudFormation intrinsics (`{"Fn::GetAtt": [X, Arn]}` -> `<X.Arn>`)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(flatten_reference(item) for item in items)
        if "Fn::Sub" in node:
            return flatten_reference(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if "Fn::ImportValue" in node:
            return flatten_reference(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{flatten_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


COMPLIANCE_PACKS = ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")


def acknowledge_inline_policy(construct: IConstruct, reason: str) -> None:
    """The NIST/HIPAA/PCI packs prefer customer-managed policies; say why this one is inline."""
    acknowledge(construct, [f"{pack}-IAMNoInlinePolicy" for pack in COMPLIANCE_PACKS], reason)


@dataclass(frozen=True)
class Finding:
    pack: str
    rule: str
    severity: str
    path: str
    description: str

    def __str__(self) -> str:
        return f"[{self.severity}] {self.rule} at {self.path}: {self.description[:160]}"


def findings(outdir: str | Path) -> list[Finding]:
    """Unacknowledged findings of the last synth into `outdir` (empty when no report was written)."""
    report = Path(outdir) / REPORT
    if not report.exists():
        return []
    data = json.loads(report.read_text(encoding="utf-8"))
    out = []
    for plugin in data.get("pluginReports", []):
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                out.append(
                    Finding(
                        pack=plugin.get("pluginName", ""),
                        rule=violation.get("ruleName", ""),
                        severity=violation.get("severity", ""),
                        path=construct.get("constructPath", ""),
                        description=violation.get("description", ""),
                    )
                )
    return out

"""Differential testing of datalake's IAM evaluator against @cloud-copilot/iam-simulate.

iam-simulate (AGPL-3.0) is used ONLY as a test oracle: it runs in a separate `node` process
through `tests/tools/iam_simulate_driver.mjs`; nothing of it is imported or shipped by the product.
All requests go to one node invocation (JSON on stdin, JSON on stdout) so the test stays fast.

Point it at any policies: `run_differential(requests, identity, resource)` where `identity` maps a
principal's role ARN to its identity policies and `resource` maps a bucket name (S3) or a key ARN
(KMS) to its bucket/key policy.

Both evaluators see the same request context: ours (`effective_context`, which adds
`aws:PrincipalArn`/`aws:PrincipalAccount`) is what is sent to the oracle. Keys the oracle drops as
not applicable to the action (AWS would not put them in the context) are dropped from ours too and
counted in the report, so a generator that invents impossible contexts is visible.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from datalake_cfn.access.conditions import Condition
from datalake_cfn.access.evaluator import (
    Decision,
    NamedPolicy,
    PrincipalIdentity,
    Request,
    effective_context,
    evaluate,
)
from datalake_cfn.access.patterns import RequestContext, compile_pattern

REPO = Path(__file__).resolve().parents[2]
DRIVER = REPO / "tests" / "tools" / "iam_simulate_driver.mjs"
PACKAGE = REPO / "node_modules" / "@cloud-copilot" / "iam-simulate"
ORACLE_REASONS = {
    "Allowed": "allow",
    "ExplicitlyDenied": "explicit_deny",
    "ImplicitlyDenied": "implicit_deny",
}


class OracleUnavailableError(RuntimeError):
    """node or the iam-simulate package is missing: the differential test cannot run."""


@dataclass(frozen=True)
class OracleAnswer:
    """What iam-simulate said about one request."""

    result: str | None  # Allowed | ExplicitlyDenied | ImplicitlyDenied, None on error
    ignored_context_keys: tuple[str, ...] = ()
    error: str | None = None

    @property
    def reason(self) -> str | None:
        """The oracle's result in the evaluator's vocabulary."""
        return ORACLE_REASONS.get(self.result or "")


@dataclass(frozen=True)
class Disagreement:
    """A request on which the evaluator and the oracle disagree."""

    request: Request
    ours: Decision
    oracle: OracleAnswer

    def __str__(self) -> str:
        context = json.dumps(dict(self.request.context), sort_keys=True)
        return (
            f"{self.request.principal_arn} {self.request.action} {self.request.resource}\n"
            f"  context: {context}\n"
            f"  datalake: {self.ours.reason} ({self.ours.explain()})\n"
            f"  iam-simulate: {self.oracle.result} {self.oracle.error or ''}"
        )


@dataclass
class DiffReport:
    """The outcome of a differential run."""

    compared: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)
    excluded: Counter[str] = field(default_factory=Counter)
    ignored_context_keys: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    deciding_statements: Counter[str] = field(default_factory=Counter)


def require_oracle() -> str:
    """Path of `node`; raises with instructions if node or iam-simulate is missing."""
    node = shutil.which("node")
    if node is None:
        raise OracleUnavailableError("`node` is not on PATH; install Node.js (>= 20) to run the IAM differential test")
    if not (PACKAGE / "package.json").is_file():
        raise OracleUnavailableError(
            f"{PACKAGE} is missing; run `make install` (npm install) to get @cloud-copilot/iam-simulate"
        )
    return node


def _wire_context(context: RequestContext) -> dict[str, str | list[str]]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in context.items()}


def run_oracle(
    cases: Sequence[tuple[Request, Sequence[NamedPolicy], NamedPolicy | None]],
) -> list[OracleAnswer]:
    """Ask iam-simulate about every (request, identity policies, resource policy) in one node run."""
    node = require_oracle()
    policy_sets: dict[str, dict[str, object]] = {}
    set_names: dict[tuple[int, ...], str] = {}
    wire_requests = []
    for request, identity, resource in cases:
        identity_key = (*(id(p) for p in identity), id(resource))
        name = set_names.setdefault(identity_key, f"set{len(set_names)}")
        policy_sets[name] = {
            "identity": [{"name": p.name, "policy": p.document} for p in identity],
            "resource": resource.document if resource is not None else None,
        }
        principal = PrincipalIdentity.parse(request.principal_arn)
        wire_requests.append(
            {
                "policySet": name,
                "principal": request.principal_arn,
                "action": request.action,
                "resource": request.resource,
                "accountId": _resource_account(request.resource) or principal.account or "",
                "context": _wire_context(effective_context(request)),
            }
        )
    payload = json.dumps({"policySets": policy_sets, "requests": wire_requests})
    completed = subprocess.run(
        [node, str(DRIVER)], input=payload, capture_output=True, text=True, cwd=REPO, timeout=120, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"iam-simulate driver failed ({completed.returncode}): {completed.stderr[-2000:]}")
    answers = json.loads(completed.stdout)["results"]
    return [OracleAnswer(a["result"], tuple(a.get("ignoredContextKeys") or ()), a.get("error")) for a in answers]


def _resource_account(resource: str) -> str | None:
    parts = resource.split(":")
    return parts[4] if len(parts) >= 6 and parts[4] else None


def _bucket_or_arn(resource: str) -> str:
    if resource.startswith("arn:aws:s3:::"):
        return resource[len("arn:aws:s3:::") :].split("/", 1)[0]
    return resource


def policies_for(
    request: Request, identity: Mapping[str, Sequence[NamedPolicy]], resource: Mapping[str, NamedPolicy]
) -> tuple[Sequence[NamedPolicy], NamedPolicy | None]:
    """The identity policies of the caller's role and the bucket/key policy of the resource."""
    principal = PrincipalIdentity.parse(request.principal_arn)
    role = principal.role_arn or request.principal_arn
    return identity.get(role, ()), resource.get(_bucket_or_arn(request.resource))


def ours(request: Request, identity: Sequence[NamedPolicy], resource: NamedPolicy | None) -> Decision:
    """Our decision, routing KMS requests to the key policy."""
    if request.service == "kms" and resource is not None:
        return evaluate(request, identity, key_policy=resource)
    return evaluate(request, identity, resource)


def _has_unresolved_variable(condition: Condition, context: RequestContext) -> bool:
    return any(compile_pattern(value, context, wildcards=False) is None for value in condition.values)


def known_oracle_divergence(
    request: Request, identity: Sequence[NamedPolicy], resource: NamedPolicy | None
) -> str | None:
    """Why the oracle is known to answer this request differently from AWS's documentation, if so.

    iam-simulate 0.1.173 makes a negated operator (StringNotEquals, ArnNotLike, ...) *fail* when one
    of its values is a policy variable with no value in the request, so a Deny such as
    `StringNotEqualsIgnoreCase {"s3:RequestObjectTag/dataclassification": "${aws:PrincipalTag/clearance}"}`
    does not fire for a caller without the tag. AWS documents the opposite: "Inverted condition
    operators like StringNotEquals or StringNotLike do match against a null value"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-no-value),
    and the evaluator follows AWS (pinned by test_oracle_quirk_negated_operator_with_missing_variable).
    Such requests are excluded: a statement that applies (action, resource, principal) and has a
    negated condition with a valueless variable on a present, single-valued key.
    """
    context = effective_context(request)
    principal = PrincipalIdentity.parse(request.principal_arn)
    statements = [s for p in identity for s in p.statements]
    statements += list(resource.statements) if resource is not None else []
    for statement in statements:
        if not (statement.matches_action(request.action) and statement.matches_resource(request.resource, context)):
            continue
        if statement.principal_level(principal) is None:
            continue
        for condition in statement.conditions:
            base = condition.operator.base
            if base is None or not base.negated or not isinstance(context.get(condition.key), str):
                continue
            if _has_unresolved_variable(condition, context):
                return f"negated {condition.operator.text} on {condition.key} with a valueless policy variable"
    return None


def _without_keys(request: Request, ignored: Sequence[str]) -> Request:
    dropped = {key.lower() for key in ignored}
    context = {k: v for k, v in effective_context(request).items() if k not in dropped}
    return replace(request, context={k: list(v) if isinstance(v, tuple) else v for k, v in context.items()})


def compare_with_oracle(
    requests: Sequence[Request],
    identity: Mapping[str, Sequence[NamedPolicy]],
    resource: Mapping[str, NamedPolicy],
    *,
    compare_reason: bool = True,
) -> DiffReport:
    """Evaluate every request with both evaluators and report where they differ.

    With `compare_reason`, explicit vs implicit deny must agree too, not just allowed/denied.
    """
    report = DiffReport()
    cases = [(request, *policies_for(request, identity, resource)) for request in requests]
    answers = run_oracle(cases)
    for (request, identity_policies, resource_policy), answer in zip(cases, answers, strict=True):
        divergence = known_oracle_divergence(request, identity_policies, resource_policy)
        if divergence is not None:
            report.excluded[divergence] += 1
            continue
        report.ignored_context_keys.update(answer.ignored_context_keys)
        seen = _without_keys(request, answer.ignored_context_keys) if answer.ignored_context_keys else request
        decision = ours(seen, identity_policies, resource_policy)
        report.compared += 1
        report.reasons[decision.reason] += 1
        if decision.statement is not None:
            report.deciding_statements[f"{decision.statement.policy_name}:{decision.statement.label}"] += 1
        agree = decision.reason == answer.reason if compare_reason else decision.allowed == (answer.reason == "allow")
        if answer.error is not None or not agree:
            report.disagreements.append(Disagreement(request, decision, answer))
    return report


def run_differential(
    requests: Sequence[Request],
    identity: Mapping[str, Sequence[NamedPolicy]],
    resource: Mapping[str, NamedPolicy],
) -> list[Disagreement]:
    """The disagreements (allowed vs denied, and explicit vs implicit deny) between us and the oracle."""
    return compare_with_oracle(requests, identity, resource).disagreements

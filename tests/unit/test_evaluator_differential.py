"""Differential test: datalake's IAM evaluator vs @cloud-copilot/iam-simulate on lake-like policies.

iam-simulate (AGPL-3.0) is only a test oracle, run in a separate `node` process by
tests/tools/iam_simulate_driver.mjs; the product never imports or ships it. The test is not
skipped when node or the package is missing: it fails and says to run `make install`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # make `tests.helpers` importable

from datalake_cfn.access.evaluator import NamedPolicy, Request
from tests.helpers import lake_policies
from tests.helpers.iam_diff import compare_with_oracle, ours, require_oracle, run_oracle

REQUESTS = 2200  # >= 2000 are compared after the documented exclusions
SEED = 20240611


def _deny_sids(policies: Sequence[NamedPolicy]) -> set[str]:
    return {s.sid for p in policies for s in p.statements if s.effect == "Deny" and s.sid}


def test_evaluator_agrees_with_iam_simulate_on_lake_policies() -> None:
    require_oracle()
    identity, resource = lake_policies.identity_policies(), lake_policies.resource_policies()
    requests = lake_policies.generate_requests(REQUESTS, SEED)

    report = compare_with_oracle(requests, identity, resource)

    shown = "\n".join(str(d) for d in report.disagreements[:20])
    assert not report.disagreements, f"{len(report.disagreements)} disagreements with iam-simulate:\n{shown}"
    assert report.compared >= 2000, f"only {report.compared} requests compared; excluded: {report.excluded}"
    assert sum(report.excluded.values()) <= 0.05 * len(requests), report.excluded
    assert not report.ignored_context_keys, f"generator sets keys AWS would not send: {report.ignored_context_keys}"
    # The sample exercises every outcome, and every guardrail actually decides some request.
    for reason in ("allow", "explicit_deny", "implicit_deny"):
        assert report.reasons[reason] >= 0.1 * report.compared, report.reasons
    deciding_sids = {label.split('"')[1] for label in report.deciding_statements if '"' in label}
    bucket_and_key_policies = list(resource.values())
    missing = _deny_sids(bucket_and_key_policies) - deciding_sids
    assert not missing, f"Deny statements never decisive in the sample: {sorted(missing)}"
    assert {"AllowCrawlerRead", "AllowLogDelivery", "EngineersUseKey", "KeyAdministration"} <= deciding_sids


ANALYST = lake_policies.role_arn("analyst")
OBJECT = "arn:aws:s3:::b/x"


def _guarded(condition: dict[str, Any], version: str = "2012-10-17") -> NamedPolicy:
    return NamedPolicy(
        "p",
        {
            "Version": version,
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
                {
                    "Sid": "Guard",
                    "Effect": "Deny",
                    "Action": "s3:GetObject",
                    "Resource": "*",
                    "Condition": condition,
                },
            ],
        },
    )


# Requests on which iam-simulate 0.1.173 departs from AWS's documentation; the evaluator follows
# the documentation. If iam-simulate changes its answer here, revisit the exclusion in
# tests/helpers/iam_diff.py:known_oracle_divergence and this list.
ORACLE_QUIRKS = [
    (
        # reference_policies_variables.html#policy-vars-no-value: "Inverted condition operators like
        # StringNotEquals ... do match against a null value" (the docs' own Team example).
        "negated operator with a valueless policy variable",
        _guarded({"StringNotEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}}),
        {"s3:ExistingObjectTag/Team": "blue"},
        "explicit_deny",
    ),
    (
        # Condition operators, ...IfExists: "If the key is not present, evaluate the condition
        # element as true." iam-simulate lets ForAnyValue's missing-key rule win over IfExists.
        "ForAnyValue with IfExists on an absent key",
        _guarded({"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "x"}}),
        {},
        "explicit_deny",
    ),
    (
        # Date operators accept epoch seconds; iam-simulate compares them with ISO dates in ms.
        "epoch-seconds policy date against an ISO request date",
        _guarded({"DateLessThan": {"aws:CurrentTime": "1893456000"}}),  # 2030-01-01
        {"aws:CurrentTime": "2025-01-01T00:00:00Z"},
        "explicit_deny",
    ),
    (
        # Policy variables need "Version": "2012-10-17"; with an older Version `${...}` is literal text.
        "policy variable in a 2008-10-17 policy",
        NamedPolicy(
            "p",
            {
                "Version": "2008-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::b/${aws:PrincipalTag/t}",
                    }
                ],
            },
        ),
        {"aws:PrincipalTag/t": "x"},
        "implicit_deny",
    ),
]


def test_known_iam_simulate_quirks_still_hold_and_the_evaluator_follows_aws_docs() -> None:
    require_oracle()
    cases = [
        (Request(ANALYST, "s3:GetObject", OBJECT, context), [policy], None) for _, policy, context, _ in ORACLE_QUIRKS
    ]
    answers = run_oracle(cases)
    for (name, _, _, documented), case, answer in zip(ORACLE_QUIRKS, cases, answers, strict=True):
        assert ours(*case).reason == documented, name
        assert answer.error is None and answer.reason != documented, (
            f"iam-simulate now agrees with AWS's documentation on: {name}; drop the quirk"
        )

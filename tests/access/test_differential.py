"""Differential test over the lake's OWN generated policies: our evaluator vs @cloud-copilot/iam-simulate.

The access matrix is only as good as the evaluator that computes it, so the exact documents the
stacks attach (persona identity policies, zone bucket and key policies, the service roles) are
evaluated by both on >= 2,000 seeded requests shaped like the lake's real ones (datalake_cfn.access.
operations): every persona and service role, session clearances, tagged/untagged/mixed-case/unknown
levels, multipart parts, SSE headers, prefixes in and out of datasets, TLS or not, direct KMS calls.

iam-simulate (AGPL-3.0) is a test-only oracle run in a separate `node` process; the product never
imports or ships it. Missing node/package fails the test with instructions (no skip).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # make `tests.helpers` importable

from datalake_cfn.access.matrix import PolicySet
from tests.helpers.lake_requests import assert_agrees_with_oracle


def test_evaluator_agrees_with_iam_simulate_on_the_lakes_own_policies(local_policies: PolicySet) -> None:
    report = assert_agrees_with_oracle(local_policies)
    assert report.compared >= 2000

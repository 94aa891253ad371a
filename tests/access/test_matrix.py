"""The access matrix of the generated policies, computed by evaluation, against the spec, cell by cell."""

from __future__ import annotations

from collections import Counter

import pytest

from datalake_cfn.access import operations as ops
from datalake_cfn.access.matrix import AccessMatrix, PolicySet, compute_matrix, local_policy_set, probe_key
from datalake_cfn.access.spec import ACTIONS, expected_matrix
from datalake_cfn.config import LakeConfig, parse_config


def assert_matches_spec(matrix: AccessMatrix, expected: dict) -> None:
    wrong = matrix.mismatches(expected)
    report = "\n".join(
        f"{cell}: expected {'allow' if want else 'deny'}, got {decision.explain()}" for cell, want, decision in wrong
    )
    assert not wrong, f"{len(wrong)} cells differ from the spec:\n{report}"


def test_full_matrix_matches_the_spec(acme: LakeConfig, local_policies: PolicySet) -> None:
    matrix = compute_matrix(local_policies)
    expected = expected_matrix(acme)
    # 4 personas x 4 zones x (5 levels + untagged) x 5 actions, and both outcomes occur in every action
    assert len(matrix.cells) == 4 * 4 * 6 * 5 == len(expected)
    for action in ACTIONS:
        outcomes = Counter(matrix.cells[k].allowed for k in matrix.cells if k[3] == action)
        assert outcomes[True] and outcomes[False], action
    assert_matches_spec(matrix, expected)


@pytest.mark.parametrize(
    "sessions",
    [
        {"analyst": "public", "engineer": "internal"},
        {"scientist": "public", "steward": "proprietary"},
        {"analyst": "secret", "scientist": "confidential"},  # a session tag cannot raise clearance
    ],
)
def test_session_tags_lower_clearance_and_never_raise_it(
    acme: LakeConfig, local_policies: PolicySet, sessions: dict[str, str]
) -> None:
    matrix = compute_matrix(local_policies, clearances=sessions)
    assert_matches_spec(matrix, expected_matrix(acme, clearances=sessions))


def test_without_tls_every_cell_is_denied_by_a_transport_guardrail(acme: LakeConfig, local_policies: PolicySet) -> None:
    matrix = compute_matrix(local_policies, secure_transport=False)
    assert_matches_spec(matrix, expected_matrix(acme, secure_transport=False))
    assert not any(decision.allowed for decision in matrix.cells.values())
    steward = [d for (p, *_), d in matrix.cells.items() if p == "steward"]
    assert {d.statement.sid for d in steward if d.statement} == {"DenyInsecureTransport"}


def test_roles_mode_matrix_matches_the_spec(acme_roles: LakeConfig) -> None:
    policies = local_policy_set(acme_roles)
    assert "analyst/public" in policies.roles and "analyst/secret" not in policies.roles
    assert_matches_spec(compute_matrix(policies), expected_matrix(acme_roles))
    sessions = {"analyst": "public", "engineer": "proprietary", "steward": "internal"}
    assert_matches_spec(compute_matrix(policies, clearances=sessions), expected_matrix(acme_roles, clearances=sessions))


def test_matrix_for_other_zone_names_matches_the_spec() -> None:
    config = parse_config(
        {
            "lake": "medallion",
            "classification": ["open", "restricted", "sensitive"],
            "personas": {
                "steward": {"clearance": "sensitive"},
                "engineer": {"clearance": "sensitive"},
                "scientist": {"clearance": "restricted"},
                "analyst": {"clearance": "open"},
            },
            "zones": [
                {"name": "landing", "next": "bronze"},
                {"name": "bronze", "next": "silver"},
                {"name": "silver", "next": "gold"},
                {"name": "gold", "format": "parquet"},
                {"name": "lab"},
            ],
            "datasets": [{"name": "orders", "classification": "restricted"}],
        }
    )
    assert_matches_spec(compute_matrix(local_policy_set(config)), expected_matrix(config))


def test_every_read_action_agrees_with_get_object(acme: LakeConfig, local_policies: PolicySet) -> None:
    """GetObjectVersion, GetObjectAttributes, ... must never read what GetObject may not."""
    region = local_policies.names.region
    for persona in ("steward", "engineer", "scientist", "analyst"):
        caller = local_policies.caller(persona)
        for zone in acme.zones:
            resources = local_policies.zones[zone.name]
            for level in [*acme.classification, None]:
                requests = ops.all_reads(
                    caller,
                    resources.bucket_arn,
                    probe_key(acme, zone.name),
                    resources.key_arn,
                    region,
                    object_level=level,
                )
                verdicts = {r.request.action: local_policies.decide(caller, [r]).allowed for r in requests}
                assert len(set(verdicts.values())) == 1, (persona, zone.name, level, verdicts)


def test_the_matrix_explains_each_denial_with_a_statement(local_policies: PolicySet) -> None:
    matrix = compute_matrix(local_policies)
    analyst_secret = matrix.cells[("analyst", "curated", "secret", "read")]
    assert not analyst_secret.allowed
    assert analyst_secret.statement is not None and analyst_secret.statement.sid == "DenyReadAboveInternal"
    assert "bucket policy" in analyst_secret.explain()
    untagged = matrix.cells[("engineer", "staged", None, "read")]
    assert untagged.statement is not None and untagged.statement.sid == "DenyReadUntaggedObjects"


def test_the_matrix_catches_a_read_deny_that_covers_only_get_object(
    acme: LakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 2 of the original design, reintroduced on purpose: the matrix must show it."""
    from datalake_cfn.access import policies as gen

    monkeypatch.setattr(gen, "READ_GUARDED_ACTIONS", ("s3:GetObject",))
    wrong = compute_matrix(local_policy_set(acme)).mismatches(expected_matrix(acme))
    assert wrong
    assert {cell[3] for cell, _, _ in wrong} == {"read"}
    assert all(d.allowed and d.request is not None and d.request.action != "s3:GetObject" for _, _, d in wrong)


def test_the_matrix_catches_a_fail_open_deny_list(acme: LakeConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 3 reintroduced: if untagged objects were exempt (`Null: false`), they would be readable."""
    from datalake_cfn.access import policies as gen

    original = gen._clearance_denies

    def fail_open(*args, **kwargs):  # type: ignore[no-untyped-def]
        return original(*args, **{**kwargs, "only_tagged": True})

    monkeypatch.setattr(gen, "_clearance_denies", fail_open)
    monkeypatch.setattr(gen, "_zone_principals", _with_untagged_readers(gen._zone_principals))
    wrong = compute_matrix(local_policy_set(acme)).mismatches(expected_matrix(acme))
    assert wrong and all(cell[2] is None and cell[3] == "read" for cell, _, _ in wrong)


def _with_untagged_readers(original):  # type: ignore[no-untyped-def]
    """Also drop the bucket's separate untagged-object Deny, as a deny-list design would not have it."""
    from dataclasses import replace

    def patched(config, names, arns, zone):  # type: ignore[no-untyped-def]
        who = original(config, names, arns, zone)
        return replace(who, unbounded=[*who.unbounded, "arn:aws:iam::*:role/*"])

    return patched

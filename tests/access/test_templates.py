"""The matrix derived from the *rendered templates* equals the spec.

The templates are rendered once per clearance mode (as `python build.py` does); the bucket, key and
identity policies are read back from the CloudFormation JSON, intrinsics resolved (`Fn::Sub` over
the account, region, partition and logical ids included), and evaluated exactly like the generated ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from datalake_cfn.access import operations as ops
from datalake_cfn.access.matrix import PolicySet, compute_matrix, local_policy_set, template_policy_set
from datalake_cfn.access.spec import expected_matrix
from datalake_cfn.access.templates import load_templates, render_templates
from datalake_cfn.config import LakeConfig

pytestmark = pytest.mark.slow
REGION = "us-east-1"


@pytest.fixture(scope="module")
def synthesized(acme: LakeConfig, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    from datalake_cfn.builder import render, write_templates

    outdir = tmp_path_factory.mktemp("rendered-tag")
    write_templates(render(acme), outdir / "templates")
    return outdir, render_templates(acme)


@pytest.fixture(scope="module")
def template_policies(acme: LakeConfig, synthesized: tuple[Path, dict[str, Any]]) -> PolicySet:
    return template_policy_set(acme, synthesized[1])


def mismatch_report(matrix, expected) -> str:  # type: ignore[no-untyped-def]
    wrong = matrix.mismatches(expected)
    return "\n".join(f"{cell}: expected {want}, got {d.explain()}" for cell, want, d in wrong)


def test_matrix_from_rendered_templates_equals_the_spec(acme: LakeConfig, template_policies: PolicySet) -> None:
    assert template_policies.source == "rendered templates"  # every identity policy could be read
    assert {"steward", "engineer", "scientist", "analyst"} <= set(template_policies.roles)
    matrix = compute_matrix(template_policies)
    assert len(matrix.cells) == 480
    assert not matrix.mismatches(expected_matrix(acme)), mismatch_report(matrix, expected_matrix(acme))


@pytest.mark.parametrize(
    ("sessions", "secure"),
    [({"analyst": "public", "engineer": "internal", "steward": "confidential"}, True), ({}, False)],
)
def test_template_matrix_with_session_tags_and_without_tls(
    acme: LakeConfig, template_policies: PolicySet, sessions: dict[str, str], secure: bool
) -> None:
    matrix = compute_matrix(template_policies, clearances=sessions, secure_transport=secure)
    expected = expected_matrix(acme, clearances=sessions, secure_transport=secure)
    assert not matrix.mismatches(expected), mismatch_report(matrix, expected)


def test_templates_and_generated_policies_decide_alike(acme: LakeConfig, template_policies: PolicySet) -> None:
    """Same decisions *and* the same deciding statements: the stacks attach the policies unchanged."""
    generated = compute_matrix(local_policy_set(acme))
    deployed = compute_matrix(template_policies)
    for cell, decision in generated.cells.items():
        other = deployed.cells[cell]
        assert decision.allowed == other.allowed, cell
        sid = decision.statement.sid if decision.statement else None
        assert sid == (other.statement.sid if other.statement else None), cell


def test_service_roles_in_the_templates_work_as_designed(template_policies: PolicySet) -> None:
    raw, staged, curated = (template_policies.zones[z] for z in ("raw", "staged", "curated"))
    pipeline = template_policies.service_caller("pipeline-raw")
    reads_untagged = ops.read_object(pipeline, raw.bucket_arn, "sales/a.csv", raw.key_arn, REGION, object_level=None)
    assert template_policies.decide(pipeline, reads_untagged).allowed
    writes = ops.write_object(
        pipeline, staged.bucket_arn, "sales/a.csv", staged.key_arn, REGION, request_level="secret"
    )
    assert template_policies.decide(pipeline, writes).allowed
    job = template_policies.service_caller("glue-job")
    job_reads = ops.read_object(job, staged.bucket_arn, "sales/a.csv", staged.key_arn, REGION, object_level="internal")
    assert template_policies.decide(job, job_reads).allowed, "the Glue job role needs its clearance tag"
    job_secret = ops.read_object(job, staged.bucket_arn, "sales/a.csv", staged.key_arn, REGION, object_level="secret")
    assert not template_policies.decide(job, job_secret).allowed
    job_writes = ops.write_object(
        job, curated.bucket_arn, "sales/x.parquet", curated.key_arn, REGION, request_level=None
    )
    assert template_policies.decide(job, job_writes).allowed


def test_template_json_never_repeats_a_key(acme: LakeConfig, synthesized: tuple[Path, dict[str, Any]]) -> None:
    """Defect 1 of the original design, checked on the files CloudFormation would receive."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate keys in a JSON object: {keys}"
        return dict(pairs)

    outdir, templates = synthesized
    files = sorted((outdir / "templates").glob("*.json"))
    assert len(files) == len(templates) == 2
    for file in files:
        json.loads(file.read_text(), object_pairs_hook=no_duplicates)
    assert load_templates(outdir, acme).keys() == templates.keys()


@pytest.fixture(scope="module")
def roles_mode(acme_roles: LakeConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PolicySet]:
    yield template_policy_set(acme_roles, render_templates(acme_roles))


def test_roles_mode_templates_equal_the_spec(acme_roles: LakeConfig, roles_mode: PolicySet) -> None:
    assert {"analyst/public", "analyst/internal", "steward/secret"} <= set(roles_mode.roles)
    assert roles_mode.roles["analyst/public"].arn.endswith(":role/acme/analyst/public/acme-analyst-public")
    for sessions in ({}, {"analyst": "public", "scientist": "internal"}):
        matrix = compute_matrix(roles_mode, clearances=sessions)
        expected = expected_matrix(acme_roles, clearances=sessions)
        assert not matrix.mismatches(expected), mismatch_report(matrix, expected)


def test_datalake_access_reads_rendered_templates(
    synthesized: tuple[Path, dict[str, Any]], acme_data: dict, tmp_path: Path
) -> None:
    import yaml
    from typer.testing import CliRunner

    from datalake_cfn.cli import app

    (tmp_path / "lake.yaml").write_text(yaml.safe_dump(acme_data))
    args = ["--config", str(tmp_path / "lake.yaml"), "access", "--templates-dir", str(synthesized[0])]
    result = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "m.png")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, (result.output, result.exception)
    assert "rendered templates" in result.output and "all 480 cells match" in result.output


def _policy_documents(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every policy document of a template: role inline policies, IAM policies, bucket/key/queue policies."""
    out = []
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        for name in ("PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument"):
            if isinstance(props.get(name), dict):
                out.append((f"{logical_id}.{name}", props[name]))
        for inline in props.get("Policies", []) or []:
            out.append((f"{logical_id}.Policies", inline["PolicyDocument"]))
    return out


def test_no_action_star_and_s3_star_only_for_the_steward(synthesized: tuple[Path, dict[str, Any]]) -> None:
    """Acceptance 4, on everything both stacks would deploy."""
    _, templates = synthesized
    checked = 0
    for stack, template in templates.items():
        for where, document in _policy_documents(template):
            for statement in document.get("Statement", []):
                actions = statement.get("Action", [])
                actions = [actions] if isinstance(actions, str) else actions
                checked += 1
                assert "*" not in actions, (stack, where, statement.get("Sid"))
                if statement.get("Effect") == "Allow" and ("s3:*" in actions or "NotAction" in statement):
                    assert where.startswith("PersonaSteward"), (stack, where, statement.get("Sid"))
    assert checked > 100


def test_evaluator_agrees_with_iam_simulate_on_the_rendered_policies(template_policies: PolicySet) -> None:
    """Acceptance 2's differential run, on the policies exactly as the templates declare them."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # make `tests.helpers` importable
    from tests.helpers.lake_requests import assert_agrees_with_oracle

    report = assert_agrees_with_oracle(template_policies)
    assert report.compared >= 2000

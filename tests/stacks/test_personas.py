"""The persona roles in the rendered prod template, their policies and wiring, and the outputs naming them."""

from __future__ import annotations

from typing import Any

from datalake_cfn.access import policies
from datalake_cfn.config import PERSONA_NAMES
from datalake_cfn.naming import LogicalIds
from datalake_cfn.routing import queue_routes
from datalake_cfn.stacks import outputs, personas
from datalake_cfn.stacks.base import LakeTemplate, principal_logical_id
from tests.stacks.templates import Rendered, arn_of, as_list, flatten, statement


def literal(value: Any) -> str:
    """A rendered string as CloudFormation resolves its text: `${!aws:userid}` in a Sub is `${aws:userid}`."""
    return flatten(value).replace("${!", "${")


def persona_roles(lake: Rendered) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["RoleName"]: r["Properties"]
        for r in lake.prod.of_type("AWS::IAM::Role").values()
        if r["Properties"].get("Path", "/").startswith(f"/{lake.config.lake}/")
    }


def persona_policies(lake: Rendered) -> list[dict[str, Any]]:
    return [
        p["Properties"]
        for p in lake.prod.of_type("AWS::IAM::Policy").values()
        if p["Properties"]["PolicyName"] == personas.POLICY_NAME
    ]


def test_four_persona_roles_under_their_iam_paths(default_lake: Rendered) -> None:
    roles = persona_roles(default_lake)
    names = default_lake.names
    assert set(roles) == {names.role_name(p) for p in PERSONA_NAMES}
    for persona in PERSONA_NAMES:
        role = roles[names.role_name(persona)]
        assert role["Path"] == names.role_path(persona) == f"/acme/{persona}/"
        tags = {t["Key"]: t["Value"] for t in role["Tags"]}
        assert tags["clearance"] == getattr(default_lake.config.personas, persona).clearance
        assert tags[policies.PERSONA_TAG] == persona
        trust = role["AssumeRolePolicyDocument"]["Statement"][0]
        assert set(as_list(trust["Action"])) == {"sts:AssumeRole", "sts:TagSession"}  # clearance session tag
        assert flatten(trust["Principal"]["AWS"]) == "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
        assert role["MaxSessionDuration"] == 4 * 3600
        assert "Policies" not in role and "ManagedPolicyArns" not in role


def test_persona_roles_have_logical_ids_from_their_principal(any_lake: Rendered) -> None:
    for principal in policies.persona_principals(any_lake.config):
        role = any_lake.prod.at(principal_logical_id(principal))
        assert role["Type"] == "AWS::IAM::Role"
        assert principal_logical_id(principal) == LogicalIds.principal(principal.replace("/", "-"))
        policy = any_lake.prod.at(LogicalIds.principal(principal.replace("/", "-"), "Policy"))
        assert policy["Properties"]["Roles"] == [{"Ref": principal_logical_id(principal)}]


def test_roles_mode_has_one_role_per_persona_and_clearance(regional_lake: Rendered) -> None:
    roles = persona_roles(regional_lake)
    names = regional_lake.names
    expected = {
        names.role_name(p, c) for p in PERSONA_NAMES for c in policies.persona_clearances(regional_lake.config, p)
    }
    assert set(roles) == expected and len(expected) > 4
    for persona in PERSONA_NAMES:
        for clearance in policies.persona_clearances(regional_lake.config, persona):
            role = roles[names.role_name(persona, clearance)]
            assert role["Path"] == names.role_path(persona, clearance)
            assert {t["Key"]: t["Value"] for t in role["Tags"]}["clearance"] == clearance
            trust = role["AssumeRolePolicyDocument"]["Statement"][0]
            assert as_list(trust["Action"]) == ["sts:AssumeRole"]  # the role is the clearance: no session tag


def test_each_persona_role_has_its_access_policy(any_lake: Rendered) -> None:
    roles = {
        logical_id: r["Properties"]["RoleName"]
        for logical_id, r in any_lake.prod.of_type("AWS::IAM::Role").items()
        if r["Properties"].get("Path", "/").startswith(f"/{any_lake.config.lake}/")
    }
    attached = {role["Ref"]: p["PolicyDocument"] for p in persona_policies(any_lake) for role in p["Roles"]}
    assert set(attached) == set(roles)
    for document in attached.values():
        assert statement(document, "ListZoneBuckets")["Effect"] == "Allow"
        assert statement(document, "DenyGuardrailChanges")["Effect"] == "Deny"
        assert all(s.get("Sid") for s in document["Statement"])


def test_athena_results_follow_the_persona_policies_per_user_prefix(any_lake: Rendered) -> None:
    """Personas may only write results under their own `${aws:userid}/`: the workgroup must not force
    one shared location, and every persona gets the Athena key through S3 for that bucket only."""
    (workgroup,) = any_lake.prod.of_type("AWS::Athena::WorkGroup").values()
    assert workgroup["Properties"]["WorkGroupConfiguration"]["EnforceWorkGroupConfiguration"] is False
    for policy in persona_policies(any_lake):
        results = statement(policy["PolicyDocument"], "OwnQueryResults")
        assert any(literal(r).endswith("/${aws:userid}/*") for r in as_list(results["Resource"]))
    key_policy = any_lake.prod.props(LogicalIds.ATHENA_KEY)["KeyPolicy"]
    grant = statement(key_policy, "PersonasAthenaViaS3")
    bucket_arn = f"arn:${{AWS::Partition}}:s3:::{any_lake.names.athena_results_bucket}"
    context = grant["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"]
    assert [literal(c) for c in context] == [bucket_arn, f"{bucket_arn}/*"]
    persona_role_ids = {
        logical_id
        for logical_id, r in any_lake.prod.of_type("AWS::IAM::Role").items()
        if r["Properties"].get("Path", "/").startswith(f"/{any_lake.config.lake}/")
    }
    assert {flatten(p) for p in as_list(grant["Principal"]["AWS"])} == {f"${{{i}.Arn}}" for i in persona_role_ids}


def test_ops_key_grant_for_the_glue_bucket_leaves_out_analysts(any_lake: Rendered) -> None:
    key_policy = any_lake.prod.props(LogicalIds.OPS_KEY)["KeyPolicy"]
    grant = statement(key_policy, "PersonasGlueBucketViaS3")
    principals = {flatten(p) for p in as_list(grant["Principal"]["AWS"])}
    expected = {
        f"${{{principal_logical_id(p)}.Arn}}"
        for p in policies.persona_principals(any_lake.config, personas.GLUE_SCRIPT_PERSONAS)
    }
    assert principals == expected
    # the same grant this module offers for the ops key's policy
    (offered,) = personas.ops_key_persona_statements(_lake_template(any_lake))
    assert offered.Sid == "PersonasGlueBucketViaS3"


def _lake_template(lake: Rendered) -> LakeTemplate:
    return LakeTemplate.new(lake.config, "test")


def test_bucket_and_key_policies_are_wired_to_the_persona_roles(default_lake: Rendered) -> None:
    prod = default_lake.prod
    steward = f"${{{principal_logical_id('steward')}.Arn}}"
    for zone in default_lake.config.zones:
        key_policy = prod.props(LogicalIds.zone(zone.name, "Key"))["KeyPolicy"]
        administer = statement(key_policy, "AdministerKeyBySteward")
        assert steward in {flatten(p) for p in as_list(administer["Principal"]["AWS"])}
        bucket_policy = prod.props(LogicalIds.zone(zone.name, "BucketPolicy"))["PolicyDocument"]
        versions = statement(bucket_policy, "DenyVersionDeletes")
        assert [literal(p) for p in as_list(versions["Condition"]["ArnNotLike"]["aws:PrincipalArn"])] == [
            policies.persona_role_pattern(default_lake.names, "steward")
        ]


def test_outputs_name_every_bucket_queue_and_role(any_lake: Rendered) -> None:
    values = [flatten(o["Value"]) for o in any_lake.prod.outputs.values()]
    for zone in any_lake.config.zones:
        assert f"${{{LogicalIds.zone(zone.name, 'Bucket')}}}" in values
    for route in queue_routes(any_lake.config, any_lake.names):
        queue = LogicalIds.route(route.zone.name, route.dataset, "Queue")
        assert f"${{{queue}}}" in values  # Ref of a queue is its URL
    for logical_id, role in any_lake.prod.of_type("AWS::IAM::Role").items():
        props = role["Properties"]
        if props.get("Path", "/").startswith(f"/{any_lake.config.lake}/") or flatten(
            props.get("RoleName", "")
        ).startswith(f"{any_lake.config.lake}-"):
            assert f"${{{logical_id}.Arn}}" in values, props.get("RoleName")


def test_every_persona_role_is_an_output_by_its_principal(any_lake: Rendered) -> None:
    for principal in policies.persona_principals(any_lake.config):
        output = any_lake.prod.outputs[outputs.role_arn(principal.replace("/", "-"))]
        assert output["Value"] == arn_of(principal_logical_id(principal))

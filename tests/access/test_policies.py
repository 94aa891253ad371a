"""The generated policy documents themselves: shape, limits and the three defects of the original design."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from datalake_cfn.access import policies as gen
from datalake_cfn.access.patterns import pattern_matches
from datalake_cfn.config import PERSONA_NAMES, LakeConfig, parse_config
from datalake_cfn.naming import LakeNames

REPO = Path(__file__).resolve().parents[2]
S3_ACTIONS = REPO / "node_modules" / "@cloud-copilot" / "iam-data" / "data" / "actions" / "s3.json"

# IAM's documented quotas (characters, whitespace excluded):
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
INLINE_ROLE_POLICIES = 10_240
BUCKET_POLICY = 20 * 1024
KEY_POLICY = 32 * 1024


def all_documents(config: LakeConfig) -> Iterator[tuple[str, dict[str, Any]]]:
    names = LakeNames.for_config(config)
    arns = gen.LakeArns.static(config, names)
    for persona in PERSONA_NAMES:
        for clearance in gen.persona_clearances(config, persona):
            yield (
                f"identity {persona}/{clearance}",
                gen.persona_identity_policy(config, names, arns, persona, clearance).to_dict(),
            )
    for zone in config.zones:
        yield f"bucket {zone.name}", gen.zone_bucket_policy(config, names, arns, zone.name).to_dict()
        yield f"key {zone.name}", gen.zone_key_policy(config, names, arns, zone.name).to_dict()
    for zone in config.chained_zones:
        statements = gen.pipeline_role_statements(config, names, arns, zone.name, [names.queue(zone.name)])
        yield f"pipeline {zone.name}", gen.policy(statements).to_dict()
    yield "glue job", gen.policy(gen.glue_job_role_statements(config, names, arns)).to_dict()
    yield "crawler", gen.policy(gen.crawler_role_statements(config, names, arns)).to_dict()


def size(document: dict[str, Any]) -> int:
    return len(re.sub(r"\s", "", json.dumps(document)))


def big_lake() -> LakeConfig:
    zones = [{"name": f"zone{i}", "next": f"zone{i + 1}" if i < 10 else None} for i in range(11)]
    return parse_config(
        {
            "lake": "a-long-lake-name-x",
            "zones": [*zones, {"name": "sandbox"}],
            "datasets": [{"name": f"dataset_number_{i}"} for i in range(30)],
        }
    )


@pytest.mark.parametrize("mode", ["tag", "roles"])
def test_every_statement_has_a_unique_alphanumeric_sid(acme: LakeConfig, acme_roles: LakeConfig, mode: str) -> None:
    config = acme if mode == "tag" else acme_roles
    for label, document in all_documents(config):
        sids = [s["Sid"] for s in document["Statement"]]
        assert len(sids) == len(set(sids)), label
        assert all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids), label


def test_no_json_object_repeats_a_key_and_conditions_use_one_key_per_operator(acme: LakeConfig) -> None:
    """Defect 1 of the original design: one JSON key repeated three times (a parser keeps the last)."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate keys {keys}"
        return dict(pairs)

    for label, document in all_documents(acme):
        text = json.dumps(document, indent=1)
        json.loads(text, object_pairs_hook=no_duplicates)
        for statement in document["Statement"]:
            for operator, keys in statement.get("Condition", {}).items():
                lowered = [k.lower() for k in keys]
                assert len(lowered) == len(set(lowered)), (label, statement["Sid"], operator)


def test_no_action_star_on_data_outside_the_steward(acme: LakeConfig) -> None:
    """Acceptance 4: no `"Action": "*"`; `s3:*` only in the steward's grant and in Deny guardrails."""
    for label, document in all_documents(acme):
        for statement in document["Statement"]:
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            assert "*" not in actions, (label, statement["Sid"])
            assert "NotAction" not in statement, (label, statement["Sid"])
            if "s3:*" in actions and statement["Effect"] == "Allow":
                assert label == "identity steward/None", (label, statement["Sid"])


def test_read_denies_cover_every_object_read_action_s3_defines() -> None:
    """Defect 2: denying only s3:GetObject leaves s3:GetObjectVersion (which grant_read allows) open."""
    actions = json.loads(S3_ACTIONS.read_text())
    object_reads = sorted(
        f"s3:{a['name']}"
        for a in actions.values()
        if a["accessLevel"] == "Read" and any(r["name"] == "object" for r in a["resourceTypes"])
    )
    assert "s3:GetObjectVersion" in object_reads and len(object_reads) >= 10
    for action in [*object_reads, "s3:RestoreObject"]:
        assert any(
            pattern_matches(p, action, None, wildcards=True, ignore_case=True) for p in gen.READ_GUARDED_ACTIONS
        ), action
    for action in gen.OBJECT_READ_ACTIONS:
        assert action in object_reads


def test_read_denies_are_allow_lists_that_also_deny_an_absent_tag(acme: LakeConfig) -> None:
    """Defect 3: a deny-list of levels fails open on untagged objects; ours are allow-lists."""
    names = LakeNames.for_config(acme)
    arns = gen.LakeArns.static(acme, names)
    bucket = gen.zone_bucket_policy(acme, names, arns, "curated").to_dict()
    clearance_denies = [s for s in bucket["Statement"] if s["Sid"].startswith("DenyReadAbove")]
    assert {s["Sid"] for s in clearance_denies} == {
        f"DenyReadAbove{level.capitalize()}" for level in acme.classification
    }
    for statement in clearance_denies:
        level = statement["Condition"]["StringEqualsIgnoreCase"][gen.PRINCIPAL_CLEARANCE]
        allowed = statement["Condition"]["StringNotEqualsIgnoreCase"][gen.EXISTING_CLASSIFICATION]
        assert allowed == acme.levels_up_to(level)
        assert "Null" not in statement["Condition"]  # so an absent tag matches the negated operator


def test_identity_policies_fit_inline_quota_even_for_a_large_lake() -> None:
    config = big_lake()
    for label, document in all_documents(config):
        limit = INLINE_ROLE_POLICIES if label.startswith(("identity", "pipeline", "glue", "crawler")) else None
        limit = limit or (BUCKET_POLICY if label.startswith("bucket") else KEY_POLICY)
        assert size(document) <= limit, (label, size(document))


def test_roles_mode_fits_the_quotas_too(acme_roles: LakeConfig) -> None:
    for label, document in all_documents(acme_roles):
        limit = BUCKET_POLICY if label.startswith("bucket") else INLINE_ROLE_POLICIES
        assert size(document) <= limit, label


def test_roles_mode_materializes_levels_up_to_each_persona_clearance(acme_roles: LakeConfig) -> None:
    assert gen.persona_clearances(acme_roles, "analyst") == ["public", "internal"]
    assert gen.persona_clearances(acme_roles, "steward") == acme_roles.classification
    assert gen.principal_tags(acme_roles, "analyst/public") == {"persona": "analyst", "clearance": "public"}
    names = LakeNames.for_config(acme_roles)
    arn = gen.static_role_arn(acme_roles, names, "analyst/public")
    assert arn == "arn:aws:iam::123456789012:role/acme/analyst/public/acme-analyst-public"
    assert pattern_matches(gen.persona_role_pattern(names, "analyst"), arn, None, wildcards=True, ignore_case=False)


def test_tag_mode_roles_carry_their_default_clearance(acme: LakeConfig) -> None:
    for persona in PERSONA_NAMES:
        assert gen.principal_tags(acme, persona)["clearance"] == getattr(acme.personas, persona).clearance
    assert gen.principal_tags(acme, gen.GLUE_JOB) == {"clearance": "proprietary"}  # min(scientist, engineer)
    assert gen.principal_tags(acme, "pipeline-raw") == {}


def test_zone_roles_follow_the_chain_for_any_zone_names() -> None:
    config = parse_config(
        {
            "lake": "medallion",
            "zones": [
                {"name": "landing", "next": "bronze"},
                {"name": "bronze", "next": "silver"},
                {"name": "silver", "next": "gold"},
                {"name": "gold"},
                {"name": "lab"},
                {"name": "scratch"},
            ],
        }
    )
    assert gen.zone_roles(config) == {
        "landing": "landing",
        "bronze": "intermediate",
        "silver": "intermediate",
        "gold": "curated",
        "lab": "sandbox",
        "scratch": "sandbox",
    }
    assert gen.writable_zones(config, "scientist") == ["gold"]
    assert gen.readable_zones(config, "analyst") == ["gold", "lab", "scratch"]


def test_pipeline_role_is_least_privilege(acme: LakeConfig) -> None:
    names = LakeNames.for_config(acme)
    arns = gen.LakeArns.static(acme, names)
    statements = {s.Sid: s.to_dict() for s in gen.pipeline_role_statements(acme, names, arns, "raw", ["acme-raw"])}
    assert statements["ReadSourceObjects"]["Resource"] == [f"arn:aws:s3:::{names.bucket('raw')}/*"]
    writes = statements["WriteAndTagTargetObjects"]["Resource"]
    # Not strict: undeclared datasets flow on too, so the pipeline writes anywhere in the next zone ...
    assert writes == [f"arn:aws:s3:::{names.bucket('staged')}/*"]
    strict = acme.model_copy(update={"strict": True})  # ... strict: only under the declared prefixes
    strict_writes = {s.Sid: s.to_dict() for s in gen.pipeline_role_statements(strict, names, arns, "raw", [])}
    assert strict_writes["WriteAndTagTargetObjects"]["Resource"] == [
        f"arn:aws:s3:::{names.bucket('staged')}/{d.key_prefix}*" for d in acme.datasets
    ]
    assert statements["ConsumeZoneQueues"]["Resource"] == [names.queue_arn("acme-raw")]
    assert statements["SendToDeadLetterQueue"]["Action"] == ["sqs:SendMessage"]
    with pytest.raises(ValueError, match="no next zone"):
        gen.pipeline_role_statements(acme, names, arns, "curated", [])


def test_unknown_persona_or_clearance_is_refused(acme: LakeConfig) -> None:
    names = LakeNames.for_config(acme)
    arns = gen.LakeArns.static(acme, names)
    with pytest.raises(ValueError, match="unknown persona"):
        gen.persona_identity_policy(acme, names, arns, "intern")
    with pytest.raises(ValueError, match="unknown clearance"):
        gen.persona_identity_policy(acme, names, arns, "analyst", "topsecret")


def test_documents_are_awacs_and_to_dict_is_their_json(acme: LakeConfig) -> None:
    """Every statement is an awacs Statement with a Sid; `to_dict()` is exactly awacs' own JSON."""
    import awacs
    import awacs.aws

    names = LakeNames.for_config(acme)
    arns = gen.LakeArns.static(acme, names)
    document = gen.zone_bucket_policy(acme, names, arns, "curated")
    assert isinstance(document, awacs.aws.PolicyDocument)
    assert all(isinstance(s, awacs.aws.Statement) and s.Sid for s in document.Statement)
    assert document.to_dict() == json.loads(json.dumps(document, cls=awacs.awsencode))
    for statements in (
        gen.pipeline_role_statements(acme, names, arns, "raw", ["acme-raw"]),
        gen.glue_job_role_statements(acme, names, arns),
        gen.crawler_role_statements(acme, names, arns),
        gen.zone_key_policy_statements(acme, names, arns, "raw"),
    ):
        assert all(isinstance(s, awacs.aws.Statement) for s in statements)


def test_conditions_merge_a_repeated_operator_instead_of_dropping_it() -> None:
    """awacs' Condition keeps only the last element of a repeated operator; `conditions()` merges them."""
    from awacs.aws import ArnNotLike, Null

    merged = gen.conditions(Null({"a:x": "false"}), ArnNotLike({"aws:PrincipalArn": ["p"]}), Null({"a:y": "true"}))
    assert gen.to_plain(merged) == {"Null": {"a:x": "false", "a:y": "true"}, "ArnNotLike": {"aws:PrincipalArn": ["p"]}}
    with pytest.raises(ValueError, match="twice"):
        gen.conditions(Null({"a:x": "false"}), Null({"A:X": "true"}))


def test_every_arn_takes_the_lakes_partition(acme: LakeConfig) -> None:
    china = LakeNames.for_config(acme, region="cn-north-1")
    assert china.partition == "aws-cn"
    arns = gen.LakeArns.static(acme, china)
    for label, document in _documents(acme, china, arns):
        text = json.dumps(document)
        assert '"arn:aws:' not in text and "*arn:aws:" not in text, label
        assert "arn:aws-cn:" in text, label


def test_template_names_need_no_concrete_account_region_or_partition(acme_roles: LakeConfig) -> None:
    """With `LakeNames.for_template` and `base.template_arns`, documents hold only placeholders."""
    from datalake_cfn.stacks.base import LakeTemplate, template_arns

    lake = LakeTemplate.new(acme_roles, "test")
    concrete = LakeNames.for_config(acme_roles)
    for label, document in _documents(acme_roles, lake.names, template_arns(lake)):
        text = json.dumps(document)
        assert "arn:aws:" not in text and "arn:${AWS::Partition}:" in text, label
        assert concrete.account not in text and concrete.region not in text, label


def _documents(config: LakeConfig, names: LakeNames, arns: gen.LakeArns) -> Iterator[tuple[str, dict[str, Any]]]:
    for persona in PERSONA_NAMES:
        for clearance in gen.persona_clearances(config, persona):
            yield persona, gen.persona_identity_policy(config, names, arns, persona, clearance).to_dict()
    for zone in config.zones:
        yield zone.name, gen.zone_bucket_policy(config, names, arns, zone.name).to_dict()
        yield zone.name, gen.zone_key_policy(config, names, arns, zone.name).to_dict()
    for zone in config.chained_zones:
        yield zone.name, gen.policy(gen.pipeline_role_statements(config, names, arns, zone.name, ["q"])).to_dict()
    yield "glue", gen.policy(gen.glue_job_role_statements(config, names, arns)).to_dict()
    yield "crawler", gen.policy(gen.crawler_role_statements(config, names, arns)).to_dict()

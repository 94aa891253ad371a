"""The persona roles: steward, engineer, scientist, analyst.

One role per persona under the IAM path `/<lake>/<persona>/` (the job function is readable in the
ARN, and the bucket policies match personas by that path); clearance is a second axis carried by
the tag `clearance` (`clearance_mode: tag`, the default: each role is tagged with its persona's
clearance and the trust policy allows `sts:TagSession`, so an identity provider can pass a
person's lower clearance as a session tag). With `clearance_mode: roles` there is one role per
persona and level, under `/<lake>/<persona>/<level>/`. Which roles exist, the tags they carry and
their identity policies come from :mod:`datalake_cfn.access.policies`.

Who may assume them is the account's business (an IAM Identity Center permission set, a SAML IdP,
...): the trust policy delegates to the account, which still needs a policy allowing
`sts:AssumeRole` on the role.

Each role's identity policy is a separate `AWS::IAM::Policy`: the zone key policies name the
roles (`${PersonaStewardRole.Arn}`) and the identity policies name the keys, so a role carrying
its policy inline would close a dependency cycle. The Athena and ops keys' grants for personas
(through S3, for one bucket each) are built here and put in those keys' policies by their owners.
"""

from __future__ import annotations

from typing import Any

from awacs.aws import Statement
from troposphere import GetAtt, Output, Ref, Tags
from troposphere.iam import PolicyType, Role

from datalake_cfn.access import policies
from datalake_cfn.config import PERSONA_NAMES
from datalake_cfn.naming import LogicalIds
from datalake_cfn.stacks import outputs
from datalake_cfn.stacks.base import (
    COMPLIANCE_PACKS,
    LAKE_TAG,
    LakeTemplate,
    cfn,
    iam5_findings,
    nag_metadata,
    principal_logical_id,
    template_arns,
)

MAX_SESSION_SECONDS = 4 * 3600
POLICY_NAME = "datalake-access"  # the access matrix and the tests find persona policies by this name
FULL_ACCESS = {
    "steward": (
        "The data steward administers the lake: s3:* on the lake's zone buckets only (their guardrail settings "
        "stay denied) and glue:* on the lake's catalog, jobs and crawler only, per the personas table."
    ),
    "scientist": (
        "The data scientist uses SageMaker freely in this account and region (sagemaker:* on "
        "arn:aws:sagemaker:<region>:<account>:*), per the personas table; lake data access is bounded "
        "separately by zone, prefix and clearance."
    ),
}
# Personas whose identity policy grants the Glue bucket's scripts/ prefix (GlueJobScripts): all but analysts.
GLUE_SCRIPT_PERSONAS = ("steward", "engineer", "scientist")


def policy_logical_id(principal: str) -> str:
    """`analyst/internal` -> `PersonaAnalystInternalPolicy` (the role is `...Role`)."""
    return LogicalIds.principal(principal.replace("/", "-"), "Policy")


def persona_principals(lake: LakeTemplate, personas: tuple[str, ...] = PERSONA_NAMES) -> list[str]:
    """Principal keys of the persona roles this lake has (`analyst`, or `analyst/internal` in roles mode)."""
    return policies.persona_principals(lake.config, personas)


def add_personas(lake: LakeTemplate) -> None:
    """Every persona role of the lake, its identity policy, and its output."""
    for persona in PERSONA_NAMES:
        for clearance in policies.persona_clearances(lake.config, persona):
            principal = policies.principal_name(persona, clearance)
            _add_role(lake, persona, clearance, principal)
            _add_policy(lake, persona, clearance, principal)
            lake.template.add_output(
                Output(
                    outputs.role_arn(principal.replace("/", "-")),
                    Description=f"Persona {principal}",
                    Value=GetAtt(principal_logical_id(principal), "Arn"),
                )
            )


def _add_role(lake: LakeTemplate, persona: str, clearance: str | None, principal: str) -> Role:
    names = lake.names
    tags = {LAKE_TAG: lake.config.lake, **policies.principal_tags(lake.config, principal)}
    return lake.add(
        Role(
            principal_logical_id(principal),
            RoleName=names.role_name(persona, clearance),
            Path=names.role_path(persona, clearance),
            AssumeRolePolicyDocument=cfn(policies.persona_trust(names, session_tags=clearance is None)),
            MaxSessionDuration=MAX_SESSION_SECONDS,
            Description=_description(lake, persona, clearance),
            Tags=Tags(**dict(sorted(tags.items()))),
        )
    )


def _add_policy(lake: LakeTemplate, persona: str, clearance: str | None, principal: str) -> PolicyType:
    document = cfn(policies.persona_identity_policy(lake.config, lake.names, template_arns(lake), persona, clearance))
    acknowledgements = [
        *wildcard_acknowledgements(document, principal),
        *(
            (
                f"{pack}-IAMNoInlinePolicy",
                f"The {principal} persona policy belongs to that one role and is generated per lake by "
                "datalake_cfn.access.policies (reviewed as code, evaluated by the access matrix); a role policy "
                "keeps its lifecycle bound to the role and gives it the 10,240-character budget it needs.",
            )
            for pack in COMPLIANCE_PACKS
        ),
    ]
    if persona in FULL_ACCESS:
        acknowledgements += [
            (f"{pack}-IAMPolicyNoStatementsWithFullAccess", f"{principal}: {FULL_ACCESS[persona]}")
            for pack in COMPLIANCE_PACKS
        ]
    return lake.add(
        PolicyType(
            policy_logical_id(principal),
            PolicyName=POLICY_NAME,
            PolicyDocument=document,
            Roles=[Ref(principal_logical_id(principal))],
            Metadata=nag_metadata(*acknowledgements),
        )
    )


def _finding_reason(finding: str, owner: str) -> str:
    """Why one wildcard of a generated lake policy is by design (short: a big lake has hundreds)."""
    kind, _, value = finding.partition("::")
    if kind == "Action":
        return f"{owner}: the {value} action family of its job function, on the lake's own resources only."
    if "aws:userid" in value:
        return f"{owner}: its own Athena results prefix (<aws:userid>/*), so no caller reads another's results."
    if ":s3:::" in value:
        return f"{owner}: objects of a lake bucket by zone or dataset prefix; object keys are data."
    if ":table/" in value:
        return f"{owner}: the tables of the lake's own Glue database, whose names come from zones and datasets."
    if ":job/" in value:
        return f"{owner}: the lake's own Glue jobs (named <lake>-*), one per script in glue_scripts/."
    if ":log-group:" in value:
        return f"{owner}: Glue's own log groups under /aws-glue/, which Glue names per job run."
    if ":sagemaker:" in value or ":quicksight:" in value:
        return f"{owner}: the service its job function uses, per the personas table (this account only)."
    return f"{owner}: wildcard generated by datalake_cfn.access.policies, where the access matrix evaluates it."


def wildcard_acknowledgements(document: dict[str, Any], owner: str) -> list[tuple[str, str]]:
    """`(AwsSolutions-IAM5[<finding>], reason)` for every wildcard finding of a rendered policy document."""
    return [(f"AwsSolutions-IAM5[{f}]", _finding_reason(f, owner)) for f in iam5_findings(document)]


def _description(lake: LakeTemplate, persona: str, clearance: str | None) -> str:
    config = lake.config
    if clearance is None:
        maximum = policies.persona_clearance(config, persona)
        return f"datalake {config.lake} {persona}: clearance {maximum}, lowered per session by the clearance tag"
    return f"datalake {config.lake} {persona} with clearance {clearance}"


# -- the persona grants on the service keys --------------------------------------------------------------
def _role_arns(principals: list[str]) -> list[str]:
    return [f"${{{principal_logical_id(p)}.Arn}}" for p in principals]


def athena_key_persona_statements(lake: LakeTemplate) -> list[Statement]:
    """Every persona reads and writes its own Athena results (OwnQueryResults): the Athena key, through S3,
    for the results bucket only. Put in the Athena key's policy by :mod:`datalake_cfn.stacks.catalog`."""
    bucket = f"arn:{lake.names.partition}:s3:::{lake.names.athena_results_bucket}"
    principals = persona_principals(lake)
    statement = policies.personas_via_s3_statement
    return [statement("PersonasAthenaViaS3", lake.names, _role_arns(principals), bucket)]


def ops_key_persona_statements(lake: LakeTemplate) -> list[Statement]:
    """Stewards, engineers and scientists use the Glue bucket's scripts/ prefix (GlueJobScripts), which the
    ops key encrypts: the ops key, through S3, for the Glue bucket only. For the ops key's policy
    (:func:`datalake_cfn.stacks.zones.add_shared_storage`)."""
    bucket = f"arn:{lake.names.partition}:s3:::{lake.names.glue_assets_bucket}"
    principals = persona_principals(lake, GLUE_SCRIPT_PERSONAS)
    statement = policies.personas_via_s3_statement
    return [statement("PersonasGlueBucketViaS3", lake.names, _role_arns(principals), bucket)]

"""The persona roles: steward, engineer, scientist, analyst.

One role per persona under the IAM path `/<lake>/<persona>/` (the job function is readable in the
ARN, and the bucket policies match personas by that path); clearance is a second axis carried by
the tag `clearance` (`clearance_mode: tag`, the default: each role is tagged with its persona's
clearance and the trust policy allows `sts:TagSession`, so an identity provider can pass a
person's lower clearance as a session tag). With `clearance_mode: roles` there is one role per
persona and level, under `/<lake>/<persona>/<level>/`. Which roles exist and the tags they carry
come from :mod:`datalake_cfn.access.policies`, like their policy content.

Who may assume them is the account's business (an IAM Identity Center permission set, a SAML IdP,
...): the trust policy delegates to the account, which still needs a policy allowing
`sts:AssumeRole` on the role.
"""

from __future__ import annotations

import re

from aws_cdk import Duration, Tags
from aws_cdk import aws_iam as iam
from constructs import Construct

from datalake_cfn.access import policies
from datalake_cfn.config import PERSONA_NAMES, LakeConfig
from datalake_cfn.infra.access import LakeAccess
from datalake_cfn.infra.nag import acknowledge, actions, expect_wildcards, lake_objects
from datalake_cfn.infra.zone import construct_id
from datalake_cfn.naming import LakeNames

MAX_SESSION = Duration.hours(4)


class PersonaRoles(Construct):
    """Creates the roles first (so bucket and key policies can name them), their policies later."""

    def __init__(self, scope: Construct, construct_id_: str, *, config: LakeConfig, names: LakeNames) -> None:
        super().__init__(scope, construct_id_)
        self.config = config
        self.names = names
        self.roles: dict[str, iam.Role] = {}  # principal key (`analyst`, `analyst-internal`) -> role
        self._specs: dict[str, tuple[str, str | None]] = {}
        for persona in PERSONA_NAMES:
            for clearance in policies.persona_clearances(config, persona):
                key = policies.principal_name(persona, clearance)
                account = iam.AccountRootPrincipal()
                trust: iam.IPrincipal = iam.SessionTagsPrincipal(account) if clearance is None else account
                role = iam.Role(
                    self,
                    construct_id(persona) + (construct_id(clearance) if clearance else ""),
                    role_name=names.role_name(persona, clearance),
                    path=names.role_path(persona, clearance),
                    assumed_by=trust,
                    max_session_duration=MAX_SESSION,
                    description=_description(config, persona, clearance),
                )
                for tag, value in policies.principal_tags(config, key).items():
                    Tags.of(role).add(tag, value)
                self.roles[key] = role
                self._specs[key] = (persona, clearance)

    def attach_policies(self, access: LakeAccess) -> None:
        """Attach each role's identity policy (after every resource it names exists)."""
        for key, role in self.roles.items():
            persona, clearance = self._specs[key]
            policy = iam.Policy(
                self,
                f"{role.node.id}Access",
                policy_name="datalake-access",
                document=access.persona_policy(persona, clearance),
                roles=[role],
            )
            expect_wildcards(policy, _wildcard_reason(key, persona), self._wildcard_patterns(persona))
            acknowledge(
                policy,
                [f"{pack}-IAMNoInlinePolicy" for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")],
                f"The {key} persona policy belongs to that one role and is generated per lake by "
                "datalake_cfn.access.policies (reviewed as code, evaluated by the access matrix); inline keeps its "
                "lifecycle bound to the role and gives it the 10,240-character inline budget it needs.",
            )
            if persona in FULL_ACCESS:
                acknowledge(
                    policy,
                    [
                        f"{pack}-IAMPolicyNoStatementsWithFullAccess"
                        for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")
                    ],
                    f"{key}: {FULL_ACCESS[persona]}",
                )

    def _wildcard_patterns(self, persona: str) -> list[str]:
        names = self.names
        account, region = r"\d{12}", "[a-z0-9-]+"
        buckets = [names.bucket(z.name) for z in self.config.zones]
        buckets += [names.athena_results_bucket, names.glue_assets_bucket]
        wildcard_actions = [
            *policies.KMS_ADMIN_ACTIONS,
            *policies.GLUE_CATALOG_READ,
            *policies.GLUE_CATALOG_WRITE,
            *policies.GLUE_JOBS,
            *policies.ATHENA_QUERY,
            *PERSONA_SERVICE_WILDCARDS.get(persona, ()),
        ]
        return [
            lake_objects(buckets),
            actions(wildcard_actions),
            rf"Resource::arn:aws:glue:{region}:{account}:table/{re.escape(names.glue_database)}/\*",
            rf"Resource::arn:aws:glue:{region}:{account}:job/{re.escape(names.lake)}-\*",
            rf"Resource::arn:aws:sagemaker:{region}:{account}:\*",
            rf"Resource::arn:aws:quicksight:\*:{account}:\*",
        ]


PERSONA_SERVICE_WILDCARDS = {"steward": ("s3:*", "glue:*"), "scientist": ("sagemaker:*",)}
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


def _wildcard_reason(key: str, persona: str) -> str:
    return (
        f"The {key} persona reads and writes objects by zone and dataset prefix (bucket/<prefix>*: object keys "
        "are data), uses the lake database's tables (table/<db>/*), its own Athena results prefix "
        "(<aws:userid>/*) and the catalog/Glue/Athena action families of its job function "
        f"({', '.join(PERSONA_SERVICE_WILDCARDS.get(persona, ())) or 'no service-wide wildcard'}). "
        "Statements come from datalake_cfn.access.policies, where the access matrix evaluates them."
    )


def _description(config: LakeConfig, persona: str, clearance: str | None) -> str:
    maximum = getattr(config.personas, persona).clearance
    if clearance is None:
        return f"datalake {config.lake} {persona}: clearance {maximum}, lowered per session by the clearance tag"
    return f"datalake {config.lake} {persona} with clearance {clearance}"

"""What every template module shares: the lake being rendered, its template, and `cfn()`.

Why names are strings with placeholders: `LakeNames.for_template` writes the account, region and
partition as `${AWS::AccountId}`-style placeholders, and the policies in
:mod:`datalake_cfn.access.policies` reference keys and roles as `${LogicalId.Arn}`. The same
functions then name things for the local lake (concrete strings) and for the templates;
:func:`cfn` turns any string that holds a placeholder into `Fn::Sub` at the last moment, escaping
IAM policy variables (`${aws:userid}` must be written `${!aws:userid}` inside `Fn::Sub`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from troposphere import AWSHelperFn, AWSObject, GetAtt, Join, Sub, Tags, Template
from troposphere import s3 as s3_resources

from datalake_cfn.access.policies import TLS_SID
from datalake_cfn.blueprint import LakeBlueprint, lake_blueprint
from datalake_cfn.config import LakeConfig
from datalake_cfn.naming import LakeNames, LogicalIds

if TYPE_CHECKING:
    from datalake_cfn.access.policies import LakeArns

# `${AWS::Region}`, `${Param}`, `${Resource.Arn}`: what CloudFormation substitutes.
_CFN_TOKEN = re.compile(r"\$\{(AWS::[A-Za-z]+|[A-Za-z0-9]+(?:\.[A-Za-z0-9.]+)?)\}")
# `${aws:userid}`, `${s3:prefix}`, `${*}`: IAM policy variables, which CloudFormation must leave alone.
_IAM_VARIABLE = re.compile(r"\$\{(?!!)((?:[a-z0-9-]+:[^}]+)|[*?$])\}")

R = TypeVar("R", bound=AWSObject)


def has_placeholder(value: str) -> bool:
    return _CFN_TOKEN.search(value) is not None


def cfn(value: Any) -> Any:
    """`value` with every string that holds a CloudFormation placeholder wrapped in `Fn::Sub`.

    Dicts and lists are walked (policy documents from `to_dict()`); objects that serialise
    themselves (troposphere helpers, awacs documents) are turned into dicts first.
    """
    if isinstance(value, AWSHelperFn):
        return value
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    elif hasattr(value, "JSONrepr"):  # a plain awacs object (awacs 2.6 has no to_dict)
        value = json.loads(value.to_json())
    if isinstance(value, str):
        return Sub(_IAM_VARIABLE.sub(r"${!\1}", value)) if has_placeholder(value) else value
    if isinstance(value, dict):
        return {k: cfn(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [cfn(v) for v in value]
    return value


def nag_metadata(*acknowledgements: tuple[str, str]) -> dict[str, Any]:
    """Resource Metadata acknowledging cdk-nag findings: (rule id, why it does not apply here).

    cdk-nag reads `Metadata.cdk_nag.rules_to_suppress` of a raw template's resources; each
    reason must be specific to the resource that carries it.
    """
    return {"cdk_nag": {"rules_to_suppress": [{"id": rule, "reason": reason} for rule, reason in acknowledgements]}}


def merge_metadata(*parts: dict[str, Any]) -> dict[str, Any]:
    """Several Metadata dicts in one; `cdk_nag` suppression lists are concatenated."""
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if key == "cdk_nag" and key in merged:
                merged[key]["rules_to_suppress"] = merged[key]["rules_to_suppress"] + value["rules_to_suppress"]
            else:
                merged[key] = value
    return merged


@dataclass
class LakeTemplate:
    """One template being rendered for one lake: modules add resources through :meth:`add`."""

    config: LakeConfig
    template: Template
    names: LakeNames
    blueprint: LakeBlueprint = field(init=False)

    def __post_init__(self) -> None:
        self.blueprint = lake_blueprint(self.config, self.names)

    @classmethod
    def new(cls, config: LakeConfig, description: str) -> LakeTemplate:
        template = Template(Description=description)
        template.set_version("2010-09-09")
        return cls(config=config, template=template, names=LakeNames.for_template(config))

    def add(self, resource: R) -> R:
        """Add a resource (troposphere raises on a duplicate logical id: two names collided)."""
        return self.template.add_resource(resource)


def arn_placeholder(logical_id: str) -> str:
    """A resource's ARN as a `Fn::Sub` placeholder, `${Id.Arn}`, for strings :func:`cfn` wraps."""
    return "${" + logical_id + ".Arn}"


def principal_logical_id(principal: str) -> str:
    """The logical id of the role behind a principal key of :mod:`datalake_cfn.access.policies`."""
    from datalake_cfn.access import policies

    if principal == policies.CRAWLER:
        return LogicalIds.CRAWLER_ROLE
    if principal == policies.GLUE_JOB:
        return LogicalIds.GLUE_JOB_ROLE
    if principal.startswith(policies.PIPELINE_PREFIX):
        return LogicalIds.zone(principal.removeprefix(policies.PIPELINE_PREFIX), "PipelineRole")
    return LogicalIds.principal(principal.replace("/", "-"))


def template_arns(lake: LakeTemplate) -> LakeArns:
    """How the access policies name things inside a template.

    Keys and roles are `${LogicalId.Arn}` (a real reference: KMS and S3 check that a policy's
    principals exist, so the policy must wait for the role); buckets and queues are computed
    names, which breaks the bucket -> key -> role -> bucket cycle a reference would make.
    """
    from datalake_cfn.access.policies import LakeArns

    names = lake.names
    return LakeArns(
        config=lake.config,
        names=names,
        bucket_arn=lambda zone: f"arn:{names.partition}:s3:::{names.bucket(zone)}",
        key_arn=lambda zone: arn_placeholder(LogicalIds.zone(zone, "Key")),
        role_arn=lambda principal: arn_placeholder(principal_logical_id(principal)),
        queue_arn=names.queue_arn,
        dlq_key_arn=arn_placeholder(LogicalIds.DLQ_KEY),
    )


def tls_resources_by_reference(document: dict[str, Any], bucket_id: str) -> dict[str, Any]:
    """The bucket policy's `DenyInsecureTransport` naming the bucket as `GetAtt` and `Join(GetAtt, "/*")`.

    Same ARNs as the `Fn::Sub` placeholders; Control Tower's CT.S3.PR.8 (cfn-guard) recognises only
    this form as "the bucket and its objects".
    """
    arn = GetAtt(bucket_id, "Arn")
    for statement in document["Statement"]:
        if statement.get("Sid") == TLS_SID:
            statement["Resource"] = [arn, Join("", [arn, "/*"])]
    return document


def eventbridge_notifications() -> s3_resources.NotificationConfiguration:
    """Object events to EventBridge's default bus: no rule, no cost, nothing else to create.

    Control Tower's CT.S3.PR.4 wants event notifications on every bucket; buckets whose events feed
    nothing (logs, scratch, audit) get this one.
    """
    return s3_resources.NotificationConfiguration(
        EventBridgeConfiguration=s3_resources.EventBridgeConfiguration(EventBridgeEnabled=True)
    )


# -- cdk-nag packs ---------------------------------------------------------------------------------------
COMPLIANCE_PACKS = ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")
"""The three compliance packs whose rule ids are `<pack>-<Rule>` (AwsSolutions' are `AwsSolutions-<id>`)."""
INLINE_POLICY_RULES = tuple(f"{pack}-IAMNoInlinePolicy" for pack in COMPLIANCE_PACKS)
"""The packs' rule against IAM policies that are not AWS-managed: every lake policy is its own resource."""


# -- tags ----------------------------------------------------------------------------------------------
LAKE_TAG = "datalake:lake"
ZONE_TAG = "datalake:zone"


def lake_tags(lake: LakeTemplate, zone: str | None = None) -> Tags:
    """The lake's tags (and the zone's): cost allocation and `aws:ResourceTag` conditions key on them."""
    tags = {LAKE_TAG: lake.config.lake}
    if zone is not None:
        tags[ZONE_TAG] = zone
    return Tags(tags)


def ref_placeholder(logical_id: str) -> str:
    """`${Id}` inside a string that becomes `Fn::Sub` (a queue's URL, a parameter's value)."""
    return "${" + logical_id + "}"


# -- cdk-nag AwsSolutions-IAM5: one acknowledgement per wildcard finding ------------------------------------
def _nag_text(value: Any) -> str:
    """cdk-nag's flattening of a rendered value: a Sub's text, with `${X}` written `<X>`."""
    if isinstance(value, AWSHelperFn):
        value = value.to_dict()
    if isinstance(value, dict) and "Fn::Sub" in value:
        value = value["Fn::Sub"]
    return value.replace("${", "<").replace("}", ">") if isinstance(value, str) else json.dumps(value)


def iam5_findings(document: dict[str, Any]) -> list[str]:
    """The AwsSolutions-IAM5 findings cdk-nag reports for a policy document (Allow statements only).

    cdk-nag 3 acknowledges a wildcard only by its exact finding id, so each one is acknowledged on
    its own, with the reason it is there by design.
    """
    findings: dict[str, None] = {}
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        actions, resources = statement.get("Action", []), statement.get("Resource", [])
        for action in actions if isinstance(actions, list) else [actions]:
            if "*" in action:
                findings[f"Action::{action}"] = None
        for resource in resources if isinstance(resources, list) else [resources]:
            if "*" in _nag_text(resource):
                findings[f"Resource::{_nag_text(resource)}"] = None
    return list(findings)

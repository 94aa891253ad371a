"""Read the rendered CloudFormation templates into a :class:`~datalake_cfn.access.matrix.PolicySet`.

Why: acceptance of the personas work is that the access matrix computed from *what would be
deployed* equals the spec. So this module finds, in the templates, each zone's bucket policy and
key policy (through the key alias naming.py gives the zone), each lake role (by its name from
naming.py) with its tags and every identity policy attached to it (inline `Policies`,
`AWS::IAM::Policy`, `AWS::IAM::ManagedPolicy`), and resolves their intrinsic functions with
`datalake_cfn.access.cfn` to the values CloudFormation would produce:

- `Ref`/`Fn::GetAtt` of buckets, roles and queues give the physical names they are declared with
  (the lake uses deterministic names); a KMS key's id is a deterministic stand-in derived from its
  logical id (a real key id is only known after deployment, and any consistent value decides the
  same way); pseudo parameters come from the deployment (account, region, partition).
- Anything the matrix does not need (other services' attributes) resolves to a placeholder ARN
  naming the logical id, so an unrelated policy never stops the computation. AWS-managed policies
  attached by ARN cannot be read offline and are reported in `PolicySet.source`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from datalake_cfn.access import policies as gen
from datalake_cfn.access.cfn import UnresolvedIntrinsicError, resolve_intrinsics
from datalake_cfn.access.evaluator import NamedPolicy
from datalake_cfn.access.matrix import AccessSetupError, PolicySet, RolePolicies, ZonePolicies
from datalake_cfn.config import PERSONA_NAMES, LakeConfig
from datalake_cfn.naming import LakeNames

Template = Mapping[str, Any]


@dataclass
class TemplateResolver:
    """Values of `Ref` and `Fn::GetAtt` across the lake's templates (see the module docstring)."""

    resources: dict[str, Mapping[str, Any]]
    parameters: dict[str, Any]
    account: str
    region: str
    partition: str = "aws"
    stack: str = ""
    _cache: dict[tuple[str, str], Any] = field(default_factory=dict)

    PSEUDO = ("AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::URLSuffix", "AWS::StackName", "AWS::NoValue")

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack,
            "AWS::NoValue": None,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name].get("Default", name)
        return self._value(name, "Ref")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return self._value(logical_id, attribute)

    # -- per resource type -------------------------------------------------------------------------
    def _value(self, logical_id: str, attribute: str) -> Any:
        key = (logical_id, attribute)
        if key not in self._cache:
            if logical_id not in self.resources:
                raise UnresolvedIntrinsicError(f"no resource {logical_id!r} in the templates")
            self._cache[key] = self._compute(logical_id, attribute)
        return self._cache[key]

    def _prop(self, logical_id: str, name: str, default: Any = None) -> Any:
        value = self.resources[logical_id].get("Properties", {}).get(name, default)
        return resolve_intrinsics(value, self) if value is not None else default

    def _compute(self, logical_id: str, attribute: str) -> Any:
        kind = self.resources[logical_id].get("Type", "")
        p = self.partition
        if kind == "AWS::S3::Bucket":
            name = self._prop(logical_id, "BucketName", logical_id.lower())
            return {"Ref": name, "Arn": f"arn:{p}:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}.get(
                attribute, f"{name}.{attribute}"
            )
        if kind == "AWS::KMS::Key":
            key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"datalake-template-key:{logical_id}"))
            arn = f"arn:{p}:kms:{self.region}:{self.account}:key/{key_id}"
            return {"Ref": key_id, "KeyId": key_id, "Arn": arn}.get(attribute, arn)
        if kind == "AWS::IAM::Role":
            name = self._prop(logical_id, "RoleName", logical_id)
            path = self._prop(logical_id, "Path", "/")
            arn = f"arn:{p}:iam::{self.account}:role{path}{name}"
            return {"Ref": name, "Arn": arn, "RoleId": f"AROA{logical_id.upper()[:17]}"}.get(attribute, arn)
        if kind == "AWS::SQS::Queue":
            name = self._prop(logical_id, "QueueName", logical_id)
            arn = f"arn:{p}:sqs:{self.region}:{self.account}:{name}"
            url = f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}"
            return {"Ref": url, "QueueUrl": url, "Arn": arn, "QueueName": name}.get(attribute, arn)
        if kind == "AWS::IAM::ManagedPolicy":
            name = self._prop(logical_id, "ManagedPolicyName", logical_id)
            return f"arn:{p}:iam::{self.account}:policy/{name}"
        placeholder = f"arn:{p}:cloudformation:{self.region}:{self.account}:placeholder/{logical_id}"
        return placeholder if attribute in ("Ref", "Arn") else f"{placeholder}/{attribute}"


PLACEHOLDER_PROD_ACCOUNT = "111111111111"
PLACEHOLDER_SECURITY_ACCOUNT = "222222222222"


def load_templates(outdir: str | Path, config: LakeConfig) -> dict[str, dict[str, Any]]:
    """The two templates `python build.py --out DIR` wrote (`DIR/templates/*.json`, or DIR itself), by stack name."""
    outdir = Path(outdir)
    names = deployment_names(config)
    templates: dict[str, dict[str, Any]] = {}
    for directory in (outdir / "templates", outdir):
        for stack, stack_name in (("prod", names.prod_stack), ("security", names.security_stack)):
            path = directory / f"{stack}.json"
            if stack_name not in templates and path.is_file():
                templates[stack_name] = json.loads(path.read_text(encoding="utf-8"))
    if not templates:
        raise AccessSetupError(f"no rendered templates in {outdir}; run `python build.py --out {outdir}` first")
    return templates


def render_templates(config: LakeConfig) -> dict[str, dict[str, Any]]:
    """Render both templates (as `python build.py` does), by stack name."""
    from datalake_cfn.builder import render

    names = deployment_names(config)
    stack_names = {"prod": names.prod_stack, "security": names.security_stack}
    return {stack_names[stack]: rendered.template for stack, rendered in render(config).items()}


def deployment_names(config: LakeConfig) -> LakeNames:
    """Concrete names to evaluate the templates with: lake.yaml's accounts, or documented placeholders.

    The templates name everything through `${AWS::AccountId}`; the evaluator needs concrete ARNs, and
    any account id decides the same way as long as every template is resolved with the same one.
    """
    names = LakeNames.for_config(config, account=config.accounts.prod or PLACEHOLDER_PROD_ACCOUNT)
    return replace(names, security_account=config.accounts.security or PLACEHOLDER_SECURITY_ACCOUNT)


def policy_set_from_templates(config: LakeConfig, templates: Mapping[str, Template]) -> PolicySet:
    names = deployment_names(config)
    prod = templates.get(names.prod_stack)
    if prod is None:
        raise AccessSetupError(f"no stack {names.prod_stack!r} among {sorted(templates)}")
    resources = dict(prod.get("Resources", {}))
    parameters = dict(prod.get("Parameters", {}))
    if "SecurityAccountId" in parameters:  # the launch value: the security account of this deployment
        parameters["SecurityAccountId"] = {**parameters["SecurityAccountId"], "Default": names.security_account}
    resolver = TemplateResolver(resources, parameters, names.account, names.region, names.partition, names.prod_stack)
    by_type: dict[str, list[str]] = {}
    for logical_id, resource in resources.items():
        by_type.setdefault(resource.get("Type", ""), []).append(logical_id)

    def resolve(value: Any) -> Any:
        return resolve_intrinsics(value, resolver)

    unreadable: list[str] = []
    roles = _roles(config, names, resources, by_type, resolve, unreadable)
    zones = _zones(config, names, resources, by_type, resolve)
    source = "rendered templates"
    if unreadable:
        source += f" (not evaluated: {', '.join(sorted(set(unreadable)))})"
    return PolicySet(config, names, source, roles, zones)


def _principal_keys(config: LakeConfig, names: LakeNames) -> dict[str, str]:
    """Role name -> principal key, for every lake role naming.py names."""
    keys = {
        names.role_name(persona, clearance): gen.principal_name(persona, clearance)
        for persona in PERSONA_NAMES
        for clearance in gen.persona_clearances(config, persona)
    }
    for principal in gen.all_principals(config):
        if principal.startswith(gen.PIPELINE_PREFIX) or principal in (gen.GLUE_JOB, gen.CRAWLER):
            keys[names.service_role_name(principal)] = principal
    return keys


def _refers_to(value: Any, logical_id: str) -> bool:
    return value == {"Ref": logical_id} or (
        isinstance(value, Mapping) and value.get("Fn::GetAtt") in ([logical_id, "Arn"], f"{logical_id}.Arn")
    )


def _roles(
    config: LakeConfig,
    names: LakeNames,
    resources: Mapping[str, Any],
    by_type: Mapping[str, list[str]],
    resolve: Any,
    unreadable: list[str],
) -> dict[str, RolePolicies]:
    keys = _principal_keys(config, names)
    roles: dict[str, RolePolicies] = {}
    for logical_id in by_type.get("AWS::IAM::Role", []):
        props = resources[logical_id].get("Properties", {})
        role_name = resolve(props.get("RoleName", logical_id))
        if role_name not in keys:
            continue
        policies = [
            NamedPolicy(resolve(p.get("PolicyName", f"{role_name}-inline")), resolve(p["PolicyDocument"]))
            for p in props.get("Policies", [])
        ]
        for policy_id in by_type.get("AWS::IAM::Policy", []) + by_type.get("AWS::IAM::ManagedPolicy", []):
            policy_props = resources[policy_id].get("Properties", {})
            if any(_refers_to(r, logical_id) for r in policy_props.get("Roles", [])):
                name = policy_props.get("PolicyName") or policy_props.get("ManagedPolicyName") or policy_id
                policies.append(NamedPolicy(resolve(name), resolve(policy_props["PolicyDocument"])))
        for managed in props.get("ManagedPolicyArns", []):
            arn = resolve(managed)
            local = next((m for m in by_type.get("AWS::IAM::ManagedPolicy", []) if _refers_to(managed, m)), None)
            if local is not None:
                doc = resources[local]["Properties"]["PolicyDocument"]
                policies.append(NamedPolicy(str(arn), resolve(doc)))
            else:
                unreadable.append(f"{role_name}: {arn}")
        tags = {t["Key"]: resolve(t["Value"]) for t in props.get("Tags", [])}
        arn = resolve({"Fn::GetAtt": [logical_id, "Arn"]})
        roles[keys[role_name]] = RolePolicies(arn, tags, tuple(policies))
    return roles


def _zones(
    config: LakeConfig,
    names: LakeNames,
    resources: Mapping[str, Any],
    by_type: Mapping[str, list[str]],
    resolve: Any,
) -> dict[str, ZonePolicies]:
    bucket_ids = {
        resolve(resources[b].get("Properties", {}).get("BucketName")): b for b in by_type.get("AWS::S3::Bucket", [])
    }
    aliases = {
        resolve(resources[a]["Properties"]["AliasName"]): resources[a]["Properties"]["TargetKeyId"]
        for a in by_type.get("AWS::KMS::Alias", [])
    }
    zones: dict[str, ZonePolicies] = {}
    for zone in config.zones:
        bucket_name = names.bucket(zone.name)
        bucket_id = bucket_ids.get(bucket_name)
        if bucket_id is None:
            raise AccessSetupError(f"the templates declare no bucket {bucket_name!r} for zone {zone.name!r}")
        bucket_policy = None
        for policy_id in by_type.get("AWS::S3::BucketPolicy", []):
            props = resources[policy_id]["Properties"]
            if resolve(props["Bucket"]) == bucket_name:
                bucket_policy = NamedPolicy(bucket_name, resolve(props["PolicyDocument"]))
        target = aliases.get(names.key_alias(zone.name))
        if target is None:
            raise AccessSetupError(f"the templates declare no key alias {names.key_alias(zone.name)!r}")
        key_id = _logical_id(target)
        key_policy = resources[key_id].get("Properties", {}).get("KeyPolicy")
        if key_policy is None:
            raise AccessSetupError(f"key {key_id} of zone {zone.name!r} has no key policy")
        zones[zone.name] = ZonePolicies(
            resolve({"Fn::GetAtt": [bucket_id, "Arn"]}),
            bucket_policy,
            resolve({"Fn::GetAtt": [key_id, "Arn"]}),
            NamedPolicy(names.key_alias(zone.name), resolve(key_policy)),
        )
    return zones


def _logical_id(reference: Any) -> str:
    if isinstance(reference, Mapping):
        if "Ref" in reference:
            return str(reference["Ref"])
        att = reference.get("Fn::GetAtt")
        if isinstance(att, list):
            return str(att[0])
        if isinstance(att, str):
            return att.split(".")[0]
    raise AccessSetupError(f"cannot tell which key {reference!r} refers to")

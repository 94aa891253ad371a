"""The access matrix persona x zone x classification x action, computed by *evaluating* policies.

Why computed, not written down: the matrix a reviewer reads must be what the policies actually
do. Each cell is the evaluator's decision on the requests S3 and KMS would authorize for that
operation (`datalake_cfn.access.operations`), against the identity policy of the persona's role, the
zone's bucket policy and the zone's key policy, conditions included. Two sources of policies:

- :func:`local_policy_set`: the documents `datalake_cfn.access.policies` generates for the local lake
  (plain ARNs from naming.py);
- :func:`template_policy_set`: the documents in the synthesized CloudFormation templates, with
  their intrinsic functions resolved (`datalake_cfn.access.cfn`), i.e. what would be deployed.

`datalake_cfn.access.spec` states what the matrix should be; tests compare the two cell by cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from datalake_cfn.access import operations as ops
from datalake_cfn.access import policies as gen
from datalake_cfn.access.evaluator import Decision, NamedPolicy, evaluate
from datalake_cfn.access.spec import ACTIONS
from datalake_cfn.config import PERSONA_NAMES, LakeConfig
from datalake_cfn.naming import LakeNames

CellKey = tuple[str, str, str | None, str]
UNTAGGED_LABEL = "untagged"


class AccessSetupError(ValueError):
    """The policies do not describe a role or zone the matrix needs (e.g. a missing persona role)."""


@dataclass(frozen=True)
class RolePolicies:
    """A role: its ARN (with path), its principal tags, its identity policies."""

    arn: str
    tags: Mapping[str, str]
    policies: tuple[NamedPolicy, ...]


@dataclass(frozen=True)
class ZonePolicies:
    """A zone: its bucket and key, and their resource policies."""

    bucket_arn: str
    bucket_policy: NamedPolicy | None
    key_arn: str
    key_policy: NamedPolicy


@dataclass(frozen=True)
class PolicySet:
    """Every policy that decides a lake request, keyed by principal key and zone."""

    config: LakeConfig
    names: LakeNames
    source: str
    roles: Mapping[str, RolePolicies]
    zones: Mapping[str, ZonePolicies]

    # -- callers ---------------------------------------------------------------------------------
    def caller(self, persona: str, clearance: str | None = None, session: str = "datalake") -> ops.Caller:
        """The session a persona works in; `clearance` is the session tag (tag mode) or picks the role
        (roles mode)."""
        if persona not in PERSONA_NAMES:
            raise AccessSetupError(f"unknown persona {persona!r}; use one of {', '.join(PERSONA_NAMES)}")
        if clearance is not None and clearance not in self.config.classification:
            raise AccessSetupError(
                f"unknown clearance {clearance!r}; use one of {', '.join(self.config.classification)}"
            )
        if self.config.personas.clearance_mode == "roles":
            level = clearance or gen.persona_clearance(self.config, persona)
            key = gen.principal_name(persona, level)
            if key not in self.roles:
                raise AccessSetupError(
                    f"no {persona} role for clearance {level!r} (clearance_mode: roles materializes levels up to "
                    f"{gen.persona_clearance(self.config, persona)!r})"
                )
            role = self.roles[key]
            return ops.Caller(key, role.arn, dict(role.tags), session)
        if persona not in self.roles:
            raise AccessSetupError(f"the policies ({self.source}) have no role for persona {persona!r}")
        role = self.roles[persona]
        tags = dict(role.tags)
        if clearance is not None:
            tags[gen.CLEARANCE_TAG] = clearance  # a session tag overrides the role's tag
        return ops.Caller(persona, role.arn, tags, session)

    def service_caller(self, principal: str) -> ops.Caller:
        """A service role (`pipeline-<zone>`, `glue-job`, `crawler`) as a caller."""
        if principal not in self.roles:
            raise AccessSetupError(f"the policies ({self.source}) have no role {principal!r}")
        role = self.roles[principal]
        return ops.Caller(principal, role.arn, dict(role.tags), "service")

    # -- deciding ----------------------------------------------------------------------------------
    def zone_of(self, arn: str) -> str:
        for zone, resources in self.zones.items():
            if arn == resources.key_arn or arn == resources.bucket_arn or arn.startswith(resources.bucket_arn + "/"):
                return zone
        raise AccessSetupError(f"{arn} is not a zone bucket or key of this lake")

    def decide(self, caller: ops.Caller, authorizations: Sequence[ops.Authorization]) -> Decision:
        """All requests must be allowed; the first denial (in request order) is the answer."""
        if caller.principal not in self.roles:
            raise AccessSetupError(f"no role {caller.principal!r}")
        identity = self.roles[caller.principal].policies
        decision: Decision | None = None
        for auth in authorizations:
            zone = self.zones[self.zone_of(auth.request.resource)]
            if auth.request.service == "kms" and auth.kms is None:
                decision = evaluate(auth.request, identity, key_policy=zone.key_policy)
            elif auth.kms is not None:
                decision = evaluate(auth.request, identity, zone.bucket_policy, zone.key_policy, auth.kms)
            else:
                decision = evaluate(auth.request, identity, zone.bucket_policy)
            if not decision.allowed:
                return decision
        if decision is None:
            raise ValueError("no requests to decide")
        return decision


# -- the two sources -------------------------------------------------------------------------------
def local_policy_set(
    config: LakeConfig, names: LakeNames | None = None, key_arns: Mapping[str, str] | None = None
) -> PolicySet:
    """The policies `datalake_cfn.access.policies` generates, with plain ARNs (the local lake's view).

    The evaluator reads exactly the `to_dict()` of the awacs documents, the JSON the templates carry.
    """
    names = names or LakeNames.for_config(config)
    arns = gen.LakeArns.static(config, names, key_arns)
    roles: dict[str, RolePolicies] = {}
    for persona in PERSONA_NAMES:
        for clearance in gen.persona_clearances(config, persona):
            key = gen.principal_name(persona, clearance)
            document = gen.persona_identity_policy(config, names, arns, persona, clearance).to_dict()
            roles[key] = RolePolicies(
                arns.role_arn(key),
                gen.principal_tags(config, key),
                (NamedPolicy(f"{names.role_name(persona, clearance)}-access", document),),
            )
    for zone in config.chained_zones:
        key = gen.pipeline_principal(zone.name)
        queues = [r.queue_name for r in _routes(config, names) if r.zone.name == zone.name]
        document = gen.policy(gen.pipeline_role_statements(config, names, arns, zone.name, queues)).to_dict()
        roles[key] = RolePolicies(arns.role_arn(key), {}, (NamedPolicy(f"{key}-policy", document),))
    roles[gen.GLUE_JOB] = RolePolicies(
        arns.role_arn(gen.GLUE_JOB),
        gen.principal_tags(config, gen.GLUE_JOB),
        (NamedPolicy("glue-job-policy", gen.policy(gen.glue_job_role_statements(config, names, arns)).to_dict()),),
    )
    roles[gen.CRAWLER] = RolePolicies(
        arns.role_arn(gen.CRAWLER),
        {},
        (NamedPolicy("crawler-policy", gen.policy(gen.crawler_role_statements(config, names, arns)).to_dict()),),
    )
    zones = {
        zone.name: ZonePolicies(
            arns.bucket_arn(zone.name),
            NamedPolicy(names.bucket(zone.name), gen.zone_bucket_policy(config, names, arns, zone.name).to_dict()),
            arns.key_arn(zone.name),
            NamedPolicy(names.key_alias(zone.name), gen.zone_key_policy(config, names, arns, zone.name).to_dict()),
        )
        for zone in config.zones
    }
    return PolicySet(config, names, "generated policies (local lake)", roles, zones)


def _routes(config: LakeConfig, names: LakeNames) -> list[Any]:
    from datalake_cfn.routing import queue_routes

    return queue_routes(config, names)


def template_policy_set(config: LakeConfig, templates: Mapping[str, Mapping[str, Any]]) -> PolicySet:
    """The policies of the synthesized CloudFormation templates (see `datalake_cfn.access.templates`)."""
    from datalake_cfn.access.templates import policy_set_from_templates

    return policy_set_from_templates(config, templates)


# -- the matrix ------------------------------------------------------------------------------------
def probe_key(config: LakeConfig, zone: str) -> str:
    """An object key every writer of the zone may use: under the first dataset prefix in the chain."""
    prefixes = gen.write_prefixes(config, zone)
    return f"{prefixes[0] if prefixes else ''}datalake-probe.csv"


def probe(
    policies: PolicySet,
    caller: ops.Caller,
    zone: str,
    level: str | None,
    action: str,
    *,
    secure_transport: bool = True,
) -> list[ops.Authorization]:
    """The requests one matrix cell stands for."""
    resources = policies.zones[zone]
    region, key = policies.names.region, probe_key(policies.config, zone)
    if action == "list":
        return ops.list_bucket(caller, resources.bucket_arn, secure=secure_transport)
    if action == "read":
        return ops.all_reads(
            caller, resources.bucket_arn, key, resources.key_arn, region, object_level=level, secure=secure_transport
        )
    if action == "write":
        return ops.write_object(
            caller, resources.bucket_arn, key, resources.key_arn, region, request_level=level, secure=secure_transport
        )
    if action == "tag":
        lowest = policies.config.classification[0]
        return ops.tag_object(
            caller, resources.bucket_arn, key, object_level=level, new_level=lowest, secure=secure_transport
        )
    if action == "decrypt":
        return ops.decrypt(caller, resources.bucket_arn, resources.key_arn, region, secure=secure_transport)
    raise ValueError(f"unknown action {action!r}; one of {ACTIONS}")


@dataclass
class AccessMatrix:
    """Decisions per (persona, zone, level or None for untagged, action)."""

    config: LakeConfig
    source: str
    cells: dict[CellKey, Decision] = field(default_factory=dict)
    clearances: Mapping[str, str] = field(default_factory=dict)
    secure_transport: bool = True

    @property
    def personas(self) -> list[str]:
        return list(dict.fromkeys(key[0] for key in self.cells))

    @property
    def zones(self) -> list[str]:
        return list(dict.fromkeys(key[1] for key in self.cells))

    @property
    def levels(self) -> list[str | None]:
        return [*self.config.classification, None]

    def allowed(self, persona: str, zone: str, level: str | None, action: str) -> bool:
        return self.cells[(persona, zone, level, action)].allowed

    def as_bools(self) -> dict[CellKey, bool]:
        return {key: decision.allowed for key, decision in self.cells.items()}

    def mismatches(self, expected: Mapping[CellKey, bool]) -> list[tuple[CellKey, bool, Decision]]:
        """Cells whose decision differs from `expected`: (cell, expected, decision)."""
        missing = set(expected) ^ set(self.cells)
        if missing:
            raise AccessSetupError(
                f"the matrix and the expectation cover different cells: {sorted(missing, key=str)[:5]}"
            )
        return [(key, want, self.cells[key]) for key, want in expected.items() if self.cells[key].allowed != want]


def decide_cell(
    policies: PolicySet, caller: ops.Caller, action: str, requests: Sequence[ops.Authorization]
) -> Decision:
    """A cell's decision. `read` is allowed if *any* read action reads the object (GetObjectVersion
    reading what GetObject may not is a readable object); every other action needs all its requests."""
    if action != "read":
        return policies.decide(caller, requests)
    decisions = [policies.decide(caller, [request]) for request in requests]
    return next((d for d in decisions if d.allowed), decisions[0])


def compute_matrix(
    policies: PolicySet,
    *,
    personas: Iterable[str] = PERSONA_NAMES,
    clearances: Mapping[str, str] | None = None,
    secure_transport: bool = True,
) -> AccessMatrix:
    """Evaluate every cell. `clearances` sets session clearance tags per persona."""
    clearances = dict(clearances or {})
    matrix = AccessMatrix(policies.config, policies.source, clearances=clearances, secure_transport=secure_transport)
    for persona in personas:
        caller = policies.caller(persona, clearances.get(persona))
        for zone in policies.config.zones:
            for level in matrix.levels:
                for action in ACTIONS:
                    requests = probe(policies, caller, zone.name, level, action, secure_transport=secure_transport)
                    matrix.cells[(persona, zone.name, level, action)] = decide_cell(policies, caller, action, requests)
    return matrix


def level_label(level: str | None) -> str:
    return UNTAGGED_LABEL if level is None else level

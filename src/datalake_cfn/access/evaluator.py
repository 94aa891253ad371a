"""An AWS IAM policy evaluator for the policies datalake synthesizes.

Why it exists: moto's IAM enforcement ignores Condition blocks, and no maintained
permissively-licensed Python library evaluates IAM policies correctly, yet the lake's access model
(persona x zone x classification x action) lives mostly in conditions. This module implements the
documented part of AWS's evaluation logic that those policies use, so that

- the access matrix is computed from the synthesized CloudFormation policies, not restated, and
- the local lake can enforce access (`datalake --as analyst get ...`) and say *which statement*
  denied a request.

What it implements, following "Policy evaluation logic"
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
and "IAM JSON policy elements: Condition operators"
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

- Statements: Effect, Action/NotAction (wildcards, case-insensitive), Resource/NotResource
  (wildcards and policy variables, case-sensitive), Principal/NotPrincipal in resource-based
  policies (`"*"`, `{"AWS": arn | account | "arn:aws:iam::ACCOUNT:root"}`, `{"Service": ...}`),
  Condition (see `datalake_cfn.access.conditions`).
- Single-account evaluation (the project's case): an explicit Deny in any applicable policy wins;
  otherwise the request is allowed if an identity policy or the resource-based policy (an S3
  bucket policy) allows it; otherwise it is implicitly denied. A resource-policy Allow that names
  the principal itself (or `*`) suffices on its own; one that names only the account root
  (`arn:aws:iam::ACCOUNT:root`) delegates to IAM, i.e. an identity policy must still allow.
- KMS key policies, which are special: the key policy must allow. Key policy explicit Deny ->
  deny; key policy allows the principal directly -> allow (unless an identity policy explicitly
  denies); key policy allows the account root -> identity policies decide; otherwise deny, whatever
  the identity policies say.
  https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html

Out of scope: cross-account access, SCPs/RCPs, permission boundaries, session policies, VPC
endpoint policies, request resources containing wildcards.

The request context is what AWS would put in it; `aws:PrincipalArn`, `aws:PrincipalAccount` (and
`aws:username` for IAM users) are filled in from the principal when the caller does not provide
them, since AWS always sets them for signed requests. For an assumed-role session the derived
`aws:PrincipalArn` is the role ARN without its path; pass it explicitly if the role has one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from datalake_cfn.access.conditions import Condition, PolicyError, conditions_match, parse_condition_block
from datalake_cfn.access.patterns import ContextInput, RequestContext, pattern_matches, resource_matches

__all__ = [
    "Decision",
    "NamedPolicy",
    "PolicyError",
    "PrincipalIdentity",
    "Request",
    "Statement",
    "StatementRef",
    "effective_context",
    "evaluate",
    "evaluate_kms",
    "evaluate_same_account",
    "parse_policy",
]

Effect = Literal["Allow", "Deny"]
PolicyKind = Literal["identity", "resource", "key"]
Reason = Literal["explicit_deny", "allow", "implicit_deny"]
PrincipalLevel = Literal["direct", "account"]

VARIABLES_VERSION = "2012-10-17"
_ACCOUNT_ROOT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_SESSION = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/[^/]+$")
_ROLE = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):role/(?:.*/)?([^/]+)$")
_USER = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:user/(?:.*/)?([^/]+)$")


@dataclass(frozen=True)
class Request:
    """One API request: who, what, on which resource, with which request context keys.

    `context` holds condition keys such as `aws:SecureTransport`, `aws:PrincipalTag/clearance`,
    `s3:ExistingObjectTag/dataclassification`; lists are multivalued keys (e.g.
    `s3:RequestObjectTagKeys`). Key names are case-insensitive.
    """

    principal_arn: str
    action: str
    resource: str
    context: Mapping[str, ContextInput] = field(default_factory=dict, hash=False)

    @property
    def service(self) -> str:
        """The service prefix of the action, lower-cased (`s3`, `kms`)."""
        service, _, name = self.action.partition(":")
        if not service or not name:
            raise ValueError(f"action {self.action!r} is not of the form service:Action")
        return service.lower()


@dataclass(frozen=True)
class Principals:
    """The parsed Principal (or NotPrincipal) element of a resource-based policy statement."""

    wildcard: bool = False
    aws: tuple[str, ...] = ()
    exact: tuple[str, ...] = ()  # Service, Federated and CanonicalUser principals: compared exactly


@dataclass(frozen=True)
class PrincipalIdentity:
    """What the evaluator knows of the caller, derived from its ARN (or service principal name)."""

    arn: str
    account: str | None
    session_role: tuple[str, str, str] | None  # (partition, account, role name) for sessions

    @classmethod
    def parse(cls, arn: str) -> PrincipalIdentity:
        """Derive account and, for `sts::...:assumed-role/` sessions, the role behind them."""
        session = _SESSION.match(arn)
        if session:
            return cls(arn, session.group(2), (session.group(1), session.group(2), session.group(3)))
        parts = arn.split(":")
        account = parts[4] if len(parts) >= 6 and parts[0] == "arn" and parts[4] else None
        return cls(arn, account, None)

    @property
    def role_arn(self) -> str | None:
        """For a role session, the role's ARN (without path, which a session ARN does not carry)."""
        if self.session_role is None:
            return None
        partition, account, role = self.session_role
        return f"arn:{partition}:iam::{account}:role/{role}"


def _aws_principal_level(value: str, principal: PrincipalIdentity) -> PrincipalLevel | None:
    """How an `{"AWS": value}` principal covers the caller: itself, its whole account, or not."""
    if value == principal.arn:
        return "direct"
    root = _ACCOUNT_ROOT.match(value)
    account = root.group(1) if root else (value if _ACCOUNT_ID.match(value) else None)
    if account is not None:
        return "account" if account == principal.account else None
    role = _ROLE.match(value)
    if role and principal.session_role is not None:
        partition, session_account, session_role = principal.session_role
        same_role = role.group(3).lower() == session_role.lower()
        if role.group(1) == partition and role.group(2) == session_account and same_role:
            return "direct"
    return None


def _principals_level(principals: Principals, principal: PrincipalIdentity) -> PrincipalLevel | None:
    if principals.wildcard or principal.arn in principals.exact:
        return "direct"
    levels = {_aws_principal_level(value, principal) for value in principals.aws}
    if "direct" in levels:
        return "direct"
    return "account" if "account" in levels else None


@dataclass(frozen=True)
class Statement:
    """One parsed policy statement; `index` is its 0-based position in the policy."""

    index: int
    sid: str | None
    effect: Effect
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    principals: Principals | None
    not_principal: bool
    conditions: tuple[Condition, ...]
    variables: bool

    def matches_action(self, action: str) -> bool:
        """Action/NotAction: `service:Name` with `*`/`?` wildcards, compared case-insensitively."""
        listed = any(_action_matches(pattern, action) for pattern in self.actions)
        return listed != self.not_action

    def matches_resource(self, resource: str, context: RequestContext) -> bool:
        """Resource/NotResource; a pattern whose variable has no value matches no resource."""
        variables = context if self.variables else None
        listed = any(resource_matches(pattern, resource, variables) for pattern in self.resources)
        return listed != self.not_resource

    def principal_level(self, principal: PrincipalIdentity) -> PrincipalLevel | None:
        """Principal/NotPrincipal: `direct`, `account` (named via its account root) or None."""
        if self.principals is None:
            return "direct"
        level = _principals_level(self.principals, principal)
        if self.not_principal:
            return None if level is not None else "direct"
        return level

    def matches_conditions(self, context: RequestContext) -> bool:
        """All Condition entries hold for this request context."""
        return conditions_match(self.conditions, context, variables=self.variables)


def _action_matches(pattern: str, action: str) -> bool:
    if pattern == "*":
        return True
    pattern_service, _, pattern_name = pattern.partition(":")
    service, _, name = action.partition(":")
    return pattern_matches(pattern_service, service, None, wildcards=True, ignore_case=True) and (
        pattern_matches(pattern_name, name, None, wildcards=True, ignore_case=True)
    )


def _strings(raw: object, where: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list | tuple) else [raw]
    for item in items:
        if not isinstance(item, str):
            raise PolicyError(
                f"{where}: expected a string, got {item!r}; unresolved CloudFormation intrinsics "
                "must be resolved first (datalake_cfn.access.cfn.resolve_intrinsics)"
            )
    return tuple(items)  # type: ignore[arg-type]


def _either(statement: Mapping[str, Any], name: str, where: str) -> tuple[tuple[str, ...], bool] | None:
    """Read `name` or `Not<name>`: (values, negated); None when neither is present."""
    positive, negative = statement.get(name), statement.get("Not" + name)
    if positive is not None and negative is not None:
        raise PolicyError(f"{where}: has both {name} and Not{name}")
    if positive is None and negative is None:
        return None
    raw = positive if positive is not None else negative
    return _strings(raw, f"{where} {name}"), negative is not None


def _parse_principals(raw: object, where: str) -> Principals:
    if raw == "*":
        return Principals(wildcard=True)
    if not isinstance(raw, Mapping):
        raise PolicyError(f'{where}: Principal must be "*" or an object, got {raw!r}')
    aws: tuple[str, ...] = ()
    exact: list[str] = []
    for kind, values in raw.items():
        names = _strings(values, f"{where} Principal.{kind}")
        if kind == "AWS":
            aws = names
        elif kind in ("Service", "Federated", "CanonicalUser"):
            exact.extend(names)
        else:
            raise PolicyError(f"{where}: unknown principal type {kind!r}")
    return Principals(wildcard="*" in aws, aws=aws, exact=tuple(exact))


def _parse_statement(raw: object, index: int, variables: bool, policy_name: str) -> Statement:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"policy {policy_name}: statement #{index} is not an object")
    sid = raw.get("Sid")
    where = f"policy {policy_name} statement {sid or '#' + str(index)}"
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{where}: Effect must be Allow or Deny, got {effect!r}")
    actions = _either(raw, "Action", where)
    resources = _either(raw, "Resource", where)
    if actions is None or resources is None:
        raise PolicyError(f"{where}: needs Action (or NotAction) and Resource (or NotResource)")
    principal_raw, not_principal_raw = raw.get("Principal"), raw.get("NotPrincipal")
    if principal_raw is not None and not_principal_raw is not None:
        raise PolicyError(f"{where}: has both Principal and NotPrincipal")
    principal_element = principal_raw if principal_raw is not None else not_principal_raw
    return Statement(
        index=index,
        sid=str(sid) if sid is not None else None,
        effect=effect,
        actions=actions[0],
        not_action=actions[1],
        resources=resources[0],
        not_resource=resources[1],
        principals=None if principal_element is None else _parse_principals(principal_element, where),
        not_principal=not_principal_raw is not None,
        conditions=parse_condition_block(raw.get("Condition"), where),
        variables=variables,
    )


def parse_policy(document: Mapping[str, Any], name: str = "policy") -> tuple[Statement, ...]:
    """Parse a policy document as it appears in a synthesized template (dict or list Statement).

    Policy variables are honoured only with `"Version": "2012-10-17"`, as AWS does.
    """
    if not isinstance(document, Mapping):
        raise PolicyError(f"policy {name}: document must be an object")
    raw_statements = document.get("Statement")
    if raw_statements is None:
        raise PolicyError(f"policy {name}: has no Statement")
    statements = raw_statements if isinstance(raw_statements, list) else [raw_statements]
    variables = document.get("Version") == VARIABLES_VERSION
    return tuple(_parse_statement(raw, index, variables, name) for index, raw in enumerate(statements))


@dataclass(frozen=True)
class NamedPolicy:
    """A policy document with the name used to report it (role policy name, bucket, key)."""

    name: str
    document: Mapping[str, Any] = field(hash=False)

    @cached_property
    def statements(self) -> tuple[Statement, ...]:
        """The parsed statements (parsed once per NamedPolicy)."""
        return parse_policy(self.document, self.name)


@dataclass(frozen=True)
class StatementRef:
    """Which statement of which policy decided a request."""

    policy_name: str
    policy_kind: PolicyKind
    policy_label: str  # e.g. "bucket policy of acme-curated-111111111111-us-east-1"
    index: int
    sid: str | None
    effect: Effect

    @property
    def label(self) -> str:
        """`statement "Sid"`, or `statement #3` for a statement without a Sid."""
        return f'statement "{self.sid}"' if self.sid else f"statement #{self.index}"


@dataclass(frozen=True)
class Decision:
    """The outcome of evaluating one request, with the statement that decided it (if any)."""

    allowed: bool
    reason: Reason
    statement: StatementRef | None
    request: Request | None = field(default=None, compare=False)
    note: str = field(default="", compare=False)

    def explain(self) -> str:
        """One human-readable sentence, e.g. for the CLI's access-denied message."""
        if self.reason == "explicit_deny" and self.statement is not None:
            text = f"denied by explicit Deny {self.statement.label} in {self.statement.policy_label}"
        elif self.reason == "allow" and self.statement is not None:
            text = f"allowed by {self.statement.label} in {self.statement.policy_label}"
        else:
            text = "denied implicitly: no statement allows " + _describe(self.request)
        return f"{text}; {self.note}" if self.note else text


def _describe(request: Request | None) -> str:
    if request is None:
        return "the request"
    return f"{request.action} on {request.resource} for {request.principal_arn}"


def effective_context(request: Request) -> RequestContext:
    """The request context as AWS would see it: the caller's keys plus principal keys.

    `aws:PrincipalArn` and `aws:PrincipalAccount` are present in every signed request (and
    `aws:username` in an IAM user's), so they are derived from the principal unless the caller set
    them. A service principal has no ARN, so nothing is derived for it.
    """
    context = RequestContext.of(request.context)
    principal = PrincipalIdentity.parse(request.principal_arn)
    user = _USER.match(request.principal_arn)
    candidates = {
        "aws:principalarn": (principal.role_arn or principal.arn) if principal.account else None,
        "aws:principalaccount": principal.account,
        "aws:username": user.group(1) if user else None,
    }
    derived = {key: value for key, value in candidates.items() if value is not None and key not in context}
    if not derived:
        return context
    return RequestContext({**context.values, **derived})


@dataclass(frozen=True)
class _Hit:
    """A statement that applies to the request (action, resource, principal and conditions)."""

    policy: NamedPolicy
    kind: PolicyKind
    statement: Statement
    level: PrincipalLevel


def _policy_label(kind: PolicyKind, name: str, request: Request) -> str:
    if kind == "identity":
        return f"identity policy {name}"
    if kind == "key":
        return f"key policy of {name}"
    return f"{'bucket' if request.service == 's3' else 'resource'} policy of {name}"


def _ref(hit: _Hit, request: Request) -> StatementRef:
    return StatementRef(
        policy_name=hit.policy.name,
        policy_kind=hit.kind,
        policy_label=_policy_label(hit.kind, hit.policy.name, request),
        index=hit.statement.index,
        sid=hit.statement.sid,
        effect=hit.statement.effect,
    )


def _check_principal_element(statement: Statement, kind: PolicyKind, policy: NamedPolicy) -> None:
    has_principal = statement.principals is not None
    if kind == "identity" and has_principal:
        raise PolicyError(f"identity policy {policy.name}: {statement.sid or statement.index} has a Principal")
    if kind != "identity" and not has_principal:
        raise PolicyError(f"{kind} policy {policy.name}: {statement.sid or statement.index} has no Principal")


def _applicable(
    policies: Iterable[NamedPolicy], kind: PolicyKind, request: Request, context: RequestContext
) -> list[_Hit]:
    """Every statement of `policies` that applies to the request, in policy and statement order."""
    principal = PrincipalIdentity.parse(request.principal_arn)
    hits: list[_Hit] = []
    for policy in policies:
        for statement in policy.statements:
            _check_principal_element(statement, kind, policy)
            if not statement.matches_action(request.action):
                continue
            if not statement.matches_resource(request.resource, context):
                continue
            level = statement.principal_level(principal)
            if level is None or not statement.matches_conditions(context):
                continue
            hits.append(_Hit(policy, kind, statement, level))
    return hits


def _first(hits: Iterable[_Hit], effect: Effect, level: PrincipalLevel | None = None) -> _Hit | None:
    return next(
        (h for h in hits if h.statement.effect == effect and (level is None or h.level == level)),
        None,
    )


def _decide(request: Request, hit: _Hit | None, reason: Reason, note: str = "") -> Decision:
    statement = _ref(hit, request) if hit is not None else None
    return Decision(reason == "allow", reason, statement, request, note)


def evaluate_same_account(
    request: Request,
    identity_policies: Sequence[NamedPolicy],
    resource_policy: NamedPolicy | None = None,
) -> Decision:
    """Identity policies plus an optional resource-based policy, principal and resource in one account.

    Denies are reported resource policy first (the guardrails live there), then identity policies.
    """
    _ = request.service  # a malformed action raises here rather than silently matching nothing
    context = effective_context(request)
    resource_hits = _applicable([resource_policy] if resource_policy else [], "resource", request, context)
    identity_hits = _applicable(identity_policies, "identity", request, context)
    deny = _first(resource_hits, "Deny") or _first(identity_hits, "Deny")
    if deny is not None:
        return _decide(request, deny, "explicit_deny")
    allow = _first(identity_hits, "Allow") or _first(resource_hits, "Allow", "direct")
    if allow is not None:
        return _decide(request, allow, "allow")
    delegated = _first(resource_hits, "Allow", "account")
    note = ""
    if delegated is not None:
        where = _policy_label("resource", delegated.policy.name, request)
        note = (
            f"{_ref(delegated, request).label} of the {where} grants only the account root, "
            "which delegates to identity policies, and none allows"
        )
    return _decide(request, None, "implicit_deny", note)


def evaluate_kms(request: Request, identity_policies: Sequence[NamedPolicy], key_policy: NamedPolicy) -> Decision:
    """A `kms:*` request on a key: the key policy must allow, directly or by delegating to IAM.

    https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam
    """
    _ = request.service
    context = effective_context(request)
    key_hits = _applicable([key_policy], "key", request, context)
    identity_hits = _applicable(identity_policies, "identity", request, context)
    deny = _first(key_hits, "Deny") or _first(identity_hits, "Deny")
    if deny is not None:
        return _decide(request, deny, "explicit_deny")
    direct = _first(key_hits, "Allow", "direct")
    if direct is not None:
        return _decide(request, direct, "allow")
    delegation = _first(key_hits, "Allow", "account")
    identity_allow = _first(identity_hits, "Allow")
    key_label = _policy_label("key", key_policy.name, request)
    if delegation is None:
        note = f"the {key_label} does not allow this principal and does not delegate to IAM"
        if identity_allow is not None:
            note += f", so {_ref(identity_allow, request).label} of {identity_allow.policy.name} has no effect"
        return _decide(request, None, "implicit_deny", note)
    delegated_by = f"the {key_label} delegates to IAM through {_ref(delegation, request).label}"
    if identity_allow is None:
        return _decide(request, None, "implicit_deny", f"{delegated_by}, and no identity policy allows")
    return _decide(request, identity_allow, "allow", delegated_by)


def evaluate(
    request: Request,
    identity_policies: Sequence[NamedPolicy],
    resource_policy: NamedPolicy | None = None,
    key_policy: NamedPolicy | None = None,
    key_request: Request | None = None,
) -> Decision:
    """Decide a request; optionally also the KMS request it implies.

    - A `kms:*` request with `key_policy` (and no `resource_policy`) is decided by `evaluate_kms`.
    - Otherwise the request is decided by `evaluate_same_account`. If `key_request` is given (e.g.
      the `kms:Decrypt` that an SSE-KMS `s3:GetObject` makes on the caller's behalf), it is decided
      against `key_policy` too, and the request is allowed only if both are. The first denial is
      returned, in the order AWS would hit them (S3 first, then KMS).
    """
    if key_request is None and key_policy is not None:
        if request.service == "kms" and resource_policy is None:
            return evaluate_kms(request, identity_policies, key_policy)
        raise ValueError("key_policy needs key_request: the kms:* request made on the caller's behalf")
    decision = evaluate_same_account(request, identity_policies, resource_policy)
    if key_request is None:
        return decision
    if key_policy is None:
        raise ValueError("key_request needs key_policy: KMS requests are decided by the key policy")
    if not decision.allowed:
        return decision
    key_decision = evaluate_kms(key_request, identity_policies, key_policy)
    return decision if key_decision.allowed else key_decision

"""The IAM evaluator against AWS's documented evaluation rules.

Each test names the rule it pins; the sources are "Policy evaluation logic"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html),
"Condition operators" (.../reference_policies_elements_condition_operators.html), "Policy
variables" (.../reference_policies_variables.html) and the KMS default key policy page.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from datalake_cfn.access.cfn import StaticResolver, UnresolvedIntrinsicError, resolve_intrinsics
from datalake_cfn.access.conditions import PolicyError
from datalake_cfn.access.evaluator import (
    NamedPolicy,
    Request,
    effective_context,
    evaluate,
    evaluate_kms,
)

ACCOUNT = "111111111111"
ANALYST = f"arn:aws:iam::{ACCOUNT}:role/acme-analyst"
STEWARD = f"arn:aws:iam::{ACCOUNT}:role/acme-steward"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
BUCKET = "acme-curated-111111111111-us-east-1"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
OBJECT = f"{BUCKET_ARN}/sales/2024/01.csv"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
LEVELS = ["public", "internal", "proprietary", "confidential", "secret"]


def policy(*statements: dict[str, Any], name: str = "acme-analyst-access", version: str = "2012-10-17") -> NamedPolicy:
    return NamedPolicy(name, {"Version": version, "Statement": list(statements)})


def allow(action: Any = "s3:GetObject", resource: Any = f"{BUCKET_ARN}/*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "s3:GetObject", resource: Any = f"{BUCKET_ARN}/*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def get(
    context: dict[str, Any] | None = None,
    *,
    principal: str = ANALYST,
    action: str = "s3:GetObject",
    resource: str = OBJECT,
) -> Request:
    return Request(principal, action, resource, context or {})


def condition_holds(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    """Whether an identity Allow guarded by `condition` allows a request with `context`."""
    return evaluate(get(context), [policy(allow(Condition=condition))]).allowed


# --- evaluation across statements and policy types -------------------------------------------


def test_no_applicable_statement_is_an_implicit_deny() -> None:
    decision = evaluate(get(), [policy(allow(resource="arn:aws:s3:::other-bucket/*"))])
    assert (decision.allowed, decision.reason, decision.statement) == (False, "implicit_deny", None)
    assert decision.explain() == f"denied implicitly: no statement allows s3:GetObject on {OBJECT} for {ANALYST}"


def test_identity_allow_names_the_allowing_statement() -> None:
    decision = evaluate(get(), [policy(allow(Sid="ReadCurated"))])
    assert decision.allowed and decision.reason == "allow"
    assert decision.explain() == 'allowed by statement "ReadCurated" in identity policy acme-analyst-access'


def test_explicit_deny_in_the_same_identity_policy_wins_over_allow() -> None:
    decision = evaluate(get(), [policy(allow(), deny())])
    assert decision.reason == "explicit_deny"
    assert decision.statement is not None and decision.statement.label == "statement #1"


def test_explicit_deny_in_bucket_policy_wins_and_is_explained() -> None:
    bucket_policy = policy(
        deny(
            Sid="DenyReadAboveClearance",
            Principal="*",
            Condition={"StringNotEqualsIgnoreCase": {"s3:ExistingObjectTag/dataclassification": LEVELS[:2]}},
        ),
        name=BUCKET,
    )
    decision = evaluate(get({"s3:ExistingObjectTag/dataclassification": "secret"}), [policy(allow())], bucket_policy)
    assert not decision.allowed
    assert decision.explain() == (
        f'denied by explicit Deny statement "DenyReadAboveClearance" in bucket policy of {BUCKET}'
    )


def test_resource_policy_naming_the_role_allows_without_identity_policy() -> None:
    bucket_policy = policy(allow(Sid="CrawlerRead", Principal={"AWS": ANALYST}), name=BUCKET)
    decision = evaluate(get(), [], bucket_policy)
    assert decision.allowed
    assert decision.statement is not None and decision.statement.policy_kind == "resource"


def test_resource_policy_naming_only_the_account_root_delegates_to_identity_policies() -> None:
    bucket_policy = policy(allow(Sid="AccountRead", Principal={"AWS": ROOT}), name=BUCKET)
    alone = evaluate(get(), [], bucket_policy)
    assert alone.reason == "implicit_deny"
    assert "grants only the account root" in alone.explain()
    assert evaluate(get(), [policy(allow())], bucket_policy).allowed


def test_assumed_role_session_matches_a_role_principal_and_gets_a_principal_arn() -> None:
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/acme-analyst/alice"
    bucket_policy = policy(allow(Principal={"AWS": [ANALYST]}), name=BUCKET)
    assert evaluate(get(principal=session), [], bucket_policy).allowed
    assert effective_context(get(principal=session)).get("aws:PrincipalArn") == ANALYST
    assert effective_context(get({"aws:principalarn": "x"}, principal=session)).get("aws:PrincipalArn") == "x"


def test_deny_naming_the_account_root_covers_every_principal_of_that_account_only() -> None:
    bucket_policy = policy(allow(Principal="*"), deny(Principal={"AWS": ACCOUNT}), name=BUCKET)
    assert evaluate(get(), [], bucket_policy).reason == "explicit_deny"
    assert evaluate(get(principal="arn:aws:iam::222222222222:role/x"), [], bucket_policy).allowed


def test_not_principal_deny_spares_only_the_listed_principal() -> None:
    bucket_policy = policy(allow(Principal="*"), deny(Sid="OnlySteward", NotPrincipal={"AWS": [STEWARD]}), name=BUCKET)
    assert evaluate(get(principal=STEWARD), [], bucket_policy).allowed
    assert evaluate(get(), [], bucket_policy).reason == "explicit_deny"


def test_service_principal_is_allowed_by_a_service_statement() -> None:
    bucket_policy = policy(
        allow("s3:PutObject", f"{BUCKET_ARN}/_logs/*", Principal={"Service": "logging.s3.amazonaws.com"}),
        name=BUCKET,
    )
    put = get(principal="logging.s3.amazonaws.com", action="s3:PutObject", resource=f"{BUCKET_ARN}/_logs/a")
    assert evaluate(put, [], bucket_policy).allowed
    assert not evaluate(get(action="s3:PutObject", resource=f"{BUCKET_ARN}/_logs/a"), [], bucket_policy).allowed


def test_not_action_applies_to_every_action_but_the_listed_ones() -> None:
    guard = policy(allow("s3:*"), {"Effect": "Deny", "NotAction": ["s3:Get*", "s3:List*"], "Resource": "*"})
    assert evaluate(get(), [guard]).allowed
    assert evaluate(get(action="s3:DeleteObject"), [guard]).reason == "explicit_deny"


def test_not_resource_applies_everywhere_but_the_listed_resources() -> None:
    statement = {"Effect": "Deny", "Action": "s3:*", "NotResource": [f"{BUCKET_ARN}/*"]}
    guard = policy(allow("s3:GetObject", "*"), statement)
    assert evaluate(get(), [guard]).allowed
    assert evaluate(get(resource="arn:aws:s3:::elsewhere/x"), [guard]).reason == "explicit_deny"


def test_action_names_are_case_insensitive_and_take_wildcards() -> None:
    assert evaluate(get(action="S3:getobject"), [policy(allow("s3:GetObject"))]).allowed
    assert evaluate(get(), [policy(allow("S3:Get?bject"))]).allowed
    assert evaluate(get(), [policy(allow("s3:Get*"))]).allowed
    assert not evaluate(get(action="s3:GetObjectVersion"), [policy(allow("s3:GetObject"))]).allowed


def test_resources_are_case_sensitive_and_take_wildcards() -> None:
    assert evaluate(get(), [policy(allow(resource=f"{BUCKET_ARN}/sales/????/*"))]).allowed
    assert not evaluate(get(), [policy(allow(resource=f"{BUCKET_ARN}/Sales/*"))]).allowed
    assert not evaluate(get(), [policy(allow(resource=f"{BUCKET_ARN}/sales/???/*"))]).allowed


def test_policy_variable_in_resource_resolves_from_the_context_and_fails_closed_when_absent() -> None:
    own_prefix = policy(allow(resource=f"{BUCKET_ARN}/teams/${{aws:PrincipalTag/team}}/*"))
    request = get({"aws:PrincipalTag/team": "blue"}, resource=f"{BUCKET_ARN}/teams/blue/x.csv")
    assert evaluate(request, [own_prefix]).allowed
    assert not evaluate(get({"aws:PrincipalTag/team": "red"}, resource=request.resource), [own_prefix]).allowed
    assert not evaluate(get(resource=request.resource), [own_prefix]).allowed  # no tag: matches nothing


def test_variable_escapes_defaults_and_old_policy_versions() -> None:
    literal = get(resource=f"{BUCKET_ARN}/a*b?c$")
    assert evaluate(literal, [policy(allow(resource=f"{BUCKET_ARN}/a${{*}}b${{?}}c${{$}}"))]).allowed
    assert not evaluate(
        get(resource=f"{BUCKET_ARN}/aXbYc$"), [policy(allow(resource=f"{BUCKET_ARN}/a${{*}}b*"))]
    ).allowed
    default = policy(allow(resource=f"{BUCKET_ARN}/teams/${{aws:PrincipalTag/team, 'shared'}}/*"))
    assert evaluate(get(resource=f"{BUCKET_ARN}/teams/shared/x"), [default]).allowed
    user = f"arn:aws:iam::{ACCOUNT}:user/people/bob"
    home = policy(allow(resource=f"{BUCKET_ARN}/home/${{aws:username}}/*"))
    assert evaluate(get(principal=user, resource=f"{BUCKET_ARN}/home/bob/x"), [home]).allowed
    assert not evaluate(get(resource=f"{BUCKET_ARN}/home/bob/x"), [home]).allowed  # roles have no username
    old = policy(allow(resource=f"{BUCKET_ARN}/${{aws:username}}/*"), version="2008-10-17")
    assert evaluate(get({"aws:username": "bob"}, resource=f"{BUCKET_ARN}/${{aws:username}}/x"), [old]).allowed
    assert not evaluate(get({"aws:username": "bob"}, resource=f"{BUCKET_ARN}/bob/x"), [old]).allowed


# --- condition operators --------------------------------------------------------------------

TAG = "s3:ExistingObjectTag/dataclassification"


@pytest.mark.parametrize(
    ("operator", "policy_value", "request_value", "expected"),
    [
        ("StringEquals", "internal", "internal", True),
        ("StringEquals", "internal", "Internal", False),
        ("StringEquals", "intern*", "internal", False),
        ("StringNotEquals", "internal", "Internal", True),
        ("StringNotEquals", ["public", "internal"], "internal", False),
        ("StringEqualsIgnoreCase", "INTERNAL", "internal", True),
        ("StringNotEqualsIgnoreCase", ["public", "INTERNAL"], "Internal", False),
        ("StringNotEqualsIgnoreCase", ["public", "internal"], "secret", True),
        ("StringLike", "intern*", "internal", True),
        ("StringLike", "in?ernal", "internal", True),
        ("StringLike", "Intern*", "internal", False),
        ("StringNotLike", ["pub*", "int*"], "secret", True),
        ("StringNotLike", ["pub*", "int*"], "internal", False),
    ],
)
def test_string_operators(operator: str, policy_value: Any, request_value: str, expected: bool) -> None:
    assert condition_holds({operator: {TAG: policy_value}}, {TAG: request_value}) is expected


@pytest.mark.parametrize(
    ("operator", "policy_value", "request_value", "expected"),
    [
        ("NumericEquals", "10", "10.0", True),
        ("NumericNotEquals", "10", "11", True),
        ("NumericLessThan", "1000", "999", True),
        ("NumericLessThan", "1000", "1000", False),
        ("NumericLessThanEquals", "1000", "1000", True),
        ("NumericGreaterThan", "1.5", "2", True),
        ("NumericGreaterThanEquals", 5, "4", False),
        ("NumericEquals", "10", "ten", False),
    ],
)
def test_numeric_operators(operator: str, policy_value: Any, request_value: str, expected: bool) -> None:
    assert condition_holds({operator: {"s3:max-keys": policy_value}}, {"s3:max-keys": request_value}) is expected


@pytest.mark.parametrize(
    ("operator", "policy_value", "request_value", "expected"),
    [
        ("DateLessThan", "2030-01-01T00:00:00Z", "2029-12-31T23:59:59Z", True),
        ("DateLessThan", "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z", False),
        ("DateLessThanEquals", "2030-01-01T00:00:00Z", "2030-01-01T00:00:00+00:00", True),
        ("DateGreaterThan", "2030-01-01", "2030-01-01T00:00:01Z", True),
        ("DateGreaterThanEquals", "1893456000", "2030-01-01T00:00:00Z", True),  # epoch seconds
        ("DateEquals", "2030-01-01T01:00:00+01:00", "2030-01-01T00:00:00Z", True),
        ("DateNotEquals", "2030-01-01T00:00:00Z", "2031-01-01T00:00:00Z", True),
    ],
)
def test_date_operators(operator: str, policy_value: str, request_value: str, expected: bool) -> None:
    assert (
        condition_holds({operator: {"aws:CurrentTime": policy_value}}, {"aws:CurrentTime": request_value}) is expected
    )


def test_bool_operator_accepts_json_and_python_booleans() -> None:
    assert condition_holds({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True})
    assert condition_holds({"Bool": {"aws:SecureTransport": False}}, {"aws:SecureTransport": "FALSE"})
    assert not condition_holds({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "yes"})


@pytest.mark.parametrize(
    ("operator", "policy_value", "source_ip", "expected"),
    [
        ("IpAddress", ["10.20.0.0/16", "192.0.2.0/24"], "10.20.3.4", True),
        ("IpAddress", "10.20.0.0/16", "10.21.0.1", False),
        ("IpAddress", "2001:db8::/32", "2001:db8::1", True),
        ("IpAddress", "10.20.0.0/16", "2001:db8::1", False),
        ("NotIpAddress", ["10.20.0.0/16"], "203.0.113.9", True),
        ("NotIpAddress", ["10.20.0.0/16"], "10.20.0.9", False),
    ],
)
def test_ip_address_operators(operator: str, policy_value: Any, source_ip: str, expected: bool) -> None:
    assert condition_holds({operator: {"aws:SourceIp": policy_value}}, {"aws:SourceIp": source_ip}) is expected


@pytest.mark.parametrize(
    ("operator", "policy_value", "expected"),
    [
        ("ArnEquals", ANALYST, True),
        ("ArnLike", "arn:aws:iam::*:role/acme-*", True),
        ("ArnLike", "arn:aws:iam::*:role/acme-steward", False),
        ("ArnLike", "arn:aws:iam:*", False),  # not a six-component ARN: no match
        ("ArnLike", "arn:aws:*:role/acme-analyst", False),  # '*' does not span ARN components
        ("ArnNotEquals", STEWARD, True),
        ("ArnNotLike", ["arn:aws:iam::*:role/acme-analyst"], False),
    ],
)
def test_arn_operators(operator: str, policy_value: str, expected: bool) -> None:
    assert condition_holds({operator: {"aws:PrincipalArn": policy_value}}, {}) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"StringEquals": {TAG: "internal"}}, False),  # absent key: the values do not match
        ({"StringNotEquals": {TAG: "internal"}}, True),  # negated operator on an absent key: true
        ({"StringNotLike": {TAG: "int*"}}, True),
        ({"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::x"}}, True),
        ({"StringEqualsIfExists": {TAG: "internal"}}, True),  # IfExists on an absent key: true
        ({"StringNotEqualsIgnoreCaseIfExists": {TAG: "internal"}}, True),
        ({"NumericLessThanIfExists": {"s3:max-keys": "10"}}, True),
        ({"Null": {TAG: "true"}}, True),  # Null checks presence only
        ({"Null": {TAG: "false"}}, False),
    ],
)
def test_missing_keys_follow_the_documented_rules(condition: dict[str, Any], expected: bool) -> None:
    assert condition_holds(condition, {}) is expected


def test_if_exists_still_applies_the_operator_when_the_key_is_present() -> None:
    assert not condition_holds({"StringEqualsIfExists": {TAG: "internal"}}, {TAG: "secret"})
    assert condition_holds({"Null": {TAG: "false"}}, {TAG: ""})


def test_values_are_ored_keys_and_operators_are_anded() -> None:
    condition = {
        "StringEquals": {TAG: ["public", "internal"], "aws:RequestedRegion": "us-east-1"},
        "Bool": {"aws:SecureTransport": "true"},
    }
    ok = {TAG: "internal", "aws:RequestedRegion": "us-east-1", "aws:SecureTransport": "true"}
    assert condition_holds(condition, ok)
    assert not condition_holds(condition, ok | {"aws:RequestedRegion": "eu-west-1"})
    assert not condition_holds(condition, ok | {"aws:SecureTransport": "false"})


TAG_KEYS = "s3:RequestObjectTagKeys"


@pytest.mark.parametrize(
    ("operator", "policy_value", "request_keys", "expected"),
    [
        ("ForAnyValue:StringEquals", "dataclassification", ["owner", "dataclassification"], True),
        ("ForAnyValue:StringEquals", "dataclassification", ["owner"], False),
        ("ForAnyValue:StringEquals", "dataclassification", [], False),
        ("ForAnyValue:StringEquals", "dataclassification", None, False),  # absent key: false
        ("ForAllValues:StringEquals", "dataclassification", ["dataclassification"], True),
        ("ForAllValues:StringEquals", "dataclassification", ["dataclassification", "owner"], False),
        ("ForAllValues:StringEquals", "dataclassification", [], True),  # empty: vacuously true
        ("ForAllValues:StringEquals", "dataclassification", None, True),  # absent key: true
        ("ForAllValues:StringNotEquals", "dataclassification", ["owner"], True),
        ("ForAllValues:StringNotEquals", "dataclassification", ["owner", "dataclassification"], False),
        ("ForAnyValue:StringNotEquals", "dataclassification", ["owner", "dataclassification"], True),
        ("ForAnyValue:StringLike", "data*", ["owner", "dataclassification"], True),
        ("ForAnyValue:StringLike", "data*", ["owner"], False),
        ("ForAnyValue:StringEqualsIfExists", "dataclassification", None, True),  # IfExists first
    ],
)
def test_set_operators_on_multivalued_keys(
    operator: str, policy_value: str, request_keys: list[str] | None, expected: bool
) -> None:
    context = {} if request_keys is None else {TAG_KEYS: request_keys}
    assert condition_holds({operator: {TAG_KEYS: policy_value}}, context) is expected


def test_a_multivalued_key_without_a_set_operator_never_matches() -> None:
    keys = {TAG_KEYS: ["dataclassification"]}
    assert not condition_holds({"StringEquals": {TAG_KEYS: "dataclassification"}}, keys)
    assert not condition_holds({"StringNotEquals": {TAG_KEYS: "owner"}}, keys)


def test_condition_key_names_are_case_insensitive_but_string_values_are_not() -> None:
    assert condition_holds({"StringEquals": {"S3:EXISTINGOBJECTTAG/DataClassification": "internal"}}, {TAG: "internal"})
    assert not condition_holds({"StringEquals": {TAG: "internal"}}, {TAG.upper(): "INTERNAL"})
    with pytest.raises(ValueError, match="given twice"):
        effective_context(get({TAG: "a", TAG.upper(): "b"}))


def test_policy_variable_in_a_condition_value_present_and_absent() -> None:
    same_clearance = {"StringEqualsIgnoreCase": {TAG: "${aws:PrincipalTag/clearance}"}}
    assert condition_holds(same_clearance, {TAG: "internal", "aws:PrincipalTag/clearance": "INTERNAL"})
    assert not condition_holds(same_clearance, {TAG: "internal", "aws:PrincipalTag/clearance": "secret"})
    assert not condition_holds(same_clearance, {TAG: "internal"})  # no value: StringEquals does not match


def test_negated_operator_with_a_valueless_variable_matches_as_documented() -> None:
    # The example of reference_policies_variables.html#policy-vars-no-value: "Access is explicitly
    # denied when aws:principaltag/Team is not set."
    team_guard = policy(
        allow(),
        deny(Condition={"StringNotEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}}),
    )
    assert evaluate(get({"s3:ExistingObjectTag/Team": "blue", "aws:PrincipalTag/Team": "blue"}), [team_guard]).allowed
    assert evaluate(get({"s3:ExistingObjectTag/Team": "blue"}), [team_guard]).reason == "explicit_deny"


def test_malformed_policies_and_requests_fail_loudly_instead_of_being_ignored() -> None:
    with pytest.raises(ValueError, match="service:Action"):
        evaluate(get(action="GetObject"), [policy(allow("*"))])
    with pytest.raises(PolicyError, match="unknown condition operator"):
        evaluate(get(), [policy(deny(Condition={"StringEqualz": {TAG: "x"}}))])
    with pytest.raises(PolicyError, match="not a valid number"):
        evaluate(get({"s3:max-keys": "1"}), [policy(deny(Condition={"NumericLessThan": {"s3:max-keys": "x"}}))])
    with pytest.raises(PolicyError, match="resolve_intrinsics"):
        evaluate(get(), [policy(allow(resource={"Fn::GetAtt": ["CuratedBucket", "Arn"]}))])
    with pytest.raises(PolicyError, match="has a Principal"):
        evaluate(get(), [policy(allow(Principal="*"))])
    with pytest.raises(PolicyError, match="needs Action"):
        evaluate(get(), [policy({"Effect": "Allow", "Action": "s3:*"})])


# --- KMS key policies -----------------------------------------------------------------------

ENABLE_IAM = {
    "Sid": "EnableIamPolicies",
    "Effect": "Allow",
    "Principal": {"AWS": ROOT},
    "Action": "kms:*",
    "Resource": "*",
}
DECRYPT = Request(ANALYST, "kms:Decrypt", KEY, {"kms:ViaService": "s3.us-east-1.amazonaws.com"})
IDENTITY_DECRYPT = policy(allow("kms:Decrypt", KEY, Sid="UseZoneKey"))


def test_kms_key_policy_allowing_the_principal_directly_suffices() -> None:
    key_policy = policy(allow("kms:Decrypt", "*", Sid="AnalystDecrypt", Principal={"AWS": ANALYST}), name="curated-key")
    decision = evaluate_kms(DECRYPT, [], key_policy)
    assert (
        decision.allowed and decision.explain() == 'allowed by statement "AnalystDecrypt" in key policy of curated-key'
    )
    assert evaluate_kms(DECRYPT, [policy(deny("kms:*", "*"))], key_policy).reason == "explicit_deny"


def test_kms_key_policy_allowing_the_account_root_delegates_to_identity_policies() -> None:
    key_policy = policy(ENABLE_IAM, name="curated-key")
    assert evaluate_kms(DECRYPT, [], key_policy).reason == "implicit_deny"
    decision = evaluate_kms(DECRYPT, [IDENTITY_DECRYPT], key_policy)
    assert decision.allowed and decision.statement is not None and decision.statement.sid == "UseZoneKey"
    assert 'delegates to IAM through statement "EnableIamPolicies"' in decision.explain()


def test_kms_identity_allow_without_key_policy_delegation_is_denied() -> None:
    key_policy = policy(allow("kms:*", "*", Principal={"AWS": STEWARD}), name="raw-key")
    decision = evaluate_kms(DECRYPT, [IDENTITY_DECRYPT], key_policy)
    assert decision.reason == "implicit_deny"
    assert "does not delegate to IAM" in decision.explain() and "has no effect" in decision.explain()


def test_kms_key_policy_deny_wins_over_a_direct_allow() -> None:
    key_policy = policy(
        allow("kms:*", "*", Principal={"AWS": ANALYST}),
        deny(
            "kms:Decrypt",
            "*",
            Sid="OnlyViaS3",
            Principal="*",
            Condition={"StringNotLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
        ),
        name="curated-key",
    )
    assert evaluate_kms(DECRYPT, [], key_policy).allowed
    direct_call = Request(ANALYST, "kms:Decrypt", KEY)
    assert (
        evaluate_kms(direct_call, [], key_policy).explain().startswith('denied by explicit Deny statement "OnlyViaS3"')
    )


def test_an_s3_read_of_an_sse_kms_object_needs_both_s3_and_kms_permission() -> None:
    s3_allows = [policy(allow(), allow("kms:Decrypt", KEY))]
    key_policy = policy(allow("kms:*", "*", Principal={"AWS": STEWARD}), name="curated-key")
    both = evaluate(get(), s3_allows, key_policy=key_policy, key_request=DECRYPT)
    assert both.reason == "implicit_deny" and "key policy of curated-key" in both.explain()
    delegating = policy(ENABLE_IAM, name="curated-key")
    assert evaluate(get(), s3_allows, key_policy=delegating, key_request=DECRYPT).allowed
    assert evaluate(get(action="s3:PutObject"), s3_allows, key_policy=delegating, key_request=DECRYPT).statement is None
    with pytest.raises(ValueError, match="key_request"):
        evaluate(get(), s3_allows, key_policy=delegating)


# --- the naive classification deny and its fix ---------------------------------------------

READ_ALL = policy(allow(["s3:GetObject", "s3:GetObjectVersion"]))


def bucket(*statements: dict[str, Any]) -> NamedPolicy:
    return policy(*statements, name=BUCKET)


def reads(tag: str | None) -> dict[str, Any]:
    return {} if tag is None else {TAG: tag}


def test_naive_deny_defect_duplicate_json_key_keeps_only_the_last_value() -> None:
    naive_text = (
        '{"Version": "2012-10-17", "Statement": [{"Sid": "DenyAboveInternal", "Effect": "Deny",'
        ' "Principal": "*", "Action": "s3:GetObject", "Resource": "' + BUCKET_ARN + '/*", "Condition": {'
        ' "StringEquals": {"' + TAG + '": "secret"},'
        ' "StringEquals": {"' + TAG + '": "confidential"}}}]}'
    )
    document = json.loads(naive_text)
    assert document["Statement"][0]["Condition"] == {"StringEquals": {TAG: "confidential"}}
    naive = NamedPolicy(BUCKET, document)
    assert evaluate(get({TAG: "confidential"}), [READ_ALL], naive).reason == "explicit_deny"
    assert evaluate(get({TAG: "secret"}), [READ_ALL], naive).allowed  # the secret object leaks


def test_naive_deny_defect_denying_only_get_object_leaves_object_versions_readable() -> None:
    naive = bucket(deny(Principal="*", Condition={"StringEquals": {TAG: ["confidential", "secret"]}}))
    assert not evaluate(get({TAG: "secret"}), [READ_ALL], naive).allowed
    assert evaluate(get({TAG: "secret"}, action="s3:GetObjectVersion"), [READ_ALL], naive).allowed


def test_naive_deny_defect_a_fail_open_deny_leaves_untagged_objects_readable() -> None:
    naive = bucket(
        deny(
            ["s3:GetObject", "s3:GetObjectVersion"],
            Principal="*",
            Condition={"StringEquals": {TAG: ["proprietary", "confidential", "secret"]}},
        )
    )
    assert not evaluate(get({TAG: "secret"}), [READ_ALL], naive).allowed
    assert evaluate(get({}), [READ_ALL], naive).allowed  # no tag at all: nothing to match, no deny
    assert evaluate(get({TAG: "SECRET"}), [READ_ALL], naive).allowed  # and StringEquals is case-sensitive


@pytest.mark.parametrize(
    ("tag", "action", "allowed"),
    [
        ("public", "s3:GetObject", True),
        ("Internal", "s3:GetObject", True),
        ("INTERNAL", "s3:GetObjectVersion", True),
        ("confidential", "s3:GetObject", False),
        ("secret", "s3:GetObjectVersion", False),
        ("SECRET", "s3:GetObject", False),
        (None, "s3:GetObject", False),
        (None, "s3:GetObjectVersion", False),
    ],
)
def test_allow_list_deny_over_all_read_actions_fixes_all_three_defects(
    tag: str | None, action: str, allowed: bool
) -> None:
    fixed = bucket(
        deny(
            ["s3:GetObject", "s3:GetObjectVersion"],
            Sid="DenyReadAboveClearance",
            Principal="*",
            Condition={"StringNotEqualsIgnoreCase": {TAG: ["public", "internal"]}},
        )
    )
    decision = evaluate(get(reads(tag), action=action), [READ_ALL], fixed)
    assert decision.allowed is allowed
    if not allowed:
        assert decision.statement is not None and decision.statement.sid == "DenyReadAboveClearance"


# --- CloudFormation intrinsics ---------------------------------------------------------------


def test_resolve_intrinsics_substitutes_refs_getatts_joins_and_subs() -> None:
    resolver = StaticResolver(
        refs={"AWS::AccountId": ACCOUNT, "AWS::Region": "us-east-1", "CuratedBucket": BUCKET},
        attributes={("CuratedBucket", "Arn"): BUCKET_ARN, ("AnalystRole", "Arn"): ANALYST},
    )
    template_policy = {
        "Statement": [
            {
                "Principal": {"AWS": {"Fn::GetAtt": ["AnalystRole", "Arn"]}},
                "Resource": [
                    {"Fn::GetAtt": "CuratedBucket.Arn"},
                    {"Fn::Join": ["", [{"Fn::GetAtt": ["CuratedBucket", "Arn"]}, "/*"]]},
                    {"Fn::Sub": "arn:aws:kms:${AWS::Region}:${AWS::AccountId}:key/${KeyId}"},
                    {
                        "Fn::Sub": [
                            "${Bucket}/${!aws:PrincipalTag/team}/*",
                            {"Bucket": {"Ref": "CuratedBucket"}},
                        ]
                    },
                    {"Fn::Select": [1, {"Fn::Split": ["/", "a/b/c"]}]},
                ],
            }
        ]
    }
    with pytest.raises(UnresolvedIntrinsicError, match="KeyId"):
        resolve_intrinsics(template_policy, resolver)
    template_policy["Statement"][0]["Resource"][2]["Fn::Sub"] = "arn:aws:kms:${AWS::Region}:${AWS::AccountId}:key/k"
    resolved = resolve_intrinsics(template_policy, resolver)
    assert resolved["Statement"][0] == {
        "Principal": {"AWS": ANALYST},
        "Resource": [
            BUCKET_ARN,
            f"{BUCKET_ARN}/*",
            f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k",
            f"{BUCKET}/${{aws:PrincipalTag/team}}/*",
            "b",
        ],
    }
    with pytest.raises(UnresolvedIntrinsicError, match="Fn::ImportValue"):
        resolve_intrinsics({"Fn::ImportValue": "x"}, resolver)

"""IAM Condition blocks: operators, `...IfExists`, `ForAnyValue:`/`ForAllValues:`, missing keys.

Why: moto ignores Condition blocks, yet every guardrail of the lake (clearance, TLS only, tag
tampering) lives in one. This module implements the documented semantics of
"IAM JSON policy elements: Condition operators"
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
and of set operators for multivalued keys
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html

The rules, in the order they are applied to one (operator, key) pair:

1. `Null`: `"true"` matches when the key is absent, `"false"` when it is present.
2. `ForAllValues:` matches when the key is absent or empty, else when *every* request value
   satisfies the base operator. `ForAnyValue:` on an absent or empty key does not match, else it
   matches when *some* request value satisfies the base operator. (`...IfExists` is honoured first:
   an absent key makes an IfExists condition true, whatever the set qualifier.)
3. Absent key: `...IfExists` -> true; a negated operator (StringNotEquals, StringNotLike,
   ArnNotLike, NotIpAddress, ...) -> true ("If the policy condition requires that the key is *not*
   matched ... and the right key is not present, the condition is true"); any other -> false.
4. A multivalued key (a list in the context) used without a set qualifier does not match, not even
   with a negated operator: AWS requires a set operator for multivalued keys.
5. Otherwise several values for one key are OR'ed: a positive operator matches if any value
   matches, a negated operator matches if no value does (it is the negation of its positive twin).
   A value whose policy variable has no value matches nothing, so a negated operator ignores it
   ("Inverted condition operators like StringNotEquals ... do match against a null value",
   reference_policies_variables.html#policy-vars-no-value).

Several keys under one operator, and several operators in one block, are AND'ed.
Malformed policy values (a NumericEquals on "abc", an unknown operator) raise PolicyError rather
than silently not matching, because a silently inert Deny is a fail-open.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from datalake_cfn.access.patterns import RequestContext, arn_matches, pattern_matches


class PolicyError(ValueError):
    """A policy document the evaluator cannot interpret; evaluation must not guess."""


SetQualifier = Literal["ForAnyValue", "ForAllValues"]
ValueTest = Callable[[str, str, RequestContext | None], bool]
"""(request value, policy value, context for variables) -> does the positive operator match?"""


def _string_test(*, wildcards: bool, ignore_case: bool) -> ValueTest:
    def test(request_value: str, policy_value: str, context: RequestContext | None) -> bool:
        return pattern_matches(policy_value, request_value, context, wildcards=wildcards, ignore_case=ignore_case)

    return test


def _parse_number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _parse_date(text: str) -> datetime | None:
    """ISO 8601 (W3C profile) or epoch seconds, as the Date operators accept; naive means UTC."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        try:
            return datetime.fromtimestamp(int(text), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _policy_operand(parse: Callable[[str], Any], policy_value: str, kind: str) -> Any:
    parsed = parse(policy_value)
    if parsed is None:
        raise PolicyError(f"condition value {policy_value!r} is not a valid {kind}")
    return parsed


def _ordered_test(parse: Callable[[str], Any], kind: str, compare: Callable[[Any, Any], bool]) -> ValueTest:
    """Numeric/Date operators: an unparseable request value simply does not match."""

    def test(request_value: str, policy_value: str, context: RequestContext | None) -> bool:
        expected = _policy_operand(parse, policy_value, kind)
        actual = parse(request_value)
        return actual is not None and compare(actual, expected)

    return test


def _bool_test(request_value: str, policy_value: str, context: RequestContext | None) -> bool:
    expected = policy_value.strip().lower()
    if expected not in ("true", "false"):
        raise PolicyError(f"Bool condition value {policy_value!r} is neither true nor false")
    return request_value.strip().lower() == expected


def _ip_test(request_value: str, policy_value: str, context: RequestContext | None) -> bool:
    try:
        network = ipaddress.ip_network(policy_value.strip(), strict=False)
    except ValueError as error:
        raise PolicyError(f"IpAddress condition value {policy_value!r} is not an IP range") from error
    try:
        address = ipaddress.ip_address(request_value.strip())
    except ValueError:
        return False
    return address.version == network.version and address in network


def _arn_test(request_value: str, policy_value: str, context: RequestContext | None) -> bool:
    return arn_matches(policy_value, request_value, context)


def _binary_test(request_value: str, policy_value: str, context: RequestContext | None) -> bool:
    return request_value == policy_value


@dataclass(frozen=True)
class BaseOperator:
    """One operator family member: its positive test, and whether it is the negated twin."""

    name: str
    test: ValueTest
    negated: bool = False
    variables: bool = True


def _operators() -> dict[str, BaseOperator]:
    numeric = _parse_number
    table = [
        BaseOperator("StringEquals", _string_test(wildcards=False, ignore_case=False)),
        BaseOperator("StringNotEquals", _string_test(wildcards=False, ignore_case=False), negated=True),
        BaseOperator("StringEqualsIgnoreCase", _string_test(wildcards=False, ignore_case=True)),
        BaseOperator("StringNotEqualsIgnoreCase", _string_test(wildcards=False, ignore_case=True), negated=True),
        BaseOperator("StringLike", _string_test(wildcards=True, ignore_case=False)),
        BaseOperator("StringNotLike", _string_test(wildcards=True, ignore_case=False), negated=True),
        BaseOperator("NumericEquals", _ordered_test(numeric, "number", lambda a, b: a == b), variables=False),
        BaseOperator("NumericNotEquals", _ordered_test(numeric, "number", lambda a, b: a == b), True, variables=False),
        BaseOperator("NumericLessThan", _ordered_test(numeric, "number", lambda a, b: a < b), variables=False),
        BaseOperator("NumericLessThanEquals", _ordered_test(numeric, "number", lambda a, b: a <= b), variables=False),
        BaseOperator("NumericGreaterThan", _ordered_test(numeric, "number", lambda a, b: a > b), variables=False),
        BaseOperator(
            "NumericGreaterThanEquals", _ordered_test(numeric, "number", lambda a, b: a >= b), variables=False
        ),
        BaseOperator("DateEquals", _ordered_test(_parse_date, "date", lambda a, b: a == b), variables=False),
        BaseOperator("DateNotEquals", _ordered_test(_parse_date, "date", lambda a, b: a == b), True, variables=False),
        BaseOperator("DateLessThan", _ordered_test(_parse_date, "date", lambda a, b: a < b), variables=False),
        BaseOperator("DateLessThanEquals", _ordered_test(_parse_date, "date", lambda a, b: a <= b), variables=False),
        BaseOperator("DateGreaterThan", _ordered_test(_parse_date, "date", lambda a, b: a > b), variables=False),
        BaseOperator("DateGreaterThanEquals", _ordered_test(_parse_date, "date", lambda a, b: a >= b), variables=False),
        BaseOperator("Bool", _bool_test),
        BaseOperator("BinaryEquals", _binary_test, variables=False),
        BaseOperator("IpAddress", _ip_test, variables=False),
        BaseOperator("NotIpAddress", _ip_test, negated=True, variables=False),
        BaseOperator("ArnEquals", _arn_test),
        BaseOperator("ArnLike", _arn_test),
        BaseOperator("ArnNotEquals", _arn_test, negated=True),
        BaseOperator("ArnNotLike", _arn_test, negated=True),
    ]
    return {operator.name.lower(): operator for operator in table}


OPERATORS = _operators()


@dataclass(frozen=True)
class Operator:
    """A parsed condition operator such as `ForAnyValue:StringNotEqualsIgnoreCaseIfExists`."""

    text: str
    base: BaseOperator | None  # None for Null
    qualifier: SetQualifier | None = None
    if_exists: bool = False

    @classmethod
    def parse(cls, text: str) -> Operator:
        """Parse an operator name; unknown names raise PolicyError (AWS would reject the policy)."""
        qualifier: SetQualifier | None = None
        name = text
        for candidate in ("ForAnyValue", "ForAllValues"):
            prefix = candidate + ":"
            if name.lower().startswith(prefix.lower()):
                qualifier = candidate  # type: ignore[assignment]
                name = name[len(prefix) :]
        if name.lower() == "null":
            if qualifier is not None:
                raise PolicyError(f"condition operator {text!r}: Null takes no set qualifier")
            return cls(text, None)
        if_exists = name.lower().endswith("ifexists")
        if if_exists:
            name = name[: -len("IfExists")]
        base = OPERATORS.get(name.lower())
        if base is None:
            raise PolicyError(f"unknown condition operator {text!r}")
        return cls(text, base, qualifier, if_exists)


def policy_values(raw: object, where: str) -> tuple[str, ...]:
    """Condition values as strings: a scalar or a list; JSON booleans/numbers as IAM renders them."""
    items = raw if isinstance(raw, list | tuple) else [raw]
    values: list[str] = []
    for item in items:
        if isinstance(item, bool):
            values.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            values.append(str(item))
        else:
            raise PolicyError(
                f"{where}: condition value {item!r} is not a string; unresolved CloudFormation "
                "intrinsics must be resolved first (datalake_cfn.access.cfn.resolve_intrinsics)"
            )
    return tuple(values)


def _any_value_matches(
    operator: BaseOperator, request_value: str, values: Sequence[str], context: RequestContext | None
) -> bool:
    """The operator applied to one request value: OR over policy values, negated for Not-operators."""
    variables = context if operator.variables else None
    positive = any(operator.test(request_value, value, variables) for value in values)
    return not positive if operator.negated else positive


def _null_matches(present: bool, values: Sequence[str]) -> bool:
    for value in values:
        if value.strip().lower() not in ("true", "false"):
            raise PolicyError(f"Null condition value {value!r} is neither true nor false")
    return any((value.strip().lower() == "true") != present for value in values)


def condition_matches(
    operator: Operator,
    key: str,
    values: Sequence[str],
    context: RequestContext,
    *,
    variables: bool = True,
) -> bool:
    """Evaluate one (operator, key, values) triple against the request context.

    `variables=False` turns `${...}` into literal text (policies older than Version 2012-10-17).
    """
    request_value = context.get(key)
    if operator.base is None:
        return _null_matches(request_value is not None, values)
    variable_context = context if variables else None
    if request_value is None and operator.if_exists:
        return True
    if operator.qualifier is not None:
        request_values = () if request_value is None else _as_tuple(request_value)
        results = (_any_value_matches(operator.base, v, values, variable_context) for v in request_values)
        return all(results) if operator.qualifier == "ForAllValues" else any(results)
    if request_value is None:
        return operator.base.negated
    if isinstance(request_value, tuple):
        return False
    return _any_value_matches(operator.base, request_value, values, variable_context)


def _as_tuple(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


@dataclass(frozen=True)
class Condition:
    """One parsed (operator, key, values) entry of a Condition block."""

    operator: Operator
    key: str
    values: tuple[str, ...]

    def matches(self, context: RequestContext, *, variables: bool = True) -> bool:
        """Evaluate this entry against a request context."""
        return condition_matches(self.operator, self.key, self.values, context, variables=variables)


def parse_condition_block(block: object, where: str) -> tuple[Condition, ...]:
    """Parse a statement's Condition element into entries that are AND'ed together."""
    if block is None:
        return ()
    if not isinstance(block, Mapping):
        raise PolicyError(f"{where}: Condition must be an object, got {type(block).__name__}")
    conditions: list[Condition] = []
    for operator_text, entries in block.items():
        operator = Operator.parse(str(operator_text))
        if not isinstance(entries, Mapping):
            raise PolicyError(f"{where}: Condition operator {operator_text!r} must map keys to values")
        for key, raw in entries.items():
            conditions.append(Condition(operator, str(key), policy_values(raw, where)))
    return tuple(conditions)


def conditions_match(conditions: Sequence[Condition], context: RequestContext, *, variables: bool = True) -> bool:
    """All entries must match (AND across operators and across keys)."""
    return all(condition.matches(context, variables=variables) for condition in conditions)

"""Request context, policy variables and wildcard matching for the IAM evaluator.

Why a module of its own: the same three mechanisms (case-insensitive context keys, `${...}` policy
variables, `*`/`?` wildcards) are shared by the Action/Resource matching in `evaluator.py` and by
the condition operators in `conditions.py`, and each has documented corner cases that must behave
the same way everywhere:

- Context key names are case-insensitive; values keep their case.
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html
- Policy variables `${key}` are replaced by the request's value for `key`; `${key, 'default'}` uses
  the default when the key is absent; `${*}`, `${?}` and `${$}` stand for a literal `*`, `?`, `$`.
  A variable whose key is absent (or multivalued) has no value, and a pattern containing it matches
  nothing. Variables are only recognised in policies with `"Version": "2012-10-17"`; with an older
  or missing Version they are literal text.
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
- `*` matches any run of characters (including none, and including `/` and `:`), `?` exactly one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

ContextInput = str | bool | int | float | Sequence[str]
"""What a caller may put in a request context: a single value, or a list for a multivalued key."""

ContextValue = str | tuple[str, ...]
"""A normalised context value: a string, or a tuple of strings for a multivalued key."""

_TOKEN = re.compile(r"\$\{([^}]*)\}|[*?]")
_VARIABLE = re.compile(r"^\s*(?P<name>[^,]+?)\s*(?:,\s*'(?P<default>[^']*)'\s*)?$")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}
_SPECIAL = re.compile(r"[*?]|\$\{")


def _as_text(value: object) -> str:
    """Render a scalar the way IAM sees it: booleans as `true`/`false`, numbers in decimal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise TypeError(f"context values must be str, bool, int or float, not {type(value).__name__}")


def normalize_value(value: ContextInput) -> ContextValue:
    """Normalise one context value; lists (multivalued keys) become tuples of strings."""
    if isinstance(value, str | bool | int | float):
        return _as_text(value)
    return tuple(_as_text(item) for item in value)


@dataclass(frozen=True)
class RequestContext:
    """The request context keys of one request, looked up case-insensitively by name.

    A key mapped to `None` by the caller is treated as absent, so callers can build contexts with
    optional values without filtering them first.
    """

    values: Mapping[str, ContextValue]

    @classmethod
    def of(cls, raw: Mapping[str, ContextInput | None]) -> RequestContext:
        """Build a context, rejecting two keys that differ only in case (which one would win?)."""
        values: dict[str, ContextValue] = {}
        for key, value in raw.items():
            if value is None:
                continue
            folded = key.lower()
            if folded in values:
                raise ValueError(f"context key {key!r} is given twice (context keys are case-insensitive)")
            values[folded] = normalize_value(value)
        return cls(values)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self.values

    def get(self, key: str) -> ContextValue | None:
        """The value of `key`, or None when the request does not carry it."""
        return self.values.get(key.lower())

    def single(self, key: str) -> str | None:
        """The value of a single-valued key; None if absent or multivalued (no usable value)."""
        value = self.get(key)
        return value if isinstance(value, str) else None

    def items(self) -> Iterator[tuple[str, ContextValue]]:
        """The (lower-cased key, value) pairs, e.g. to hand the same context to another evaluator."""
        return iter(self.values.items())


def resolve_variable(body: str, context: RequestContext) -> str | None:
    """Resolve the text inside `${...}`; None when it has no value (absent key, no default).

    A multivalued key cannot be used as a variable (AWS: "you can't use multivalued context keys
    as policy variables"), so it resolves like an absent key: to the default, if any.
    """
    if body in _ESCAPES:
        return _ESCAPES[body]
    match = _VARIABLE.match(body)
    if match is None:
        return None
    value = context.single(match.group("name"))
    if value is not None:
        return value
    return match.group("default")


@lru_cache(maxsize=8192)
def _tokens(pattern: str) -> tuple[tuple[str, str], ...]:
    """Split an IAM string once into ("text", ...), ("*", ...), ("?", ...) and ("var", body) tokens."""
    tokens: list[tuple[str, str]] = []
    position = 0
    for token in _TOKEN.finditer(pattern):
        if token.start() > position:
            tokens.append(("text", pattern[position : token.start()]))
        text = token.group(0)
        tokens.append((text, text) if text in ("*", "?") else ("var", token.group(1)))
        position = token.end()
    if position < len(pattern):
        tokens.append(("text", pattern[position:]))
    return tuple(tokens)


def _regex(parts: Sequence[tuple[str, str]], wildcards: bool, ignore_case: bool) -> re.Pattern[str]:
    """Compile resolved tokens; `var` tokens must already be replaced by their literal values."""
    source = "".join(
        (".*" if kind == "*" else ".") if wildcards and kind in ("*", "?") else re.escape(text) for kind, text in parts
    )
    return re.compile(source, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


@lru_cache(maxsize=8192)
def _static_regex(pattern: str, wildcards: bool, ignore_case: bool) -> re.Pattern[str]:
    """The regex of a pattern whose `${...}` are literal text (no context to resolve them)."""
    literal = [("text", "${" + text + "}") if kind == "var" else (kind, text) for kind, text in _tokens(pattern)]
    return _regex(literal, wildcards, ignore_case)


def compile_pattern(
    pattern: str,
    context: RequestContext | None,
    *,
    wildcards: bool,
    ignore_case: bool = False,
) -> re.Pattern[str] | None:
    """Compile an IAM string (Action, Resource or condition value) to a regex for `fullmatch`.

    `context=None` disables policy variables (policy Version older than 2012-10-17): `${...}` is
    then literal text. Returns None when a variable has no value, because such a value must not
    match anything (and must not be mistaken for the literal text `${...}`).
    """
    tokens = _tokens(pattern)
    if context is None or not any(kind == "var" for kind, _ in tokens):
        return _static_regex(pattern, wildcards, ignore_case)
    resolved: list[tuple[str, str]] = []
    for kind, text in tokens:
        if kind != "var":
            resolved.append((kind, text))
            continue
        value = resolve_variable(text, context)
        if value is None:
            return None
        resolved.append(("text", value))
    return _regex(resolved, wildcards, ignore_case)


def pattern_matches(
    pattern: str,
    value: str,
    context: RequestContext | None,
    *,
    wildcards: bool,
    ignore_case: bool = False,
) -> bool:
    """True if `value` matches the IAM string `pattern`; a valueless variable never matches."""
    if not _SPECIAL.search(pattern):  # fast path: plain text, the common case
        return value == pattern or (ignore_case and value.lower() == pattern.lower())
    compiled = compile_pattern(pattern, context, wildcards=wildcards, ignore_case=ignore_case)
    return compiled is not None and compiled.fullmatch(value) is not None


def split_arn(arn: str) -> tuple[str, ...] | None:
    """Split an ARN into its six components (the resource part may itself contain `:`).

    Returns None for anything that is not an ARN, so ARN operators can treat it as a non-match.
    """
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return tuple(parts)


def arn_matches(pattern: str, arn: str, context: RequestContext | None) -> bool:
    """ArnLike/ArnEquals: compare the six ARN components separately, each with wildcards.

    "Each of the six colon-delimited components of the ARN is checked separately and each can
    include multi-character match wildcards (*) or single-character match wildcards (?)."
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN
    """
    pattern_parts = split_arn(pattern)
    arn_parts = split_arn(arn)
    if pattern_parts is None or arn_parts is None:
        return False
    return all(pattern_matches(p, a, context, wildcards=True) for p, a in zip(pattern_parts, arn_parts, strict=True))


def resource_matches(pattern: str, resource: str, context: RequestContext | None) -> bool:
    """Match a Resource/NotResource entry against the request's resource ARN (case-sensitive).

    The first five ARN components are matched one by one with wildcards but without variables:
    "You can use policy variables in the Resource element, but only in the resource portion of the
    ARN. This portion of the ARN appears after the fifth colon" (reference_policies_variables).
    A pattern that is not a full ARN (`*`, or something malformed) is matched as a whole string.
    """
    if pattern == "*":
        return True
    pattern_parts = split_arn(pattern)
    resource_parts = split_arn(resource)
    if pattern_parts is None or resource_parts is None:
        return pattern_matches(pattern, resource, context, wildcards=True)
    head_matches = all(
        pattern_matches(p, r, None, wildcards=True) for p, r in zip(pattern_parts[:5], resource_parts[:5], strict=True)
    )
    return head_matches and pattern_matches(pattern_parts[5], resource_parts[5], context, wildcards=True)

"""Resolve CloudFormation intrinsic functions in synthesized policy documents.

Why: policies in a synthesized template reference their resources through intrinsics
(`{"Fn::GetAtt": ["CuratedBucket1234", "Arn"]}`, `{"Fn::Join": ["", [..., "/*"]]}`), but the
evaluator needs concrete ARNs. Whoever computes the access matrix from the templates knows the
physical names (from `datalake_cfn.naming` and the config); this module only does the substitution,
through a resolver callback, and refuses anything it does not understand rather than leave an
intrinsic in place (the evaluator would then reject the policy anyway).

Supported: `Ref`, `Fn::GetAtt` (list or "Res.Attr" form), `Fn::Join`, `Fn::Sub` (string or
[string, variables] form, including `${!Literal}` escapes), `Fn::Select`, `Fn::Split`.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

_SUB_TOKEN = re.compile(r"\$\{([^}]*)\}")


class UnresolvedIntrinsicError(ValueError):
    """An intrinsic function (or a reference) that could not be resolved."""


class IntrinsicResolver(Protocol):
    """Supplies the values behind `Ref` and `Fn::GetAtt` (including pseudo parameters)."""

    def ref(self, name: str) -> Any:
        """The value of `{"Ref": name}`, e.g. a bucket name or `AWS::AccountId`."""
        ...

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """The value of `{"Fn::GetAtt": [logical_id, attribute]}`, e.g. a role or key ARN."""
        ...


@dataclass(frozen=True)
class StaticResolver:
    """A resolver backed by plain mappings, e.g. built from naming.py for a given LakeConfig."""

    refs: Mapping[str, Any] = field(default_factory=dict)
    attributes: Mapping[tuple[str, str], Any] = field(default_factory=dict)

    def ref(self, name: str) -> Any:
        """Look up a Ref; unknown names raise UnresolvedIntrinsicError."""
        if name not in self.refs:
            raise UnresolvedIntrinsicError(f"no value for Ref {name!r}")
        return self.refs[name]

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """Look up a GetAtt; unknown pairs raise UnresolvedIntrinsicError."""
        key = (logical_id, attribute)
        if key not in self.attributes:
            raise UnresolvedIntrinsicError(f"no value for Fn::GetAtt {logical_id}.{attribute}")
        return self.attributes[key]


def _get_att(argument: Any, resolver: IntrinsicResolver) -> Any:
    if isinstance(argument, str):
        logical_id, _, attribute = argument.partition(".")
    elif isinstance(argument, list) and len(argument) == 2:
        logical_id, attribute = (str(_text(resolve_intrinsics(a, resolver))) for a in argument)
    else:
        raise UnresolvedIntrinsicError(f"malformed Fn::GetAtt {argument!r}")
    return resolver.get_att(logical_id, attribute)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise UnresolvedIntrinsicError(f"expected a string, got {value!r}")


def _join(argument: Any, resolver: IntrinsicResolver) -> str:
    if not (isinstance(argument, list) and len(argument) == 2):
        raise UnresolvedIntrinsicError(f"malformed Fn::Join {argument!r}")
    delimiter, values = (resolve_intrinsics(a, resolver) for a in argument)
    if not isinstance(values, list):
        raise UnresolvedIntrinsicError(f"Fn::Join needs a list, got {values!r}")
    return _text(delimiter).join(_text(v) for v in values)


def _sub(argument: Any, resolver: IntrinsicResolver) -> str:
    if isinstance(argument, str):
        template, variables = argument, {}
    elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], Mapping):
        template, variables = argument[0], resolve_intrinsics(argument[1], resolver)
    else:
        raise UnresolvedIntrinsicError(f"malformed Fn::Sub {argument!r}")

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            return _text(variables[name])
        if "." in name and not name.startswith("AWS::"):
            logical_id, _, attribute = name.partition(".")
            return _text(resolver.get_att(logical_id, attribute))
        return _text(resolver.ref(name))

    return _SUB_TOKEN.sub(replace, _text(template))


def _select(argument: Any, resolver: IntrinsicResolver) -> Any:
    if not (isinstance(argument, list) and len(argument) == 2):
        raise UnresolvedIntrinsicError(f"malformed Fn::Select {argument!r}")
    index, values = (resolve_intrinsics(a, resolver) for a in argument)
    if not isinstance(values, list):
        raise UnresolvedIntrinsicError(f"Fn::Select needs a list, got {values!r}")
    return values[int(index)]


def _split(argument: Any, resolver: IntrinsicResolver) -> list[str]:
    if not (isinstance(argument, list) and len(argument) == 2):
        raise UnresolvedIntrinsicError(f"malformed Fn::Split {argument!r}")
    delimiter, source = (_text(resolve_intrinsics(a, resolver)) for a in argument)
    return source.split(delimiter)


_FUNCTIONS = {
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Sub": _sub,
    "Fn::Select": _select,
    "Fn::Split": _split,
}


def resolve_intrinsics(obj: Any, resolver: IntrinsicResolver) -> Any:
    """Return a copy of `obj` with every intrinsic replaced by its value.

    A dict with exactly one key that is `Ref` or a supported `Fn::` is an intrinsic; any other
    `Fn::` function raises UnresolvedIntrinsicError so that no intrinsic survives silently.
    """
    if isinstance(obj, list):
        return [resolve_intrinsics(item, resolver) for item in obj]
    if not isinstance(obj, Mapping):
        return obj
    if len(obj) == 1:
        ((name, argument),) = obj.items()
        if name == "Ref":
            return resolver.ref(_text(resolve_intrinsics(argument, resolver)))
        if name in _FUNCTIONS:
            return _FUNCTIONS[name](argument, resolver)
        if isinstance(name, str) and name.startswith("Fn::"):
            raise UnresolvedIntrinsicError(f"unsupported intrinsic function {name}")
    return {key: resolve_intrinsics(value, resolver) for key, value in obj.items()}

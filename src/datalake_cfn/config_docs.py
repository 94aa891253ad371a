"""The lake.yaml field reference (docs/lake-yaml.md), generated from the pydantic model.

Generated rather than written so it cannot drift from what the loader accepts; a test
checks the committed page equals this output.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from datalake_cfn.config import LakeConfig


def _type_name(annotation: Any) -> str:
    """`Annotated[str, ...] | None` -> `str or null`: what a YAML author needs to know."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in args)
    if origin is typing.Literal:
        return " or ".join(f"`{arg}`" for arg in args)
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(arg) for arg in args)}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, BaseModel):
            return "see below"
    elif field.default is PydanticUndefined:
        return "**required**"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        value = [v.model_dump(exclude_none=True) for v in value]
    return f"`{json.dumps(value)}`"


def _section(model: type[BaseModel], path: str, seen: set[type]) -> list[str]:
    lines = [
        f"## `{path}`",
        "",
        (model.__doc__ or "").strip(),
        "",
        "| field | type | default | meaning |",
        "|---|---|---|---|",
    ]
    nested: list[tuple[type[BaseModel], str]] = []
    for name, field in model.model_fields.items():
        lines.append(
            f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {(field.description or '').strip()} |"
        )
        for candidate in _models_in(field.annotation):
            if candidate not in seen:
                seen.add(candidate)
                suffix = "[]" if "list" in str(field.annotation) else ""
                nested.append((candidate, f"{path}.{name}{suffix}" if path != "lake.yaml" else f"{name}{suffix}"))
    lines.append("")
    for candidate, sub_path in nested:
        lines += _section(candidate, sub_path, seen)
    return lines


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def reference_markdown() -> str:
    header = [
        "# lake.yaml reference",
        "",
        "Generated from `datalake_cfn.config` by `datalake schema --docs`; do not edit by hand.",
        "The JSON schema for editors: `datalake schema > lake.schema.json` and the first line of lake.yaml",
        "`# yaml-language-server: $schema=./lake.schema.json`.",
        "",
    ]
    return "\n".join(header + _section(LakeConfig, "lake.yaml", {LakeConfig})).rstrip() + "\n"

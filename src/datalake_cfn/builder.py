"""Render the lake's two templates, check them against CloudFormation's limits, write them out.

`python build.py` is a thin entry over :func:`main`. Rendering is pure: the same lake.yaml gives
the same bytes (sorted keys, no clock, no AWS call), which is what makes `templates/` a
reviewable diff and `--check` meaningful.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from datalake_cfn.config import ConfigError, LakeConfig, load_config, parse_config

STACKS = ("prod", "security")
MAX_RESOURCES = 500
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200
MAX_TEMPLATE_BYTES = 1_000_000  # TemplateURL's limit; TemplateBody's 51,200 is why templates launch from S3
REPO_ROOT = Path(__file__).resolve().parents[2]
GOLDEN_DIR = REPO_ROOT / "templates"
DEFAULT_ZONES = ("raw", "staged", "curated", "sandbox")


@dataclass(frozen=True)
class RenderedStack:
    """One rendered template: its parsed form and its exact bytes."""

    stack: str
    template: dict[str, Any]
    json_text: str

    @property
    def resources(self) -> int:
        return len(self.template.get("Resources", {}))

    @property
    def parameters(self) -> int:
        return len(self.template.get("Parameters", {}))

    @property
    def compact_text(self) -> str:
        """What the publisher uploads: the same template without indentation."""
        return json.dumps(self.template, separators=(",", ":"), sort_keys=True, ensure_ascii=False)

    @property
    def size(self) -> int:
        """Bytes of the uploaded (compact) form, the one CloudFormation's 1 MB limit applies to."""
        return len(self.compact_text.encode("utf-8"))

    def yaml_text(self) -> str:
        """YAML with the long-form intrinsics (`Fn::Sub:`), so it loads back equal to the JSON."""
        return yaml.safe_dump(self.template, sort_keys=True, default_flow_style=False, width=120)


def to_json(template: dict[str, Any]) -> str:
    return json.dumps(template, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def render(config: LakeConfig) -> dict[str, RenderedStack]:
    """Both templates of the lake, keyed `prod` and `security`."""
    from datalake_cfn.stacks.prod import build_prod
    from datalake_cfn.stacks.security import build_security

    rendered = {}
    for stack, build in (("prod", build_prod), ("security", build_security)):
        template = json.loads(build(config).to_json(indent=None, sort_keys=True))
        rendered[stack] = RenderedStack(stack=stack, template=template, json_text=to_json(template))
    return rendered


def limit_problems(rendered: dict[str, RenderedStack]) -> list[tuple[str, str]]:
    """CloudFormation's per-template limits, as (lake.yaml field, problem) pairs, one line per template.

    Resources, outputs and bytes grow with zones and own-queue datasets, so an excess names `zones`;
    the line always gives the resource count, the number a user compares across lake.yaml edits.
    """
    problems = []
    for stack in rendered.values():
        outputs = len(stack.template.get("Outputs", {}))
        over = [
            text
            for exceeded, text in (
                (stack.resources > MAX_RESOURCES, f"over the limit of {MAX_RESOURCES} resources"),
                (outputs > MAX_OUTPUTS, f"{outputs} outputs, over the limit of {MAX_OUTPUTS}"),
                (
                    stack.size > MAX_TEMPLATE_BYTES,
                    f"{stack.size:,} bytes, over the {MAX_TEMPLATE_BYTES:,}-byte TemplateURL limit",
                ),
            )
            if exceeded
        ]
        if over:
            problems.append(
                (
                    "zones",
                    f"the {stack.stack} template would have {stack.resources} resources ({'; '.join(over)}); "
                    "use fewer zones or own-queue datasets, or split the lake",
                )
            )
        if stack.parameters > MAX_PARAMETERS:
            problems.append(("(template)", f"the {stack.stack} template has {stack.parameters} parameters (max 200)"))
    return problems


def render_checked(config: LakeConfig, source: str = "lake.yaml") -> dict[str, RenderedStack]:
    """:func:`render`, refusing a lake over CloudFormation's limits with a ConfigError naming the field."""
    rendered = render(config)
    problems = limit_problems(rendered)
    if problems:
        raise ConfigError(source, problems)
    return rendered


def write_templates(rendered: dict[str, RenderedStack], directory: Path) -> dict[str, Path]:
    """`<dir>/prod.json`, `prod.yaml`, `security.json`, `security.yaml`; returns the JSON paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for stack in rendered.values():
        path = directory / f"{stack.stack}.json"
        path.write_text(stack.json_text, encoding="utf-8")
        (directory / f"{stack.stack}.yaml").write_text(stack.yaml_text(), encoding="utf-8")
        paths[stack.stack] = path
    return paths


def default_config_text() -> str:
    return resources.files("datalake_cfn.data").joinpath("lake.yaml").read_text(encoding="utf-8")


def default_config() -> LakeConfig:
    """The lake `datalake init` writes: what `templates/` is rendered from."""
    return parse_config(yaml.safe_load(default_config_text()), "the bundled lake.yaml")


def config_with_zones(count: int) -> LakeConfig:
    """The default lake with `count` zones: see docs/build.md for what 1, 2, 3, 4 and more give."""
    data = yaml.safe_load(default_config_text())
    data["zones"] = zones_for(count)
    chained = {z["name"] for z in data["zones"]}
    data["datasets"] = [d for d in data.get("datasets", []) if not isinstance(d.get("transform"), dict)] + [
        d for d in data.get("datasets", []) if isinstance(d.get("transform"), dict)
    ]
    for dataset in data["datasets"]:
        if isinstance(dataset.get("transform"), dict):
            dataset["transform"] = {z: t for z, t in dataset["transform"].items() if z in chained} or None
            if dataset["transform"] is None:
                del dataset["transform"]
    return parse_config(data, f"--zones {count}")


def zones_for(count: int) -> list[dict[str, Any]]:
    """N zones: 1 is a single landing zone; 2 raw -> staged; 3 raw -> staged -> curated (Parquet);
    4 adds the analysts' sandbox; more insert `refinedN` hops between staged and curated."""
    if count < 1:
        raise ConfigError("--zones", [("--zones", f"{count}: a lake needs at least one zone")])
    if count == 1:
        return [{"name": "raw"}]
    if count == 2:
        return [{"name": "raw", "next": "staged"}, {"name": "staged"}]
    middle = [f"refined{i}" for i in range(1, count - 3)]
    chain = ["raw", "staged", *middle, "curated"]
    zones: list[dict[str, Any]] = [{"name": a, "next": b} for a, b in itertools.pairwise(chain)]
    zones.append({"name": "curated", "format": "parquet"})
    if count >= 4:
        zones.append({"name": "sandbox"})
    return zones


def resolve_config(config_path: str | None, zones: int | None) -> tuple[LakeConfig, str]:
    """`--config`, else `./lake.yaml` when present, else the bundled default; `--zones N` reshapes it."""
    if config_path is not None:
        config, source = load_config(config_path), config_path
    elif Path("lake.yaml").is_file():
        config, source = load_config("lake.yaml"), "lake.yaml"
    else:
        config, source = default_config(), "the bundled lake.yaml"
    if zones is not None:
        if config_path is not None or source == "lake.yaml":
            data = config.model_dump(mode="json", exclude_none=True)
            data["zones"] = zones_for(zones)
            config = parse_config(data, f"{source} with --zones {zones}")
        else:
            config = config_with_zones(zones)
    return config, source


def stale_golden(rendered: dict[str, RenderedStack], golden_dir: Path = GOLDEN_DIR) -> list[str]:
    """The files of `templates/` that differ from this render (or are missing)."""
    stale = []
    for stack in rendered.values():
        for suffix, text in ((".json", stack.json_text), (".yaml", stack.yaml_text())):
            path = golden_dir / f"{stack.stack}{suffix}"
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(
                    str(path.relative_to(golden_dir.parent)) if path.is_relative_to(golden_dir.parent) else str(path)
                )
    return stale


def write_artifacts(config: LakeConfig, out: Path) -> list[str]:
    """The consumer zip and the Glue scripts, under `<out>/artifacts/`, ready for the publisher."""
    from datalake_cfn.artifacts import write_artifacts as write

    return [str(path) for path in write(config, out / "artifacts")]

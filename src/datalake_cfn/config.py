"""lake.yaml -> LakeConfig: the one description of a lake that everything else derives from.

The model is strict (unknown fields are errors) because a typo in an infrastructure file
that is silently ignored becomes a missing bucket or an open policy later. Every
validation error names the field (``zones[2].next``) and says how to fix it; the CLI
prints :class:`ConfigError` without a traceback.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import ipaddress
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_CLASSIFICATION = ["public", "internal", "proprietary", "confidential", "secret"]
PERSONA_NAMES = ("steward", "engineer", "scientist", "analyst")

# Bucket names are `<lake>-<zone>-<account>-<region>` (see naming.py); these limits keep the
# longest such name within S3's 63 characters for every commercial region.
LAKE_NAME = r"^[a-z][a-z0-9-]{1,18}[a-z0-9]$"
ZONE_NAME = r"^[a-z][a-z0-9]{0,11}$"
DATASET_NAME = r"^[a-z][a-z0-9_]{0,39}$"
CALLABLE_PATH = r"^[A-Za-z_][\w.]*[:.][A-Za-z_]\w*$"
MAX_DATASET_NAME = 40
# Names of the lake's own buckets and queues (`<lake>-dlq`, `<lake>-s3logs-...`: see naming.py).
RESERVED_ZONE_NAMES = ("dlq", "s3logs", "athena", "glue", "audit")
SUBNET_TIERS = 3  # public, private, data

LakeName = Annotated[
    str, Field(pattern=LAKE_NAME, description="Lowercase letters, digits and hyphens, 3-20 characters.")
]
ZoneName = Annotated[str, Field(pattern=ZONE_NAME, description="Lowercase letters and digits, 1-12 characters.")]
DatasetName = Annotated[
    str, Field(pattern=DATASET_NAME, description="Lowercase letters, digits and underscores, 1-40 characters.")
]
AccountId = Annotated[str, Field(pattern=r"^\d{12}$", description="A 12-digit AWS account id.")]


class Strict(BaseModel):
    """Base for every part of lake.yaml: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Zone(Strict):
    """One zone: a bucket, its key, its queue and (when it has a `next`) a consumer."""

    name: ZoneName = Field(description="The zone's name; part of every physical name of the zone.")
    next: ZoneName | None = Field(
        default=None, description="The zone the consumer writes into; none for a terminal zone."
    )
    format: Literal["csv", "parquet"] = Field(
        default="csv", description="Format of the objects written INTO this zone by the pipeline."
    )


class Dataset(Strict):
    """A stream of data identified by a key prefix inside every zone bucket."""

    name: DatasetName = Field(description="Dataset name; also its table suffix (`<zone>_<dataset>`).")
    prefix: str | None = Field(
        default=None, description="Key prefix in each zone (default `<name>/`). Must end with `/`."
    )
    classification: str = Field(
        default="internal", description="The `dataclassification` tag put on every object of the dataset."
    )
    transform: str | dict[ZoneName, str] | None = Field(
        default=None,
        description=(
            "A user transform as a dotted path `module:callable`, applied batch-wise to Arrow record "
            "batches after the built-in cleaning on the first hop; or a mapping target-zone -> path."
        ),
    )
    own_queue: bool = Field(
        default=False, description="Give the dataset its own queue and consumer in every chained zone."
    )

    @field_validator("prefix")
    @classmethod
    def _prefix_ends_with_slash(cls, value: str | None) -> str | None:
        if value is not None and (not value.endswith("/") or value.startswith("/") or "//" in value):
            raise ValueError("must be a relative key prefix ending with '/', for example 'sales/'")
        return value

    @field_validator("transform")
    @classmethod
    def _transform_is_a_dotted_path(cls, value: str | dict[str, str] | None) -> str | dict[str, str] | None:
        paths = [value] if isinstance(value, str) else list((value or {}).values())
        for path in paths:
            if not re.match(CALLABLE_PATH, path):
                raise ValueError(f"{path!r} is not a dotted path; write it as 'package.module:function'")
        return value

    @property
    def key_prefix(self) -> str:
        return self.prefix or f"{self.name}/"

    def transform_for(self, target_zone: str, first_hop_target: str) -> str | None:
        """The user transform applied on the hop into `target_zone`, if any."""
        if isinstance(self.transform, str):
            return self.transform if target_zone == first_hop_target else None
        return (self.transform or {}).get(target_zone)


class Persona(Strict):
    """A job function; its clearance is the highest classification it may read."""

    clearance: str = Field(description="Highest `dataclassification` level this persona may read.")


class Personas(Strict):
    """The four job functions of the mission. Clearance is a second axis, carried by a tag."""

    clearance_mode: Literal["tag", "roles"] = Field(
        default="tag",
        description=(
            "`tag`: one role per persona, clearance from a principal/session tag `clearance`. "
            "`roles`: one role per persona and clearance level under /<lake>/<persona>/<clearance>/."
        ),
    )
    steward: Persona = Field(default=Persona(clearance="secret"), description="Administers the lake.")
    engineer: Persona = Field(default=Persona(clearance="confidential"), description="Reads and writes all zones.")
    scientist: Persona = Field(
        default=Persona(clearance="proprietary"), description="Reads staged/curated/sandbox, writes curated."
    )
    analyst: Persona = Field(default=Persona(clearance="internal"), description="Queries curated, writes sandbox.")

    def items(self) -> Iterator[tuple[str, Persona]]:
        for name in PERSONA_NAMES:
            yield name, getattr(self, name)


class Network(Strict):
    """The VPC. Lambdas live in the private subnets, data stores' interfaces in the data subnets."""

    cidr: str = Field(default="10.20.0.0/16", description="The VPC's IPv4 CIDR block (/16 to /22).")
    max_azs: int = Field(default=2, ge=2, le=6, description="Availability zones to spread subnets over.")
    subnet_mask: int = Field(default=24, ge=20, le=28, description="Mask of every subnet (public, private, data).")

    @field_validator("cidr")
    @classmethod
    def _valid_cidr(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IPv4 CIDR block such as 10.20.0.0/16") from exc
        if not 16 <= net.prefixlen <= 22:
            raise ValueError("the VPC block must be between /16 and /22")
        return value


class Accounts(Strict):
    """The two AWS accounts of the two stacks."""

    prod: AccountId | None = Field(default=None, description="Account of the prod stack (the lake).")
    security: AccountId | None = Field(default=None, description="Account of the security stack (audit).")


class Pipeline(Strict):
    """How each zone consumer runs: the Lambda and its SQS event source."""

    memory_mb: int = Field(default=1024, ge=128, le=10240, description="Consumer Lambda memory (MB).")
    timeout_seconds: int = Field(default=120, ge=10, le=900, description="Consumer Lambda timeout.")
    reserved_concurrency: int = Field(default=10, ge=1, le=1000, description="Consumer reserved concurrency.")
    batch_size: int = Field(default=10, ge=1, le=10000, description="SQS messages per invocation.")
    max_batching_window_seconds: int = Field(default=1, ge=0, le=300, description="SQS batching window.")
    max_receive_count: int = Field(
        default=3, ge=1, le=1000, description="Receives of a message before it moves to the DLQ."
    )
    log_retention_days: int = Field(
        default=365,
        description="CloudWatch Logs retention of consumers (a year: what audits and Control Tower expect).",
    )

    @property
    def visibility_timeout_seconds(self) -> int:
        """Six times the function timeout, as AWS recommends for SQS event sources."""
        return 6 * self.timeout_seconds


class Audit(Strict):
    """The security account's audit trail bucket."""

    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        default="GOVERNANCE", description="S3 Object Lock mode of the audit bucket."
    )
    retention_days: int = Field(default=365, ge=1, le=3650, description="Object Lock default retention.")
    macie_schedule: Literal["daily", "weekly", "monthly"] = Field(
        default="weekly", description="How often Macie's classification job scans the zone buckets."
    )


class LakeConfig(Strict):
    """The whole lake. Loaded from lake.yaml by :func:`load_config`."""

    lake: LakeName = Field(description="The lake's name; prefixes every physical resource name.")
    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$", description="AWS region.")
    accounts: Accounts = Field(default_factory=Accounts, description="The prod and security account ids.")
    classification: list[str] = Field(
        default_factory=lambda: list(DEFAULT_CLASSIFICATION),
        min_length=1,
        description="Classification levels, ordered from lowest to highest.",
    )
    zones: list[Zone] = Field(
        default_factory=lambda: [
            Zone(name="raw", next="staged", format="csv"),
            Zone(name="staged", next="curated", format="csv"),
            Zone(name="curated", format="parquet"),
            Zone(name="sandbox", format="csv"),
        ],
        min_length=1,
        description="Ordered list of zones; each names its `next` zone or none.",
    )
    datasets: list[Dataset] = Field(default_factory=list, description="Datasets (key prefixes) of the lake.")
    strict: bool = Field(
        default=False,
        description=(
            "Refuse objects outside every declared dataset: they go to the DLQ with a reason naming their "
            "prefix. Off: they flow through as undeclared datasets named after their first path segment."
        ),
    )
    default_classification: str | None = Field(
        default=None,
        description=(
            "The `dataclassification` of undeclared datasets; default the most restrictive level (fail-closed)."
        ),
    )
    default_dataset: DatasetName = Field(
        default="unsorted", description="The undeclared dataset of objects at the bucket root (no path segment)."
    )
    personas: Personas = Field(default_factory=Personas, description="Job functions and their clearance.")
    network: Network = Field(default_factory=Network, description="The VPC of the prod stack.")
    pipeline: Pipeline = Field(default_factory=Pipeline, description="How each zone consumer runs.")
    audit: Audit = Field(default_factory=Audit, description="The security account's audit trail.")

    @field_validator("classification")
    @classmethod
    def _levels_are_simple_and_unique(cls, levels: list[str]) -> list[str]:
        for level in levels:
            if not re.match(r"^[a-z][a-z0-9_-]{0,31}$", level):
                raise ValueError(f"level {level!r} must be lowercase letters, digits, '_' or '-'")
        duplicates = sorted({lvl for lvl in levels if levels.count(lvl) > 1})
        if duplicates:
            raise ValueError(f"duplicate levels {duplicates}; list each level once")
        return levels

    @model_validator(mode="after")
    def _consistent(self) -> LakeConfig:
        problems: list[tuple[tuple[Any, ...], str]] = []
        problems += _zone_problems(self.zones)
        known_zones = {zone.name for zone in self.zones}
        seen: set[str] = set()
        prefixes: dict[str, str] = {}
        for i, dataset in enumerate(self.datasets):
            if dataset.name in seen:
                problems.append((("datasets", i, "name"), f"duplicate dataset {dataset.name!r}; rename one"))
            seen.add(dataset.name)
            if dataset.classification not in self.classification:
                problems.append(
                    (
                        ("datasets", i, "classification"),
                        f"unknown level {dataset.classification!r}; use one of {self.classification}",
                    )
                )
            for other_name, other_prefix in prefixes.items():
                mine = dataset.key_prefix
                if mine.startswith(other_prefix) or other_prefix.startswith(mine):
                    problems.append(
                        (
                            ("datasets", i, "prefix"),
                            f"prefix {mine!r} overlaps dataset {other_name!r} ({other_prefix!r}); "
                            "S3 notifications cannot overlap",
                        )
                    )
            prefixes[dataset.name] = dataset.key_prefix
            if isinstance(dataset.transform, dict):
                for zone_name in dataset.transform:
                    if zone_name not in known_zones:
                        problems.append((("datasets", i, "transform", zone_name), f"unknown zone {zone_name!r}"))
        if self.default_classification is not None and self.default_classification not in self.classification:
            problems.append(
                (
                    ("default_classification",),
                    f"unknown level {self.default_classification!r}; use one of {self.classification}",
                )
            )
        if self.default_dataset in seen:
            problems.append(
                (
                    ("default_dataset",),
                    f"{self.default_dataset!r} is a declared dataset; name the root objects' dataset differently",
                )
            )
        for name, persona in self.personas.items():
            if persona.clearance not in self.classification:
                problems.append(
                    (
                        ("personas", name, "clearance"),
                        f"unknown level {persona.clearance!r}; use one of {self.classification}",
                    )
                )
        problems += _derived_name_problems(self)
        if problems:
            raise _located_errors(problems)
        return self

    # -- derived views -------------------------------------------------------------------------

    def zone(self, name: str) -> Zone:
        for zone in self.zones:
            if zone.name == name:
                return zone
        raise KeyError(name)

    def dataset(self, name: str) -> Dataset:
        for dataset in self.datasets:
            if dataset.name == name:
                return dataset
        raise KeyError(name)

    @property
    def chained_zones(self) -> list[Zone]:
        """Zones that have a consumer (a `next` zone), in order."""
        return [zone for zone in self.zones if zone.next]

    @property
    def first_zone(self) -> Zone:
        """The landing zone: the head of the chain (no other zone points at it)."""
        targets = {zone.next for zone in self.zones if zone.next}
        for zone in self.zones:
            if zone.next and zone.name not in targets:
                return zone
        return self.zones[0]

    def chain(self) -> list[Zone]:
        """The zones from the landing zone along `next`, e.g. raw -> staged -> curated."""
        zones, zone = [], self.first_zone
        while zone is not None:
            zones.append(zone)
            zone = self.zone(zone.next) if zone.next else None
        return zones

    @property
    def undeclared_classification(self) -> str:
        """The level of objects outside every declared dataset: fail-closed unless the lake says otherwise."""
        return self.default_classification or self.classification[-1]

    def level_rank(self, level: str) -> int:
        return self.classification.index(level)

    def levels_up_to(self, clearance: str) -> list[str]:
        """Levels a holder of `clearance` may read: itself and every level below it."""
        return self.classification[: self.level_rank(clearance) + 1]


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region botocore knows (all partitions).

    Read from botocore's own endpoints file rather than through a botocore session: creating
    the session imports the whole client machinery (about 0.2 s), which every command that
    loads lake.yaml paid, `datalake transform` on a local file included. The session stays
    the fallback for a botocore that keeps the file elsewhere.
    """
    endpoints = _botocore_endpoints()
    return frozenset(region for partition in endpoints["partitions"] for region in partition["regions"])


def _botocore_endpoints() -> dict[str, Any]:
    spec = importlib.util.find_spec("botocore")
    locations = (spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        data = Path(location) / "data"
        if (data / "endpoints.json").is_file():
            return json.loads((data / "endpoints.json").read_bytes())
        if (data / "endpoints.json.gz").is_file():
            return json.loads(gzip.decompress((data / "endpoints.json.gz").read_bytes()))
    import botocore.session  # pragma: no cover - a botocore without the file

    return botocore.session.get_session().get_data("endpoints")  # pragma: no cover


def _derived_name_problems(config: LakeConfig) -> list[tuple[tuple[Any, ...], str]]:
    """What breaks later in S3, Lambda or the VPC: bucket names, function names, region, CIDR."""
    from datalake_cfn.naming import LakeNames, is_valid_bucket_name

    problems: list[tuple[tuple[Any, ...], str]] = []
    regions = known_regions()
    if config.region not in regions:
        problems.append((("region",), f"unknown AWS region {config.region!r}; use one such as us-east-1"))
    for prefix in ("sthree-", "xn--"):
        if config.lake.startswith(prefix):
            problems.append((("lake",), f"S3 refuses bucket names starting {prefix!r}; rename the lake"))
    longest = max(regions, key=len)
    for i, zone in enumerate(config.zones):
        bucket = f"{config.lake}-{zone.name}-123456789012-{longest}"
        if not is_valid_bucket_name(bucket):
            problems.append(
                (
                    ("zones", i, "name"),
                    f"bucket name {bucket!r} ({len(bucket)} characters in region {longest}) is not a valid "
                    "S3 bucket name (at most 63); shorten the lake or zone name",
                )
            )
    names = LakeNames.for_config(config, account="123456789012", region=config.region)
    functions: dict[str, str] = {}
    for i, dataset in enumerate(config.datasets):
        if not dataset.own_queue:
            continue
        for zone in config.chained_zones:
            function = names.consumer_function(zone.name, dataset.name)
            other = functions.setdefault(function, dataset.name)
            if other != dataset.name:
                problems.append(
                    (
                        ("datasets", i, "name"),
                        f"its consumer function in zone {zone.name!r} is named {function!r}, as dataset "
                        f"{other!r}'s (names are cut to 64 characters); make the names differ earlier",
                    )
                )
                break
    net = ipaddress.IPv4Network(config.network.cidr, strict=False)
    needed = SUBNET_TIERS * config.network.max_azs
    fits = 2 ** (config.network.subnet_mask - net.prefixlen) if config.network.subnet_mask >= net.prefixlen else 0
    if fits < needed:
        problems.append(
            (
                ("network", "cidr"),
                f"{config.network.cidr} holds {fits} /{config.network.subnet_mask} subnet(s) but the VPC needs "
                f"{needed} ({SUBNET_TIERS} tiers x max_azs {config.network.max_azs}); use a larger block, "
                "fewer availability zones or a larger subnet_mask",
            )
        )
    return problems


def _zone_problems(zones: list[Zone]) -> list[tuple[tuple[Any, ...], str]]:
    problems: list[tuple[tuple[Any, ...], str]] = []
    index_of: dict[str, int] = {}
    for i, zone in enumerate(zones):
        if zone.name in RESERVED_ZONE_NAMES:
            problems.append(
                (
                    ("zones", i, "name"),
                    f"{zone.name!r} is reserved: the lake's own buckets and queues use "
                    f"{', '.join(RESERVED_ZONE_NAMES)}; pick another name",
                )
            )
    for i, zone in enumerate(zones):
        if zone.name in index_of:
            problems.append((("zones", i, "name"), f"duplicate zone {zone.name!r}; zone names must be unique"))
        index_of.setdefault(zone.name, i)
    for i, zone in enumerate(zones):
        if zone.next is not None and zone.next not in index_of:
            problems.append(
                (("zones", i, "next"), f"unknown zone {zone.next!r}; use one of {sorted(index_of)} or omit it")
            )
        if zone.next == zone.name:
            problems.append((("zones", i, "next"), f"zone {zone.name!r} points at itself"))
    if problems:
        return problems
    for i, zone in enumerate(zones):
        seen, current = {zone.name}, zone
        while current.next:
            current = zones[index_of[current.next]]
            if current.name in seen:
                problems.append(
                    (("zones", i, "next"), f"the zone chain from {zone.name!r} is a cycle; a chain must end")
                )
                break
            seen.add(current.name)
    return problems[:1]


class ConfigError(Exception):
    """A lake.yaml that cannot be used, with one line per problem: field, what is wrong, how to fix."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: invalid lake configuration"]
        lines += [f"  {field}: {message}" for field, message in problems]
        super().__init__("\n".join(lines))


class _LocatedErrors(ValueError):
    def __init__(self, problems: list[tuple[tuple[Any, ...], str]]):
        self.problems = problems
        super().__init__("; ".join(message for _, message in problems))


def _located_errors(problems: list[tuple[tuple[Any, ...], str]]) -> _LocatedErrors:
    return _LocatedErrors(problems)


def field_path(loc: tuple[Any, ...]) -> str:
    """('zones', 2, 'next') -> 'zones[2].next'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


_FRIENDLY = {
    "missing": "is required",
    "extra_forbidden": "is not a known field (check its spelling; `datalake schema` lists the fields)",
    "string_pattern_mismatch": "does not have the required form",
}


def _problems_from(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for error in exc.errors():
        ctx_error = (error.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _LocatedErrors):
            problems += [(field_path(loc), message) for loc, message in ctx_error.problems]
            continue
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p in {"str", "dict[str,str]"}))
        message = _FRIENDLY.get(error["type"], error["msg"].removeprefix("Value error, "))
        if error["type"] == "string_pattern_mismatch":
            message += f" {_pattern_hint(loc)} (got {error.get('input')!r})"
            value = error.get("input")
            if "datasets" in loc and isinstance(value, str) and len(value) > MAX_DATASET_NAME:
                message += f"; {len(value)} characters, the limit is {MAX_DATASET_NAME}"
        if error["type"] == "string_type" and "accounts" in loc:
            message = (
                f'must be a quoted string, e.g. {loc[-1]}: "{error.get("input")}" '
                "(YAML reads an unquoted number as an integer and drops leading zeros)"
            )
        problems.append((field_path(loc), message))
    return problems


def _pattern_hint(loc: tuple[Any, ...]) -> str:
    if loc[-1] == "lake":
        return "(3-20 lowercase letters, digits or hyphens, starting with a letter: it names S3 buckets)"
    if "zones" in loc:
        return "(1-12 lowercase letters or digits, starting with a letter: it names S3 buckets)"
    if "datasets" in loc:
        return f"(1-{MAX_DATASET_NAME} lowercase letters, digits and underscores, starting with a letter)"
    if "region" in loc:
        return "(an AWS region such as us-east-1)"
    if "accounts" in loc:
        return "(a 12-digit account id, quoted)"
    return ""


def parse_config(data: Any, source: str = "lake.yaml") -> LakeConfig:
    """Validate already-parsed YAML/JSON data, raising :class:`ConfigError` on any problem."""
    if not isinstance(data, dict):
        raise ConfigError(source, [("(top level)", "must be a mapping with at least `lake: <name>`")])
    try:
        return LakeConfig.model_validate(data)
    except ValidationError as exc:
        problems = _problems_from(exc)
        seen = {field for field, _ in problems}
        problems += [(f, m) for f, m in _raw_reference_problems(data) if f not in seen]
        raise ConfigError(source, problems) from None


def _raw_reference_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """References between parts, checked on the raw data when field errors stop the model early.

    So that one round reports a type error and an unknown zone together.
    """
    zones = data.get("zones")
    if not isinstance(zones, list):
        return []
    names = {z.get("name") for z in zones if isinstance(z, dict)}
    problems: list[tuple[str, str]] = []
    for i, zone in enumerate(zones):
        if isinstance(zone, dict) and zone.get("next") is not None and zone["next"] not in names:
            known = sorted(n for n in names if isinstance(n, str))
            problems.append((f"zones[{i}].next", f"unknown zone {zone['next']!r}; use one of {known} or omit it"))
    for i, dataset in enumerate(data.get("datasets") or []):
        transform = dataset.get("transform") if isinstance(dataset, dict) else None
        for zone_name in transform if isinstance(transform, dict) else []:
            if zone_name not in names:
                problems.append((f"datasets[{i}].transform.{zone_name}", f"unknown zone {zone_name!r}"))
    return problems


def load_config(path: str | Path = "lake.yaml") -> LakeConfig:
    """Read and validate lake.yaml."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(str(path), [("(file)", "not found; run `datalake init` to write a default lake.yaml")])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), [(where, f"malformed YAML: {problem}; fix the indentation or quoting")]) from None
    return parse_config(data, str(path))


def json_schema() -> dict[str, Any]:
    """The JSON schema of lake.yaml, for editors (yaml-language-server) and `datalake schema`."""
    schema = LakeConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "datalake lake.yaml"
    return schema

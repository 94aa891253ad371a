"""lake.yaml: the default is valid; every kind of mistake names its field and says how to fix it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from datalake_cfn.config import ConfigError, LakeConfig, json_schema, load_config, parse_config
from datalake_cfn.config_docs import reference_markdown

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "src/datalake_cfn/data/lake.yaml"


def default_data() -> dict:
    return yaml.safe_load(DEFAULT.read_text())


def test_default_lake_yaml_loads_with_four_zones_and_the_chain() -> None:
    config = load_config(DEFAULT)
    assert [z.name for z in config.zones] == ["raw", "staged", "curated", "sandbox"]
    assert [z.name for z in config.chain()] == ["raw", "staged", "curated"]
    assert config.region == "us-east-1"
    assert config.classification == ["public", "internal", "proprietary", "confidential", "secret"]
    assert config.dataset("customers").classification == "confidential"
    assert config.levels_up_to("proprietary") == ["public", "internal", "proprietary"]


def test_minimal_config_gets_defaults() -> None:
    config = parse_config({"lake": "tiny"})
    assert config.first_zone.name == "raw"
    assert config.pipeline.visibility_timeout_seconds == 6 * config.pipeline.timeout_seconds
    assert config.personas.analyst.clearance == "internal"


def mutate(change) -> dict:
    data = default_data()
    change(data)
    return data


INVALID = {
    "unknown next zone": (
        lambda d: d["zones"][1].update(next="cureted"),
        "zones[1].next",
        "unknown zone 'cureted'",
    ),
    "cycle in the zone chain": (
        lambda d: d["zones"][2].update(next="raw"),
        "zones[",
        "cycle",
    ),
    "duplicate zone names": (
        lambda d: d["zones"].append({"name": "raw"}),
        "zones[4].name",
        "duplicate zone 'raw'",
    ),
    "duplicate dataset names": (
        lambda d: d["datasets"].insert(1, {"name": "sales"}),
        "datasets[1].name",
        "duplicate dataset",
    ),
    "invalid bucket name from the zone": (
        lambda d: d["zones"][3].update(name="Sand_Box"),
        "zones[3].name",
        "names S3 buckets",
    ),
    "invalid bucket name from the lake": (
        lambda d: d.update(lake="ACME lake"),
        "lake",
        "names S3 buckets",
    ),
    "unknown classification": (
        lambda d: d["datasets"][0].update(classification="topsecret"),
        "datasets[0].classification",
        "unknown level 'topsecret'",
    ),
    "unknown persona clearance": (
        lambda d: d["personas"]["analyst"].update(clearance="cosmic"),
        "personas.analyst.clearance",
        "unknown level 'cosmic'",
    ),
    "missing field": (
        lambda d: d.pop("lake"),
        "lake",
        "is required",
    ),
    "wrong type": (
        lambda d: d["pipeline"].update(memory_mb="lots"),
        "pipeline.memory_mb",
        "integer",
    ),
    "unknown field (typo)": (
        lambda d: d["datasets"][0].update(clasification="internal"),
        "datasets[0].clasification",
        "not a known field",
    ),
    "overlapping dataset prefixes": (
        lambda d: d["datasets"].insert(1, {"name": "sales2", "prefix": "sales/eu/"}),
        "datasets[1].prefix",
        "overlaps",
    ),
    "transform that is not a dotted path": (
        lambda d: d["datasets"][0].update(transform="mask emails"),
        "datasets[0].transform",
        "dotted path",
    ),
    "bad CIDR": (
        lambda d: d["network"].update(cidr="10.20.0.0/33"),
        "network.cidr",
        "CIDR",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_config_names_the_field_and_the_fix(case: str) -> None:
    change, field, message = INVALID[case]
    with pytest.raises(ConfigError) as info:
        parse_config(mutate(change))
    text = str(info.value)
    assert field in text, text
    assert message in text, text
    assert "Traceback" not in text


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "lake.yaml"
    path.write_text("lake: acme\nzones:\n  - {name: raw, next: staged\n  - name: staged\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "malformed YAML" in str(info.value)
    assert "line " in str(info.value)


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="datalake init"):
        load_config(tmp_path / "nope.yaml")


def test_cli_prints_config_errors_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "lake.yaml"
    path.write_text("lake: acme\nzones:\n  - {name: raw, next: nowhere}\n")
    result = subprocess.run(
        [sys.executable, "-m", "datalake_cfn", "--config", str(path), "status"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "zones[0].next" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_json_schema_is_generated_from_the_model() -> None:
    schema = json_schema()
    assert schema["required"] == ["lake"]
    assert set(schema["properties"]) == set(LakeConfig.model_fields)


def test_reference_page_is_current() -> None:
    committed = (REPO / "docs/lake-yaml.md").read_text()
    assert committed == reference_markdown(), "regenerate with: datalake schema --docs > docs/lake-yaml.md"


def test_init_writes_a_loadable_default(tmp_path: Path) -> None:
    target = tmp_path / "lake.yaml"
    result = subprocess.run([sys.executable, "-m", "datalake_cfn", "init", str(target)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert load_config(target).lake == "acme"
    assert (tmp_path / "lake.schema.json").exists()
    again = subprocess.run([sys.executable, "-m", "datalake_cfn", "init", str(target)], capture_output=True, text=True)
    assert again.returncode == 2 and "--force" in again.stderr


# -- issue 13: what used to pass validation and break later, refused at load time with its field --
def _refused(data: dict) -> dict[str, str]:  # type: ignore[type-arg]
    from datalake_cfn.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return dict(caught.value.problems)


@pytest.mark.parametrize("zone", ["dlq", "s3logs", "athena", "glue", "audit"])
def test_a_zone_named_like_the_lakes_own_resources_is_refused(zone: str) -> None:
    problems = _refused({"lake": "acme", "zones": [{"name": "raw", "next": zone}, {"name": zone}]})
    assert "is reserved" in problems["zones[1].name"] and zone in problems["zones[1].name"]


@pytest.mark.parametrize("lake", ["sthree-data", "xn--lake"])
def test_lake_names_s3_refuses_are_refused(lake: str) -> None:
    assert "S3 refuses bucket names starting" in _refused({"lake": lake})["lake"]


def test_an_unknown_region_is_refused() -> None:
    assert "unknown AWS region 'us-foo-1'" in _refused({"lake": "acme", "region": "us-foo-1"})["region"]


def test_the_known_regions_are_botocores_and_reading_them_creates_no_session() -> None:
    """The regions come from botocore's endpoints file; a session (the client machinery, ~0.2 s) stays unloaded."""
    script = (
        "import sys\n"
        "from datalake_cfn.config import known_regions, load_config\n"
        f"load_config({str(DEFAULT)!r})\n"
        "print('botocore.session' in sys.modules)\n"
        "import botocore.session\n"
        "endpoints = botocore.session.get_session().get_data('endpoints')\n"
        "print(known_regions() == {r for p in endpoints['partitions'] for r in p['regions']})\n"
        "print('eu-west-1' in known_regions() and 'cn-north-1' in known_regions())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True", "True"]


def test_a_cidr_too_small_for_the_subnets_is_refused() -> None:
    network = {"cidr": "10.0.0.0/22", "max_azs": 3, "subnet_mask": 24}
    message = _refused({"lake": "acme", "network": network})["network.cidr"]
    assert "holds 4 /24 subnet(s" in message and "needs 9" in message


def test_own_queue_datasets_whose_function_names_collide_are_refused() -> None:
    datasets = [{"name": "a" * 39 + end, "own_queue": True} for end in "xy"]
    message = _refused({"lake": "abcdefghijklmnopqrst", "datasets": datasets})["datasets[1].name"]
    assert "cut to 64 characters" in message


def test_a_long_dataset_name_says_the_limit() -> None:
    message = _refused({"lake": "acme", "datasets": [{"name": "x" * 43}]})["datasets[0].name"]
    assert "43 characters, the limit is 40" in message


def test_an_unquoted_account_id_gets_a_hint_to_quote_it() -> None:
    message = _refused({"lake": "acme", "accounts": {"prod": 123456789012}})["accounts.prod"]
    assert 'quoted string, e.g. prod: "123456789012"' in message


def test_a_type_error_does_not_hide_an_unknown_zone() -> None:
    problems = _refused({"lake": "acme", "pipeline": {"memory_mb": "x"}, "zones": [{"name": "raw", "next": "cureted"}]})
    assert "pipeline.memory_mb" in problems and "unknown zone 'cureted'" in problems["zones[0].next"]

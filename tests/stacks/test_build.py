"""`python build.py` as users run it: a subprocess, its output, its files and its exit code."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.stacks.conftest import REPO, big_lake_data
from tests.stacks.templates import Rendered, flatten

BUILD = str(REPO / "build.py")


def build(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # An explicit env: under pytest, GNU readline has put LINES/COLUMNS=80 into the C-level environment
    # (not os.environ), which a child would inherit; a CI job piping build.py has no COLUMNS.
    env = dict(os.environ)
    return subprocess.run([sys.executable, BUILD, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def written(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "templates").iterdir())


def test_zones_4_writes_exactly_two_templates_and_says_so(tmp_path: Path) -> None:
    result = build("--zones", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert written(tmp_path / "out") == ["prod.json", "prod.yaml", "security.json", "security.yaml"]
    for word in ("stack", "resources", "bytes", "parameters", "path", "prod", "security"):
        assert word in result.stdout
    prod = json.loads((tmp_path / "out" / "templates" / "prod.json").read_text())
    buckets = {
        r["Properties"]["BucketName"]["Fn::Sub"] for r in prod["Resources"].values() if r["Type"] == "AWS::S3::Bucket"
    }
    for zone in ("raw", "staged", "curated", "sandbox"):
        assert f"acme-{zone}-${{AWS::AccountId}}-${{AWS::Region}}" in buckets


def test_the_table_never_cuts_a_path_when_piped(tmp_path: Path) -> None:
    out = tmp_path / "a-rather-long-output-directory-name-that-a-ci-job-might-well-use" / "out"
    result = build("--zones", "4", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in ("prod.json", "security.json"):
        assert any(str(out / "templates" / name) in line for line in lines), result.stdout


@pytest.mark.parametrize(
    ("zones", "expected"), [("1", ["raw"]), ("6", ["raw", "staged", "refined1", "refined2", "curated", "sandbox"])]
)
def test_other_zone_counts_render(tmp_path: Path, zones: str, expected: list[str]) -> None:
    result = build("--zones", zones, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [s["stack"] for s in report["stacks"]] == ["prod", "security"]
    prod = json.loads((tmp_path / "out" / "templates" / "prod.json").read_text())
    zone_buckets = sorted(
        k for k, r in prod["Resources"].items() if r["Type"] == "AWS::S3::Bucket" and k.startswith("Zone")
    )
    assert zone_buckets == sorted(f"Zone{z[0].upper()}{z[1:]}Bucket" for z in expected)


def test_a_lake_yaml_of_12_zones_and_30_datasets_renders(tmp_path: Path) -> None:
    (tmp_path / "lake.yaml").write_text(yaml.safe_dump(big_lake_data()))
    result = build("--json", cwd=tmp_path)  # ./lake.yaml is picked up
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["lake"] == "bigco" and report["source"] == "lake.yaml"
    assert all(s["resources"] <= 500 and s["bytes"] < 1_000_000 for s in report["stacks"])


def test_a_30_zone_lake_is_refused_in_one_line_naming_zones(tmp_path: Path) -> None:
    chain = [f"z{i:02d}" for i in range(30)]
    zones = [{"name": a, "next": b} for a, b in itertools.pairwise(chain)] + [{"name": chain[-1]}]
    (tmp_path / "lake.yaml").write_text(yaml.safe_dump({"lake": "huge", "zones": zones}))
    result = build(cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    problem = [line for line in result.stderr.splitlines() if "zones" in line]
    assert len(problem) == 1 and re.search(r"\b\d{3} resources\b", problem[0])
    assert not (tmp_path / "out").exists()


def test_a_bad_zone_count_is_a_usage_error(tmp_path: Path) -> None:
    result = build("--zones", "zero", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "--zones" in result.stderr


def test_yaml_loads_back_equal_to_the_json(default_lake: Rendered) -> None:
    for stack in ("prod", "security"):
        json_text = (default_lake.outdir / "templates" / f"{stack}.json").read_text()
        yaml_text = (default_lake.outdir / "templates" / f"{stack}.yaml").read_text()
        assert yaml.safe_load(yaml_text) == json.loads(json_text)


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        assert build("--out", str(out), cwd=tmp_path).returncode == 0
    for name in written(first):
        assert (first / "templates" / name).read_bytes() == (second / "templates" / name).read_bytes()


def _strings(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, f"{path}/{k}")]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, f"{path}/{i}")]
    return []


@pytest.mark.parametrize("lake", ["default_lake", "regional_lake"])
def test_launchable_anywhere(lake: str, request: pytest.FixtureRequest) -> None:
    """No CDK bootstrap, no CDK asset, no literal account id outside Parameters and Mappings."""
    rendered: Rendered = request.getfixturevalue(lake)
    for stack in (rendered.prod, rendered.security):
        text = json.dumps(stack.template)
        assert "BootstrapVersion" not in stack.parameters and "CheckBootstrapVersion" not in text
        assert "cdk-hnb659fds" not in text and "aws:asset" not in text and "aws:cdk" not in text
        body = {k: v for k, v in stack.template.items() if k not in ("Parameters", "Mappings")}
        accounts = [(p, s) for p, s in _strings(body) if re.search(r"(?<![\d.])\d{12}(?![\d.])", s)]
        assert accounts == []


def test_check_passes_on_the_committed_templates_and_fails_when_stale(tmp_path: Path) -> None:
    current = build("--check", cwd=tmp_path)
    assert current.returncode == 0, current.stderr
    golden = tmp_path / "templates"
    shutil.copytree(REPO / "templates", golden)
    (golden / "prod.json").write_text("{}\n")
    stale = build("--check", "--golden-dir", str(golden), cwd=tmp_path)
    assert stale.returncode == 1
    assert "prod.json" in stale.stderr and "Traceback" not in stale.stderr


def test_big_lake_of_12_zones_and_30_datasets_within_cloudformation_limits(big_lake: Rendered) -> None:
    from datalake_cfn.routing import queue_routes

    assert len(big_lake.config.zones) == 12 and len(big_lake.config.datasets) == 30
    prod = big_lake.prod
    assert len(prod.resources) <= 500 and len(prod.outputs) <= 200
    zone_buckets = [b for b in prod.of_type("AWS::S3::Bucket") if b.startswith("Zone")]
    assert len(zone_buckets) == 12
    routes = queue_routes(big_lake.config, big_lake.names)
    assert len(prod.of_type("AWS::SQS::Queue")) == len(routes) + 1  # + the DLQ
    consumers = [r for r in routes if r.has_consumer]
    assert len(prod.of_type("AWS::Lambda::Function")) == len(consumers) == 10 * 3
    for bucket in zone_buckets:
        # One unfiltered notification per zone (own-queue datasets are forwarded by the consumer).
        assert len(prod.props(bucket)["NotificationConfiguration"]["QueueConfigurations"]) == 1


@pytest.mark.parametrize("lake", ["default_lake", "regional_lake", "big_lake"])
def test_no_custom_resource_lambdas(lake: str, request: pytest.FixtureRequest) -> None:
    from datalake_cfn.routing import queue_routes

    rendered: Rendered = request.getfixturevalue(lake)
    consumers = {
        rendered.names.consumer_function(r.zone.name, r.dataset)
        for r in queue_routes(rendered.config, rendered.names)
        if r.has_consumer
    }
    for stack in (rendered.prod, rendered.security):
        types = {r["Type"] for r in stack.resources.values()}
        assert not [t for t in types if t.startswith("Custom::") or t == "AWS::CloudFormation::CustomResource"]
        functions = {flatten(r["Properties"]["FunctionName"]) for r in stack.of_type("AWS::Lambda::Function").values()}
        expected = consumers if stack is rendered.prod else set()
        assert functions == expected  # only the zone consumers; no provider/handler functions


def test_the_other_account_is_a_parameter(default_lake: Rendered, regional_lake: Rendered) -> None:
    """Each template names the other account through a parameter, defaulted from lake.yaml when it says one."""
    assert "Default" not in default_lake.prod.parameters["SecurityAccountId"]
    assert "Default" not in default_lake.security.parameters["ProdAccountId"]
    assert regional_lake.prod.parameters["SecurityAccountId"]["Default"] == "210987654321"
    assert regional_lake.security.parameters["ProdAccountId"]["Default"] == "123456789012"
    for stack in (default_lake.prod, default_lake.security):
        interface = stack.template["Metadata"]["AWS::CloudFormation::Interface"]
        grouped = {p for group in interface["ParameterGroups"] for p in group["Parameters"]}
        assert grouped == set(stack.parameters) == set(interface["ParameterLabels"])
        assert all("AllowedPattern" in p or "AllowedValues" in p for p in stack.parameters.values())

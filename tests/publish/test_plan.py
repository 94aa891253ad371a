"""`datalake plan`: a fresh render against a published version, offline; replacements exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from publish_helpers import datalake, publish_json


def lake_yaml(path: Path, middle: str) -> None:
    zones = [
        {"name": "raw", "next": middle},
        {"name": middle, "next": "curated"},
        {"name": "curated", "format": "parquet"},
    ]
    path.write_text(yaml.safe_dump({"lake": "plan", "zones": zones, "datasets": [{"name": "sales"}]}))


def test_adding_a_zone_adds_and_replaces_nothing(tmp_path: Path, endpoint: str) -> None:
    published = publish_json(tmp_path, endpoint, "--zones", "4", bucket="plan-add")
    result = datalake(tmp_path, "plan", "--zones", "5", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    prod = plan["stacks"]["prod"]
    assert published["version"] in prod["against"]
    assert prod["counts"]["add"] > 0 and prod["counts"]["replace"] == 0 and prod["counts"]["remove"] == 0
    added = {c["logical_id"] for c in prod["changes"] if c["action"] == "add"}
    assert {"ZoneRefined1Bucket", "ZoneRefined1Key", "ZoneRefined1Queue"} <= added, sorted(added)
    assert plan["replacements"] == 0
    text = datalake(tmp_path, "plan", "prod", "--zones", "5")
    assert text.returncode == 0 and "0 to replace, 0 to remove (updates in place)" in text.stdout


def test_renaming_a_zone_lists_the_replaced_bucket_key_and_queue(tmp_path: Path, endpoint: str) -> None:
    lake_yaml(tmp_path / "lake.yaml", "staged")
    publish_json(tmp_path, endpoint, bucket="plan-rename")
    lake_yaml(tmp_path / "lake.yaml", "cleansed")
    result = datalake(tmp_path, "plan", "prod", "--json")
    assert result.returncode == 1, result.stderr
    changes = json.loads(result.stdout)["stacks"]["prod"]["changes"]
    gone = {c["logical_id"]: c for c in changes if c["action"] == "remove"}
    for logical_id in ("ZoneStagedBucket", "ZoneStagedKey", "ZoneStagedQueue"):
        assert logical_id in gone and gone[logical_id]["protected"], sorted(gone)
    text = datalake(tmp_path, "plan", "prod")
    assert text.returncode == 1
    assert "ZoneStagedBucket" in text.stdout and "remove (protected)" in text.stdout


def test_without_a_manifest_plan_compares_with_templates(tmp_path: Path) -> None:
    result = datalake(tmp_path, "plan", "security", "--json")
    assert result.returncode in (0, 1), result.stderr
    assert "templates/security.json" in json.loads(result.stdout)["stacks"]["security"]["against"]
    wrong = datalake(tmp_path, "plan", "staging")
    assert wrong.returncode == 2 and "use prod or security" in wrong.stderr
    missing = datalake(tmp_path, "plan", "--against", "abc")
    assert missing.returncode == 2 and "no manifest" in missing.stderr

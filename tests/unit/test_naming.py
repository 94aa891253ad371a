"""Physical names: valid for their services, unique per zone, stable when the lake grows."""

from __future__ import annotations

from datalake_cfn.config import parse_config
from datalake_cfn.naming import LakeNames, is_valid_bucket_name


def big_lake():
    zones = [{"name": f"zone{i:02d}x", "next": f"zone{i + 1:02d}x"} for i in range(11)] + [{"name": "zone11x"}]
    return parse_config({"lake": "a-rather-long-lake1", "region": "ap-southeast-2", "zones": zones})


def test_every_bucket_name_is_valid_and_unique_even_at_the_limits() -> None:
    config = big_lake()
    names = LakeNames.for_config(config, account="123456789012")
    buckets = [names.bucket(z.name) for z in config.zones]
    extra = [names.access_log_bucket, names.athena_results_bucket, names.glue_assets_bucket, names.audit_bucket]
    assert all(is_valid_bucket_name(b) and len(b) <= 63 for b in buckets + extra), buckets + extra
    assert len(set(buckets)) == len(buckets)


def test_names_are_deterministic_and_account_region_scoped() -> None:
    config = parse_config({"lake": "acme", "datasets": [{"name": "click_stream", "own_queue": True}]})
    names = LakeNames.for_config(config)
    assert names.bucket("raw") == "acme-raw-123456789012-us-east-1"
    assert LakeNames.for_config(config, account="111111111111").bucket("raw") == "acme-raw-111111111111-us-east-1"
    assert names.zone_of_bucket(names.bucket("staged")) == "staged"
    assert names.queue("raw") == "acme-raw"
    assert names.queue("raw", "click_stream") == "acme-raw-click-stream"
    assert names.dlq == "acme-dlq"
    assert names.key_alias("raw") == "alias/acme/raw"
    assert names.table("curated", "click_stream") == "curated_click_stream"
    assert names.glue_database == "acme"
    assert names.role_path("analyst") == "/acme/analyst/"
    assert names.role_arn("analyst") == "arn:aws:iam::123456789012:role/acme/analyst/acme-analyst"
    assert names.role_path("analyst", "internal") == "/acme/analyst/internal/"


def test_invalid_bucket_names_are_rejected() -> None:
    for bad in ["Upper", "a", "x" * 64, "under_score", "-start", "192.168.1.1", "xn--abc", "two..dots"]:
        assert not is_valid_bucket_name(bad), bad

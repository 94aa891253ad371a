"""The local lake is the prod template in miniature: the same config, provisioned in the emulator and
rendered by the builder, yields the same per-zone settings (names, keys, notifications, queues), and
the same routing of every key (one unfiltered notification per zone; the shared queue's consumer
forwards own-queue datasets and keeps undeclared ones, by the same consumer spec)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from zone_consumer.spec import SPEC_ENV

from datalake_cfn.access.cfn import resolve_intrinsics
from datalake_cfn.access.templates import TemplateResolver
from datalake_cfn.builder import render
from datalake_cfn.config import LakeConfig, load_config
from datalake_cfn.local.lake import LocalLake
from datalake_cfn.naming import LakeNames
from datalake_cfn.routing import queue_routes

DEFAULT = Path(__file__).resolve().parents[2] / "src/datalake_cfn/data/lake.yaml"


@pytest.fixture(scope="module")
def config() -> LakeConfig:
    # A lake name of its own: moto's state is shared by every lake started in this test process.
    return load_config(DEFAULT).model_copy(update={"lake": "twin"})


@pytest.fixture(scope="module")
def template(config: LakeConfig) -> dict[str, Any]:
    return render(config)["prod"].template


def _target(reference: Any) -> str:
    """The logical id a `Ref` / `Fn::GetAtt` / `${Id.Arn}` points at."""
    if "Ref" in reference:
        return reference["Ref"]
    if "Fn::GetAtt" in reference:
        att = reference["Fn::GetAtt"]
        return att[0] if isinstance(att, list) else att.split(".")[0]
    text = reference["Fn::Sub"]
    return text.removeprefix("${").split(".")[0].rstrip("}")


def settings_from_template(template: dict[str, Any], config: LakeConfig) -> dict[str, Any]:
    """Per-zone settings as CloudFormation would create them (intrinsics resolved with the local names)."""
    names = LakeNames.for_config(config)  # the local lake's account and region
    resources = template["Resources"]
    resolver = TemplateResolver(resources, dict(template.get("Parameters", {})), names.account, names.region)

    def resolve(value: Any) -> Any:
        return resolve_intrinsics(value, resolver)

    alias_of_key = {
        _target(r["Properties"]["TargetKeyId"]): resolve(r["Properties"]["AliasName"])
        for r in resources.values()
        if r["Type"] == "AWS::KMS::Alias"
    }
    queue_name_of = {
        lid: resolve(r["Properties"]["QueueName"]) for lid, r in resources.items() if r["Type"] == "AWS::SQS::Queue"
    }
    zone_of_bucket = {names.bucket(z.name): z.name for z in config.zones}
    buckets, queues = {}, {}
    for lid, r in resources.items():
        props = r.get("Properties", {})
        if r["Type"] == "AWS::S3::Bucket" and resolve(props["BucketName"]) in zone_of_bucket:
            [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            default = rule["ServerSideEncryptionByDefault"]
            policy = next(
                resolve(p["Properties"]["PolicyDocument"])
                for p in resources.values()
                if p["Type"] == "AWS::S3::BucketPolicy" and _target(p["Properties"]["Bucket"]) == lid
            )
            notifications = props.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
            buckets[zone_of_bucket[resolve(props["BucketName"])]] = {
                "key": alias_of_key[_target(default["KMSMasterKeyID"])],
                "sse": default["SSEAlgorithm"],
                "bucket_key": rule["BucketKeyEnabled"],
                "versioning": props["VersioningConfiguration"]["Status"] == "Enabled",
                "public_access_block": all(props["PublicAccessBlockConfiguration"].values()),
                "tls_only": _denies_insecure_transport(policy),
                "notifications": sorted(
                    (
                        q.get("Filter", {}).get("S3Key", {}).get("Rules", [{"Value": ""}])[0]["Value"],
                        resolve(q["Queue"]).rsplit(":", 1)[1],
                        q["Event"],
                    )
                    for q in notifications
                ),
            }
        if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in props:
            queues[resolve(props["QueueName"])] = {
                "key": alias_of_key[_target(props["KmsMasterKeyId"])],
                "visibility": int(props["VisibilityTimeout"]),
                "max_receive_count": int(props["RedrivePolicy"]["maxReceiveCount"]),
                "dlq": queue_name_of[_target(props["RedrivePolicy"]["deadLetterTargetArn"])],
            }
    routing = {}
    for r in resources.values():
        if r["Type"] == "AWS::Lambda::Function":
            spec = json.loads(resolve(r["Properties"]["Environment"]["Variables"][SPEC_ENV]))
            routing[(spec["source_zone"], tuple(d["name"] for d in spec["datasets"]))] = _routing_of(spec)
    return {"buckets": buckets, "queues": queues, "routing": routing}


def _routing_of(spec: dict[str, Any]) -> dict[str, Any]:
    """What decides where a key goes: forwarded prefixes (by queue name), declared prefixes, undeclared rules."""
    return {
        "forward": spec["forward"],
        "datasets": sorted((d["prefix"], d["classification"]) for d in spec["datasets"]),
        "strict": spec["strict"],
        "undeclared_classification": spec["undeclared_classification"],
        "default_dataset": spec["default_dataset"],
        "declared": sorted(spec["declared"]),
    }


def _denies_insecure_transport(policy: dict[str, Any]) -> bool:
    return any(
        st["Effect"] == "Deny" and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for st in policy["Statement"]
    )


def settings_from_emulator(lake: LocalLake) -> dict[str, Any]:
    s3, sqs, kms = (lake.connection.client(s) for s in ("s3", "sqs", "kms"))
    alias_of = {}
    for alias in kms.list_aliases()["Aliases"]:
        if alias["AliasName"].startswith(f"alias/{lake.names.lake}/"):  # not moto's AWS-managed aliases
            alias_of[kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]["Arn"]] = alias["AliasName"]
    buckets, queues = {}, {}
    for zone in lake.config.zones:
        name = lake.names.bucket(zone.name)
        [rule] = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
        default = rule["ApplyServerSideEncryptionByDefault"]
        notifications = s3.get_bucket_notification_configuration(Bucket=name).get("QueueConfigurations", [])
        buckets[zone.name] = {
            "key": alias_of[default["KMSMasterKeyID"]],
            "sse": default["SSEAlgorithm"],
            "bucket_key": rule["BucketKeyEnabled"],
            "versioning": s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled",
            "public_access_block": all(
                s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"].values()
            ),
            "tls_only": _denies_insecure_transport(json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])),
            "notifications": sorted(
                (
                    n.get("Filter", {}).get("Key", {}).get("FilterRules", [{"Value": ""}])[0]["Value"],
                    n["QueueArn"].rsplit(":", 1)[1],
                    event,
                )
                for n in notifications
                for event in n["Events"]
            ),
        }
    # moto's state is per process: other tests' lakes live in the same emulator, so list only this lake's.
    for url in sqs.list_queues(QueueNamePrefix=f"{lake.names.lake}-")["QueueUrls"]:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if "RedrivePolicy" in attrs:
            redrive = json.loads(attrs["RedrivePolicy"])
            queues[url.rsplit("/", 1)[1]] = {
                "key": alias_of[attrs["KmsMasterKeyId"]],
                "visibility": int(attrs["VisibilityTimeout"]),
                "max_receive_count": int(redrive["maxReceiveCount"]),
                "dlq": redrive["deadLetterTargetArn"].rsplit(":", 1)[1],
            }
    routing = {}
    for route in queue_routes(lake.config, lake.names):
        if route.has_consumer:  # the spec the local lake's worker for this queue would run
            spec = json.loads(lake._worker(route, 0).consumer.spec.to_json())
            routing[(spec["source_zone"], tuple(d["name"] for d in spec["datasets"]))] = _routing_of(spec)
    return {"buckets": buckets, "queues": queues, "routing": routing}


def test_local_provisioner_and_prod_template_declare_the_same_zone_settings(
    config: LakeConfig, template: dict[str, Any]
) -> None:
    with LocalLake(config, workers=False) as lake:
        local = settings_from_emulator(lake)
    prod = settings_from_template(template, config)
    assert set(prod["buckets"]) == {z.name for z in config.zones}
    assert local["buckets"] == prod["buckets"]
    assert local["queues"] == prod["queues"]
    assert local["routing"] == prod["routing"]
    for zone in config.zones:  # every key of every zone reaches the zone's shared queue: no prefix filter
        assert prod["buckets"][zone.name]["notifications"] == [
            ("", LakeNames.for_config(config).queue(zone.name), "s3:ObjectCreated:*")
        ]
    raw_shared = prod["routing"][("raw", ("sales", "customers", "sales_daily_totals"))]
    assert raw_shared["forward"] == {"clickstream/": LakeNames.for_config(config).queue("raw", "clickstream")}
    assert raw_shared["undeclared_classification"] == config.classification[-1] and not raw_shared["strict"]
    assert len({b["key"] for b in prod["buckets"].values()}) == len(config.zones), "one key per zone"
    assert all(b["tls_only"] and b["bucket_key"] and b["versioning"] for b in prod["buckets"].values())

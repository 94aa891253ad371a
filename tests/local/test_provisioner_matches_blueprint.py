"""What the local provisioner creates is what the blueprint (and so the prod stack) declares."""

from __future__ import annotations

import json

from datalake_cfn.blueprint import lake_blueprint
from datalake_cfn.local.lake import LocalLake


def key_arn_of_alias(lake: LocalLake, alias: str) -> str:
    kms = lake.connection.client("kms")
    target = next(a["TargetKeyId"] for a in kms.list_aliases()["Aliases"] if a["AliasName"] == alias)
    return kms.describe_key(KeyId=target)["KeyMetadata"]["Arn"]


def test_each_zone_bucket_matches_the_blueprint(lake: LocalLake) -> None:
    s3 = lake.connection.client("s3")
    kms = lake.connection.client("kms")
    blueprint = lake_blueprint(lake.config, lake.names)
    key_arns = set()
    for bucket in blueprint.buckets:
        key_arn = key_arn_of_alias(lake, bucket.key_alias)
        key_arns.add(key_arn)
        assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
        [rule] = s3.get_bucket_encryption(Bucket=bucket.name)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
        assert rule["BucketKeyEnabled"] is bucket.bucket_key_enabled is True
        assert s3.get_bucket_versioning(Bucket=bucket.name)["Status"] == "Enabled"
        block = s3.get_public_access_block(Bucket=bucket.name)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket.name)["Policy"])
        tls = [
            st
            for st in policy["Statement"]
            if st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        ]
        assert tls and all(st["Effect"] == "Deny" for st in tls)
        configured = s3.get_bucket_notification_configuration(Bucket=bucket.name).get("QueueConfigurations", [])
        expected = {
            (n.id, n.prefix, lake.names.queue_arn(n.queue_name))
            for n in blueprint.notifications
            if n.zone == bucket.zone
        }
        actual = {  # one notification per zone without a filter (prefix ""): see blueprint.NotificationBlueprint
            (c["Id"], c.get("Filter", {}).get("Key", {}).get("FilterRules", [{"Value": ""}])[0]["Value"], c["QueueArn"])
            for c in configured
        }
        assert actual == expected and actual
    assert len(key_arns) == len(blueprint.buckets), "every zone has its own key"


def test_each_queue_matches_the_blueprint(lake: LocalLake) -> None:
    sqs = lake.connection.client("sqs")
    blueprint = lake_blueprint(lake.config, lake.names)
    dlq_arn = lake.names.queue_arn(blueprint.dead_letter.name)
    for queue in blueprint.queues:
        attrs = sqs.get_queue_attributes(QueueUrl=lake.connection.queue_url(queue.name), AttributeNames=["All"])[
            "Attributes"
        ]
        assert attrs["KmsMasterKeyId"] == key_arn_of_alias(lake, queue.key_alias)
        assert (
            int(attrs["VisibilityTimeout"])
            == queue.visibility_timeout_seconds
            == 6 * lake.config.pipeline.timeout_seconds
        )
        assert json.loads(attrs["RedrivePolicy"]) == {
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": queue.max_receive_count,
        }
    dlq = sqs.get_queue_attributes(
        QueueUrl=lake.connection.queue_url(blueprint.dead_letter.name), AttributeNames=["All"]
    )
    assert dlq["Attributes"]["KmsMasterKeyId"] == key_arn_of_alias(lake, blueprint.dead_letter.key_alias)


def test_provisioning_twice_changes_nothing(lake: LocalLake) -> None:
    from datalake_cfn.local.provisioner import provision

    again = provision(lake.config, lake.names, lake.endpoint)
    assert again.key_arns == lake.provisioned.key_arns
    assert again.queue_urls == lake.provisioned.queue_urls

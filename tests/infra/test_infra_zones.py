"""Each zone: its bucket, its CMK, its queue(s), the S3 -> SQS notifications (the blueprint's settings)."""

from __future__ import annotations

import pytest

from datalake_cfn.blueprint import lake_blueprint
from datalake_cfn.infra.zone import construct_id, queue_construct_id
from tests.infra.templates import Synthesized, arn_of, as_list, flatten, ref, statement, statements


def zone_path(zone: str) -> str:
    return f"Zone{construct_id(zone)}"


def test_each_bucket_is_encrypted_with_its_own_zone_key_and_bucket_keys(any_lake: Synthesized) -> None:
    for bucket in lake_blueprint(any_lake.config, any_lake.names).buckets:
        props = any_lake.prod.props(f"{zone_path(bucket.zone)}/Bucket/Resource")
        assert props["BucketName"] == bucket.name
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["BucketKeyEnabled"] is True
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        own_key = any_lake.prod.id_of(f"{zone_path(bucket.zone)}/Key/Resource")
        assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == arn_of(own_key)


def test_each_bucket_is_versioned_private_and_owner_enforced(any_lake: Synthesized) -> None:
    for zone in any_lake.config.zones:
        props = any_lake.prod.props(f"{zone_path(zone.name)}/Bucket/Resource")
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
        assert len(props["PublicAccessBlockConfiguration"]) == 4
        assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_each_bucket_logs_access_to_the_log_bucket(any_lake: Synthesized) -> None:
    log_bucket = any_lake.prod.id_of("AccessLogs/Resource")
    for zone in any_lake.config.zones:
        props = any_lake.prod.props(f"{zone_path(zone.name)}/Bucket/Resource")
        assert props["LoggingConfiguration"] == {
            "DestinationBucketName": ref(log_bucket),
            "LogFilePrefix": f"{any_lake.names.bucket(zone.name)}/",
        }


def test_each_bucket_expires_noncurrent_versions_and_incomplete_uploads(any_lake: Synthesized) -> None:
    for zone in any_lake.config.zones:
        rules = any_lake.prod.props(f"{zone_path(zone.name)}/Bucket/Resource")["LifecycleConfiguration"]["Rules"]
        assert any(r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays", 0) > 0 for r in rules)
        assert any(r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation", 0) > 0 for r in rules)
        assert all(r["Status"] == "Enabled" for r in rules)


def test_bucket_policy_denies_requests_without_tls(any_lake: Synthesized) -> None:
    for zone in any_lake.config.zones:
        bucket = any_lake.prod.id_of(f"{zone_path(zone.name)}/Bucket/Resource")
        policy = any_lake.prod.props(f"{zone_path(zone.name)}/Bucket/Policy/Resource")
        assert policy["Bucket"] == ref(bucket)
        tls = statement(policy["PolicyDocument"], "DenyInsecureTransport")
        assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert tls["Action"] == "s3:*" and tls["Principal"] in ("*", {"AWS": "*"})
        assert {flatten(r) for r in tls["Resource"]} == {f"<{bucket}.Arn>", f"<{bucket}.Arn>/*"}


def test_bucket_policy_pins_the_zone_key_and_denies_other_encryption(any_lake: Synthesized) -> None:
    for zone in any_lake.config.zones:
        key = any_lake.prod.id_of(f"{zone_path(zone.name)}/Key/Resource")
        document = any_lake.prod.props(f"{zone_path(zone.name)}/Bucket/Policy/Resource")["PolicyDocument"]
        other_keys = statement(document, "DenyUploadsUnderOtherKeys")
        assert other_keys["Effect"] == "Deny" and other_keys["Action"] == "s3:PutObject"
        key_condition = other_keys["Condition"]["StringNotEquals"]["s3:x-amz-server-side-encryption-aws-kms-key-id"]
        assert key_condition == arn_of(key)
        not_kms = statement(document, "DenyUploadsWithoutKms")  # SSE-S3 (AES256) or no SSE-KMS at all
        assert not_kms["Condition"]["StringNotEquals"] == {"s3:x-amz-server-side-encryption": "aws:kms"}


def test_zone_keys_rotate_and_carry_the_alias_from_naming(any_lake: Synthesized) -> None:
    for zone in any_lake.config.zones:
        key = any_lake.prod.props(f"{zone_path(zone.name)}/Key/Resource")
        assert key["EnableKeyRotation"] is True
        alias = any_lake.prod.props(f"{zone_path(zone.name)}/Key/Alias/Resource")
        assert alias["AliasName"] == any_lake.names.key_alias(zone.name)
        assert alias["TargetKeyId"] == arn_of(any_lake.prod.id_of(f"{zone_path(zone.name)}/Key/Resource"))


def test_zone_key_policy_is_least_privilege(any_lake: Synthesized) -> None:
    """No `kms:*` for the account: administration, and use only through S3 and SQS."""
    for zone in any_lake.config.zones:
        document = any_lake.prod.props(f"{zone_path(zone.name)}/Key/Resource")["KeyPolicy"]
        for s in statements(document):
            if s["Effect"] == "Allow":
                assert "kms:*" not in as_list(s["Action"]), s.get("Sid")
        use = statement(document, "UseThroughLakeServicesOnly")
        region = any_lake.config.region
        assert use["Condition"]["StringEquals"]["kms:ViaService"] == [
            f"s3.{region}.amazonaws.com",
            f"sqs.{region}.amazonaws.com",
        ]
        assert use["Condition"]["StringEquals"]["kms:CallerAccount"] == any_lake.deployment.prod_account


def test_zone_key_trusts_s3_to_publish_into_its_encrypted_queue(any_lake: Synthesized) -> None:
    for zone in any_lake.config.zones:
        document = any_lake.prod.props(f"{zone_path(zone.name)}/Key/Resource")["KeyPolicy"]
        s3 = [s for s in statements(document) if s.get("Principal") == {"Service": "s3.amazonaws.com"}]
        assert len(s3) == 1
        assert set(as_list(s3[0]["Action"])) == {"kms:GenerateDataKey", "kms:Decrypt"}
        assert s3[0]["Condition"]["StringEquals"]["aws:SourceAccount"] == any_lake.deployment.prod_account
        assert s3[0]["Condition"]["ArnLike"]["aws:SourceArn"] == any_lake.deployment.bucket_arn(zone.name)


def test_queues_follow_the_blueprint(any_lake: Synthesized) -> None:
    blueprint = lake_blueprint(any_lake.config, any_lake.names)
    dlq = any_lake.prod.id_of("DeadLetter/Queue/Resource")
    for queue in blueprint.queues:
        props = any_lake.prod.props(f"{zone_path(queue.zone)}/{queue_construct_id(queue)}/Resource")
        assert props["QueueName"] == queue.name
        assert props["KmsMasterKeyId"] == arn_of(any_lake.prod.id_of(f"{zone_path(queue.zone)}/Key/Resource"))
        assert props["VisibilityTimeout"] == queue.visibility_timeout_seconds
        assert props["RedrivePolicy"] == {
            "deadLetterTargetArn": arn_of(dlq),
            "maxReceiveCount": queue.max_receive_count,
        }


def test_queue_visibility_is_at_least_six_function_timeouts(any_lake: Synthesized) -> None:
    timeouts = {
        f["Properties"]["FunctionName"]: f["Properties"]["Timeout"]
        for f in any_lake.prod.of_type("AWS::Lambda::Function").values()
    }
    for queue in any_lake.prod.of_type("AWS::SQS::Queue").values():
        if queue["Properties"]["QueueName"] == any_lake.names.dlq:
            continue
        assert queue["Properties"]["VisibilityTimeout"] >= 6 * max(timeouts.values())


def test_queue_policy_lets_only_the_zone_bucket_of_this_account_publish(any_lake: Synthesized) -> None:
    for queue in lake_blueprint(any_lake.config, any_lake.names).queues:
        path = f"{zone_path(queue.zone)}/{queue_construct_id(queue)}"
        policy = any_lake.prod.props(f"{path}/Policy/Resource")
        assert policy["Queues"] == [ref(any_lake.prod.id_of(f"{path}/Resource"))]
        publish = statement(policy["PolicyDocument"], "S3PublishesZoneEvents")
        assert publish["Principal"] == {"Service": "s3.amazonaws.com"} and publish["Action"] == "sqs:SendMessage"
        assert publish["Condition"] == {
            "ArnEquals": {"aws:SourceArn": any_lake.deployment.bucket_arn(queue.zone)},
            "StringEquals": {"aws:SourceAccount": any_lake.deployment.prod_account},
        }


def test_notifications_filter_each_dataset_prefix_into_its_queue(any_lake: Synthesized) -> None:
    blueprint = lake_blueprint(any_lake.config, any_lake.names)
    for zone in any_lake.config.zones:
        props = any_lake.prod.props(f"{zone_path(zone.name)}/Bucket/Resource")
        declared = {
            (c["Filter"]["S3Key"]["Rules"][0]["Value"], c["Queue"], c["Event"])
            for c in props["NotificationConfiguration"]["QueueConfigurations"]
        }
        expected = {
            (n.prefix, any_lake.names.queue_arn(n.queue_name), event)
            for n in blueprint.notifications
            if n.zone == zone.name
            for event in n.events
        }
        assert declared == expected and len(declared) == len(any_lake.config.datasets)


def test_own_queue_dataset_events_go_to_their_own_queue(default_lake: Synthesized) -> None:
    names = default_lake.names
    props = default_lake.prod.props("ZoneRaw/Bucket/Resource")
    targets = {
        c["Filter"]["S3Key"]["Rules"][0]["Value"]: c["Queue"]
        for c in props["NotificationConfiguration"]["QueueConfigurations"]
    }
    assert targets["clickstream/"] == names.queue_arn(names.queue("raw", "clickstream"))
    assert targets["sales/"] == targets["customers/"] == names.queue_arn(names.queue("raw"))


def test_buckets_are_created_after_their_queue_policies(any_lake: Synthesized) -> None:
    """S3 tests the notification target when the configuration is written: queue policy first."""
    for queue in lake_blueprint(any_lake.config, any_lake.names).queues:
        policy = any_lake.prod.id_of(f"{zone_path(queue.zone)}/{queue_construct_id(queue)}/Policy/Resource")
        bucket = any_lake.prod.at(f"{zone_path(queue.zone)}/Bucket/Resource")
        assert policy in bucket["DependsOn"]


@pytest.mark.parametrize("resource_type", ["AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SQS::Queue"])
def test_data_resources_are_retained_when_removed_from_the_stack(any_lake: Synthesized, resource_type: str) -> None:
    for resource in any_lake.prod.of_type(resource_type).values():
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"

"""Each zone: its bucket, its CMK, its queue(s), the S3 -> SQS notifications (the blueprint's settings);
and the shared storage: the ops key and the access-log bucket."""

from __future__ import annotations

import pytest

from datalake_cfn.access import policies
from datalake_cfn.blueprint import lake_blueprint
from datalake_cfn.naming import LogicalIds, pascal
from datalake_cfn.routing import consumer_spec, queue_routes
from datalake_cfn.stacks import outputs
from datalake_cfn.stacks.zones import LAKE_TAG, ZONE_TAG
from tests.stacks.templates import Rendered, arn_of, as_list, flatten, ref, statement, statements

ACCOUNT = "${AWS::AccountId}"
REGION = "${AWS::Region}"
URL_SUFFIX = "${AWS::URLSuffix}"  # the partition's domain: amazonaws.com.cn in China


def key_id(zone: str) -> str:
    return LogicalIds.zone(zone, "Key")


def bucket_id(zone: str) -> str:
    return LogicalIds.zone(zone, "Bucket")


def s3_arn(name: str) -> str:
    return f"arn:${{AWS::Partition}}:s3:::{name}"


def test_each_bucket_is_encrypted_with_its_own_zone_key_and_bucket_keys(any_lake: Rendered) -> None:
    for bucket in lake_blueprint(any_lake.config, any_lake.names).buckets:
        props = any_lake.prod.props(bucket_id(bucket.zone))
        assert flatten(props["BucketName"]) == bucket.name
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["BucketKeyEnabled"] is True
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == arn_of(key_id(bucket.zone))


def test_each_bucket_is_versioned_private_and_owner_enforced(any_lake: Rendered) -> None:
    for zone in any_lake.config.zones:
        props = any_lake.prod.props(bucket_id(zone.name))
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
        assert len(props["PublicAccessBlockConfiguration"]) == 4
        assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_each_bucket_logs_access_to_the_log_bucket(any_lake: Rendered) -> None:
    for zone in any_lake.config.zones:
        logging = any_lake.prod.props(bucket_id(zone.name))["LoggingConfiguration"]
        assert logging["DestinationBucketName"] == ref(LogicalIds.ACCESS_LOG_BUCKET)
        assert flatten(logging["LogFilePrefix"]) == f"{any_lake.names.bucket(zone.name)}/"


def test_each_bucket_expires_noncurrent_versions_and_incomplete_uploads(any_lake: Rendered) -> None:
    for zone in any_lake.config.zones:
        rules = any_lake.prod.props(bucket_id(zone.name))["LifecycleConfiguration"]["Rules"]
        assert any(r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays", 0) > 0 for r in rules)
        assert any(r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation", 0) > 0 for r in rules)
        assert all(r["Status"] == "Enabled" for r in rules)


def test_bucket_policy_denies_requests_without_tls(any_lake: Rendered) -> None:
    for zone in any_lake.config.zones:
        bucket = bucket_id(zone.name)
        policy = any_lake.prod.props(LogicalIds.zone(zone.name, "BucketPolicy"))
        assert policy["Bucket"] == ref(bucket)
        tls = statement(policy["PolicyDocument"], "DenyInsecureTransport")
        assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert as_list(tls["Action"]) == ["s3:*"] and tls["Principal"] in ("*", {"AWS": "*"})
        assert {flatten(r) for r in tls["Resource"]} == {f"${{{bucket}.Arn}}", f"${{{bucket}.Arn}}/*"}


def test_bucket_policy_pins_the_zone_key_and_denies_other_encryption(any_lake: Rendered) -> None:
    for zone in any_lake.config.zones:
        document = any_lake.prod.props(LogicalIds.zone(zone.name, "BucketPolicy"))["PolicyDocument"]
        other_keys = statement(document, "DenyUploadsUnderOtherKeys")
        assert other_keys["Effect"] == "Deny" and as_list(other_keys["Action"]) == ["s3:PutObject"]
        key_condition = other_keys["Condition"]["StringNotEquals"]["s3:x-amz-server-side-encryption-aws-kms-key-id"]
        assert flatten(key_condition) == f"${{{key_id(zone.name)}.Arn}}"
        not_kms = statement(document, "DenyUploadsWithoutKms")  # SSE-S3 (AES256) or no SSE-KMS at all
        assert not_kms["Condition"]["StringNotEquals"] == {"s3:x-amz-server-side-encryption": "aws:kms"}


def test_zone_keys_rotate_and_carry_the_alias_from_naming(any_lake: Rendered) -> None:
    for zone in any_lake.config.zones:
        key = any_lake.prod.props(key_id(zone.name))
        assert key["EnableKeyRotation"] is True
        alias = any_lake.prod.props(LogicalIds.zone(zone.name, "KeyAlias"))
        assert alias["AliasName"] == any_lake.names.key_alias(zone.name)
        assert alias["TargetKeyId"] == arn_of(key_id(zone.name))


def test_zone_key_policy_is_least_privilege(any_lake: Rendered) -> None:
    """No `kms:*` for the account: administration, and use only through S3 and SQS."""
    for zone in any_lake.config.zones:
        document = any_lake.prod.props(key_id(zone.name))["KeyPolicy"]
        for s in statements(document):
            if s["Effect"] == "Allow":
                assert "kms:*" not in as_list(s["Action"]), s.get("Sid")
        use = statement(document, "UseThroughLakeServicesOnly")
        assert [flatten(v) for v in use["Condition"]["StringEquals"]["kms:ViaService"]] == [
            f"s3.{REGION}.{URL_SUFFIX}",
            f"sqs.{REGION}.{URL_SUFFIX}",
        ]
        assert flatten(use["Condition"]["StringEquals"]["kms:CallerAccount"]) == ACCOUNT


def test_zone_key_policy_carries_the_access_statements(any_lake: Rendered) -> None:
    """The access policies' statements, in full, after the lake key's base statements."""
    for zone in any_lake.config.zones:
        sids = [s.get("Sid") for s in statements(any_lake.prod.props(key_id(zone.name))["KeyPolicy"])]
        expected = ["KeyAdministration", "UseThroughLakeServicesOnly", "DenyGrantsExceptForAwsResources"]
        expected += ["AdministerKeyBySteward", "DecryptViaS3ForReaders", "EncryptViaS3ForWriters"]
        expected += ["DecryptQueueForConsumer"] if zone.next else []
        expected += ["AllowS3EventsToZoneQueue", "DenyKeyUseByOtherPrincipals", "DenyInsecureTransport"]
        assert sids == expected


def test_zone_key_trusts_s3_to_publish_into_its_encrypted_queue(any_lake: Rendered) -> None:
    for zone in any_lake.config.zones:
        document = any_lake.prod.props(key_id(zone.name))["KeyPolicy"]
        s3 = [s for s in statements(document) if s.get("Principal") == {"Service": "s3.amazonaws.com"}]
        assert len(s3) == 1
        assert set(as_list(s3[0]["Action"])) == {"kms:GenerateDataKey", "kms:Decrypt"}
        assert flatten(s3[0]["Condition"]["StringEquals"]["aws:SourceAccount"]) == ACCOUNT
        assert flatten(s3[0]["Condition"]["ArnLike"]["aws:SourceArn"]) == s3_arn(any_lake.names.bucket(zone.name))


def test_queues_follow_the_blueprint(any_lake: Rendered) -> None:
    blueprint = lake_blueprint(any_lake.config, any_lake.names)
    for queue in blueprint.queues:
        props = any_lake.prod.props(LogicalIds.route(queue.zone, queue.dataset, "Queue"))
        assert flatten(props["QueueName"]) == queue.name
        assert props["KmsMasterKeyId"] == arn_of(key_id(queue.zone))
        assert props["VisibilityTimeout"] == queue.visibility_timeout_seconds
        assert props["RedrivePolicy"] == {
            "deadLetterTargetArn": arn_of(LogicalIds.DLQ),
            "maxReceiveCount": queue.max_receive_count,
        }


def test_queue_visibility_is_at_least_six_function_timeouts(any_lake: Rendered) -> None:
    timeouts = [f["Properties"]["Timeout"] for f in any_lake.prod.of_type("AWS::Lambda::Function").values()]
    timeouts.append(any_lake.config.pipeline.timeout_seconds)
    for queue in any_lake.prod.of_type("AWS::SQS::Queue").values():
        if flatten(queue["Properties"]["QueueName"]) == any_lake.names.dlq:
            continue
        assert queue["Properties"]["VisibilityTimeout"] >= 6 * max(timeouts)


def test_queue_policy_lets_only_the_zone_bucket_of_this_account_publish(any_lake: Rendered) -> None:
    for queue in lake_blueprint(any_lake.config, any_lake.names).queues:
        queue_id = LogicalIds.route(queue.zone, queue.dataset, "Queue")
        policy = any_lake.prod.props(LogicalIds.route(queue.zone, queue.dataset, "QueuePolicy"))
        assert policy["Queues"] == [ref(queue_id)]
        publish = statement(policy["PolicyDocument"], "S3PublishesZoneEvents")
        assert publish["Principal"] == {"Service": "s3.amazonaws.com"}
        assert as_list(publish["Action"]) == ["sqs:SendMessage"]
        condition = publish["Condition"]
        assert set(condition) == {"ArnEquals", "StringEquals"}
        assert {k: flatten(v) for k, v in condition["ArnEquals"].items()} == {
            "aws:SourceArn": s3_arn(any_lake.names.bucket(queue.zone))
        }
        assert {k: flatten(v) for k, v in condition["StringEquals"].items()} == {"aws:SourceAccount": ACCOUNT}
        tls = statement(policy["PolicyDocument"], "DenyInsecureTransport")
        assert tls["Effect"] == "Deny" and as_list(tls["Action"]) == ["sqs:*"]
        assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert [flatten(r) for r in as_list(tls["Resource"])] == [f"${{{queue_id}.Arn}}"]


def test_each_zone_notifies_its_shared_queue_of_every_key_without_a_filter(any_lake: Rendered) -> None:
    """One unfiltered notification per zone and event: S3 rejects overlapping prefix filters, so a
    catch-all (objects outside every dataset are picked up) cannot sit beside per-dataset ones."""
    for zone in any_lake.config.zones:
        configurations = any_lake.prod.props(bucket_id(zone.name))["NotificationConfiguration"]["QueueConfigurations"]
        assert all("Filter" not in c for c in configurations)
        declared = sorted((flatten(c["Queue"]), c["Event"]) for c in configurations)
        assert declared == [(any_lake.names.queue_arn(any_lake.names.queue(zone.name)), "s3:ObjectCreated:*")]


def test_own_queue_dataset_events_reach_their_own_queue_through_the_shared_consumer(default_lake: Rendered) -> None:
    """The shared queue's consumer forwards own-queue datasets' events, unchanged, to their queue."""
    names, config = default_lake.names, default_lake.config
    [shared] = [r for r in queue_routes(config, names) if r.zone.name == "raw" and r.dataset is None]
    spec = consumer_spec(config, names, shared, dlq_url="https://sqs.example/123/dlq")
    assert spec.forward == {"clickstream/": names.queue("raw", "clickstream")}
    assert "clickstream" not in {d.name for d in spec.datasets}
    [own] = [r for r in queue_routes(config, names) if r.zone.name == "raw" and r.dataset == "clickstream"]
    assert consumer_spec(config, names, own, dlq_url=None).forward == {}


def test_an_own_queue_exists_only_where_a_consumer_feeds_it(any_lake: Rendered) -> None:
    """The zone's consumer forwards a dataset's events to its own queue: no consumer, no such queue."""
    queues = {flatten(q["Properties"]["QueueName"]) for q in any_lake.prod.of_type("AWS::SQS::Queue").values()}
    for zone in any_lake.config.zones:
        for dataset in (d for d in any_lake.config.datasets if d.own_queue):
            assert (any_lake.names.queue(zone.name, dataset.name) in queues) == (zone.next is not None), zone.name


def test_buckets_are_created_after_their_queue_policies(any_lake: Rendered) -> None:
    """S3 tests the notification target when the configuration is written: queue policy first."""
    for queue in lake_blueprint(any_lake.config, any_lake.names).queues:
        policy = LogicalIds.route(queue.zone, queue.dataset, "QueuePolicy")
        assert policy in any_lake.prod.at(bucket_id(queue.zone))["DependsOn"]


@pytest.mark.parametrize("resource_type", ["AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SQS::Queue"])
def test_data_resources_are_retained_when_removed_from_the_stack(any_lake: Rendered, resource_type: str) -> None:
    for resource in any_lake.prod.of_type(resource_type).values():
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"


# -- beyond the CDK tests: what the CDK gave for free and the templates must now say ---------------------
def test_zone_resources_carry_the_lake_and_zone_tags(any_lake: Rendered) -> None:
    lake = any_lake.config.lake
    for zone in any_lake.config.zones:
        ids = [key_id(zone.name), bucket_id(zone.name)]
        ids += [
            LogicalIds.route(q.zone, q.dataset, "Queue")
            for q in lake_blueprint(any_lake.config, any_lake.names).queues
            if q.zone == zone.name
        ]
        for logical_id in ids:
            tags = {t["Key"]: t["Value"] for t in any_lake.prod.props(logical_id)["Tags"]}
            assert tags == {LAKE_TAG: lake, ZONE_TAG: zone.name}, logical_id
    for logical_id in (LogicalIds.OPS_KEY, LogicalIds.ACCESS_LOG_BUCKET):
        assert any_lake.prod.props(logical_id)["Tags"] == [{"Key": LAKE_TAG, "Value": lake}]


def test_outputs_name_every_zone_bucket_and_queue(any_lake: Rendered) -> None:
    out = any_lake.prod.outputs
    for zone in any_lake.config.zones:
        assert out[outputs.bucket(zone.name)]["Value"] == ref(bucket_id(zone.name))
    for queue in lake_blueprint(any_lake.config, any_lake.names).queues:
        assert out[outputs.queue_url(queue.name)]["Value"] == ref(LogicalIds.route(queue.zone, queue.dataset, "Queue"))


def test_ops_key_serves_logs_glue_and_s3_only(any_lake: Rendered) -> None:
    names = any_lake.names
    key = any_lake.prod.props(LogicalIds.OPS_KEY)
    assert key["EnableKeyRotation"] is True
    alias = any_lake.prod.props(LogicalIds.OPS_KEY_ALIAS)
    assert alias == {"AliasName": names.ops_key_alias, "TargetKeyId": arn_of(LogicalIds.OPS_KEY)}
    document = key["KeyPolicy"]
    for s in statements(document):
        if s["Effect"] == "Allow":
            assert "kms:*" not in as_list(s["Action"]), s.get("Sid")
    use = statement(document, "UseThroughLakeServicesOnly")
    assert [flatten(v) for v in use["Condition"]["StringEquals"]["kms:ViaService"]] == [
        f"{service}.{REGION}.{URL_SUFFIX}" for service in ("logs", "glue", "s3")
    ]
    logs = statement(document, "CloudWatchLogsEncryptsLakeLogs")
    assert flatten(logs["Principal"]["Service"]) == f"logs.{REGION}.{URL_SUFFIX}"
    assert flatten(logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]) == (
        f"arn:${{AWS::Partition}}:logs:{REGION}:{ACCOUNT}:log-group:*"
    )
    glue = statement(document, "PersonasGlueBucketViaS3")
    expected = [p for p in policies.persona_principals(any_lake.config) if not p.startswith("analyst")]
    assert [flatten(p) for p in as_list(glue["Principal"]["AWS"])] == [
        f"${{{LogicalIds.principal(p.replace('/', '-'))}.Arn}}" for p in expected
    ]
    bucket = s3_arn(names.glue_assets_bucket)
    assert [flatten(v) for v in glue["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"]] == [
        bucket,
        f"{bucket}/*",
    ]


def test_access_log_bucket_takes_only_server_access_logs_over_tls(any_lake: Rendered) -> None:
    names = any_lake.names
    props = any_lake.prod.props(LogicalIds.ACCESS_LOG_BUCKET)
    assert flatten(props["BucketName"]) == names.access_log_bucket
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse == {"SSEAlgorithm": "AES256"}  # S3 delivers server access logs to SSE-S3 buckets only
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert any(r.get("ExpirationInDays", 0) > 0 for r in props["LifecycleConfiguration"]["Rules"])
    assert "LoggingConfiguration" not in props
    policy = any_lake.prod.props(LogicalIds.ACCESS_LOG_BUCKET_POLICY)
    assert policy["Bucket"] == ref(LogicalIds.ACCESS_LOG_BUCKET)
    document = policy["PolicyDocument"]
    tls = statement(document, "DenyInsecureTransport")
    log_arn = f"${{{LogicalIds.ACCESS_LOG_BUCKET}.Arn}}"
    assert {flatten(r) for r in tls["Resource"]} == {log_arn, f"{log_arn}/*"}
    logged = [names.bucket(z.name) for z in any_lake.config.zones]
    logged += [names.glue_assets_bucket, names.athena_results_bucket]
    delivery = {
        flatten(s["Condition"]["ArnLike"]["aws:SourceArn"]): [flatten(r) for r in as_list(s["Resource"])]
        for s in statements(document)
        if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
    }
    assert delivery == {s3_arn(bucket): [f"{log_arn}/{bucket}/*"] for bucket in logged}
    for zone in any_lake.config.zones:
        assert f"ServerAccessLogsFromZone{pascal(zone.name)}" in [s.get("Sid") for s in statements(document)]


@pytest.mark.parametrize("key", ["zones", LogicalIds.OPS_KEY])
def test_lake_keys_allow_grants_only_for_aws_resources(any_lake: Rendered, key: str) -> None:
    """Control Tower CT.KMS.PR.3: `kms:Create*` of the administrators does not extend to arbitrary grants."""
    ids = [key_id(z.name) for z in any_lake.config.zones] if key == "zones" else [key]
    for logical_id in ids:
        deny = statement(any_lake.prod.props(logical_id)["KeyPolicy"], "DenyGrantsExceptForAwsResources")
        assert deny["Effect"] == "Deny" and deny["Principal"] in ("*", {"AWS": "*"})
        assert as_list(deny["Action"]) == ["kms:CreateGrant"] and as_list(deny["Resource"]) == ["*"]
        assert deny["Condition"] == {
            "BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}
        }


def test_tls_statements_name_their_bucket_by_reference(any_lake: Rendered) -> None:
    """Control Tower CT.S3.PR.8 recognises the bucket only as GetAtt Arn and Join(GetAtt Arn, "/*")."""
    ids = [(LogicalIds.zone(z.name, "BucketPolicy"), bucket_id(z.name)) for z in any_lake.config.zones]
    ids.append((LogicalIds.ACCESS_LOG_BUCKET_POLICY, LogicalIds.ACCESS_LOG_BUCKET))
    for policy_id, bucket in ids:
        tls = statement(any_lake.prod.props(policy_id)["PolicyDocument"], "DenyInsecureTransport")
        assert tls["Resource"] == [arn_of(bucket), {"Fn::Join": ["", [arn_of(bucket), "/*"]]}]


def test_access_log_bucket_notifies_eventbridge(any_lake: Rendered) -> None:
    """Control Tower CT.S3.PR.4: event notifications on every bucket (the zone buckets notify their queues)."""
    props = any_lake.prod.props(LogicalIds.ACCESS_LOG_BUCKET)
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}


def test_service_names_follow_the_partition_of_the_launch() -> None:
    """kms:ViaService and regional service principals end in the partition's domain (China: .com.cn)."""
    assert policies.via_service("s3", "cn-north-1", "aws-cn") == "s3.cn-north-1.amazonaws.com.cn"
    assert policies.via_service("logs", "us-gov-west-1", "aws-us-gov") == "logs.us-gov-west-1.amazonaws.com"
    assert policies.via_service("s3", REGION, "${AWS::Partition}") == f"s3.{REGION}.{URL_SUFFIX}"

"""Named scenarios of issue 7, each decided by evaluating the generated policies (with the deciding Sid)."""

from __future__ import annotations

import pytest

from datalake_cfn.access import operations as ops
from datalake_cfn.access.evaluator import Decision
from datalake_cfn.access.matrix import PolicySet
from datalake_cfn.config import LakeConfig

REGION = "us-east-1"


def read(p: PolicySet, persona: str, zone: str, level: str | None, *, clearance: str | None = None, **kw) -> Decision:
    caller = p.caller(persona, clearance)
    z = p.zones[zone]
    actions = kw.pop("actions", ("s3:GetObject",))
    return p.decide(
        caller,
        ops.read_object(
            caller, z.bucket_arn, "sales/a.csv", z.key_arn, REGION, object_level=level, actions=actions, **kw
        ),
    )


def write(p: PolicySet, persona: str, zone: str, level: str | None, *, key: str = "sales/new.csv", **kw) -> Decision:
    caller = p.caller(persona, kw.pop("clearance", None))
    z = p.zones[zone]
    return p.decide(caller, ops.write_object(caller, z.bucket_arn, key, z.key_arn, REGION, request_level=level, **kw))


def tag(p: PolicySet, persona: str, zone: str, existing: str | None, new: str | None) -> Decision:
    caller = p.caller(persona)
    z = p.zones[zone]
    return p.decide(caller, ops.tag_object(caller, z.bucket_arn, "sales/a.csv", object_level=existing, new_level=new))


def denied_by(decision: Decision, sid: str) -> bool:
    return not decision.allowed and decision.statement is not None and decision.statement.sid == sid


# -- reads -----------------------------------------------------------------------------------------
def test_analyst_cannot_read_a_secret_curated_object_but_the_steward_can(local_policies: PolicySet) -> None:
    assert denied_by(read(local_policies, "analyst", "curated", "secret"), "DenyReadAboveInternal")
    assert read(local_policies, "steward", "curated", "secret").allowed


@pytest.mark.parametrize("persona", ["analyst", "scientist"])
@pytest.mark.parametrize("level", ["confidential", "secret"])
def test_low_clearance_personas_are_denied_confidential_and_secret(
    local_policies: PolicySet, persona: str, level: str
) -> None:
    decision = read(local_policies, persona, "curated", level)
    assert not decision.allowed and decision.reason == "explicit_deny"
    for action in ("s3:GetObjectVersion", "s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"):
        assert not read(local_policies, persona, "curated", level, actions=(action,)).allowed, action


def test_mixed_case_tags_are_compared_ignoring_case(local_policies: PolicySet) -> None:
    assert read(local_policies, "analyst", "curated", "Internal").allowed
    assert not read(local_policies, "analyst", "curated", "SECRET").allowed
    assert not read(local_policies, "analyst", "curated", "topsecret").allowed  # unknown level: denied


@pytest.mark.parametrize("persona", ["engineer", "scientist", "analyst"])
def test_untagged_objects_are_denied_to_everyone_but_steward_and_pipeline(
    local_policies: PolicySet, persona: str
) -> None:
    assert denied_by(read(local_policies, persona, "curated", None), "DenyReadUntaggedObjects")
    assert read(local_policies, "steward", "curated", None).allowed
    pipeline = local_policies.service_caller("pipeline-raw")
    raw = local_policies.zones["raw"]
    untagged = ops.read_object(pipeline, raw.bucket_arn, "sales/in.csv", raw.key_arn, REGION, object_level=None)
    assert local_policies.decide(pipeline, untagged).allowed


def test_a_session_without_a_clearance_reads_nothing_classified(local_policies: PolicySet) -> None:
    caller = local_policies.caller("analyst")
    caller = ops.Caller(caller.principal, caller.role_arn, {"persona": "analyst"})  # role tag removed
    z = local_policies.zones["curated"]
    decision = local_policies.decide(
        caller, ops.read_object(caller, z.bucket_arn, "sales/a.csv", z.key_arn, REGION, object_level="public")
    )
    assert denied_by(decision, "DenyReadWithoutClearance")


# -- writes ----------------------------------------------------------------------------------------
def test_scientist_writes_curated_but_not_staged(local_policies: PolicySet) -> None:
    assert denied_by(write(local_policies, "scientist", "staged", "internal"), "DenyWritesByOtherPrincipals")
    assert write(local_policies, "scientist", "curated", "internal").allowed


@pytest.mark.parametrize(("level", "allowed"), [("public", True), ("internal", True), ("Internal", True)])
def test_analyst_sandbox_upload_with_an_allowed_tag(local_policies: PolicySet, level: str, allowed: bool) -> None:
    assert write(local_policies, "analyst", "sandbox", level).allowed is allowed


@pytest.mark.parametrize("level", ["proprietary", "confidential", "secret", "topsecret"])
def test_analyst_sandbox_upload_with_a_tag_that_is_not_allowed(local_policies: PolicySet, level: str) -> None:
    decision = write(local_policies, "analyst", "sandbox", level)
    assert not decision.allowed
    assert decision.statement is not None and decision.statement.sid.startswith("DenyClassifying")


def test_analyst_untagged_upload_lands_fail_closed(local_policies: PolicySet) -> None:
    """S3 cannot require the tag (multipart), so the untagged upload lands, unreadable but by the steward."""
    assert write(local_policies, "analyst", "sandbox", None).allowed
    assert denied_by(read(local_policies, "analyst", "sandbox", None), "DenyReadUntaggedObjects")
    assert read(local_policies, "steward", "sandbox", None).allowed


def test_multipart_upload_keeps_working_with_the_tag_on_create(local_policies: PolicySet) -> None:
    for upload in ("create", "part", "complete"):
        assert write(local_policies, "analyst", "sandbox", "internal", upload=upload).allowed, upload
    assert not write(local_policies, "analyst", "sandbox", "secret", upload="create").allowed


def test_uploads_must_use_the_zone_key(local_policies: PolicySet) -> None:
    zone_key = local_policies.zones["curated"].key_arn
    other_key = local_policies.zones["raw"].key_arn
    assert write(local_policies, "scientist", "curated", "internal", sse="aws:kms", sse_key_id=zone_key).allowed
    assert denied_by(
        write(local_policies, "scientist", "curated", "internal", sse="aws:kms", sse_key_id=other_key),
        "DenyUploadsUnderOtherKeys",
    )
    assert denied_by(write(local_policies, "steward", "curated", "internal", sse="AES256"), "DenyUploadsWithoutKms")


def test_writes_in_chained_zones_stay_under_dataset_prefixes(local_policies: PolicySet) -> None:
    assert denied_by(
        write(local_policies, "engineer", "staged", "internal", key="stray/file.csv"), "DenyWritesOutsideDatasets"
    )
    assert write(local_policies, "engineer", "staged", "internal", key="customers/file.csv").allowed
    assert write(local_policies, "analyst", "sandbox", "internal", key="anything/at/all.csv").allowed


def test_landing_zone_uploads_are_unclassified_except_by_steward(local_policies: PolicySet) -> None:
    assert write(local_policies, "engineer", "raw", None).allowed
    assert denied_by(write(local_policies, "engineer", "raw", "internal"), "DenyClassifyingInLandingZone")
    assert write(local_policies, "steward", "raw", "secret").allowed


def test_only_the_steward_deletes_versions(local_policies: PolicySet) -> None:
    def delete(persona: str) -> Decision:
        caller = local_policies.caller(persona)
        return local_policies.decide(
            caller, ops.delete_object(caller, local_policies.zones["sandbox"].bucket_arn, "x.csv", version=True)
        )

    assert not delete("engineer").allowed and not delete("analyst").allowed
    assert delete("steward").allowed
    caller = local_policies.caller("analyst")
    plain = ops.delete_object(caller, local_policies.zones["sandbox"].bucket_arn, "x.csv")
    assert local_policies.decide(caller, plain).allowed  # a delete marker: versioning keeps the data


# -- tags ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("persona", ["engineer", "scientist", "analyst"])
def test_tag_tampering_by_a_non_steward_is_denied(local_policies: PolicySet, persona: str) -> None:
    zone = {"engineer": "staged", "scientist": "curated", "analyst": "sandbox"}[persona]
    assert denied_by(tag(local_policies, persona, zone, "secret", "public"), "DenyReclassifying")
    assert denied_by(tag(local_policies, persona, zone, "public", "secret"), "DenyReclassifying")
    assert not tag(local_policies, persona, zone, "internal", None).allowed  # DeleteObjectTagging
    assert tag(local_policies, "steward", zone, "secret", "public").allowed
    assert tag(local_policies, "steward", zone, "secret", None).allowed


def test_pipeline_classifies_its_outputs_and_nothing_else(local_policies: PolicySet) -> None:
    pipeline = local_policies.service_caller("pipeline-raw")
    staged, curated = local_policies.zones["staged"], local_policies.zones["curated"]
    out = ops.write_object(
        pipeline, staged.bucket_arn, "customers/a.csv", staged.key_arn, REGION, request_level="confidential"
    )
    assert local_policies.decide(pipeline, out).allowed
    head = ops.read_object(
        pipeline, staged.bucket_arn, "customers/a.csv", staged.key_arn, REGION, object_level="secret"
    )
    assert local_policies.decide(pipeline, head).allowed
    elsewhere = ops.write_object(
        pipeline, curated.bucket_arn, "customers/a.parquet", curated.key_arn, REGION, request_level="internal"
    )
    assert not local_policies.decide(pipeline, elsewhere).allowed


def test_glue_job_reads_at_its_clearance_and_writes_curated_only(local_policies: PolicySet) -> None:
    job = local_policies.service_caller("glue-job")
    staged, curated = local_policies.zones["staged"], local_policies.zones["curated"]

    def can_read(level: str) -> bool:
        reads = ops.read_object(job, staged.bucket_arn, "sales/a.csv", staged.key_arn, REGION, object_level=level)
        return local_policies.decide(job, reads).allowed

    assert can_read("proprietary") and not can_read("confidential")
    to_curated = ops.write_object(
        job, curated.bucket_arn, "sales/x.parquet", curated.key_arn, REGION, request_level=None
    )
    to_staged = ops.write_object(job, staged.bucket_arn, "sales/x.csv", staged.key_arn, REGION, request_level=None)
    assert local_policies.decide(job, to_curated).allowed
    assert not local_policies.decide(job, to_staged).allowed


# -- keys and transport ----------------------------------------------------------------------------
def test_zone_keys_decrypt_only_through_s3_for_the_zone_readers(local_policies: PolicySet) -> None:
    analyst = local_policies.caller("analyst")
    raw, curated = local_policies.zones["raw"], local_policies.zones["curated"]
    assert denied_by(
        local_policies.decide(analyst, ops.decrypt(analyst, raw.bucket_arn, raw.key_arn, REGION)),
        "DenyKeyUseByOtherPrincipals",
    )
    assert local_policies.decide(analyst, ops.decrypt(analyst, curated.bucket_arn, curated.key_arn, REGION)).allowed
    direct = ops.Authorization(
        ops.Request(analyst.session_arn, "kms:Decrypt", curated.key_arn, analyst.context(True))
    )  # a direct KMS call, not through S3
    assert not local_policies.decide(analyst, [direct]).allowed


@pytest.mark.parametrize("persona", ["steward", "engineer", "scientist", "analyst"])
def test_any_access_without_tls_is_denied(local_policies: PolicySet, acme: LakeConfig, persona: str) -> None:
    caller = local_policies.caller(persona)
    for zone in acme.zones:
        z = local_policies.zones[zone.name]
        requests = [
            *ops.list_bucket(caller, z.bucket_arn, secure=False),
            *ops.read_object(
                caller, z.bucket_arn, "sales/a.csv", z.key_arn, REGION, object_level="public", secure=False
            ),
            *ops.write_object(
                caller, z.bucket_arn, "sales/a.csv", z.key_arn, REGION, request_level="public", secure=False
            ),
            *ops.decrypt(caller, z.bucket_arn, z.key_arn, REGION, secure=False),
        ]
        for request in requests:
            decision = local_policies.decide(caller, [request])
            assert not decision.allowed, (persona, zone.name, request.request.action)

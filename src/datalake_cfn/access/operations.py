"""What AWS authorizes for one lake operation: caller + operation -> IAM requests with their context.

Why a module: the access matrix, the local lake's enforcement and the tests must ask the
evaluator the *same* questions, shaped the way S3 and KMS shape them:

- every request carries `aws:SecureTransport`, `aws:PrincipalArn` (the role ARN, with its path),
  `aws:PrincipalAccount`, `aws:PrincipalIsAWSService`, and the caller's principal tags
  (`aws:PrincipalTag/clearance`; a session tag overrides the role's tag);
- an object read is `s3:GetObject` (or another read action) with
  `s3:ExistingObjectTag/dataclassification` when the object is tagged, and the `kms:Decrypt` S3
  makes on the caller's behalf (`kms:ViaService`, encryption context = the bucket ARN, S3 Bucket
  Keys being on);
- an upload is `s3:PutObject` with `s3:RequestObjectTag/...` and `s3:RequestObjectTagKeys`, plus
  `s3:PutObjectTagging` when it carries tags (AWS PutObject API reference: "To successfully set the
  tag-set with your PutObject request, you must have the s3:PutObjectTagging"), plus
  `kms:GenerateDataKey`. A multipart upload is CreateMultipartUpload (tags, `ObjectCreationOperation`
  false), UploadPart (no tags) and CompleteMultipartUpload (no tags, `ObjectCreationOperation` true),
  all authorized as `s3:PutObject`;
- tagging an existing object is `s3:PutObjectTagging` with both the existing and the requested tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from datalake_cfn.access.evaluator import Request
from datalake_cfn.access.policies import CLASSIFICATION_TAG, OBJECT_READ_ACTIONS

Upload = Literal["single", "create", "part", "complete"]


@dataclass(frozen=True)
class Caller:
    """Who makes the requests: a lake role (by principal key), its ARN and effective principal tags."""

    principal: str
    role_arn: str
    tags: Mapping[str, str] = field(default_factory=dict)
    session: str = "datalake"

    @property
    def account(self) -> str:
        return self.role_arn.split(":")[4]

    @property
    def session_arn(self) -> str:
        """The assumed-role session ARN (it carries the role name, not the path)."""
        role_name = self.role_arn.rsplit("/", 1)[-1]
        return f"arn:aws:sts::{self.account}:assumed-role/{role_name}/{self.session}"

    def context(self, secure_transport: bool) -> dict[str, object]:
        context: dict[str, object] = {
            "aws:SecureTransport": secure_transport,
            "aws:PrincipalArn": self.role_arn,
            "aws:PrincipalAccount": self.account,
            "aws:PrincipalIsAWSService": False,
            "aws:PrincipalType": "AssumedRole",
        }
        for key, value in self.tags.items():
            context[f"aws:PrincipalTag/{key}"] = value
        return context


@dataclass(frozen=True)
class Authorization:
    """One request S3 (or KMS) authorizes, and the KMS request it implies (decided by the key policy)."""

    request: Request
    kms: Request | None = None


def object_arn(bucket_arn: str, key: str) -> str:
    return f"{bucket_arn}/{key}"


def _kms(caller: Caller, action: str, key_arn: str, bucket_arn: str, region: str, secure: bool) -> Request:
    context = caller.context(secure) | {
        "kms:ViaService": f"s3.{region}.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": bucket_arn,
        "kms:CallerAccount": caller.account,
    }
    return Request(caller.session_arn, action, key_arn, context)


def list_bucket(caller: Caller, bucket_arn: str, *, secure: bool = True, prefix: str = "") -> list[Authorization]:
    context = caller.context(secure) | {"s3:prefix": prefix}
    return [Authorization(Request(caller.session_arn, "s3:ListBucket", bucket_arn, context))]


def read_object(
    caller: Caller,
    bucket_arn: str,
    key: str,
    key_arn: str,
    region: str,
    *,
    object_level: str | None,
    secure: bool = True,
    actions: tuple[str, ...] = ("s3:GetObject",),
) -> list[Authorization]:
    """GET (and other reads) of an object tagged `object_level` (None: untagged)."""
    context = caller.context(secure)
    if object_level is not None:
        context[f"s3:ExistingObjectTag/{CLASSIFICATION_TAG}"] = object_level
    kms = _kms(caller, "kms:Decrypt", key_arn, bucket_arn, region, secure)
    return [
        Authorization(Request(caller.session_arn, action, object_arn(bucket_arn, key), context), kms)
        for action in actions
    ]


def all_reads(
    caller: Caller,
    bucket_arn: str,
    key: str,
    key_arn: str,
    region: str,
    *,
    object_level: str | None,
    secure: bool = True,
) -> list[Authorization]:
    """Every read action a reader is granted: the matrix requires them to agree (GetObjectVersion
    must not read what GetObject may not)."""
    return read_object(
        caller, bucket_arn, key, key_arn, region, object_level=object_level, secure=secure, actions=OBJECT_READ_ACTIONS
    )


def write_object(
    caller: Caller,
    bucket_arn: str,
    key: str,
    key_arn: str,
    region: str,
    *,
    request_level: str | None,
    secure: bool = True,
    upload: Upload = "single",
    sse: str | None = None,
    sse_key_id: str | None = None,
) -> list[Authorization]:
    """An upload (one part of it, for multipart) carrying `dataclassification=request_level`."""
    context = caller.context(secure) | {"s3:ObjectCreationOperation": upload in ("single", "complete")}
    carries_tags = upload in ("single", "create") and request_level is not None
    if carries_tags:
        context[f"s3:RequestObjectTag/{CLASSIFICATION_TAG}"] = request_level
        context["s3:RequestObjectTagKeys"] = [CLASSIFICATION_TAG]
    if upload in ("single", "create"):
        if sse is not None:
            context["s3:x-amz-server-side-encryption"] = sse
        if sse_key_id is not None:
            context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = sse_key_id
    target = object_arn(bucket_arn, key)
    kms_action = "kms:GenerateDataKey" if upload in ("single", "create") else "kms:Decrypt"
    kms = _kms(caller, kms_action, key_arn, bucket_arn, region, secure)
    out = [Authorization(Request(caller.session_arn, "s3:PutObject", target, context), kms)]
    if carries_tags:
        tagging = {k: v for k, v in context.items() if k != "s3:ObjectCreationOperation" and "server-side" not in k}
        out.append(Authorization(Request(caller.session_arn, "s3:PutObjectTagging", target, tagging)))
    return out


def tag_object(
    caller: Caller,
    bucket_arn: str,
    key: str,
    *,
    object_level: str | None,
    new_level: str | None,
    secure: bool = True,
) -> list[Authorization]:
    """PutObjectTagging on an existing object (new_level None: DeleteObjectTagging)."""
    context = caller.context(secure)
    if object_level is not None:
        context[f"s3:ExistingObjectTag/{CLASSIFICATION_TAG}"] = object_level
    if new_level is None:
        return [
            Authorization(Request(caller.session_arn, "s3:DeleteObjectTagging", object_arn(bucket_arn, key), context))
        ]
    context[f"s3:RequestObjectTag/{CLASSIFICATION_TAG}"] = new_level
    context["s3:RequestObjectTagKeys"] = [CLASSIFICATION_TAG]
    return [Authorization(Request(caller.session_arn, "s3:PutObjectTagging", object_arn(bucket_arn, key), context))]


def delete_object(
    caller: Caller, bucket_arn: str, key: str, *, version: bool = False, secure: bool = True
) -> list[Authorization]:
    action = "s3:DeleteObjectVersion" if version else "s3:DeleteObject"
    return [Authorization(Request(caller.session_arn, action, object_arn(bucket_arn, key), caller.context(secure)))]


def decrypt(caller: Caller, bucket_arn: str, key_arn: str, region: str, *, secure: bool = True) -> list[Authorization]:
    """kms:Decrypt of the zone key as S3 calls it for the caller (Bucket Keys: context = bucket ARN)."""
    return [Authorization(_kms(caller, "kms:Decrypt", key_arn, bucket_arn, region, secure))]

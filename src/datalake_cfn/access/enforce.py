"""Local enforcement: decide a lake operation as a persona, exactly as the generated policies say.

Why: moto's IAM enforcement ignores Condition blocks (it applies a conditional Deny
unconditionally), and every guardrail of the lake is a condition. So `datalake --as analyst get`
asks the evaluator instead, with the same policies the stacks deploy and the same request shapes
as the access matrix (`datalake_cfn.access.operations`), and refuses with the statement that denied.

    from datalake_cfn.access.enforce import check_access
    check_access(config, names, "analyst", None, "read", bucket, key, object_tags={"dataclassification": "secret"})
    # raises AccessDenied: access denied: analyst (clearance internal) may not read s3://.../key
    #   (dataclassification=secret): denied by explicit Deny statement "DenyReadAboveInternal" in bucket policy of ...

The commands of the local lake call :func:`check_access` before doing the operation with the
emulator's (all-powerful) credentials; with no `--as`, nothing is enforced (the operator's view).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from datalake_cfn.access import operations as ops
from datalake_cfn.access import policies as gen
from datalake_cfn.access.evaluator import Decision
from datalake_cfn.access.matrix import AccessSetupError, PolicySet, local_policy_set
from datalake_cfn.cli.state import UserError
from datalake_cfn.config import LakeConfig
from datalake_cfn.naming import LakeNames

OPERATIONS = ("list", "read", "write", "tag", "untag", "delete", "decrypt")
ALIASES = {"ls": "list", "get": "read", "put": "write", "rm": "delete"}


class AccessDenied(UserError):
    """The policies deny the operation; the message names the statement that denied it (exit status 3)."""

    exit_code = 3

    def __init__(self, message: str, decision: Decision):
        super().__init__(message)
        self.decision = decision


@lru_cache(maxsize=8)
def _policy_set(config_json: str, account: str, region: str) -> PolicySet:
    config = LakeConfig.model_validate_json(config_json)
    return local_policy_set(config, LakeNames.for_config(config, account=account, region=region))


def policy_set_for(config: LakeConfig, names: LakeNames | None = None) -> PolicySet:
    """The generated policies of this lake (cached: the CLI asks many times per command)."""
    names = names or LakeNames.for_config(config)
    return _policy_set(config.model_dump_json(), names.account, names.region)


def _zone(config: LakeConfig, names: LakeNames, bucket: str) -> str:
    zone = names.zone_of_bucket(bucket)
    if zone is None or zone not in {z.name for z in config.zones}:
        zones = ", ".join(names.bucket(z.name) for z in config.zones)
        raise UserError(f"{bucket!r} is not a zone bucket of lake {config.lake!r} (zone buckets: {zones})")
    return zone


def authorize(
    config: LakeConfig,
    names: LakeNames | None,
    persona: str,
    clearance: str | None,
    action: str,
    bucket: str,
    key: str | None = None,
    object_tags: Mapping[str, str] | None = None,
    request_tags: Mapping[str, str] | None = None,
    secure_transport: bool = True,
    *,
    upload: ops.Upload = "single",
) -> Decision:
    """The decision on one operation by `persona` (session clearance `clearance`) on `bucket/key`.

    `action`: list, read (get), write (put), tag, untag, delete or decrypt. `object_tags` are the
    existing object's tags (for read, tag, untag), `request_tags` the tags an upload or a tagging
    request sets.
    """
    names = names or LakeNames.for_config(config)
    action = ALIASES.get(action, action)
    if action not in OPERATIONS:
        raise UserError(f"unknown operation {action!r}; use one of {', '.join(OPERATIONS)}")
    zone = _zone(config, names, bucket)
    policies = policy_set_for(config, names)
    try:
        caller = policies.caller(persona, clearance)
    except AccessSetupError as exc:
        raise UserError(str(exc)) from None
    resources = policies.zones[zone]
    region = names.region
    existing = (object_tags or {}).get(gen.CLASSIFICATION_TAG)
    requested = (request_tags or {}).get(gen.CLASSIFICATION_TAG)
    if action in ("read", "write", "tag", "untag", "delete") and not key:
        raise UserError(f"{action} needs an object key")
    key = key or ""
    if action == "list":
        requests = ops.list_bucket(caller, resources.bucket_arn, secure=secure_transport)
    elif action == "read":
        requests = ops.read_object(
            caller, resources.bucket_arn, key, resources.key_arn, region, object_level=existing, secure=secure_transport
        )
    elif action == "write":
        requests = ops.write_object(
            caller,
            resources.bucket_arn,
            key,
            resources.key_arn,
            region,
            request_level=requested,
            secure=secure_transport,
            upload=upload,
        )
    elif action in ("tag", "untag"):
        requests = ops.tag_object(
            caller,
            resources.bucket_arn,
            key,
            object_level=existing,
            new_level=requested if action == "tag" else None,
            secure=secure_transport,
        )
    elif action == "delete":
        requests = ops.delete_object(caller, resources.bucket_arn, key, secure=secure_transport)
    else:
        requests = ops.decrypt(caller, resources.bucket_arn, resources.key_arn, region, secure=secure_transport)
    return policies.decide(caller, requests)


def denial_message(
    config: LakeConfig,
    persona: str,
    clearance: str | None,
    action: str,
    bucket: str,
    key: str | None,
    object_tags: Mapping[str, str] | None,
    request_tags: Mapping[str, str] | None,
    decision: Decision,
) -> str:
    action = ALIASES.get(action, action)
    effective = gen.effective_clearance(config, persona, clearance)
    who = f"{persona} (clearance {effective}{', from the session tag' if clearance else ''})"
    target = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    details = []
    if action in ("read", "tag", "untag"):
        level = (object_tags or {}).get(gen.CLASSIFICATION_TAG)
        details.append(f"{gen.CLASSIFICATION_TAG}={level}" if level else "untagged")
    if action in ("write", "tag") and request_tags:
        details.append(f"setting {gen.CLASSIFICATION_TAG}={request_tags.get(gen.CLASSIFICATION_TAG)}")
    detail = f" ({', '.join(details)})" if details else ""
    return f"access denied: {who} may not {action} {target}{detail}: {decision.explain()}"


def check_access(
    config: LakeConfig,
    names: LakeNames | None,
    persona: str | None,
    clearance: str | None,
    action: str,
    bucket: str,
    key: str | None = None,
    object_tags: Mapping[str, str] | None = None,
    request_tags: Mapping[str, str] | None = None,
    secure_transport: bool = True,
    *,
    upload: ops.Upload = "single",
) -> Decision | None:
    """Like :func:`authorize`, but raise :class:`AccessDenied` (a UserError) when denied.

    `persona=None` (no `--as`) enforces nothing and returns None; `--clearance` without `--as` is a
    user mistake.
    """
    if persona is None:
        if clearance is not None:
            raise UserError("--clearance sets the session clearance of --as <persona>; pass --as too")
        return None
    if clearance is not None and clearance not in config.classification:
        raise UserError(f"unknown clearance {clearance!r}; use one of {', '.join(config.classification)}")
    decision = authorize(
        config,
        names,
        persona,
        clearance,
        action,
        bucket,
        key,
        object_tags,
        request_tags,
        secure_transport,
        upload=upload,
    )
    if not decision.allowed:
        message = denial_message(config, persona, clearance, action, bucket, key, object_tags, request_tags, decision)
        raise AccessDenied(message, decision)
    return decision

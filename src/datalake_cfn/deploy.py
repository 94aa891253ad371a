"""`datalake deploy` and `datalake plan`: change sets from the published URL, replacements refused.

deploy: the published template (from out/manifest.json) goes to CloudFormation as a change set,
never as a direct update, so what will happen is shown before it happens. For an update every
parameter the stack already has is passed as `UsePreviousValue` (a parameter left out of an
update silently reverts to its default), except `CodeBucket`/`CodeKeyPrefix`, which the
publisher owns and which point at the version being deployed. Replacements are computed offline
by :mod:`datalake_cfn.changes` between the deployed template (`GetTemplate`) and the new one, as
well as read from the change set, because CloudFormation emulators (moto) report no `Replacement`.

plan: the same comparison with no AWS at all, between a fresh render and a published version's
template (the local copy the publisher recorded), or `templates/` when nothing is published.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datalake_cfn import changes
from datalake_cfn.publish import CAPABILITY, CODE_PARAMETERS

TERMINAL_OK = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
EXIT_REFUSED, EXIT_USAGE, EXIT_FAILED = 1, 2, 4


class DeployError(Exception):
    """Deploying cannot go on or failed; `exit_code` from the CLI's table."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Target:
    """One published template of one version in one region: what a deploy sends."""

    stack: str
    stack_name: str
    region: str
    version: str
    url: str
    bucket: str
    key: str
    sha256: str
    local: str
    code: dict[str, str]  # CodeBucket / CodeKeyPrefix of this version in this region (prod only)

    def template(self, s3: Any | None = None) -> dict[str, Any]:
        """The published template: the publisher's local copy when its sha256 matches, else from S3."""
        path = Path(self.local)
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == self.sha256:
            return json.loads(path.read_bytes())
        if s3 is None:
            raise DeployError(f"{self.local} is missing or changed; publish again or run where it was published")
        body = s3.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        return json.loads(body)


def load_manifest(path: Path) -> dict[str, Any]:
    """The manifest, with `_dir` (its folder) so its relative local copies resolve from anywhere."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["_dir"] = str(path.parent)
        return manifest
    except FileNotFoundError:
        raise DeployError(f"{path} not found: run `python build.py publish --bucket BASE` first") from None
    except ValueError as exc:
        raise DeployError(f"{path} is not a publisher manifest: {exc}") from None


def target(manifest: dict[str, Any], stack: str, version: str | None, region: str | None) -> Target:
    """The manifest's entry for `stack` at `version` (default: the latest published) in `region`."""
    version = version or manifest["version"]
    versions = manifest.get("versions", {})
    if version not in versions:
        known = ", ".join(sorted(versions)) or "none"
        raise DeployError(f"version {version} is not in the manifest (published: {known})")
    entry = versions[version]
    region = region or manifest["regions"][0]
    if region not in entry["templates"]:
        raise DeployError(
            f"version {version} was not published for {region} (regions: {', '.join(entry['templates'])})"
        )
    info = entry["templates"][region][stack]
    code = {}
    if stack == "prod":
        code = {CODE_PARAMETERS[0]: info["bucket"], CODE_PARAMETERS[1]: entry["prefix"]}
    return Target(
        stack,
        info["stack_name"],
        region,
        version,
        info["url"],
        info["bucket"],
        info["key"],
        info["sha256"],
        str(Path(manifest.get("_dir", ".")) / info["local"]),
        code,
    )


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    given = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise DeployError(f"--parameter {pair!r}: write KEY=VALUE")
        given[key] = value
    return given


def change_set_parameters(
    declared: dict[str, Any], existing: set[str] | None, given: dict[str, str], code: dict[str, str]
) -> list[dict[str, Any]]:
    """Given values, the version's code location, `UsePreviousValue` for the rest the stack already has.

    `existing` is None for a new stack: then every parameter without a default must be given.
    """
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise DeployError(f"--parameter {', '.join(unknown)}: not a parameter of this template ({', '.join(declared)})")
    result = []
    missing = []
    for key in sorted(declared):
        if key in given:
            result.append({"ParameterKey": key, "ParameterValue": given[key]})
        elif key in code:
            result.append({"ParameterKey": key, "ParameterValue": code[key]})
        elif existing is not None and key in existing:
            result.append({"ParameterKey": key, "UsePreviousValue": True})
        elif "Default" not in declared[key]:
            missing.append(key)
    if missing:
        raise DeployError(
            "parameters without a default need a value: " + " ".join(f"--parameter {k}=..." for k in missing)
        )
    return result


def _template_body(body: Any) -> dict[str, Any]:
    if isinstance(body, dict):
        return json.loads(json.dumps(body))
    import yaml

    return json.loads(body) if body.lstrip().startswith("{") else yaml.safe_load(body)


def change_rows(change_set: dict[str, Any], computed: list[changes.ResourceChange]) -> list[dict[str, str]]:
    """One row per resource: CloudFormation's action and replacement, with the offline verdict beside it."""
    offline = {c.logical_id: c for c in computed}
    rows = []
    for change in change_set.get("Changes", []):
        rc = change.get("ResourceChange", {})
        logical = rc.get("LogicalResourceId", "")
        verdict = offline.get(logical)
        replacement = rc.get("Replacement") or ("True" if verdict and verdict.action == "replace" else "")
        rows.append(
            {
                "action": rc.get("Action", ""),
                "logical_id": logical,
                "type": rc.get("ResourceType", ""),
                "replacement": replacement,
                "reason": verdict.reason if verdict else "",
            }
        )
    seen = {r["logical_id"] for r in rows}
    for c in computed:  # what the change set leaves out (an emulator skips types it does not model)
        if c.logical_id not in seen and c.action in ("replace", "remove"):
            rows.append(
                {
                    "action": "Remove" if c.action == "remove" else "Modify",
                    "logical_id": c.logical_id,
                    "type": c.resource_type,
                    "replacement": "True" if c.action == "replace" else "",
                    "reason": c.reason,
                }
            )
    return rows


def refused(change_set: dict[str, Any], computed: list[changes.ResourceChange]) -> list[str]:
    """Protected resources the change would replace or remove, one line each."""
    lines = {
        c.logical_id: f"{c.logical_id} ({c.resource_type}): {c.action}, {c.reason}" for c in computed if c.destructive
    }
    for change in change_set.get("Changes", []):
        rc = change.get("ResourceChange", {})
        kind, logical = rc.get("ResourceType", ""), rc.get("LogicalResourceId", "")
        if kind in changes.PROTECTED_TYPES and (
            rc.get("Action") == "Remove" or rc.get("Replacement") in ("True", "Conditional")
        ):
            lines.setdefault(logical, f"{logical} ({kind}): {rc.get('Action')}, replacement {rc.get('Replacement')}")
    return [lines[k] for k in sorted(lines)]


def first_failure(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The earliest `*_FAILED` resource event (the cause; later ones are its consequences)."""
    failed = [e for e in events if e.get("ResourceStatus", "").endswith("_FAILED") and e.get("ResourceStatusReason")]
    resources = [e for e in failed if e.get("ResourceType") != "AWS::CloudFormation::Stack"] or failed
    return min(resources, key=lambda e: e["Timestamp"]) if resources else None


@dataclass
class Reporter:
    """What deploy tells the person: tables, event lines, a status line (the CLI supplies rich ones)."""

    changes: Callable[[list[dict[str, str]]], None]
    event: Callable[[dict[str, Any]], None]
    status: Callable[[str], None]
    outputs: Callable[[list[dict[str, str]]], None]


def describe(cfn: Any, name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def wait_change_set(cfn: Any, name: str, change_set: str, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = cfn.describe_change_set(StackName=name, ChangeSetName=change_set)
        if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return described
        if time.monotonic() > deadline:
            raise DeployError(f"change set {change_set} still {described['Status']} after {timeout:.0f}s", EXIT_FAILED)
        time.sleep(2)


def deploy(
    session: Any,
    tgt: Target,
    given: dict[str, str],
    allow_replacement: bool,
    report: Reporter,
    endpoint: str | None = None,
    poll: float = 5.0,
    timeout: float = 3600.0,
) -> dict[str, Any]:
    """Create or update `tgt`'s stack through a change set; returns the settled stack (raises DeployError)."""
    from botocore.exceptions import ClientError

    cfn = session.client("cloudformation", region_name=tgt.region, endpoint_url=endpoint)
    s3 = session.client("s3", region_name=tgt.region, endpoint_url=endpoint)
    new = tgt.template(s3)
    stack = describe(cfn, tgt.stack_name)
    if stack and stack["StackStatus"] == "REVIEW_IN_PROGRESS":
        stack = None  # only an unexecuted change set: still a create
    if stack and stack["StackStatus"] in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"):
        raise DeployError(
            f"stack {tgt.stack_name} is {stack['StackStatus']} (its creation failed): delete it, then deploy again",
            EXIT_FAILED,
        )
    if stack and stack["StackStatus"].endswith("_IN_PROGRESS"):
        raise DeployError(
            f"stack {tgt.stack_name} is busy ({stack['StackStatus']}); wait for it to settle", EXIT_FAILED
        )
    existing = {p["ParameterKey"] for p in stack.get("Parameters", [])} if stack else None
    parameters = change_set_parameters(new.get("Parameters", {}), existing, given, tgt.code)
    old = _template_body(cfn.get_template(StackName=tgt.stack_name)["TemplateBody"]) if stack else {}
    computed = changes.resource_changes(old, new)
    change_set = f"{tgt.stack_name}-{tgt.version}-{int(time.time())}".replace(".", "-").replace("_", "-")
    cfn.create_change_set(
        StackName=tgt.stack_name,
        ChangeSetName=change_set,
        ChangeSetType="UPDATE" if stack else "CREATE",
        TemplateURL=tgt.url,
        Parameters=parameters,
        Capabilities=[CAPABILITY],
        Description=f"version {tgt.version}",
    )
    described = wait_change_set(cfn, tgt.stack_name, change_set)
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        cfn.delete_change_set(StackName=tgt.stack_name, ChangeSetName=change_set)
        if "didn't contain changes" in reason or "No updates" in reason:
            report.status(f"{tgt.stack_name} is already at version {tgt.version}: no changes")
            return stack or {}
        raise DeployError(f"change set failed: {reason}", EXIT_FAILED)
    report.changes(change_rows(described, computed))
    blocked = refused(described, computed)
    if blocked and not allow_replacement:
        cfn.delete_change_set(StackName=tgt.stack_name, ChangeSetName=change_set)
        raise DeployError(
            "refusing to replace or remove protected resources (their data, keys or identities would be lost):\n  "
            + "\n  ".join(blocked)
            + "\nrename them back, or pass --allow-replacement when this is what you want",
            EXIT_REFUSED,
        )
    started = time.time() - 1
    seen: set[str] = set()
    try:
        cfn.execute_change_set(StackName=tgt.stack_name, ChangeSetName=change_set)
    except ClientError as exc:
        # The emulator applies a change set synchronously and reports a resource's failure as an API error.
        names = ", ".join(f"{r['logical_id']} ({r['type']})" for r in change_rows(described, computed)) or "none"
        error = exc.response.get("Error", {})
        raise DeployError(
            f"{tgt.stack_name}: executing the change set failed: {error.get('Code')}: {error.get('Message')}; "
            f"the change set was changing: {names}",
            EXIT_FAILED,
        ) from None
    deadline = time.monotonic() + timeout
    while True:
        events = cfn.describe_stack_events(StackName=tgt.stack_name)["StackEvents"]
        fresh = [e for e in events if e["EventId"] not in seen and e["Timestamp"].timestamp() >= started]
        for event in sorted(fresh, key=lambda e: e["Timestamp"]):
            seen.add(event["EventId"])
            report.event(event)
        settled = describe(cfn, tgt.stack_name) or {}
        status = settled.get("StackStatus", "")
        report.status(f"{tgt.stack_name}: {status} ({len(seen)} events)")
        if not status.endswith("_IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            raise DeployError(f"{tgt.stack_name} still {status} after {timeout:.0f}s", EXIT_FAILED)
        time.sleep(poll)
    if status not in TERMINAL_OK:
        failure = first_failure([e for e in events if e["Timestamp"].timestamp() >= started])
        cause = (
            f"{failure['LogicalResourceId']} ({failure['ResourceType']}): {failure['ResourceStatusReason']}"
            if failure
            else settled.get("StackStatusReason", "no reason given")
        )
        raise DeployError(f"{tgt.stack_name} ended {status}: {cause}", EXIT_FAILED)
    report.outputs(settled.get("Outputs", []))
    return settled


# -- plan ----------------------------------------------------------------------------------------------
def published_template(manifest: dict[str, Any] | None, stack: str, version: str | None, golden: Path) -> tuple:
    """(template, what it is) to compare a fresh render with: a published version's, else `templates/`."""
    if manifest is None:
        if version:
            raise DeployError(f"--against {version}: no manifest (publish first, or drop --against)")
        path = golden / f"{stack}.json"
        return json.loads(path.read_text(encoding="utf-8")), f"{path} (nothing published yet)"
    tgt = target(manifest, stack, version, None)
    return tgt.template(None), f"version {tgt.version} ({tgt.region})"


def plan_rows(old: dict[str, Any], new: dict[str, Any]) -> list[changes.ResourceChange]:
    return changes.resource_changes(old, new)

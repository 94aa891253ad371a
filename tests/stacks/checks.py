"""The three static checks of a rendered template: cfn-lint, cdk-nag's four packs and cfn-guard.

Each function takes a template file and returns its findings as one readable line each, so a test
can assert `== []` and show what to fix. They are test-only: aws-cdk-lib and cdk-nag (dev extra)
and the npm package `@cdklabs/cdk-validator-cfnguard` (package.json devDependencies) never reach
the product.

Acknowledgements live in the template, on the resource they are about:

- cdk-nag: `Metadata.cdk_nag.rules_to_suppress = [{id, reason}]` (written by
  `datalake_cfn.stacks.base.nag_metadata`). cdk-nag 3.x does NOT read that block: it reads the
  construct-tree metadata `Validations.of(construct).acknowledge(...)` records. The harness
  therefore turns every entry into an acknowledgement on the included resource
  (`CfnInclude.get_resource(logical_id)`), qualified with its pack (`AwsSolutions::AwsSolutions-S1`).
  With the pack qualifier cdk-nag itself still reports the finding and aws-cdk-lib moves it to the
  report's `suppressedViolations`, with the reason: the report then proves each acknowledgement
  matched a real finding (an unqualified id would make cdk-nag drop the finding silently).
- cfn-lint: its own `Metadata.cfn-lint.config.ignore_checks`, read natively.
- cfn-guard: the Control Tower rules have no per-resource suppression, so a rule file that cannot
  apply to this lake is left out as a whole, in :data:`EXCLUDED_RULE_FILES`, with the reason.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _silence_jsii_node_banners() -> None:
    """jsii prints a banner on every start under an old Node; it says nothing about the templates."""
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    node = shutil.which("node")
    if node and "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION" not in os.environ:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout
        major = version.strip().lstrip("v").split(".", 1)[0]
        if major.isdigit():
            os.environ["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = major


_silence_jsii_node_banners()

# -- cfn-lint ------------------------------------------------------------------------------------------

LINT_SEVERITIES = ("error", "warning")


def cfn_lint_findings(path: Path | str) -> list[str]:
    """cfn-lint errors and warnings (informational ignored), checked against EVERY region.

    `lint_all` rather than one region: the templates are meant to launch in any region, so a
    resource type or property missing from one region's schema is a finding.
    """
    from cfnlint.api import lint_all

    matches = lint_all(Path(path).read_text(encoding="utf-8"))
    return sorted({_lint_line(m) for m in matches if m.rule.severity in LINT_SEVERITIES})


def _lint_line(match: Any) -> str:
    where = "/".join(str(part) for part in getattr(match, "path", None) or []) or f"line {match.linenumber}"
    return f"{match.rule.id} [{match.rule.severity}] at {where}: {match.message}"


# -- cdk-nag -------------------------------------------------------------------------------------------

NAG_SEVERITIES = ("error", "warning")
# The four packs' plugin names. aws-cdk-lib also runs its own "CloudFormation Validate" plugin on every
# synth (schema lint of its resolved view: it reads `Fn::If` over parameters as ''); cfn-lint does that job here.
NAG_PACKS = ("AwsSolutions", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")
INCLUDE_ID = "Template"
NAG_REPORT = "validation-report.json"


@dataclass(frozen=True)
class NagFinding:
    """One finding of one pack on one resource of the raw template."""

    pack: str
    rule: str
    severity: str
    logical_id: str
    description: str
    reason: str = ""  # the acknowledgement's reason, for a suppressed finding

    def __str__(self) -> str:
        return f"{self.rule} [{self.severity}] on {self.logical_id}: {_first_sentence(self.description)}"


@dataclass
class NagReport:
    """What the four packs said about one template: open findings and acknowledged (suppressed) ones."""

    findings: list[NagFinding] = field(default_factory=list)
    suppressed: list[NagFinding] = field(default_factory=list)


def nag_packs(scope: Any) -> list[Any]:
    """AwsSolutions, NIST 800-53 rev 5, HIPAA Security and PCI DSS 3.2.1, verbose (explanations in the report)."""
    from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks

    return [
        pack(scope, verbose=True)
        for pack in (AwsSolutionsChecks, NIST80053R5Checks, HIPAASecurityChecks, PCIDSS321Checks)
    ]


def pack_of(rule_id: str) -> str:
    """The pack (plugin) name of a cdk-nag rule id: `NIST.800.53.R5-IAMNoInlinePolicy` -> `NIST.800.53.R5`."""
    return rule_id.split("-", 1)[0]


def template_acknowledgements(template: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """{logical id: [(rule id, reason)]} from each resource's `Metadata.cdk_nag.rules_to_suppress`."""
    out: dict[str, list[tuple[str, str]]] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        entries = (resource.get("Metadata") or {}).get("cdk_nag", {}).get("rules_to_suppress", [])
        if entries:
            out[logical_id] = [(entry["id"], entry["reason"]) for entry in entries]
    return out


def cdk_nag_report(template_path: Path | str) -> NagReport:
    """Run the four packs over a raw template (CfnInclude), its Metadata acknowledgements applied."""
    from aws_cdk import Acknowledgment, App, BootstraplessSynthesizer, Stack, Validations
    from aws_cdk import cloudformation_include as cfn_include

    template_path = Path(template_path)
    template = json.loads(template_path.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="nag-") as outdir:
        app = App(outdir=outdir)
        stack = Stack(app, "Checked", synthesizer=BootstraplessSynthesizer())
        included = cfn_include.CfnInclude(stack, INCLUDE_ID, template_file=str(template_path))
        for logical_id, acknowledgements in template_acknowledgements(template).items():
            resource = included.get_resource(logical_id)
            for rule, reason in acknowledgements:
                qualified = rule if "::" in rule.split("[", 1)[0] else f"{pack_of(rule)}::{rule}"
                Validations.of(resource).acknowledge(Acknowledgment(id=qualified, reason=reason))
        Validations.of(app).add_plugins(*nag_packs(app))
        try:
            app.synth()
        except RuntimeError as error:  # jsii wraps the JS error; only a failed validation is expected
            if "ValidationFailed" not in str(error):
                raise
        return _read_nag_report(Path(outdir) / NAG_REPORT)


def _read_nag_report(path: Path) -> NagReport:
    report = NagReport()
    if not path.exists():
        return report
    for plugin in json.loads(path.read_text(encoding="utf-8")).get("pluginReports", []):
        pack = plugin.get("pluginName", "")
        if pack not in NAG_PACKS:
            continue
        for violation in plugin.get("violations", []):
            report.findings += _nag_findings(pack, violation)
        for violation in plugin.get("suppressedViolations") or []:
            report.suppressed += _nag_findings(pack, violation, violation.get("reason", ""))
    return report


def _nag_findings(pack: str, violation: dict[str, Any], reason: str = "") -> list[NagFinding]:
    return [
        NagFinding(
            pack=pack,
            rule=violation.get("ruleName", ""),
            severity=violation.get("severity", ""),
            logical_id=_logical_id(construct),
            description=violation.get("description", ""),
            reason=reason,
        )
        for construct in violation.get("violatingConstructs", [])
    ]


def _logical_id(construct: dict[str, Any]) -> str:
    """The raw template's logical id: CfnInclude keeps it as the construct id (`Checked/Template/<id>`)."""
    resource = construct.get("cloudFormationResource") or {}
    return resource.get("logicalId") or construct.get("constructPath", "").rsplit("/", 1)[-1]


def cdk_nag_findings(template_path: Path | str) -> list[str]:
    """Unacknowledged cdk-nag errors and warnings of the four packs, one line each."""
    report = cdk_nag_report(template_path)
    return sorted({str(f) for f in report.findings if f.severity in NAG_SEVERITIES})


def _first_sentence(text: str, limit: int = 200) -> str:
    sentence = text.split(". ", 1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 1] + "…"


# -- cfn-guard -----------------------------------------------------------------------------------------

GUARD_PACKAGE = REPO / "node_modules" / "@cdklabs" / "cdk-validator-cfnguard"
GUARD_RULES = GUARD_PACKAGE / "rules" / "control-tower" / "cfn-guard"

# Control Tower rule files (relative to GUARD_RULES) that cannot apply to this lake, and why. The
# rules have no per-resource suppression, so one bucket that cannot comply would fail the rule for
# all; each entry names the resource that cannot comply and what still checks the others.
EXCLUDED_RULE_FILES: dict[str, str] = {
    "s3/ct-s3-pr-2.guard": (
        "CT.S3.PR.2 (server access logging on every bucket): the access-log bucket of each template is the logging "
        "target and must not log into itself (each delivery would log itself, forever); every other bucket's "
        "LoggingConfiguration is still checked per resource "
        "by cdk-nag (AwsSolutions-S1 and the NIST/HIPAA/PCI S3BucketLoggingEnabled rules)."
    ),
    "s3/ct-s3-pr-10.guard": (
        "CT.S3.PR.10 (SSE-KMS default encryption on every bucket): S3 server access log delivery only supports SSE-S3 "
        "on the target bucket, so the access-log bucket must stay on AES256; KMS default encryption of every other "
        "bucket is still checked per resource by cdk-nag's S3DefaultEncryptionKMS (NIST/HIPAA/PCI)."
    ),
    "s3/ct-s3-pr-9.guard": (
        "CT.S3.PR.9 (Object Lock on every bucket): Object Lock is on where records must be immutable, the audit "
        "bucket (tests/stacks/test_security.py asserts it); zone buckets are rebuilt from the zone before them and "
        "the steward must be able to delete rejected or misclassified data; versioning plus steward-only version "
        "deletes protect them, and Object Lock cannot be turned off once on."
    ),
    "athena/ct-athena-pr-1.guard": (
        "CT.ATHENA.PR.1 (workgroup enforces its configuration): the lake's workgroup deliberately does not enforce "
        "one result location, so each caller's results land under its own <aws:userid>/ prefix, as the persona "
        "policies allow; the results bucket itself pins SSE-KMS with the Athena key (tests/stacks/test_catalog.py)."
    ),
    "athena/ct-athena-pr-2.guard": (
        "CT.ATHENA.PR.2 (workgroup-enforced KMS encryption of results): follows from CT.ATHENA.PR.1 above; results "
        "are encrypted by the results bucket's default SSE-KMS with the Athena key and its policy denies other keys."
    ),
    "cloudtrail/ct-cloudtrail-pr-1.guard": (
        "CT.CLOUDTRAIL.PR.1 (trail encrypted with KMS): the trail IS encrypted, with the security account's audit "
        "key, whose alias ARN is an Fn::Sub over the SecurityAccountId parameter; the rule accepts only a literal "
        "string or a key of the same template (tests/stacks/test_security.py asserts KMSKeyId)."
    ),
    "identityandaccessmanagement/ct-iam-pr-5.guard": (
        "CT.IAM.PR.5 (no wildcard actions in identity policies): the personas table grants the steward full S3 "
        "administration of the lake's buckets and the scientist SageMaker; every wildcard of every policy is "
        "instead checked per statement by cdk-nag's AwsSolutions-IAM5, acknowledged one by one with its reason."
    ),
}


@dataclass(frozen=True)
class GuardFailure:
    """One Control Tower rule failing on one resource."""

    control: str  # CT.S3.PR.9
    rule_file: str  # s3/ct-s3-pr-9.guard
    logical_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.control} ({self.rule_file}) on {self.logical_id}: {self.message}"


def guard_binary() -> Path:
    """The static cfn-guard the npm package ships for this machine (its own layout: ubuntu|macos / x86_64|aarch64)."""
    system = {"Linux": "ubuntu", "Darwin": "macos"}[platform.system()]
    machine = {"x86_64": "x86_64", "amd64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}[
        platform.machine().lower()
    ]
    return GUARD_PACKAGE / "bin" / system / machine / "cfn-guard"


@cache
def guard_rule_files() -> dict[str, str]:
    """{top-level rule name: rule file relative to GUARD_RULES} of every Control Tower rule file."""
    names: dict[str, str] = {}
    for path in sorted(GUARD_RULES.rglob("*.guard")):
        relative = path.relative_to(GUARD_RULES).as_posix()
        for name in re.findall(r"^rule\s+([A-Za-z0-9_]+)\s+when\b", path.read_text(encoding="utf-8"), re.MULTILINE):
            names.setdefault(name, relative)
    return names


def guard_rule_paths(template: dict[str, Any] | None = None) -> list[Path]:
    """The rule files to run: all but the excluded ones, and (given a template) only those reporting on its types.

    Every Control Tower rule file declares the resource types it `Reports on`; a file about types
    the template does not hold can only SKIP, and leaving it out cuts guard's time by two thirds.
    A file without that header always runs.
    """
    present = {r.get("Type") for r in (template or {}).get("Resources", {}).values()} if template else None
    paths = []
    for path in sorted(GUARD_RULES.rglob("*.guard")):
        if path.relative_to(GUARD_RULES).as_posix() in EXCLUDED_RULE_FILES:
            continue
        reports_on = guard_reports_on(path)
        if present is None or not reports_on or reports_on & present:
            paths.append(path)
    return paths


@cache
def guard_reports_on(path: Path) -> frozenset[str]:
    """The resource types of a rule file's `# Reports on:` header (empty: no header)."""
    header = re.search(r"^# Reports on:\s*\n((?:#\s+AWS::.*\n)+)", path.read_text(encoding="utf-8"), re.MULTILINE)
    return frozenset(re.findall(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+", header.group(1))) if header else frozenset()


class GuardRun:
    """One cfn-guard process over one template, started at once so it runs while the caller does other work."""

    def __init__(self, template_path: Path | str) -> None:
        self.template_path = Path(template_path)
        template = json.loads(self.template_path.read_text(encoding="utf-8"))
        command = [str(guard_binary()), "validate", "-d", str(self.template_path)]
        for rule in guard_rule_paths(template):
            command += ["-r", str(rule)]
        # Structured JSON: the default output format took minutes on the prod template.
        command += ["-z", "-o", "json", "--show-summary", "none"]
        self.started = time.monotonic()
        self.seconds: float | None = None
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._failures: list[GuardFailure] | None = None

    def failures(self, timeout: float = 600) -> list[GuardFailure]:
        """Wait for guard and parse its report (once)."""
        if self._failures is None:
            stdout, stderr = self._process.communicate(timeout=timeout)
            self.seconds = time.monotonic() - self.started
            # 0: compliant, 19: some rule failed; anything else is guard failing to run.
            if self._process.returncode not in (0, 19):
                raise RuntimeError(f"cfn-guard exited {self._process.returncode}: {stderr.strip()[:2000]}")
            self._failures = [failure for data in json.loads(stdout) for failure in _guard_failures(data)]
        return self._failures


def guard_report(template_path: Path | str) -> list[GuardFailure]:
    """Control Tower rule failures of one template (runs cfn-guard and waits)."""
    return GuardRun(template_path).failures()


def cfn_guard_failures(template_path: Path | str) -> list[str]:
    """Control Tower rules (but :data:`EXCLUDED_RULE_FILES`) failing on the template, one line per rule and resource."""
    return sorted({str(f) for f in guard_report(template_path)})


def _guard_failures(data: dict[str, Any]) -> list[GuardFailure]:
    files = guard_rule_files()
    failures = []
    for entry in data.get("not_compliant", []):
        rule = entry.get("Rule", entry)
        text = json.dumps(rule)
        control, message = _control_message(rule)
        for logical_id in sorted(set(re.findall(r'"/Resources/([A-Za-z0-9]+)', text))) or ["(template)"]:
            failures.append(
                GuardFailure(control, files.get(rule.get("name", ""), rule.get("name", "?")), logical_id, message)
            )
    return failures


def _control_message(rule: dict[str, Any]) -> tuple[str, str]:
    """(`CT.S3.PR.9`, its one-line statement) from the first custom message under the rule."""
    for message in _custom_messages(rule):
        found = re.search(r"\[(CT\.[A-Z0-9]+\.PR\.\d+)\]:\s*(.+)", message)
        if found:
            return found.group(1), found.group(2).strip()
    return rule.get("name", "?"), ""


def _custom_messages(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = []
        messages = node.get("messages")
        if isinstance(messages, dict) and messages.get("custom_message"):
            found.append(messages["custom_message"])
        for value in node.values():
            found += _custom_messages(value)
        return found
    if isinstance(node, list):
        return [m for item in node for m in _custom_messages(item)]
    return []

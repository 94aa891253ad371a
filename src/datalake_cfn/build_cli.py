"""`python build.py`: render the two templates (and the code artifacts) and say what was written.

argparse, not the `datalake` CLI's framework: the builder is a script a CI job calls, and its
errors and exit codes are the same as the CLI's (2 configuration or usage, 1 a check failed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from datalake_cfn.config import ConfigError

EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exits with 2 too; keep its one-line form
        self.print_usage(sys.stderr)
        print(f"build.py: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="build.py",
        description="Render the lake's two CloudFormation templates (prod and security) with troposphere.",
        epilog="`build.py publish --bucket BASE ...` uploads them to S3 (see `build.py publish --help`).",
    )
    p.add_argument(
        "--zones", type=int, metavar="N", help="N zones (default lake.yaml's; 4: raw, staged, curated, sandbox)"
    )
    p.add_argument(
        "--config", metavar="LAKE_YAML", help="the lake's configuration (default: ./lake.yaml, else the bundled one)"
    )
    p.add_argument("--out", metavar="DIR", default="out", help="output directory (default: out)")
    p.add_argument(
        "--check", action="store_true", help="exit 1 when templates/ differs from a fresh render of the default lake"
    )
    p.add_argument("--golden", action="store_true", help="rewrite templates/ from the bundled default lake")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.add_argument("--golden-dir", metavar="DIR", help=argparse.SUPPRESS)  # tests point --check elsewhere
    return p


def publish_parser() -> argparse.ArgumentParser:
    """`build.py publish ...`: its own parser, so `build.py --zones 4` parses exactly as before."""
    p = _Parser(
        prog="build.py publish",
        description="Render, package and upload the templates and code to S3 as an immutable version.",
    )
    p.add_argument("--bucket", required=True, metavar="BASE", help="templates bucket; code goes to BASE-<region>")
    p.add_argument("--regions", metavar="R1,R2", help="regions to publish code for (default: lake.yaml's region)")
    p.add_argument("--version", metavar="V", help="version prefix (default: a content hash of what is published)")
    p.add_argument("--single-bucket", action="store_true", help="everything in BASE (one region only)")
    p.add_argument("--profile", metavar="P", help="AWS profile")
    p.add_argument("--endpoint-url", metavar="URL", help="an S3 emulator (default: $AWS_ENDPOINT_URL, else AWS)")
    p.add_argument("--zones", type=int, metavar="N", help="N zones, as for rendering")
    p.add_argument("--config", metavar="LAKE_YAML", help="the lake's configuration, as for rendering")
    p.add_argument("--out", metavar="DIR", default="out", help="output directory (default: out)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["publish"]:
            return run_publish(publish_parser().parse_args(argv[1:]))
        return _run(parser().parse_args(argv))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    from datalake_cfn import builder

    if args.check or args.golden:
        rendered = builder.render_checked(builder.default_config(), "the bundled lake.yaml")
        golden_dir = Path(args.golden_dir) if args.golden_dir else builder.GOLDEN_DIR
        if args.golden:
            builder.write_templates(rendered, golden_dir)
            print(f"templates/ rewritten from the bundled lake.yaml ({', '.join(rendered)})")
            return 0
        stale = builder.stale_golden(rendered, golden_dir)
        if stale:
            print("templates/ is stale: " + ", ".join(stale), file=sys.stderr)
            print("run `python build.py --golden` and commit the diff", file=sys.stderr)
            return EXIT_CHECK_FAILED
        print("templates/ is current")
        return 0

    config, source = builder.resolve_config(args.config, args.zones)
    from datalake_cfn.transforms_check import check_transforms  # every transform importable, before rendering

    check_transforms(config, source, args.config or "lake.yaml")
    rendered = builder.render_checked(config, source)
    out = Path(args.out)
    paths = builder.write_templates(rendered, out / "templates")
    artifacts = builder.write_artifacts(config, out)
    rows = [
        {
            "stack": stack.stack,
            "resources": stack.resources,
            "bytes": stack.size,
            "parameters": stack.parameters,
            "path": str(paths[stack.stack]),
        }
        for stack in rendered.values()
    ]
    if args.json:
        print(json.dumps({"lake": config.lake, "source": source, "stacks": rows, "artifacts": artifacts}, indent=2))
        return 0
    _print_table(config.lake, source, rows, artifacts)
    return 0


def _print_table(lake: str, source: str, rows: list[dict], artifacts: list[str]) -> None:
    from rich.table import Table

    from datalake_cfn.console import console

    table = Table(title=f"{lake}: two templates from {source}")
    for column, justify in (
        ("stack", "left"),
        ("resources", "right"),
        ("bytes", "right"),
        ("parameters", "right"),
        ("path", "left"),
    ):
        table.add_column(column, justify=justify, overflow="fold")
    for row in rows:
        table.add_row(row["stack"], str(row["resources"]), f"{row['bytes']:,}", str(row["parameters"]), row["path"])
    console.print(table)
    for artifact in artifacts:
        console.print(f"artifact: {artifact}", soft_wrap=True)


# -- publish ---------------------------------------------------------------------------------------
def run_publish(args: argparse.Namespace) -> int:
    """Render into `--out`, upload what is new, write manifest.json and LAUNCH.md, print what happened."""
    from datalake_cfn import builder, publish

    try:
        return _publish(args, builder, publish)
    except publish.PublishError as exc:
        print(f"build.py publish: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # botocore's errors: one line, the CLI's exit codes
        from datalake_cfn.cli import _botocore_status

        status = _botocore_status(exc)
        if status is None:
            raise
        print(f"build.py publish: {status[1]}", file=sys.stderr)
        return status[0]


def _publish(args: argparse.Namespace, builder: Any, publish: Any) -> int:
    import boto3

    config, source = builder.resolve_config(args.config, args.zones)
    rendered = builder.render_checked(config, source)
    out = Path(args.out)
    builder.write_templates(rendered, out / "templates")
    builder.write_artifacts(config, out)
    regions = [r.strip() for r in (args.regions or config.region).split(",") if r.strip()]
    if not regions:
        raise publish.PublishError("--regions: name at least one region")
    artifacts = publish.read_artifacts(out / "artifacts")
    plan = publish.plan(config.lake, rendered, artifacts, args.bucket, regions, args.single_bucket, args.version)
    endpoint = publish.endpoint_from(args.endpoint_url)
    session = boto3.Session(profile_name=args.profile) if args.profile else boto3.Session()
    outcomes, created = _upload_with_progress(publish, plan, session, endpoint, quiet=args.json)
    accounts = {"prod": config.accounts.prod, "security": config.accounts.security}
    previous = publish.read_manifest(out / "manifest.json")
    manifest = publish.build_manifest(plan, endpoint, out, accounts, previous)
    manifest_path, launch_path = publish.write_outputs(manifest, plan.templates, out)
    counts = publish.summary(outcomes)
    if args.json:
        result = {
            "lake": config.lake,
            "version": plan.version,
            **counts,
            "buckets_created": created,
            "objects": publish.outcomes_json(outcomes),
            "manifest": str(manifest_path),
            "launch": str(launch_path),
            "quick_create": manifest["quick_create"],
        }
        print(json.dumps(result, indent=2))
        return 0
    _print_publish(config.lake, plan.version, outcomes, created, counts, manifest_path, launch_path)
    return 0


def _upload_with_progress(publish: Any, plan: Any, session: Any, endpoint: str | None, quiet: bool) -> tuple:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console, disable=quiet
    ) as progress:
        task = progress.add_task(f"publishing {plan.version}", total=len(plan.objects))

        def advance(obj: Any, action: str) -> None:
            progress.update(task, advance=1, description=f"{action} s3://{obj.bucket}/{obj.key}")

        return publish.upload(plan, session, endpoint, advance)


def _print_publish(lake: str, version: str, outcomes: list, created: list, counts: dict, manifest, launch) -> None:
    from rich.table import Table

    from datalake_cfn.console import console

    table = Table(title=f"{lake}: version {version}")
    for column, justify in (("action", "left"), ("object", "left"), ("bytes", "right"), ("sha256", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for o in outcomes:
        table.add_row(o.action, f"s3://{o.bucket}/{o.key}", f"{o.size:,}", o.sha256[:12])
    console.print(table)
    for bucket in created:
        console.print(f"created bucket {bucket} (private, encrypted, versioned, TLS only)", soft_wrap=True)
    if counts["uploaded"] == 0:
        console.print(f"version {version} is already published: uploaded 0 objects, {counts['skipped']} unchanged")
    else:
        console.print(f"uploaded {counts['uploaded']} objects, skipped {counts['skipped']} already published")
    console.print(f"manifest: {manifest}", soft_wrap=True)
    console.print(f"launch steps: {launch}", soft_wrap=True)

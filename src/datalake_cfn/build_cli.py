"""`python build.py`: render the two templates (and the code artifacts) and say what was written.

argparse, not the `datalake` CLI's framework: the builder is a script a CI job calls, and its
errors and exit codes are the same as the CLI's (2 configuration or usage, 1 a check failed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return _run(args)
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
    from rich.console import Console
    from rich.table import Table

    console = Console()
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

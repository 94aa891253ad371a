#!/usr/bin/env python3
"""The builder's entry: `python build.py [--zones N] [--config lake.yaml] [--out DIR] [--check]`.

Renders the lake's two CloudFormation templates (prod and security) with troposphere, and the
consumer zip and Glue scripts beside them; see `python build.py --help`.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "lambda_src")]  # works without the editable install too

from datalake_cfn.build_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

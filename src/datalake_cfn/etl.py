"""The lake's Glue ETL jobs: which scripts exist, what they read and write, their arguments.

The prod stack deploys each job (script as an asset, these default arguments, Glue 5.0,
bookmarks on) and `datalake etl run JOB` runs the same script locally; both take the job's
paths, table and arguments from here, so a job reads and writes the same places in both.
Scripts live in the repository's `glue_scripts/` folder, one file per job.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from datalake_cfn.config import LakeConfig
from datalake_cfn.naming import LakeNames

GLUE_VERSION = "5.0"
GLUE_DIR_ENV = "DATALAKE_GLUE_DIR"


@dataclass(frozen=True)
class GlueJobSpec:
    """One job: a dataset of a source zone in, a new table of a target zone out."""

    job: str  # the script's name in glue_scripts/ (without .py)
    description: str
    source_zone: str
    source_dataset: str
    source_prefix: str
    target_zone: str
    target_dataset: str  # the output is a dataset of the target zone (declare it in lake.yaml)
    target_prefix: str
    target_table: str
    classification: str  # the target dataset's level if declared, else the source's
    partition_keys: tuple[str, ...]
    target_declared: bool = True  # False: lake.yaml lacks the dataset, so on AWS the job may not write it

    def name(self, names: LakeNames) -> str:
        return names.glue_job(self.job)

    def source_path(self, names: LakeNames) -> str:
        return f"s3://{names.bucket(self.source_zone)}/{self.source_prefix}"

    def target_path(self, names: LakeNames) -> str:
        return f"s3://{names.bucket(self.target_zone)}/{self.target_prefix}"

    def script_key(self) -> str:
        return f"scripts/{self.job}.py"

    def arguments(self, names: LakeNames) -> dict[str, str]:
        """The script's own arguments (`getResolvedOptions` names, without JOB_NAME)."""
        return {
            "--source_path": self.source_path(names),
            "--target_path": self.target_path(names),
            "--database": names.glue_database,
            "--target_table": self.target_table,
            "--classification": self.classification,
        }

    def default_arguments(self, names: LakeNames) -> dict[str, str]:
        """DefaultArguments of the deployed job: the script's arguments plus Glue's switches."""
        return {
            **self.arguments(names),
            "--job-bookmark-option": "job-bookmark-enable",
            "--enable-glue-datacatalog": "true",
            "--enable-metrics": "true",
            "--enable-continuous-cloudwatch-log": "true",
            "--TempDir": f"s3://{names.glue_assets_bucket}/tmp/",
        }


def glue_jobs(config: LakeConfig) -> list[GlueJobSpec]:
    """The jobs this lake has: the sales aggregation, when there is a `sales` dataset and a zone chain."""
    names = LakeNames.for_config(config)
    chain = config.chain()
    jobs: list[GlueJobSpec] = []
    try:
        sales = config.dataset("sales")
    except KeyError:
        return jobs
    if len(chain) >= 2:
        source = chain[-2] if len(chain) >= 3 else chain[0]
        target = chain[-1]
        output = "sales_daily_totals"
        try:
            declared = config.dataset(output)
        except KeyError:
            declared = None
        jobs.append(
            GlueJobSpec(
                job="sales_daily_totals",
                description="Daily orders, units and revenue per category, from staged sales",
                source_zone=source.name,
                source_dataset=sales.name,
                source_prefix=sales.key_prefix,
                target_zone=target.name,
                target_dataset=output,
                target_prefix=declared.key_prefix if declared else f"{output}/",
                target_table=names.table(target.name, output),
                classification=declared.classification if declared else sales.classification,
                partition_keys=("order_date",),
                target_declared=declared is not None,
            )
        )
    return jobs


def glue_job(config: LakeConfig, job: str) -> GlueJobSpec:
    for spec in glue_jobs(config):
        if spec.job == job:
            return spec
    raise KeyError(job)


def glue_scripts_dir() -> Path:
    """`$DATALAKE_GLUE_DIR`, else the repository's glue_scripts/ folder (next to src/), else ./glue_scripts."""
    if os.environ.get(GLUE_DIR_ENV):
        return Path(os.environ[GLUE_DIR_ENV])
    repo_glue = Path(__file__).resolve().parents[2] / "glue_scripts"
    return repo_glue if repo_glue.is_dir() else Path("glue_scripts")


def glue_script_path(job: str) -> Path:
    return glue_scripts_dir() / f"{job}.py"

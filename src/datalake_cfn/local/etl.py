"""`datalake etl run JOB`: a Glue job script, unchanged, on local pyspark against the local lake.

Spark would need the hadoop-aws jars (and a matching AWS SDK) to read `s3a://` from the
emulator, and those are not on PyPI. So the runner does the S3 part itself, the way Glue's
own bookmarked S3 source and catalog-updating sink behave:

1. stage the source objects the job's bookmark has not seen into a temp folder;
2. run the script with `pyspark` in local mode, `awsglue` served by :mod:`glue_shim`, and
   the job's arguments pointing at the temp folders;
3. upload what the sink wrote under the job's target prefix, tagged with the source
   dataset's classification and with lineage metadata;
4. update the catalog (table and partitions) for the sink's table, with the local crawler;
5. save the bookmark, only if the script called `job.commit()`.

The bookmark and a copy of the script live in the lake's Glue assets bucket in the
emulator, as they do in the prod account, so they go away with the lake's data.
"""

from __future__ import annotations

import json
import runpy
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from datalake_cfn.catalog import TableSpec
from datalake_cfn.config import LakeConfig
from datalake_cfn.etl import GLUE_VERSION, GlueJobSpec, glue_job, glue_jobs, glue_script_path
from datalake_cfn.local.crawler import LocalCrawler, TableResult
from datalake_cfn.local.glue_shim import LocalGlueRun, installed
from datalake_cfn.naming import LakeNames

CLASSIFICATION_TAG = "dataclassification"


class EtlError(Exception):
    """The job cannot run (unknown job, missing script) or its script failed."""


@dataclass
class EtlReport:
    job: str
    name: str
    staged_objects: int = 0
    bookmarked_objects: int = 0
    rows_read: int = 0
    rows_written: int = 0
    output_objects: list[str] = field(default_factory=list)
    table: TableResult | None = None
    committed: bool = False
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark %p %c{1}: %m%n
"""


def local_spark_session(app_name: str = "datalake-etl") -> Any:
    """A small local SparkSession: 2 threads on loopback only, no UI, UTC, few shuffle partitions, quiet logs."""
    import os
    import warnings

    from pyspark.sql import SparkSession

    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # never bind the machine's other interfaces
    log4j = Path(tempfile.gettempdir()) / "datalake-spark-log4j2.properties"
    log4j.write_text(_LOG4J2)
    java_options = f"-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile=file:{log4j}"
    return (
        SparkSession.builder.appName(app_name)
        .master("local[2]")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.driver.extraJavaOptions", java_options)
        .getOrCreate()
    )


class LocalGlueRunner:
    """Runs the lake's Glue jobs against a local lake reached through `connection`."""

    def __init__(self, connection: Any, config: LakeConfig | None = None, names: LakeNames | None = None):
        self.connection = getattr(connection, "connection", connection)
        self.config = config or self.connection.config
        self.names = names or self.connection.names
        self.s3 = self.connection.client("s3")

    # -- public -------------------------------------------------------------------------------
    def run(self, job: str, *, spark: Any = None, reprocess: bool = False) -> EtlReport:
        spec = self.spec(job)
        script = glue_script_path(spec.job)
        if not script.is_file():
            raise EtlError(
                f"job {job!r}: script {script} not found (set DATALAKE_GLUE_DIR to the glue_scripts/ folder)"
            )
        started = time.monotonic()
        report = EtlReport(job=spec.job, name=spec.name(self.names))
        if not spec.target_declared:
            report.warnings.append(
                f"lake.yaml declares no dataset {spec.target_dataset!r}: the output is catalogued here, but on AWS "
                f"the job role may only write declared datasets; add `- {{name: {spec.target_dataset}, "
                f"classification: {spec.classification}}}` to lake.yaml"
            )
        self._publish(spec, script)
        if reprocess:  # start over: no bookmark, and no old totals for the new ones to add to
            self._clear_output(spec)
        bookmark = {} if reprocess else self._bookmark(spec)
        sources = self._source_objects(spec)
        new = {key: etag for key, etag in sources.items() if bookmark.get(key) != etag}
        report.bookmarked_objects = len(sources) - len(new)
        spark = spark or local_spark_session()
        with tempfile.TemporaryDirectory(prefix=f"datalake-{spec.job}-") as work:
            input_dir, output_dir = Path(work, "input"), Path(work, "output")
            input_dir.mkdir()
            for key in new:
                target = input_dir / key[len(spec.source_prefix) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(self.names.bucket(spec.source_zone), key, str(target))
            report.staged_objects = len(new)
            run = self._run_script(spec, script, input_dir, output_dir)
            report.rows_read = run.rows_read
            report.rows_written = sum(w.rows for w in run.writes)
            report.committed = run.committed
            report.output_objects = self._upload(spec, output_dir)
            for write in run.writes:
                if write.update_catalog and write.table:
                    report.table = self._catalog(spec, write.table)
        if run.committed:
            self._save_bookmark(spec, {**bookmark, **new})
        report.seconds = time.monotonic() - started
        return report

    def spec(self, job: str) -> GlueJobSpec:
        try:
            return glue_job(self.config, job)
        except KeyError:
            known = ", ".join(j.job for j in glue_jobs(self.config)) or "none for this lake.yaml"
            raise EtlError(f"unknown job {job!r}; jobs: {known}") from None

    # -- steps --------------------------------------------------------------------------------
    def _run_script(self, spec: GlueJobSpec, script: Path, input_dir: Path, output_dir: Path) -> LocalGlueRun:
        argv = [str(script), "--JOB_NAME", spec.name(self.names), "--job-bookmark-option", "job-bookmark-enable"]
        for name, value in spec.arguments(self.names).items():
            if name == "--source_path":
                value = str(input_dir)
            elif name == "--target_path":
                value = str(output_dir)
            argv += [name, value]
        saved_argv = sys.argv
        run = LocalGlueRun()
        try:
            with installed(run):
                sys.argv = argv
                runpy.run_path(str(script), run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise EtlError(f"job {spec.job!r} exited with status {exc.code}") from None
        except Exception as exc:
            raise EtlError(f"job {spec.job!r} failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
        finally:
            sys.argv = saved_argv
        return run

    def _source_objects(self, spec: GlueJobSpec) -> dict[str, str]:
        objects = {}
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.names.bucket(spec.source_zone), Prefix=spec.source_prefix):
            for item in page.get("Contents", []):
                base = item["Key"].rsplit("/", 1)[-1]
                if item["Size"] and not base.startswith(("_", ".")) and not item["Key"].endswith("/"):
                    objects[item["Key"]] = item["ETag"].strip('"')
        return objects

    def _upload(self, spec: GlueJobSpec, output_dir: Path) -> list[str]:
        bucket = self.names.bucket(spec.target_zone)
        keys = []
        metadata = {
            "datalake-source-bucket": self.names.bucket(spec.source_zone),
            "datalake-source-prefix": spec.source_prefix,
            "datalake-dataset": spec.source_dataset,
            "datalake-transform": f"glue:{spec.job}",
        }
        if not output_dir.exists():
            return keys
        for path in sorted(p for p in output_dir.rglob("*") if p.is_file()):
            if path.name.startswith(("_", ".")) or path.suffix == ".crc":
                continue  # Spark's _SUCCESS and checksum files
            key = spec.target_prefix + path.relative_to(output_dir).as_posix()
            self.s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=path.read_bytes(),
                ContentType="application/vnd.apache.parquet",
                Tagging=urlencode({CLASSIFICATION_TAG: spec.classification}),
                Metadata=metadata,
            )
            keys.append(key)
        return keys

    def _clear_output(self, spec: GlueJobSpec) -> None:
        bucket = self.names.bucket(spec.target_zone)
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=spec.target_prefix):
            for item in page.get("Contents", []):
                self.s3.delete_object(Bucket=bucket, Key=item["Key"])

    def _catalog(self, spec: GlueJobSpec, table: str) -> TableResult:
        """What the sink's enableUpdateCatalog does on Glue: create or update the table and its partitions."""
        crawler = LocalCrawler(self.connection, self.config, self.names)
        crawler.ensure_database()
        target = TableSpec(
            zone=spec.target_zone,
            dataset=spec.target_dataset,
            name=table,
            bucket=self.names.bucket(spec.target_zone),
            prefix=spec.target_prefix,
            format="parquet",
            classification=spec.classification,
        )
        return crawler.crawl_table(target)

    # -- Glue assets: script copy, job definition, bookmark ------------------------------------------
    def _assets_bucket(self) -> str:
        bucket = self.names.glue_assets_bucket
        existing = {b["Name"] for b in self.s3.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            args: dict[str, Any] = {"Bucket": bucket}
            if self.names.region != "us-east-1":
                args["CreateBucketConfiguration"] = {"LocationConstraint": self.names.region}
            self.s3.create_bucket(**args)
        return bucket

    def _publish(self, spec: GlueJobSpec, script: Path) -> None:
        """Mirror the prod deployment: the script in the assets bucket and a Glue job definition."""
        bucket = self._assets_bucket()
        self.s3.put_object(Bucket=bucket, Key=spec.script_key(), Body=script.read_bytes())
        glue = self.connection.client("glue")
        name = spec.name(self.names)
        try:
            glue.get_job(JobName=name)
        except glue.exceptions.EntityNotFoundException:
            glue.create_job(
                Name=name,
                Description=spec.description,
                Role=f"arn:aws:iam::{self.names.account}:role/{self.names.service_role_name('glue')}",
                Command={
                    "Name": "glueetl",
                    "ScriptLocation": f"s3://{bucket}/{spec.script_key()}",
                    "PythonVersion": "3",
                },
                GlueVersion=GLUE_VERSION,
                DefaultArguments=spec.default_arguments(self.names),
            )

    def _bookmark_key(self, spec: GlueJobSpec) -> str:
        return f"bookmarks/{spec.name(self.names)}.json"

    def _bookmark(self, spec: GlueJobSpec) -> dict[str, str]:
        try:
            body = self.s3.get_object(Bucket=self._assets_bucket(), Key=self._bookmark_key(spec))["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return {}
        return dict(json.loads(body).get("objects", {}))

    def _save_bookmark(self, spec: GlueJobSpec, objects: dict[str, str]) -> None:
        body = json.dumps({"job": spec.name(self.names), "objects": objects}, indent=1, sort_keys=True)
        self.s3.put_object(Bucket=self._assets_bucket(), Key=self._bookmark_key(spec), Body=body.encode())

    def reset_bookmark(self, job: str) -> None:
        spec = self.spec(job)
        self.s3.delete_object(Bucket=self._assets_bucket(), Key=self._bookmark_key(spec))


def run_job(
    connection: Any,
    config: LakeConfig | None,
    names: LakeNames | None,
    job: str,
    *,
    spark: Any = None,
    reprocess: bool = False,
) -> EtlReport:
    """Run one Glue job of the lake locally; `reprocess` starts over (no bookmark, output replaced)."""
    return LocalGlueRunner(connection, config, names).run(job, spark=spark, reprocess=reprocess)

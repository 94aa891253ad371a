"""A thin local stand-in for the `awsglue` library, so a Glue job script runs on plain pyspark.

The real `awsglue` Python package (on PyPI as `awsglue-dev`/`awsglue-local`) is only the
Python face of Glue's JVM classes (`com.amazonaws.services.glue.*`), which ship with the
Glue runtime and are not on any package registry; with plain pyspark its GlueContext fails
at construction. So the local runner installs this shim under the `awsglue.*` module names
while a script runs, covering what the lake's job scripts use:

- `awsglue.utils.getResolvedOptions` (same parsing rules: `--NAME value`, required names)
- `awsglue.context.GlueContext`: `spark_session`, `create_dynamic_frame.from_options`
  (S3-style CSV/Parquet paths, here local folders), `getSink(...)` with `setFormat`,
  `setCatalogInfo` and `writeFrame` (partitioned Parquet; the catalog update is recorded
  and carried out by the runner against the emulator's Glue catalog), `get_logger()`
- `awsglue.dynamicframe.DynamicFrame`: `fromDF`, `toDF`, `count`
- `awsglue.job.Job`: `init` and `commit` (commit is what lets the runner save the bookmark)

Anything else a script calls fails loudly with AttributeError, rather than half-working.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger("awsglue.local")


class GlueArgumentError(Exception):
    """A required job argument is missing (Glue fails the run the same way)."""


@dataclass
class SinkWrite:
    """One `writeFrame` call: where the files went and which catalog table they belong to."""

    path: str
    format: str
    partition_keys: list[str]
    database: str | None
    table: str | None
    update_catalog: bool
    rows: int


@dataclass
class LocalGlueRun:
    """What the script did, for the runner: its writes and whether it committed."""

    writes: list[SinkWrite] = field(default_factory=list)
    rows_read: int = 0
    committed: bool = False
    job_name: str = ""


_active: LocalGlueRun | None = None


def _run() -> LocalGlueRun:
    if _active is None:
        raise RuntimeError("the awsglue shim is only usable inside datalake's local Glue runner")
    return _active


# -- awsglue.utils --------------------------------------------------------------------------------
def getResolvedOptions(args: list[str], options: list[str]) -> dict[str, str]:
    """`--NAME value` (or `--NAME=value`) pairs for each requested NAME; a missing one is an error."""
    found: dict[str, str] = {}
    index = 1
    while index < len(args):
        arg = args[index]
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if not eq and index + 1 < len(args) and not args[index + 1].startswith("--"):
                value = args[index + 1]
                index += 1
            found[name] = value
        index += 1
    missing = [o for o in options if o not in found]
    if missing:
        raise GlueArgumentError(f"the following arguments are required: {', '.join('--' + m for m in missing)}")
    return {o: found[o] for o in options}


# -- awsglue.dynamicframe ------------------------------------------------------------------------
class DynamicFrame:
    """A Spark DataFrame under Glue's name (no choice types: the scripts cast explicitly)."""

    def __init__(self, df: Any, glue_ctx: Any = None, name: str = ""):
        self._df = df
        self.glue_ctx = glue_ctx
        self.name = name

    @classmethod
    def fromDF(cls, dataframe: Any, glue_ctx: Any, name: str) -> DynamicFrame:
        return cls(dataframe, glue_ctx, name)

    def toDF(self) -> Any:
        return self._df

    def count(self) -> int:
        return self._df.count()


# -- awsglue.context ------------------------------------------------------------------------------
class _DynamicFrameReader:
    def __init__(self, context: GlueContext):
        self._context = context

    def from_options(
        self,
        connection_type: str = "s3",
        connection_options: dict[str, Any] | None = None,
        format: str | None = None,
        format_options: dict[str, Any] | None = None,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrame:
        """Read CSV or Parquet from local folders; bookmarks were applied by the runner when staging."""
        if connection_type != "s3":
            raise NotImplementedError(f"the local Glue shim reads S3-style paths only, not {connection_type!r}")
        options = connection_options or {}
        fmt_options = format_options or {}
        paths = [p for p in options.get("paths", []) if _has_files(p)]
        spark = self._context.spark_session
        if not paths:  # nothing new since the last bookmark: an empty frame, as Glue gives
            frame = DynamicFrame(spark.createDataFrame([], "value string"), self._context, transformation_ctx)
            return frame
        reader = spark.read.option("recursiveFileLookup", str(bool(options.get("recurse", True))).lower())
        if format == "csv":
            reader = (
                reader.option("header", str(bool(fmt_options.get("withHeader", False))).lower())
                .option("sep", fmt_options.get("separator", ","))
                .option("quote", fmt_options.get("quoteChar", '"'))
                .option("escape", fmt_options.get("escaper", '"'))
                .option("multiLine", str(bool(fmt_options.get("multiLine", True))).lower())
            )
            df = reader.csv(paths)
        elif format in {"parquet", "glueparquet"}:
            df = reader.parquet(*paths)
        else:
            raise NotImplementedError(f"the local Glue shim reads csv and parquet, not {format!r}")
        frame = DynamicFrame(df, self._context, transformation_ctx)
        _run().rows_read += df.count()
        return frame


class _Sink:
    def __init__(self, context: GlueContext, path: str, partition_keys: list[str], update_catalog: bool):
        self._context = context
        self.path = path
        self.partition_keys = list(partition_keys)
        self.update_catalog = update_catalog
        self.format = "glueparquet"
        self.format_options: dict[str, Any] = {}
        self.database: str | None = None
        self.table: str | None = None

    def setFormat(self, format: str, **options: Any) -> None:
        if format not in {"parquet", "glueparquet"}:
            raise NotImplementedError(f"the local Glue shim writes parquet, not {format!r}")
        self.format = format
        self.format_options = options

    def setCatalogInfo(self, catalogDatabase: str, catalogTableName: str, **_: Any) -> None:
        self.database = catalogDatabase
        self.table = catalogTableName

    def writeFrame(self, frame: DynamicFrame) -> DynamicFrame:
        df = frame.toDF()
        rows = df.count()
        if rows:
            writer = df.write.mode("append").option("compression", self.format_options.get("compression", "snappy"))
            if self.partition_keys:
                writer = writer.partitionBy(*self.partition_keys)
            writer.parquet(self.path)
        _run().writes.append(
            SinkWrite(self.path, self.format, self.partition_keys, self.database, self.table, self.update_catalog, rows)
        )
        return frame


class GlueContext:
    """Wraps a SparkContext, as Glue's does."""

    def __init__(self, spark_context: Any, **_: Any):
        from pyspark.sql import SparkSession

        self._sc = spark_context
        self.spark_session = SparkSession.builder.getOrCreate()
        self.create_dynamic_frame = _DynamicFrameReader(self)

    def getSink(
        self,
        connection_type: str = "s3",
        path: str = "",
        enableUpdateCatalog: bool = False,
        updateBehavior: str = "UPDATE_IN_DATABASE",
        partitionKeys: list[str] | None = None,
        transformation_ctx: str = "",
        **_: Any,
    ) -> _Sink:
        if connection_type != "s3" or not path:
            raise NotImplementedError("the local Glue shim writes to S3-style paths only")
        return _Sink(self, path, partitionKeys or [], enableUpdateCatalog)

    def get_logger(self) -> logging.Logger:
        return logger


# -- awsglue.job ----------------------------------------------------------------------------------
class Job:
    def __init__(self, glue_context: GlueContext):
        self.glue_context = glue_context

    def init(self, job_name: str, args: dict[str, str] | None = None) -> None:
        _run().job_name = job_name

    def commit(self) -> None:
        _run().committed = True


def _has_files(path: str) -> bool:
    root = Path(path)
    return root.is_file() or (root.is_dir() and any(p.is_file() for p in root.rglob("*")))


# -- installation ---------------------------------------------------------------------------------
def _modules() -> dict[str, types.ModuleType]:
    members = {
        "awsglue.utils": {"getResolvedOptions": getResolvedOptions, "GlueArgumentError": GlueArgumentError},
        "awsglue.context": {"GlueContext": GlueContext},
        "awsglue.dynamicframe": {"DynamicFrame": DynamicFrame},
        "awsglue.job": {"Job": Job},
        "awsglue.transforms": {},
    }
    package = types.ModuleType("awsglue", "datalake's local stand-in for AWS Glue's awsglue library")
    package.__path__ = []  # a package, so `from awsglue.context import ...` resolves the submodules
    modules = {"awsglue": package}
    for name, attrs in members.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        setattr(package, name.split(".", 1)[1], module)
        modules[name] = module
    package.DynamicFrame = DynamicFrame  # type: ignore[attr-defined]
    return modules


@contextlib.contextmanager
def installed(run: LocalGlueRun) -> Iterator[LocalGlueRun]:
    """`awsglue.*` resolves to the shim (and `run` records the script's effects) inside the block."""
    global _active
    modules = _modules()
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    _active = run
    try:
        yield run
    finally:
        _active = None
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module

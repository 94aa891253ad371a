"""SQL over the catalogued tables: DuckDB against the local lake, Athena against AWS.

Locally every table the SQL names becomes a DuckDB view built from the Glue catalog: the
table's columns and types, its format, and (for a partitioned table) only the files under
its registered partitions, with the partition values as columns, exactly what Athena
would read. DuckDB reads the objects itself from the emulator through its httpfs
extension, shipped on PyPI as `duckdb-ext-httpfs` (no download at run time). pyarrow's
S3 filesystem works as well and was measured (docs/catalog.md): the speed is the same at
this scale, and httpfs keeps CSV and Parquet, schema evolution (`union_by_name`) and
type casts in one SQL expression per table.

On AWS the SQL runs in the lake's Athena workgroup. Results go under the caller's own
`<aws:userid>/` prefix of the lake's results bucket: the persona policies let each caller
write and read results there only, and the bucket's default encryption (the lake's Athena
key, pinned by its bucket policy) encrypts them.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datalake_cfn.config import LakeConfig
from datalake_cfn.local.crawler import classify, printable, unique_names
from datalake_cfn.naming import LakeNames

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

logger = logging.getLogger(__name__)
_PARTITION_FILE_COLUMN = "__datalake_file"
# (table, location, files) -> None, raising to refuse the query (see datalake_cfn.cli.authz)
TableCheck = Callable[[str, str, list[str]], None]
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SCALAR_TYPES = {
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "binary": "BLOB",
}


class QueryError(Exception):
    """The SQL failed: a syntax error, an unknown table or column, a failed Athena query."""


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duckdb_type(glue_type: str) -> str | None:
    """Glue type -> DuckDB type; None for nested types (left as the files hold them)."""
    glue_type = glue_type.strip().lower()
    if glue_type in _SCALAR_TYPES:
        return _SCALAR_TYPES[glue_type]
    match = re.fullmatch(r"(decimal|char|varchar)\((\d+)(?:,\s*(\d+))?\)", glue_type)
    if match:
        return f"DECIMAL({match.group(2)},{match.group(3) or 0})" if match.group(1) == "decimal" else "VARCHAR"
    return None


def httpfs_extension_directory() -> str:
    """Where `duckdb-ext-httpfs` puts the extension (`<dir>/v<duckdb>/<platform>/httpfs.duckdb_extension`)."""
    import duckdb_ext  # the namespace package of the duckdb-ext-* wheels

    for root in duckdb_ext.__path__:
        candidate = Path(root) / "extensions"
        if candidate.is_dir():
            return str(candidate)
    raise QueryError("the duckdb-ext-httpfs package is installed without its extension folder; reinstall it")


def duckdb_for_endpoint(endpoint: str, region: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that reads s3:// from the emulator at `endpoint`."""
    import duckdb

    from datalake_cfn.local.emulator import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY

    con = duckdb.connect(
        config={"extension_directory": httpfs_extension_directory(), "autoinstall_known_extensions": False}
    )
    con.execute("LOAD httpfs")
    host = re.sub(r"^https?://", "", endpoint).rstrip("/")
    con.execute(
        "CREATE SECRET datalake_lake (TYPE s3, KEY_ID {}, SECRET {}, REGION {}, ENDPOINT {}, "
        "URL_STYLE 'path', USE_SSL {})".format(
            literal(LOCAL_ACCESS_KEY),
            literal(LOCAL_SECRET_KEY),
            literal(region),
            literal(host),
            "true" if endpoint.startswith("https") else "false",
        )
    )
    return con


# -- catalog -> views ---------------------------------------------------------------------------
def referenced_tables(sql: str, tables: list[str]) -> list[str]:
    """The catalog tables a query names (identifiers are case-insensitive, as in Athena)."""
    words = {w.lower() for w in _IDENTIFIER.findall(sql)}
    return [t for t in tables if t.lower() in words]


def _split_location(location: str) -> tuple[str, str]:
    path = location.removeprefix("s3://")
    bucket, _, prefix = path.partition("/")
    return bucket, prefix


def _table_files(s3: Any, location: str, classification: str) -> list[str]:
    """Every data object under a location, skipped as the crawler and Athena skip them."""
    bucket, prefix = _split_location(location)
    files = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            base = key.rsplit("/", 1)[-1]
            if key.endswith("/") or base.startswith(("_", ".")) or item["Size"] == 0:
                continue
            if not prefix and "/" in key:
                continue  # a table at the bucket root (the undeclared root dataset) holds only root keys
            if classify(key) == classification:
                files.append(f"s3://{bucket}/{key}")
    return sorted(files)


def _reader(files: list[str], classification: str, with_file: bool) -> str:
    listed = "[" + ", ".join(literal(f) for f in files) + "]"
    extra = f", filename={literal(_PARTITION_FILE_COLUMN)}" if with_file else ""
    if classification == "parquet":
        return f"read_parquet({listed}, union_by_name=true{extra})"
    return (
        f"read_csv({listed}, header=true, all_varchar=true, union_by_name=true, delim=',', quote='\"', "
        f"escape='\"', null_padding=true{extra})"
    )


class CatalogViews:
    """Creates a DuckDB view per catalog table, reading through `s3` listings and the Glue API."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        glue: Any,
        s3: Any,
        database: str,
        authorize: TableCheck | None = None,
        on_warning: Callable[[str], None] | None = None,
    ):
        self.con = con
        self.glue = glue
        self.s3 = s3
        self.database = database
        self.authorize = authorize
        self.on_warning = on_warning
        self.unreadable: dict[str, str] = {}  # file -> why DuckDB cannot read it: left out, named
        self.files_of: dict[str, list[str]] = {}  # table -> the files its view reads

    def table_names(self) -> list[str]:
        names = []
        for page in self.glue.get_paginator("get_tables").paginate(DatabaseName=self.database):
            names += [t["Name"] for t in page.get("TableList", [])]
        return names

    def create(self, names: list[str]) -> None:
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(self.database)}")
        for name in names:
            table = self.glue.get_table(DatabaseName=self.database, Name=name)["Table"]
            select = self.select_for(table)
            for qualified in (quote(name), f"{quote(self.database)}.{quote(name)}"):
                self.con.execute(f"CREATE OR REPLACE VIEW {qualified} AS {select}")

    def select_for(self, table: dict[str, Any]) -> str:
        sd = table["StorageDescriptor"]
        classification = table.get("Parameters", {}).get("classification") or sd.get("Parameters", {}).get(
            "classification", "parquet"
        )
        columns = [(c["Name"], c["Type"]) for c in sd.get("Columns", [])]
        keys = [(c["Name"], c["Type"]) for c in table.get("PartitionKeys", [])]
        files, partition_rows = self._files(table, classification, [k for k, _ in keys])
        if self.authorize is not None:
            self.authorize(table["Name"], sd["Location"], files)
        partition_rows = [row for row in partition_rows if row[0] not in self.unreadable]
        files = [f for f in files if f not in self.unreadable]
        self.files_of[table["Name"]] = files
        if not files:
            return self._empty(columns + keys)
        reader = _reader(files, classification, bool(keys))
        try:
            available = self._file_columns(reader, classification)
        except Exception as exc:  # duckdb.Error: find the file that cannot be read, leave it out, name it
            if not self.probe(table["Name"], files, classification, describe_only=True):
                raise QueryError(f"table {table['Name']}: {printable(str(exc).splitlines()[0])}") from None
            return self.select_for(table)
        parts = []
        for name, glue_type in columns:
            target = duckdb_type(glue_type)
            source = available.get(name)
            if source is None:
                parts.append(f"CAST(NULL AS {target or 'VARCHAR'}) AS {quote(name)}")
            elif classification == "csv" and target and target != "VARCHAR":
                parts.append(f"TRY_CAST(t.{quote(source)} AS {target}) AS {quote(name)}")
            else:
                parts.append(f"t.{quote(source)} AS {quote(name)}")
        if not keys:
            return f"SELECT {', '.join(parts)} FROM {reader} AS t"
        partitions = self._partition_relation(partition_rows, [k for k, _ in keys])
        for name, glue_type in keys:
            parts.append(f"TRY_CAST(p.{quote(name)} AS {duckdb_type(glue_type) or 'VARCHAR'}) AS {quote(name)}")
        return (
            f"SELECT {', '.join(parts)} FROM {reader} AS t "
            f"JOIN {partitions} ON t.{quote(_PARTITION_FILE_COLUMN)} = p.{quote(_PARTITION_FILE_COLUMN)}"
        )

    # -- helpers ------------------------------------------------------------------------------
    def _files(
        self, table: dict[str, Any], classification: str, keys: list[str]
    ) -> tuple[list[str], list[tuple[str, ...]]]:
        location = table["StorageDescriptor"]["Location"]
        if not keys:
            return _table_files(self.s3, location, classification), []
        files: list[str] = []
        rows: list[tuple[str, ...]] = []
        paginator = self.glue.get_paginator("get_partitions")
        for page in paginator.paginate(DatabaseName=self.database, TableName=table["Name"]):
            for partition in page.get("Partitions", []):
                part_location = partition["StorageDescriptor"]["Location"].rstrip("/") + "/"
                for file in _table_files(self.s3, part_location, classification):
                    files.append(file)
                    rows.append((file, *partition["Values"]))
        return files, rows

    def _file_columns(self, reader: str, classification: str) -> dict[str, str]:
        """Catalog column name -> the column as the files spell it (CSV headers keep their case)."""
        described = [row[0] for row in self.con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
        described = [d for d in described if d != _PARTITION_FILE_COLUMN]
        if classification == "csv":
            return dict(zip(unique_names(described), described, strict=True))
        return {d.lower(): d for d in described}

    def probe(self, table: str, files: list[str], classification: str, describe_only: bool = False) -> bool:
        """Try each file alone; the ones DuckDB cannot read are left out and named. True if any was."""
        found = False
        for file in files:
            reader = _reader([file], classification, False)
            sql = f"DESCRIBE SELECT * FROM {reader}" if describe_only else f"SELECT count(*) FROM {reader}"
            try:
                self.con.execute(sql).fetchall()
            except Exception as exc:  # duckdb.Error
                reason = printable(str(exc).splitlines()[0])
                self.unreadable[file] = reason
                found = True
                if self.on_warning is not None:
                    self.on_warning(f"table {table}: left out {file}: cannot read it as {classification} ({reason})")
        return found

    @staticmethod
    def _partition_relation(rows: list[tuple[str, ...]], keys: list[str]) -> str:
        names = ", ".join(quote(n) for n in [_PARTITION_FILE_COLUMN, *keys])
        values = ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)
        return f"(VALUES {values}) AS p({names})"

    @staticmethod
    def _empty(columns: list[tuple[str, str]]) -> str:
        parts = [f"CAST(NULL AS {duckdb_type(t) or 'VARCHAR'}) AS {quote(n)}" for n, t in columns]
        return f"SELECT {', '.join(parts) or 'NULL AS empty'} WHERE false"


def _classification_of(views: CatalogViews, table: str) -> str:
    found = views.glue.get_table(DatabaseName=views.database, Name=table)["Table"]
    sd = found["StorageDescriptor"]
    return found.get("Parameters", {}).get("classification") or sd.get("Parameters", {}).get(
        "classification", "parquet"
    )


def run_query(
    connection: Any,
    config: LakeConfig | None,
    names: LakeNames | None,
    sql: str,
    authorize: TableCheck | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> pa.Table:
    """Run SQL with DuckDB over the local lake's catalogued tables; returns an Arrow table.

    A file DuckDB cannot read in its table's format is left out and named through `on_warning`
    (default: the log), so one bad object never makes a table unqueryable.

    `authorize(table, location, files)` is called for every table the query names, before any of
    its files is read (`--as`: it raises to deny the whole query).
    """
    import duckdb

    connection = getattr(connection, "connection", connection)  # a LocalLake works too
    names = names or connection.names
    con = duckdb_for_endpoint(connection.endpoint, names.region)
    try:
        views = CatalogViews(
            con,
            connection.client("glue"),
            connection.client("s3"),
            names.glue_database,
            authorize=authorize,
            on_warning=on_warning or (lambda message: logger.warning("%s", message)),
        )
        try:
            catalogued = views.table_names()
        except connection.client("glue").exceptions.EntityNotFoundException:
            catalogued = []
        referenced = referenced_tables(sql, catalogued)
        views.create(referenced)
        try:
            try:
                return con.execute(sql).fetch_arrow_table()
            except duckdb.Error as first:  # a file readable by its header but not to its end: find it, once
                probed = [views.probe(t, views.files_of.get(t, []), _classification_of(views, t)) for t in referenced]
                if not any(probed):
                    raise first from None
                views.create(referenced)
                return con.execute(sql).fetch_arrow_table()
        except duckdb.Error as exc:
            hint = ""
            if "does not exist" in str(exc):
                hint = (
                    f" (catalogued tables: {', '.join(sorted(catalogued))}; new data is catalogued by `datalake crawl`)"
                    if catalogued
                    else " (the catalog is empty: run `datalake crawl` first)"
                )
            raise QueryError(f"{printable(str(exc).splitlines()[0])}{hint}") from None
    finally:
        con.close()


# -- Athena -------------------------------------------------------------------------------------
_ATHENA_ARROW = {
    "boolean": "bool",
    "tinyint": "int8",
    "smallint": "int16",
    "integer": "int32",
    "int": "int32",
    "bigint": "int64",
    "float": "float32",
    "real": "float32",
    "double": "float64",
    "date": "date32",
}


def _athena_column(values: list[str | None], athena_type: str) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values, pa.string())
    athena_type = athena_type.lower()
    if athena_type == "boolean":
        return pc.equal(pc.utf8_lower(text), "true")
    if athena_type in _ATHENA_ARROW:
        return pc.cast(text, getattr(pa, _ATHENA_ARROW[athena_type])())
    if athena_type.startswith("decimal"):
        return pc.cast(text, pa.float64())
    if athena_type.startswith("timestamp"):
        return pc.strptime(text, format="%Y-%m-%d %H:%M:%S.%f", unit="us", error_is_null=True)
    return text


def athena_result_table(pages: list[dict[str, Any]], has_header: bool = True) -> pa.Table:
    """GetQueryResults pages -> an Arrow table typed from the result set's column info."""
    import pyarrow as pa

    if not pages:
        return pa.table({})
    info = pages[0].get("ResultSet", {}).get("ResultSetMetadata", {}).get("ColumnInfo", [])
    rows = [
        [cell.get("VarCharValue") for cell in row.get("Data", [])]
        for page in pages
        for row in page.get("ResultSet", {}).get("Rows", [])
    ]
    if has_header and rows:
        rows = rows[1:]  # SELECT results repeat the column labels as their first row
    arrays, labels = [], []
    for index, column in enumerate(info):
        values = [row[index] if index < len(row) else None for row in rows]
        arrays.append(_athena_column(values, column.get("Type", "varchar")))
        labels.append(column.get("Label") or column.get("Name") or f"_col{index}")
    return pa.table(arrays, names=labels)


def run_athena_query(
    athena: Any,
    names: LakeNames,
    sql: str,
    *,
    output_location: str | None = None,
    poll_seconds: float = 1.0,
    timeout_seconds: float = 900.0,
    on_state: Callable[[str, dict[str, Any]], None] | None = None,
) -> pa.Table:
    """Run SQL in the lake's Athena workgroup and wait for it; results go to `output_location`
    (see :func:`athena_output_location`), else wherever the workgroup puts them."""
    request: dict[str, Any] = {
        "QueryString": sql,
        "QueryExecutionContext": {"Catalog": "AwsDataCatalog", "Database": names.glue_database},
        "WorkGroup": names.athena_workgroup,
    }
    if output_location:
        request["ResultConfiguration"] = {"OutputLocation": output_location}
    execution_id = athena.start_query_execution(**request)["QueryExecutionId"]
    deadline = time.monotonic() + timeout_seconds
    while True:
        execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
        state = execution["Status"]["State"]
        if on_state:
            on_state(state, execution)
        if state == "SUCCEEDED":
            break
        if state in {"FAILED", "CANCELLED"}:
            reason = execution["Status"].get("StateChangeReason", "no reason given")
            raise QueryError(f"Athena query {execution_id} {state.lower()}: {reason}")
        if time.monotonic() > deadline:
            athena.stop_query_execution(QueryExecutionId=execution_id)
            raise QueryError(f"Athena query {execution_id} did not finish in {timeout_seconds:.0f} s; stopped it")
        time.sleep(poll_seconds)
    pages = list(athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id))
    statement = execution.get("StatementType", "DML")
    return athena_result_table(pages, has_header=statement == "DML")


def athena_output_location(names: LakeNames, user_id: str) -> str:
    """`s3://<results bucket>/<aws:userid>/`: the one results prefix the caller's policy allows."""
    return f"s3://{names.athena_results_bucket}/{user_id}/"


# -- output -------------------------------------------------------------------------------------
def to_csv(table: pa.Table) -> str:
    import io

    import pyarrow.csv as pacsv

    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(quoting_style="needed"))
    return sink.getvalue().decode("utf-8")


def to_json(table: pa.Table) -> str:
    """A JSON array of row objects; dates and timestamps as ISO 8601 strings."""

    def default(value: Any) -> Any:
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return str(value)

    return json.dumps(table.to_pylist(), default=default, indent=2)

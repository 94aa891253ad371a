"""`--as PERSONA [--clearance L]` for commands that read or write many objects (query, crawl, etl, verify).

Each command asks here before it touches the lake with the emulator's all-powerful credentials:
every bucket it lists and every object it reads is decided by the policy evaluator
(:func:`datalake_cfn.access.enforce.check_access`), and the first denial stops the command with
exit status 3 and the statement that denied, before anything is printed. Without `--as` nothing is
enforced (the operator's view).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from datalake_cfn.access.enforce import AccessDenied, check_access
from datalake_cfn.cli.state import CliState, UserError

if TYPE_CHECKING:
    from datalake_cfn.local.connection import LakeConnection


class Authorizer:
    """Decides reads and writes as the state's persona; caches list decisions per bucket."""

    def __init__(self, state: CliState, connection: LakeConnection, what: str = ""):
        self.state = state
        self.connection = connection
        self.what = what  # e.g. "table curated_sales": prefixed to a denial
        self._listed: set[str] = set()
        if state.persona is None and state.clearance is not None:
            raise UserError("--clearance sets the session clearance of --as <persona>; pass --as too")

    @property
    def enforced(self) -> bool:
        return self.state.persona is not None

    def _check(self, action: str, bucket: str, key: str | None = None, **kwargs: object) -> None:
        try:
            check_access(
                self.state.config,
                self.connection.names,
                self.state.persona,
                self.state.clearance,
                action,
                bucket,
                key,
                **kwargs,  # type: ignore[arg-type]
            )
        except AccessDenied as exc:
            if not self.what:
                raise
            raise AccessDenied(f"{self.what}: {exc}", exc.decision) from None

    def list(self, bucket: str) -> None:
        if self.enforced and bucket not in self._listed:
            self._check("list", bucket)
            self._listed.add(bucket)

    def read(self, bucket: str, key: str) -> None:
        """List the bucket and read the object (with its current tags) as the persona."""
        if not self.enforced:
            return
        self.list(bucket)
        zone = self.connection.names.zone_of_bucket(bucket)
        tags = self.connection.object_tags(zone, key) if zone else {}
        self._check("read", bucket, key, object_tags=tags)

    def read_uri(self, uri: str) -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        self.read(bucket, key)

    def write(self, bucket: str, key: str, request_tags: dict[str, str] | None = None) -> None:
        if self.enforced:
            self._check("write", bucket, key, request_tags=request_tags)

    def read_zone(self, zone: str, prefixes: Iterable[str] | None = None) -> None:
        """Every object of `zone` (under `prefixes`, when given)."""
        if not self.enforced:
            return
        bucket = self.connection.names.bucket(zone)
        self.list(bucket)
        wanted = tuple(prefixes) if prefixes is not None else None
        for obj in self.connection.list_objects(zone):
            if wanted is None or obj["Key"].startswith(wanted):
                self.read(bucket, obj["Key"])

    def table_check(self) -> Callable[[str, str, list[str]], None]:
        """A callback for the query engine: (table, location, files) -> authorize the listing and every file."""

        def check(table: str, location: str, files: list[str]) -> None:
            if not self.enforced:
                return
            scoped = Authorizer(self.state, self.connection, f"query denied on table {table}")
            scoped._listed = self._listed
            scoped.list(location.removeprefix("s3://").partition("/")[0])
            for uri in files:
                scoped.read_uri(uri)

        return check

"""The cloud side of `datalake crawl --aws`: register missing tables, run the lake's crawler, wait.

The crawler (declared by the prod stack, :mod:`datalake_cfn.stacks.catalog`) crawls the lake's
tables as catalog targets: that is what gives every table exactly its `<zone>_<dataset>`
name, which S3-path targets cannot (a crawler names a table after its folder, and every
zone has a `sales/` folder). A catalog target must exist before it is crawled, so a table
that is not in the catalog yet is registered first, through the Glue API, by the same code
as the local crawl (columns from a sample of its objects, partition keys from the folder
layout); the crawler then keeps it up to date: new columns, new partitions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from datalake_cfn.catalog import catalog_tables
from datalake_cfn.config import LakeConfig
from datalake_cfn.naming import LakeNames

SUCCEEDED = {"SUCCEEDED", "COMPLETED"}  # COMPLETED: what moto reports for a finished crawl


class CrawlerError(Exception):
    """The crawler failed, was cancelled, or did not finish in time."""


@dataclass(frozen=True)
class CloudCrawlResult:
    crawler: str
    status: str
    seconds: float
    tables_created: int | None = None
    tables_updated: int | None = None
    tables_deleted: int | None = None
    message: str = ""


def run_cloud_crawler(
    glue: Any,
    name: str,
    *,
    poll_seconds: float = 5.0,
    timeout_seconds: float = 3600.0,
    on_state: Callable[[str, float], None] | None = None,
) -> CloudCrawlResult:
    """Start the crawler (or join the run already in progress) and block until it is READY again."""
    started = time.monotonic()
    try:
        glue.start_crawler(Name=name)
    except glue.exceptions.CrawlerRunningException:
        pass  # a scheduled run is going: waiting for it gives the same result
    except glue.exceptions.EntityNotFoundException:
        raise CrawlerError(
            f"crawler {name!r} does not exist: deploy the prod stack first (`datalake deploy`)"
        ) from None
    seen_running = False
    while True:
        crawler = glue.get_crawler(Name=name)["Crawler"]
        state = crawler.get("State", "READY")
        elapsed = time.monotonic() - started
        if on_state:
            on_state(state, elapsed)
        seen_running = seen_running or state in {"RUNNING", "STOPPING"}
        if state == "READY" and (seen_running or crawler.get("LastCrawl")):
            break
        if elapsed > timeout_seconds:
            raise CrawlerError(f"crawler {name!r} still {state} after {timeout_seconds:.0f} s; it keeps running")
        time.sleep(poll_seconds)
    last = crawler.get("LastCrawl", {})
    status = last.get("Status", "UNKNOWN")
    if status not in SUCCEEDED:
        raise CrawlerError(f"crawler {name!r} {status.lower()}: {last.get('ErrorMessage', 'no message')}")
    metrics = _metrics(glue, name)
    return CloudCrawlResult(
        crawler=name,
        status=status,
        seconds=time.monotonic() - started,
        tables_created=metrics.get("TablesCreated"),
        tables_updated=metrics.get("TablesUpdated"),
        tables_deleted=metrics.get("TablesDeleted"),
        message=last.get("MessagePrefix", ""),
    )


def _metrics(glue: Any, name: str) -> dict[str, Any]:
    try:
        metrics = glue.get_crawler_metrics(CrawlerNameList=[name]).get("CrawlerMetricsList", [])
    except (ClientError, NotImplementedError):
        return {}
    return metrics[0] if metrics else {}


class AwsConnection:
    """What the crawler code needs from a lake (clients, config, names), for the deployed lake."""

    def __init__(self, config: LakeConfig, names: LakeNames | None = None, endpoint: str | None = None):
        self.config = config
        self.names = names or LakeNames.for_config(config)
        self.endpoint = endpoint
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        import boto3

        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=self.names.region, endpoint_url=self.endpoint)
        return self._clients[service]


def register_missing_tables(connection: Any, sample: int = 20) -> list[Any]:
    """Create each `<zone>_<dataset>` table that has data but no catalog entry yet; returns what was created.

    Only a sample of each new table's objects is read; partitions are left to the crawler.
    """
    from datalake_cfn.local.crawler import LocalCrawler

    crawler = LocalCrawler(connection, sample=sample, register_partitions=False)
    crawler.ensure_database()
    created = []
    for spec in catalog_tables(connection.config, connection.names):
        if crawler.get_table(spec.name) is None:
            result = crawler.crawl_table(spec)
            if result.action == "created":
                created.append(result)
    return created

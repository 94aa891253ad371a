"""The cloud side of `zonelake crawl --aws`: start the lake's Glue crawler and wait for it.

The crawler itself (targets, schema-change policy, schedule) is declared by the prod stack
(:mod:`zonelake.infra.catalog`); this only runs it on demand and reports what it did.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

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
            f"crawler {name!r} does not exist: deploy the prod stack first (`zonelake deploy`)"
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

"""What the lake costs on AWS per month, for a daily volume and a typical file size.

The model is small and explicit, so that a reader can check each line against the price
page it cites (prices: ``data/prices-us-east-1.json``, with the date they were recorded)
and against the benchmark it uses (``data/throughput.json``, written by ``make bench``):

- Lambda: for each hop of the zone chain, each file costs ``memory x duration`` GB-seconds,
  where duration = measured CPU-seconds per input MB x file size / the vCPUs that memory
  buys (1 vCPU per 1,769 MB, and no more than the cores the engine actually kept busy),
  plus a fixed per-file allowance for the S3 round trips. The zone engine runs at the
  configured memory; the original pandas approach runs at the memory it needs (its
  measured peak RSS for that file size), if a Lambda can have that much at all.
- S3 requests: the producer's PUT (multipart above 16 MiB), then per hop a HEAD (the
  idempotency check), a GET and a PUT (multipart above 16 MiB); storage of a month of
  data in all zones.
- SQS: one message per object created in each zone, receive and delete per batch, and the
  event source's long polls on each consumer queue.
- KMS with S3 Bucket Keys (as the stacks configure): S3 asks KMS for a bucket-level key
  only every few minutes per bucket and principal instead of once per object; the
  per-object count without Bucket Keys is shown as a note. SQS reuses data keys for an hour.
- Glue crawler: one run per scheduled crawl, at the 10-minute minimum.
- Fixed: the customer-managed keys and the VPC interface endpoints.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from datalake_cfn.config import LakeConfig

MB = 1024 * 1024
PART_SIZE_MB = 16  # the engine's multipart part size (runtime/s3io.py)
PRODUCER_PART_SIZE_MB = 8  # the AWS CLI's default multipart chunk
PER_FILE_OVERHEAD_SECONDS = 0.05  # HEAD + GET + PUT round trips inside a region
LOG_BYTES_PER_FILE_HOP = 1_200  # the consumer's JSON line per object plus its share of START/END/REPORT
BUCKET_KEY_REQUESTS_PER_HOUR = 12  # one bucket-level key request per bucket and principal every ~5 minutes
SQS_DATA_KEY_REUSE_HOURS = 1  # the queues' KMS data key reuse period (stacks/zones.py)
POLLERS_PER_QUEUE = 5  # Lambda's SQS event source keeps 5 long polls (20 s each) open per queue
LONG_POLL_SECONDS = 20
INTERFACE_ENDPOINTS = 5  # SQS, KMS, Glue, Logs, STS: stacks/network.py INTERFACE_SERVICES (a test keeps them equal)
HOURS_PER_MONTH = 730


def load_prices(region: str = "us-east-1") -> dict[str, Any]:
    name = f"prices-{region}.json"
    try:
        text = resources.files("datalake_cfn.data").joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no price file for {region!r} (datalake/data/{name}); only us-east-1 is recorded"
        ) from None
    return json.loads(text)


def load_throughput() -> dict[str, Any]:
    return json.loads(resources.files("datalake_cfn.data").joinpath("throughput.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class EngineProfile:
    """An approach as measured by the benchmark: CPU per input MB, cores kept busy, memory vs input."""

    name: str
    cpu_seconds_per_mb: float
    cores_used: float
    rss_intercept_mb: float
    rss_per_input_mb: float
    typed_cpu_seconds_per_mb: float
    typed_cores_used: float
    typed_rss_intercept_mb: float
    typed_rss_per_input_mb: float

    @classmethod
    def from_measurements(cls, name: str, data: dict[str, Any]) -> EngineProfile:
        clean, typed = data["engines"][name], data.get("typed", {}).get(name) or data["engines"][name]
        return cls(
            name=name,
            cpu_seconds_per_mb=clean["cpu_seconds_per_mb"],
            cores_used=max(clean["cores_used"], 0.1),
            rss_intercept_mb=clean["rss_intercept_mb"],
            rss_per_input_mb=clean["rss_per_input_mb"],
            typed_cpu_seconds_per_mb=typed["cpu_seconds_per_mb"],
            typed_cores_used=max(typed["cores_used"], 0.1),
            typed_rss_intercept_mb=typed["rss_intercept_mb"],
            typed_rss_per_input_mb=typed["rss_per_input_mb"],
        )

    def memory_needed_mb(self, input_mb: float, typed: bool) -> float:
        if typed:
            return self.typed_rss_intercept_mb + self.typed_rss_per_input_mb * input_mb
        return self.rss_intercept_mb + self.rss_per_input_mb * input_mb


@dataclass(frozen=True)
class Workload:
    daily_gb: float
    file_mb: float
    days: int = 30
    crawls_per_day: int = 24  # the stacks' crawler runs hourly

    @property
    def files_per_month(self) -> int:
        return math.ceil(self.daily_gb * 1024 / self.file_mb * self.days)

    @property
    def gb_per_month(self) -> float:
        return self.daily_gb * self.days


@dataclass(frozen=True)
class HopPlan:
    """One hop of one file under one approach."""

    source_zone: str
    target_zone: str
    typed: bool
    input_mb: float
    memory_mb: int
    seconds: float
    feasible: bool
    reason: str = ""


@dataclass
class LineItem:
    name: str
    engine: float
    original: float | None
    detail: str = ""


@dataclass
class CostEstimate:
    workload: Workload
    items: list[LineItem]
    engine_hops: list[HopPlan]
    original_hops: list[HopPlan]
    notes: list[str] = field(default_factory=list)
    prices_recorded: str = ""
    throughput_measured: str = ""

    @property
    def engine_total(self) -> float:
        return sum(item.engine for item in self.items)

    @property
    def original_total(self) -> float | None:
        if any(item.original is None for item in self.items):
            return None
        return sum(item.original or 0.0 for item in self.items)

    @property
    def original_feasible(self) -> bool:
        return all(hop.feasible for hop in self.original_hops)


def _vcpus(memory_mb: float, prices: dict[str, Any]) -> float:
    return memory_mb / prices["lambda"]["mb_per_vcpu"]


def _round_memory(mb: float) -> int:
    """Lambda memory in whole MB from 128; the figure is rounded up to a 64 MB step."""
    return max(128, math.ceil(mb / 64.0) * 64)


def _hops(config: LakeConfig, workload: Workload, ratios: dict[str, float]) -> list[tuple[str, str, bool, float]]:
    """(source zone, target zone, typed?, input MB) along the chain from the landing zone."""
    hops = []
    size = workload.file_mb
    chain = config.chain()
    for source, target in itertools.pairwise(chain):
        typed = target.format == "parquet"
        hops.append((source.name, target.name, typed, size))
        size *= ratios["curated_per_staged"] if typed else ratios["staged_per_raw"]
    return hops


def _plan(
    profile: EngineProfile,
    hop: tuple[str, str, bool, float],
    memory_mb: int | None,
    config: LakeConfig,
    prices: dict[str, Any],
) -> HopPlan:
    source, target, typed, input_mb = hop
    needed = profile.memory_needed_mb(input_mb, typed)
    memory = memory_mb if memory_mb is not None else _round_memory(needed * 1.1)
    cpu = (profile.typed_cpu_seconds_per_mb if typed else profile.cpu_seconds_per_mb) * input_mb
    # An engine that kept less than one core busy was waiting on the machine, not single-threaded by less.
    cores = max(1.0, profile.typed_cores_used if typed else profile.cores_used)
    seconds = cpu / min(_vcpus(memory, prices), cores) + PER_FILE_OVERHEAD_SECONDS
    reason = ""
    if needed > memory:
        reason = f"needs ~{needed:,.0f} MB of memory, the function has {memory:,} MB"
    if memory > prices["lambda"]["max_memory_mb"]:
        reason = f"needs ~{needed:,.0f} MB of memory; a Lambda has at most {prices['lambda']['max_memory_mb']:,} MB"
    elif seconds > config.pipeline.timeout_seconds:
        reason = f"takes ~{seconds:,.0f} s per file, over the {config.pipeline.timeout_seconds} s timeout"
    return HopPlan(source, target, typed, input_mb, memory, seconds, not reason, reason)


def _lambda_cost(plans: list[HopPlan], workload: Workload, config: LakeConfig, prices: dict[str, Any]) -> float:
    files = workload.files_per_month
    lam = prices["lambda"]
    total = 0.0
    for plan in plans:
        total += files * plan.memory_mb / 1024 * plan.seconds * lam["x86_64_per_gb_second"]
        spill_mb = 1.5 * plan.input_mb if plan.input_mb > 100 else 0.0  # rows held on disk while de-duplicating
        extra_gb = max(0.0, spill_mb - lam["free_ephemeral_storage_mb"]) / 1024
        total += files * extra_gb * plan.seconds * lam["ephemeral_storage_per_gb_second"]
    invocations = files * len(plans) / config.pipeline.batch_size
    return total + invocations / 1e6 * lam["per_million_requests"]


def _parts(size_mb: float, part_mb: int) -> int:
    """PUT-class requests for one upload: 1, or create + parts + complete."""
    return 1 if size_mb <= part_mb else 2 + math.ceil(size_mb / part_mb)


def estimate(
    config: LakeConfig,
    workload: Workload,
    *,
    memory_mb: int | None = None,
    prices: dict[str, Any] | None = None,
    throughput: dict[str, Any] | None = None,
) -> CostEstimate:
    """Monthly cost of `workload` with the zone engine, side by side with the original pandas approach."""
    prices = prices or load_prices(config.region)
    throughput = throughput or load_throughput()
    ratios = throughput["ratios"]
    engine = EngineProfile.from_measurements("datalake", throughput)
    original = EngineProfile.from_measurements("pandas", throughput)
    hops = _hops(config, workload, ratios)
    memory = memory_mb or config.pipeline.memory_mb
    engine_plans = [_plan(engine, hop, memory, config, prices) for hop in hops]
    original_plans = [_plan(original, hop, None, config, prices) for hop in hops]
    files = workload.files_per_month
    s3, sqs, kms = prices["s3"], prices["sqs"], prices["kms"]
    items: list[LineItem] = []

    engine_lambda = _lambda_cost(engine_plans, workload, config, prices)
    original_ok = all(p.feasible for p in original_plans)
    original_lambda = _lambda_cost(original_plans, workload, config, prices) if original_ok else None
    items.append(LineItem("Lambda compute + requests", engine_lambda, original_lambda, "per hop: memory x duration"))

    puts = files * _parts(workload.file_mb, PRODUCER_PART_SIZE_MB)
    gets = files * 2 * len(hops)  # per hop: HEAD (the idempotency check) + GET
    for plan in engine_plans:
        out_mb = plan.input_mb * (ratios["curated_per_staged"] if plan.typed else ratios["staged_per_raw"])
        puts += files * _parts(out_mb, PART_SIZE_MB)
    s3_requests = puts / 1000 * s3["put_copy_post_list_per_1000"] + gets / 1000 * s3["get_select_head_per_1000"]
    items.append(LineItem("S3 requests", s3_requests, s3_requests, f"{puts:,} PUT-class, {gets:,} GET-class"))

    zone_gb = workload.gb_per_month
    stored = zone_gb
    for _, _, typed, _ in hops:
        zone_gb *= ratios["curated_per_staged"] if typed else ratios["staged_per_raw"]
        stored += zone_gb
    storage = stored * s3["standard_storage_per_gb_month"]
    items.append(LineItem("S3 storage (a month of data, all zones)", storage, storage, f"{stored:,.0f} GB"))

    consumer_queues = len(hops)
    messages = files * len(config.chain())  # one S3 event message per object created in each chained zone
    batches = math.ceil(files / config.pipeline.batch_size) * len(hops)
    polls = consumer_queues * POLLERS_PER_QUEUE * (3600 / LONG_POLL_SECONDS) * 24 * workload.days
    sqs_requests = messages + 2 * batches + polls
    sqs_cost = sqs_requests / 1e6 * sqs["standard_per_million_requests"]
    items.append(
        LineItem("SQS requests", sqs_cost, sqs_cost, f"{sqs_requests:,.0f} (of which idle long polls {polls:,.0f})")
    )

    buckets = len(config.chain())
    principals = 2  # the writer into a zone and its reader
    bucket_key_requests = buckets * principals * BUCKET_KEY_REQUESTS_PER_HOUR * 24 * workload.days
    queue_key_requests = len(config.chain()) * principals * 24 * workload.days / SQS_DATA_KEY_REUSE_HOURS
    without = files * (1 + 2 * len(hops))  # one KMS request per object PUT and GET
    # a bucket-level key is only fetched when objects are being written or read
    kms_requests = min(bucket_key_requests, without) + queue_key_requests
    kms_cost = kms_requests / 10_000 * kms["symmetric_requests_per_10000"]
    without_cost = without / 10_000 * kms["symmetric_requests_per_10000"]
    detail = f"{kms_requests:,.0f}; without Bucket Keys ~{without:,} (${without_cost:,.2f})"
    items.append(LineItem("KMS requests (S3 Bucket Keys)", kms_cost, kms_cost, detail))

    glue = prices["glue"]
    runs = workload.crawls_per_day * workload.days
    crawler = runs * glue["crawler_minimum_minutes"] / 60 * glue["crawler_dpus"] * glue["crawler_per_dpu_hour"]
    items.append(
        LineItem("Glue crawler", crawler, crawler, f"{runs} runs x {glue['crawler_minimum_minutes']} min minimum")
    )

    logs_gb = files * len(hops) * LOG_BYTES_PER_FILE_HOP / 1e9
    logs = logs_gb * prices["cloudwatch_logs"]["ingestion_per_gb"]
    items.append(LineItem("CloudWatch Logs", logs, logs, f"{logs_gb:,.2f} GB"))

    keys = (len(config.zones) + 1) * kms["key_per_month"]
    endpoints = (
        INTERFACE_ENDPOINTS * config.network.max_azs * HOURS_PER_MONTH * prices["vpc_interface_endpoint"]["per_az_hour"]
    )
    items.append(
        LineItem(
            "Fixed: KMS keys + VPC interface endpoints",
            keys + endpoints,
            keys + endpoints,
            f"{len(config.zones) + 1} keys, {INTERFACE_ENDPOINTS} endpoints x {config.network.max_azs} AZs",
        )
    )

    notes = [
        f"{hop.source_zone} -> {hop.target_zone}: original approach cannot run: {hop.reason}"
        for hop in original_plans
        if not hop.feasible
    ]
    notes += [
        f"{hop.source_zone} -> {hop.target_zone}: zone engine: {hop.reason}" for hop in engine_plans if not hop.feasible
    ]
    return CostEstimate(
        workload=workload,
        items=items,
        engine_hops=engine_plans,
        original_hops=original_plans,
        notes=notes,
        prices_recorded=prices.get("recorded", "?"),
        throughput_measured=throughput.get("measured", "?"),
    )

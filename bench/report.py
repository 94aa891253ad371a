"""Benchmark results -> JSON files, a chart, the tables of docs/performance.md, cost inputs.

Results are merged by key (an input, "handler", "cli", a lake workload: "e2e-burst",
"e2e-large"), so a quick run of one size or one workload refreshes it and leaves the others
as they were; every entry carries the date and environment of the run that produced it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ENGINE_ORDER = ("pandas", "duckdb", "polars", "datalake", "floor")
BASELINES = ("polars", "pandas", "duckdb")
RSS_GOAL_MB = 256
RSS_FLATNESS = 1.10
POLARS_GOAL = 1.5  # the engine's throughput over Polars' streaming engine, at every input
FLOOR_GOAL = 0.5  # the engine's share of pyarrow's single-thread parse rate
START_GOAL_SECONDS = 0.3
LAKE_SMALL_GOAL_SECONDS = 60.0
LAKE_LARGE_GOAL_MB_S = 40.0
SHAPE_ORDER = ("orders", "wide", "text")
SHAPE_LABELS = {
    "orders": "the bench's orders (11 columns, padded, 2% duplicates)",
    "wide": "wide: 60 columns, ~85% of cells empty",
    "text": "text: long quoted free text (~480 bytes a row)",
}


def _load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"runs": {}}


def merge(path: Path, environment: dict, key: str, entry: dict) -> None:
    """Add or replace one result; engine results from before shapes and rounds (no `shape`) are dropped."""
    data = _load(path)
    if path.name == "engines.json":
        data["runs"] = {k: v for k, v in data["runs"].items() if "shape" in v}
    data["runs"][key] = {"environment": environment, **entry}
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def _input_order(key: str, entry: dict | None = None) -> tuple:
    from bench.generate import parse_size

    shape, _, size = key.rpartition("-")
    try:
        return (SHAPE_ORDER.index(shape) if shape in SHAPE_ORDER else 9, parse_size(size))
    except ValueError:
        return (9, float("inf"))


def load_results(out: Path) -> dict[str, dict]:
    names = ("engines", "emulator", "import", "lake", "stages")
    results = {name: _load(out / f"{name}.json")["runs"] for name in names}
    results["engines"] = {k: v for k, v in results["engines"].items() if "shape" in v}
    return results


def tables(results: dict[str, dict]) -> dict[str, str]:
    engines, imports, lake = results["engines"], results["import"], results["lake"]
    return {
        "engines": engines_table(engines),
        "goals": goals_table(engines, imports, lake),
        "curated": curated_table(engines),
        "emulator": emulator_table(results["emulator"]),
        "import": import_table(imports),
        "lake": lake_table(lake),
        "stages": stages_table(results.get("stages", {}), engines),
        "environment": environment_table(
            *(group for name, group in results.items() if name != "stages"),
            {f"stages of {key}": entry for key, entry in results.get("stages", {}).items()},
        ),
    }


def write_all(out: Path, docs: Path, throughput_file: Path | None) -> None:
    """The chart, the generated tables of `docs` and the cost inputs, from the recorded results."""
    results = load_results(out)
    if results["engines"]:
        chart(results["engines"], out / "throughput.png")
    refresh_docs(docs, tables(results))
    if throughput_file is not None and results["engines"]:
        write_throughput(results["engines"], throughput_file)


def render_text(results: dict[str, dict], chart_path: Path | None = None) -> str:
    """The tables of one run, for the terminal (a plain run records nothing)."""
    if chart_path is not None and results["engines"]:
        chart(results["engines"], chart_path)
    titles = {"goals": "Goals", "engines": "raw -> staged", "curated": "staged -> curated", "emulator": "Emulator"}
    titles |= {"import": "Start-up", "lake": "Local lake", "stages": "Where the CPU goes", "environment": "Environment"}
    return "\n\n".join(f"## {titles[name]}\n\n{body}" for name, body in tables(results).items())


# -- tables -------------------------------------------------------------------------------------
def _inputs(engines: dict) -> list[str]:
    return sorted(engines, key=_input_order)


def _ratio(entry: dict, baseline: dict) -> float | None:
    """How many times the baseline's time the entry's is faster (median rounds), or None."""
    if entry.get("ok") and baseline.get("ok"):
        return baseline["seconds"] / entry["seconds"]
    return None


def _ratio_text(entry: dict, baseline: dict) -> str:
    ratio = _ratio(entry, baseline)
    if ratio is not None:
        return f"{ratio:.2f}x"
    return "capped" if baseline and not baseline.get("ok") and not baseline.get("skipped") else "-"


def floor_share(run: dict) -> float | None:
    engine, floor = run["engines"].get("datalake", {}), run["engines"].get("floor", {})
    if engine.get("ok") and floor.get("ok"):
        return engine["mb_per_second"] / floor["mb_per_second"]
    return None


def engines_table(engines: dict) -> str:
    lines = [
        "| input | engine | MB/s median (min-max) | vs polars | vs pandas | vs duckdb | floor | peak RSS (MB) | "
        "CPU (s) | load | rows | same rows |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for key in _inputs(engines):
        run = engines[key]["engines"]
        for name in ENGINE_ORDER:
            entry = run.get(name)
            if entry is None:
                continue
            if not entry.get("ok"):
                rss = f"{entry['peak_rss_mb']:,.0f}" if entry.get("peak_rss_mb") else "-"
                lines.append(f"| {key} | {name} | - | - | - | - | - | {rss} | - | - | - | {entry['error']} |")
                continue
            speed = f"{entry['mb_per_second']:.0f} ({entry['mb_per_second_min']:.0f}-{entry['mb_per_second_max']:.0f})"
            ratios = " | ".join("-" if b == name else _ratio_text(entry, run.get(b, {})) for b in BASELINES)
            share = floor_share(engines[key]) if name == "datalake" else None
            floor = f"{share:.0%}" if share is not None else ("1.00" if name == "floor" else "-")
            if name == "floor":
                floor = "parse only"
            same = "-" if "same_rows" not in entry else ("yes" if entry["same_rows"] else "**NO**")
            rows = f"{entry['rows']:,}" if "rows" in entry else "-"
            lines.append(
                f"| {key} | {name} | {speed} | {ratios} | {floor} | {entry['peak_rss_mb']:,.0f} | "
                f"{entry['cpu_seconds']:.1f} | {entry['load']:.1f} | {rows} | {same} |"
            )
    return "\n".join(lines)


def goals(engines: dict, imports: dict, lake: dict | None = None) -> list[tuple[str, str, bool | None]]:
    """(goal, measured, met) for each goal of the performance issue; met is None when not measured."""
    results: list[tuple[str, str, bool | None]] = []
    keys = _inputs(engines)
    polars = {
        k: _ratio(engines[k]["engines"].get("datalake", {}), engines[k]["engines"].get("polars", {})) for k in keys
    }
    measured = {k: r for k, r in polars.items() if r is not None}
    goal = f"raw -> staged >= {POLARS_GOAL}x Polars' streaming engine, every input (median of rounds)"
    if measured:
        worst = min(measured, key=measured.get)
        text = ", ".join(f"{k} {r:.2f}x" for k, r in measured.items())
        results.append((goal, f"worst {measured[worst]:.2f}x ({worst}); {text}", measured[worst] >= POLARS_GOAL))
    else:
        results.append((goal, "not measured", None))
    same = [engines[k]["all_same_rows"] for k in keys]
    results.append(
        (
            "same row set from every engine, every input",
            f"{sum(same)} of {len(same)} inputs",
            all(same) if same else None,
        )
    )
    rss = {
        k: engines[k]["engines"]["datalake"]["peak_rss_mb"]
        for k in keys
        if engines[k]["engines"].get("datalake", {}).get("ok")
    }
    if rss:
        worst = max(rss, key=rss.get)
        results.append(
            (
                f"peak RSS <= {RSS_GOAL_MB} MB at every input",
                f"max {rss[worst]:,.0f} MB ({worst})",
                rss[worst] <= RSS_GOAL_MB,
            )
        )
        orders = [v for k, v in rss.items() if k.startswith("orders-")]
        if len(orders) > 1:
            ratio = max(orders) / min(orders)
            results.append(
                (
                    "RSS independent of size (orders: largest / smallest peak <= 1.10)",
                    f"{ratio:.2f}x",
                    ratio <= RSS_FLATNESS,
                )
            )
    shares = {k: floor_share(engines[k]) for k in keys}
    shares = {k: v for k, v in shares.items() if v is not None}
    if shares:
        worst = min(shares, key=shares.get)
        results.append(
            (
                f"at least {FLOOR_GOAL:.0%} of pyarrow's single-thread parse rate, every input",
                f"worst {shares[worst]:.0%} ({worst})",
                shares[worst] >= FLOOR_GOAL,
            )
        )
    curated = [(k, engines[k]["typed"]) for k in keys if engines[k].get("typed", {}).get("datalake", {}).get("ok")]
    if curated:
        key, typed = next(
            (c for c in curated if c[0] == "orders-1GB"), max(curated, key=lambda c: engines[c[0]]["input_bytes"])
        )
        after, before = typed["datalake"], typed.get("datalake-per-block", {})
        text = f"{key}: {after['row_groups']} row groups of {after['rows_per_row_group']:,.0f} rows"
        if before.get("ok"):
            text += (
                f" (before: {before['row_groups']}); DuckDB scan {after['duckdb_scan_seconds']:.2f} s"
                f" (before: {before['duckdb_scan_seconds']:.2f} s)"
            )
        results.append(
            (
                "curated row groups at the target (1M rows or 16 MB of Arrow data), not one per block",
                text,
                after["row_groups"] == 1 or after["row_groups"] * 8 <= before.get("row_groups", 0),
            )
        )
    for name, label in (("handler", "handler cold import"), ("cli", "`datalake --help`")):
        entry = imports.get(name)
        if entry:
            results.append(
                (
                    f"{label} <= {START_GOAL_SECONDS} s (median of {entry['samples']})",
                    f"{entry['median_seconds']:.3f} s",
                    entry["median_seconds"] <= START_GOAL_SECONDS,
                )
            )
    for _key, run in sorted((lake or {}).items()):
        workers = f", {run.get('workers_per_queue', 1)} worker(s) per queue"
        for name, entry in run["workloads"].items():
            if "100 KB" in name:
                results.append(
                    (
                        f"local lake: {name} raw -> curated <= {LAKE_SMALL_GOAL_SECONDS:.0f} s{workers}",
                        f"{entry['wall_seconds']:.1f} s (put -> curated p50 {entry['p50_seconds']:.1f} s, "
                        f"p95 {entry['p95_seconds']:.1f} s)",
                        entry["complete"] and entry["wall_seconds"] <= LAKE_SMALL_GOAL_SECONDS,
                    )
                )
            elif "100 MB" in name:
                results.append(
                    (
                        f"local lake: {name} >= {LAKE_LARGE_GOAL_MB_S:.0f} MB/s end to end{workers}",
                        f"{entry['mb_per_second']:.1f} MB/s",
                        entry["complete"] and entry["mb_per_second"] >= LAKE_LARGE_GOAL_MB_S,
                    )
                )
    return results


def goals_table(engines: dict, imports: dict, lake: dict | None = None) -> str:
    lines = ["| goal | measured | met |", "|---|---|:---:|"]
    marks = {True: "yes", False: "**no**", None: "-"}
    lines += [f"| {goal} | {measured} | {marks[met]} |" for goal, measured, met in goals(engines, imports, lake)]
    return "\n".join(lines)


def curated_table(engines: dict) -> str:
    lines = [
        "| input | writer | time (s) | peak RSS (MB) | output (MB) | row groups | rows / group | MB / group | "
        "dictionary | statistics | DuckDB scan (s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {
        "datalake-per-block": "engine, one row group per block (before)",
        "datalake": "engine, row-group target (after)",
    }
    for key in _inputs(engines):
        for name, entry in engines[key].get("typed", {}).items():
            label = labels.get(name, name)
            if not entry.get("ok"):
                lines.append(f"| {key} | {label} | {entry.get('error', 'failed')} | - | - | - | - | - | - | - | - |")
                continue
            lines.append(
                f"| {key} | {label} | {entry['seconds']:.2f} | {entry['peak_rss_mb']:,.0f} | "
                f"{entry['output_bytes'] / 1e6:,.0f} | {entry['row_groups']:,} | {entry['rows_per_row_group']:,.0f} | "
                f"{entry['mb_per_row_group']:.1f} | {entry['dictionary_chunks_share']:.0%} | "
                f"{entry['statistics_chunks_share']:.0%} | {entry['duckdb_scan_seconds']:.3f} |"
            )
    return "\n".join(lines) if len(lines) > 2 else "_not measured yet_"


def emulator_table(emulator: dict) -> str:
    if not emulator:
        return "_not measured yet_"
    lines = ["| input | path | time (s) | MB/s | peak RSS (MB) |", "|---|---|---:|---:|---:|"]
    labels = {
        "get": "one streamed GET, read to the end (no transform)",
        "download_file": "boto3 download_file to /tmp (no transform)",
        "engine-get": "zone consumer: streamed GET -> engine -> multipart upload",
        "engine-s3fs": "engine through pyarrow S3FileSystem (read and write)",
    }
    for size in sorted(emulator, key=lambda k: _input_order(f"x-{k}")):
        for mode, entry in emulator[size]["modes"].items():
            if entry.get("ok"):
                lines.append(
                    f"| {size} | {labels.get(mode, mode)} | {entry['seconds']:.2f} | {entry['mb_per_second']:.0f} | "
                    f"{entry['peak_rss_mb']:,.0f} |"
                )
            else:
                lines.append(f"| {size} | {labels.get(mode, mode)} | failed: {entry['error']} | - | - |")
    return "\n".join(lines)


def import_table(imports: dict) -> str:
    if not imports:
        return "_not measured yet_"
    lines = ["| what | median | min | max | heaviest imports (cumulative) |", "|---|---:|---:|---:|---|"]
    for name in ("handler", "cli"):
        entry = imports.get(name)
        if not entry:
            continue
        heaviest = ", ".join(f"{h['package']} {h['seconds']:.2f} s" for h in entry["heaviest"][:5])
        what = f"`import {entry['module']}`" if name == "handler" else f"`{entry['module']}` (whole process)"
        lines.append(
            f"| {what} | {entry['median_seconds']:.3f} s | {entry['min_seconds']:.3f} s | "
            f"{entry['max_seconds']:.3f} s | {heaviest} |"
        )
    return "\n".join(lines)


def lake_table(lake: dict) -> str:
    if not lake:
        return "_not measured yet_"
    lines = [
        "| workload | workers / queue | files | total (MB) | wall (s) | files/s | MB/s | put -> curated p50 (s) | "
        "p95 (s) | complete |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for _, run in sorted(lake.items()):
        for name, entry in run["workloads"].items():
            lines.append(
                f"| {name} | {run.get('workers_per_queue', 1)} | {entry['files']:,} | {entry['bytes'] / 1e6:,.0f} | "
                f"{entry['wall_seconds']:.1f} | {entry['files_per_second']:.1f} | {entry['mb_per_second']:.1f} | "
                f"{entry['p50_seconds']:.2f} | {entry['p95_seconds']:.2f} | {'yes' if entry['complete'] else 'NO'} |"
            )
    return "\n".join(lines)


def stage_budgets(engines_entry: dict, cpus: int) -> tuple[float | None, float | None]:
    """The CPU seconds goals 1 and 3 allow on `cpus` cores: cores x the wall time each goal allows,
    from the same input's Polars and floor medians (an engine's `seconds` is its median round's)."""
    engines = engines_entry.get("engines", {})

    def median(engine: str) -> float | None:
        result = engines.get(engine, {})
        return float(result["seconds"]) if result.get("ok") and result.get("seconds") else None

    polars, floor = median("polars"), median("floor")
    return (cpus * polars / POLARS_GOAL if polars else None, cpus * floor / FLOOR_GOAL if floor else None)


def _within(needed: float, allowed: float | None) -> str:
    if allowed is None:
        return "-"
    return f"{allowed:.2f} ({'room' if needed <= allowed else f'{needed / allowed - 1:.0%} short'})"


def stages_table(stages: dict, engines: dict) -> str:
    """Each stage's CPU on one thread, their sum, and the CPU goals 1 and 3 allow (from the same input's engines)."""
    from bench.stages import STAGE_ORDER

    if not stages:
        return "_not measured yet_"
    used = [stage for stage in STAGE_ORDER if any(stage in run["stages"] for run in stages.values())]
    lines = [
        "| input | " + " | ".join(used) + " | all stages (CPU s) | goal 1 allows (CPU s) | goal 3 allows (CPU s) |",
        "|---|" + "---:|" * (len(used) + 3),
    ]
    for key in sorted(stages, key=_input_order):
        run = stages[key]
        cells = [f"{run['stages'][stage]:.2f}" if stage in run["stages"] else "-" for stage in used]
        total = run["cpu_seconds"]
        goal1, goal3 = stage_budgets(engines.get(key, {}), run["environment"].get("cpus", 1))
        lines.append(
            f"| {key} | {' | '.join(cells)} | {total:.2f} | {_within(total, goal1)} | {_within(total, goal3)} |"
        )
    return "\n".join(lines)


def environment_table(*groups: dict) -> str:
    seen: dict[str, dict] = {}
    for group in groups:
        for key, entry in group.items():
            seen[key] = entry["environment"]
    if not seen:
        return "_no runs yet_"
    lines = [
        "| result | date (UTC) | machine | memory | load at start (1/5/15 min) | load at end |",
        "|---|---|---|---:|---|---|",
    ]
    for key in sorted(seen, key=_input_order):
        env = seen[key]
        load = "/".join(f"{x:.1f}" for x in env["load_average_at_start"])
        end = "/".join(f"{x:.1f}" for x in env.get("load_average_at_end", [])) or "-"
        lines.append(
            f"| {key} | {env['date']} | {env['cpus']} x {env['cpu']} | {env['memory_gb']} GB | {load} | {end} |"
        )
    versions = next(iter(seen.values()))["versions"]
    lines.append("")
    lines.append("Library versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".")
    return "\n".join(lines)


# -- chart, docs, cost inputs --------------------------------------------------------------------
def chart(engines: dict, path: Path) -> None:
    """Throughput and peak RSS per input; goal lines labelled; capped or missing bars annotated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = _inputs(engines)
    names = [n for n in ENGINE_ORDER if n != "floor"]
    figure, (speed, memory) = plt.subplots(1, 2, figsize=(max(12, 2.2 * len(keys)), 5))
    width = 0.8 / len(names)
    colors = {"pandas": "#9e9e9e", "duckdb": "#f2c14e", "polars": "#5b8def", "datalake": "#2e9e5b"}
    for i, name in enumerate(names):
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(keys))]
        entries = [engines[k]["engines"].get(name, {}) for k in keys]
        speed.bar(
            xs,
            [e.get("mb_per_second", 0) if e.get("ok") else 0 for e in entries],
            width,
            label=name,
            color=colors[name],
        )
        memory.bar(xs, [e.get("peak_rss_mb", 0) or 0 for e in entries], width, label=name, color=colors[name])
        for x, e in zip(xs, entries, strict=True):
            if not e or e.get("skipped"):
                note = "not run"
            elif not e.get("ok"):
                note = f"capped\n{e.get('peak_rss_mb', 0):,.0f} MB"
            else:
                continue
            speed.annotate(
                note,
                (x, 0),
                ha="center",
                va="bottom",
                fontsize=6,
                rotation=90,
                xytext=(0, 3),
                textcoords="offset points",
            )
            memory.annotate(
                note, (x, max(1.0, e.get("peak_rss_mb", 0) or 1.0)), ha="center", va="bottom", fontsize=6, rotation=90
            )
    goal_x = [j for j in range(len(keys))]
    polars_goal = [
        POLARS_GOAL * engines[k]["engines"].get("polars", {}).get("mb_per_second", float("nan")) for k in keys
    ]
    floor_goal = [FLOOR_GOAL * engines[k]["engines"].get("floor", {}).get("mb_per_second", float("nan")) for k in keys]
    speed.scatter(
        goal_x, polars_goal, marker="_", s=900, color="#c0392b", label=f"goal: {POLARS_GOAL}x Polars", zorder=3
    )
    speed.scatter(
        goal_x, floor_goal, marker="_", s=900, color="#000000", label=f"goal: {FLOOR_GOAL:.0%} of parse floor", zorder=3
    )
    for axis, title, unit in (
        (speed, "raw -> staged throughput (higher is better; median of rounds)", "MB/s of input"),
        (memory, "Peak RSS (lower is better)", "MB"),
    ):
        axis.set_xticks(range(len(keys)), keys, rotation=20, fontsize=8)
        axis.set_title(title, fontsize=10)
        axis.set_ylabel(unit)
        axis.grid(axis="y", alpha=0.3)
    memory.axhline(RSS_GOAL_MB, color="#c0392b", linestyle="--", linewidth=1, label=f"goal: {RSS_GOAL_MB} MB")
    memory.set_yscale("log")
    speed.legend(fontsize=7)
    memory.legend(fontsize=7)
    figure.suptitle("raw -> staged clean hop: same rows from every engine, separate processes, interleaved rounds")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


_MARKER = re.compile(r"(<!-- bench:(\w+) -->)(.*?)(<!-- /bench:\2 -->)", re.DOTALL)


def refresh_docs(docs: Path, tables: dict[str, str]) -> None:
    """Replace the generated tables between `<!-- bench:NAME -->` markers (a new page gets them all)."""
    if not docs.exists():
        docs.parent.mkdir(parents=True, exist_ok=True)
        docs.write_text(
            "# Performance\n\n"
            + "\n\n".join(f"## {n}\n\n<!-- bench:{n} -->\n<!-- /bench:{n} -->" for n in tables)
            + "\n"
        )
    text = docs.read_text()

    def fill(match: re.Match) -> str:
        body = tables.get(match.group(2))
        return match.group(0) if body is None else f"{match.group(1)}\n{body}\n{match.group(4)}"

    docs.write_text(_MARKER.sub(fill, text))


def _profile(points: list[tuple[float, float, float, float]]) -> dict:
    """Cost-model figures from (input MB, seconds, CPU seconds, peak RSS MB) at several sizes.

    CPU per MB and cores used come from the largest input (start-up matters least there);
    memory is a straight line through the measured peaks (least squares), so a file size
    between or beyond the measured ones gets a plausible memory need.
    """
    input_mb, seconds, cpu, _ = max(points)
    xs, ys = [p[0] for p in points], [p[3] for p in points]
    if len(points) > 1:
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        spread = sum((x - mean_x) ** 2 for x in xs)
        slope = max(0.0, sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread)
        intercept = max(0.0, mean_y - slope * mean_x)
    else:
        slope, intercept = ys[0] / xs[0], 0.0
    return {
        "cpu_seconds_per_mb": round(cpu / input_mb, 6),
        "cores_used": round(cpu / seconds, 2),
        "mb_per_second": round(input_mb / seconds, 2),
        "rss_intercept_mb": round(intercept, 1),
        "rss_per_input_mb": round(slope, 4),
        "measured_sizes_mb": [round(x) for x in xs],
        "peak_rss_mb": [round(y) for y in ys],
    }


def write_throughput(engines: dict, path: Path) -> None:
    """The figures `datalake cost` uses, per approach and hop, from every measured orders input >= 100 MB."""
    orders = [k for k in _inputs(engines) if engines[k].get("shape") == "orders"] or _inputs(engines)
    sizes = [k for k in orders if engines[k]["input_bytes"] >= 100e6] or orders
    clean: dict[str, list] = {}
    typed: dict[str, list] = {}
    staged_ratio: list[float] = []
    curated_ratio: list[float] = []
    for size in sizes:
        run = engines[size]
        input_mb = run["input_bytes"] / 1e6
        for name, entry in run["engines"].items():
            if entry.get("ok") and "cpu_seconds" in entry and name != "floor":
                point = (input_mb, entry["seconds"], entry["cpu_seconds"], entry["peak_rss_mb"])
                clean.setdefault(name, []).append(point)
                if name == "datalake":
                    staged_ratio.append(entry["output_bytes"] / run["input_bytes"])
        for name, entry in run.get("typed", {}).items():
            if entry.get("ok") and name != "datalake-per-block":
                staged_mb = entry["input_bytes"] / 1e6
                point = (staged_mb, entry["seconds"], entry["report"]["cpu_seconds"], entry["peak_rss_mb"])
                typed.setdefault(name, []).append(point)
                if name == "datalake":
                    curated_ratio.append(entry["output_bytes"] / entry["input_bytes"])
    largest = engines[sizes[-1]]
    document = {
        "measured": largest["environment"]["date"],
        "machine": f"{largest['environment']['cpus']} x {largest['environment']['cpu']}",
        "input": "seeded CSVs of bench/generate.py; clean = raw -> staged, typed = staged -> curated",
        "source": "bench/results/engines.json (written by `make bench`)",
        "engines": {name: _profile(points) for name, points in clean.items()},
        "typed": {name: _profile(points) for name, points in typed.items()},
        "ratios": {
            "staged_per_raw": round(sum(staged_ratio) / len(staged_ratio), 4) if staged_ratio else 1.7,
            "curated_per_staged": round(sum(curated_ratio) / len(curated_ratio), 4) if curated_ratio else 0.2,
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")

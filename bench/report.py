"""Benchmark results -> JSON files, a chart, the tables of docs/performance.md, cost inputs.

Results are merged by key (input size, "handler", "e2e"), so a quick run of one size
refreshes that size and leaves the others as they were; every entry carries the date and
environment of the run that produced it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ENGINE_ORDER = ("pandas", "duckdb", "polars", "datalake")
RSS_GOAL_MB = 300
RSS_FLATNESS = 1.10
SPEEDUP_VS_PANDAS_GOAL = 5.0


def _load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"runs": {}}


def merge(path: Path, environment: dict, key: str, entry: dict) -> None:
    data = _load(path)
    data["runs"][key] = {"environment": environment, **entry}
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def _size_order(key: str) -> float:
    from bench.generate import parse_size

    try:
        return parse_size(key)
    except ValueError:
        return float("inf")


def write_all(out: Path, docs: Path, throughput_file: Path | None) -> None:
    engines = _load(out / "engines.json")["runs"]
    emulator = _load(out / "emulator.json")["runs"]
    imports = _load(out / "import.json")["runs"]
    lake = _load(out / "lake.json")["runs"]
    if engines:
        chart(engines, out / "throughput.png")
    tables = {
        "engines": engines_table(engines),
        "goals": goals_table(engines, imports),
        "emulator": emulator_table(emulator),
        "import": import_table(imports),
        "lake": lake_table(lake),
        "environment": environment_table(engines, emulator, imports, lake),
    }
    refresh_docs(docs, tables)
    if throughput_file is not None and engines:
        write_throughput(engines, throughput_file)


# -- tables -------------------------------------------------------------------------------------
def _sizes(engines: dict) -> list[str]:
    return sorted(engines, key=_size_order)


def engines_table(engines: dict) -> str:
    lines = [
        "| input | engine | time (s) | MB/s | vs pandas | peak RSS (MB) | CPU (s) | output (MB) | same rows |",
        "|---|---|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for size in _sizes(engines):
        run = engines[size]["engines"]
        pandas = run.get("pandas", {})
        for name in ENGINE_ORDER:
            entry = run.get(name)
            if entry is None:
                continue
            if not entry.get("ok"):
                lines.append(
                    f"| {size} | {name} | - | - | - | {entry['peak_rss_mb']:,.0f} | - | - | {entry['error']} |"
                )
                continue
            speedup = f"{pandas['seconds'] / entry['seconds']:.1f}x" if pandas.get("ok") else "-"
            cpu = entry.get("report", {}).get("cpu_seconds")
            lines.append(
                f"| {size} | {name} | {entry['seconds']:.2f} | {entry['mb_per_second']:.0f} | {speedup} | "
                f"{entry['peak_rss_mb']:,.0f} | {cpu:.1f} | {entry['output_bytes'] / 1e6:,.0f} | "
                f"{'yes' if entry.get('same_rows') else 'NO'} |"
                if cpu is not None
                else f"| {size} | {name} | {entry['seconds']:.2f} | {entry['mb_per_second']:.0f} | {speedup} | "
                f"{entry['peak_rss_mb']:,.0f} | - | {entry['output_bytes'] / 1e6:,.0f} | "
                f"{'yes' if entry.get('same_rows') else 'NO'} |"
            )
    return "\n".join(lines)


def goals(engines: dict, imports: dict) -> list[tuple[str, str, bool | None]]:
    """(goal, measured, met) for each goal of the performance issue; met is None when not measured."""
    results: list[tuple[str, str, bool | None]] = []
    one_gb = engines.get("1GB", {}).get("engines", {})
    zl, pandas, duck = one_gb.get("datalake", {}), one_gb.get("pandas", {}), one_gb.get("duckdb", {})
    if zl.get("ok") and pandas.get("ok"):
        ratio = pandas["seconds"] / zl["seconds"]
        results.append(("engine >= 5x pandas throughput (1 GB)", f"{ratio:.1f}x", ratio >= SPEEDUP_VS_PANDAS_GOAL))
    else:
        results.append(("engine >= 5x pandas throughput (1 GB)", "not measured", None))
    if zl.get("ok") and duck.get("ok"):
        ratio = duck["seconds"] / zl["seconds"]
        results.append(("engine >= DuckDB throughput (1 GB)", f"{ratio:.2f}x DuckDB's", ratio >= 1.0))
    else:
        results.append(("engine >= DuckDB throughput (1 GB)", "not measured", None))
    rss = {
        s: e["engines"]["datalake"]["peak_rss_mb"]
        for s, e in engines.items()
        if e["engines"].get("datalake", {}).get("ok")
    }
    if rss:
        worst = max(rss.values())
        results.append(
            (f"engine peak RSS <= {RSS_GOAL_MB} MB at every size", f"max {worst:,.0f} MB", worst <= RSS_GOAL_MB)
        )
    if "100MB" in rss and "2GB" in rss:
        ratio = rss["2GB"] / rss["100MB"]
        results.append(("engine RSS at 2 GB within 10% of 100 MB", f"{ratio:.2f}x", ratio <= RSS_FLATNESS))
    if pandas.get("ok") or any(e["engines"].get("pandas", {}).get("ok") for e in engines.values()):
        ratios = [
            e["engines"]["pandas"]["peak_rss_mb"] * 2**20 / e["input_bytes"]
            for e in engines.values()
            if e["engines"].get("pandas", {}).get("ok")
        ]
        results.append(("pandas needs several times the file size", f"{min(ratios):.1f}-{max(ratios):.1f}x", None))
    handler = imports.get("handler")
    if handler:
        results.append(
            (
                "cold import of the handler < 0.5 s",
                f"{handler['median_seconds']:.3f} s (median of {handler['samples']})",
                handler["median_seconds"] < handler["goal_seconds"],
            )
        )
    return results


def goals_table(engines: dict, imports: dict) -> str:
    lines = ["| goal | measured | met |", "|---|---|:---:|"]
    marks = {True: "yes", False: "**no**", None: "-"}
    lines += [f"| {goal} | {measured} | {marks[met]} |" for goal, measured, met in goals(engines, imports)]
    return "\n".join(lines)


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
    for size in sorted(emulator, key=_size_order):
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
    handler = imports.get("handler")
    if not handler:
        return "_not measured yet_"
    heaviest = ", ".join(f"{h['package']} {h['seconds']:.2f} s" for h in handler["heaviest"][:5])
    return "\n".join(
        [
            "| module | median | min | max | heaviest imports (cumulative) |",
            "|---|---:|---:|---:|---|",
            f"| `{handler['module']}` | {handler['median_seconds']:.3f} s | {handler['min_seconds']:.3f} s | "
            f"{handler['max_seconds']:.3f} s | {heaviest} |",
        ]
    )


def lake_table(lake: dict) -> str:
    run = lake.get("e2e")
    if not run:
        return "_not measured yet_"
    lines = [
        "| workload | files | total (MB) | wall (s) | files/s | MB/s | put -> curated p50 (s) | p95 (s) | complete |",
        "|---|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for name, entry in run["workloads"].items():
        lines.append(
            f"| {name} | {entry['files']:,} | {entry['bytes'] / 1e6:,.0f} | {entry['wall_seconds']:.1f} | "
            f"{entry['files_per_second']:.1f} | {entry['mb_per_second']:.1f} | {entry['p50_seconds']:.2f} | "
            f"{entry['p95_seconds']:.2f} | {'yes' if entry['complete'] else 'NO'} |"
        )
    return "\n".join(lines)


def environment_table(*groups: dict) -> str:
    seen: dict[str, dict] = {}
    for group in groups:
        for key, entry in group.items():
            seen[key] = entry["environment"]
    if not seen:
        return "_no runs yet_"
    lines = ["| result | date (UTC) | CPUs | memory | load at start (1/5/15 min) |", "|---|---|---:|---:|---|"]
    for key in sorted(seen, key=_size_order):
        env = seen[key]
        load = "/".join(f"{x:.1f}" for x in env["load_average_at_start"])
        lines.append(f"| {key} | {env['date']} | {env['cpus']} ({env['cpu']}) | {env['memory_gb']} GB | {load} |")
    versions = next(iter(seen.values()))["versions"]
    lines.append("")
    lines.append("Library versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".")
    return "\n".join(lines)


# -- chart, docs, cost inputs --------------------------------------------------------------------
def chart(engines: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = _sizes(engines)
    figure, (speed, memory) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / len(ENGINE_ORDER)
    colors = {"pandas": "#9e9e9e", "duckdb": "#f2c14e", "polars": "#5b8def", "datalake": "#2e9e5b"}
    for i, name in enumerate(ENGINE_ORDER):
        xs = [j + (i - (len(ENGINE_ORDER) - 1) / 2) * width for j in range(len(sizes))]
        entries = [engines[s]["engines"].get(name, {}) for s in sizes]
        speed.bar(
            xs,
            [e.get("mb_per_second", 0) if e.get("ok") else 0 for e in entries],
            width,
            label=name,
            color=colors[name],
        )
        memory.bar(xs, [e.get("peak_rss_mb", 0) for e in entries], width, label=name, color=colors[name])
        for x, e in zip(xs, entries, strict=True):
            if e and not e.get("ok"):
                memory.annotate("capped", (x, e.get("peak_rss_mb", 0)), ha="center", va="bottom", fontsize=7)
    for axis, title, unit in (
        (speed, "Throughput (higher is better)", "MB/s of input"),
        (memory, "Peak RSS (lower is better)", "MB"),
    ):
        axis.set_xticks(range(len(sizes)), sizes)
        axis.set_title(title)
        axis.set_ylabel(unit)
        axis.set_xlabel("input CSV")
        axis.grid(axis="y", alpha=0.3)
    memory.axhline(RSS_GOAL_MB, color="#c0392b", linestyle="--", linewidth=1)
    memory.set_yscale("log")
    speed.legend()
    figure.suptitle("raw -> staged clean hop: same rows from all four engines")
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
    """The figures `datalake cost` uses, per approach and hop, from every measured size >= 100 MB."""
    sizes = [s for s in _sizes(engines) if engines[s]["input_bytes"] >= 100e6] or _sizes(engines)
    clean: dict[str, list] = {}
    typed: dict[str, list] = {}
    staged_ratio: list[float] = []
    curated_ratio: list[float] = []
    for size in sizes:
        run = engines[size]
        input_mb = run["input_bytes"] / 1e6
        for name, entry in run["engines"].items():
            if entry.get("ok") and "cpu_seconds" in entry.get("report", {}):
                point = (input_mb, entry["seconds"], entry["report"]["cpu_seconds"], entry["peak_rss_mb"])
                clean.setdefault(name, []).append(point)
                if name == "datalake":
                    staged_ratio.append(entry["output_bytes"] / run["input_bytes"])
        for name, entry in run.get("typed", {}).items():
            if entry.get("ok"):
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

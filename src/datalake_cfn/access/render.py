"""Pictures of the access matrix: a Rich table for the terminal, a PNG heat map or an HTML page.

Layout everywhere: one row per persona and zone, one column group per classification level (plus
untagged), the five actions inside each group. A cell that differs from the spec is marked, so a
picture of a broken policy shows where it is broken.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path

from rich.table import Table
from rich.text import Text

from datalake_cfn.access.matrix import AccessMatrix, CellKey, level_label
from datalake_cfn.access.spec import ACTIONS

LETTERS = {"list": "L", "read": "R", "write": "W", "tag": "T", "decrypt": "D"}
ALLOWED_COLOR = "#2e9d5b"
DENIED_COLOR = "#e9e9e9"
MISMATCH_COLOR = "#d62728"


def legend() -> str:
    return "  ".join(f"{letter}={action}" for action, letter in LETTERS.items()) + "   · = denied"


def matrix_title(matrix: AccessMatrix) -> str:
    """What was evaluated: the source, TLS or not, and any lowered session clearance (persona=level)."""
    parts = [matrix.source]
    if not matrix.secure_transport:
        parts.append("without TLS")
    if matrix.clearances:
        sessions = ", ".join(f"{persona}={level}" for persona, level in matrix.clearances.items())
        parts.append(f"session clearance {sessions}")
    return f"access matrix ({', '.join(parts)})"


def cell_letters(matrix: AccessMatrix, persona: str, zone: str, level: str | None) -> str:
    """The letters of one persona x zone x level, as every picture shows them (`LR···`)."""
    return "".join(LETTERS[a] if matrix.cells[(persona, zone, level, a)].allowed else "·" for a in ACTIONS)


def matrix_facts(
    matrix: AccessMatrix, expected: Mapping[CellKey, bool] | None = None, picture: Path | None = None
) -> dict[str, object]:
    """The matrix as data (`datalake access --json`): the table's letters, each decision and its reason."""
    rows = []
    for persona in matrix.personas:
        for zone in matrix.zones:
            for level in matrix.levels:
                decisions = {a: matrix.cells[(persona, zone, level, a)] for a in ACTIONS}
                rows.append(
                    {
                        "persona": persona,
                        "zone": zone,
                        "level": level_label(level),
                        "letters": cell_letters(matrix, persona, zone, level),
                        "allowed": {a: d.allowed for a, d in decisions.items()},
                        "reasons": {a: d.explain() for a, d in decisions.items()},
                        "differs_from_spec": [
                            a
                            for a, d in decisions.items()
                            if expected is not None and expected[(persona, zone, level, a)] != d.allowed
                        ],
                    }
                )
    wrong = matrix.mismatches(expected) if expected is not None else []
    return {
        "lake": matrix.config.lake,
        "title": matrix_title(matrix),
        "source": matrix.source,
        "secure_transport": matrix.secure_transport,
        "session_clearances": dict(matrix.clearances),
        "legend": dict(LETTERS),
        "cells": rows,
        "spec": None if expected is None else {"cells": len(expected), "differing": len(wrong)},
        "picture": str(picture) if picture is not None else None,
    }


def rich_table(matrix: AccessMatrix, expected: Mapping[CellKey, bool] | None = None) -> Table:
    """The matrix as a Rich table: letters of the allowed actions per level; red where it breaks the spec."""
    table = Table(
        title=matrix_title(matrix),
        title_justify="left",
        caption=legend(),
        caption_justify="left",
    )
    table.add_column("persona", overflow="fold")
    table.add_column("zone", overflow="fold")
    for level in matrix.levels:
        table.add_column(level_label(level), justify="center", overflow="fold")
    for persona in matrix.personas:
        for zone in matrix.zones:
            row: list[Text | str] = [persona, zone]
            for level in matrix.levels:
                text = Text()
                for action in ACTIONS:
                    key = (persona, zone, level, action)
                    allowed = matrix.cells[key].allowed
                    wrong = expected is not None and expected[key] != allowed
                    style = "bold white on red" if wrong else ("green" if allowed else "dim")
                    text.append(LETTERS[action] if allowed else "·", style=style)
                row.append(text)
            table.add_row(*row, end_section=zone == matrix.zones[-1])
    return table


def _grid(matrix: AccessMatrix) -> tuple[list[str], list[str], list[list[CellKey]]]:
    rows = [(p, z) for p in matrix.personas for z in matrix.zones]
    cols = [(lvl, a) for lvl in matrix.levels for a in ACTIONS]
    keys = [[(p, z, lvl, a) for lvl, a in cols] for p, z in rows]
    return [f"{p} · {z}" for p, z in rows], [f"{level_label(lvl)} {LETTERS[a]}" for lvl, a in cols], keys


def write_png(matrix: AccessMatrix, path: Path, expected: Mapping[CellKey, bool] | None = None) -> Path:
    """A heat map with the legend's letters in every cell: green allowed, grey denied, red-framed off spec.

    Thin white borders separate cells; dark lines separate classification levels and personas.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Rectangle

    row_labels, col_labels, keys = _grid(matrix)
    values = [[1 if matrix.cells[k].allowed else 0 for k in row] for row in keys]
    fig, ax = plt.subplots(figsize=(max(10, len(col_labels) * 0.4), max(5, len(row_labels) * 0.38 + 1.5)))
    ax.imshow(values, cmap=ListedColormap([DENIED_COLOR, ALLOWED_COLOR]), vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(col_labels)), col_labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(row_labels)), row_labels, fontsize=8)
    ax.set_xticks([x - 0.5 for x in range(1, len(col_labels))], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, len(row_labels))], minor=True)
    ax.grid(which="minor", color="white", linewidth=1.2)
    ax.tick_params(which="minor", length=0)
    for y, row in enumerate(keys):
        for x, key in enumerate(row):
            allowed = matrix.cells[key].allowed
            ax.text(
                x,
                y,
                LETTERS[key[3]] if allowed else "·",
                ha="center",
                va="center",
                fontsize=8 if allowed else 11,
                fontweight="bold" if allowed else "normal",
                color="white" if allowed else "#8a8a8a",
            )
    per_level = len(ACTIONS)
    for x in range(per_level, len(col_labels), per_level):
        ax.axvline(x - 0.5, color="#333333", linewidth=2)
    for y in range(len(matrix.zones), len(row_labels), len(matrix.zones)):
        ax.axhline(y - 0.5, color="#333333", linewidth=2)
    if expected is not None:
        for y, row in enumerate(keys):
            for x, key in enumerate(row):
                if expected[key] != matrix.cells[key].allowed:
                    ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor=MISMATCH_COLOR, linewidth=2))
    ax.set_title(f"datalake {matrix.config.lake}: {matrix_title(matrix)}\n{legend()}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_html(matrix: AccessMatrix, path: Path, expected: Mapping[CellKey, bool] | None = None) -> Path:
    """A self-contained HTML page; each cell's tooltip says which statement decided it."""
    header_levels = "".join(
        f'<th colspan="{len(ACTIONS)}">{html.escape(level_label(lvl))}</th>' for lvl in matrix.levels
    )
    header_actions = "".join(f"<th>{LETTERS[a]}</th>" for _ in matrix.levels for a in ACTIONS)
    rows = []
    for persona in matrix.personas:
        for zone in matrix.zones:
            cells = []
            for level in matrix.levels:
                for action in ACTIONS:
                    key = (persona, zone, level, action)
                    decision = matrix.cells[key]
                    wrong = expected is not None and expected[key] != decision.allowed
                    color = ALLOWED_COLOR if decision.allowed else DENIED_COLOR
                    border = f"outline:2px solid {MISMATCH_COLOR};" if wrong else ""
                    title = html.escape(f"{persona} {action} {zone}/{level_label(level)}: {decision.explain()}")
                    mark = LETTERS[action] if decision.allowed else "·"
                    cells.append(f'<td style="background:{color};{border}" title="{title}">{mark}</td>')
            rows.append(f"<tr><th>{html.escape(persona)}</th><th>{html.escape(zone)}</th>{''.join(cells)}</tr>")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>datalake {html.escape(matrix.config.lake)} access matrix</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; font-size: 12px; }}
td, th {{ border: 1px solid #fff; padding: 2px 5px; text-align: center; }}
td {{ color: #fff; min-width: 1.2em; }}
</style></head><body>
<h1>Access matrix: {html.escape(matrix.config.lake)}</h1>
<p>{html.escape(matrix_title(matrix))}: computed by evaluating the policies.
{html.escape(legend())}. Hover a cell for the statement that decided it.</p>
<table><tr><th rowspan="2">persona</th><th rowspan="2">zone</th>{header_levels}</tr>
<tr>{header_actions}</tr>
{"".join(rows)}
</table></body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def write_picture(matrix: AccessMatrix, path: Path, expected: Mapping[CellKey, bool] | None = None) -> Path:
    """PNG or HTML, by the file's suffix."""
    if path.suffix.lower() == ".png":
        return write_png(matrix, path, expected)
    if path.suffix.lower() in (".html", ".htm"):
        return write_html(matrix, path, expected)
    raise ValueError(f"{path}: the picture must be a .png or an .html file")

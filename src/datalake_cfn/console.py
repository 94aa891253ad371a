"""Rich consoles shared by the CLI and the local lake (stdout for results, stderr for talk).

Every table printed here folds long cells instead of cutting them: bucket names, keys and
access letters are what a user copies, so a narrow terminal wraps them onto the next line but
never ends them in an ellipsis. When stdout is not a terminal (a pipe, a file, CI) the output is
plain: no colour, ASCII borders, and, unless COLUMNS says otherwise, no width limit, so `grep`
finds a whole key on one line.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

PIPE_WIDTH = 400  # off a terminal without COLUMNS: wide enough that no identifier folds


def readable(table: Table, plain: bool) -> Table:
    """Make every column of `table` fold (never cut) its cells; ASCII borders when `plain`."""
    for column in table.columns:
        column.overflow = "fold"
        column.no_wrap = False
    if isinstance(table.title, str) and table.min_width is None:  # a narrow table must not wrap its title
        table.min_width = Text.from_markup(table.title).cell_len
    if plain:
        table.box = box.ASCII
    return table


class LakeConsole(Console):
    """A Console whose tables always fold, and which prints plainly when not on a terminal."""

    def __init__(self, stderr: bool = False) -> None:
        stream = sys.stderr if stderr else sys.stdout
        terminal = stream.isatty()
        width = None if terminal or os.environ.get("COLUMNS", "").isdigit() else PIPE_WIDTH
        self.unbounded = width is not None
        super().__init__(stderr=stderr, width=width, no_color=not terminal, highlight=terminal)

    def rule(self, title: Any = "", **kwargs: Any) -> None:  # type: ignore[override]
        """Off a terminal without a width, a rule is a short plain line, not PIPE_WIDTH dashes."""
        if not self.unbounded:
            return super().rule(title, **kwargs)
        super().print(f"== {title} ==" if title else "==", highlight=False, soft_wrap=True)
        return None

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        plain = not self.is_terminal
        super().print(*(readable(o, plain) if isinstance(o, Table) else o for o in objects), **kwargs)


console = LakeConsole()
err_console = LakeConsole(stderr=True)


def print_json(data: Any) -> None:
    """Machine-readable output of `--json`: one JSON document on stdout, nothing else.

    Written with plain `print`, not Rich, so no markup, wrapping or highlighting can touch it.
    """
    print(json.dumps(data, indent=2, default=str))


def human_size(n: float) -> str:
    """Bytes as people read them in a table (binary units, one decimal)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)

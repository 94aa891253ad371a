"""Reading the CLI's plain (not-a-terminal) tables back: ASCII borders, `|` between columns.

A folded cell continues on the next physical line of the same column, so a column's text is the
concatenation of its fragments: a whole key that was folded is a substring of it again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

BORDER = re.compile(r"^\+-+\+$")
HEADER_RULE = re.compile(r"^\|[-+|]+\|$")


@dataclass
class AsciiTable:
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # physical lines, cells stripped

    def column(self, name: str) -> list[str]:
        """The cells of the column `name` (spaces ignored: a folded header may gain or lose one)."""
        index = [h.replace(" ", "") for h in self.headers].index(name.replace(" ", ""))
        return [row[index] for row in self.rows]

    def joined(self, name: str) -> str:
        """Every fragment of the column, in order, without separators (folded cells whole again)."""
        return "".join(self.column(name))

    def records(self) -> list[dict[str, str]]:
        """One dict per physical line (the logical rows, when nothing folded)."""
        return [dict(zip(self.headers, row, strict=True)) for row in self.rows]

    def record(self, **match: str) -> dict[str, str]:
        """The one physical line whose cells equal `match` (keys: headers)."""
        found = [r for r in self.records() if all(r.get(k.replace("_", " ")) == v for k, v in match.items())]
        assert len(found) == 1, f"{match} matches {len(found)} rows of {self.headers}: {self.rows}"
        return found[0]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip()[1:-1].split("|")]


def parse_tables(text: str) -> list[AsciiTable]:
    """Every ASCII table in `text`, headers (folded header fragments joined) and rows."""
    tables: list[AsciiTable] = []
    current: AsciiTable | None = None
    header_lines: list[list[str]] = []
    in_header = False
    for raw in text.splitlines():
        line = raw.strip()
        if BORDER.match(line):
            if current is None:
                current, header_lines, in_header = AsciiTable(), [], True
            else:
                if in_header:  # a table without a header row: what we took for headers are rows
                    current.rows, header_lines = header_lines, []
                tables.append(current)
                current = None
            continue
        if current is None or not line.startswith("|"):
            continue
        if HEADER_RULE.match(line):
            current.headers = [" ".join(p for p in parts if p).strip() for parts in zip(*header_lines, strict=True)]
            current.headers = [re.sub(r"\s+", " ", h) for h in current.headers]
            in_header = False
            continue
        (header_lines if in_header else current.rows).append(_cells(line))
    return tables

"""Generic reports: tables and lines that any source or destination hands back, rendered on the stderr console
or as GitHub-flavoured markdown. Nothing here knows a concrete source or destination."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text


@dataclass(slots=True, frozen=True)
class Table:
    """A titled table of text cells, with summary lines after it. Columns named in `right` are right-aligned."""

    title: str
    headings: tuple[str, ...]
    rows: Sequence[Sequence[str]] = ()
    lines: Sequence[str] = ()
    right: frozenset[str] = frozenset()


def printable(text: str) -> str:
    """Text for a terminal: control characters (an ESC that starts a terminal escape sequence, a CR that rewrites
    the line) shown as `\\x1b`-style escapes, so a hostile model or team name cannot drive the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else ascii(c)[1:-1] for c in text)


def render_table(table: Table, console: Console) -> None:
    """Print a table and its lines on the console (stderr); names from the data never reach it raw (`printable`),
    nor are they read as rich markup."""
    rich_table = RichTable(title=Text(printable(table.title)), title_justify="left")
    for heading in table.headings:
        rich_table.add_column(heading, justify="right" if heading in table.right else "left")
    for row in table.rows:
        rich_table.add_row(*(Text(printable(cell)) for cell in row))
    console.print(rich_table)
    for line in table.lines:
        console.print(printable(line), markup=False, highlight=False)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table_markdown(table: Table, *, title: bool = True) -> str:
    """A table as markdown (cells escaped so a name cannot break it), with its lines after it."""
    align = ["---:" if h in table.right else "---" for h in table.headings]
    lines = [f"### {table.title}", ""] if title else []
    lines += [f"| {' | '.join(table.headings)} |", f"|{'|'.join(align)}|"]
    lines += [f"| {' | '.join(_cell(c) for c in row)} |" for row in table.rows]
    lines += ["", *table.lines] if table.lines else []
    return "\n".join(lines)


def tables_markdown(tables: Sequence[Table]) -> str:
    return "\n\n".join(table_markdown(t) for t in tables)

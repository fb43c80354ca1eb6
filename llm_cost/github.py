"""GitHub Actions niceties, active when GITHUB_ACTIONS=true: step outputs, a markdown step summary, and
`::error::` / `::warning::` annotations (on stderr, which the runner reads too; stdout stays data only)."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from llm_cost.reports import Table, table_markdown


def in_actions() -> bool:
    """True inside a GitHub Actions job."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _escape(text: str) -> str:
    """Workflow-command data escaping, so a message cannot end the command or inject another."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def annotate(level: str, message: str, stream: TextIO | None = None) -> None:
    """Emit `::error::` or `::warning::` for the job's annotations."""
    (stream or sys.stderr).write(f"::{level}::{_escape(message)}\n")


def write_outputs(values: Mapping[str, str]) -> None:
    """Append step outputs to $GITHUB_OUTPUT, with random heredoc delimiters so no value can forge another."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    with Path(target).open("a", encoding="utf-8") as handle:
        for name, value in values.items():
            delimiter = f"LLM_COST_{secrets.token_hex(8)}"
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def append_summary(markdown: str) -> None:
    """Append markdown to $GITHUB_STEP_SUMMARY."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip("\n") + "\n\n")


def summary_markdown(
    title: str,
    totals: str,
    tables: Sequence[Table],
    period: tuple[str | None, str | None] = (None, None),
    chart: str = "",
) -> str:
    """A run's totals line (in bold) and period, its tables (those with rows), and a chart after them (markdown
    such as `charts.mermaid` makes; none when empty), as markdown."""
    when = f" for `{period[0]}` – `{period[1]}`" if period[0] else ""
    parts = [f"### {title}", "", f"**{totals}**{when}", ""]
    parts += [table_markdown(t, title=False) + "\n" for t in tables if t.rows]
    parts += [chart] if chart else []
    return "\n".join(parts)

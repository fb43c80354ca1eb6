"""GitHub Actions niceties, active when GITHUB_ACTIONS=true: step outputs, a markdown step summary, and
`::error::` / `::warning::` annotations (on stderr, which the runner reads too; stdout stays data only)."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

from llm_cost.focus.mapping import format_decimal
from llm_cost.sinks.preview import Summary, Totals
from llm_cost.sinks.vantage import UploadResult


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


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(heading: str, items: Mapping[str, Totals], currency: str) -> str:
    lines = [f"| {heading} | Rows | Tokens | Cost ({currency}) |", "|---|---:|---:|---:|"]
    lines += [f"| {_cell(name)} | {t.rows} | {t.tokens:,} | {format_decimal(t.cost)} |" for name, t in sorted(items.items())]
    return "\n".join(lines)


def summary_markdown(summary: Summary, title: str) -> str:
    """Totals by model, provider and team, as markdown tables."""
    period = f" for `{summary.period_start}` – `{summary.period_end}`" if summary.period_start else ""
    parts = [f"### {title}", "",
             f"**{summary.rows} rows, total cost {format_decimal(summary.total_cost)} {summary.currency}**{period}", ""]  # fmt: skip
    for heading, items in (("Model", summary.by_model), ("Provider", summary.by_provider), ("Team", summary.by_team)):
        if items:
            parts += [_table(heading, items, summary.currency), ""]
    return "\n".join(parts)


def upload_markdown(results: Iterable[tuple[str, UploadResult]]) -> str:
    """One line per uploaded period: files, rows, cost, tokens and what was replaced."""
    lines = ["### llm-cost upload to Vantage", "", "| Period source | Files | Rows | Cost | Upload tokens | Replaced |",
             "|---|---:|---:|---:|---|---:|"]  # fmt: skip
    for source, result in results:
        tokens = ", ".join(f"`{u.get('token')}`" for u in result.uploaded) or ("dry run" if result.dry_run else "")
        replaced = "kept (append)" if result.replaced is None else str(len(result.replaced))
        lines.append(f"| {_cell(source)} | {len(result.parts)} | {result.rows} | {format_decimal(result.cost)} | "
                     f"{tokens} | {replaced} |")  # fmt: skip
    return "\n".join(lines)

"""dry-run: a rich table of the rows and totals by model, provider and team, on stderr; or a JSON summary."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from llm_cost.focus.mapping import FocusRow, format_decimal
from llm_cost.sinks.vantage import UploadResult
from llm_cost.sources.litellm.reconcile import Difference

NONE_LABEL = "(none)"


@dataclass(slots=True)
class Totals:
    """Rows, tokens and cost of one slice."""

    rows: int = 0
    tokens: int = 0
    cost: Decimal = Decimal(0)


@dataclass(slots=True)
class Summary:
    """Running totals over FOCUS rows. It reads only FOCUS columns, so it works for every source."""

    rows: int = 0
    total_cost: Decimal = Decimal(0)
    currency: str = "USD"
    period_start: str | None = None
    period_end: str | None = None
    by_model: dict[str, Totals] = field(default_factory=lambda: defaultdict(Totals))
    by_provider: dict[str, Totals] = field(default_factory=lambda: defaultdict(Totals))
    by_team: dict[str, Totals] = field(default_factory=lambda: defaultdict(Totals))

    def write(self, row: FocusRow) -> None:
        """Fold one row in (a sink, like CsvSink)."""
        cost = Decimal(row["BilledCost"] or "0")
        tokens = int(Decimal(row["ConsumedQuantity"] or "0")) if row.get("ConsumedUnit") == "Tokens" else 0
        self.rows += 1
        self.total_cost += cost
        self.currency = row.get("BillingCurrency") or self.currency
        start, end = row.get("ChargePeriodStart"), row.get("ChargePeriodEnd")
        if start and (self.period_start is None or start < self.period_start):
            self.period_start = start
        if end and (self.period_end is None or end > self.period_end):
            self.period_end = end
        model = row.get("x_Model") or row.get("SkuId") or NONE_LABEL
        team = row.get("SubAccountName") or row.get("SubAccountId") or NONE_LABEL
        for slices, key in ((self.by_model, model), (self.by_provider, row.get("ProviderName") or NONE_LABEL),
                            (self.by_team, team)):  # fmt: skip
            totals = slices[key]
            totals.rows += 1
            totals.tokens += tokens
            totals.cost += cost

    def to_json(self) -> dict[str, Any]:
        """A machine-readable summary; money as decimal strings, never floats."""

        def slices(items: dict[str, Totals]) -> list[dict[str, Any]]:
            return [{"name": k, "rows": v.rows, "tokens": v.tokens, "cost": format_decimal(v.cost)}
                    for k, v in sorted(items.items())]  # fmt: skip

        return {
            "rows": self.rows,
            "total_cost": format_decimal(self.total_cost),
            "currency": self.currency,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "by_model": slices(self.by_model),
            "by_provider": slices(self.by_provider),
            "by_team": slices(self.by_team),
        }


def render(summary: Summary, console: Console, title: str = "llm-cost dry-run") -> None:
    """Print the totals tables and the row count and total cost."""
    for heading, items in (("Model", summary.by_model), ("Provider", summary.by_provider), ("Team", summary.by_team)):
        table = Table(title=f"{title}: by {heading.lower()}", title_justify="left")
        table.add_column(heading)
        table.add_column("Rows", justify="right")
        table.add_column("Tokens", justify="right")
        table.add_column(f"Cost ({summary.currency})", justify="right")
        for name, totals in sorted(items.items()):
            table.add_row(name, str(totals.rows), f"{totals.tokens:,}", format_decimal(totals.cost))
        console.print(table)
    period = f" for [{summary.period_start}, {summary.period_end})" if summary.period_start else ""
    console.print(f"{summary.rows} rows, total cost {format_decimal(summary.total_cost)} {summary.currency}{period}")


def render_upload(result: UploadResult, console: Console, *, source: str) -> None:
    """The upload summary: files, rows, bytes, cost, Vantage's tokens, and what was (or would be) replaced."""
    verb = "would upload" if result.dry_run else "uploaded"
    table = Table(title=f"Vantage upload of {source} (run {result.run_id})", title_justify="left")
    for heading, justify in (("File", "left"), ("Rows", "right"), ("Bytes", "right"), ("Cost", "right"),
                             ("Upload token", "left")):  # fmt: skip
        table.add_column(heading, justify=justify)  # type: ignore[arg-type]
    tokens = [str(u.get("token", "")) for u in result.uploaded]
    for index, part in enumerate(result.parts):
        token = tokens[index] if index < len(tokens) else ("(dry run)" if result.dry_run else "")
        table.add_row(part.filename, str(part.rows), f"{part.size:,}", format_decimal(part.cost), token)
    console.print(table)
    console.print(f"{verb} {len(result.parts)} file(s), {result.rows} rows, {result.size:,} bytes, "
                  f"total cost {format_decimal(result.cost)}", markup=False, highlight=False)  # fmt: skip
    replaced_verb = "would replace" if result.dry_run else "replaced (deleted)"
    if result.replaced is None:
        note = "append mode: earlier uploads are kept" if result.append else "no credentials: earlier uploads not listed"
        console.print(note, markup=False, highlight=False)
    elif result.replaced:
        names = ", ".join(f"{u.get('filename')} ({u.get('token')})" for u in result.replaced)
        console.print(f"{replaced_verb} {len(result.replaced)} earlier upload(s): {names}", markup=False, highlight=False)
    else:
        console.print("no earlier llm-cost upload of this period to replace", markup=False, highlight=False)


def render_reconcile(differences: list[Difference], console: Console) -> None:
    """The --reconcile table: spend per day (and per day x model) from both endpoints, and the difference."""
    table = Table(title="reconcile: /spend/logs vs /user/daily/activity", title_justify="left")
    for heading in ("Day", "Model", "spend-logs", "daily-activity", "Difference", ""):
        table.add_column(heading, justify="left" if heading in ("Day", "Model", "") else "right")
    for d in differences:
        table.add_row(d.day, d.model or "(all)", format_decimal(d.spend_logs), format_decimal(d.daily_activity),
                      format_decimal(d.difference), "ok" if d.within else "MISMATCH")  # fmt: skip
    console.print(table)

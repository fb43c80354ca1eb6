"""How `check` shows its verdict: a findings table on stderr, `--json` on stdout (decimals as strings), and inside
GitHub Actions a step summary, step outputs and `::error::` / `::warning::` annotations; and the exit code."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from llm_cost import charts, github
from llm_cost.charts import DaySeries
from llm_cost.errors import BudgetExceeded, LlmCostError, PolicyViolation, SpikeDetected
from llm_cost.fanout import SourceFailure, keep_going_error
from llm_cost.formats import format_decimal
from llm_cost.guard.judge import Finding, Kind, deciding_kind, ordered
from llm_cost.guard.ledger import ZERO, exact_sum
from llm_cost.output import Output
from llm_cost.reports import Table, render_table, table_markdown

if TYPE_CHECKING:
    from llm_cost.guard.run import CheckOptions

ERRORS: dict[Kind, type[LlmCostError]] = {
    "policy": PolicyViolation,
    "budget": BudgetExceeded,
    "spike": SpikeDetected,
}
NOUNS: dict[Kind, tuple[str, str]] = {
    "policy": ("policy violation", "policy violations"),
    "budget": ("budget exceeded", "budgets exceeded"),
    "spike": ("spike", "spikes"),
}
MONEY = "Spend"
QUARTER_CENT = Decimal("0.0001")


def _money(value: Decimal | None) -> str | None:
    return format_decimal(value) if value is not None else None


@dataclass(slots=True)
class CheckReport:
    """Everything `check` found, with the days it judged (and the baseline days read before them for spikes), the
    rows read, the judged days' spend per cost kind, how much each judge checked, notes, and the sources a
    --keep-going run left out."""

    findings: Sequence[Finding]
    days: tuple[date, ...]
    options: CheckOptions
    baseline: tuple[date, ...] = ()
    rows: int = 0
    cost: dict[str, Decimal] = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failures: list[SourceFailure] = field(default_factory=list)
    chart: DaySeries | None = None  # spend per day (baseline days included) by model or team, for the pictures
    chart_title: str = ""

    @property
    def status(self) -> str:
        """`fail` (a failing finding, or a missing source), `warn` (warnings or new spend only) or `ok`."""
        if self.failures or any(f.status == "fail" for f in self.findings):
            return "fail"
        return "warn" if any(f.status in ("warn", "new") for f in self.findings) else "ok"

    def error(self) -> LlmCostError | None:
        """The error to exit with: the deciding kind's (policy 8, over budget 7, over spike 9), else exit 4 for
        sources a --keep-going run left out, else None. Warnings alone never fail."""
        kind = deciding_kind(self.findings)
        if kind is not None:
            missing = f"; without {len(self.failures)} failed source(s)" if self.failures else ""
            return ERRORS[kind](f"check failed: {self.counts()}{missing} (exit {ERRORS[kind].exit_code}: {kind})")
        if self.failures:
            return keep_going_error(self.failures, "checked the other sources and found nothing failing")
        return None

    @property
    def exit_code(self) -> int:
        error = self.error()
        return error.exit_code if error is not None else 0

    def counts(self) -> str:
        """`1 policy violation, 2 budgets exceeded, 3 warnings` (only the counts that are not zero)."""
        failed = Counter(f.kind for f in self.findings if f.status == "fail")
        parts = [f"{failed[kind]} {NOUNS[kind][failed[kind] != 1]}" for kind in ERRORS if failed[kind]]
        warned = sum(1 for f in self.findings if f.status == "warn")
        new = sum(1 for f in self.findings if f.status == "new")
        parts += [f"{warned} warning{'s' if warned != 1 else ''}"] if warned else []
        parts += [f"{new} new value{'s' if new != 1 else ''} above the spike floor"] if new else []
        return ", ".join(parts) or "nothing found"

    def window_label(self) -> str:
        first, last = self.days[0], self.days[-1]
        return first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"

    def headline(self) -> str:
        """`check failed for 2025-06-09: 1 spike (...)` or `check passed for ...: 2 warnings`."""
        verdict = "failed" if self.status == "fail" else "passed"
        judged = ", ".join(f"{count} {what}" for what, count in self._judged())
        return f"check {verdict} for {self.window_label()}: {self.counts()}" + (f" (judged {judged})" if judged else "")

    def _judged(self) -> list[tuple[str, int]]:
        labels = {"policy": "model(s)", "budget": "limit value-period(s)", "spike": "team/key/model day(s)"}
        return [(labels[kind], count) for kind, count in self.checked.items()]

    def table(self, *, exact: bool = True) -> Table:
        """The findings (failures first), with the notes after them. Amounts are exact, or (`exact` False, for an
        80-column log) rounded to 4 decimals; the JSON keeps them exact."""
        mixed = len({f.cost for f in self.findings if f.cost in ("actual", "estimate")}) > 1
        money = format_decimal if exact else _rounded
        rows = []
        for f in ordered(self.findings):
            value = "all" if f.scope == "total" else (f.value or "-")
            cells = [f.status.upper() if f.status == "fail" else f.status, f.kind]
            cells += [f.cost] if mixed else []
            cells += [f.scope, value, f.span.describe(), money(f.spend), _limit_cell(f, money)]
            rows.append(tuple(cells))
        headings = ("Status", "Kind", *(("Cost",) if mixed else ()), "Scope", "Value", "Period", MONEY, "Limit")
        costs = ", ".join(f"{kind} {format_decimal(cost)} USD" for kind, cost in sorted(self.cost.items()))
        lines = [f"spend on the judged days: {costs or 'none'}; {self.rows} rows read"]
        lines += [] if exact else ["amounts are rounded to 4 decimals here; --json has them exact"]
        lines += [f"note: {note}" for note in self.notes]
        lines += [f"missing source: {failure}" for failure in self.failures]
        return Table("llm-cost check (USD)", headings, rows, lines, frozenset({MONEY, "Limit"}))

    def to_json(self) -> dict[str, Any]:
        """The machine-readable verdict; money as decimal strings, never floats."""
        spikes = self.options.spike_factor is not None
        end = self.days[-1] + timedelta(days=1)
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "window": {"start": self.days[0].isoformat(), "end": end.isoformat(), "days": len(self.days)},
            "baseline": {
                "start": self.baseline[0].isoformat(),
                "end": self.days[0].isoformat(),
                "days": len(self.baseline),
                "spike_factor": _money(self.options.spike_factor),
                "spike_floor": _money(self.options.spike_floor),
            }
            if spikes and self.baseline
            else None,
            "warn_at_pct": format_decimal(self.options.warn_at),
            "rows_read": self.rows,
            "cost": {kind: format_decimal(cost) for kind, cost in sorted(self.cost.items())},
            "checked": dict(self.checked),
            "findings": [_finding_json(f) for f in ordered(self.findings)],
            "notes": list(self.notes),
            "failed_sources": [failure.label for failure in self.failures],
        }


def _rounded(value: Decimal) -> str:
    """An amount for a narrow log: rounded (half even) to 4 decimals, with at least 2."""
    text = format_decimal(value.quantize(QUARTER_CENT))
    return text + "0" * max(0, 2 - len(text.partition(".")[2]))


def _limit_cell(f: Finding, money: Callable[[Decimal], str]) -> str:
    """A budget's maximum, a spike's factor times its median, or the policy rule broken."""
    if f.kind == "budget":
        return money(f.limit) if f.limit is not None else ""
    if f.kind == "spike":
        if f.status == "new":
            return "no history"
        return f"{format((f.factor or ZERO).normalize(), 'f')}x {money(f.baseline or ZERO)}"
    return f.rule.removeprefix("[policy] ")


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "status": f.status,
        "cost": f.cost,
        "scope": f.scope,
        "value": f.value,
        "value_id": f.value_id,
        "period": f.span.label,
        "period_start": f.span.start.isoformat(),
        "period_end": f.span.end.isoformat(),
        "period_days": f.span.days,
        "covered_days": f.span.covered,
        "spend": format_decimal(f.spend),
        "limit": _money(f.limit),
        "warn_at": _money(f.warn_at),
        "baseline": _money(f.baseline),
        "rule": f.rule,
        "message": f.message,
    }


def show(report: CheckReport, out: Output, *, as_json: bool) -> str | None:
    """The table on stderr (unless -q); inside GitHub Actions the annotations, the step summary and the step
    outputs. Returns the JSON text for stdout with `as_json`."""
    picture = charts.rich_chart(report.chart, report.chart_title) if report.chart is not None else None
    if not out.quiet:
        render_table(report.table(exact=False), out.console)
        if picture is not None and not as_json:
            out.console.print(picture)
    table = report.table()
    if github.in_actions():
        for finding in ordered(report.findings):
            if finding.status == "fail":
                github.annotate("error", finding.message)
            elif finding.status in ("warn", "new"):
                github.annotate("warning", finding.message)
        mermaid = charts.mermaid(report.chart, report.chart_title) if report.chart is not None else ""
        github.append_summary(
            f"### llm-cost check\n\n**{report.headline()}**\n\n"
            + table_markdown(table, title=False)
            + (f"\n\n{mermaid}" if mermaid else "")
        )
        total = exact_sum(report.cost.values())
        github.write_outputs(
            {
                "csv-path": "",
                "rows": str(report.rows),
                "total-cost": format_decimal(total),
                "check-status": report.status,
                "check-exit-code": str(report.exit_code),
                "check-findings": json.dumps(
                    [_finding_json(f) for f in ordered(report.findings) if f.status != "ok"], sort_keys=True
                ),
            }
        )
    return json.dumps(report.to_json(), indent=2) if as_json else None

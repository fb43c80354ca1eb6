"""The run summary (a destination): totals by source, model, provider and sub-account (the chargeback key), per UTC
day by model and sub-account, and estimates against actuals; the dry-run tables and chart on stderr, or JSON."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, NamedTuple, cast

from rich.console import Console

from llm_cost import charts
from llm_cost.focus.rowset import VARYING, FocusRow, RowSet, derived_key
from llm_cost.formats import format_decimal, percent_change
from llm_cost.reports import Table, render_table
from llm_cost.sinks.interface import Destination

NONE_LABEL = "(none)"
ESTIMATE, ACTUAL = "estimate", "actual"
PERCENT = Decimal("0.1")
ChartBy = Literal["model", "team", "none"]  # the per-day chart's series: models, sub-accounts (`team`), or no chart


@dataclass(slots=True)
class Totals:
    """Rows, tokens and cost of one slice."""

    rows: int = 0
    tokens: int = 0
    cost: Decimal = Decimal(0)
    list_cost: Decimal = Decimal(0)

    def add(self, other: Totals) -> None:
        self.rows += other.rows
        self.tokens += other.tokens
        self.cost += other.cost
        self.list_cost += other.list_cost


class _Facts(NamedTuple):
    """What a row is filed under in the summary (everything but its amounts), read from its columns."""

    model: str
    provider: str
    sub_account: str
    sub_account_type: str | None
    has_sub_account_id: bool
    kind: str
    source: str | None
    currency: str | None
    tokens: bool  # ConsumedQuantity counts tokens


def _facts(row: Mapping[str, str | None]) -> _Facts:
    return _Facts(
        row.get("x_Model") or row.get("SkuId") or NONE_LABEL,
        row.get("ProviderName") or NONE_LABEL,
        row.get("SubAccountName") or row.get("SubAccountId") or NONE_LABEL,
        row.get("SubAccountType") or None,
        bool(row.get("SubAccountId")),
        ESTIMATE if row.get("x_CostSource") == "estimated" else ACTUAL,
        row.get("x_Source") or None,
        row.get("BillingCurrency"),
        row.get("ConsumedUnit") == "Tokens",
    )


def _amounts(cost: str | None, listed: str | None, quantity: str | None) -> tuple[Decimal, Decimal, int]:
    """A row's BilledCost, ListCost and ConsumedQuantity (whole units) as numbers."""
    whole = (quantity or "0").partition(".")[0]
    units = int(whole) if whole.lstrip("-").isdecimal() else int(Decimal(quantity or "0"))  # fixed point: its digits
    return Decimal(cost or "0"), Decimal(listed or "0"), units


_FACTS_KEY = derived_key("summary")
_COST, _LIST, _QUANTITY, _START, _END = (
    VARYING.index(c) for c in ("BilledCost", "ListCost", "ConsumedQuantity", "ChargePeriodStart", "ChargePeriodEnd")
)


@dataclass(slots=True)
class Summary(Destination):
    """Running totals over FOCUS rows (the dry-run preview, and every run's summary). It reads only FOCUS columns,
    so it works for every source."""

    rows: int = 0
    total_cost: Decimal = Decimal(0)
    list_cost: Decimal = Decimal(0)  # ListCost: the reported spend before negotiated rates
    currency: str = "USD"
    period_start: str | None = None
    period_end: str | None = None
    by_model: dict[str, Totals] = field(default_factory=lambda: defaultdict(Totals))
    by_provider: dict[str, Totals] = field(default_factory=lambda: defaultdict(Totals))
    by_sub_account: dict[str, Totals] = field(default_factory=lambda: defaultdict(Totals))
    sub_account_types: set[str] = field(default_factory=set)  # SubAccountType seen: Team, User, Tag cost-center, …
    by_source: dict[str, Totals] = field(default_factory=lambda: defaultdict(Totals))  # labelled runs only
    # (estimate or actual, model) and (estimate or actual, sub-account): for `dry-run --compare`.
    by_kind_model: dict[tuple[str, str], Totals] = field(default_factory=lambda: defaultdict(Totals))
    by_kind_sub_account: dict[tuple[str, str], Totals] = field(default_factory=lambda: defaultdict(Totals))
    # Billed cost per (UTC day, model) and (UTC day, sub-account), the day being ChargePeriodStart's: for the charts.
    by_day_model: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    by_day_sub_account: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    # The Totals each filing adds to, found once per distinct filing (the objects in the dicts above).
    _filed: dict[_Facts, list[Totals]] = field(default_factory=dict, repr=False, compare=False)

    def write(self, row: FocusRow) -> None:
        """Fold one row in (a sink, like CsvSink)."""
        cost = row["BilledCost"]
        amounts = _amounts(cost, row.get("ListCost") or cost, row.get("ConsumedQuantity"))
        self._add(_facts(row), row.get("ChargePeriodStart"), row.get("ChargePeriodEnd"), 1, *amounts)

    def write_group(self, rows: RowSet) -> None:
        """Fold a group's rows in: what a row is filed under is read once per row shape; rows filed alike (a group's
        token types, usually) are summed before they are added."""
        filed: tuple[_Facts, str | None, str | None] | None = None
        count = tokens = 0
        cost = listed = Decimal(0)
        for shape, values in zip(rows.shapes, rows.values, strict=True):
            facts = shape.derived.get(_FACTS_KEY)
            if facts is None:
                facts = shape.derived[_FACTS_KEY] = _facts(shape.values)
            these = (cast(_Facts, facts), values[_START], values[_END])
            if these != filed:
                if filed is not None:
                    self._add(*filed, count, cost, listed, tokens)
                filed, count, tokens, cost, listed = these, 0, 0, Decimal(0), Decimal(0)
            row_cost, row_listed, row_tokens = _amounts(
                values[_COST], values[_LIST] or values[_COST], values[_QUANTITY]
            )
            count += 1
            cost += row_cost
            listed += row_listed
            tokens += row_tokens
        if filed is not None:
            self._add(*filed, count, cost, listed, tokens)

    def _add(
        self, facts: _Facts, start: str | None, end: str | None, rows: int, cost: Decimal, listed: Decimal, tokens: int
    ) -> None:
        """Add `rows` rows filed under `facts` in the charge period [start, end), with their cost, list cost and
        tokens (which count where the rows are measured in tokens)."""
        tokens = tokens if facts.tokens else 0
        self.rows += rows
        self.total_cost += cost
        self.list_cost += listed
        self.currency = facts.currency or self.currency
        if start and (self.period_start is None or start < self.period_start):
            self.period_start = start
        if end and (self.period_end is None or end > self.period_end):
            self.period_end = end
        if facts.sub_account_type:
            self.sub_account_types.add(facts.sub_account_type)
        if day := (start or "")[:10]:
            self.by_day_model[(day, facts.model)] += cost
            self.by_day_sub_account[(day, facts.sub_account)] += cost
        filed = self._filed.get(facts)
        if filed is None:
            filed = self._filed[facts] = self._slices(facts)
        for totals in filed:
            totals.rows += rows
            totals.tokens += tokens
            totals.cost += cost
            totals.list_cost += listed

    def _slices(self, facts: _Facts) -> list[Totals]:
        """The totals a row filed under `facts` adds to: by model, provider, sub-account, kind, source."""
        model, sub_account = facts.model, facts.sub_account
        slices: list[tuple[dict[Any, Totals], Any]] = [
            (self.by_model, model),
            (self.by_provider, facts.provider),
            (self.by_sub_account, sub_account),
            (self.by_kind_model, (facts.kind, model)),
        ]
        if facts.has_sub_account_id:
            slices.append((self.by_kind_sub_account, (facts.kind, sub_account)))
        if facts.source:
            slices.append((self.by_source, facts.source))
        return [items[key] for items, key in slices]

    def merge(self, other: Summary) -> Summary:
        """Add another summary's totals to this one (the sources of a labelled run); returns self."""
        self.rows += other.rows
        self.total_cost += other.total_cost
        self.list_cost += other.list_cost
        self.currency = other.currency if other.rows else self.currency
        starts = [s for s in (self.period_start, other.period_start) if s]
        ends = [e for e in (self.period_end, other.period_end) if e]
        self.period_start = min(starts) if starts else None
        self.period_end = max(ends) if ends else None
        self.sub_account_types |= other.sub_account_types
        for mine, theirs in (
            (self.by_model, other.by_model),
            (self.by_provider, other.by_provider),
            (self.by_sub_account, other.by_sub_account),
            (self.by_source, other.by_source),
            (self.by_kind_model, other.by_kind_model),
            (self.by_kind_sub_account, other.by_kind_sub_account),
        ):
            for key, totals in theirs.items():
                mine[key].add(totals)  # type: ignore[index]
        for mine_by_day, theirs_by_day in (
            (self.by_day_model, other.by_day_model),
            (self.by_day_sub_account, other.by_day_sub_account),
        ):
            for day_key, cost in theirs_by_day.items():
                mine_by_day[day_key] += cost
        return self

    def commit(self) -> Summary:
        return self

    @property
    def adjusted(self) -> bool:
        """True when the billed cost differs from the list cost (negotiated rates applied)."""
        return self.list_cost != self.total_cost

    def totals_line(self) -> str:
        """`7 rows, total cost 12.3802 USD`, with the list cost beside it when negotiated rates changed it."""
        line = f"{self.rows} rows, total cost {format_decimal(self.total_cost)} {self.currency}"
        return line + (f" (list {format_decimal(self.list_cost)} {self.currency})" if self.adjusted else "")

    def headline(self) -> str:
        """The totals line and the period: `7 rows, total cost 12.3802 USD for [start, end)`."""
        period = f" for [{self.period_start}, {self.period_end})" if self.period_start else ""
        return self.totals_line() + period

    def tables(self, title: str = "llm-cost dry-run") -> list[Table]:
        """The totals by model, provider and sub-account (the ones with rows); list against billed where they differ."""
        money = (
            (f"List ({self.currency})", f"Billed ({self.currency})") if self.adjusted else (f"Cost ({self.currency})",)
        )

        def amounts(t: Totals) -> tuple[str, ...]:
            return (format_decimal(t.list_cost), format_decimal(t.cost)) if self.adjusted else (format_decimal(t.cost),)

        return [
            Table(
                f"{title}: by {heading.lower()}",
                (heading, "Rows", "Tokens", *money),
                [(n, str(t.rows), f"{t.tokens:,}", *amounts(t)) for n, t in sorted(items.items())],
                right=frozenset({"Rows", "Tokens", *money}),
            )
            for heading, items in (
                ("Source", self.by_source),
                ("Model", self.by_model),
                ("Provider", self.by_provider),
                (self.sub_account_heading, self.by_sub_account),
            )
            if items or heading != "Source"
        ]

    def compare_tables(self, title: str = "llm-cost dry-run") -> list[Table]:
        """Estimates against actuals: per model, and per sub-account where both know it, the estimated and the
        actual cost and the difference in percent of the estimate."""
        money = (f"Estimated ({self.currency})", f"Actual ({self.currency})", "Difference")
        tables = []
        for heading, items in (("Model", self.by_kind_model), (self.sub_account_heading, self.by_kind_sub_account)):
            rows = [(name, *self._compared(items, name)) for name in sorted({name for _, name in items})]
            if heading != "Model":  # a sub-account only where estimates and actuals both name it
                rows = [row for row in rows if (ESTIMATE, row[0]) in items and (ACTUAL, row[0]) in items]
            tables.append(
                Table(
                    f"{title}: estimate vs actual by {heading.lower()}", (heading, *money), rows, right=frozenset(money)
                )
            )
        return tables

    @staticmethod
    def _compared(items: dict[tuple[str, str], Totals], name: str) -> tuple[str, str, str]:
        estimated = items[(ESTIMATE, name)].cost if (ESTIMATE, name) in items else Decimal(0)
        actual = items[(ACTUAL, name)].cost if (ACTUAL, name) in items else Decimal(0)
        return format_decimal(estimated), format_decimal(actual), difference(estimated, actual)

    def day_series(self, by: ChartBy = "model", top: int = charts.TOP) -> charts.DaySeries | None:
        """Spend per UTC day by model or by sub-account (`team`), the top keys by name and the rest as `other`;
        None for `none`."""
        if by == "none":
            return None
        totals = self.by_day_model if by == "model" else self.by_day_sub_account
        return charts.day_series(totals, top, currency=self.currency)

    def chart_title(self, title: str, by: ChartBy = "model") -> str:
        """`llm-cost dry-run: spend per day by model` (by team, by user, … for sub-accounts)."""
        return f"{title}: spend per day by {'model' if by == 'model' else self.sub_account_heading.lower()}"

    @property
    def sub_account_heading(self) -> str:
        """What the sub-accounts are: `Team`, `User`, `Organization`, `Tag cost-center`, or `Sub-account`."""
        return next(iter(self.sub_account_types)) if len(self.sub_account_types) == 1 else "Sub-account"

    def to_json(self) -> dict[str, Any]:
        """A machine-readable summary; money as decimal strings, never floats."""

        def slices(items: dict[str, Totals]) -> list[dict[str, Any]]:
            return [
                {
                    "name": k,
                    "rows": v.rows,
                    "tokens": v.tokens,
                    "cost": format_decimal(v.cost),
                    "list_cost": format_decimal(v.list_cost),
                }
                for k, v in sorted(items.items())
            ]

        def by_day() -> list[dict[str, Any]]:
            days: dict[str, dict[str, list[tuple[str, Decimal]]]] = defaultdict(lambda: defaultdict(list))
            for name, items in (("by_model", self.by_day_model), ("by_sub_account", self.by_day_sub_account)):
                for (day, key), cost in sorted(items.items()):
                    days[day][name].append((key, cost))
            return [
                {
                    "day": day,
                    "cost": format_decimal(sum((cost for _, cost in parts["by_model"]), Decimal(0))),
                    **{
                        name: [{"name": key, "cost": format_decimal(cost)} for key, cost in parts[name]]
                        for name in ("by_model", "by_sub_account")
                    },
                }
                for day, parts in sorted(days.items())
            ]

        labelled = {"by_source": slices(self.by_source)} if self.by_source else {}
        return {
            "rows": self.rows,
            "total_cost": format_decimal(self.total_cost),
            "list_cost": format_decimal(self.list_cost),
            "currency": self.currency,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "by_model": slices(self.by_model),
            "by_provider": slices(self.by_provider),
            "sub_account_type": self.sub_account_heading,
            "by_sub_account": slices(self.by_sub_account),
            **labelled,
            "by_day": by_day(),
        }

    def compare_json(self) -> dict[str, Any]:
        """`dry-run --compare --json`: estimates against actuals, per model and per shared sub-account."""

        def rows(table: Table) -> list[dict[str, str | None]]:
            return [
                {"name": name, "estimated": est, "actual": act, "difference_pct": diff.rstrip("%").lstrip("+")}
                if diff != "n/a"
                else {"name": name, "estimated": est, "actual": act, "difference_pct": None}
                for name, est, act, diff in table.rows
            ]

        by_model, by_sub_account = self.compare_tables()
        return {"by_model": rows(by_model), "by_sub_account": rows(by_sub_account)}


def difference(estimated: Decimal, actual: Decimal) -> str:
    """How far the actual cost is from the estimate, in percent of the estimate (`+12.5%`); `n/a` without one."""
    change = percent_change(estimated, actual)
    return "n/a" if change is None else f"{change.quantize(PERCENT):+}%"


def render(
    summary: Summary,
    console: Console,
    title: str = "llm-cost dry-run",
    *,
    compare: bool = False,
    chart_by: ChartBy = "none",
) -> None:
    """Print the totals tables (with `compare`, estimates against actuals too), the spend per day as a bar chart
    by `chart_by` (for more than one day), and the row count and total cost."""
    for table in summary.tables(title) + (summary.compare_tables(title) if compare else []):
        render_table(table, console)
    series = summary.day_series(chart_by)
    if series is not None and (chart := charts.rich_chart(series, summary.chart_title(title, chart_by))) is not None:
        console.print(chart)
    console.print(summary.headline(), markup=False, highlight=False)

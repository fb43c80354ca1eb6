"""`--reconcile`: compare spend per day and per day x model between the two LiteLLM endpoints."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from llm_cost.formats import format_decimal
from llm_cost.records import UsageRecord
from llm_cost.reports import Table


class SpendTap:
    """Passes records through while summing their spend per day and per day x model."""

    def __init__(self) -> None:
        self.by_day: dict[str, Decimal] = defaultdict(Decimal)
        self.by_day_model: dict[tuple[str, str], Decimal] = defaultdict(Decimal)

        self._lock = threading.Lock()  # partitions are read from several threads

    def add(self, record: UsageRecord) -> None:
        day = record.period_start.date().isoformat()
        with self._lock:
            self.by_day[day] += record.cost
            self.by_day_model[(day, record.model)] += record.cost

    def tap(self, records: Iterable[UsageRecord]) -> Iterator[UsageRecord]:
        for record in records:
            self.add(record)
            yield record

    def tapped(self, partition: Callable[[], Iterable[UsageRecord]]) -> Callable[[], Iterator[UsageRecord]]:
        """A partition whose records pass through the tap."""
        return lambda: self.tap(partition())


@dataclass(slots=True, frozen=True)
class Difference:
    """One compared slice: `model` is empty for a whole day."""

    day: str
    model: str
    spend_logs: Decimal
    daily_activity: Decimal
    within: bool

    @property
    def difference(self) -> Decimal:
        return self.daily_activity - self.spend_logs


def compare(spend_logs: SpendTap, daily: SpendTap, *, tolerance: Decimal, tolerance_pct: Decimal) -> list[Difference]:
    """Every day and day x model, with whether the difference is within max(tolerance, tolerance_pct% of spend)."""

    def within(a: Decimal, b: Decimal) -> bool:
        return abs(a - b) <= max(tolerance, max(abs(a), abs(b)) * tolerance_pct / 100)

    rows = []
    for day in sorted(set(spend_logs.by_day) | set(daily.by_day)):
        a, b = spend_logs.by_day.get(day, Decimal(0)), daily.by_day.get(day, Decimal(0))
        rows.append(Difference(day, "", a, b, within(a, b)))
        models = sorted(
            {m for d, m in spend_logs.by_day_model if d == day} | {m for d, m in daily.by_day_model if d == day}
        )
        for model in models:
            a = spend_logs.by_day_model.get((day, model), Decimal(0))
            b = daily.by_day_model.get((day, model), Decimal(0))
            rows.append(Difference(day, model, a, b, within(a, b)))
    return rows


def differences_table(differences: list[Difference]) -> Table:
    """The --reconcile table: spend per day (and per day x model) from both endpoints, and the difference."""
    rows = [
        (
            d.day,
            d.model or "(all)",
            format_decimal(d.spend_logs),
            format_decimal(d.daily_activity),
            format_decimal(d.difference),
            "ok" if d.within else "MISMATCH",
        )
        for d in differences
    ]
    return Table(
        "reconcile: /spend/logs vs /user/daily/activity",
        ("Day", "Model", "spend-logs", "daily-activity", "Difference", ""),
        rows,
        right=frozenset({"spend-logs", "daily-activity", "Difference"}),
    )

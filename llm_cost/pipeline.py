"""One way through the house: records -> groups -> FOCUS rows -> checks -> sinks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from llm_cost.aggregate import Aggregator, Grain
from llm_cost.focus.checks import RowChecker, check_group_total
from llm_cost.focus.mapping import FocusRow, map_group
from llm_cost.pricing import PriceBook
from llm_cost.records import UsageRecord
from llm_cost.settings import ExportSettings
from llm_cost.sources.manifest import estimate, load_manifest
from llm_cost.tokens import TokenCounter

Warn = Callable[[str], None]


class RowSink(Protocol):
    """Anything that takes FOCUS rows: the CSV writer, the preview summary, later the Vantage batcher."""

    def write(self, row: FocusRow) -> None: ...


@dataclass(slots=True)
class RunResult:
    """What a run produced, for summaries and exit decisions."""

    records: int
    groups: int
    rows: int
    total_cost: Decimal


def write_rows(
    records: Iterable[UsageRecord],
    *,
    prices: PriceBook,
    columns: Sequence[str],
    sinks: Sequence[RowSink],
    grain: Grain = "day",
    split_tokens: bool = True,
) -> RunResult:
    """Aggregate the records, map each group, self-check every row and feed it to every sink.

    Each group's rows must sum exactly to its cost, and the rows to the records' total; a mismatch raises
    VerificationError (exit 6) before the sinks commit anything.
    """
    aggregator = Aggregator(grain).extend(records)
    checker = RowChecker(columns)
    rows = 0
    total = Decimal(0)
    groups = aggregator.groups()
    for group in groups:
        pricing = group.pricing or prices.pricing(group.model, group.provider, group.period_start)
        group_rows = map_group(group, pricing, split_tokens=split_tokens)
        check_group_total(group_rows, group.cost, f"{group.model} {group.period_start:%Y-%m-%d}")
        for row in group_rows:
            checker.check(row)
            for sink in sinks:
                sink.write(row)
        rows += len(group_rows)
        total += group.cost
    return RunResult(aggregator.records, len(groups), rows, total)


def manifest_records(settings: ExportSettings, prices: PriceBook | None, warn: Warn) -> tuple[list[UsageRecord], PriceBook]:
    """Load the manifest and estimate one record per prompt for the charge day."""
    manifest = load_manifest(settings.manifest)
    book = prices or PriceBook(manifest.price_overrides())
    counter = TokenCounter(settings.vocab_dir, warn=warn)
    records = list(
        estimate(manifest, day=settings.date, prices=book, counter=counter,
                 cache_hit_ratio=settings.cache_hit_ratio, warn=warn)  # fmt: skip
    )
    return records, book

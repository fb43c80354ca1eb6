"""One way through the house: records -> groups -> FOCUS rows -> checks -> sinks."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Protocol

from llm_cost.aggregate import Aggregator, Grain
from llm_cost.errors import ConfigError, VerificationError
from llm_cost.focus.checks import RowChecker, check_group_total
from llm_cost.focus.mapping import FocusRow, map_group
from llm_cost.pricing import PriceBook
from llm_cost.records import UsageRecord, exact_money
from llm_cost.settings import ExportSettings
from llm_cost.sources.litellm.client import LiteLLMClient
from llm_cost.sources.litellm.daily_activity import daily_activity_partitions
from llm_cost.sources.litellm.lookups import Lookups
from llm_cost.sources.litellm.reconcile import Difference, SpendTap, compare
from llm_cost.sources.litellm.spend_logs import (
    PullStats,
    RowOptions,
    spend_log_partitions,
)
from llm_cost.sources.manifest import estimate, load_manifest
from llm_cost.tokens import TokenCounter
from llm_cost.window import Window, resolve_window

Warn = Callable[[str], None]


class RowSink(Protocol):
    """Anything that takes FOCUS rows: the CSV writer, the preview summary, the Vantage batcher."""

    def write(self, row: FocusRow) -> None: ...


@dataclass(slots=True)
class RunResult:
    """What a run produced, for summaries and exit decisions."""

    records: int
    groups: int
    rows: int
    total_cost: Decimal


Partition = Callable[[], Iterable[UsageRecord]]


def write_rows(
    records: Iterable[UsageRecord],
    *,
    prices: PriceBook,
    columns: Sequence[str],
    sinks: Sequence[RowSink],
    grain: Grain = "day",
    split_tokens: bool = True,
) -> RunResult:
    """`write_partitions` for a single partition: all the records at once."""
    return write_partitions([lambda: records], prices=prices, columns=columns, sinks=sinks, grain=grain,
                            split_tokens=split_tokens)  # fmt: skip


def write_partitions(
    partitions: Iterable[Partition],
    *,
    prices: PriceBook,
    columns: Sequence[str],
    sinks: Sequence[RowSink],
    grain: Grain = "day",
    split_tokens: bool = True,
    concurrency: int = 1,
) -> RunResult:
    """Aggregate each partition, map each group, self-check every row and feed it to every sink.

    A partition is a thunk that yields the records of one slice of time (a UTC day); partitions come in time order
    and never share a group, so each is aggregated, written and dropped in turn: memory holds the groups of at
    most `concurrency` partitions, however long the window. With `concurrency` > 1 that many partitions are read
    at once in worker threads; the output is the same, in the same order.

    Each group's rows must sum exactly to its cost, and all rows to the records' total; a mismatch raises
    VerificationError (exit 6) before the sinks commit anything.
    """
    exact_money()
    checker = RowChecker(columns)
    records = groups = rows = 0
    total = records_cost = Decimal(0)
    for aggregator in _aggregated(partitions, grain, concurrency):
        records += aggregator.records
        records_cost += aggregator.records_cost
        for group in aggregator.drain():
            groups += 1
            pricing = group.pricing or prices.pricing(group.model, group.provider, group.period_start)
            group_rows = map_group(group, pricing, split_tokens=split_tokens)
            total += check_group_total(group_rows, group.cost, f"{group.model} {group.period_start:%Y-%m-%d}")
            for row in group_rows:
                checker.check(row)
                for sink in sinks:
                    sink.write(row)
            rows += len(group_rows)
        del aggregator  # drained; do not hold it while the next partition is read
    if total != records_cost:
        raise VerificationError(f"FOCUS self-check failed: the rows sum to {total}, the source records to "
                                f"{records_cost} (this is a bug in llm-cost)")  # fmt: skip
    return RunResult(records, groups, rows, total)


class _Stopped(Exception):
    """Raised inside a worker when the run has failed elsewhere."""


def _aggregated(partitions: Iterable[Partition], grain: Grain, concurrency: int) -> Iterator[Aggregator]:
    """Each partition folded into its own Aggregator, in partition order; up to `concurrency` at once."""
    if concurrency <= 1:
        for partition in partitions:
            yield Aggregator(grain).extend(partition())
        return
    stop = threading.Event()

    def fold(partition: Partition) -> Aggregator:
        aggregator = Aggregator(grain)
        for record in partition():
            if stop.is_set():
                raise _Stopped
            aggregator.add(record)
        return aggregator

    pending: deque[Future[Aggregator]] = deque()
    todo = iter(partitions)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="llm-cost-window") as pool:
        try:
            for partition in itertools.islice(todo, concurrency):
                pending.append(pool.submit(fold, partition))
            while pending:
                yield pending.popleft().result()  # not kept in a local: freed once written
                for partition in itertools.islice(todo, 1):  # then the next day takes the written one's place
                    pending.append(pool.submit(fold, partition))
        finally:
            stop.set()  # on an error (or an abandoned generator) the workers stop at their next record
            for future in pending:
                future.cancel()


@dataclass(slots=True)
class SourceRun:
    """An opened source: its records as time-ordered partitions (lazy for LiteLLM: one UTC day each), prices,
    grain and completeness stats."""

    partitions: Iterator[Partition]
    prices: PriceBook
    grain: Grain
    stats: PullStats | None = None
    window: Window | None = None
    client: LiteLLMClient | None = None
    lookups: Lookups | None = None
    label: str = ""

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def open_source(settings: ExportSettings, warn: Warn, *, now: datetime | None = None) -> SourceRun:
    """The records of the configured source: manifest estimates, or a LiteLLM pull over a window."""
    if settings.mode == "manifest":
        if settings.reconcile:
            raise ConfigError("--reconcile compares the two LiteLLM endpoints; use it with --mode spend-logs or daily-activity")
        records, prices = manifest_records(settings, None, warn)
        if not records:
            warn(f"manifest {settings.manifest} lists no prompts; there are no rows")
        return SourceRun(iter([lambda: records]), prices, "day", label=f"manifest {settings.manifest}")
    if settings.mode == "daily-activity" and settings.granularity != "day":
        raise ConfigError(f"--mode daily-activity is per day; --granularity {settings.granularity} needs --mode spend-logs")
    window = resolve_window(start=settings.start, end=settings.end, day=settings.day, month=settings.month,
                            now=now or datetime.now(UTC), include_partial=settings.include_partial)  # fmt: skip
    key = settings.litellm_key.get_secret_value() if settings.litellm_key else None
    client = LiteLLMClient(base_url=settings.litellm_url, api_key=key, ca_bundle=settings.ca_bundle, retry=settings.retry)
    try:
        prices = PriceBook()
        stats = PullStats(version=client.version())
        lookups = Lookups(client, prices)
        lookups.check_admin_scope()
    except BaseException:
        client.close()
        raise
    partitions = _litellm_partitions(settings.mode, client, window, stats, lookups, settings)
    return SourceRun(partitions, prices, settings.granularity, stats, window, client, lookups,
                     f"LiteLLM {settings.mode} {window}")  # fmt: skip


def _litellm_partitions(mode: str, client: LiteLLMClient, window: Window, stats: PullStats, lookups: Lookups,
                        settings: ExportSettings) -> Iterator[Partition]:  # fmt: skip
    """One partition per UTC day of the window (per hour at finer grains of spend-logs), from the chosen endpoint."""
    if mode == "daily-activity":
        return daily_activity_partitions(client, window, stats, lookups, version=stats.version,
                                         include_health_checks=settings.include_health_checks)  # fmt: skip
    options = RowOptions(
        tag_keys=frozenset(settings.tag_keys) if settings.tag_keys else None,
        include_health_checks=settings.include_health_checks,
        master_key_hash=client.key_hash,
    )
    names: dict[str, str] = {}

    def named(records: Iterable[UsageRecord]) -> Iterator[UsageRecord]:
        for record in records:
            name = names.get(record.provider)
            if name is None:
                name = names[record.provider] = lookups.prices.provider_name(record.provider)
            record.provider_name = name
            yield record

    return (partial(lambda part: named(part()), part)
            for part in spend_log_partitions(client, window, stats, options, version=stats.version,
                                             grain=settings.granularity))  # fmt: skip


def reconcile(source: SourceRun, settings: ExportSettings, tapped: SpendTap) -> list[Difference]:
    """Pull the other endpoint for the same window and compare spend per day and per day x model."""
    assert source.client is not None and source.window is not None and source.stats is not None
    assert source.lookups is not None
    other = "daily-activity" if settings.mode == "spend-logs" else "spend-logs"
    other_tap = SpendTap()
    for partition in _litellm_partitions(other, source.client, source.window, PullStats(version=source.stats.version),
                                         source.lookups, settings):  # fmt: skip
        for record in partition():
            other_tap.add(record)
    spend_logs, daily = (tapped, other_tap) if settings.mode == "spend-logs" else (other_tap, tapped)
    return compare(spend_logs, daily, tolerance=settings.tolerance, tolerance_pct=settings.tolerance_pct)


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

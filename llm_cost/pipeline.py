"""The core, one way through the house: a source's partitions of records -> groups -> FOCUS rows -> checks ->
destinations. It knows the source and destination interfaces, never a concrete source or destination."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from llm_cost.aggregate import Aggregator, Granularity
from llm_cost.errors import VerificationError
from llm_cost.focus.checks import RowChecker, check_group_total
from llm_cost.focus.mapping import DEFAULT_MAPPING, FocusRow, MappingOptions, billed_total, map_group
from llm_cost.pricing import PriceBook
from llm_cost.records import exact_money
from llm_cost.sinks.interface import Destination
from llm_cost.sources.interface import Partition, Source, Verification


class RowSink(Protocol):
    """Anything that takes FOCUS rows: the CSV writer, the preview summary, the Vantage batcher."""

    def write(self, row: FocusRow) -> None: ...


@dataclass(slots=True, frozen=True)
class PartitionDone:
    """One partition written: its records, its rows, and the start of its first group (None when it had none)."""

    records: int
    rows: int
    start: datetime | None


@dataclass(slots=True)
class RunResult:
    """What a run produced, for summaries and exit decisions."""

    records: int
    groups: int
    rows: int
    total_cost: Decimal


def write_partitions(
    partitions: Iterable[Partition],
    *,
    prices: PriceBook,
    columns: Sequence[str],
    sinks: Sequence[RowSink],
    grain: Granularity = "day",
    mapping: MappingOptions = DEFAULT_MAPPING,
    concurrency: int = 1,
    on_partition: Callable[[PartitionDone], None] | None = None,
    stop: threading.Event | None = None,
) -> RunResult:
    """Aggregate each partition, map each group, self-check every row and feed it to every sink; `on_partition`
    hears of each finished partition (for progress); `mapping` holds the row choices (token split, chargeback key,
    ServiceName, negotiated rates).

    A partition is a thunk that yields the records of one slice of time (a UTC day); partitions come in time order
    and never share a group, so each is aggregated, written and dropped in turn: memory holds the groups of at
    most `concurrency` partitions, however long the window. With `concurrency` > 1 that many partitions are read
    at once in worker threads; the output is the same, in the same order. Setting `stop` (another source of the
    run failed) ends the run at the next record with `Stopped`.

    Each group's rows must sum exactly to its billed cost (its cost, adjusted), and the groups' costs to the
    records' total; a mismatch raises
    VerificationError (exit 6) before the sinks commit anything.
    """
    exact_money()
    checker = RowChecker(columns)
    records = groups = rows = 0
    total = listed = records_cost = Decimal(0)
    for aggregator in _aggregated(partitions, grain, concurrency, stop or threading.Event()):
        records += aggregator.records
        records_cost += aggregator.records_cost
        partition_rows, start = rows, None
        for group in aggregator.drain():
            groups += 1
            start = start or group.period_start
            pricing = group.pricing or prices.pricing(
                group.model, group.provider, group.period_start, until=group.period_end
            )
            adjustment = mapping.adjustments.for_usage(group.provider, group.model) if mapping.adjustments else None
            group_rows = map_group(
                group,
                pricing,
                split_tokens=mapping.split_tokens,
                sub_account=mapping.sub_account,
                service_name=mapping.service_name,
                adjustment=adjustment,
                source_label=mapping.source_label,
            )
            billed = billed_total(group, adjustment)
            total += check_group_total(group_rows, billed, f"{group.model} {group.period_start:%Y-%m-%d}")
            listed += group.cost
            for row in group_rows:
                checker.check(row)
                for sink in sinks:
                    sink.write(row)
            rows += len(group_rows)
        if on_partition is not None:
            on_partition(PartitionDone(aggregator.records, rows - partition_rows, start))
        del aggregator  # drained; do not hold it while the next partition is read
    if listed != records_cost:
        raise VerificationError(
            f"FOCUS self-check failed: the groups sum to {listed}, the source records to "
            f"{records_cost} (this is a bug in llm-cost)"
        )
    return RunResult(records, groups, rows, total)


class Stopped(Exception):
    """The run was stopped from outside (`stop` set: another source of the run failed), or, inside a worker, the
    run failed elsewhere."""


def _aggregated(
    partitions: Iterable[Partition], grain: Granularity, concurrency: int, stop: threading.Event
) -> Iterator[Aggregator]:
    """Each partition folded into its own Aggregator, in partition order; up to `concurrency` at once. Once `stop`
    (the caller's) or this run's own failure is signalled, every fold ends at its next record."""
    failed = threading.Event()  # this run's own failure stops its workers, not the caller's other runs

    def fold(partition: Partition) -> Aggregator:
        aggregator = Aggregator(grain)
        for record in partition():
            if stop.is_set() or failed.is_set():
                raise Stopped
            aggregator.add(record)
        return aggregator

    if concurrency <= 1:
        for partition in partitions:
            yield fold(partition)
        return
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
            failed.set()  # on an error (or an abandoned generator) the workers stop at their next record
            for future in pending:
                future.cancel()


@dataclass(slots=True)
class Outcome:
    """A finished run: the pipeline's counts, each destination's committed result (in order), the source's
    completeness report and its verification."""

    label: str
    result: RunResult
    committed: list[object]
    report: list[str]
    verification: Verification | None


def run(
    source: Source,
    destinations: Sequence[Destination],
    *,
    columns: Sequence[str],
    mapping: MappingOptions = DEFAULT_MAPPING,
    concurrency: int = 1,
    on_partition: Callable[[PartitionDone], None] | None = None,
    on_report: Callable[[list[str]], None] = lambda lines: None,
    on_verification: Callable[[Verification], None] = lambda verification: None,
    stop: threading.Event | None = None,
) -> Outcome:
    """Read the source into every destination: open them all, write every checked row, hand the source's
    completeness report to `on_report`, let the source verify what it read (`on_verification` gets the result),
    then commit them all. Any failure, a failed verification included (VerificationError, exit 6), aborts them all
    instead, so nothing is written or sent from a failed run."""
    opened: list[Destination] = []
    try:
        for destination in destinations:
            destination.open()
            opened.append(destination)
        result = write_partitions(
            source.partitions(),
            prices=source.prices,
            columns=columns,
            sinks=opened,
            grain=source.grain,
            mapping=mapping,
            concurrency=concurrency,
            on_partition=on_partition,
            stop=stop,
        )
        report = source.report()
        on_report(report)
        verification = source.verify()
        if verification is not None:
            on_verification(verification)
            if verification.failure:
                raise VerificationError(verification.failure)
        committed = [destination.commit() for destination in opened]
    except BaseException:
        for destination in opened:
            destination.abort()
        raise
    return Outcome(source.label, result, committed, report, verification)

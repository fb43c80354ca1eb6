"""The core, one way through the house: a source's partitions of records -> groups -> FOCUS rows -> checks ->
destinations. It knows the source and destination interfaces, never a concrete source or destination."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Protocol

from llm_cost.aggregate import Aggregator, Granularity
from llm_cost.errors import VerificationError
from llm_cost.focus.checks import RowChecker, check_group_total
from llm_cost.focus.mapping import DEFAULT_MAPPING, MappingOptions, RowMapper, billed_total
from llm_cost.focus.rowset import RowSet
from llm_cost.pricing import PriceBook
from llm_cost.records import UsageGroup, UsageRecord, exact_money
from llm_cost.sinks.interface import Destination
from llm_cost.sources.interface import Partition, Source, Verification


class RowSink(Protocol):
    """Anything that takes FOCUS rows a group at a time: the CSV writer, the preview summary, the Vantage batcher."""

    def write_group(self, rows: RowSet) -> None: ...


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
    most `concurrency` partitions, however long the window. With `concurrency` > 1 the first partitions are read one
    at a time while the read is measured; a read that mostly waits on its source then gets that many partitions at
    once in worker threads, one that computes goes on one at a time (`_aggregated`). The output is the same, in the
    same order. Setting `stop` (another source of the run failed) ends the run at the next record with `Stopped`.

    Each group's rows must sum exactly to its billed cost (its cost, adjusted), and the groups' costs to the
    records' total; a mismatch raises
    VerificationError (exit 6) before the sinks commit anything.
    """
    # write_aggregated makes the money exact before it iterates `_aggregated`, whose folds (and threads) start then.
    return write_aggregated(
        _aggregated(partitions, grain, concurrency, stop or threading.Event()),
        prices=prices,
        columns=columns,
        sinks=sinks,
        mapping=mapping,
        on_partition=on_partition,
    )


def write_aggregated(
    aggregators: Iterable[Aggregator],
    *,
    prices: PriceBook,
    columns: Sequence[str],
    sinks: Sequence[RowSink],
    mapping: MappingOptions = DEFAULT_MAPPING,
    on_partition: Callable[[PartitionDone], None] | None = None,
) -> RunResult:
    """The second half of `write_partitions`: drain each partition's aggregator, map each group, check its rows and
    hand them to every sink, then check that the groups sum to the records. The benchmark times it alone."""
    exact_money()
    checker = RowChecker(columns)
    mapper = RowMapper(mapping)
    records = groups = rows = 0
    total = listed = records_cost = Decimal(0)
    for aggregator in aggregators:
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
            group_rows = mapper.rows(group, pricing, adjustment)
            billed = billed_total(group, adjustment)
            total += check_group_total(group_rows, billed, partial(_group_name, group))
            listed += group.cost
            checker.check_set(group_rows)
            for sink in sinks:
                sink.write_group(group_rows)
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


def _group_name(group: UsageGroup) -> str:
    """How a self-check error names a group."""
    return f"{group.model} {group.period_start:%Y-%m-%d}"


class Stopped(Exception):
    """The run was stopped from outside (`stop` set: another source of the run failed), or, inside a worker, the
    run failed elsewhere."""


# A read that spends less than this share of its wall time on the CPU is waiting on the source (a proxy's database
# query): reading more partitions at once hides that wait. Above it, the reader computes, and on the CPython GIL
# more threads only contend for the CPU (slower, and every partition in flight holds its groups in memory).
WAITING_CPU_SHARE = 0.5
PROBE_SECONDS = 0.5  # wall time of reading alone before the choice is made


@dataclass(slots=True)
class ReadProbe:
    """How a source reads, measured while one partition is read alone, in the calling thread: the CPU time and wall
    time of that work. A read that mostly waits gets `concurrency` partitions at once; one that computes keeps one
    (the faster and leaner choice on a CPU-bound read). `cpu_clock` and `wall_clock` are the thread's CPU time and
    the wall clock (injected in tests)."""

    cpu_clock: Callable[[], float] = time.thread_time
    wall_clock: Callable[[], float] = time.perf_counter
    cpu: float = 0.0
    wall: float = 0.0

    def add(self, cpu: float, wall: float) -> None:
        self.cpu += cpu
        self.wall += wall

    def waiting(self) -> bool | None:
        """True when the measured read mostly waits, False when it mostly computes, None until enough is measured."""
        if self.wall < PROBE_SECONDS:
            return None
        return self.cpu < WAITING_CPU_SHARE * self.wall


def _measured_fold(
    records: Iterable[UsageRecord],
    aggregator: Aggregator,
    probe: ReadProbe,
    stopped: Callable[[], bool],
    measured: Callable[[], None],
) -> Aggregator:
    """Fold records while the probe measures the read; every 256 records (and at the end) the probe gets the CPU
    and wall time since, and `measured` is called, so the choice can be made before the partition ends."""
    cpu, wall = probe.cpu_clock(), probe.wall_clock()
    for count, record in enumerate(records, start=1):
        if stopped():
            raise Stopped
        aggregator.add(record)
        if not count & 255:
            now_cpu, now_wall = probe.cpu_clock(), probe.wall_clock()
            probe.add(now_cpu - cpu, now_wall - wall)
            cpu, wall = now_cpu, now_wall
            measured()
    probe.add(probe.cpu_clock() - cpu, probe.wall_clock() - wall)
    measured()
    return aggregator


def _aggregated(
    partitions: Iterable[Partition],
    grain: Granularity,
    concurrency: int,
    stop: threading.Event,
    probe: ReadProbe | None = None,
) -> Iterator[Aggregator]:
    """Each partition folded into its own Aggregator, in partition order. Once `stop` (the caller's) or this run's
    own failure is signalled, every fold ends at its next record.

    With `concurrency` > 1 the partitions are first read one at a time while a `ReadProbe` measures the read; as
    soon as it is known, a read that waits on its source gets up to `concurrency` partitions at once and one that
    computes stays at one. The output is the same either way."""
    failed = threading.Event()  # this run's own failure stops its workers, not the caller's other runs

    def stopped() -> bool:
        return stop.is_set() or failed.is_set()

    def fold(partition: Partition) -> Aggregator:
        aggregator = Aggregator(grain)
        for record in partition():
            if stopped():
                raise Stopped
            aggregator.add(record)
        return aggregator

    if concurrency <= 1:
        for partition in partitions:
            yield fold(partition)
        return
    probe = probe or ReadProbe()
    allowed: int | None = None  # partitions read at once, once the probe has decided
    pending: deque[Future[Aggregator]] = deque()
    todo = iter(partitions)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="llm-cost-window") as pool:

        def decide() -> None:
            """Once the probe can tell: a read that waits starts the next partitions in the pool at once."""
            nonlocal allowed
            verdict = probe.waiting() if allowed is None else None
            if verdict is not None:
                allowed = concurrency if verdict else 1
                for partition in itertools.islice(todo, allowed - 1):
                    pending.append(pool.submit(fold, partition))

        try:
            # Probing, exactly as at --concurrency 1 (read then write, in this thread, one partition in memory), with
            # the reads measured. The first partition is not: it pays the source's one-time lookups and
            # connections, which say nothing of its pages.
            first = next(todo, None)
            if first is None:
                return
            yield fold(first)
            while allowed is None:
                following = next(todo, None)
                if following is None:
                    return  # read to the end before the probe could tell
                yield _measured_fold(following(), Aggregator(grain), probe, stopped, decide)
            if allowed == 1:  # a read that computes: on, as at 1
                for partition in todo:
                    yield fold(partition)
                return
            while True:  # a read that waits: `allowed` partitions in flight, written in order
                for partition in itertools.islice(todo, max(allowed - len(pending), 0)):
                    pending.append(pool.submit(fold, partition))
                if not pending:
                    return
                yield pending.popleft().result()  # not kept in a local: freed once written
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

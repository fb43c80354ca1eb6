"""The pipeline: partitions aggregated one at a time, or several at once when the read waits on its source, with
the same output."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

import pytest

from llm_cost.errors import SourceError
from llm_cost.focus.columns import columns_for
from llm_cost.focus.mapping import FocusRow
from llm_cost.pipeline import Partition, ReadProbe, _aggregated, write_partitions
from llm_cost.pricing import PriceBook
from llm_cost.records import TokenCounts, UsageRecord
from tests.fakes.rows import CollectRows

COLUMNS = columns_for("focus", "1.2")
DAY0 = datetime(2026, 11, 2, tzinfo=UTC)


def _day(index: int, requests: int = 50) -> Partition:
    def records() -> Iterator[UsageRecord]:
        for i in range(requests):
            start = DAY0 + timedelta(days=index, minutes=i * 7)
            yield UsageRecord(
                start,
                start + timedelta(seconds=1),
                "openai",
                ["gpt-4o", "gpt-4o-mini"][i % 2],
                Decimal(f"0.00{i % 9 + 1}7"),
                tokens=TokenCounts(input=100 + i, output=7 * i),
                team_id=f"team-{i % 3}",
                tags={"feature": f"f{i % 4}"},
            )

    return records


def _write(concurrency: int, days: int = 6) -> tuple[list[FocusRow], Decimal, int]:
    sink = CollectRows()
    result = write_partitions(
        [_day(d) for d in range(days)], prices=PriceBook(), columns=COLUMNS, sinks=[sink], concurrency=concurrency
    )
    return sink.rows, result.total_cost, result.records


@pytest.mark.parametrize("concurrency", [2, 4, 16])
def test_concurrency_gives_the_same_rows_in_the_same_order(concurrency: int) -> None:
    rows, total, records = _write(1)
    assert _write(concurrency) == (rows, total, records)
    assert records == 300 and total == sum((Decimal(r["BilledCost"]) for r in rows), Decimal(0))
    starts = [r["ChargePeriodStart"] for r in rows]
    assert starts == sorted(starts)  # partitions are written in time order


def test_a_failing_partition_stops_the_run() -> None:
    started: list[int] = []

    def day(index: int) -> Partition:
        def records() -> Iterator[UsageRecord]:
            started.append(index)
            if index == 1:
                raise SourceError("day 1 failed")
            yield from _day(index)()

        return records

    with pytest.raises(SourceError, match="day 1 failed"):
        write_partitions(
            (day(i) for i in range(20)), prices=PriceBook(), columns=COLUMNS, sinks=[CollectRows()], concurrency=3
        )
    assert len(started) <= 5  # at most the days in flight when the failure was seen


def test_money_sums_are_exact_beyond_28_digits() -> None:
    """Decimal's default context keeps 28 digits; a day of spends with long fractions must not be rounded."""
    spends = [
        Decimal("123456.123456789012345678901234567"),
        Decimal("0.000000000000000000000000000001"),
        Decimal("98765.1"),
    ]
    records = [
        UsageRecord(
            DAY0, DAY0 + timedelta(seconds=1), "openai", "gpt-4o", spend, tokens=TokenCounts(input=10 + i, output=3)
        )
        for i, spend in enumerate(spends)
    ]
    for concurrency in (1, 2):
        sink = CollectRows()
        result = write_partitions(
            [lambda: records], prices=PriceBook(), columns=COLUMNS, sinks=[sink], concurrency=concurrency
        )
        exact = Decimal("222221.223456789012345678901234567001")
        assert result.total_cost == exact
        with localcontext(prec=100):  # the test's own sum must not round either
            assert sum((Decimal(r["BilledCost"]) for r in sink.rows), Decimal(0)) == exact


class _Clocks:
    """A probe's clocks: the wall advances 0.2 s a reading, the CPU `share` of that (the read waits or computes), so
    the probe can tell within the second partition."""

    def __init__(self, share: float) -> None:
        self.share = share
        self.wall = 0.0

    def read_wall(self) -> float:
        self.wall += 0.2
        return self.wall

    def read_cpu(self) -> float:
        return self.wall * self.share


class _Tracked:
    """Partitions that note which thread read them and how many were being read at once."""

    def __init__(self, count: int, *, fail_at: int | None = None, pause: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.running = self.most = 0
        self.threads: list[str] = []
        self.parts = [self._partition(i, fail_at == i, pause) for i in range(count)]

    def _partition(self, index: int, fail: bool, pause: float) -> Partition:
        def records() -> Iterator[UsageRecord]:
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
                self.threads.append(threading.current_thread().name)
            try:
                if fail:
                    raise SourceError(f"day {index} failed")
                for record in _day(index, requests=600)():
                    if pause:
                        time.sleep(pause)
                    yield record
            finally:
                with self.lock:
                    self.running -= 1

        return records


def _fold_all(tracked: _Tracked, share: float, concurrency: int = 4) -> list[int]:
    clocks = _Clocks(share)
    probe = ReadProbe(cpu_clock=clocks.read_cpu, wall_clock=clocks.read_wall)
    return [agg.records for agg in _aggregated(tracked.parts, "day", concurrency, threading.Event(), probe)]


def test_a_read_that_computes_stays_in_the_calling_thread_one_partition_at_a_time() -> None:
    tracked = _Tracked(8)
    assert _fold_all(tracked, share=0.95) == [600] * 8
    assert tracked.most == 1 and set(tracked.threads) == {threading.current_thread().name}


def test_a_read_that_waits_gets_every_slot_once_the_probe_can_tell() -> None:
    tracked = _Tracked(12, pause=0.0005)
    assert _fold_all(tracked, share=0.1) == [600] * 12
    assert tracked.threads[:2] == [threading.current_thread().name] * 2  # the first two read alone, as at 1
    assert tracked.most == 4 and any(name.startswith("llm-cost-window") for name in tracked.threads)


def test_the_first_partition_is_not_measured_and_a_short_window_ends_before_any_choice() -> None:
    clocks = _Clocks(0.1)
    probe = ReadProbe(cpu_clock=clocks.read_cpu, wall_clock=clocks.read_wall)
    tracked = _Tracked(1)
    assert [a.records for a in _aggregated(tracked.parts, "day", 4, threading.Event(), probe)] == [600]
    assert probe.wall == 0 and probe.waiting() is None


@pytest.mark.parametrize("share", [0.1, 0.95])
def test_a_failing_partition_fails_the_run_whatever_the_choice(share: float) -> None:
    tracked = _Tracked(9, fail_at=5)
    with pytest.raises(SourceError, match="day 5 failed"):
        _fold_all(tracked, share=share)


def test_the_probe_needs_half_a_second_of_reading_and_splits_at_half_the_wall_time() -> None:
    probe = ReadProbe()
    probe.add(0.25, 0.49)
    assert probe.waiting() is None
    probe.add(0.05, 0.02)
    assert probe.waiting() is False  # 0.30 s of CPU in 0.51 s: computing
    probe.add(0.0, 0.5)
    assert probe.waiting() is True

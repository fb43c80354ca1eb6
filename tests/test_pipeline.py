"""The pipeline: partitions aggregated one at a time, optionally several at once, with the same output."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

import pytest

from llm_cost.errors import SourceError
from llm_cost.focus.columns import columns_for
from llm_cost.focus.mapping import FocusRow
from llm_cost.pipeline import Partition, write_partitions
from llm_cost.pricing import PriceBook
from llm_cost.records import TokenCounts, UsageRecord

COLUMNS = columns_for("focus", "1.2")
DAY0 = datetime(2026, 11, 2, tzinfo=UTC)


class Rows:
    def __init__(self) -> None:
        self.rows: list[FocusRow] = []

    def write(self, row: FocusRow) -> None:
        self.rows.append(row)


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
    sink = Rows()
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
            (day(i) for i in range(20)), prices=PriceBook(), columns=COLUMNS, sinks=[Rows()], concurrency=3
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
        sink = Rows()
        result = write_partitions(
            [lambda: records], prices=PriceBook(), columns=COLUMNS, sinks=[sink], concurrency=concurrency
        )
        exact = Decimal("222221.223456789012345678901234567001")
        assert result.total_cost == exact
        with localcontext(prec=100):  # the test's own sum must not round either
            assert sum((Decimal(r["BilledCost"]) for r in sink.rows), Decimal(0)) == exact

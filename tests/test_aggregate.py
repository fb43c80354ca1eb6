"""Grouping to a grain: periods, sums, and the deterministic order of groups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_cost import aggregate
from llm_cost.aggregate import Aggregator, Granularity, Sums
from llm_cost.records import Pricing, TokenCounts, TokenType, UnitPrices, UsageRecord

DAY = datetime(2026, 10, 7, tzinfo=UTC)


def _request(start: datetime, seconds: float, cost: str = "0.01", **extra: object) -> UsageRecord:
    return UsageRecord(
        start,
        start + timedelta(seconds=seconds),
        "openai",
        "gpt-4o",
        Decimal(cost),
        tokens=TokenCounts(input=10, output=5),
        **extra,
    )


@pytest.mark.parametrize(
    ("grain", "bucket_end"),
    [("day", datetime(2026, 10, 8, tzinfo=UTC)), ("hour", datetime(2026, 10, 8, tzinfo=UTC))],
)
def test_a_request_is_charged_in_the_bucket_where_it_starts(grain: str, bucket_end: datetime) -> None:
    """Regression: a request that started before midnight and ended after it widened its day's group to
    2026-10-08T00:00:01Z, so a `ChargePeriodEnd <= day end` filter dropped the whole group."""
    late = _request(DAY.replace(hour=23, minute=59, second=59), 2)  # ends 2026-10-08T00:00:01Z
    early = _request(DAY.replace(hour=23, minute=10), 1)
    groups = list(Aggregator(grain).extend([late, early]).drain())  # type: ignore[arg-type]
    assert {g.period_end for g in groups} == {bucket_end}
    assert all(
        g.period_end - g.period_start == (timedelta(days=1) if grain == "day" else timedelta(hours=1)) for g in groups
    )
    assert sum(g.cost for g in groups) == Decimal("0.02")


def test_request_grain_keeps_each_request_own_period() -> None:
    record = _request(DAY.replace(hour=23, minute=59, second=59), 2, request_id="r1")
    (group,) = Aggregator("request").extend([record]).drain()
    assert (group.period_start, group.period_end) == (record.period_start, record.period_end)


def test_groups_sum_metrics_and_keep_components_only_when_every_record_has_them() -> None:
    with_parts = _request(
        DAY, 1, "0.3", cost_components={TokenType.INPUT: Decimal("0.1"), TokenType.OUTPUT: Decimal("0.2")}
    )
    without = _request(DAY.replace(hour=5), 1, "0.5")
    (both,) = Aggregator("day").extend([with_parts, with_parts]).drain()
    assert both.cost == Decimal("0.6") and both.requests == 2 and both.tokens == TokenCounts(input=20, output=10)
    assert both.cost_components == {TokenType.INPUT: Decimal("0.2"), TokenType.OUTPUT: Decimal("0.4")}
    (mixed,) = Aggregator("day").extend([with_parts, without]).drain()
    assert mixed.cost_components is None and mixed.cost == Decimal("0.8")


def test_drain_order_is_deterministic_and_forgets_groups() -> None:
    records = [_request(DAY.replace(hour=h), 1, team_id=t) for h in (3, 1, 2) for t in ("b", None, "a")]
    aggregator = Aggregator("hour").extend(records)
    first = [(g.period_start, g.team_id) for g in aggregator.drain()]
    assert first == sorted(first, key=lambda k: (k[0], k[1] or ""))
    assert list(aggregator.drain()) == []
    assert first == [(g.period_start, g.team_id) for g in Aggregator("hour").extend(reversed(records)).drain()]


def test_groups_share_equal_tag_tuples_in_their_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    # Memory: a day's groups repeat a few tag sets; each record brings its own dict.
    records = [_request(DAY, 1, team_id=t, tags={"env": "prod", "feature": "chat"}) for t in ("a", "b", "c")]
    aggregator = Aggregator("day").extend(records)
    tag_tuples = [key[aggregate._TAGS_AT] for key in aggregator._groups]
    assert tag_tuples[0] == (("env", "prod"), ("feature", "chat"))
    assert len(tag_tuples) == 3 and all(t is tag_tuples[0] for t in tag_tuples)
    monkeypatch.setattr("llm_cost.aggregate.TAG_TUPLES_MEMO", 1)  # bounded: cleared when full, the groups unchanged
    bounded = Aggregator("day").extend(records)
    assert len(bounded._tag_tuples) <= 2
    assert [(g.team_id, g.tags) for g in bounded.drain()] == [(t, {"env": "prod", "feature": "chat"}) for t in "abc"]


_PRICINGS = [
    None,
    Pricing(UnitPrices(Decimal("2.5"), Decimal(10)), None, "litellm"),
    Pricing(None, None, "unknown"),
]
_records = st.lists(
    st.builds(
        lambda hour, provider, provider_name, model, team, pricing, tags: UsageRecord(
            DAY.replace(hour=hour),
            DAY.replace(hour=hour, minute=1),
            provider,
            model,
            Decimal("0.01"),
            provider_name=provider_name,
            team_id=team,
            pricing=pricing,
            tags=tags,
        ),
        st.integers(0, 3),
        st.sampled_from(["openai", "anthropic", ""]),
        st.sampled_from([None, "", "OpenAI"]),
        st.sampled_from(["gpt-4o", "claude", ""]),
        st.sampled_from([None, "", "a", "b"]),
        st.sampled_from(_PRICINGS),
        st.sampled_from([{}, {"env": "prod"}, {"env": ""}]),
    ),
    max_size=40,
)


@given(records=_records, grain=st.sampled_from(["day", "hour", "request"]))
def test_the_drain_gives_the_order_of_one_sort_of_every_key(records: list[UsageRecord], grain: Granularity) -> None:
    # At day and hour grain the drain sorts a model's groups at a time (memory); the order must be one sort's, ties
    # (None against "") included.
    aggregator = Aggregator(grain).extend(records)
    expected = [
        aggregate._group(key, aggregator._groups[key]) for key in sorted(aggregator._groups, key=aggregate._sort_key)
    ]
    assert list(aggregator.drain()) == expected
    assert not aggregator._groups


def test_running_components_sum_by_token_type_and_end_with_a_part_without_them() -> None:
    sums = Sums(Decimal(0), 0, 0, 0, 0, 0, 0)
    sums.add_components({TokenType.INPUT: Decimal("0.1")})
    sums.add_components({})  # a breakdown with nothing in it adds nothing, and ends nothing
    sums.add_components({TokenType.INPUT: Decimal("0.2"), TokenType.CACHE_WRITE: Decimal("0.05")})
    assert sums.components() == {TokenType.INPUT: Decimal("0.3"), TokenType.CACHE_WRITE: Decimal("0.05")}
    sums.add_components(None)
    assert sums.components() is None and not sums.broken_down
    assert (sums.input_cost, sums.cache_write_cost) == (None, None)  # let go, not only hidden
    sums.add_components({TokenType.OUTPUT: Decimal(1)})
    assert sums.components() is None
    assert Sums(Decimal(0), 0, 0, 0, 0, 0, 0).components() is None  # nothing added: no breakdown to allocate by

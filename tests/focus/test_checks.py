"""Our own checks catch what the official validator misses (focus.md §3.6): each mutation must be caught."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_cost.aggregate import Aggregator
from llm_cost.errors import VerificationError
from llm_cost.focus.checks import RowChecker, check_group_total, check_header
from llm_cost.focus.columns import columns_for
from llm_cost.focus.mapping import RowMapper, map_group
from llm_cost.focus.rowset import VARYING, RowShape
from llm_cost.records import Pricing, TokenCounts, UnitPrices, UsageRecord

COLUMNS = columns_for("focus")
PRICES = UnitPrices(Decimal("0.3"), Decimal("10"), Decimal("0.15"), Decimal("0.3"))


@pytest.fixture
def row() -> dict[str, str | None]:
    day = datetime(2026, 10, 5, tzinfo=UTC)
    record = UsageRecord(day, day, "openai", "gpt-4o", Decimal("0.0006"), tokens=TokenCounts(input=2000))
    group = next(Aggregator().extend([record]).drain())
    return map_group(group, Pricing(PRICES, PRICES, "test"))[0]


def test_a_mapped_row_is_clean(row: dict[str, str | None]) -> None:
    assert RowChecker(COLUMNS).problems(row) == []


@pytest.mark.parametrize(
    ("column", "value", "fragment"),
    [
        ("ChargeCategory", "Refund", "ChargeCategory='Refund' is not an allowed value"),
        ("ChargeFrequency", "Daily", "ChargeFrequency='Daily'"),
        ("ChargeClass", "", None),  # empty is null: allowed
        ("ChargeClass", "Fix", "ChargeClass='Fix'"),
        ("ServiceCategory", "AI", "ServiceCategory='AI'"),
        ("ServiceSubcategory", "Virtual Machines", "ServiceSubcategory"),
        ("PricingCategory", "Cheap", "PricingCategory"),
        ("ChargePeriodStart", "2026-10-05", "is not YYYY-MM-DDTHH:mm:ssZ"),
        ("ChargePeriodStart", "2026-10-05T00:00:00", "is not YYYY-MM-DDTHH:mm:ssZ"),
        ("ChargePeriodStart", "2026-10-05T00:00:00.000Z", "is not YYYY-MM-DDTHH:mm:ssZ"),
        ("ChargePeriodStart", "2026-10-05T00:00:00+01:00", "is not YYYY-MM-DDTHH:mm:ssZ"),
        ("ChargePeriodEnd", "2026-10-04T00:00:00Z", "ChargePeriodEnd is not after ChargePeriodStart"),
        ("ConsumedQuantity", "2000", "not a fixed-point decimal"),
        ("BilledCost", "6e-4", "not a fixed-point decimal"),
        ("BilledCost", "0,0006", "not a fixed-point decimal"),
        ("ListCost", "0.00061", "ListUnitPrice x PricingQuantity"),
        ("ContractedCost", "0.0007", "ContractedUnitPrice x PricingQuantity"),
        ("EffectiveCost", "0.0005", "EffectiveCost='0.0005' differs from BilledCost"),
        ("ListUnitPrice", "-0.3", "ListUnitPrice is negative"),
        ("BillingCurrency", "usd", "not an ISO 4217 code"),
        ("Tags", "{team:ml}", "Tags is not valid JSON"),
        ("Tags", '{"team":{"a":1}}', "nested"),
        ("Tags", "[1]", "not a JSON object"),
        ("SkuPriceDetails", '{"Tier":"x"}', "lack the x_ prefix"),
        ("ConsumedUnit", None, "must be null together"),
        ("ServiceName", None, "ServiceName is null"),
        ("PricingQuantity", None, "PricingQuantity must not be null on a Usage row"),
    ],
)
def test_each_mutation_is_caught(
    row: dict[str, str | None], column: str, value: str | None, fragment: str | None
) -> None:
    row[column] = value
    problems = RowChecker(COLUMNS).problems(row)
    if fragment is None:
        assert problems == []
    else:
        assert any(fragment in p for p in problems), problems


def test_header_checks() -> None:
    assert check_header(COLUMNS) == []
    assert check_header([*COLUMNS, "Model"]) == ["column 'Model' is not FOCUS and lacks the x_ prefix"]
    assert "appears twice" in check_header(["BilledCost", "BilledCost"])[0]
    with pytest.raises(VerificationError, match="header"):
        RowChecker([*COLUMNS, "Model"])


def test_row_checker_raises_with_row_number(row: dict[str, str | None]) -> None:
    checker = RowChecker(COLUMNS)
    checker.check(row)
    row["ChargeCategory"] = "Refund"
    with pytest.raises(VerificationError, match=r"row 2: ChargeCategory='Refund'"):
        checker.check(row)


def test_checks_only_written_columns(row: dict[str, str | None]) -> None:
    row["SkuPriceDetails"] = "not json"
    assert RowChecker(columns_for("focus", "1.0")).problems(row) == []  # 1.0 has no SkuPriceDetails
    assert RowChecker(columns_for("focus", "1.2")).problems(row) != []


def test_group_total() -> None:
    day = datetime(2026, 10, 5, tzinfo=UTC)
    record = UsageRecord(day, day, "openai", "gpt-4o", Decimal("0.0006"), tokens=TokenCounts(input=2000, output=10))
    rows = RowMapper().rows(next(Aggregator().extend([record]).drain()), Pricing(PRICES, PRICES, "test"))
    assert len(rows) == 2
    check_group_total(rows, Decimal("0.0006"), "g")
    with pytest.raises(VerificationError, match=r"rows of g sum to 0\.00060*, not 0\.0007"):
        check_group_total(rows, Decimal("0.0007"), "g")
    named: list[str] = []

    def name() -> str:
        named.append("asked")
        return "gpt-4o 2026-10-05"

    check_group_total(rows, Decimal("0.0006"), name)
    assert named == []  # a passing group is never named
    with pytest.raises(VerificationError, match=r"rows of gpt-4o 2026-10-05 sum to"):
        check_group_total(rows, Decimal("0.0007"), name)


def test_rows_must_reconcile_with_the_records_total(monkeypatch: pytest.MonkeyPatch) -> None:
    """write_partitions compares the rows' BilledCost with the records' cost summed as they arrived."""
    from llm_cost import pipeline
    from llm_cost.pricing import PriceBook

    day = datetime(2026, 10, 5, tzinfo=UTC)
    records = [UsageRecord(day, day, "openai", "gpt-4o", Decimal("0.5"), tokens=TokenCounts(input=10))]
    real_add = pipeline.Aggregator.add

    def losing_add(self: pipeline.Aggregator, record: UsageRecord) -> None:  # a bug that drops money
        real_add(self, record)
        self.records_cost += Decimal("0.01")

    monkeypatch.setattr(pipeline.Aggregator, "add", losing_add)
    with pytest.raises(VerificationError, match="the groups sum to 0.5, the source records to 0.51"):
        pipeline.write_partitions([lambda: records], prices=PriceBook(), columns=COLUMNS, sinks=[])


def test_a_group_whose_rows_do_not_sum_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_cost import pipeline
    from llm_cost.pricing import PriceBook

    day = datetime(2026, 10, 5, 13, tzinfo=UTC)
    records = [UsageRecord(day, day, "openai", "gpt-4o", Decimal("0.5"), tokens=TokenCounts(input=10))]
    monkeypatch.setattr(pipeline, "billed_total", lambda group, adjustment: group.cost + 1)  # a bug in the mapping
    with pytest.raises(VerificationError, match=r"rows of gpt-4o 2026-10-05 sum to 0\.5, not 1\.5"):
        pipeline.write_partitions([lambda: records], prices=PriceBook(), columns=COLUMNS, sinks=[])


def test_remembered_values_never_hide_a_bad_row(row: dict[str, str | None]) -> None:
    """Repeated column combinations are checked once; a change in any of them is checked again."""
    checker = RowChecker(COLUMNS)
    for _ in range(3):
        checker.check(dict(row))
    bad = dict(row, BillingCurrency="usd")
    with pytest.raises(VerificationError, match="BillingCurrency='usd' is not an ISO 4217 code"):
        checker.check(bad)
    missing = {k: v for k, v in row.items() if k != "ServiceName"}
    assert any("ServiceName is null" in p for p in checker.problems(missing))


MUTANTS = st.sampled_from([None, "", "0.0", "1.5", "-0.2", "2e-3", "1,5", "abc", "0.000600000000", "USD", "Usage"])


@given(
    st.sampled_from([TokenCounts(input=2000), TokenCounts(input=2000, output=30, cache_read=700)]),
    st.integers(0, 2),
    st.sampled_from(VARYING + ("ChargeCategory", "ListUnitPrice", "ConsumedUnit", "BillingCurrency", "ServiceName")),
    MUTANTS,
    st.sampled_from([columns_for("focus"), columns_for("focus", "1.0"), columns_for("vantage")]),
)
def test_a_set_fails_exactly_when_one_of_its_rows_does(
    tokens: TokenCounts, at: int, column: str, value: str | None, columns: tuple[str, ...]
) -> None:
    """check_set (the pipeline's path: shapes once, a quick test per row) raises exactly when the per-row check
    finds a problem in some row, whatever column of whichever row is broken. Tags are checked on a set's first row."""
    day = datetime(2026, 10, 5, tzinfo=UTC)
    record = UsageRecord(day, day, "openai", "gpt-4o", Decimal("0.0006"), tokens=tokens)
    rows = RowMapper().rows(next(Aggregator().extend([record]).drain()), Pricing(PRICES, PRICES, "test"))
    at = min(at, len(rows) - 1)
    if column == "Tags" and at:
        at = 0
    if column in VARYING:
        changed = list(rows.values[at])
        changed[VARYING.index(column)] = value
        rows.values[at] = tuple(changed)
    else:
        rows.shapes[at] = RowShape({**rows.shapes[at].values, column: value})
    checker = RowChecker(columns)
    bad = any(checker.problems(row) for row in rows.rows())
    if bad:
        with pytest.raises(VerificationError, match="FOCUS self-check failed on row"):
            RowChecker(columns).check_set(rows)
    else:
        RowChecker(columns).check_set(rows)

"""Properties of the pure mapping over everything a source can hand it, not only our examples.

Any token counts (zero, huge), any cost (0, tiny, 30+ significant digits, negative), any cost-breakdown shape
(missing, partial, zero, not adding up, larger than the cost, negative), with full, partial or no prices, one or
several records per group, split or not: no exception, one row per used token type, BilledCost summing exactly to
the group's cost, the FOCUS cost identities, and every row passing our own checks in every profile.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from llm_cost.aggregate import Aggregator
from llm_cost.focus.adjustments import Adjustment
from llm_cost.focus.checks import RowChecker
from llm_cost.focus.columns import columns_for
from llm_cost.focus.mapping import allocate, billed_total, map_group
from llm_cost.records import EXACT, TOKEN_TYPES, Pricing, TokenCounts, TokenType, UnitPrices, UsageGroup, UsageRecord

BASES = {"cost-breakdown", "cost-breakdown-scaled", "unit-price", "tokens"}
PROFILES = [("focus", "1.2"), ("focus", "1.0"), ("vantage", "1.2")]
CHECKERS = [RowChecker(columns_for(profile, version)) for profile, version in PROFILES]  # type: ignore[arg-type]


def _money(max_digits: int = 36, max_places: int = 40, negative: bool = False) -> st.SearchStrategy[Decimal]:
    """Decimals as a source sends them: 0, tiny, huge, with up to `max_digits` significant digits."""
    low = -(10**max_digits) + 1 if negative else 0
    return st.builds(
        lambda digits, places: Decimal(digits).scaleb(-places),
        st.integers(low, 10**max_digits - 1),
        st.integers(0, max_places),
    )


_TOKENS = st.one_of(st.just(0), st.integers(1, 10), st.integers(0, 10**7), st.integers(0, 10**15))
token_counts = st.builds(TokenCounts, _TOKENS, _TOKENS, _TOKENS, _TOKENS, _TOKENS)
# A breakdown: absent, or any subset of the token types with zero, positive or (rarely) negative amounts.
components = st.none() | st.dictionaries(
    st.sampled_from(TOKEN_TYPES), st.just(Decimal(0)) | _money(20, 24) | _money(6, 8, negative=True), max_size=4
)
_PRICE = st.none() | st.just(Decimal(0)) | _money(8, 6)
unit_prices = st.builds(UnitPrices, _PRICE, _PRICE, _PRICE, _PRICE)
pricings = st.builds(
    Pricing,
    st.none() | unit_prices,
    st.none() | unit_prices,
    st.sampled_from(["genai-prices", "override", "unknown"]),
    st.sampled_from(["standard", "batch"]),
)
DAY = datetime(2026, 10, 7, tzinfo=UTC)


@st.composite
def groups(draw: st.DrawFn) -> UsageGroup:
    """One group, aggregated from one to four records that share every dimension."""
    count = draw(st.integers(1, 4))
    breakdown = draw(components)
    records = [
        UsageRecord(
            DAY + timedelta(seconds=draw(st.integers(0, 86_399))),
            DAY + timedelta(days=2),
            "openai",
            "gpt-4o",
            draw(_money() | _money(6, 6, negative=True)),
            tokens=draw(token_counts),
            requests=draw(st.integers(0, 3)),
            provider_name="OpenAI",
            cost_components=breakdown if draw(st.booleans()) or count == 1 else draw(components),
            tags=draw(st.dictionaries(st.sampled_from(["team", "model", "feature"]), st.text(max_size=8), max_size=2)),
        )
        for _ in range(count)
    ]
    group_list = list(Aggregator("day").extend([r for r in records if r.tags == records[0].tags] or records).drain())
    return group_list[0]


def _used(group: UsageGroup) -> list[str]:
    return [t.value for t in TOKEN_TYPES if group.tokens.get(t) > 0]


def _sum(values: list[str | None]) -> Decimal:
    total = Decimal(0)
    for value in values:
        total = EXACT.add(total, Decimal(value or "0"))
    return total


@given(groups(), pricings, st.booleans())
@example(  # the crash of the issue: a zero component for a used token type
    UsageGroup(
        DAY,
        DAY + timedelta(days=1),
        "openai",
        "OpenAI",
        "gpt-4o",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        {},
        {},
        "reported",
        "",
        None,
        None,
        cost=Decimal("0.006"),
        tokens=TokenCounts(input=600, output=40),
        cost_components={TokenType.INPUT: Decimal("0.006"), TokenType.OUTPUT: Decimal(0)},
    ),
    Pricing(None, None, "unknown"),
    True,
)
def test_map_group_rows_are_complete_exact_and_valid(group: UsageGroup, pricing: Pricing, split: bool) -> None:
    rows = map_group(group, pricing, split_tokens=split)
    used = _used(group)
    if split and used:
        assert [r["x_TokenType"] for r in rows] == used
        assert all(r["ConsumedUnit"] == "Tokens" for r in rows)
        assert [Decimal(r["ConsumedQuantity"] or "0") for r in rows] == [
            Decimal(group.tokens.get(TokenType(t))) for t in used
        ]
    else:
        assert len(rows) == 1 and rows[0]["ConsumedUnit"] == "Requests" and rows[0]["x_TokenType"] == "all"
    assert _sum([r["BilledCost"] for r in rows]) == group.cost
    for row in rows:
        tags = json.loads(row["Tags"] or "{}")
        if group.cost_source == "estimated":  # the original tool's keys
            assert tags["effective-cost"] == row["BilledCost"] == row["EffectiveCost"]
        else:  # one x- style, and no key that repeats a column or a per-row value
            assert row["BilledCost"] == row["EffectiveCost"]
            assert not {"effective-cost", "x-token-count-input", "x-token-count-output", "model"} & set(tags)
            assert all(k.startswith("x-") or k in group.tags or k == "llm-cost-type" for k in tags)
        assert tags["x-cost-allocation"] in BASES | {"none"}
        for checker in CHECKERS:
            assert checker.problems(row) == [], row
        # The cost identities, exactly (the checker does this too; this does not depend on it).
        for unit_column, cost_column in (("ListUnitPrice", "ListCost"), ("ContractedUnitPrice", "ContractedCost")):
            if row[unit_column] is not None:
                product = EXACT.multiply(Decimal(row[unit_column]), Decimal(row["PricingQuantity"] or "0"))
                assert product == Decimal(row[cost_column] or "0")


@given(groups(), pricings)
def test_a_breakdown_that_adds_up_is_used_as_is(group: UsageGroup, pricing: Pricing) -> None:
    rows = map_group(group, pricing)
    basis = json.loads(rows[0]["Tags"] or "{}")["x-cost-allocation"]
    if basis == "cost-breakdown":
        assert group.cost_components is not None
        assert {r["x_TokenType"]: Decimal(r["BilledCost"] or "0") for r in rows} == {
            t: group.cost_components.get(TokenType(t), Decimal(0)) for t in _used(group)
        }
    if group.cost >= 0 and basis != "none":
        assert all(Decimal(r["BilledCost"] or "0") >= 0 for r in rows), "a share of a non-negative cost went negative"


weights = st.dictionaries(
    st.sampled_from(TOKEN_TYPES), st.just(Decimal(0)) | _money(24, 30) | _money(4, 4, negative=True), min_size=1
).filter(lambda w: any(v > 0 for v in w.values()))


@given(_money() | _money(8, 14, negative=True), weights)
@example(Decimal("2.6e-12"), dict.fromkeys(TOKEN_TYPES, Decimal(1)))  # shares rounded up past the total
def test_allocate_gives_every_key_a_share_that_sums_exactly(total: Decimal, weights: dict[TokenType, Decimal]) -> None:
    shares = allocate(total, weights)
    assert shares.keys() == weights.keys()
    assert _sum([str(s) for s in shares.values()]) == total
    assert all(shares[t] == 0 for t, w in weights.items() if w <= 0)
    assert all((s >= 0) if total >= 0 else (s <= 0) for s in shares.values()), shares


@given(groups(), pricings, st.booleans(), st.sampled_from(["12.5", "0", "100", "3.333"]), st.sampled_from(["0", "7.5"]))
def test_an_adjustment_bills_the_factor_exactly_and_keeps_the_list_cost(
    group: UsageGroup, pricing: Pricing, split: bool, discount: str, markup: str
) -> None:
    """Under a negotiated rate, reported rows list the reported spend and bill it x the factor, exactly, and the
    cost identities still hold (within the unit prices' rounding, as the checker allows)."""
    adjustment = Adjustment("deal", group.provider, None, Decimal(discount), Decimal(markup))
    rows = map_group(group, pricing, split_tokens=split, adjustment=adjustment)
    factor = adjustment.factor
    if group.cost_source == "reported":
        assert _sum([r["ListCost"] for r in rows]) == group.cost
        assert (
            _sum([r["BilledCost"] for r in rows])
            == EXACT.multiply(group.cost, factor)
            == billed_total(group, adjustment)
        )
        for row in rows:
            assert row["BilledCost"] == row["EffectiveCost"] == row["ContractedCost"]
            assert json.loads(row["Tags"] or "{}")["x-adjustment"] == "deal"
    else:  # estimates keep their manifest prices: no adjustment
        assert _sum([r["BilledCost"] for r in rows]) == group.cost
    for row in rows:
        for checker in CHECKERS:
            assert checker.problems(row) == [], row

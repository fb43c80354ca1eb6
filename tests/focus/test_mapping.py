"""The pure FOCUS mapping: allocation, formats, cost identities, tags."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from llm_cost.aggregate import Aggregator
from llm_cost.focus.checks import RowChecker
from llm_cost.focus.columns import columns_for
from llm_cost.focus.mapping import (
    RESERVED_TAG_KEYS,
    allocate,
    map_group,
)
from llm_cost.formats import format_decimal
from llm_cost.records import EXACT, Pricing, TokenCounts, TokenType, UnitPrices, UsageRecord

DAY = datetime(2026, 10, 5, tzinfo=UTC)
GPT4O = UnitPrices(Decimal("2.5"), Decimal("10"), Decimal("1.25"), Decimal("2.5"))
PRICED = Pricing(GPT4O, GPT4O, "genai-prices")
UNKNOWN = Pricing(None, None, "unknown")


def _group(cost: str, tokens: TokenCounts, **extra: object):
    record = UsageRecord(DAY, DAY, "openai", "gpt-4o", Decimal(cost), tokens=tokens, provider_name="OpenAI", **extra)
    return next(Aggregator("day").extend([record]).drain())


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("3", "3.0"),
        ("3.125", "3.125"),
        ("1E-7", "0.0000001"),
        ("2.50", "2.5"),
        ("-0", "0.0"),
        ("1E+16", "10000000000000000.0"),
        ("0.000000000001", "0.000000000001"),
        ("-1.5", "-1.5"),
    ],
)
def test_format_decimal_is_fixed_point_with_a_dot(value: str, text: str) -> None:
    assert format_decimal(Decimal(value)) == text


def test_allocate_sums_exactly_and_gives_remainder_to_largest() -> None:
    weights = {TokenType.INPUT: Decimal(1), TokenType.OUTPUT: Decimal(1), TokenType.CACHE_READ: Decimal(1)}
    shares = allocate(Decimal("1"), weights)
    assert sum(shares.values()) == Decimal("1")
    assert shares[TokenType.OUTPUT] == shares[TokenType.CACHE_READ] == Decimal("0.333333333333")
    assert shares[TokenType.INPUT] == Decimal("0.333333333334")  # tie: the first in token-type order


@pytest.mark.parametrize("cost", ["0.000675", "123456.789012345678", "0", "1E-15", "-0.5", "7"])
def test_rows_of_a_group_sum_exactly_to_its_cost(cost: str) -> None:
    group = _group(cost, TokenCounts(input=1234, output=567, cache_read=89, cache_write=10))
    rows = map_group(group, PRICED)
    assert [r["x_TokenType"] for r in rows] == ["input", "output", "cache_read", "cache_write"]
    assert sum(Decimal(r["BilledCost"]) for r in rows) == Decimal(cost)


def test_estimate_allocation_reproduces_the_priced_products_exactly() -> None:
    cost = Decimal(1000) * Decimal("2.5") / 10**6 + Decimal(300) * Decimal(10) / 10**6
    rows = map_group(_group(str(cost), TokenCounts(input=1000, output=300)), PRICED)
    assert [r["BilledCost"] for r in rows] == ["0.0025", "0.003"]
    assert [r["ListCost"] for r in rows] == ["0.0025", "0.003"]


def test_cost_breakdown_drives_the_allocation() -> None:
    components = {TokenType.INPUT: Decimal("0.000165"), TokenType.OUTPUT: Decimal("0.00018")}
    rows = map_group(_group("0.000345", TokenCounts(input=60, output=18), cost_components=components), PRICED)
    assert [r["BilledCost"] for r in rows] == ["0.000165", "0.00018"]
    assert json.loads(rows[0]["Tags"])["x-cost-allocation"] == "cost-breakdown"


def test_cost_identities_and_units() -> None:
    row = map_group(_group("3.125", TokenCounts(input=1_250_000)), PRICED)[0]
    assert row["ConsumedQuantity"] == "1250000.0" and row["ConsumedUnit"] == "Tokens"
    assert row["PricingQuantity"] == "1.25" and row["PricingUnit"] == "1000000 Tokens"
    assert Decimal(row["ListUnitPrice"]) * Decimal(row["PricingQuantity"]) == Decimal(row["ListCost"])
    assert row["EffectiveCost"] == row["BilledCost"] == "3.125"
    assert row["ChargePeriodStart"] == "2026-10-05T00:00:00Z" and row["ChargePeriodEnd"] == "2026-10-06T00:00:00Z"
    assert row["BillingPeriodStart"] == "2026-10-01T00:00:00Z" and row["BillingPeriodEnd"] == "2026-11-01T00:00:00Z"
    assert row["SkuId"] == "gpt-4o" and row["SkuPriceId"] == "gpt-4o:input:standard"


def test_unknown_price_is_said_in_tags_not_invented() -> None:
    rows = map_group(_group("0.5", TokenCounts(input=100, output=100)), UNKNOWN)
    for row in rows:
        assert row["ListUnitPrice"] is None and row["ContractedUnitPrice"] is None
        assert row["ListCost"] == row["BilledCost"]
        tags = json.loads(row["Tags"])
        assert tags["x-list-price"] == "unknown" and tags["x-cost-allocation"] == "tokens"
    assert sum(Decimal(r["BilledCost"]) for r in rows) == Decimal("0.5")


def test_no_tokens_or_no_split_gives_one_requests_row() -> None:
    for group, split in (
        (_group("0.04", TokenCounts(), requests=4), True),
        (_group("0.04", TokenCounts(input=10), requests=4), False),
    ):
        (row,) = map_group(group, PRICED, split_tokens=split)
        assert row["ConsumedUnit"] == row["PricingUnit"] == "Requests"
        assert row["ConsumedQuantity"] == "4.0" and row["BilledCost"] == "0.04"
        assert not RowChecker(columns_for("focus")).problems(row)


def test_reserved_tag_keys_cannot_be_overridden() -> None:
    tags = {"model": "evil", "provider": "evil", "llm-cost-type": "evil", "team": "ml"}
    row = map_group(_group("1", TokenCounts(input=10), tags=tags), PRICED)[0]
    parsed = json.loads(row["Tags"])
    assert parsed["x-model"] == "gpt-4o" and parsed["x-provider"] == "openai" and parsed["llm-cost-type"] == "actual"
    assert "model" not in parsed and "provider" not in parsed  # reserved: a user tag cannot pass for ours
    assert parsed["team"] == "ml"
    assert list(parsed) == sorted(parsed)
    assert {"model", "provider", "llm-cost-type", "x-model", "x-provider"} <= RESERVED_TAG_KEYS


def test_attribution_columns() -> None:
    group = _group(
        "1",
        TokenCounts(input=10),
        api_key_hash="abc123hash",
        key_alias="prod",
        team_id="t1",
        team_alias='Team, "One"\nNew',
        model_group="gpt-4o-group",
    )
    row = map_group(group, PRICED)[0]
    assert (row["BillingAccountId"], row["BillingAccountName"], row["BillingAccountType"]) == (
        "abc123hash",
        "prod",
        "API Key",
    )
    assert (row["SubAccountId"], row["SubAccountName"], row["SubAccountType"]) == ("t1", 'Team, "One"\nNew', "Team")
    assert row["ServiceName"] == "OpenAI API"
    assert map_group(group, PRICED, service_name="model-group")[0]["ServiceName"] == "gpt-4o-group"
    assert row["ProviderName"] == row["PublisherName"] == row["InvoiceIssuerName"] == "OpenAI"


def test_every_mapped_row_passes_our_checks() -> None:
    group = _group("0.9", TokenCounts(input=1, output=2, cache_read=3, cache_write=4))
    for row in map_group(group, PRICED) + map_group(group, UNKNOWN):
        for profile, version in (("focus", "1.2"), ("focus", "1.0"), ("vantage", "1.2")):
            assert RowChecker(columns_for(profile, version)).problems(row) == []  # type: ignore[arg-type]


def test_mapping_is_deterministic() -> None:
    group = _group("0.333", TokenCounts(input=7, output=11), tags={"b": "2", "a": "1"})
    assert map_group(group, PRICED) == map_group(group, PRICED)


@pytest.mark.parametrize(
    ("tokens", "components", "cost", "billed", "basis"),
    [
        # audio transcription: input seconds billed, no output cost although output tokens exist
        (
            TokenCounts(input=600, output=40),
            {TokenType.INPUT: Decimal("0.006"), TokenType.OUTPUT: Decimal(0)},
            "0.006",
            ["0.006", "0.0"],
            "cost-breakdown",
        ),
        # a fully cached prompt: no uncached input cost, the input tokens are still there
        (
            TokenCounts(input=5, output=100, cache_read=2000),
            {TokenType.CACHE_READ: Decimal("0.0025"), TokenType.OUTPUT: Decimal("0.001")},
            "0.0035",
            ["0.0", "0.001", "0.0025"],
            "cost-breakdown",
        ),
        # a partial breakdown that does not cover output, and does not add up to the spend
        (
            TokenCounts(input=1000, output=500),
            {TokenType.INPUT: Decimal("0.002")},
            "0.01",
            ["0.01", "0.0"],
            "cost-breakdown-scaled",
        ),
        # tool-only costs sit outside the token types: the breakdown does not add up
        (
            TokenCounts(input=10, output=10),
            {TokenType.INPUT: Decimal("0.001"), TokenType.OUTPUT: Decimal("0.003")},
            "0.029",
            ["0.00725", "0.02175"],
            "cost-breakdown-scaled",
        ),
        # a breakdown larger than the cost (a discount applied after it)
        (
            TokenCounts(input=10, output=10),
            {TokenType.INPUT: Decimal("0.3"), TokenType.OUTPUT: Decimal("0.1")},
            "0.2",
            ["0.15", "0.05"],
            "cost-breakdown-scaled",
        ),
        # a free tier: every component zero, so the breakdown is unusable and the prices decide
        (
            TokenCounts(input=1000, output=100),
            {TokenType.INPUT: Decimal(0), TokenType.OUTPUT: Decimal(0)},
            "0",
            ["0.0", "0.0"],
            "unit-price",
        ),
    ],
)
def test_every_used_token_type_gets_a_share_whatever_the_breakdown(
    tokens: TokenCounts, components: dict[TokenType, Decimal], cost: str, billed: list[str], basis: str
) -> None:
    """Regression: a breakdown with a zero or missing component for a used token type crashed map_group with
    KeyError (allocate() left that type out). Every used type now gets a row, zero where the breakdown gives it
    nothing; the rows still sum to the cost exactly, and Tags say which basis was used."""
    rows = map_group(_group(cost, tokens, cost_components=components), PRICED)
    used = [t.value for t in TokenType if tokens.get(t) > 0]
    assert [r["x_TokenType"] for r in rows] == used
    assert [r["BilledCost"] for r in rows] == billed
    assert sum(Decimal(r["BilledCost"]) for r in rows) == Decimal(cost)
    assert {json.loads(r["Tags"])["x-cost-allocation"] for r in rows} == {basis}
    for row in rows:
        assert RowChecker(columns_for("focus")).problems(row) == []


def test_allocate_gives_every_key_a_share_and_uses_exact_weights_unrounded() -> None:
    weights = {
        TokenType.INPUT: Decimal("0.1234567890123456789"),
        TokenType.OUTPUT: Decimal(0),
        TokenType.CACHE_READ: Decimal("-1"),
    }
    shares = allocate(Decimal("0.1234567890123456789"), weights)
    assert shares == {
        TokenType.INPUT: Decimal("0.1234567890123456789"),
        TokenType.OUTPUT: Decimal(0),
        TokenType.CACHE_READ: Decimal(0),
    }
    with pytest.raises(ValueError):
        allocate(Decimal(1), {TokenType.INPUT: Decimal(0)})


def test_mapping_is_exact_whatever_the_thread_context() -> None:
    """Pure code must not round money with the caller's Decimal context (28 digits by default)."""
    import decimal

    cost = "123456789012345.123456789012345678901234567"
    with decimal.localcontext(decimal.Context(prec=6)):
        rows = map_group(_group(cost, TokenCounts(input=3, output=7)), PRICED)
        assert [RowChecker(columns_for("focus")).problems(r) for r in rows] == [[], []]
    assert EXACT.add(Decimal(rows[0]["BilledCost"]), Decimal(rows[1]["BilledCost"])) == Decimal(cost)

"""Time-of-day list prices (DeepSeek's off-peak hours): per request at request grain, labelled at coarser grains."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from llm_cost.pricing import ANSWERS_MEMO, TIME_OF_DAY_TIER, PriceBook

DAY = datetime(2026, 10, 5, tzinfo=UTC)
# genai-prices: deepseek-chat costs 0.27/M input from 00:30 to 16:30 UTC, 0.135/M (off-peak) otherwise.
PEAK, OFF_PEAK = Decimal("0.27"), Decimal("0.135")


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook()


def test_a_request_gets_the_price_of_its_own_moment(book: PriceBook) -> None:
    noon = book.pricing(
        "deepseek-chat", "deepseek", DAY + timedelta(hours=12), until=DAY + timedelta(hours=12, seconds=1)
    )
    night = book.pricing(
        "deepseek-chat", "deepseek", DAY + timedelta(hours=20), until=DAY + timedelta(hours=20, seconds=1)
    )
    assert noon.list_prices is not None and noon.list_prices.input == PEAK and noon.tier == "standard"
    assert night.list_prices is not None and night.list_prices.input == OFF_PEAK and night.tier == "standard"


@pytest.mark.parametrize(
    ("start", "hours"),
    [(DAY, 24), (DAY + timedelta(hours=16), 1), (DAY, 1), (DAY, 48)],
)
def test_a_period_across_a_price_change_is_labelled(book: PriceBook, start: datetime, hours: int) -> None:
    pricing = book.pricing("deepseek-chat", "deepseek", start, until=start + timedelta(hours=hours))
    assert pricing.tier == TIME_OF_DAY_TIER  # priced at the period's start, and saying so


def test_a_period_inside_one_price_is_not_labelled(book: PriceBook) -> None:
    start = DAY + timedelta(hours=1)
    assert book.pricing("deepseek-chat", "deepseek", start, until=start + timedelta(hours=1)).tier == "standard"
    assert book.pricing("gpt-4o", "openai", DAY, until=DAY + timedelta(days=1)).tier == "standard"
    assert book.pricing("deepseek-chat", "deepseek", DAY).tier == "standard"  # no period end: a moment


def test_remembered_answers_are_the_answers_and_stay_bounded() -> None:
    """pricing() remembers its answers per (model, provider, moment, tokens, end): asked again it gives the same
    answer, a different moment is still priced on its own, and a run of distinct periods (request grain) keeps at
    most ANSWERS_MEMO of them."""
    book = PriceBook()
    noon, night = DAY + timedelta(hours=12), DAY + timedelta(hours=20)
    first = book.pricing("deepseek-chat", "deepseek", noon, until=noon + timedelta(seconds=1))
    assert book.pricing("deepseek-chat", "deepseek", noon, until=noon + timedelta(seconds=1)) is first
    later = book.pricing("deepseek-chat", "deepseek", night, until=night + timedelta(seconds=1))
    assert later.list_prices is not None and later.list_prices.input == OFF_PEAK
    for second in range(ANSWERS_MEMO + 10):
        moment = DAY + timedelta(seconds=second)
        assert book.pricing("gpt-4o", "openai", moment, until=moment + timedelta(seconds=1)).tier == "standard"
    assert len(book._answers) <= ANSWERS_MEMO

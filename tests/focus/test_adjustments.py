"""Negotiated rates: parsing `[adjustments.NAME]`, the most specific match, and the exact factor."""

from __future__ import annotations

from decimal import Decimal

import pytest

from llm_cost.focus.adjustments import Adjustment, Adjustments, parse_adjustments


def test_the_factor_is_exact() -> None:
    assert Adjustment("a", "azure", None, Decimal("12.5")).factor == Decimal("0.875")
    assert Adjustment("a", None, "m", Decimal("10"), Decimal("20")).factor == Decimal("1.08")
    assert Adjustment("a", None, "m", Decimal("100")).factor == 0


def test_the_most_specific_adjustment_wins() -> None:
    adjustments = parse_adjustments(
        {
            "azure": {"provider": "Azure", "discount_pct": Decimal("10")},
            "gpt4o": {"model": "gpt-4o", "discount_pct": Decimal("5")},
            "azure-gpt4o": {"provider": "azure", "model": "gpt-4o", "discount_pct": Decimal("20")},
        },
        "llm-cost.toml",
    )
    assert adjustments.for_usage("azure", "gpt-4o").name == "azure-gpt4o"  # type: ignore[union-attr]
    assert adjustments.for_usage("openai", "gpt-4o").name == "gpt4o"  # type: ignore[union-attr]
    assert adjustments.for_usage("AZURE", "gpt-4o-mini").name == "azure"  # type: ignore[union-attr]
    assert adjustments.for_usage("openai", "gpt-4o-mini") is None
    assert not Adjustments() and adjustments


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("not a table", "must be a table of"),
        ({"x": "nope"}, r"\[adjustments.x\] must be a table"),
        ({"x": {"discount_pct": 5}}, "give a provider, a model or both"),
        ({"x": {"provider": "azure"}}, "give discount_pct, markup_pct or both"),
        ({"x": {"provider": "azure", "discount_pct": 101}}, "from 0 to 100"),
        ({"x": {"provider": "azure", "discount_pct": -1}}, "from 0 to 100"),
        ({"x": {"provider": "azure", "markup_pct": "lots"}}, "is not a number"),
        ({"x": {"provider": "azure", "discount_pct": True}}, "is not a number"),
        ({"x": {"provider": "azure", "discount_pct": Decimal("nan")}}, "from 0 to 100"),
        ({"x": {"provider": "", "discount_pct": 1}}, "provider must be a non-empty string"),
        ({"x": {"provider": "azure", "discount": 1}}, "unknown key"),
        ({"bad name": {"provider": "azure", "discount_pct": 1}}, "the name must be"),
        (
            {"a": {"provider": "azure", "discount_pct": 1}, "b": {"provider": "Azure", "discount_pct": 2}},
            r"\[adjustments.a\] and \[adjustments.b\] cover the same usage",
        ),
    ],
)
def test_bad_adjustments_are_refused_with_the_table_named(table: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_adjustments(table, "llm-cost.toml")

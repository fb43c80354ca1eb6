"""How llm-cost writes money: fixed point with a `.`, whatever the Decimal's exponent."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from llm_cost.formats import format_decimal
from llm_cost.records import EXACT


def _by_definition(value: Decimal) -> str:
    """The rule spelled out: normalize, print fixed point, no negative zero, at least one decimal."""
    text = format(value.normalize(EXACT), "f")
    if text in ("-0", "-0.0"):
        text = "0"
    return text if "." in text else text + ".0"


@given(st.integers(-(10**40), 10**40), st.integers(-60, 20))
@example(0, 0)
@example(0, -12)  # 0E-12
@example(-0, -3)
@example(100, 0)
@example(10000, -2)  # 100.00
@example(1, 3)  # 1E+3
@example(1, -7)  # 1E-7
def test_the_fast_path_writes_what_the_rule_says(mantissa: int, exponent: int) -> None:
    value = Decimal(mantissa).scaleb(exponent, EXACT)
    assert format_decimal(value) == _by_definition(value)
    assert format_decimal(-value) == _by_definition(-value)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_any_decimal_text(value: Decimal) -> None:
    assert format_decimal(value) == _by_definition(value)


def test_examples() -> None:
    assert [format_decimal(Decimal(t)) for t in ("3", "2.50", "1E-7", "-0.000", "0E-12", "1E+3")] == [
        "3.0",
        "2.5",
        "0.0000001",
        "0.0",
        "0.0",
        "1000.0",
    ]

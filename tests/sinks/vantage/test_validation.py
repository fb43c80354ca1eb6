"""Vantage row validation: each check Vantage's 422 makes, caught locally."""

from __future__ import annotations

import pytest

from llm_cost.sinks.vantage.validation import vantage_row_problems
from tests.fakes.vantage import vantage_row


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("ChargeCategory", "Purchase", "ChargeCategory 'Purchase' must be one of"),
        ("BilledCost", "abc", "valid number"),
        ("BilledCost", "NaN", "valid number"),
        ("ChargePeriodStart", "5/1/25", "valid date"),
        ("Tags", "{x}", "flat JSON"),
        ("Tags", '{"a":{"b":1}}', "flat JSON"),
        ("ServiceName", None, "ServiceName is required"),
    ],
)
def test_vantage_validation(column: str, value: str | None, problem: str) -> None:
    row = vantage_row()
    assert vantage_row_problems(row) == []
    row[column] = value
    assert any(problem in p for p in vantage_row_problems(row))

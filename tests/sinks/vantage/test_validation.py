"""Vantage row validation: each check Vantage's 422 makes, caught locally."""

from __future__ import annotations

import json

import pytest

from llm_cost.sinks.vantage.validation import vantage_row_problems


def _row(n: int = 0, cost: str = "1.5", name: str = "svc") -> dict[str, str | None]:
    return {
        "ChargePeriodStart": "2026-10-05T00:00:00Z",
        "ChargePeriodEnd": "2026-10-06T00:00:00Z",
        "ChargeCategory": "Usage",
        "BilledCost": cost,
        "BillingCurrency": "USD",
        "ResourceId": f"r{n}",
        "ResourceType": "LLM",
        "RegionId": None,
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": name,
        "ConsumedQuantity": "10.0",
        "ConsumedUnit": "Tokens",
        "Tags": json.dumps({"team": f'Équipe, "{n}"\nx'}),
    }


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
    row = _row()
    assert vantage_row_problems(row) == []
    row[column] = value
    assert any(problem in p for p in vantage_row_problems(row))

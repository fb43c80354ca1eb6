"""The run summary: list against billed columns only when negotiated rates made them differ."""

from __future__ import annotations

from llm_cost.sinks.preview import Summary

ROW = {"x_Model": "m", "ProviderName": "P", "ConsumedUnit": "Tokens", "ConsumedQuantity": "10.0"}


def test_list_and_billed_columns_appear_when_they_differ() -> None:
    summary = Summary()
    summary.write({**ROW, "BilledCost": "0.875", "ListCost": "1.0"})
    summary.write({**ROW, "BilledCost": "0.125", "ListCost": "0.125"})
    (model, _, _) = summary.tables()
    assert model.headings == ("Model", "Rows", "Tokens", "List (USD)", "Billed (USD)")
    assert list(model.rows) == [("m", "2", "20", "1.125", "1.0")]
    assert summary.totals_line() == "2 rows, total cost 1.0 USD (list 1.125 USD)"
    assert summary.to_json()["list_cost"] == "1.125" and summary.to_json()["total_cost"] == "1.0"


def test_one_cost_column_when_list_equals_billed() -> None:
    summary = Summary()
    summary.write({**ROW, "BilledCost": "1.0", "ListCost": "1.0"})
    (model, _, _) = summary.tables()
    assert model.headings == ("Model", "Rows", "Tokens", "Cost (USD)")
    assert list(model.rows) == [("m", "1", "10", "1.0")]
    assert summary.totals_line() == "1 rows, total cost 1.0 USD"

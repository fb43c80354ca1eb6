"""The run summary: list against billed columns only when negotiated rates made them differ, the merge of a
labelled run's sources, and estimates against actuals."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from llm_cost.sinks.preview import Summary, difference

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


_ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "x_Model": st.sampled_from(["gpt-4o", "claude", "gemini"]),
            "ProviderName": st.sampled_from(["OpenAI", "Anthropic"]),
            "SubAccountId": st.sampled_from(["", "t1", "t2"]),
            "SubAccountType": st.just("Team"),
            "x_CostSource": st.sampled_from(["estimated", "reported"]),
            "x_Source": st.sampled_from(["prod", "staging", "plan"]),
            "ConsumedUnit": st.sampled_from(["Tokens", "Requests"]),
            "ConsumedQuantity": st.integers(0, 10**9).map(str),
            "BilledCost": st.decimals(-10, 10**6, places=12, allow_nan=False).map(str),
            "ChargePeriodStart": st.sampled_from(["2025-06-01T00:00:00Z", "2025-06-02T00:00:00Z"]),
        }
    ),
    max_size=40,
)


@given(_ROWS, st.integers(0, 40))
def test_summaries_of_the_parts_merge_into_the_summary_of_the_whole(rows: list[dict[str, str]], cut: int) -> None:
    whole, first, second = Summary(), Summary(), Summary()
    for number, row in enumerate(rows):
        whole.write(row)
        (first if number < cut else second).write(row)
    merged = first.merge(second)
    assert merged.to_json() == whole.to_json()
    assert merged.compare_json() == whole.compare_json()
    assert sum((t.cost for t in merged.by_source.values()), Decimal(0)) == merged.total_cost


def test_estimates_against_actuals_per_model_and_per_shared_sub_account() -> None:
    summary = Summary()
    for source, model, team, cost in (
        ("estimated", "gpt-4o", "support", "8"),
        ("reported", "gpt-4o", "support", "10"),
        ("reported", "gpt-4o", "search", "5"),
        ("estimated", "claude", "", "2"),
        ("reported", "gemini", "", "1"),
    ):
        summary.write(
            {
                **ROW,
                "x_Model": model,
                "x_CostSource": source,
                "BilledCost": cost,
                "SubAccountId": team,
                "SubAccountName": team,
                "SubAccountType": "Team",
            }
        )
    by_model, by_team = summary.compare_tables()
    assert list(by_model.rows) == [
        ("claude", "2.0", "0.0", "-100.0%"),
        ("gemini", "0.0", "1.0", "n/a"),
        ("gpt-4o", "8.0", "15.0", "+87.5%"),
    ]
    assert by_team.headings[0] == "Team" and list(by_team.rows) == [("support", "8.0", "10.0", "+25.0%")]
    assert summary.compare_json()["by_model"][1] == {
        "name": "gemini",
        "estimated": "0.0",
        "actual": "1.0",
        "difference_pct": None,
    }
    assert difference(Decimal(3), Decimal(1)) == "-66.7%"

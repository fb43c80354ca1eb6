"""The run summary: list against billed columns only when negotiated rates made them differ, the merge of a
labelled run's sources, and estimates against actuals."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from llm_cost.focus.rowset import VARYING, RowSet, RowShape
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
            "ChargePeriodStart": st.sampled_from(
                ["2025-06-01T00:00:00Z", "2025-06-01T13:00:00Z", "2025-06-02T00:00:00Z", "2025-06-04T00:00:00Z"]
            ),
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
    assert dict(merged.by_day_model) == dict(whole.by_day_model)
    assert dict(merged.by_day_sub_account) == dict(whole.by_day_sub_account)
    for by_day in (merged.by_day_model, merged.by_day_sub_account):
        assert sum(by_day.values(), Decimal(0)) == merged.total_cost
        assert all(len(day) == 10 for day, _ in by_day)  # YYYY-MM-DD, hours folded into their day


def test_per_day_totals_by_model_and_sub_account() -> None:
    summary = Summary()
    for start, model, team, cost in (
        ("2025-06-01T00:00:00Z", "gpt-4o", "support", "0.1"),
        ("2025-06-01T13:00:00Z", "gpt-4o", "support", "0.2"),  # an hour row: its day is the UTC day it starts in
        ("2025-06-01T00:00:00Z", "claude", "", "1"),
        ("2025-06-03T00:00:00Z", "gpt-4o", "search", "2"),
    ):
        summary.write({**ROW, "x_Model": model, "SubAccountId": team, "BilledCost": cost, "ChargePeriodStart": start})
    summary.write({**ROW, "BilledCost": "5"})  # no period: in the totals, on no day
    assert dict(summary.by_day_model) == {
        ("2025-06-01", "gpt-4o"): Decimal("0.3"),
        ("2025-06-01", "claude"): Decimal("1"),
        ("2025-06-03", "gpt-4o"): Decimal("2"),
    }
    assert dict(summary.by_day_sub_account) == {
        ("2025-06-01", "support"): Decimal("0.3"),
        ("2025-06-01", "(none)"): Decimal("1"),
        ("2025-06-03", "search"): Decimal("2"),
    }
    assert summary.to_json()["by_day"][0] == {
        "day": "2025-06-01",
        "cost": "1.3",
        "by_model": [{"name": "claude", "cost": "1.0"}, {"name": "gpt-4o", "cost": "0.3"}],
        "by_sub_account": [{"name": "(none)", "cost": "1.0"}, {"name": "support", "cost": "0.3"}],
    }
    by_team = summary.day_series("team")
    assert by_team is not None and by_team.days == ("2025-06-01", "2025-06-02", "2025-06-03")
    assert by_team.names == ("search", "(none)", "support")
    assert by_team.totals == (Decimal("1.3"), Decimal(0), Decimal(2))
    assert summary.day_series("none") is None
    assert summary.chart_title("llm-cost dry-run", "team") == "llm-cost dry-run: spend per day by sub-account"


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


@given(_ROWS, st.lists(st.integers(1, 4), max_size=20))
def test_groups_of_rows_sum_as_their_rows_do(rows: list[dict[str, str]], sizes: list[int]) -> None:
    """`write_group` (shapes read once, rows filed alike summed first) gives the totals of writing each row."""
    one_by_one, grouped = Summary(), Summary()
    for row in rows:
        one_by_one.write(row)
    sets, start = [], 0
    for size in [*sizes, len(rows)]:
        chosen = rows[start : start + size]
        start += size
        if chosen:
            shapes = [RowShape({k: v for k, v in row.items() if k not in VARYING}) for row in chosen]
            values = [tuple(row.get(c) for c in VARYING) for row in chosen]
            sets.append(RowSet(shapes, values))
    for rows_set in sets:
        grouped.write_group(rows_set)
    assert grouped.to_json() == one_by_one.to_json()
    assert grouped.compare_json() == one_by_one.compare_json()
    assert dict(grouped.by_day_model) == dict(one_by_one.by_day_model)
    assert dict(grouped.by_day_sub_account) == dict(one_by_one.by_day_sub_account)
    assert grouped.sub_account_types == one_by_one.sub_account_types

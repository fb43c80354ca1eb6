"""The pure judge of `check` (llm_cost.guard): FOCUS rows folded by the ledger, then budgets at every scope and
period, warnings, the policy and spikes; hypothesis properties of the budget verdict; the strict [budget] and
[policy] parsing."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_cost.errors import ConfigError
from llm_cost.focus.mapping import FocusRow
from llm_cost.guard.judge import (
    Finding,
    days_span,
    deciding_kind,
    judge_budgets,
    judge_policy,
    judge_spikes,
    median,
    period_of,
)
from llm_cost.guard.ledger import Ledger
from llm_cost.guard.rules import Limit, Policy, load_rules, parse_rules

D = Decimal
MON = date(2025, 6, 2)  # a Monday: ISO week 2025-W23 is June 2 to 8


def row(
    day: date,
    cost: str,
    *,
    kind: str = "actual",
    team: str | None = "t-1",
    team_alias: str | None = "Search",
    key: str | None = "hash-1",
    key_name: str = "prod-search",
    user: str | None = "user-1",
    email: str | None = "u1@example.com",
    model: str = "gpt-4o",
    group: str | None = None,
    provider: str = "OpenAI",
    tags: dict[str, str] | None = None,
    tokens: int = 1000,
    unknown: bool = False,
    sub_account: tuple[str, str, str] | None = None,
) -> FocusRow:
    """A FOCUS row with the columns the ledger reads, shaped as the mapping writes actual or estimate rows."""
    estimate = kind == "estimate"
    all_tags: dict[str, object] = dict(tags or {})
    prefix = "" if estimate else "x-"
    for name, value in (("team-id", team), ("team-alias", team_alias), ("user-id", user), ("user-email", email)):
        if value is not None:
            all_tags[(prefix + name) if not estimate else name.replace("-", "_")] = value
    if group:
        all_tags["model_group" if estimate else "x-model-group"] = group
    all_tags["llm-cost-type"] = "estimate" if estimate else "actual"
    if unknown and estimate:
        all_tags["x-price-source"] = "override"
    elif unknown:
        all_tags["x-list-price"] = "unknown"
        all_tags["x-price-source"] = "unknown"
    sub = sub_account or (("Team", team, team_alias or team) if team else (None, None, None))
    return {
        "ChargePeriodStart": f"{day.isoformat()}T00:00:00Z",
        "BilledCost": cost,
        "x_Model": model,
        "SkuId": model,
        "ProviderName": provider,
        "BillingAccountId": key or provider,
        "BillingAccountName": key_name if key else provider,
        "BillingAccountType": "API Key" if key else "Provider Account",
        "SubAccountType": sub[0],
        "SubAccountId": sub[1],
        "SubAccountName": sub[2],
        "ConsumedQuantity": f"{tokens}.0",
        "ConsumedUnit": "Tokens",
        "x_CostSource": "estimated" if estimate else "reported",
        "Tags": json.dumps(all_tags, sort_keys=True),
    }


def ledger(rows: list[FocusRow], tag_keys: tuple[str, ...] = ()) -> Ledger:
    folded = Ledger(tag_keys)
    for item in rows:
        folded.write(item)
    return folded


def budgets(rows: list[FocusRow], limits: list[Limit], days: list[date], **kwargs: object) -> list[Finding]:
    keys = tuple(sorted({lim.scope[4:] for lim in limits if lim.scope.startswith("tag:")}))
    folded = ledger(rows, keys)
    result = judge_budgets(folded.spend, limits, days, names=folded.display_names(), **kwargs)  # type: ignore[arg-type]
    return list(result.findings)


def failing(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.status == "fail"]


# What each scope's value is in `row()`: (the row's keyword argument, a value, its id as the ledger keeps it).
SCOPE_ROWS = {
    "total": ({}, ""),
    "team": ({"team": "t-9", "team_alias": "Ops"}, "t-9"),
    "key": ({"key": "hash-9", "key_name": "ops-key"}, "hash-9"),
    "user": ({"user": "user-9", "email": "ops@example.com"}, "user-9"),
    "model": ({"model": "claude-sonnet-4-0"}, "claude-sonnet-4-0"),
    "provider": ({"provider": "Anthropic"}, "Anthropic"),
    "tag:cost-center": ({"tags": {"cost-center": "cc-42"}}, "cc-42"),
}


@pytest.mark.parametrize("scope", list(SCOPE_ROWS))
@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_exactly_at_the_limit_passes_and_one_cent_above_fails_at_every_scope_and_period(
    scope: str, period: str
) -> None:
    extra, value_id = SCOPE_ROWS[scope]
    days = [MON, MON + timedelta(days=1)]
    # Day limits see one day; week and month limits see both days of the window (June 2 and 3).
    spread = period != "day"
    at_limit = [row(MON, "6.25", **extra), row(days[1] if spread else MON, "3.75", **extra)]  # type: ignore[arg-type]
    limit = Limit("[[budget.limits]] #1", scope, D("10.00"), period)  # type: ignore[arg-type]
    passed = budgets(at_limit, [limit], days)
    assert failing(passed) == []
    one_cent = budgets([*at_limit, row(MON, "0.01", **extra)], [limit], days)  # type: ignore[arg-type]
    [failed] = failing(one_cent)
    assert failed.kind == "budget" and failed.scope == scope and failed.value_id == value_id
    assert failed.spend == D("10.01") and failed.limit == D("10.00")
    assert failed.span.label == period_of(MON, period)[0]  # type: ignore[arg-type]
    assert "budget exceeded" in failed.message and "10.01 USD" in failed.message


def test_each_value_is_judged_separately_and_match_selects_by_id_or_name() -> None:
    rows = [
        row(MON, "6", team="t-1", team_alias="Search"),
        row(MON, "6", team="t-2", team_alias="Chat"),
        row(MON, "11", team="t-3", team_alias="Data"),
    ]
    every = Limit("[[budget.limits]] #1", "team", D(10), "day")
    assert [f.value for f in failing(budgets(rows, [every], [MON]))] == ["Data"]
    by_name = Limit("[[budget.limits]] #2", "team", D(5), "day", match="Se*")
    assert [f.value_id for f in failing(budgets(rows, [by_name], [MON]))] == ["t-1"]
    by_id = Limit("[[budget.limits]] #3", "team", D(5), "day", match="t-[23]")
    assert sorted(f.value for f in failing(budgets(rows, [by_id], [MON]))) == ["Chat", "Data"]
    case_sensitive = Limit("[[budget.limits]] #4", "team", D(5), "day", match="search")
    assert failing(budgets(rows, [case_sensitive], [MON])) == []


def test_rows_without_the_scopes_value_count_toward_no_value_but_toward_the_total() -> None:
    rows = [row(MON, "20", team=None, key=None, user=None, email=None)]
    limits = [Limit(f"#{n}", scope, D(1), "day") for n, scope in enumerate(("team", "key", "user", "tag:app"))]
    assert failing(budgets(rows, limits, [MON])) == []
    [total] = failing(budgets(rows, [Limit("#t", "total", D(1), "day")], [MON]))
    assert total.spend == D(20)


def test_week_is_iso_monday_to_sunday_and_a_partly_covered_period_says_so() -> None:
    sunday, monday = MON + timedelta(days=6), MON + timedelta(days=7)
    days = [MON + timedelta(days=n) for n in range(3, 9)]  # Thursday June 5 to Tuesday June 10
    rows = [row(days[0], "4"), row(sunday, "4"), row(monday, "4")]
    week = Limit("#w", "total", D(7), "week")
    [failed] = failing(budgets(rows, [week], days))
    assert failed.span.label == "2025-W23" and failed.spend == D(8)
    assert (failed.span.covered, failed.span.days) == (4, 7) and failed.span.partial
    assert "2025-W23 (4 of 7 days)" in failed.message
    # The Monday belongs to the next ISO week, judged on its own 2 covered days.
    all_of_it = judge_budgets(ledger(rows).spend, [Limit("#w", "total", D(100), "week")], days, warn_pct=D(1))
    assert {f.span.label: f.span.covered for f in all_of_it.findings} == {"2025-W23": 4, "2025-W24": 2}


def test_month_is_the_calendar_month_and_days_outside_the_window_never_count() -> None:
    days = [date(2025, 5, 30), date(2025, 5, 31), date(2025, 6, 1)]
    rows = [row(date(2025, 5, 29), "100"), row(days[0], "3"), row(days[1], "3"), row(days[2], "5")]
    month = Limit("#m", "total", D(5), "month")
    [may] = failing(budgets(rows, [month], days))  # June's 5.00 is exactly at the limit: passes
    assert may.span.label == "2025-05" and may.spend == D(6) and (may.span.covered, may.span.days) == (2, 31)


def test_warnings_at_the_share_once_per_value_and_period() -> None:
    days = [MON + timedelta(days=n) for n in range(7)]
    rows = [row(day, "1.20") for day in days[:6]] + [row(days[6], "0.80")]  # 8.00 in the week: 80 % of 10
    week = Limit("#w", "total", D(10), "week")
    findings = budgets(rows, [week], days)
    assert [(f.status, f.span.label) for f in findings] == [("warn", "2025-W23")]
    assert (
        findings[0].warn_at == D(8)
        and "was 8.0 USD (actual) in 2025-W23, 80.0% of the 10.0 USD limit" in findings[0].message
    )
    just_below = budgets([*rows[:6], row(days[6], "0.79")], [week], days)
    assert [f.status for f in just_below] == ["ok"]
    # A per-limit warn_pct wins over --warn-at; --warn-at sets the others.
    assert [f.status for f in budgets(rows, [Limit("#w", "total", D(10), "week", warn_pct=D(90))], days)] == ["ok"]
    lower = budgets([*rows[:6], row(days[6], "0.79")], [week], days, warn_pct=D(70))
    assert [f.status for f in lower] == ["warn"]
    # Day periods warn on each day that reaches the share, each once.
    daily = budgets(rows, [Limit("#d", "total", D("1.25"), "day")], days)
    assert [f.span.label for f in daily if f.status == "warn"] == [d.isoformat() for d in days[:6]]


def test_a_zero_limit_fails_any_spend_and_zero_spend_does_not_warn() -> None:
    zero = Limit("#z", "model", D(0), "day", match="gpt-4-32k*")
    assert [f.status for f in budgets([row(MON, "0", model="gpt-4-32k")], [zero], [MON])] == ["ok"]
    [failed] = failing(budgets([row(MON, "0.000001", model="gpt-4-32k")], [zero], [MON]))
    assert failed.value == "gpt-4-32k"


def test_a_limit_with_nothing_to_judge_reports_its_peak_or_zero() -> None:
    rows = [row(MON, "3", team="t-1"), row(MON, "4", team="t-2", team_alias="Chat")]
    [peak] = budgets(rows, [Limit("#1", "team", D(10), "day")], [MON])
    assert (peak.status, peak.value, peak.spend) == ("ok", "Chat", D(4))
    [none] = budgets(rows, [Limit("#2", "team", D(10), "day", match="nobody")], [MON])
    assert (none.status, none.value, none.spend) == ("ok", "", D(0))


def test_actual_and_estimated_spend_are_judged_apart() -> None:
    rows = [row(MON, "6"), row(MON, "6", kind="estimate")]
    both = Limit("#b", "total", D(10), "day")
    assert failing(budgets(rows, [both], [MON])) == []  # 12 together, but the same usage twice: never summed
    [estimate] = failing(budgets(rows, [Limit("#e", "total", D(5), "day", applies_to="estimate")], [MON]))
    assert estimate.cost == "estimate"
    costs = sorted(f.cost for f in failing(budgets(rows, [Limit("#a", "total", D(5), "day")], [MON])))
    assert costs == ["actual", "estimate"]


def test_names_and_fallbacks_of_each_scope() -> None:
    rows = [
        row(MON, "1", team="t-1", team_alias="Search"),
        row(MON + timedelta(days=1), "1", team="t-1", team_alias="Search & Discovery"),  # renamed since
        row(MON, "1", team=None, sub_account=("Team", "t-5", "Five")),
        row(MON, "1", user=None, email=None, sub_account=("User", "user-5", "five@example.com")),
        row(MON, "1", tags={}, sub_account=("Tag app", "app-5", "app-5")),
        row(MON, "1", kind="estimate", team="est", team_alias="est", key=None),
    ]
    names = {(s.scope, s.id): n for s, n in ledger(rows, ("app",)).display_names().items()}
    assert names[("team", "t-1")] == "Search & Discovery"
    assert names[("team", "t-5")] == "Five" and names[("user", "user-5")] == "five@example.com"
    assert names[("tag:app", "app-5")] == "app-5" and names[("team", "est")] == "est"
    assert names[("key", "hash-1")] == "prod-search" and ("key", "OpenAI") not in names


def test_a_value_renamed_within_a_day_gets_one_name_whatever_the_row_order() -> None:
    rows = [row(MON, "1", team_alias="Search"), row(MON, "1", team_alias="Search & Discovery")]
    for order in (rows, rows[::-1]):
        names = {(s.scope, s.id): n for s, n in ledger(order).display_names().items()}
        assert names[("team", "t-1")] == "Search & Discovery"
        halves = ledger(order[:1]).merge(ledger(order[1:])).display_names()
        assert {(s.scope, s.id): n for s, n in halves.items()} == names


def test_ledgers_merge_to_the_same_spend_as_one() -> None:
    rows = [row(MON + timedelta(days=n % 3), f"{n}.5", team=f"t-{n % 2}") for n in range(8)]
    one = ledger(rows)
    merged = ledger(rows[:3]).merge(ledger(rows[3:]))
    assert merged.spend == one.spend and merged.rows == one.rows and merged.display_names() == one.display_names()
    assert merged.model_uses([MON]) == one.model_uses([MON])


# --- policy ----------------------------------------------------------------------------------------------------


def policy_findings(rows: list[FocusRow], policy: Policy, days: list[date] | None = None) -> list[Finding]:
    return list(judge_policy(ledger(rows).model_uses(days or [MON]), policy).findings)


def test_blocked_and_allowed_globs_case_sensitive_by_model_or_model_group() -> None:
    rows = [
        row(MON, "1", model="gpt-4o-2024-08-06", group="gpt-4o"),
        row(MON, "1", model="gpt-4-32k"),
        row(MON, "1", model="claude-sonnet-4-20250514", group="claude-sonnet-4-0"),
        row(MON, "1", model="GPT-4O-MINI"),
    ]
    blocked = policy_findings(rows, Policy(blocked_models=("gpt-4-*",)))
    assert [(f.value, f.status) for f in blocked] == [("gpt-4-32k", "fail")]
    assert blocked[0].rule == "[policy] blocked_models 'gpt-4-*'" and "is blocked" in blocked[0].message
    allowed = policy_findings(rows, Policy(allowed_models=("gpt-4o", "claude-*")))
    assert sorted(f.value for f in allowed) == ["GPT-4O-MINI", "gpt-4-32k"]  # by group; case-sensitive
    assert all(f.rule == "[policy] allowed_models" and "not in" in f.message for f in allowed)
    # Blocked wins over allowed: one finding, the blocked one.
    both = policy_findings(rows, Policy(allowed_models=("*",), blocked_models=("claude-sonnet-4-0",)))
    assert [(f.value, f.rule) for f in both] == [
        ("claude-sonnet-4-20250514", "[policy] blocked_models 'claude-sonnet-4-0'")
    ]


def test_unknown_models_from_the_data_of_actuals_and_estimates() -> None:
    rows = [
        row(MON, "2", model="my-finetune", unknown=True),  # actual: x-list-price unknown
        row(MON, "1", kind="estimate", model="acme-ft", unknown=True, key=None),  # estimate: [pricing] only
        row(MON, "1", model="gpt-4o"),
        row(MON, "0", model="unknown-model", unknown=True, tokens=0),  # a failed request: not a use
    ]
    assert policy_findings(rows, Policy()) == []
    failed = policy_findings(rows, Policy(unknown_models="fail"))
    assert [(f.value, f.cost, f.status) for f in failed] == [
        ("my-finetune", "actual", "fail"),
        ("acme-ft", "estimate", "fail"),
    ]
    warned = policy_findings(rows, Policy(unknown_models="warn"))
    assert {f.status for f in warned} == {"warn"} and len(warned) == 2
    assert "no public list price" in warned[0].message


def test_policy_judges_only_used_models_on_the_judged_days() -> None:
    rows = [
        row(MON - timedelta(days=1), "5", model="gpt-4-32k"),  # a baseline day: not judged
        row(MON, "0", model="cached-model", tokens=500),  # a response-cache hit: tokens, no cost, still a use
        row(MON, "0", model="failed-model", tokens=0),
    ]
    findings = policy_findings(rows, Policy(blocked_models=("*",)))
    assert [f.value for f in findings] == ["cached-model"]


# --- spikes ----------------------------------------------------------------------------------------------------


def spikes(rows: list[FocusRow], day: date, **kwargs: object) -> list[Finding]:
    options: dict[str, object] = {"factor": D(3), "baseline_days": 7, "floor": D("1.00"), **kwargs}
    folded = ledger(rows)
    return list(judge_spikes(folded.spend, [day], names=folded.display_names(), **options).findings)  # type: ignore[arg-type]


def history(values: list[str], **kwargs: object) -> list[FocusRow]:
    """One row a day from MON, each day's cost as given ("" = no row that day)."""
    return [row(MON + timedelta(days=n), cost, **kwargs) for n, cost in enumerate(values) if cost]  # type: ignore[arg-type]


def test_a_spike_is_above_factor_times_the_median_of_the_days_before() -> None:
    judged = MON + timedelta(days=7)
    rows = history(["1", "2", "2", "9", "2", "1", "3", "6.01"], model="m")
    found = {(f.scope, f.status) for f in spikes(rows, judged)}
    assert found == {("team", "fail"), ("key", "fail"), ("model", "fail")}  # median 2: 6.01 > 6
    model = next(f for f in spikes(rows, judged) if f.scope == "model")
    assert model.baseline == D(2) and model.limit == D(6) and "3.0x the median 2" in model.message
    at = history(["1", "2", "2", "9", "2", "1", "3", "6"])
    assert spikes(at, judged) == []  # exactly 3x passes


def test_missing_baseline_days_count_as_zero() -> None:
    judged = MON + timedelta(days=7)
    four = history(["5", "5", "5", "5", "", "", "", "14"], team=None, key=None)  # median of 5,5,5,5,0,0,0 = 5
    assert spikes(four, judged) == []
    three = history(["5", "5", "5", "", "", "", "", "2"], team=None, key=None)  # median 0: any spend above the floor
    [spike] = spikes(three, judged)
    assert spike.status == "fail" and spike.baseline == D(0) and "above the median 0" in spike.message


def test_new_values_without_history_are_reported_not_failed_and_cents_never_alert() -> None:
    judged = MON + timedelta(days=7)
    rows = [row(judged, "2.5", key="hash-new", key_name="intern", team=None, model="m-new")]
    found = spikes(rows, judged)
    assert {(f.scope, f.value, f.status) for f in found} == {("key", "intern", "new"), ("model", "m-new", "new")}
    assert deciding_kind(found) is None
    assert "no spend in the 7 days before" in found[0].message
    cents = [row(judged, "0.99", key="hash-new", team=None)]
    assert spikes(cents, judged) == []
    assert spikes(cents, judged, floor=D("0.50")) != []


def test_spikes_judge_actual_spend_of_team_key_and_model_only() -> None:
    judged = MON + timedelta(days=7)
    rows = [row(judged, "50", kind="estimate", team="t-e", key=None)] + history(["1"] * 7 + ["50"], user="u")
    assert {f.scope for f in spikes(rows, judged)} == {"team", "key", "model"}


def test_median_is_exact() -> None:
    assert median([D(1), D(3), D(2)]) == D(2)
    assert median([D("0.1"), D("0.2")]) == D("0.15")
    assert median([D(0)] * 7) == D(0)


def test_the_deciding_kind_is_policy_then_budget_then_spike() -> None:
    def f(kind: str, status: str = "fail") -> Finding:
        return Finding(kind, status, "actual", "total", "", "", days_span(MON, MON), D(1))  # type: ignore[arg-type]

    assert deciding_kind([f("spike"), f("budget"), f("policy")]) == "policy"
    assert deciding_kind([f("spike"), f("budget")]) == "budget"
    assert deciding_kind([f("spike"), f("policy", "warn")]) == "spike"
    assert deciding_kind([f("budget", "warn"), f("spike", "new")]) is None


# --- properties ------------------------------------------------------------------------------------------------

cents = st.integers(min_value=0, max_value=500_000).map(lambda n: D(n) / 100)
row_specs = st.lists(
    st.tuples(
        st.integers(0, 9),
        st.sampled_from(["t-1", "t-2", "t-3"]),
        cents,
        st.sampled_from(["m-1", "m-2"]),
        st.sampled_from(
            ["Search", "Search & Discovery"]
        ),  # a team renamed within a day: names must not depend on order
    ),
    min_size=1,
    max_size=30,
)
limit_specs = st.lists(
    st.tuples(
        st.sampled_from(["total", "team", "model", "key"]),
        st.sampled_from(["day", "week", "month"]),
        cents,
        st.sampled_from([None, "t-1", "t-*", "m-2", "Search"]),
    ),
    min_size=1,
    max_size=4,
)


def _limits(specs: list[tuple[str, str, Decimal, str | None]]) -> list[Limit]:
    return [
        Limit(f"#{n}", scope, amount, period, None if scope == "total" else match)  # type: ignore[arg-type]
        for n, (scope, period, amount, match) in enumerate(specs)
    ]


def _rows(specs: list[tuple[int, str, Decimal, str, str]]) -> list[FocusRow]:
    return [
        row(date(2025, 6, 25) + timedelta(days=d), str(cost), team=t, team_alias=alias, model=m)
        for d, t, cost, m, alias in specs
    ]


@given(row_specs, limit_specs, st.randoms(use_true_random=False))
def test_property_a_budget_verdict_never_depends_on_row_order(
    specs: list[tuple[int, str, Decimal, str, str]],
    limit_specs: list[tuple[str, str, Decimal, str | None]],
    rnd: object,
) -> None:
    rows = _rows(specs)
    shuffled = list(rows)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    limits = _limits(limit_specs)
    days = [date(2025, 6, 25) + timedelta(days=n) for n in range(10)]  # across a week and a month boundary
    assert budgets(rows, limits, days) == budgets(shuffled, limits, days)
    assert budgets(rows, limits, days) == budgets(list(reversed(rows)), limits, days)


@given(row_specs, st.sampled_from(["day", "week", "month"]))
def test_property_spend_exactly_at_the_limit_never_fails_and_a_cent_more_always_does(
    specs: list[tuple[int, str, Decimal, str, str]], period: str
) -> None:
    rows = _rows(specs)
    days = [date(2025, 6, 25) + timedelta(days=n) for n in range(10)]
    per_period: dict[str, Decimal] = {}
    for d, _, cost, _, _ in specs:
        label = period_of(date(2025, 6, 25) + timedelta(days=d), period)[0]  # type: ignore[arg-type]
        per_period[label] = per_period.get(label, D(0)) + cost
    peak = max(per_period.values())
    at = Limit("#at", "total", peak, period)  # type: ignore[arg-type]
    assert failing(budgets(rows, [at], days)) == []
    below = Limit("#below", "total", peak - D("0.01"), period)  # type: ignore[arg-type]
    if peak >= D("0.01"):
        assert {f.span.label for f in failing(budgets(rows, [below], days))} == {
            label for label, spend in per_period.items() if spend == peak
        }


# --- the rules -------------------------------------------------------------------------------------------------


def test_the_original_keys_keep_their_meaning() -> None:
    rules = parse_rules({"max_cost_usd": D("25.0"), "warn_threshold": D("0.8")}, {"allowed_models": ["gpt-4o"]}, "f")
    [limit] = rules.limits
    assert (limit.scope, limit.period, limit.max_usd, limit.warn_pct, limit.costs) == (
        "total",
        "day",
        D("25.0"),
        D("80.0"),
        ("estimate",),
    )
    assert rules.policy.allowed_models == ("gpt-4o",) and rules.policy.active


def one(**item: object) -> dict[str, object]:
    """A [budget] with one [[budget.limits]] table: a team limit of 5 USD, changed by `item`."""
    return {"limits": [{"scope": "team", "max_usd": 5, **item}]}


@pytest.mark.parametrize(
    ("budget", "policy", "message"),
    [
        ({"max_cost_usd": "10"}, None, "[budget] max_cost_usd: must be a number, not '10'"),
        ({"max_cost_usd": True}, None, "[budget] max_cost_usd: must be a number, not True"),
        ({"max_cost_usd": D(-1)}, None, "[budget] max_cost_usd: must be zero or more US dollars"),
        ({"warn_threshold": D("0.8")}, None, "[budget]: warn_threshold is the warn share of max_cost_usd"),
        ({"max_cost_usd": 5, "warn_threshold": 80}, None, "[budget] warn_threshold: must be a share above 0"),
        (one(period="weekly"), None, "[[budget.limits]] #1 period: must be 'day', 'week' or 'month', not 'weekly'"),
        ({"limits": [*one()["limits"], *one(scope="teams")["limits"]]}, None, "[[budget.limits]] #2 scope: must be"),
        (one(scope="tag:"), None, "[[budget.limits]] #1 scope: must be total, team, key, user, model, provider or"),
        (one(scope="total", match="x*"), None, "[[budget.limits]] #1: match has no meaning for scope total"),
        (one(match=""), None, "[[budget.limits]] #1 match: must be a glob"),
        ({"limits": [{"scope": "team"}]}, None, "[[budget.limits]] #1: 'max_usd' is missing"),
        (one(max=3), None, "[[budget.limits]] #1: unknown key 'max'"),
        (one(warn_pct=0), None, "[[budget.limits]] #1 warn_pct: must be a percentage above 0 and at most 100"),
        (one(applies_to="actuals"), None, "[[budget.limits]] #1 applies_to: must be 'actual', 'estimate' or"),
        ({"limits": {"scope": "team"}}, None, "[budget.limits] must be an array of tables; write [[budget.limits]]"),
        ({"max_cost": 5}, None, "[budget]: unknown key 'max_cost'"),
        (5, None, "budget must be a table"),
        (None, {"allowed_models": []}, "[policy] allowed_models: lists no model"),
        (None, {"allowed_models": "gpt-4o"}, "[policy] allowed_models: must be a valid list"),
        (None, {"blocked_models": ["gpt-4", 4]}, "[policy] blocked_models #2: every entry must be a model name"),
        (None, {"unknown_models": "deny"}, "[policy] unknown_models: must be 'allow', 'warn' or 'fail', not 'deny'"),
        (None, {"forbidden_models": ["x"]}, "[policy]: unknown key 'forbidden_models'"),
        (None, ["x"], "policy must be a table"),
    ],
)
def test_every_bad_rule_is_one_line_naming_the_table_and_key(budget: object, policy: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rules(budget, policy, "llm-cost.toml")
    text = str(caught.value)
    assert text.startswith("llm-cost.toml: ") and message in text and "\n" not in text


def test_budget_and_policy_come_from_one_file_each(tmp_path: Path) -> None:
    config, manifest = tmp_path / "llm-cost.toml", tmp_path / "prompts.toml"
    config.write_text("[budget]\nmax_cost_usd = 5\n", encoding="utf-8")
    manifest.write_text('[policy]\nblocked_models = ["gpt-4*"]\n', encoding="utf-8")
    rules = load_rules([config, manifest])
    assert len(rules.limits) == 1 and rules.policy.blocked_models == ("gpt-4*",)
    assert load_rules([config, config]).files == (config,)
    manifest.write_text("[budget]\nmax_cost_usd = 7\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"both .*llm-cost.toml and .*prompts.toml have a \[budget\] table"):
        load_rules([config, manifest])

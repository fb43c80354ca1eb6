"""`llm-cost check` against the loopback fake LiteLLM proxy: a planted spike day, a new key without history, a
key that spends cents, the baseline read before the window, budgets and the policy on actual spend, and the
refusals that come before any request."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from llm_cost.cli import app
from tests.fakes.litellm import KEYS, TEAMS, FakeLiteLLM, SpendDataset, TeamSpec, generate_dataset, hash_key

MASTER = "sk-master-1234"
START = date(2025, 6, 2)  # the first baseline day
JUDGED = date(2025, 6, 9)  # the day judged: the dataset's eighth
BATCH = next(k for k in KEYS if k.key_alias == "batch-jobs")  # team Data Engineering
DATA_TEAM = next(t for t in TEAMS if t.team_id == BATCH.team_id)
INTERN = hash_key("sk-intern-notebook-77aa")
PENNIES = hash_key("sk-pennies-3c3c")


@pytest.fixture(autouse=True)
def hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("llm_cost.http.time.sleep", lambda seconds: None)
    monkeypatch.chdir(tmp_path)  # no ./llm-cost.toml but the test's own


def _planted(
    dataset: SpendDataset, *, key: str, alias: str, model: str, spends: list[str], team: TeamSpec | None, tag: str
) -> list[dict[str, Any]]:
    """Rows on the judged day, copied from a row of that day and model, with a key, spend and request id of their
    own (no cost breakdown, so the spend is the whole truth)."""
    template = next(r for r in dataset if r["startTime"].date() == JUDGED and r["model"] == model and r["spend"] > 0)
    rows = []
    for number, spend in enumerate(spends):
        planted = copy.deepcopy(template)
        request_id = f"planted-{tag}-{number:04d}"
        moment = datetime(JUDGED.year, JUDGED.month, JUDGED.day, 10, number % 60, 7, tzinfo=UTC)
        metadata = planted["metadata"]
        metadata.pop("cost_breakdown", None)
        metadata.update(user_api_key=key, user_api_key_alias=alias, litellm_call_id=request_id)
        org = team.organization_id if team else None
        metadata.update(
            user_api_key_team_id=team.team_id if team else None,
            user_api_key_team_alias=team.team_alias if team else None,
            user_api_key_org_id=org,
        )
        planted.update(
            request_id=request_id,
            litellm_call_id=request_id,
            api_key=key,
            spend=Decimal(spend),
            startTime=moment,
            endTime=moment + timedelta(seconds=2),
            completionStartTime=moment + timedelta(seconds=1),
            team_id=team.team_id if team else None,
            organization_id=org,
        )
        rows.append(planted)
    return rows


def _dataset(*, spike: bool = True, newcomers: bool = True) -> SpendDataset:
    """Eight days of ordinary traffic (about 1 USD a day per busy key, team and model); on the judged day, with
    `spike`, batch-jobs (team Data Engineering) spends 6 USD more on gpt-4o-mini (whose days cost about 0.10),
    and with `newcomers`, a key never seen before spends 2.50 USD, and another 0.40 USD (below the floor)."""
    dataset = generate_dataset(5, days=8, requests=8 * 400, start_day=START)
    extra: list[dict[str, Any]] = []
    if spike:
        extra += _planted(
            dataset, key=BATCH.token, alias="batch-jobs", model="gpt-4o-mini", spends=["2"] * 3, team=DATA_TEAM, tag="s"
        )
    if newcomers:
        extra += _planted(
            dataset, key=INTERN, alias="intern-notebook", model="gpt-4o", spends=["1.25", "1.25"], team=None, tag="n"
        )
        extra += _planted(
            dataset, key=PENNIES, alias="pennies", model="gpt-4o", spends=["0.20", "0.20"], team=None, tag="p"
        )
    result = SpendDataset(sorted([*dataset, *extra], key=lambda r: r["startTime"]))
    result.seed, result.start_day, result.days = dataset.seed, dataset.start_day, dataset.days
    return result


@pytest.fixture(scope="module")
def planted() -> SpendDataset:
    return _dataset()


@pytest.fixture
def proxy(planted: SpendDataset) -> Iterator[FakeLiteLLM]:
    with FakeLiteLLM(planted) as fake:
        yield fake


def _check(fake: FakeLiteLLM | None, *args: str, env: dict[str, str | None] | None = None) -> Result:
    environment: dict[str, str | None] = {"LITELLM_API_KEY": MASTER, **(env or {})}
    if fake is not None:
        environment["LITELLM_BASE_URL"] = fake.base_url
    result = CliRunner().invoke(app, ["check", *args], env=environment)
    assert MASTER not in result.output and MASTER not in (result.stderr or ""), "the API key leaked"
    assert "Traceback" not in (result.stderr or "")
    return result


def _last_line(result: Result) -> str:
    return result.stderr.strip().splitlines()[-1]


def _findings(result: Result, status: str | None = None) -> set[tuple[str, str, str]]:
    report = json.loads(result.stdout)
    return {(f["kind"], f["scope"], f["value"]) for f in report["findings"] if status is None or f["status"] == status}


SPIKE_ARGS = ("--mode", "spend-logs", "--day", JUDGED.isoformat(), "--spike-factor", "3", "--json")


def test_a_planted_spike_fails_with_exit_9_at_key_team_and_model(proxy: FakeLiteLLM) -> None:
    result = _check(proxy, *SPIKE_ARGS)
    assert result.exit_code == 9, result.stderr
    assert _findings(result, "fail") == {
        ("spike", "key", "batch-jobs"),
        ("spike", "team", DATA_TEAM.team_alias),
        ("spike", "model", "gpt-4o-mini"),
    }
    report = json.loads(result.stdout)
    model = next(f for f in report["findings"] if f["scope"] == "model" and f["status"] == "fail")
    truth = proxy.truth.by_day_model()
    baseline = sorted(truth.get((START + timedelta(days=n), "gpt-4o-mini"), Decimal(0)) for n in range(7))
    assert Decimal(model["baseline"]) == baseline[3]  # the median of the 7 days before, exact
    assert Decimal(model["spend"]) == truth[(JUDGED, "gpt-4o-mini")]
    assert Decimal(model["limit"]) == 3 * baseline[3] and model["period"] == JUDGED.isoformat()
    assert report["status"] == "fail" and report["exit_code"] == 9
    assert report["baseline"] == {
        "start": START.isoformat(),
        "end": JUDGED.isoformat(),
        "days": 7,
        "spike_factor": "3.0",
        "spike_floor": "1.0",
    }
    last = result.stderr.strip().splitlines()[-1]
    assert last == "error: check failed: 3 spikes, 1 new value above the spike floor (exit 9: spike)"


def test_a_new_key_is_reported_not_failed_and_cents_never_alert(proxy: FakeLiteLLM) -> None:
    result = _check(proxy, *SPIKE_ARGS)
    new = [f for f in json.loads(result.stdout)["findings"] if f["status"] == "new"]
    assert [(f["scope"], f["value"], f["spend"]) for f in new] == [("key", "intern-notebook", "2.5")]
    assert "no spend in the 7 days before" in new[0]["message"]
    assert "pennies" not in result.stdout and "pennies" not in result.stderr
    assert "new" in result.stderr and "intern-notebook" in result.stderr
    # The same day without the spike: the newcomer alone passes (exit 0), as a warning.
    with FakeLiteLLM(_dataset(spike=False)) as calm:
        quiet_day = _check(calm, *SPIKE_ARGS)
    assert quiet_day.exit_code == 0, quiet_day.stderr
    report = json.loads(quiet_day.stdout)
    assert report["status"] == "warn" and report["exit_code"] == 0
    assert _findings(quiet_day) == {("spike", "key", "intern-notebook")}
    # A floor above the newcomer's 2.50 silences it too.
    with FakeLiteLLM(_dataset(spike=False)) as calm:
        floored = _check(calm, *SPIKE_ARGS, "--spike-floor", "2.50")
    assert floored.exit_code == 0 and json.loads(floored.stdout)["findings"] == []


def test_the_baseline_days_are_read_before_the_window(proxy: FakeLiteLLM) -> None:
    result = _check(proxy, *SPIKE_ARGS, "--baseline-days", "3")
    assert result.exit_code == 9, result.stderr
    report = json.loads(result.stdout)
    assert report["window"] == {"start": "2025-06-09", "end": "2025-06-10", "days": 1}
    assert report["baseline"]["start"] == "2025-06-06" and report["baseline"]["days"] == 3
    asked = [r.params for r in proxy.requests if r.path.startswith("/spend/logs") and r.params.get("start_date")]
    assert min(p["start_date"][:10] for p in asked) == "2025-06-06"
    assert max(p["start_date"][:10] for p in asked) == "2025-06-09"


def test_without_a_spike_factor_only_the_window_is_read_and_spike_flags_are_noted(
    proxy: FakeLiteLLM, tmp_path: Path
) -> None:
    (tmp_path / "llm-cost.toml").write_text('[[budget.limits]]\nscope = "total"\nmax_usd = 1000\n', encoding="utf-8")
    result = _check(proxy, "--mode", "spend-logs", "--day", "2025-06-09", "--baseline-days", "3", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["baseline"] is None and "spike" not in report["checked"]
    assert report["notes"] == ["--baseline-days applies only with --spike-factor, so it was ignored"]
    asked = [r.params for r in proxy.requests if r.path.startswith("/spend/logs") and r.params.get("start_date")]
    assert {p["start_date"][:10] for p in asked} == {"2025-06-09"}


def test_budgets_and_policy_on_actual_spend_and_which_exit_code_wins(proxy: FakeLiteLLM, tmp_path: Path) -> None:
    config = tmp_path / "llm-cost.toml"
    config.write_text(
        """
[[budget.limits]]
scope = "key"
match = "batch-*"
period = "day"
max_usd = 5

[[budget.limits]]
scope = "total"
period = "week"
max_usd = 1000

[policy]
blocked_models = ["text-embedding-*"]
""",
        encoding="utf-8",
    )
    result = _check(proxy, *SPIKE_ARGS)
    assert result.exit_code == 8, result.stderr  # policy (8) wins over budget (7) and spike (9)
    failed = _findings(result, "fail")
    assert ("policy", "model", "text-embedding-3-small") in failed and ("budget", "key", "batch-jobs") in failed
    assert ("spike", "model", "gpt-4o-mini") in failed
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        "error: check failed: 1 policy violation, 1 budget exceeded, 3 spikes, 1 new value above the spike floor "
        "(exit 8: policy)"
    )
    week = next(f for f in json.loads(result.stdout)["findings"] if f["rule"] == "[[budget.limits]] #2")
    assert week["status"] == "ok" and week["period"] == "2025-W24" and week["covered_days"] == 1
    assert Decimal(week["spend"]) == proxy.truth.by_day()[JUDGED]
    assert any("2025-W24 is judged on the 1 of its 7 days" in note for note in json.loads(result.stdout)["notes"])
    config.write_text(config.read_text(encoding="utf-8").split("[policy]")[0], encoding="utf-8")
    budget_only = _check(proxy, *SPIKE_ARGS)
    assert budget_only.exit_code == 7, budget_only.stderr  # budget (7) wins over spike (9)


def test_daily_activity_agrees_and_a_tag_scope_needs_its_chargeback_key(proxy: FakeLiteLLM, tmp_path: Path) -> None:
    daily = _check(proxy, "--mode", "daily-activity", "--day", JUDGED.isoformat(), "--spike-factor", "3", "--json")
    assert daily.exit_code == 9, daily.stderr
    assert _findings(daily, "fail") == {
        ("spike", "key", "batch-jobs"),
        ("spike", "team", DATA_TEAM.team_alias),
        ("spike", "model", "gpt-4o-mini"),
    }
    (tmp_path / "llm-cost.toml").write_text('[[budget.limits]]\nscope = "tag:feature"\nmax_usd = 1\n', encoding="utf-8")
    before = len(proxy.requests)
    refused = _check(proxy, "--mode", "daily-activity", "--day", JUDGED.isoformat())
    assert refused.exit_code == 3 and refused.stdout == ""
    assert refused.stderr.strip() == (
        "error: [[budget.limits]] #1 scope tag:feature: --mode daily-activity reads request tags only for "
        "--sub-account tag:feature; pass it, or use --mode spend-logs"
    )
    assert len(proxy.requests) == before  # refused before any request
    tagged = _check(proxy, "--mode", "spend-logs", "--day", JUDGED.isoformat(), "--json")
    assert tagged.exit_code == 7, tagged.stderr
    features = _findings(tagged, "fail")
    assert features and {value for _, _, value in features} <= {"chat", "search", "summarize", "classify", "agent"}
    # --tag-key narrows the tags kept; the limits' own tag keys are kept anyway, so the verdict is the same.
    narrowed = _check(proxy, "--mode", "spend-logs", "--day", JUDGED.isoformat(), "--tag-key", "env", "--json")
    assert narrowed.exit_code == 7 and _findings(narrowed, "fail") == features


def test_a_window_that_cuts_a_day_is_refused() -> None:
    result = _check(None, "--mode", "spend-logs", "--litellm-url", "http://127.0.0.1:9", "--spike-factor", "3",
                    "--start", "2025-06-09T12:00:00Z", "--end", "2025-06-10")  # fmt: skip
    assert result.exit_code == 3
    assert "check judges whole UTC days, but the window" in result.stderr and len(result.stderr.splitlines()) == 1


def test_labelled_sources_judge_actuals_and_estimates_apart_and_keep_going(proxy: FakeLiteLLM, tmp_path: Path) -> None:
    config = tmp_path / "llm-cost.toml"
    config.write_text(
        f"""
[[sources]]
label = "prod"
mode = "spend-logs"
litellm_url = "{proxy.base_url}"
litellm_key_env = "PROD_KEY"

[[sources]]
label = "broken"
mode = "spend-logs"
litellm_url = "{proxy.base_url}"
litellm_key_env = "BROKEN_KEY"

[[sources]]
label = "plan"
mode = "manifest"

[[prompts]]
path = "unused.txt"
model = "gpt-4o"
input_tokens = 1000
expected_output_tokens = 100
calls = 1000

[[budget.limits]]
scope = "total"
max_usd = 5
""",
        encoding="utf-8",
    )
    env: dict[str, str | None] = {
        "LITELLM_API_KEY": None,
        "PROD_KEY": MASTER,
        "BROKEN_KEY": "sk-wrong-000",
        "LLM_COST_CONFIG": str(config),
    }
    result = _check(None, "--day", JUDGED.isoformat(), "--json", "--source", "prod", "--source", "plan", env=env)
    assert result.exit_code == 7, result.stderr
    report = json.loads(result.stdout)
    failed = {(f["cost"], Decimal(f["spend"])) for f in report["findings"] if f["status"] == "fail"}
    assert failed == {("actual", proxy.truth.by_day()[JUDGED])}  # the estimate, 3.50, passes
    assert Decimal(report["cost"]["estimate"]) == Decimal("3.5")
    kept = _check(None, "--day", JUDGED.isoformat(), "--json", "--keep-going", "--source", "plan",
                  "--source", "broken", env=env)  # fmt: skip
    assert kept.exit_code == 4, kept.stderr  # the estimate passed, but a source is missing: not clean
    assert json.loads(kept.stdout)["failed_sources"] == ["broken"]
    assert "missing source: broken" in kept.stderr and "--keep-going" in kept.stderr.strip().splitlines()[-1]
    nothing = _check(None, "--day", JUDGED.isoformat(), "--json", "--keep-going", "--source", "broken", env=env)
    assert nothing.exit_code == 4 and nothing.stdout == ""
    assert "nothing was checked" in _last_line(nothing) and "broken" in _last_line(nothing)
    both = _check(None, "--day", JUDGED.isoformat(), "--json", "--keep-going", env=env)
    assert both.exit_code == 7  # a finding on the sources read decides; the missing one is named
    assert "without 1 failed source(s)" in both.stderr.strip().splitlines()[-1]


def test_the_spike_is_drawn_per_day_with_its_baseline_on_stderr_and_in_the_step_summary(
    proxy: FakeLiteLLM, tmp_path: Path
) -> None:
    """People look rather than read: the chart covers the baseline days and the judged one, its day totals are the
    truth's exact spend per day, and the GitHub step summary carries it as a Mermaid block."""
    summary = tmp_path / "summary.md"
    actions = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(tmp_path / "o")}
    result = _check(proxy, *SPIKE_ARGS[:-1], env=actions)  # the table and the chart, not --json
    assert result.exit_code == 9
    lines = result.stderr.splitlines()
    title = lines.index("llm-cost check: actual spend per day by model (USD)")
    truth = proxy.truth.by_day()
    drawn = {}
    for line in lines[title + 1 :]:
        parts = line.split()
        if parts and len(parts[0]) == 10 and parts[0][4] == "-":
            drawn[date.fromisoformat(parts[0])] = Decimal(parts[-1])
    assert drawn == {day: truth[day] for day in sorted(truth) if START <= day <= JUDGED}
    assert result.stdout == ""
    markdown = summary.read_text(encoding="utf-8")
    assert "```mermaid" in markdown and "xychart-beta" in markdown
    by_team = _check(proxy, *SPIKE_ARGS[:-1], "--chart-by", "team")
    assert "llm-cost check: actual spend per day by team (USD)" in by_team.stderr
    assert "(no team)" in by_team.stderr  # master-key and unattributed spend: the bars still add up
    none = _check(proxy, *SPIKE_ARGS, "--chart-by", "none")
    assert "spend per day" not in none.stderr

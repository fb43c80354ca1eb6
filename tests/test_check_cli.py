"""`llm-cost check` from the CLI on manifest estimates: the original [budget]/[policy] contract, limits, exit codes
and which wins, the --json shape, the GitHub step summary, outputs and annotations, and every refusal (one line,
exit 3, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from llm_cost.cli import app
from tests.fakes.actions import read_outputs

DAY = "2026-10-05"
# Two prompts priced by genai-prices: gpt-4o for team search (2.50 input + 1.00 output = 3.50 USD a day) and
# claude-sonnet-4-0 for team chat (3.00 + 1.50 = 4.50 USD a day): 8.00 USD in all.
PROMPTS = """
[[prompts]]
path = "search.txt"
prompt_id = "search"
model = "gpt-4o"
input_tokens = 1000
expected_output_tokens = 100
calls = 1000
tags = { team = "search", app = "web" }

[[prompts]]
path = "chat.txt"
prompt_id = "chat"
model = "claude-sonnet-4-0"
input_tokens = 1000
expected_output_tokens = 100
calls = 1000
tags = { team = "chat", app = "bot" }
"""
FINETUNE = """
[[prompts]]
path = "notes.txt"
prompt_id = "notes"
model = "acme-notes-ft"
input_tokens = 1000
calls = 100

[pricing."acme-notes-ft"]
provider = "openai"
input_mtok = 3.0
output_mtok = 12.0
"""


@pytest.fixture(autouse=True)
def in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)


def _config(tmp_path: Path, rules: str, prompts: str = PROMPTS) -> Path:
    path = tmp_path / "llm-cost.toml"
    path.write_text(prompts + "\n" + rules, encoding="utf-8")
    return path


def _check(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(app, ["check", "--date", DAY, *args], env=env)
    assert "Traceback" not in (result.stderr or "")
    return result


def _last(result: Result) -> str:
    return result.stderr.strip().splitlines()[-1]


def test_the_original_budget_gate_at_the_limit_passes_and_a_cent_above_fails_with_exit_7(tmp_path: Path) -> None:
    _config(tmp_path, "[budget]\nmax_cost_usd = 8.00\n")
    at = _check()
    assert at.exit_code == 0, at.stderr
    assert at.stdout == "" and "check passed for 2026-10-05: 1 warning" in _last(at)  # 8.00 is 100 % of 8.00
    _config(tmp_path, "[budget]\nmax_cost_usd = 7.99\n")
    above = _check()
    assert above.exit_code == 7 and above.stdout == ""
    assert _last(above) == "error: check failed: 1 budget exceeded (exit 7: budget)"
    assert "FAIL" in above.stderr and "[budget] max_cost_usd" not in _last(above)


def test_warn_threshold_warns_and_passes(tmp_path: Path) -> None:
    _config(tmp_path, "[budget]\nmax_cost_usd = 10.0\nwarn_threshold = 0.8\n")
    result = _check("--json")
    assert result.exit_code == 0, result.stderr
    [warning] = json.loads(result.stdout)["findings"]
    assert (warning["status"], warning["spend"], warning["warn_at"]) == ("warn", "8.0", "8.0")
    assert "80.0% of the 10.0 USD limit" in warning["message"]
    assert "2 warnings" not in result.stderr and "1 warning" in _last(result)
    _config(tmp_path, "[budget]\nmax_cost_usd = 10.01\nwarn_threshold = 0.8\n")
    assert json.loads(_check("--json").stdout)["findings"][0]["status"] == "ok"
    assert json.loads(_check("--json", "--warn-at", "79").stdout)["findings"][0]["status"] == "ok"  # the file wins


def test_limits_by_team_and_tag_and_the_warn_at_flag(tmp_path: Path) -> None:
    rules = """
[[budget.limits]]
scope = "team"
match = "ch*"
max_usd = 4.49

[[budget.limits]]
scope = "tag:app"
period = "month"
max_usd = 4.00
applies_to = "estimate"
"""
    _config(tmp_path, rules)
    result = _check("--json", "--warn-at", "85%")
    assert result.exit_code == 7, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert [(f["status"], f["scope"], f["value"], f["spend"]) for f in findings] == [
        ("fail", "team", "chat", "4.5"),
        ("fail", "tag:app", "bot", "4.5"),
        ("warn", "tag:app", "web", "3.5"),
    ]
    month = findings[1]
    assert (month["period"], month["period_days"], month["covered_days"]) == ("2026-10", 31, 1)
    notes = json.loads(result.stdout)["notes"]
    assert notes == ["[[budget.limits]] #2 (month): 2026-10 is judged on the 1 of its 31 days that the window covers"]


def test_allowed_models_is_exit_8_and_policy_wins_over_budget(tmp_path: Path) -> None:
    _config(tmp_path, '[policy]\nallowed_models = ["gpt-4o*"]\n')
    result = _check("--json")
    assert result.exit_code == 8, result.stderr
    assert _last(result) == "error: check failed: 1 policy violation (exit 8: policy)"
    [finding] = json.loads(result.stdout)["findings"]
    assert (finding["value"], finding["rule"]) == ("claude-sonnet-4-0", "[policy] allowed_models")
    _config(tmp_path, '[budget]\nmax_cost_usd = 1\n\n[policy]\nallowed_models = ["gpt-4o*"]\n')
    both = _check("--json")
    assert both.exit_code == 8
    assert _last(both) == "error: check failed: 1 policy violation, 1 budget exceeded (exit 8: policy)"
    assert [f["kind"] for f in json.loads(both.stdout)["findings"]] == ["policy", "budget"]
    _config(tmp_path, '[policy]\nblocked_models = ["Claude-*"]\n')
    assert _check().exit_code == 0  # globs are case-sensitive


def test_unknown_models_fail_warn_or_pass(tmp_path: Path) -> None:
    _config(tmp_path, '[policy]\nunknown_models = "fail"\n', PROMPTS + FINETUNE)
    failed = _check("--json")
    assert failed.exit_code == 8, failed.stderr
    [finding] = json.loads(failed.stdout)["findings"]
    assert (finding["value"], finding["cost"], finding["rule"]) == (
        "acme-notes-ft",
        "estimate",
        "[policy] unknown_models = 'fail'",
    )
    _config(tmp_path, '[policy]\nunknown_models = "warn"\n', PROMPTS + FINETUNE)
    warned = _check()
    assert warned.exit_code == 0 and "1 warning" in _last(warned)
    _config(tmp_path, '[policy]\nunknown_models = "allow"\nblocked_models = ["gpt-3*"]\n', PROMPTS + FINETUNE)
    assert _check().exit_code == 0


def test_the_json_shape(tmp_path: Path) -> None:
    _config(tmp_path, '[budget]\nmax_cost_usd = 7.99\n\n[policy]\nblocked_models = ["claude-*"]\n')
    result = _check("--json")
    assert result.exit_code == 8
    report = json.loads(result.stdout)
    assert set(report) == {
        "status",
        "exit_code",
        "window",
        "baseline",
        "warn_at_pct",
        "rows_read",
        "cost",
        "checked",
        "findings",
        "notes",
        "failed_sources",
    }
    assert report["status"] == "fail" and report["exit_code"] == 8 and report["baseline"] is None
    assert report["window"] == {"start": DAY, "end": "2026-10-06", "days": 1}
    assert report["cost"] == {"estimate": "8.0"} and report["rows_read"] == 4 and report["warn_at_pct"] == "80.0"
    assert report["checked"] == {"policy": 2, "budget": 1} and report["failed_sources"] == []
    policy, budget = report["findings"]
    assert policy == {
        "kind": "policy",
        "status": "fail",
        "cost": "estimate",
        "scope": "model",
        "value": "claude-sonnet-4-0",
        "value_id": "claude-sonnet-4-0",
        "period": DAY,
        "period_start": DAY,
        "period_end": "2026-10-06",
        "period_days": 1,
        "covered_days": 1,
        "spend": "4.5",
        "limit": None,
        "warn_at": None,
        "baseline": None,
        "rule": "[policy] blocked_models 'claude-*'",
        "message": "policy violation: model claude-sonnet-4-0 is blocked by [policy] blocked_models 'claude-*': "
        "4.5 USD (estimate) on 2026-10-05",
    }
    assert (budget["spend"], budget["limit"], budget["warn_at"]) == ("8.0", "7.99", "6.392")
    for finding in report["findings"]:  # money is always a decimal string, never a float
        assert all(isinstance(finding[k], str | None) for k in ("spend", "limit", "warn_at", "baseline"))
    # stdout holds the JSON only; the table is on stderr.
    assert "llm-cost check" in result.stderr and "llm-cost check" not in result.stdout


def test_quiet_leaves_only_the_error_line(tmp_path: Path) -> None:
    _config(tmp_path, "[budget]\nmax_cost_usd = 1\n")
    result = _check("-q")
    assert result.exit_code == 7 and result.stderr.strip().splitlines() == [
        "error: check failed: 1 budget exceeded (exit 7: budget)"
    ]


def test_github_step_summary_outputs_and_annotations(tmp_path: Path) -> None:
    _config(tmp_path, '[budget]\nmax_cost_usd = 7.99\n\n[[budget.limits]]\nscope = "team"\nmax_usd = 4\n')
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)}
    result = _check(env=env)
    assert result.exit_code == 7
    annotations = [line for line in result.stderr.splitlines() if line.startswith("::")]
    assert annotations == [
        "::error::budget exceeded: total spend was 8.0 USD (estimate) in 2026-10-05, over the 7.99 USD limit of "
        "[budget] max_cost_usd",
        "::error::budget exceeded: spend of team chat was 4.5 USD (estimate) in 2026-10-05, over the 4.0 USD limit "
        "of [[budget.limits]] #1",
        "::warning::budget warning: spend of team search was 3.5 USD (estimate) in 2026-10-05, 87.5%25 of the 4.0 USD "
        "limit of [[budget.limits]] #1",
        "::error::check failed: 2 budgets exceeded, 1 warning (exit 7: budget)",
    ]
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("### llm-cost check\n\n**check failed for 2026-10-05: 2 budgets exceeded, 1 warning")
    assert "| Status | Kind | Scope | Value | Period | Spend | Limit |" in text
    assert "| FAIL | budget | team | chat | 2026-10-05 | 4.5 | 4.0 |" in text
    assert "| warn | budget | team | search | 2026-10-05 | 3.5 | 4.0 |" in text
    values = read_outputs(outputs)
    assert values["check-status"] == "fail" and values["check-exit-code"] == "7"
    assert values["rows"] == "4" and values["total-cost"] == "8.0" and values["csv-path"] == ""
    assert [f["status"] for f in json.loads(values["check-findings"])] == ["fail", "fail", "warn"]
    # A clean run in Actions: no annotation, status ok.
    _config(tmp_path, "[budget]\nmax_cost_usd = 100\n")
    outputs.unlink()
    clean = _check(env=env)
    assert clean.exit_code == 0 and "::" not in clean.stderr
    assert read_outputs(outputs)["check-status"] == "ok" and read_outputs(outputs)["check-exit-code"] == "0"


def test_nothing_github_outside_actions(tmp_path: Path) -> None:
    _config(tmp_path, "[budget]\nmax_cost_usd = 1\n")
    summary = tmp_path / "summary.md"
    result = _check(env={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(tmp_path / "o")})
    assert result.exit_code == 7 and "::" not in result.stderr
    assert not summary.exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("rules", "args", "message"),
    [
        ("", (), "error: nothing to check: llm-cost.toml has no [budget] limits or [policy], and --spike-factor"),
        ("[budget]\nmax_cost_usd = -1\n", (), "[budget] max_cost_usd: must be zero or more US dollars"),
        ('[[budget.limits]]\nscope = "teams"\nmax_usd = 1\n', (), "[[budget.limits]] #1 scope: must be total, team"),
        ('[[budget.limits]]\nscope = "team"\nmax_usd = 1\nperiod = "year"\n', (), "#1 period: must be 'day', 'week'"),
        ('[policy]\nallowed = ["x"]\n', (), "[policy]: unknown key 'allowed'"),
        ("[budget]\nmax_cost_usd = 5\n", ("--spike-factor", "3"), "--spike-factor judges actual spend against"),
        ("[budget]\nmax_cost_usd = 5\n", ("--warn-at", "0"), "--warn-at: '0' must be a percentage above 0"),
        ("[budget]\nmax_cost_usd = 5\n", ("--warn-at", "lots"), "--warn-at: 'lots' is not a number"),
        ("[budget]\nmax_cost_usd = 5\n", ("--spike-factor", "0.5"), "--spike-factor: '0.5' must be 1 or more"),
        ("[budget]\nmax_cost_usd = 5\n", ("--spike-factor", "NaN"), "--spike-factor: 'NaN' is not a finite number"),
        ("[budget]\nmax_cost_usd = 5\n", ("--baseline-days", "0"), "--baseline-days: 0 must be from 1 to 90"),
        ("[budget]\nmax_cost_usd = 5\n", ("--spike-floor", "-1"), "--spike-floor: '-1' must be zero or more"),
    ],
)
def test_every_refusal_is_one_line_and_exit_3(tmp_path: Path, rules: str, args: tuple[str, ...], message: str) -> None:
    _config(tmp_path, rules)
    result = _check(*args)
    assert result.exit_code == 3, result.stderr
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_rules_in_both_the_config_and_another_manifest_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "llm-cost.toml"
    config.write_text("[budget]\nmax_cost_usd = 5\n", encoding="utf-8")
    manifest = tmp_path / "prompts.toml"
    manifest.write_text(PROMPTS + '\n[policy]\nblocked_models = ["claude-*"]\n', encoding="utf-8")
    split = _check("--manifest", str(manifest))
    assert split.exit_code == 8, split.stderr  # [budget] from the config, [policy] from the manifest
    manifest.write_text(PROMPTS + "\n[budget]\nmax_cost_usd = 100\n", encoding="utf-8")
    both = _check("--manifest", str(manifest))
    assert both.exit_code == 3
    assert "have a [budget] table; keep it in one of them" in both.stderr


def test_a_missing_manifest_keeps_its_exit_code(tmp_path: Path) -> None:
    result = _check("--manifest", str(tmp_path / "nope.toml"))
    assert result.exit_code == 3 and "manifest not found" in result.stderr and result.stdout == ""

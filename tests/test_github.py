"""GitHub Actions integration: outputs, step summary and annotations only when GITHUB_ACTIONS=true."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llm_cost import github
from llm_cost.cli import app
from tests.fakes.actions import read_outputs

INPUTS = Path(__file__).resolve().parent / "golden" / "inputs"


def test_export_writes_outputs_and_summary_in_actions(tmp_path: Path) -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "sum"),
    }
    csv_path = tmp_path / "costs.csv"
    result = CliRunner().invoke(
        app,
        ["export", "--manifest", str(INPUTS / "manifest.toml"), "--date", "2026-10-05", "-o", str(csv_path)],
        env=env,
    )
    assert result.exit_code == 0, result.stderr
    outputs = read_outputs(tmp_path / "out")
    assert outputs["csv-path"] == str(csv_path) and outputs["rows"] == "7" and outputs["total-cost"] == "12.3802"
    summary = (tmp_path / "sum").read_text(encoding="utf-8")
    assert (
        "| Model | Rows | Tokens | Cost (USD) |" in summary and "claude-sonnet-4-0" in summary and "| Team |" in summary
    )
    assert "mermaid" not in summary  # one charge day: no chart


def test_the_step_summary_charts_several_days_after_the_tables(tmp_path: Path) -> None:
    from tests.fakes.litellm import FakeLiteLLM, generate_dataset

    dataset = generate_dataset(1, days=3, requests=150, start_day=date(2025, 6, 1))
    window = ["--mode", "spend-logs", "--start", "2025-06-01", "--end", "2025-06-04"]
    with FakeLiteLLM(dataset, version="1.109.1") as litellm:
        env = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "sum"),
            "LITELLM_BASE_URL": litellm.base_url,
            "LITELLM_API_KEY": "sk-master-1234",
        }
        result = CliRunner().invoke(app, ["export", *window, "-o", str(tmp_path / "c.csv")], env=env)
        assert result.exit_code == 0, result.stderr
        by_team = CliRunner().invoke(app, ["dry-run", *window, "--chart-by", "team"], env=env)
        assert by_team.exit_code == 0, by_team.stderr
        none = CliRunner().invoke(app, ["dry-run", *window, "--chart-by", "none"], env=env)
        assert none.exit_code == 0, none.stderr
    export, dry_run, uncharted = (tmp_path / "sum").read_text(encoding="utf-8").split("### llm-cost ")[1:]
    block = export[export.index("```mermaid") :]
    assert export.index("| Model |") < export.index("```mermaid")  # after the tables
    assert block.startswith('```mermaid\nxychart-beta\n    title "llm-cost export: spend per day by model"\n')
    assert '    x-axis ["06-01", "06-02", "06-03"]\n    y-axis "USD" 0.00 --> ' in block
    assert '\n    bar "total" [' in block and '\n    line "' in block and "\n```\n" in block
    assert "spend per day by team" in dry_run
    assert "mermaid" not in uncharted


def test_errors_and_warnings_become_annotations(tmp_path: Path) -> None:
    empty = tmp_path / "m.toml"
    empty.write_text("", encoding="utf-8")
    env = {"GITHUB_ACTIONS": "true"}
    warned = CliRunner().invoke(app, ["export", "--manifest", str(empty), "-o", str(tmp_path / "x.csv")], env=env)
    assert warned.exit_code == 0 and "::warning::manifest" in warned.stderr
    failed = CliRunner().invoke(app, ["export", "--manifest", str(tmp_path / "missing.toml")], env=env)
    assert failed.exit_code == 3 and failed.stderr.startswith("::error::manifest not found")


def test_nothing_github_outside_actions(tmp_path: Path) -> None:
    env = {"GITHUB_OUTPUT": str(tmp_path / "out")}
    result = CliRunner().invoke(
        app, ["export", "--manifest", str(INPUTS / "manifest.toml"), "--date", "2026-10-05"], env=env
    )
    assert result.exit_code == 0 and not (tmp_path / "out").exists() and "::" not in result.stderr


def test_annotation_and_output_escaping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    github.annotate("error", "bad\nline 100%")
    assert capsys.readouterr().err == "::error::bad%0Aline 100%25\n"
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    github.write_outputs({"rows": "1\nrows=999"})
    assert read_outputs(tmp_path / "out") == {"rows": "1\nrows=999"}


def test_a_newline_in_a_name_cannot_forge_a_workflow_command(tmp_path: Path) -> None:
    hostile = tmp_path / "x\n::notice::forged.csv"
    env = {"GITHUB_ACTIONS": "true"}
    result = CliRunner().invoke(
        app,
        ["export", "--manifest", str(INPUTS / "manifest.toml"), "--date", "2026-10-05", "-o", str(hostile)],
        env=env,
    )
    assert result.exit_code == 0
    assert not any(line.startswith("::notice::") for line in result.stderr.splitlines())

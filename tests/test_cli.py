"""The command line: version and help, export, dry-run, formats, precedence, bad input and exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import tiktoken.load
import tiktoken.registry
from typer.testing import CliRunner, Result

from llm_cost import __version__, cli, tokens
from llm_cost.cli import app
from llm_cost.focus.columns import CUSTOM, FOCUS_1_0, FOCUS_1_2, VANTAGE
from llm_cost.sources import manifest as manifest_source

ROOT = Path(__file__).resolve().parent.parent
DATE = "2025-06-01"
KNOWN = b"ExistingColumn\nprevious,export,content\n"

# Costs by hand (USD per million tokens; gpt-4o 2.5 / 10 / 1.25 cache read, claude-sonnet-4-0 3 / 15 / 0.3):
#   triage: 10 calls x 1000 input (25% cached) + 200 output -> 7500 x 2.5 + 2500 x 1.25 + 2000 x 10 = 0.041875
#   search: 500 calls x 1200 input (60% cached) + 300 output -> 240000 x 3 + 360000 x 0.3 + 150000 x 15 = 3.078
TRIAGE_COST = Decimal("0.041875")
SEARCH_COST = Decimal("3.078")
TOTAL_COST = TRIAGE_COST + SEARCH_COST

MANIFEST = """\
[defaults]
model = "gpt-4o"

[tags]
app = "support-bot"

[[prompts]]
path = "prompts/triage.txt"
prompt_id = "triage"
input_tokens = 1000
expected_output_tokens = 200
calls = 10
cache_hit_ratio = 0.25
tags = { team = "support" }

[[prompts]]
path = "prompts/search.md"
model = "claude-sonnet-4-0"
input_tokens = 1200
expected_output_tokens = 300
calls = 500
cache_hit_ratio = 0.6
tags = { team = "search" }
"""

PROMPTS = {
    "prompts/triage.txt": "Classify the customer's ticket as billing, outage or how-to. Reply in JSON.\n",
    "prompts/search.md": "# Query rewriter\n\nRewrite the user's query for the documentation index.\n",
}


# --- helpers -----------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken never goes to the network here: without a local vocabulary it fails fast (and llm-cost approximates)."""

    def offline(blobpath: str) -> bytes:
        raise ConnectionError(f"offline test: refusing to fetch {blobpath}")

    monkeypatch.setattr(tiktoken.load, "read_file", offline)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


WHERE = ["before", "after"]  # a global flag before the command (`llm-cost -q export ...`) or after its options


def placed(where: str, flags: list[str] | str, command: str, *args: str) -> list[str]:
    """A command line with global flags before the command or after the command and all its options."""
    flags = [flags] if isinstance(flags, str) else flags
    return [*flags, command, *args] if where == "before" else [command, *args, *flags]


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def header(text: str) -> list[str]:
    return next(csv.reader(io.StringIO(text)))


def total(text: str) -> Decimal:
    return sum((Decimal(r["BilledCost"]) for r in rows(text)), Decimal(0))


def assert_one_error_line(result: Result, code: int = 3) -> str:
    """Exactly one line on stderr, `error: ...`, the documented exit code, and no traceback."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.endswith("\n")
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    return result.stderr


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with prompts and a manifest `m.toml` (no llm-cost.toml, so no [settings] applies)."""
    folder = tmp_path / "work"
    for relative, text in PROMPTS.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text, encoding="utf-8")
    (folder / "m.toml").write_text(MANIFEST, encoding="utf-8")
    monkeypatch.chdir(folder)
    return folder


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --- version and help --------------------------------------------------------------------------------------------


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"llm-cost {__version__}\n"
    assert result.stderr == ""


def test_help_lists_commands_and_global_options() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for text in ("export", "dry-run", "init", "--version", "--debug", "--quiet", "-q", "--verbose", "-v"):
        assert text in result.stdout


def test_no_arguments_prints_help_as_a_usage_error() -> None:
    result = invoke()
    assert result.exit_code == 2
    assert "Usage: llm-cost" in result.output
    assert "export" in result.output


@pytest.mark.parametrize("command", ["export", "dry-run"])
def test_command_help_lists_the_options(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0
    for text in (
        "--format",
        "--focus-version",
        "--output",
        "-o",
        "--manifest",
        "--cache-hit-ratio",
        "--date",
        "--config",
        "LLM_COST_FORMAT",
        "LLM_COST_DATE",
    ):
        assert text in result.stdout
    if command == "dry-run":
        assert "--json" in result.stdout


@pytest.mark.parametrize("command", ["export", "dry-run", "upload", "init"])
def test_command_help_lists_the_global_flags(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0
    for text in ("-q, --quiet", "-v, --verbose", "--debug", "LLM_COST_DEBUG"):
        assert text in result.stdout


def test_help_shows_the_documented_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    text = " ".join(invoke("export", "--help").stdout.replace("│", " ").split())
    assert "[default: focus]" in text
    assert "[default: 1.2]" in text
    assert "[default: today]" in text
    assert "[settings] table" in text


def test_usage_errors_exit_2() -> None:
    assert invoke("export", "--format", "xml").exit_code == 2
    assert invoke("export", "--focus-version", "2.0").exit_code == 2
    assert invoke("export", "--no-such-flag").exit_code == 2
    assert invoke("frobnicate").exit_code == 2


# --- export ------------------------------------------------------------------------------------------------------


def test_export_to_stdout(work: Path) -> None:
    result = invoke("export", "-m", "m.toml", "--date", DATE)
    assert result.exit_code == 0, result.stderr
    data = rows(result.stdout)
    assert len(data) == 6  # input, output and cache-read rows for each prompt
    assert header(result.stdout) == list(FOCUS_1_2 + CUSTOM)
    assert total(result.stdout) == TOTAL_COST
    by_id: dict[str, Decimal] = {}
    for row in data:
        by_id[row["ResourceId"]] = by_id.get(row["ResourceId"], Decimal(0)) + Decimal(row["BilledCost"])
    assert by_id == {"triage": TRIAGE_COST, "prompts-search-md": SEARCH_COST}
    assert {r["ChargePeriodStart"] for r in data} == {"2025-06-01T00:00:00Z"}
    assert {r["ChargePeriodEnd"] for r in data} == {"2025-06-02T00:00:00Z"}
    assert {r["SubAccountId"] for r in data} == {"support", "search"}
    assert {r["ProviderName"] for r in data} == {"OpenAI", "Anthropic"}
    assert {r["ServiceName"] for r in data} == {"LLM Inference"}
    assert {r["x_CostSource"] for r in data} == {"estimated"}
    assert result.stderr == f"wrote 6 rows to stdout, total cost {TOTAL_COST} USD\n"


def test_export_dash_means_stdout(work: Path) -> None:
    plain = invoke("export", "-m", "m.toml", "--date", DATE)
    dash = invoke("export", "-m", "m.toml", "--date", DATE, "-o", "-")
    assert dash.exit_code == 0
    assert dash.stdout_bytes == plain.stdout_bytes
    assert listing(work) == ["m.toml", "prompts", "prompts/search.md", "prompts/triage.txt"]


def test_export_to_a_file(work: Path) -> None:
    stdout_run = invoke("export", "-m", "m.toml", "--date", DATE)
    result = invoke("export", "--manifest", "m.toml", "--date", DATE, "--output", "out.csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert (work / "out.csv").read_bytes() == stdout_run.stdout_bytes
    assert "wrote 6 rows to out.csv" in result.stderr
    assert not [p for p in work.iterdir() if p.name.endswith(".tmp")]


def test_export_replaces_an_existing_file_and_keeps_its_mode(work: Path) -> None:
    out = work / "out.csv"
    out.write_bytes(KNOWN)
    out.chmod(0o640)
    result = invoke("export", "-m", "m.toml", "--date", DATE, "-o", "out.csv")
    assert result.exit_code == 0
    assert out.read_bytes() != KNOWN
    assert total(out.read_text(encoding="utf-8")) == TOTAL_COST
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_csv_bytes_are_utf8_lf_without_bom_and_fixed_point(work: Path) -> None:
    data = invoke("export", "-m", "m.toml", "--date", DATE).stdout_bytes
    assert not data.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in data
    assert data.endswith(b"\n")
    data.decode("utf-8")
    numeric = (
        "BilledCost",
        "EffectiveCost",
        "ListCost",
        "ContractedCost",
        "ListUnitPrice",
        "ConsumedQuantity",
        "PricingQuantity",
    )
    for row in rows(data.decode("utf-8")):
        for column in numeric:
            value = row[column]
            assert "." in value and "e" not in value.lower(), (column, value)


@pytest.mark.parametrize(
    ("args", "expected", "count"),
    [
        ((), FOCUS_1_2 + CUSTOM, 57 + 3),
        (("--format", "focus"), FOCUS_1_2 + CUSTOM, 57 + 3),
        (("--focus-version", "1.2"), FOCUS_1_2 + CUSTOM, 57 + 3),
        (("--focus-version", "1.0"), FOCUS_1_0 + CUSTOM, 43 + 3),
        (("-f", "focus", "--focus-version", "1.0"), FOCUS_1_0 + CUSTOM, 43 + 3),
        (("--format", "vantage"), VANTAGE, 25),
        (("--format", "vantage", "--focus-version", "1.0"), VANTAGE, 25),
    ],
)
def test_formats_and_versions(work: Path, args: tuple[str, ...], expected: tuple[str, ...], count: int) -> None:
    result = invoke("export", "-m", "m.toml", "--date", DATE, *args)
    assert result.exit_code == 0, result.stderr
    cols = header(result.stdout)
    assert cols == list(expected)
    assert len(cols) == count
    records = list(csv.reader(io.StringIO(result.stdout)))[1:]
    assert len(records) == 6
    assert all(len(r) == count for r in records)
    assert total(result.stdout) == TOTAL_COST


def test_column_counts() -> None:
    assert len(FOCUS_1_2) == 57
    assert len(FOCUS_1_0) == 43
    assert CUSTOM == ("x_CostSource", "x_Model", "x_TokenType")
    assert len(VANTAGE) == 25


def test_focus_1_0_drops_the_newer_columns(work: Path) -> None:
    cols = header(invoke("export", "-m", "m.toml", "--date", DATE, "--focus-version", "1.0").stdout)
    for newer in ("ServiceSubcategory", "SkuMeter", "SkuPriceDetails", "BillingAccountType", "InvoiceId"):
        assert newer not in cols
    assert cols[-3:] == list(CUSTOM)


def test_vantage_rows_have_no_blank_service_name(work: Path) -> None:
    data = rows(invoke("export", "-m", "m.toml", "--date", DATE, "--format", "vantage").stdout)
    assert all(r["ServiceName"] == "LLM Inference" for r in data)
    assert all(json.loads(r["Tags"])["llm-cost-type"] == "estimate" for r in data)


def test_no_split_tokens_gives_one_requests_row_per_prompt(work: Path) -> None:
    result = invoke("export", "-m", "m.toml", "--date", DATE, "--no-split-tokens")
    data = rows(result.stdout)
    assert len(data) == 2
    assert {r["ConsumedUnit"] for r in data} == {"Requests"}
    assert sorted(r["ConsumedQuantity"] for r in data) == ["10.0", "500.0"]
    assert total(result.stdout) == TOTAL_COST


def test_pricing_override_shows_list_and_contracted_costs(work: Path) -> None:
    (work / "m.toml").write_text(MANIFEST + '\n[pricing."gpt-4o"]\ninput_mtok = 2.0\n', encoding="utf-8")
    data = rows(invoke("export", "-m", "m.toml", "--date", DATE).stdout)
    triage_input = next(r for r in data if r["ResourceId"] == "triage" and r["x_TokenType"] == "input")
    assert triage_input["ListUnitPrice"] == "2.5"
    assert triage_input["ContractedUnitPrice"] == "2.0"
    assert triage_input["ListCost"] == "0.01875"  # 7500 tokens at list
    assert triage_input["ContractedCost"] == triage_input["BilledCost"] == "0.015"  # 7500 tokens at 2.0


# --- determinism -------------------------------------------------------------------------------------------------


def test_export_is_deterministic_byte_for_byte(work: Path, vocab_dir: Path) -> None:
    # a counted prompt too (tiktoken from the offline vocabulary), not only input_tokens
    (work / "m.toml").write_text(
        MANIFEST + '\n[[prompts]]\npath = "prompts/triage.txt"\nprompt_id = "counted"\n', encoding="utf-8"
    )
    first = invoke("export", "-m", "m.toml", "--date", DATE)
    second = invoke("export", "-m", "m.toml", "--date", DATE)
    assert first.exit_code == second.exit_code == 0
    assert first.stdout_bytes == second.stdout_bytes
    counted = [r for r in rows(first.stdout) if r["ResourceId"] == "counted"]
    assert json.loads(counted[0]["Tags"])["x-token-method"] == "tiktoken:o200k_base"

    assert invoke("export", "-m", "m.toml", "--date", DATE, "-o", "a.csv").exit_code == 0
    assert invoke("export", "-m", "m.toml", "--date", DATE, "-o", "b.csv").exit_code == 0
    assert invoke("dry-run", "-m", "m.toml", "--date", DATE, "-o", "c.csv").exit_code == 0
    assert (work / "a.csv").read_bytes() == (work / "b.csv").read_bytes() == first.stdout_bytes
    assert (work / "c.csv").read_bytes() == first.stdout_bytes


def test_export_is_deterministic_across_working_directories(work: Path, tmp_path: Path, monkeypatch) -> None:
    here = invoke("export", "-m", "m.toml", "--date", DATE).stdout_bytes
    monkeypatch.chdir(tmp_path)
    there = invoke("export", "-m", str(Path("work") / "m.toml"), "--date", DATE).stdout_bytes
    assert here == there


def test_default_date_is_today_utc(work: Path) -> None:
    before = datetime.now(UTC).date()
    result = invoke("export", "-m", "m.toml")
    after = datetime.now(UTC).date()
    starts = {r["ChargePeriodStart"] for r in rows(result.stdout)}
    assert starts <= {f"{before.isoformat()}T00:00:00Z", f"{after.isoformat()}T00:00:00Z"}
    assert len(starts) == 1


# --- dry-run -----------------------------------------------------------------------------------------------------


def test_dry_run_prints_tables_on_stderr_and_nothing_on_stdout(work: Path) -> None:
    result = invoke("dry-run", "-m", "m.toml", "--date", DATE)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    for text in (
        "by model",
        "by provider",
        "by team",
        "gpt-4o",
        "claude-sonnet-4-0",
        "OpenAI",
        "Anthropic",
        "support",
        "search",
        "Cost (USD)",
    ):
        assert text in result.stderr
    assert f"6 rows, total cost {TOTAL_COST} USD" in result.stderr
    assert "[2025-06-01T00:00:00Z, 2025-06-02T00:00:00Z)" in result.stderr
    assert listing(work) == ["m.toml", "prompts", "prompts/search.md", "prompts/triage.txt"]


def test_dry_run_json_total_equals_the_csv(work: Path) -> None:
    csv_text = invoke("export", "-m", "m.toml", "--date", DATE).stdout
    result = invoke("dry-run", "-m", "m.toml", "--date", DATE, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert Decimal(summary["total_cost"]) == total(csv_text) == TOTAL_COST
    assert isinstance(summary["total_cost"], str)  # money as a decimal string, never a float
    assert summary["rows"] == len(rows(csv_text)) == 6
    assert summary["records"] == 2
    assert summary["currency"] == "USD"
    assert summary["period_start"] == "2025-06-01T00:00:00Z"
    assert summary["period_end"] == "2025-06-02T00:00:00Z"
    assert summary["sub_account_type"] == "Team"
    teams = {t["name"]: Decimal(t["cost"]) for t in summary["by_sub_account"]}
    assert teams == {"support": TRIAGE_COST, "search": SEARCH_COST}
    models = {m["name"]: Decimal(m["cost"]) for m in summary["by_model"]}
    assert models == {"gpt-4o": TRIAGE_COST, "claude-sonnet-4-0": SEARCH_COST}
    assert {p["name"] for p in summary["by_provider"]} == {"OpenAI", "Anthropic"}
    assert "by model" not in result.stderr


def test_dry_run_with_output_writes_the_csv(work: Path) -> None:
    result = invoke("dry-run", "-m", "m.toml", "--date", DATE, "-o", "preview.csv")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert total((work / "preview.csv").read_text(encoding="utf-8")) == TOTAL_COST
    assert "by model" in result.stderr


def test_dry_run_json_cannot_share_stdout_with_the_csv(work: Path) -> None:
    result = invoke("dry-run", "-m", "m.toml", "--date", DATE, "--json", "-o", "-")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--json" in result.stderr


@pytest.mark.parametrize("where", WHERE)
def test_dry_run_quiet_prints_nothing(work: Path, where: str) -> None:
    result = invoke(*placed(where, "-q", "dry-run", "-m", "m.toml", "--date", DATE))
    assert result.exit_code == 0
    assert result.stdout == result.stderr == ""


# --- precedence: flag > env > [settings] > default ---------------------------------------------------------------


@pytest.fixture
def configured(work: Path) -> Path:
    """An llm-cost.toml in the working folder with a [settings] table and the prompts."""
    config = work / "llm-cost.toml"
    config.write_text('[settings]\ndate = "2025-01-15"\nformat = "vantage"\n\n' + MANIFEST, encoding="utf-8")
    return config


def _start(result: Result) -> str:
    assert result.exit_code == 0, result.stderr
    return {r["ChargePeriodStart"] for r in rows(result.stdout)}.pop()


def test_date_precedence(configured: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _start(invoke("export")) == "2025-01-15T00:00:00Z"  # [settings]
    monkeypatch.setenv("LLM_COST_DATE", "2025-02-15")
    assert _start(invoke("export")) == "2025-02-15T00:00:00Z"  # env beats [settings]
    assert _start(invoke("export", "--date", "2025-03-15")) == "2025-03-15T00:00:00Z"  # flag beats env
    monkeypatch.delenv("LLM_COST_DATE")
    configured.write_text(MANIFEST, encoding="utf-8")  # no [settings]: the default, today (UTC)
    today = datetime.now(UTC).date().isoformat()
    assert _start(invoke("export")) == f"{today}T00:00:00Z"


def test_date_precedence_with_explicit_config(configured: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _start(invoke("export", "--config", str(configured))) == "2025-01-15T00:00:00Z"
    before = datetime.now(UTC).date()
    start = _start(invoke("export", "-c", str(configured), "--date", "yesterday"))
    after = datetime.now(UTC).date()
    assert start in {f"{(d - timedelta(days=1)).isoformat()}T00:00:00Z" for d in (before, after)}


def test_format_precedence(configured: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(header(invoke("export").stdout)) == 25  # [settings] format = "vantage"
    monkeypatch.setenv("LLM_COST_FORMAT", "focus")
    assert len(header(invoke("export").stdout)) == 60  # env beats [settings]
    assert len(header(invoke("export", "--format", "vantage").stdout)) == 25  # flag beats env
    monkeypatch.delenv("LLM_COST_FORMAT")
    configured.write_text(MANIFEST, encoding="utf-8")
    assert len(header(invoke("export").stdout)) == 60  # default: focus


def test_focus_version_from_env(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_COST_FOCUS_VERSION", "1.0")
    assert len(header(invoke("export", "-m", "m.toml", "--date", DATE).stdout)) == 46


def test_manifest_from_env(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_COST_MANIFEST", "m.toml")
    result = invoke("export", "--date", DATE)
    assert result.exit_code == 0
    assert total(result.stdout) == TOTAL_COST


def test_cache_hit_ratio_flag_overrides_every_prompt(work: Path) -> None:
    result = invoke("export", "-m", "m.toml", "--date", DATE, "--cache-hit-ratio", "0")
    # no caching: 10000 x 2.5 + 2000 x 10 = 0.045; 600000 x 3 + 150000 x 15 = 4.05
    assert total(result.stdout) == Decimal("0.045") + Decimal("4.05")
    assert {r["x_TokenType"] for r in rows(result.stdout)} == {"input", "output"}


# --- bad input: one line, exit 3, nothing written ----------------------------------------------------------------

BAD_INPUTS = {
    "missing manifest": ({}, ["-m", "nope.toml"], "manifest not found: nope.toml"),
    "malformed toml": ({"m.toml": '[defaults]\nmodel = "gpt-4o"\n[[prompts]\npath = "x"\n'}, [], "line 3"),
    "prompt without path": ({"m.toml": '[[prompts]]\nprompt_id = "x"\n'}, [], "has no 'path'"),
    "missing prompt file": (
        {"m.toml": MANIFEST + '\n[[prompts]]\npath = "prompts/gone.txt"\n'},
        [],
        "prompt file not found: prompts/gone.txt",
    ),
    "unknown model": (
        {"m.toml": '[[prompts]]\npath = "prompts/triage.txt"\nmodel = "no-such-model-xyz"\n'},
        [],
        "unknown model 'no-such-model-xyz'",
    ),
    "negative ratio flag": ({}, ["--cache-hit-ratio", "-0.1"], "--cache-hit-ratio: cache_hit_ratio must be between"),
    "ratio flag above one": ({}, ["--cache-hit-ratio=1.5"], "--cache-hit-ratio: cache_hit_ratio must be between"),
    "ratio flag not a number": ({}, ["--cache-hit-ratio", "half"], "is not a number"),
    "manifest ratio above one": (
        {"m.toml": '[[prompts]]\npath = "prompts/triage.txt"\ncache_hit_ratio = 1.5\n'},
        [],
        "cache_hit_ratio must be between 0 and 1, got 1.5",
    ),
    "negative manifest ratio": (
        {"m.toml": '[[prompts]]\npath = "prompts/triage.txt"\ncache_hit_ratio = -0.2\n'},
        [],
        "cache_hit_ratio must be between 0 and 1, got -0.2",
    ),
    "negative defaults ratio": ({"m.toml": "[defaults]\ncache_hit_ratio = -1\n"}, [], "defaults.cache_hit_ratio"),
    "malformed date": ({}, ["--date", "2025-13-01"], "--date: '2025-13-01' is not a valid date"),
    "date in another format": ({}, ["--date", "01/06/2025"], "use YYYY-MM-DD"),
    "missing output directory": ({}, ["-o", "missing/dir/out.csv"], "directory 'missing/dir' does not exist"),
    "output is a directory": ({}, ["-o", "prompts"], "is a directory"),
    "missing config": ({}, ["--config", "nope.toml"], "config file not found"),
}


@pytest.mark.parametrize("command", ["export", "dry-run"])
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_exit_3_and_writes_nothing(work: Path, command: str, case: str) -> None:
    files, extra, fragment = BAD_INPUTS[case]
    for name, text in files.items():
        (work / name).write_text(text, encoding="utf-8")
    out = work / "out.csv"
    out.write_bytes(KNOWN)
    before = listing(work)
    args = [command, "-m", "m.toml", "--date", DATE, "-o", "out.csv", *extra]

    result = invoke(*args)

    message = assert_one_error_line(result)
    assert fragment in message
    assert result.stdout == ""
    assert out.read_bytes() == KNOWN
    assert listing(work) == before  # no temporary or half-written files


@pytest.mark.parametrize("case", ["missing prompt file", "unknown model", "malformed date"])
def test_bad_input_leaves_stdout_empty(work: Path, case: str) -> None:
    files, extra, fragment = BAD_INPUTS[case]
    for name, text in files.items():
        (work / name).write_text(text, encoding="utf-8")
    result = invoke("export", "-m", "m.toml", "--date", DATE, *extra)
    assert fragment in assert_one_error_line(result)
    assert result.stdout_bytes == b""


def test_bad_ratio_from_the_environment(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_COST_CACHE_HIT_RATIO", "7")
    assert "between 0 and 1" in assert_one_error_line(invoke("export", "-m", "m.toml", "--date", DATE))


def test_bad_settings_in_the_config(work: Path) -> None:
    (work / "llm-cost.toml").write_text('[settings]\ndate = "last tuesday"\n' + MANIFEST, encoding="utf-8")
    assert "[settings] date" in assert_one_error_line(invoke("export"))


@pytest.mark.parametrize("value", ["nan", "sNaN"])
def test_non_finite_ratio_flag_is_a_config_error(work: Path, value: str) -> None:
    (work / "out.csv").write_bytes(KNOWN)
    result = invoke("export", "-m", "m.toml", "--date", DATE, "-o", "out.csv", "--cache-hit-ratio", value)
    assert_one_error_line(result)
    assert (work / "out.csv").read_bytes() == KNOWN


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_extreme_dates_are_rejected_or_written_correctly(work: Path, day: str) -> None:
    (work / "out.csv").write_bytes(KNOWN)
    result = invoke("export", "-m", "m.toml", "--date", day, "-o", "out.csv")
    if result.exit_code == 0:
        starts = {r["ChargePeriodStart"] for r in rows((work / "out.csv").read_text(encoding="utf-8"))}
        assert starts == {f"{day}T00:00:00Z"}
    else:
        assert "--date" in assert_one_error_line(result, code=3)
        assert (work / "out.csv").read_bytes() == KNOWN


def test_long_error_messages_stay_on_one_line(work: Path) -> None:
    deep = "a-very-long-folder-name-that-makes-the-message-wider-than-any-terminal/" * 3
    result = invoke("export", "-m", f"{deep}m.toml", "--date", DATE)
    assert "manifest not found" in assert_one_error_line(result)


def test_unwritable_output_directory(work: Path) -> None:
    locked = work / "locked"
    locked.mkdir()
    out = locked / "out.csv"
    out.write_bytes(KNOWN)
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root (or with CAP_DAC_OVERRIDE): chmod does not block writes here")
        result = invoke("export", "-m", "m.toml", "--date", DATE, "-o", str(out))
        assert "not writable" in assert_one_error_line(result)
        assert out.read_bytes() == KNOWN
        assert sorted(p.name for p in locked.iterdir()) == ["out.csv"]
    finally:
        locked.chmod(0o700)


def test_unwritable_output_directory_simulated(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same check as above, independent of the user: os.access says the folder is read-only."""
    locked = work / "locked"
    locked.mkdir()
    out = locked / "out.csv"
    out.write_bytes(KNOWN)
    real_access = os.access

    def access(path: object, mode: int, *args: object, **kwargs: object) -> bool:
        if Path(str(path)).resolve() == locked.resolve() and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    result = invoke("export", "-m", "m.toml", "--date", DATE, "-o", str(out))
    assert "is not writable" in assert_one_error_line(result)
    assert out.read_bytes() == KNOWN


def test_zero_prompts_is_a_header_only_csv(work: Path) -> None:
    (work / "m.toml").write_text('[defaults]\nmodel = "gpt-4o"\n', encoding="utf-8")
    result = invoke("export", "-m", "m.toml", "--date", DATE, "-o", "out.csv")
    assert result.exit_code == 0
    assert (work / "out.csv").read_text(encoding="utf-8") == ",".join(FOCUS_1_2 + CUSTOM) + "\n"
    assert "lists no prompts" in result.stderr
    assert "header" in result.stderr
    assert "wrote 0 rows" in result.stderr


def test_zero_prompts_dry_run_json(work: Path) -> None:
    (work / "m.toml").write_text("", encoding="utf-8")
    result = invoke("dry-run", "-m", "m.toml", "--date", DATE, "--json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["rows"] == 0
    assert Decimal(summary["total_cost"]) == 0


# --- verbosity and --debug ---------------------------------------------------------------------------------------


@pytest.fixture
def warning_manifest(work: Path) -> Path:
    """A manifest that draws a warning: a user tag tries to override the reserved `model` key."""
    path = work / "m.toml"
    path.write_text(
        MANIFEST.replace('tags = { team = "support" }', 'tags = { team = "support", model = "x" }'), encoding="utf-8"
    )
    return path


def test_warnings_go_to_stderr(warning_manifest: Path) -> None:
    result = invoke("export", "-m", "m.toml", "--date", DATE)
    assert result.exit_code == 0
    assert "warning: prompt prompts/triage.txt tags: reserved tag keys ['model']" in result.stderr
    assert "warning" not in result.stdout


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("flag", ["-q", "--quiet"])
def test_quiet_silences_warnings_and_info(warning_manifest: Path, flag: str, where: str) -> None:
    loud = invoke("export", "-m", "m.toml", "--date", DATE)
    assert "warning:" in loud.stderr
    quiet = invoke(*placed(where, flag, "export", "-m", "m.toml", "--date", DATE))
    assert quiet.exit_code == 0
    assert quiet.stderr == ""
    assert quiet.stdout_bytes == loud.stdout_bytes


@pytest.mark.parametrize("where", WHERE)
def test_quiet_still_shows_errors(work: Path, where: str) -> None:
    result = invoke(*placed(where, "-q", "export", "-m", "nope.toml"))
    assert "manifest not found" in assert_one_error_line(result)


def test_quiet_silences_the_approximation_warning(work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})  # nothing cached in this process
    monkeypatch.setattr(tokens, "SHIPPED_VOCAB_DIR", tmp_path / "empty")  # nor shipped
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("LLM_COST_VOCAB_DIR", str(tmp_path / "empty"))
    (work / "m.toml").write_text('[[prompts]]\npath = "prompts/triage.txt"\n', encoding="utf-8")

    loud = invoke("export", "-m", "m.toml", "--date", DATE)
    assert loud.exit_code == 0
    assert loud.stderr.count("warning: tiktoken vocabulary 'o200k_base' could not be loaded") == 1
    assert json.loads(rows(loud.stdout)[0]["Tags"])["x-token-method"] == "approx-chars/4"
    quiet = invoke("-q", "export", "-m", "m.toml", "--date", DATE)
    assert quiet.stderr == ""
    assert quiet.stdout_bytes == loud.stdout_bytes


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("flag", ["-v", "--verbose"])
def test_verbose_adds_detail(work: Path, flag: str, where: str) -> None:
    result = invoke(*placed(where, flag, "export", "-m", "m.toml", "--date", DATE))
    assert result.exit_code == 0
    assert "read 2 records into 2 groups" in result.stderr
    assert "read 2 records" not in invoke("export", "-m", "m.toml", "--date", DATE).stderr


@pytest.mark.parametrize("where", WHERE)
def test_debug_shows_a_traceback_for_an_error(work: Path, where: str) -> None:
    result = invoke(*placed(where, "--debug", "export", "-m", "nope.toml"))
    assert result.exit_code == 3
    assert "Traceback (most recent call last)" in result.stderr
    assert "ConfigError" in result.stderr
    assert result.stderr.rstrip("\n").splitlines()[-1].startswith("error: manifest not found")


def test_debug_from_the_environment(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_COST_DEBUG", "1")
    result = invoke("export", "-m", "nope.toml")
    assert result.exit_code == 3
    assert "Traceback" in result.stderr


def test_internal_error_is_exit_1_with_traceback_only_under_debug(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(manifest_source, "estimate", broken)
    result = invoke("export", "-m", "m.toml", "--date", DATE, "-o", "out.csv")
    message = assert_one_error_line(result, code=1)
    assert "internal error: RuntimeError: boom" in message
    assert "--debug" in message
    assert not (work / "out.csv").exists()

    for where in WHERE:
        debug = invoke(*placed(where, "--debug", "export", "-m", "m.toml", "--date", DATE))
        assert debug.exit_code == 1
        assert "Traceback (most recent call last)" in debug.stderr
        assert "RuntimeError: boom" in debug.stderr


def test_interrupt_is_exit_130_and_writes_nothing(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(manifest_source, "estimate", interrupted)
    (work / "out.csv").write_bytes(KNOWN)
    result = invoke("export", "-m", "m.toml", "--date", DATE, "-o", "out.csv")
    assert "interrupted" in assert_one_error_line(result, code=130)
    assert (work / "out.csv").read_bytes() == KNOWN


# --- global flags before or after the command --------------------------------------------------------------------

# A successful run of each command: its first two arguments are an option and its value, so a flag can go between.
COMMAND_LINES = {
    "export": ["export", "-m", "m.toml", "--date", DATE, "-o", "out.csv"],
    "dry-run": ["dry-run", "-m", "m.toml", "--date", DATE],
    "upload": ["upload", "-m", "m.toml", "--dry-run", "--date", DATE],  # no credentials: nothing is sent
    "init": ["init", "--dir", "prompts", "-o", "new.toml", "--force"],
}
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]+")  # upload's run id, new on every run


def everywhere(flag: str, line: list[str]) -> list[list[str]]:
    """A global flag before the command, right after its name, among its options, and after them all."""
    command, *args = line
    return [[flag, *line], [command, flag, *args], [command, *args[:2], flag, *args[2:]], [*line, flag]]


def seen(result: Result) -> tuple[int, str, str]:
    return result.exit_code, result.stdout, RUN_ID.sub("<run id>", result.stderr)


@pytest.mark.parametrize("flag", ["-q", "--quiet", "-v", "--verbose", "--debug"])
@pytest.mark.parametrize("command", list(COMMAND_LINES))
def test_a_global_flag_means_the_same_before_and_after_the_command(
    work: Path, monkeypatch: pytest.MonkeyPatch, command: str, flag: str
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # upload's table shows the whole file name, run id included
    plain = invoke(*COMMAND_LINES[command])
    assert plain.exit_code == 0, plain.stderr
    assert plain.stderr != ""
    results = [invoke(*line) for line in everywhere(flag, COMMAND_LINES[command])]
    assert results[0].exit_code == 0, results[0].stderr
    assert [seen(r) for r in results[1:]] == [seen(results[0])] * 3
    if flag in ("-q", "--quiet"):
        assert results[0].stderr == ""
    elif command == "export" and flag in ("-v", "--verbose"):
        assert "read 2 records into 2 groups" in results[0].stderr
        assert "read 2 records" not in plain.stderr
    elif command == "upload" and flag in ("-v", "--verbose"):  # one plain line per finished day (no terminal here)
        assert "manifest m.toml: 2025-06-01T00:00:00Z done, 2 records, 6 rows" in results[0].stderr
        assert "done," not in plain.stderr
    else:  # nothing to add on a successful run (dry-run is verbose already; --debug only adds tracebacks)
        assert seen(results[0]) == seen(plain)


@pytest.mark.parametrize("where", WHERE)
def test_quiet_after_export_of_the_shipped_example_prints_nothing_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vocab_dir: Path, where: str
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ("--manifest", str(ROOT / "llm-cost.toml.example"), "--date", DATE, "-o", "costs.csv")
    loud = invoke("export", *args)
    assert loud.exit_code == 0
    assert "wrote 7 rows to costs.csv" in loud.stderr
    quiet = invoke(*placed(where, "-q", "export", *args))
    assert quiet.exit_code == 0
    assert quiet.stdout == quiet.stderr == ""
    assert (tmp_path / "costs.csv").read_bytes() != b""


# The function each command calls first for its work, to break on purpose: names as cli.py imports them.
WORK_OF = {"export": "run_export", "dry-run": "run_export", "upload": "build_upload_jobs", "init": "write_manifest"}


@pytest.mark.parametrize("command", list(COMMAND_LINES))
def test_debug_after_the_command_shows_the_traceback_of_an_internal_error(
    work: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, WORK_OF[command], broken)
    plain = invoke(*COMMAND_LINES[command])
    assert "internal error: RuntimeError: boom" in assert_one_error_line(plain, code=1)

    results = [invoke(*line) for line in everywhere("--debug", COMMAND_LINES[command])]
    for result in results:
        assert result.exit_code == 1
        assert "Traceback (most recent call last)" in result.stderr
        assert "RuntimeError: boom" in result.stderr
        assert result.stderr.endswith(plain.stderr)  # the traceback, then the same error line
    assert {r.stderr for r in results} == {results[0].stderr}


@pytest.mark.parametrize("command", list(COMMAND_LINES))
def test_errors_show_with_quiet_after_the_command_and_tracebacks_only_with_debug(work: Path, command: str) -> None:
    (work / "m.toml").write_text("[[prompts]\n", encoding="utf-8")  # bad TOML: exit 3 for the manifest commands
    line = COMMAND_LINES[command] if command != "init" else ["init", "--dir", "missing"]
    quiet = invoke(*line, "-q")
    assert_one_error_line(quiet)
    debug = invoke(*line, "--debug")
    assert debug.exit_code == 3
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.endswith(quiet.stderr)


def test_debug_from_the_environment_after_the_command_too(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_COST_DEBUG", "1")
    for line in (["-q", "export", "-m", "nope.toml"], ["export", "-m", "nope.toml", "-q"]):
        result = invoke(*line)
        assert result.exit_code == 3
        assert "Traceback" in result.stderr


@pytest.mark.parametrize(
    "line",
    [
        ["-v", "export", "-m", "m.toml", "--date", DATE, "-q"],
        ["-q", "export", "-m", "m.toml", "--date", DATE, "-v"],
        ["export", "-v", "-m", "m.toml", "--date", DATE, "--quiet"],
    ],
)
def test_quiet_wins_over_verbose_wherever_each_is_given(work: Path, line: list[str]) -> None:
    result = invoke(*line)
    assert result.exit_code == 0
    assert result.stderr == ""
    assert total(result.stdout) == TOTAL_COST


def test_flags_before_and_after_the_command_combine(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    verbose = invoke("-v", "export", "-m", "m.toml", "--date", DATE, "-o", "out.csv", "--debug")
    assert "read 2 records into 2 groups" in verbose.stderr
    monkeypatch.setattr(cli, "run_export", lambda *args, **kwargs: 1 / 0)
    broken = invoke("-v", "export", "-m", "m.toml", "--date", DATE, "--debug")
    assert broken.exit_code == 1
    assert "ZeroDivisionError" in broken.stderr
    assert "Traceback (most recent call last)" in broken.stderr


@pytest.fixture
def litellm_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A small fake LiteLLM proxy, for the completeness lines of a pull."""
    from tests.fakes.litellm import FakeLiteLLM, generate_dataset

    dataset = generate_dataset(1, days=1, requests=60, start_day=date(2025, 6, 1))
    with FakeLiteLLM(dataset, version="1.109.1") as litellm:
        monkeypatch.setenv("LITELLM_BASE_URL", litellm.base_url)
        monkeypatch.setenv("LITELLM_API_KEY", "sk-master-1234")
        yield


@pytest.mark.parametrize("where", WHERE)
def test_dry_run_shows_the_completeness_lines_unless_quiet(work: Path, litellm_env: None, where: str) -> None:
    args = ("--mode", "spend-logs", "--day", "2025-06-01")
    preview = invoke("dry-run", *args)
    assert preview.exit_code == 0, preview.stderr
    assert "rows read: " in preview.stderr  # dry-run is verbose without -v
    assert "by model" in preview.stderr
    assert invoke(*placed(where, "-v", "dry-run", *args)).stderr == preview.stderr

    quiet = invoke(*placed(where, "-q", "dry-run", *args))
    assert quiet.exit_code == 0
    assert quiet.stdout == quiet.stderr == ""

    as_json = invoke("dry-run", *args, "--json")
    assert as_json.exit_code == 0
    assert "rows read: " not in as_json.stderr  # --json is not verbose by itself...
    verbose_json = invoke(*placed(where, "-v", "dry-run", *args, "--json"))
    assert "rows read: " in verbose_json.stderr  # ...but -v, before or after, still adds the lines
    assert json.loads(verbose_json.stdout) == json.loads(as_json.stdout)


@pytest.fixture
def litellm_days(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A small fake LiteLLM proxy with three UTC days of spend, for the per-day chart."""
    from tests.fakes.litellm import FakeLiteLLM, generate_dataset

    dataset = generate_dataset(1, days=3, requests=150, start_day=date(2025, 6, 1))
    with FakeLiteLLM(dataset, version="1.109.1") as litellm:
        monkeypatch.setenv("LITELLM_BASE_URL", litellm.base_url)
        monkeypatch.setenv("LITELLM_API_KEY", "sk-master-1234")
        yield


def _day_lines(stderr: str) -> dict[str, Decimal]:
    """The chart's rows: each day and the exact total at the end of its bar."""
    return {line[:10]: Decimal(line.split()[-1]) for line in stderr.splitlines() if re.match(r"2025-06-0\d ", line)}


def test_dry_run_charts_the_spend_per_day_on_stderr_for_several_days(work: Path, litellm_days: None) -> None:
    args = ("--mode", "spend-logs", "--start", "2025-06-01", "--end", "2025-06-04")
    preview = invoke("dry-run", *args)
    assert preview.exit_code == 0, preview.stderr
    assert preview.stdout == ""  # the chart is for humans: stderr only
    lines = preview.stderr.splitlines()
    chart = lines.index("llm-cost dry-run: spend per day by model (USD)")
    assert chart > max(n for n, line in enumerate(lines) if line.startswith("llm-cost dry-run: by "))  # after tables
    assert list(_day_lines(preview.stderr)) == ["2025-06-01", "2025-06-02", "2025-06-03"]
    assert lines[chart + 4].startswith("██ ")  # the legend
    as_json = json.loads(invoke("dry-run", *args, "--json").stdout)
    assert _day_lines(preview.stderr) == {day["day"]: Decimal(day["cost"]) for day in as_json["by_day"]}
    assert sum(_day_lines(preview.stderr).values()) == Decimal(as_json["total_cost"])  # exact, to the last digit

    by_team = invoke("dry-run", *args, "--chart-by", "team")
    assert "llm-cost dry-run: spend per day by team (USD)" in by_team.stderr
    assert _day_lines(by_team.stderr) == _day_lines(preview.stderr)
    assert "spend per day" not in invoke("dry-run", *args, "--chart-by", "none").stderr
    assert invoke("-q", "dry-run", *args).stderr == ""
    assert "spend per day" not in invoke("dry-run", *args, "--json").stderr
    one_day = invoke("dry-run", "--mode", "spend-logs", "--day", "2025-06-02")
    assert one_day.exit_code == 0 and "by model" in one_day.stderr and "spend per day" not in one_day.stderr
    assert invoke("dry-run", *args, "--chart-by", "provider").exit_code == 2


# --- the shipped example -----------------------------------------------------------------------------------------


def test_shipped_example_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vocab_dir: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("export", "--manifest", str(ROOT / "llm-cost.toml.example"), "--date", DATE, "-o", "costs.csv")
    assert result.exit_code == 0, result.stderr
    data = rows((tmp_path / "costs.csv").read_text(encoding="utf-8"))
    assert {r["ResourceId"] for r in data} == {"support-triage", "examples-prompts-search-rewrite-md", "release-notes"}
    notes = [r for r in data if r["ResourceId"] == "release-notes"]
    assert sum(Decimal(r["BilledCost"]) for r in notes) == Decimal("0.312")  # 48000 x 3.0 + 14000 x 12.0


# --- entry points (real processes) -------------------------------------------------------------------------------


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_COST_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["HTTPS_PROXY"] = env["HTTP_PROXY"] = "http://127.0.0.1:9"  # never reach the internet
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_python_dash_m_version(tmp_path: Path) -> None:
    proc = _run(["-m", "llm_cost", "--version"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"llm-cost {__version__}\n"


def test_console_script_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["llm-cost"] == "llm_cost.cli:main"
    module, _, attr = project["scripts"]["llm-cost"].partition(":")
    assert getattr(sys.modules[module], attr) is cli.main


def test_entry_point_real_exit_codes(work: Path) -> None:
    entry = ["-c", "from llm_cost.cli import main; main()"]
    failed = _run([*entry, "export", "-m", "nope.toml"], work)
    assert failed.returncode == 3
    assert failed.stdout == ""
    assert failed.stderr.count("\n") == 1
    assert failed.stderr.startswith("error: manifest not found: nope.toml")

    ok = _run([*entry, "export", "-m", "m.toml", "--date", DATE], work)
    assert ok.returncode == 0, ok.stderr
    assert total(ok.stdout) == TOTAL_COST
    assert ok.stdout == invoke("export", "-m", "m.toml", "--date", DATE).stdout

    usage = _run([*entry, "--help"], work)
    assert usage.returncode == 0
    assert "Usage: llm-cost" in usage.stdout

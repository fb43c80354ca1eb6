"""Settings: flags > LLM_COST_* environment > [settings] of llm-cost.toml > defaults; relative paths in [settings]."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import tiktoken.load
import tiktoken.registry
from pydantic import ValidationError
from typer.testing import CliRunner

from llm_cost.cli import app
from llm_cost.errors import ConfigError
from llm_cost.settings import (
    DEFAULT_CONFIG,
    ExportSettings,
    parse_ratio,
    resolve_export_settings,
)
from llm_cost.sources.manifest import ManifestSettings

NOW = datetime(2025, 6, 15, 10, 30, tzinfo=UTC)
PROMPT_TEXT = "Classify the customer's ticket as billing, outage or how-to, and reply in JSON.\n"


def write_config(folder: Path, settings: str, *, prompts: str = "", name: str = "llm-cost.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"[settings]\n{settings}\n{prompts}", encoding="utf-8")
    return path


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# --- defaults ----------------------------------------------------------------------------------------------------


def test_defaults_without_any_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = resolve_export_settings({}, now=NOW)
    assert settings.format == "focus"
    assert settings.focus_version == "1.2"
    assert settings.output is None
    assert settings.part(ManifestSettings).manifest == DEFAULT_CONFIG == Path("llm-cost.toml")
    assert settings.part(ManifestSettings).cache_hit_ratio is None
    assert settings.part(ManifestSettings).date == date(2025, 6, 15)  # today, UTC
    assert settings.split_tokens is True
    assert settings.part(ManifestSettings).vocab_dir is None
    assert settings.config is None


def test_default_date_is_today_utc_from_the_real_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = datetime.now(UTC).date()
    settings = resolve_export_settings({})
    after = datetime.now(UTC).date()
    assert settings.part(ManifestSettings).date in (before, after)


def test_none_values_mean_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = resolve_export_settings({"format": None, "date": None, "output": None, "config": None}, now=NOW)
    assert settings.format == "focus"
    assert settings.part(ManifestSettings).date == date(2025, 6, 15)


def test_settings_are_frozen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = resolve_export_settings({}, now=NOW)
    with pytest.raises(ValidationError):
        settings.format = "vantage"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        ExportSettings(date=date(2025, 6, 1), colour="blue")  # type: ignore[call-arg]


# --- the config file ---------------------------------------------------------------------------------------------


def test_dot_llm_cost_toml_is_the_default_config_and_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, 'format = "vantage"\ndate = "2025-01-02"')
    monkeypatch.chdir(tmp_path)
    settings = resolve_export_settings({}, now=NOW)
    assert settings.config == Path("llm-cost.toml")
    assert settings.part(ManifestSettings).manifest == Path("llm-cost.toml")
    assert settings.format == "vantage"
    assert settings.part(ManifestSettings).date == date(2025, 1, 2)


def test_explicit_config_is_also_the_default_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path / "conf", 'focus_version = "1.0"', name="costs.toml")
    monkeypatch.chdir(tmp_path)
    settings = resolve_export_settings({"config": str(config)}, now=NOW)
    assert settings.config == config
    assert settings.part(ManifestSettings).manifest == config
    assert settings.focus_version == "1.0"


def test_missing_explicit_config_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        resolve_export_settings({"config": "nope.toml"}, now=NOW)
    assert "config file not found: nope.toml" in str(info.value)
    assert info.value.exit_code == 3


def test_config_without_settings_table_gives_defaults(tmp_path: Path) -> None:
    config = tmp_path / "llm-cost.toml"
    config.write_text('[defaults]\nmodel = "gpt-4o"\n', encoding="utf-8")
    settings = resolve_export_settings({"config": str(config)}, now=NOW)
    assert settings.format == "focus"
    assert settings.part(ManifestSettings).manifest == config


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ('colour = "blue"', "unknown key(s) in [settings]: colour"),
        ('config = "other.toml"', "unknown key(s) in [settings]: config"),
        ('format = "xml"', "setting format"),
        ('focus_version = "1.1"', "setting focus_version"),
        ('date = "June 1"', "[settings] date: 'June 1' is not a date"),
        ('date = "2025-02-30"', "[settings] date: '2025-02-30' is not a valid date"),
        ("cache_hit_ratio = 1.5", "[settings] cache_hit_ratio: cache_hit_ratio must be between 0 and 1, got 1.5"),
        ("cache_hit_ratio = -0.1", "[settings] cache_hit_ratio: cache_hit_ratio must be between 0 and 1"),
        ('cache_hit_ratio = "lots"', "[settings] cache_hit_ratio: 'lots' is not a number"),
        ("split_tokens = [1]", "setting split_tokens"),
        ("concurrency = 0", "setting concurrency: Input should be greater than or equal to 1"),
        ("concurrency = 17", "setting concurrency: Input should be less than or equal to 16"),
        ("max_tries = 0", "setting max_tries: Input should be greater than or equal to 1"),
        ("retry_budget = -1", "setting retry_budget: Input should be greater than or equal to 0"),
        ('retry_budget = "soon"', "setting retry_budget"),
    ],
)
def test_bad_settings_table_values_are_one_line_config_errors(tmp_path: Path, table: str, fragment: str) -> None:
    config = write_config(tmp_path, table)
    with pytest.raises(ConfigError) as info:
        resolve_export_settings({"config": str(config)}, now=NOW)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 3


def test_nan_ratio_in_settings_is_a_config_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, "cache_hit_ratio = nan")
    with pytest.raises(ConfigError, match=r"^\[settings\] cache_hit_ratio: "):
        resolve_export_settings({"config": str(config)}, now=NOW)


def test_settings_must_be_a_table(tmp_path: Path) -> None:
    config = tmp_path / "llm-cost.toml"
    config.write_text('settings = "fast"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[settings\] must be a table"):
        resolve_export_settings({"config": str(config)}, now=NOW)


def test_malformed_config_names_the_line(tmp_path: Path) -> None:
    config = tmp_path / "llm-cost.toml"
    config.write_text('[settings]\nformat = "focus"\ndate = \n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        resolve_export_settings({"config": str(config)}, now=NOW)
    assert "malformed TOML" in str(info.value)
    assert "line 3" in str(info.value)


def test_toml_date_literal_and_keywords_in_settings(tmp_path: Path) -> None:
    config = write_config(tmp_path, "date = 2025-03-04")
    assert resolve_export_settings({"config": str(config)}, now=NOW).part(ManifestSettings).date == date(2025, 3, 4)
    config = write_config(tmp_path, 'date = "yesterday"')
    assert resolve_export_settings({"config": str(config)}, now=NOW).part(ManifestSettings).date == date(2025, 6, 14)


def test_settings_ratio_is_an_exact_decimal(tmp_path: Path) -> None:
    config = write_config(tmp_path, "cache_hit_ratio = 0.1")
    settings = resolve_export_settings({"config": str(config)}, now=NOW)
    assert settings.part(ManifestSettings).cache_hit_ratio == Decimal("0.1")  # not 0.1000000000000000055...


# --- precedence: flag > [settings] > default --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "file_value", "flag_value", "default", "expected_file", "expected_flag"),
    [
        ("format", '"vantage"', "focus", "focus", "vantage", "focus"),
        ("focus_version", '"1.0"', "1.2", "1.2", "1.0", "1.2"),
        ("date", '"2025-01-15"', "2025-03-15", date(2025, 6, 15), date(2025, 1, 15), date(2025, 3, 15)),
        ("cache_hit_ratio", "0.25", "0.75", None, Decimal("0.25"), Decimal("0.75")),
        ("split_tokens", "false", True, True, False, True),
    ],
)
def test_flag_beats_settings_table_beats_default(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    file_value: str,
    flag_value: object,
    default: object,
    expected_file: object,
    expected_flag: object,
) -> None:
    monkeypatch.chdir(tmp_path)

    def value(settings: ExportSettings) -> object:
        return getattr(settings.part(ManifestSettings) if key in ManifestSettings.model_fields else settings, key)

    assert value(resolve_export_settings({}, now=NOW)) == default
    config = write_config(tmp_path, f"{key} = {file_value}")
    assert value(resolve_export_settings({"config": str(config)}, now=NOW)) == expected_file
    assert value(resolve_export_settings({"config": str(config), key: flag_value}, now=NOW)) == expected_flag


def test_flag_ratio_error_names_the_flag(tmp_path: Path) -> None:
    config = write_config(tmp_path, "cache_hit_ratio = 0.5")
    with pytest.raises(ConfigError, match=r"^--cache-hit-ratio: "):
        resolve_export_settings({"config": str(config), "cache_hit_ratio": "2"}, now=NOW)


def test_flag_date_error_names_the_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^--date: "):
        resolve_export_settings({"date": "2025/06/01"}, now=NOW)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("0", Decimal(0)), ("1", Decimal(1)), (" 0.6 ", Decimal("0.6")), (Decimal("0.5"), Decimal("0.5"))],
)
def test_parse_ratio(value: object, expected: Decimal | None) -> None:
    assert parse_ratio(value, "--cache-hit-ratio") == expected


@pytest.mark.parametrize("value", ["-0.01", "1.01", "nan-ish", "", "1e3"])
def test_parse_ratio_rejects(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^--cache-hit-ratio: "):
        parse_ratio(value, "--cache-hit-ratio")


# --- relative paths in [settings] --------------------------------------------------------------------------------


def test_settings_paths_are_relative_to_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(
        tmp_path / "conf",
        'manifest = "manifests/prompts.toml"\noutput = "out/costs.csv"\nvocab_dir = "vocab"',
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = resolve_export_settings({"config": str(config)}, now=NOW)
    assert settings.part(ManifestSettings).manifest == config.parent / "manifests" / "prompts.toml"
    assert Path(settings.output or "") == config.parent / "out" / "costs.csv"
    assert settings.part(ManifestSettings).vocab_dir == config.parent / "vocab"


def test_settings_output_dash_stays_stdout_and_absolute_paths_stay(tmp_path: Path) -> None:
    absolute = tmp_path / "abs" / "m.toml"
    config = write_config(tmp_path / "conf", f'output = "-"\nmanifest = "{absolute.as_posix()}"')
    settings = resolve_export_settings({"config": str(config)}, now=NOW)
    assert settings.output == "-"
    assert settings.part(ManifestSettings).manifest == absolute


def test_flag_paths_are_relative_to_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path / "conf", 'output = "from-file.csv"\nmanifest = "from-file.toml"')
    monkeypatch.chdir(tmp_path)
    settings = resolve_export_settings({"config": str(config), "output": "flag.csv", "manifest": "flag.toml"}, now=NOW)
    assert settings.output == "flag.csv"
    assert settings.part(ManifestSettings).manifest == Path("flag.toml")


def test_export_with_config_from_another_directory_uses_its_relative_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    (conf / "prompts").mkdir(parents=True)
    (conf / "prompts" / "triage.txt").write_text(PROMPT_TEXT, encoding="utf-8")
    (conf / "out").mkdir()
    (conf / "manifest.toml").write_text(
        '[[prompts]]\npath = "prompts/triage.txt"\ninput_tokens = 1000\ncalls = 2\n', encoding="utf-8"
    )
    config = write_config(conf, 'manifest = "manifest.toml"\noutput = "out/costs.csv"\ndate = "2025-06-01"')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    result = CliRunner().invoke(app, ["export", "--config", str(config)])

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    rows = csv_rows((conf / "out" / "costs.csv").read_text(encoding="utf-8"))
    assert [r["ResourceId"] for r in rows] == ["prompts-triage-txt"]
    assert rows[0]["ChargePeriodStart"] == "2025-06-01T00:00:00Z"
    assert Decimal(rows[0]["BilledCost"]) == Decimal(2000) * Decimal("2.5") / Decimal(1_000_000)
    assert list(elsewhere.iterdir()) == []


# --- precedence through the CLI: flag > env > [settings] ---------------------------------------------------------


def _dated_config(folder: Path, settings: str) -> Path:
    (folder / "p.txt").parent.mkdir(parents=True, exist_ok=True)
    (folder / "p.txt").write_text(PROMPT_TEXT, encoding="utf-8")
    return write_config(folder, settings, prompts='[[prompts]]\npath = "p.txt"\ninput_tokens = 10\n')


def test_env_beats_settings_and_flag_beats_env_for_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _dated_config(tmp_path, 'date = "2025-06-01"\noutput = "from-settings.csv"')
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    assert runner.invoke(app, ["-q", "export"]).exit_code == 0
    assert (tmp_path / "from-settings.csv").is_file()

    monkeypatch.setenv("LLM_COST_OUTPUT", "from-env.csv")
    assert runner.invoke(app, ["-q", "export"]).exit_code == 0
    assert (tmp_path / "from-env.csv").is_file()

    result = runner.invoke(app, ["-q", "export", "-o", "from-flag.csv"])
    assert result.exit_code == 0
    assert (tmp_path / "from-flag.csv").is_file()
    assert config.is_file()
    assert (tmp_path / "from-flag.csv").read_bytes() == (tmp_path / "from-settings.csv").read_bytes()


def test_env_config_variable_selects_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _dated_config(tmp_path / "conf", 'date = "2025-02-03"\nformat = "vantage"')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLM_COST_CONFIG", str(config))
    result = CliRunner().invoke(app, ["export"])
    assert result.exit_code == 0, result.stderr
    rows = csv_rows(result.stdout)
    assert len(rows[0]) == 25  # vantage, from [settings]
    assert rows[0]["ChargePeriodStart"] == "2025-02-03T00:00:00Z"


def test_env_cache_hit_ratio_beats_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _dated_config(tmp_path, 'date = "2025-06-01"\ncache_hit_ratio = 0.5')
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    from_file = csv_rows(runner.invoke(app, ["export"]).stdout)
    assert json.loads(from_file[0]["Tags"])["x-cache-hit-ratio"] == "0.5"
    monkeypatch.setenv("LLM_COST_CACHE_HIT_RATIO", "0.2")
    from_env = csv_rows(runner.invoke(app, ["export"]).stdout)
    assert json.loads(from_env[0]["Tags"])["x-cache-hit-ratio"] == "0.2"
    from_flag = csv_rows(runner.invoke(app, ["export", "--cache-hit-ratio", "0.8"]).stdout)
    assert json.loads(from_flag[0]["Tags"])["x-cache-hit-ratio"] == "0.8"


def _offline_tiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    """No encoding cached in this process and no download: tiktoken loads only what llm-cost hands it."""

    def offline(blobpath: str) -> bytes:
        raise ConnectionError(f"offline test: refusing to fetch {blobpath}")

    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    monkeypatch.setattr(tiktoken.load, "read_file", offline)


def test_settings_vocab_dir_is_relative_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vocab_dir: Path
) -> None:
    conf = tmp_path / "conf"
    (conf / "vocab").mkdir(parents=True)
    shutil.copy(vocab_dir / "o200k_base.tiktoken", conf / "vocab" / "o200k_base.tiktoken")
    (conf / "p.txt").write_text(PROMPT_TEXT, encoding="utf-8")
    config = write_config(conf, 'vocab_dir = "vocab"\ndate = "2025-06-01"', prompts='[[prompts]]\npath = "p.txt"\n')
    monkeypatch.delenv("LLM_COST_VOCAB_DIR", raising=False)
    _offline_tiktoken(monkeypatch)
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, ["export", "--config", str(config)])

    assert result.exit_code == 0, result.stderr
    assert "warning" not in result.stderr
    tags = json.loads(csv_rows(result.stdout)[0]["Tags"])
    assert tags["x-token-method"] == "tiktoken:o200k_base"


def test_env_vocab_dir_beats_settings_vocab_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vocab_dir: Path
) -> None:
    (tmp_path / "empty-vocab").mkdir()
    (tmp_path / "p.txt").write_text(PROMPT_TEXT, encoding="utf-8")
    config = write_config(
        tmp_path, 'vocab_dir = "empty-vocab"\ndate = "2025-06-01"', prompts='[[prompts]]\npath = "p.txt"\n'
    )
    monkeypatch.setenv("LLM_COST_VOCAB_DIR", str(vocab_dir))
    _offline_tiktoken(monkeypatch)

    result = CliRunner().invoke(app, ["export", "--config", str(config)])

    assert result.exit_code == 0, result.stderr
    tags = json.loads(csv_rows(result.stdout)[0]["Tags"])
    assert tags["x-token-method"] == "tiktoken:o200k_base"


def test_concurrency_defaults_to_4_and_comes_from_flag_env_or_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_export_settings({}, now=NOW).concurrency == 4
    config = write_config(tmp_path, "concurrency = 2")
    assert resolve_export_settings({"config": str(config)}, now=NOW).concurrency == 2
    assert resolve_export_settings({"config": str(config), "concurrency": 8}, now=NOW).concurrency == 8
    result = CliRunner().invoke(
        app,
        ["export", "--concurrency", "0", "--mode", "spend-logs", "--day", "2025-06-01"],
        env={"LITELLM_BASE_URL": "http://127.0.0.1:9", "LITELLM_API_KEY": "sk-x"},
    )
    assert result.exit_code == 3 and "setting concurrency" in result.stderr


def test_retry_policy_defaults_and_comes_from_flag_env_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    default = resolve_export_settings({}, now=NOW).retry
    assert (default.attempts, default.budget) == (5, 60.0)
    config = write_config(tmp_path, "max_tries = 3\nretry_budget = 10")
    from_file = resolve_export_settings({"config": str(config)}, now=NOW).retry
    assert (from_file.attempts, from_file.budget) == (3, 10.0)
    from_flag = resolve_export_settings({"config": str(config), "max_tries": 8, "retry_budget": 0.5}, now=NOW).retry
    assert (from_flag.attempts, from_flag.budget) == (8, 0.5)
    monkeypatch.setenv("LLM_COST_RETRY_BUDGET", "7200")
    result = CliRunner().invoke(
        app,
        ["export", "--mode", "spend-logs", "--day", "2025-06-01"],
        env={"LITELLM_BASE_URL": "http://127.0.0.1:9", "LITELLM_API_KEY": "sk-x"},
    )
    assert result.exit_code == 3 and "setting retry_budget: Input should be less than or equal to 3600" in result.stderr


@pytest.mark.parametrize("command", ["export", "dry-run", "upload"])
def test_the_retry_policy_is_in_help(command: str) -> None:
    text = CliRunner().invoke(app, [command, "--help"], terminal_width=200).stdout
    assert "--max-tries" in text and "--retry-budget" in text and "LLM_COST_RETRY_BUDGET" in text


def test_each_part_has_its_own_model_with_file_keys_but_never_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llm_cost.sinks.vantage.settings import VantageSettings
    from llm_cost.sources.litellm.settings import LiteLLMSettings

    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, 'vantage_url = "https://vantage.example"\nlitellm_url = "https://proxy.example"')
    settings = resolve_export_settings({"config": str(config), "tolerance": "0.5"}, now=NOW)
    assert settings.part(VantageSettings).vantage_url == "https://vantage.example"
    assert settings.part(LiteLLMSettings).litellm_url == "https://proxy.example"
    assert settings.part(LiteLLMSettings).tolerance == Decimal("0.5")
    assert settings.replace(day="2025-06-01").part(LiteLLMSettings).day == "2025-06-01"
    for secret in ("litellm_key", "vantage_api_key", "integration_token"):
        bad = write_config(tmp_path, f'{secret} = "sk-in-the-file"')
        with pytest.raises(ConfigError, match=f"unknown key.*{secret}"):
            resolve_export_settings({"config": str(bad)}, now=NOW)

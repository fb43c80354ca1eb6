"""Settings: flags > LLM_COST_* environment > [settings] of llm-cost.toml > defaults; relative paths in [settings]."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
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
    SourceRun,
    parse_ratio,
    resolve_export_settings,
)
from llm_cost.sources.litellm.settings import LiteLLMSettings
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


# --- [[sources]]: labelled sources in one run ---------------------------------------------------------------------

PROD_SOURCE = """
[[sources]]
label = "prod"
mode = "spend-logs"
litellm_url = "https://prod.example"
litellm_key_env = "PROD_KEY"
"""
STAGING_SOURCE = """
[[sources]]
label = "staging"
mode = "daily-activity"
litellm_url = "https://staging.example"
litellm_key_env = "STAGING_KEY"
"""
PLAN_SOURCE = """
[[sources]]
label = "plan"
mode = "manifest"
"""
PROD_KEY, STAGING_KEY = "sk-prod-key-0a1b2c", "sk-staging-key-3d4e5f"


def sources_config(folder: Path, *sources: str, settings: str = "") -> Path:
    """A config file in `folder` with a [settings] table and the given [[sources]] tables."""
    return write_config(folder, settings, prompts="".join(sources))


def set_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxies' keys, in the variables their entries name."""
    monkeypatch.setenv("PROD_KEY", PROD_KEY)
    monkeypatch.setenv("STAGING_KEY", STAGING_KEY)


def config_error(call: Callable[[], object]) -> str:
    """The message of the ConfigError `call` raises: exit 3 and one line."""
    with pytest.raises(ConfigError) as info:
        call()
    message = str(info.value)
    assert info.value.exit_code == 3
    assert "\n" not in message
    return message


def key_of(run: SourceRun) -> str | None:
    """The LiteLLM key a source's settings hold, in the clear."""
    key = run.settings.part(LiteLLMSettings).litellm_key
    return key.get_secret_value() if key is not None else None


def test_without_sources_one_unlabelled_run_reads_the_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No [[sources]]: one complete, unlabelled run with the run's own settings."""
    monkeypatch.chdir(tmp_path)
    settings = resolve_export_settings({"mode": "spend-logs", "litellm_key": "sk-flag-key-99"}, now=NOW)
    assert not settings.labelled
    assert settings.source_runs() == [SourceRun(None, settings, complete=True)]
    assert settings.source_label is None
    assert settings.secrets() == ["sk-flag-key-99"]


def test_each_source_is_one_run_in_file_order_with_its_label_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_keys(monkeypatch)
    config = sources_config(tmp_path, STAGING_SOURCE, PROD_SOURCE)
    settings = resolve_export_settings({"config": str(config), "day": "2025-06-01"}, now=NOW)
    assert settings.labelled
    assert [entry.label for entry in settings.sources] == ["staging", "prod"]
    runs = settings.source_runs()
    assert [run.label for run in runs] == ["staging", "prod"]
    assert all(run.complete for run in runs)
    staging, prod = runs
    assert (staging.settings.source_label, staging.settings.mode) == ("staging", "daily-activity")
    assert staging.settings.part(LiteLLMSettings).litellm_url == "https://staging.example"
    assert key_of(staging) == STAGING_KEY
    assert (prod.settings.source_label, prod.settings.mode) == ("prod", "spend-logs")
    assert prod.settings.part(LiteLLMSettings).litellm_url == "https://prod.example"
    assert prod.settings.part(LiteLLMSettings).day == "2025-06-01"  # the run's window reaches every source
    assert key_of(prod) == PROD_KEY
    assert prod.settings.mapping.source_label == "prod"
    assert settings.source_label is None  # the run itself is no source


def test_a_sources_key_is_read_stripped_from_its_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROD_KEY", f"  {PROD_KEY}\n")
    config = sources_config(tmp_path, PROD_SOURCE)
    run = resolve_export_settings({"config": str(config)}, now=NOW).source_runs()[0]
    assert key_of(run) == PROD_KEY


def test_a_sources_key_beats_the_flags_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The flag/LITELLM_API_KEY key is no identity setting: allowed, but each labelled proxy uses its own key."""
    set_keys(monkeypatch)
    config = sources_config(tmp_path, PROD_SOURCE)
    settings = resolve_export_settings({"config": str(config), "litellm_key": "sk-flag-key-99"}, now=NOW)
    assert key_of(settings.source_runs()[0]) == PROD_KEY


@pytest.mark.parametrize(
    ("key", "value", "flag"),
    [
        ("mode", "spend-logs", "--mode"),
        ("litellm_url", "https://other.example", "--litellm-url"),
        ("ca_bundle", "ca.pem", "--ca-bundle"),
        ("manifest", "prompts.toml", "--manifest"),
    ],
)
@pytest.mark.parametrize("origin", ["flag", "settings"])
def test_a_source_identity_setting_beside_sources_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: str, flag: str, origin: str
) -> None:
    """With [[sources]] each entry names its source; the same setting from a flag (or its variable) or [settings]
    is refused rather than guessed at."""
    set_keys(monkeypatch)
    in_file = f'{key} = "{value}"' if origin == "settings" else ""
    config = sources_config(tmp_path, PROD_SOURCE, PLAN_SOURCE, settings=in_file)
    cli = {"config": str(config), **({key: value} if origin == "flag" else {})}
    message = config_error(lambda: resolve_export_settings(cli, now=NOW))
    assert message.startswith(f"{config}: [[sources]] names each source, so {flag} / ")
    assert "cannot also be set (by a flag, its environment variable or [settings])" in message
    assert message.endswith("choose sources with --source LABEL")


def test_every_clashing_setting_is_named(tmp_path: Path) -> None:
    config = sources_config(tmp_path, PLAN_SOURCE, settings='mode = "manifest"')
    message = config_error(lambda: resolve_export_settings({"config": str(config), "ca_bundle": "ca.pem"}, now=NOW))
    assert "so --mode / LLM_COST_MODE, --ca-bundle / LLM_COST_CA_BUNDLE cannot also be set" in message


@pytest.mark.parametrize(
    ("variable", "value", "flag"),
    [
        ("LLM_COST_MODE", "spend-logs", "--mode"),
        ("LITELLM_BASE_URL", "https://other.example", "--litellm-url"),
        ("LLM_COST_CA_BUNDLE", "ca.pem", "--ca-bundle"),
        ("LLM_COST_MANIFEST", "prompts.toml", "--manifest"),
    ],
)
def test_a_source_identity_variable_beside_sources_is_refused_by_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, flag: str
) -> None:
    """The environment variable of a flag is the flag: refused beside [[sources]], exit 3, one error line."""
    set_keys(monkeypatch)
    sources_config(tmp_path, PROD_SOURCE, PLAN_SOURCE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(app, ["export", "--day", "2025-06-01"])
    assert result.exit_code == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"so {flag} / {variable} cannot also be set" in lines[0]
    assert PROD_KEY not in result.output and PROD_KEY not in result.stderr


@pytest.mark.parametrize("with_config", [False, True])
def test_source_flag_without_sources_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_config: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    if with_config:
        write_config(tmp_path, 'format = "focus"')
    message = config_error(lambda: resolve_export_settings({"only_sources": ["prod"]}, now=NOW))
    assert message == "--source picks labelled sources from [[sources]] in llm-cost.toml, and it has none"


def test_an_empty_source_list_means_every_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--source` not given arrives as an empty list: no choice, so no error without [[sources]], and all with them."""
    monkeypatch.chdir(tmp_path)
    assert resolve_export_settings({"only_sources": []}, now=NOW).only_sources is None
    set_keys(monkeypatch)
    sources_config(tmp_path, PROD_SOURCE, STAGING_SOURCE)
    runs = resolve_export_settings({"only_sources": []}, now=NOW).source_runs()
    assert [run.label for run in runs] == ["prod", "staging"]


def test_an_unknown_source_label_is_refused_listing_the_known(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_keys(monkeypatch)
    config = sources_config(tmp_path, PROD_SOURCE, STAGING_SOURCE, PLAN_SOURCE)
    settings = resolve_export_settings({"config": str(config), "only_sources": ["prod", "qa"]}, now=NOW)
    message = config_error(settings.source_runs)
    assert message == "--source qa: no such label in [[sources]] (known: prod, staging, plan)"


def test_source_picks_entries_in_file_order_and_complete_only_when_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_keys(monkeypatch)
    config = sources_config(tmp_path, PROD_SOURCE, STAGING_SOURCE)

    def runs(*labels: str) -> list[tuple[str | None, bool]]:
        settings = resolve_export_settings({"config": str(config), "only_sources": list(labels)}, now=NOW)
        return [(run.label, run.complete) for run in settings.source_runs()]

    assert runs("staging") == [("staging", False)]
    assert runs("staging", "prod") == [("prod", True), ("staging", True)]  # the file's order, not the flags'
    assert runs("prod", "prod") == [("prod", False)]
    assert runs() == [("prod", True), ("staging", True)]


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_or_empty_key_variable_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    monkeypatch.setenv("STAGING_KEY", STAGING_KEY)
    if value is not None:
        monkeypatch.setenv("PROD_KEY", value)
    config = sources_config(tmp_path, STAGING_SOURCE, PROD_SOURCE)
    settings = resolve_export_settings({"config": str(config)}, now=NOW)
    message = config_error(settings.source_runs)
    assert message == "source prod: the environment variable PROD_KEY is not set or empty"
    assert STAGING_KEY not in message


def test_a_source_left_out_needs_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the chosen sources' keys are read: `--source staging` runs without prod's variable."""
    monkeypatch.setenv("STAGING_KEY", STAGING_KEY)
    config = sources_config(tmp_path, PROD_SOURCE, STAGING_SOURCE)
    settings = resolve_export_settings({"config": str(config), "only_sources": ["staging"]}, now=NOW)
    assert [key_of(run) for run in settings.source_runs()] == [STAGING_KEY]


def test_secrets_hold_every_labelled_sources_key_and_the_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key the run may meet is masked: the flag's and each entry's, chosen or not; unset variables add none."""
    set_keys(monkeypatch)
    config = sources_config(tmp_path, PROD_SOURCE, STAGING_SOURCE, PLAN_SOURCE)
    cli = {"config": str(config), "litellm_key": "sk-flag-key-99", "only_sources": ["prod"]}
    assert resolve_export_settings(cli, now=NOW).secrets() == ["sk-flag-key-99", PROD_KEY, STAGING_KEY]
    monkeypatch.delenv("STAGING_KEY")
    assert resolve_export_settings({"config": str(config)}, now=NOW).secrets() == [PROD_KEY]


def test_secrets_are_the_keys_as_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key variable with a trailing newline (a mounted secret) is sent stripped; the masker must know that key."""
    monkeypatch.setenv("PROD_KEY", f"{PROD_KEY}\n")
    config = sources_config(tmp_path, PROD_SOURCE)
    settings = resolve_export_settings({"config": str(config)}, now=NOW)
    assert key_of(settings.source_runs()[0]) == PROD_KEY
    assert settings.secrets() == [PROD_KEY]


def test_sources_settings_override_the_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry's own granularity, tag keys, health checks and cache-hit ratio win over flags and [settings]; an
    entry without them takes the run's."""
    set_keys(monkeypatch)
    prod = PROD_SOURCE + 'granularity = "request"\ntag_keys = ["project"]\ninclude_health_checks = true\n'
    plan = PLAN_SOURCE + "cache_hit_ratio = 0.75\n"
    config = sources_config(
        tmp_path,
        prod,
        STAGING_SOURCE,
        plan,
        settings='granularity = "hour"\ntag_keys = ["team"]\ncache_hit_ratio = 0.25',
    )
    runs = resolve_export_settings(
        {"config": str(config), "include_health_checks": False, "day": "2025-06-01"}, now=NOW
    ).source_runs()
    own = {run.label: run.settings for run in runs}
    assert own["prod"].granularity == "request"
    assert own["prod"].part(LiteLLMSettings).tag_keys == ("project",)
    assert own["prod"].part(LiteLLMSettings).include_health_checks is True
    assert own["staging"].granularity == "hour"
    assert own["staging"].part(LiteLLMSettings).tag_keys == ("team",)
    assert own["staging"].part(LiteLLMSettings).include_health_checks is False
    assert own["plan"].part(ManifestSettings).cache_hit_ratio == Decimal("0.75")
    flagged = resolve_export_settings({"config": str(config), "granularity": "day", "day": "2025-06-01"}, now=NOW)
    assert [run.settings.granularity for run in flagged.source_runs()] == ["request", "day", "day"]


def test_a_manifest_entry_reads_the_config_itself_or_its_own_relative_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    own = PLAN_SOURCE.replace('"plan"', '"own"') + 'manifest = "plans/prompts.toml"\n'
    config = sources_config(conf, PLAN_SOURCE, own)
    monkeypatch.chdir(tmp_path)
    runs = resolve_export_settings({"config": str(config)}, now=NOW).source_runs()
    assert [run.settings.part(ManifestSettings).manifest for run in runs] == [
        config,
        conf / "plans" / "prompts.toml",
    ]


def test_manifests_alone_estimate_the_charge_day(tmp_path: Path) -> None:
    """Without a proxy in the run, a manifest estimates `--date` (today by default), as an unlabelled run does."""
    config = sources_config(tmp_path, PLAN_SOURCE)
    run = resolve_export_settings({"config": str(config)}, now=NOW).source_runs()[0]
    assert run.settings.part(ManifestSettings).manifest_days is None
    assert run.settings.part(ManifestSettings).days == (date(2025, 6, 15),)
    dated = resolve_export_settings({"config": str(config), "date": "2025-06-01"}, now=NOW).source_runs()[0]
    assert dated.settings.part(ManifestSettings).days == (date(2025, 6, 1),)


def test_manifests_chosen_apart_from_the_proxies_estimate_the_charge_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--source plan` leaves the proxies out: no mixed run, so --date is the charge day and is allowed."""
    config = sources_config(tmp_path, PROD_SOURCE, PLAN_SOURCE)
    cli = {"config": str(config), "only_sources": ["plan"], "date": "2025-06-01"}
    run = resolve_export_settings(cli, now=NOW).source_runs()[0]
    assert run.settings.part(ManifestSettings).days == (date(2025, 6, 1),)


def _june(day: int) -> date:
    return date(2025, 6, day)


@pytest.mark.parametrize(
    ("window", "days"),
    [
        ({}, (_june(14),)),  # yesterday, by default
        ({"day": "2025-06-01"}, (_june(1),)),
        ({"day": "yesterday"}, (_june(14),)),
        ({"start": "2025-06-01", "end": "2025-06-04"}, (_june(1), _june(2), _june(3))),
        ({"start": "2025-06-01T00:00:00Z", "end": "2025-06-02T00:00:00Z"}, (_june(1),)),
        ({"month": "2025-05"}, tuple(date(2025, 5, day) for day in range(1, 32))),
        ({"day": "2025-06-15", "include_partial": True}, (_june(15),)),
    ],
)
def test_a_manifest_beside_a_proxy_estimates_every_day_of_the_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: dict[str, object], days: tuple[date, ...]
) -> None:
    set_keys(monkeypatch)
    config = sources_config(tmp_path, PROD_SOURCE, PLAN_SOURCE)
    runs = resolve_export_settings({"config": str(config), **window}, now=NOW).source_runs()
    prod, estimates = runs
    assert estimates.settings.part(ManifestSettings).manifest_days == days
    assert estimates.settings.part(ManifestSettings).days == days
    assert estimates.settings.source_label == "plan" and estimates.settings.mode == "manifest"
    assert key_of(prod) == PROD_KEY


@pytest.mark.parametrize(
    "window",
    [
        {"start": "2025-06-01T06:00:00Z", "end": "2025-06-02T00:00:00Z"},
        {"start": "2025-06-01", "end": "2025-06-02T12:00:00Z"},
        {"start": "2025-06-14T00:00:00Z", "end": "2025-06-15T10:00:00Z", "include_partial": True},
    ],
)
def test_a_window_that_cuts_a_day_is_refused_beside_a_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: dict[str, object]
) -> None:
    set_keys(monkeypatch)
    config = sources_config(tmp_path, PROD_SOURCE, PLAN_SOURCE)
    settings = resolve_export_settings({"config": str(config), **window}, now=NOW)
    message = config_error(settings.source_runs)
    assert message.startswith("a manifest estimates whole UTC days, but the window ")
    assert message.endswith(" cuts a day")


def test_a_cut_window_is_not_refused_when_no_manifest_is_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a manifest beside a proxy needs whole days: with the manifest left out, any window is the proxy's."""
    set_keys(monkeypatch)
    config = sources_config(tmp_path, PROD_SOURCE, PLAN_SOURCE)
    cli = {"config": str(config), "start": "2025-06-01T06:00:00Z", "end": "2025-06-02T00:00:00Z"}
    runs = resolve_export_settings({**cli, "only_sources": ["prod"]}, now=NOW).source_runs()
    assert [(run.label, run.complete) for run in runs] == [("prod", False)]
    assert runs[0].settings.part(LiteLLMSettings).start == "2025-06-01T06:00:00Z"


@pytest.mark.parametrize("origin", ["flag", "settings"])
def test_a_date_is_refused_when_a_manifest_runs_beside_a_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, origin: str
) -> None:
    """The window chooses a mixed run's days: an explicit --date (flag or [settings]) would be ignored, so it is
    refused."""
    set_keys(monkeypatch)
    in_file = 'date = "2025-06-01"' if origin == "settings" else ""
    config = sources_config(tmp_path, PROD_SOURCE, PLAN_SOURCE, settings=in_file)
    cli = {"config": str(config), **({"date": "2025-06-01"} if origin == "flag" else {})}
    settings = resolve_export_settings(cli, now=NOW)
    message = config_error(settings.source_runs)
    assert message.startswith("--date (or [settings] date) is the charge day of manifest estimates; in a run with")


def test_a_window_error_of_a_mixed_run_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest's days come from the window, so a window still open is refused there too, in one line."""
    set_keys(monkeypatch)
    config = sources_config(tmp_path, PROD_SOURCE, PLAN_SOURCE)
    settings = resolve_export_settings({"config": str(config), "day": "2025-06-15"}, now=NOW)
    assert "is not closed yet" in config_error(settings.source_runs)


def test_a_bad_sources_table_stops_settings_with_its_error(tmp_path: Path) -> None:
    """parse_sources' refusals surface from resolve_export_settings, before any source runs."""
    config = sources_config(tmp_path, PROD_SOURCE, PROD_SOURCE)
    message = config_error(lambda: resolve_export_settings({"config": str(config)}, now=NOW))
    assert message == f"{config}: [[sources]] label 'prod' is used twice; labels must be unique"


def test_a_lower_case_key_variable_name_is_never_shown_and_is_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name like `sk_live_abc` may be a key written where its variable's name belongs: the error does not show
    it, and the masker knows it."""
    entry = PROD_SOURCE.replace('litellm_key_env = "PROD_KEY"', 'litellm_key_env = "sk_live_abc123"')
    assert entry != PROD_SOURCE
    config = sources_config(tmp_path, entry)
    settings = resolve_export_settings({"config": str(config)}, now=NOW)
    assert "sk_live_abc123" in settings.secrets()
    message = config_error(settings.source_runs)
    assert "sk_live_abc123" not in message and "named by its litellm_key_env" in message


def test_internal_settings_cannot_come_from_the_settings_table(tmp_path: Path) -> None:
    config = tmp_path / "llm-cost.toml"
    config.write_text('[settings]\nmanifest_days = ["2025-06-01"]\n', encoding="utf-8")
    message = config_error(lambda: resolve_export_settings({"config": str(config)}, now=NOW))
    assert "unknown key(s) in [settings]: manifest_days" in message

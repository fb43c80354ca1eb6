"""`llm-cost estimate`: the pure computation (llm_cost/estimate.py) and the command (via CliRunner).

Costs are checked against genai-prices' own numbers, looked up here straight from its data snapshot and multiplied
out by hand: tokens x USD per million tokens / 1,000,000.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import tiktoken.load
import tiktoken.registry
from genai_prices import data_snapshot
from genai_prices.types import TieredPrices
from typer.testing import CliRunner, Result

from llm_cost import cli, tokens
from llm_cost.cli import app
from llm_cost.errors import ConfigError
from llm_cost.estimate import GIVEN, estimate_cost
from llm_cost.pricing import PriceBook
from llm_cost.records import TokenType, UnitPrices
from llm_cost.sources.manifest import Manifest, estimate
from llm_cost.tokens import TokenCounter

DAY = date(2025, 6, 1)
MILLION = Decimal(1_000_000)
HELLO = "Hello, world!"  # 4 tokens in o200k_base: [13225, 11, 2375, 0]


def genai_price(model: str, day: date = DAY) -> Any:
    """genai-prices' price entry for a model on a day, straight from its data snapshot (not through PriceBook)."""
    _, info = data_snapshot.get_snapshot().find_provider_model(model, None, None, None)
    return info.get_prices(datetime.combine(day, datetime.min.time(), UTC))


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """A clean working folder (no llm-cost.toml), no LLM_COST_VOCAB_DIR (the shipped vocabularies count) and no
    tiktoken download. Returns the downloads attempted."""
    attempts: list[str] = []

    def refuse(blobpath: str) -> bytes:
        attempts.append(blobpath)
        raise ConnectionError(f"offline test: refusing to fetch {blobpath}")

    monkeypatch.setattr(tiktoken.load, "read_file", refuse)
    monkeypatch.delenv("LLM_COST_VOCAB_DIR", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return attempts


def invoke(*args: str, stdin: str | bytes | None = None) -> Result:
    return CliRunner().invoke(app, ["estimate", *args], input=stdin)


def as_json(*args: str, stdin: str | bytes | None = None) -> dict[str, Any]:
    result = invoke(*args, "--json", stdin=stdin)
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def one_error_line(result: Result, code: int = 3) -> str:
    """Exactly one line on stderr, `error: ...`, the documented exit code, no traceback, nothing on stdout."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    return result.stderr


def usage_error(result: Result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    return " ".join(result.stderr.split())


# --- the pure computation ----------------------------------------------------------------------------------------


def test_gpt_4o_cost_from_first_principles() -> None:
    price = genai_price("gpt-4o")
    # OpenAI's list prices for gpt-4o on that day, as genai-prices has them
    assert (price.input_mtok, price.cache_read_mtok, price.output_mtok) == (Decimal("2.5"), Decimal("1.25"), 10)

    result = estimate_cost(
        PriceBook(),
        "gpt-4o",
        input_tokens=1000,
        output_tokens=200,
        calls=3,
        cache_hit_ratio=Decimal("0.6"),
        method=GIVEN,
        day=DAY,
    )
    # 3 calls: 3,000 input tokens, 1,800 of them cached; 600 output tokens
    assert (result.tokens.input, result.tokens.cache_read, result.tokens.output) == (1200, 1800, 600)
    expected = (1200 * price.input_mtok + 1800 * price.cache_read_mtok + 600 * price.output_mtok) / MILLION
    assert result.cost == expected == Decimal("0.01125")
    assert result.costs == {
        TokenType.INPUT: 1200 * price.input_mtok / MILLION,
        TokenType.CACHE_READ: 1800 * price.cache_read_mtok / MILLION,
        TokenType.OUTPUT: 600 * price.output_mtok / MILLION,
    }
    assert all(isinstance(v, Decimal) for v in result.costs.values())
    assert (result.provider, result.provider_name, result.pricing.source) == ("openai", "OpenAI", "genai-prices")
    assert result.to_json()["cost"] == {
        "input": "0.003",
        "cache_read": "0.00225",
        "output": "0.006",
        "total": "0.01125",
    }
    assert result.to_json()["prices_per_million_tokens"] == {
        "input": "2.5",
        "cache_read": "1.25",
        "output": "10.0",
        "source": "genai-prices",
        "tier": "standard",
    }


@pytest.mark.parametrize(("input_tokens", "ratio", "cached"), [(5, "0.5", 2), (7, "0.5", 4), (3, "1", 3), (9, "0", 0)])
def test_cached_input_is_rounded_half_even(input_tokens: int, ratio: str, cached: int) -> None:
    result = estimate_cost(
        PriceBook(), "gpt-4o", input_tokens=input_tokens, cache_hit_ratio=Decimal(ratio), method=GIVEN, day=DAY
    )
    assert (result.tokens.cache_read, result.tokens.input) == (cached, input_tokens - cached)


def test_the_same_cost_as_the_manifests_estimate() -> None:
    """`estimate` and a manifest prompt with the same tokens, calls and ratio cost the same, to the last digit."""
    manifest = Manifest.model_validate(
        {
            "prompts": [
                {
                    "path": "p.txt",
                    "model": "claude-sonnet-4-0",
                    "input_tokens": 12345,
                    "expected_output_tokens": 678,
                    "calls": 41,
                    "cache_hit_ratio": Decimal("0.37"),
                }
            ]
        }
    )
    prices = PriceBook()
    [record] = estimate(manifest, day=DAY, prices=prices, counter=TokenCounter())
    result = estimate_cost(
        prices,
        "claude-sonnet-4-0",
        input_tokens=12345,
        output_tokens=678,
        calls=41,
        cache_hit_ratio=Decimal("0.37"),
        method=GIVEN,
        day=DAY,
    )
    assert result.cost == record.cost
    assert result.tokens == record.tokens
    assert result.pricing == record.pricing


def test_a_tier_is_chosen_by_the_input_of_one_call() -> None:
    price = genai_price("gemini-2.5-pro")
    assert isinstance(price.input_mtok, TieredPrices)
    [tier] = price.input_mtok.tiers
    above = estimate_cost(PriceBook(), "gemini-2.5-pro", input_tokens=tier.start + 1, method=GIVEN, day=DAY)
    assert above.pricing.tier == f"above-{tier.start}-tokens"
    assert above.cost == (tier.start + 1) * tier.price / MILLION
    # many calls below the tier stay at the base price, though their sum is above it
    below = estimate_cost(PriceBook(), "gemini-2.5-pro", input_tokens=1000, calls=500, method=GIVEN, day=DAY)
    assert below.pricing.tier == "standard"
    assert below.cost == 500_000 * price.input_mtok.base / MILLION


def test_an_override_only_model_is_priced_by_its_override() -> None:
    prices = PriceBook({"our-model": UnitPrices(Decimal("0.3"), Decimal("1.2"))})
    result = estimate_cost(
        prices, "our-model", input_tokens=1000, output_tokens=10, method=GIVEN, day=DAY, provider="Mistral"
    )
    assert result.cost == (1000 * Decimal("0.3") + 10 * Decimal("1.2")) / MILLION
    assert (result.provider, result.pricing.source) == ("mistral", "override")
    custom = estimate_cost(prices, "our-model", input_tokens=1, method=GIVEN, day=DAY)
    assert (custom.provider, custom.provider_name) == ("custom", "Custom")
    assert custom.to_json()["prices_per_million_tokens"]["cache_read"] is None


def test_an_unknown_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        estimate_cost(PriceBook(), "no-such-model-xyz", input_tokens=1, method=GIVEN, day=DAY)
    assert info.value.exit_code == 3
    assert str(info.value) == (
        "unknown model 'no-such-model-xyz': genai-prices has no price for it; add a [pricing.\"no-such-model-xyz\"] "
        "table with input_mtok and output_mtok to llm-cost.toml, or to a manifest passed with --manifest"
    )


def test_a_missing_cache_read_price_is_a_config_error() -> None:
    prices = PriceBook({"our-model": UnitPrices(Decimal("0.3"), Decimal("1.2"))})
    with pytest.raises(ConfigError, match=r"model 'our-model' has no cache_read price; set cache_read_mtok in"):
        estimate_cost(prices, "our-model", input_tokens=10, cache_hit_ratio=Decimal("0.5"), method=GIVEN, day=DAY)


@pytest.mark.parametrize(("input_tokens", "output_tokens", "calls"), [(-1, 0, 1), (0, -1, 1), (1, 1, 0)])
def test_negative_counts_and_no_calls_are_refused(input_tokens: int, output_tokens: int, calls: int) -> None:
    with pytest.raises(ConfigError):
        estimate_cost(
            PriceBook(),
            "gpt-4o",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            calls=calls,
            method=GIVEN,
            day=DAY,
        )


# --- the command -------------------------------------------------------------------------------------------------


def test_text_prints_a_table_and_a_summary_on_stderr_only() -> None:
    result = invoke("--model", "gpt-4o", "--text", HELLO, "--output-tokens", "100", "--date", "2025-06-01")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "Estimate: gpt-4o (OpenAI), 1 call, prices of 2025-06-01" in result.stderr
    for cell in ("input (uncached)", "cached input", "output", "2.5", "1.25", "10.0", "0.00001", "0.001"):
        assert cell in result.stderr
    assert "input counted by tiktoken:o200k_base (exact)" in result.stderr
    assert result.stderr.rstrip("\n").splitlines()[-1] == (
        "gpt-4o: 4 input tokens (0 cached) and 100 output tokens over 1 call(s) cost 0.00101 USD"
    )


def test_json_on_stdout_with_exact_counts_and_decimal_strings(offline: list[str]) -> None:
    price = genai_price("gpt-4o")
    data = as_json(
        "--model",
        "gpt-4o",
        "--text",
        HELLO * 25,
        "--output-tokens",
        "300",
        "--calls",
        "7",
        "--cache-hit-ratio",
        "0.5",
        "--date",
        "2025-06-01",
    )
    assert data["tokens"] == {
        "input": 700,  # 4 tokens x 25 x 7 calls
        "cached_input": 350,
        "uncached_input": 350,
        "output": 2100,
        "input_per_call": 100,
        "output_per_call": 300,
        "method": "tiktoken:o200k_base",
        "counting": "exact",
    }
    total = (350 * price.input_mtok + 350 * price.cache_read_mtok + 2100 * price.output_mtok) / MILLION
    assert Decimal(data["cost"]["total"]) == total
    assert data["cost"]["total"] == "0.0223125"
    assert (data["model"], data["provider"], data["date"], data["calls"]) == ("gpt-4o", "openai", "2025-06-01", 7)
    assert (data["cache_hit_ratio"], data["currency"]) == ("0.5", "USD")
    assert all(isinstance(v, str) for v in data["cost"].values())
    assert offline == []


def test_file_and_stdin_count_the_same_as_text(tmp_path: Path) -> None:
    (tmp_path / "prompt.md").write_text("# Rewrite\n\nRewrite the query for the docs index.\n", encoding="utf-8")
    from_text = as_json("--model", "gpt-4", "--text", "# Rewrite\n\nRewrite the query for the docs index.\n")
    from_file = as_json("--model", "gpt-4", "--file", str(tmp_path / "prompt.md"))
    from_stdin = as_json("--model", "gpt-4", stdin="# Rewrite\n\nRewrite the query for the docs index.\n")
    assert from_text == from_file == from_stdin
    assert from_text["tokens"]["method"] == "tiktoken:cl100k_base"


def test_given_token_counts_need_no_text() -> None:
    data = as_json("--model", "gpt-4o", "--input-tokens", "1000", "--output-tokens", "200", "--date", "2025-06-01")
    assert (data["tokens"]["method"], data["tokens"]["counting"]) == ("given", "given")
    assert data["cost"]["total"] == "0.0045"  # 1000 x 2.5 + 200 x 10, per million
    # stdin is not read when the counts are given
    assert (
        as_json("--model", "gpt-4o", "--input-tokens", "1000", "--date", "2025-06-01", stdin="ignored")["tokens"][
            "input"
        ]
        == 1000
    )


def test_fallback_encoding_and_approximation_are_labelled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fallback = as_json("--model", "claude-sonnet-4-0", "--text", HELLO)
    assert (fallback["tokens"]["method"], fallback["tokens"]["counting"]) == (
        "tiktoken:o200k_base-fallback",
        "fallback-encoding",
    )
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    monkeypatch.setattr(tokens, "SHIPPED_VOCAB_DIR", tmp_path / "nothing-shipped")
    result = invoke("--model", "gpt-4o", "--text", "x" * 10, "--json")
    assert result.exit_code == 0
    assert "warning: tiktoken vocabulary 'o200k_base' could not be loaded" in result.stderr
    data = json.loads(result.stdout)
    assert (data["tokens"]["input"], data["tokens"]["counting"]) == (3, "approximation")


def test_empty_stdin_warns() -> None:
    result = invoke("--model", "gpt-4o", "--json", stdin="")
    assert result.exit_code == 0
    assert "warning: stdin was empty" in result.stderr
    assert json.loads(result.stdout)["tokens"]["input"] == 0


def test_quiet_prints_nothing_but_json_still_goes_to_stdout() -> None:
    quiet = CliRunner().invoke(app, ["-q", "estimate", "--model", "gpt-4o", "--text", HELLO])
    assert quiet.exit_code == 0 and quiet.stdout == quiet.stderr == ""
    quiet_json = invoke("--model", "gpt-4o", "--text", HELLO, "-q", "--json")
    assert quiet_json.stderr == "" and json.loads(quiet_json.stdout)["tokens"]["input"] == 4


# --- prices from a manifest, and the day -------------------------------------------------------------------------

PRICING = '[pricing."our-model"]\ninput_mtok = 0.4\noutput_mtok = 1.6\nprovider = "mistral"\n'


@pytest.mark.parametrize("flag", ["--manifest", "-m", "--config", "-c"])
def test_pricing_overrides_from_a_manifest(tmp_path: Path, flag: str) -> None:
    (tmp_path / "prices.toml").write_text(PRICING, encoding="utf-8")
    data = as_json(
        "--model", "our-model", "--input-tokens", "1000", "--output-tokens", "10", flag, str(tmp_path / "prices.toml")
    )
    assert data["cost"]["total"] == "0.000416"  # (1000 x 0.4 + 10 x 1.6) / 1e6
    assert data["prices_per_million_tokens"]["source"] == "override"
    assert data["provider"] == "mistral"


def test_an_override_of_a_known_model_and_the_default_llm_cost_toml() -> None:
    Path("llm-cost.toml").write_text('[pricing."gpt-4o"]\ninput_mtok = 2.0\n', encoding="utf-8")
    data = as_json("--model", "gpt-4o", "--input-tokens", "1000", "--output-tokens", "100", "--date", "2025-06-01")
    assert data["prices_per_million_tokens"]["source"] == "genai-prices+override"
    assert (data["prices_per_million_tokens"]["input"], data["prices_per_million_tokens"]["output"]) == ("2.0", "10.0")
    assert data["cost"]["total"] == "0.003"  # 1000 x 2.0 + 100 x 10 (the list price), per million


def test_manifest_wins_over_config(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(PRICING, encoding="utf-8")
    (tmp_path / "b.toml").write_text(PRICING.replace("0.4", "0.8"), encoding="utf-8")
    data = as_json(
        "--model", "our-model", "--input-tokens", "10", "-m", str(tmp_path / "a.toml"), "-c", str(tmp_path / "b.toml")
    )
    assert data["prices_per_million_tokens"]["input"] == "0.4"


def repriced_model() -> tuple[str, date, Decimal, Decimal]:
    """A model genai-prices reprices on a start date: its name, the date, and its input price before and from then."""
    prices = PriceBook()
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            starts = (
                [getattr(c.constraint, "start_date", None) for c in model.prices]
                if isinstance(model.prices, list)
                else []
            )
            for start in filter(None, starts):
                match = prices.match(model.id)
                if match is None or (match.provider_id, match.model_id) != (provider.id, model.id):
                    continue
                before, after = genai_price(model.id, start - timedelta(days=1)), genai_price(model.id, start)
                flat = isinstance(before.input_mtok, Decimal) and isinstance(after.input_mtok, Decimal)
                if flat and before.input_mtok != after.input_mtok:
                    return model.id, start, before.input_mtok, after.input_mtok
    pytest.skip("genai-prices has no model repriced on a start date")


def test_the_date_chooses_the_prices_and_defaults_to_today() -> None:
    model, start, before, after = repriced_model()
    for day, price in ((start - timedelta(days=1), before), (start, after)):
        data = as_json("--model", model, "--input-tokens", "1000000", "--date", day.isoformat())
        assert data["date"] == day.isoformat()
        assert Decimal(data["prices_per_million_tokens"]["input"]) == price
        assert Decimal(data["cost"]["total"]) == price  # a million tokens at the price per million
    assert as_json("--model", "gpt-4o", "--input-tokens", "1")["date"] == datetime.now(UTC).date().isoformat()


# --- every bad input: one line, exit 3; conflicting flags: usage errors, exit 2 ----------------------------------


def test_unknown_model_exits_3_naming_the_model_and_the_fix() -> None:
    line = one_error_line(invoke("--model", "no-such-model-xyz", "--text", HELLO))
    assert "unknown model 'no-such-model-xyz'" in line
    assert '[pricing."no-such-model-xyz"]' in line and "--manifest" in line


def test_unknown_model_is_reported_before_the_file_is_read() -> None:
    assert "unknown model" in one_error_line(invoke("--model", "no-such-model-xyz", "--file", "missing.txt"))


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "--file: missing.txt not found"),
        (lambda p: (p / "missing.txt").mkdir(), "--file: missing.txt is a directory"),
        (lambda p: (p / "missing.txt").write_bytes(b"caf\xe9\n"), "--file: missing.txt is not UTF-8 text"),
    ],
    ids=["missing", "directory", "not-utf-8"],
)
def test_a_bad_file_exits_3(setup: Any, message: str) -> None:
    setup(Path.cwd())
    assert message in one_error_line(invoke("--model", "gpt-4o", "--file", "missing.txt"))


def test_an_unreadable_file_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    Path("locked.txt").write_text("x", encoding="utf-8")
    real = Path.read_text

    def read_text(self: Path, *args: Any, **kwargs: Any) -> str:
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    assert "--file: cannot read locked.txt: Permission denied" in one_error_line(
        invoke("--model", "gpt-4o", "--file", "locked.txt")
    )


def test_non_utf_8_stdin_exits_3() -> None:
    assert "stdin is not UTF-8 text" in one_error_line(invoke("--model", "gpt-4o", stdin=b"caf\xe9"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cache-hit-ratio", "1.5"], "--cache-hit-ratio: cache_hit_ratio must be between 0 and 1, got 1.5"),
        (["--cache-hit-ratio", "lots"], "--cache-hit-ratio: 'lots' is not a number"),
        (["--date", "2025-13-01"], "--date: '2025-13-01' is not a valid date"),
        (["--date", "soon"], "--date: 'soon' is not a date"),
        (["--manifest", "nope.toml"], "manifest not found: nope.toml"),
        (["--config", "nope.toml"], "config file not found: nope.toml (from --config or LLM_COST_CONFIG)"),
    ],
)
def test_bad_values_exit_3(args: list[str], message: str) -> None:
    assert message in one_error_line(invoke("--model", "gpt-4o", "--input-tokens", "1", *args))


def test_an_invalid_manifest_exits_3() -> None:
    Path("bad.toml").write_text('[pricing."our-model"]\ninput_mtok = -1\n', encoding="utf-8")
    assert "invalid manifest bad.toml" in one_error_line(
        invoke("--model", "our-model", "--input-tokens", "1", "-m", "bad.toml")
    )
    Path("llm-cost.toml").write_text("[pricing\n", encoding="utf-8")  # the default file is read when present
    assert "malformed TOML in llm-cost.toml" in one_error_line(invoke("--model", "gpt-4o", "--input-tokens", "1"))


def test_a_missing_cache_read_price_exits_3(tmp_path: Path) -> None:
    Path("llm-cost.toml").write_text(PRICING, encoding="utf-8")
    line = one_error_line(invoke("--model", "our-model", "--input-tokens", "10", "--cache-hit-ratio", "0.5"))
    assert "model 'our-model' has no cache_read price; set cache_read_mtok in [pricing.\"our-model\"]" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--text", "a", "--file", "b"], "give the prompt by --text or by --file, not both"),
        (["--input-tokens", "5", "--text", "a"], "--input-tokens replaces counting a prompt"),
        (["--input-tokens", "5", "--file", "b"], "--input-tokens replaces counting a prompt"),
        (["--calls", "0", "--input-tokens", "5"], "--calls"),
        (["--input-tokens", "-1"], "--input-tokens"),
        (["--output-tokens", "-1", "--input-tokens", "1"], "--output-tokens"),
        (["--text", "a"], "Missing option '--model'"),
    ],
)
def test_conflicting_or_invalid_flags_are_usage_errors(args: list[str], message: str) -> None:
    model = [] if "Missing" in message else ["--model", "gpt-4o"]
    assert message in usage_error(invoke(*model, *args))


def test_no_input_on_a_terminal_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(cli, "sys", SimpleNamespace(stdin=Terminal()))
    assert "give --text, --file or --input-tokens, or pipe the prompt on stdin" in usage_error(
        invoke("--model", "gpt-4o")
    )


def test_an_internal_error_is_one_line_and_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "run_estimate", broken)
    plain = invoke("--model", "gpt-4o", "--text", HELLO)
    assert "internal error: RuntimeError: boom" in one_error_line(plain, code=1)
    debug = invoke("--model", "gpt-4o", "--text", HELLO, "--debug")
    assert debug.exit_code == 1
    assert "Traceback (most recent call last)" in debug.stderr and debug.stderr.endswith(plain.stderr)

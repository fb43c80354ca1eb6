"""The manifest source: load_manifest() and estimate() (design.md §4b)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import tiktoken
import tiktoken.load
import tiktoken.registry
from tiktoken_ext import openai_public

from llm_cost import tokens
from llm_cost.errors import ConfigError
from llm_cost.focus.columns import columns_for
from llm_cost.focus.mapping import FocusRow
from llm_cost.pipeline import write_partitions
from llm_cost.pricing import PriceBook
from llm_cost.records import TokenCounts, UsageRecord
from llm_cost.sources.manifest import (
    DEFAULT_MODEL,
    SERVICE_NAME,
    Manifest,
    estimate,
    load_manifest,
    resource_id,
    slugify,
)
from llm_cost.tokens import APPROXIMATION, TokenCounter
from tests.fakes.rows import CollectRows

ROOT = Path(__file__).resolve().parents[2]
_REAL_READ_FILE = tiktoken.load.read_file
DAY = date(2025, 6, 1)
MILLION = Decimal(1_000_000)
PROMPT_TEXT = (
    "You are the first-line support assistant for Acme Cloud.\n"
    "Read the customer's message and reply with a JSON object: category, urgency, summary.\n"
    "Ünïcödé, emoji 🚀, code `for i in range(10): print(i)` and a literal <|endoftext|> marker.\n"
)


# --- helpers -----------------------------------------------------------------------------------------------------


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def manifest_at(tmp_path: Path, body: str, prompts: dict[str, str] | None = None, name: str = "llm-cost.toml") -> Path:
    """Write the prompt files (relative to tmp_path) and the manifest; return the manifest's path."""
    for relative, text in (prompts or {}).items():
        write(tmp_path, relative, text)
    return write(tmp_path, name, body)


def run(
    path: Path,
    *,
    ratio: Decimal | None = None,
    counter: TokenCounter | None = None,
    day: date = DAY,
) -> tuple[list[UsageRecord], list[str]]:
    """load_manifest + estimate with the manifest's own price overrides; return the records and the warnings."""
    manifest = load_manifest(path)
    warnings: list[str] = []
    records = list(
        estimate(
            manifest,
            day=day,
            prices=PriceBook(manifest.price_overrides()),
            counter=counter or TokenCounter(),
            cache_hit_ratio=ratio,
            warn=warnings.append,
        )
    )
    return records, warnings


def rows_of(records: list[UsageRecord]) -> list[FocusRow]:
    """Map the records to FOCUS 1.2 rows through the real pipeline."""

    sink = CollectRows()
    write_partitions([lambda: records], prices=PriceBook(), columns=columns_for("focus", "1.2"), sinks=[sink])
    return sink.rows


def load_error(tmp_path: Path, body: str, prompts: dict[str, str] | None = None) -> str:
    path = manifest_at(tmp_path, body, prompts)
    with pytest.raises(ConfigError) as info:
        run(path)
    assert info.value.exit_code == 3
    message = str(info.value)
    assert "\n" not in message, "errors are one line"
    return message


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken never goes to the network here: without a local vocabulary it fails fast (and llm-cost approximates)."""

    def offline(blobpath: str) -> bytes:
        raise ConnectionError(f"offline test: refusing to fetch {blobpath}")

    monkeypatch.setattr(tiktoken.load, "read_file", offline)


@pytest.fixture
def offline_tiktoken(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[], int]:
    """No encoding cached in this process, none shipped and no download possible. Returns how many downloads were
    attempted."""
    attempts: list[str] = []
    monkeypatch.setattr(tokens, "SHIPPED_VOCAB_DIR", tmp_path / "no-shipped-vocab")

    def offline(blobpath: str) -> bytes:
        attempts.append(blobpath)
        raise ConnectionError(f"offline test: refusing to fetch {blobpath}")

    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    monkeypatch.setattr(tiktoken.load, "read_file", offline)
    return lambda: len(attempts)


def reference_encoding(name: str, vocab_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tiktoken.Encoding:
    """tiktoken's own encoding, built from tiktoken's constructor with the vocabulary read from vocab_dir."""
    with monkeypatch.context() as patch:
        patch.setattr(tiktoken.load, "read_file", lambda url: _REAL_READ_FILE(str(vocab_dir / url.rsplit("/", 1)[-1])))
        patch.setenv("TIKTOKEN_CACHE_DIR", "")  # no cache: read_file is called
        return tiktoken.Encoding(**getattr(openai_public, name)())


# --- model fallback chain ----------------------------------------------------------------------------------------


def test_model_fallback_chain_prompt_then_defaults(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[defaults]\nmodel = "claude-sonnet-4-0"\n'
        '[[prompts]]\npath = "a.txt"\nmodel = "gpt-4o-mini"\ninput_tokens = 10\n'
        '[[prompts]]\npath = "b.txt"\ninput_tokens = 10\n',
        {"a.txt": "a", "b.txt": "b"},
    )
    records, _ = run(path)
    assert [r.model for r in records] == ["gpt-4o-mini", "claude-sonnet-4-0"]
    assert [r.provider for r in records] == ["openai", "anthropic"]
    assert [r.provider_name for r in records] == ["OpenAI", "Anthropic"]


def test_model_fallback_without_defaults_is_gpt_4o(tmp_path: Path) -> None:
    path = manifest_at(tmp_path, '[[prompts]]\npath = "a.txt"\ninput_tokens = 10\n', {"a.txt": "a"})
    records, _ = run(path)
    assert DEFAULT_MODEL == "gpt-4o"
    assert records[0].model == "gpt-4o"
    assert records[0].provider == "openai"


def test_defaults_table_without_model_still_falls_back_to_gpt_4o(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path, '[defaults]\ncache_hit_ratio = 0.0\n[[prompts]]\npath = "a.txt"\ninput_tokens = 1\n', {"a.txt": ""}
    )
    assert run(path)[0][0].model == "gpt-4o"


# --- ResourceId --------------------------------------------------------------------------------------------------


def test_resource_id_is_prompt_id_else_slug_of_the_path(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[[prompts]]\npath = "prompts/search.txt"\nprompt_id = "search"\ninput_tokens = 1\n'
        '[[prompts]]\npath = "prompts/search.txt"\nmodel = "gpt-4o-mini"\ninput_tokens = 1\n',
        {"prompts/search.txt": "Find it."},
    )
    records, _ = run(path)
    assert [r.resource_id for r in records] == ["search", "prompts-search-txt"]
    assert [r.resource_name for r in records] == ["prompts/search.txt", "prompts/search.txt"]
    rows = rows_of(records)
    assert {row["ResourceId"] for row in rows} == {"search", "prompts-search-txt"}
    assert {row["ServiceName"] for row in rows} == {SERVICE_NAME} == {"LLM Inference"}


@pytest.mark.parametrize(
    ("path", "slug"),
    [
        ("prompts/search.txt", "prompts-search-txt"),
        ("./prompts/search.txt", "prompts-search-txt"),
        ("Prompts/My Search.TXT", "prompts-my-search-txt"),
        ("a__b--c.md", "a-b-c-md"),
        ("../shared/x.prompt", "shared-x-prompt"),
        ("---", "prompt"),
    ],
)
def test_slugify(path: str, slug: str) -> None:
    assert slugify(path) == slug


def test_resource_id_function() -> None:
    manifest = Manifest.model_validate({"prompts": [{"path": "p/q.txt"}, {"path": "p/q.txt", "prompt_id": "q"}]})
    assert [resource_id(p) for p in manifest.prompts] == ["p-q-txt", "q"]


def test_same_resource_id_and_model_warns(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[[prompts]]\npath = "a.txt"\nprompt_id = "x"\ninput_tokens = 1\n'
        '[[prompts]]\npath = "b.txt"\nprompt_id = "x"\ninput_tokens = 1\n',
        {"a.txt": "a", "b.txt": "b"},
    )
    records, warnings = run(path)
    assert len(records) == 2
    assert len(warnings) == 1
    assert "share ResourceId 'x'" in warnings[0]


# --- paths relative to the manifest ------------------------------------------------------------------------------


def test_prompt_paths_are_relative_to_the_manifest_not_the_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "conf"
    path = manifest_at(conf, '[[prompts]]\npath = "prompts/a.txt"\n', {"prompts/a.txt": "x" * 40})
    cwd = tmp_path / "cwd"
    write(cwd, "prompts/a.txt", "y" * 4000)  # a decoy with the same relative path in the working directory
    monkeypatch.chdir(cwd)

    counter = TokenCounter()
    expected = counter.count("x" * 40, "gpt-4o").tokens
    records, _ = run(Path("../conf/llm-cost.toml"), counter=counter)
    assert records[0].tokens.input == expected
    assert expected < counter.count("y" * 4000, "gpt-4o").tokens
    records_abs, _ = run(path, counter=counter)
    assert records_abs[0].tokens == records[0].tokens


def test_missing_prompt_file_names_the_path_as_written_and_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    manifest_at(conf, '[[prompts]]\npath = "prompts/missing.txt"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        run(Path("conf/llm-cost.toml"))
    message = str(info.value)
    assert message.startswith("prompt file not found: prompts/missing.txt")
    assert str(Path("conf/prompts/missing.txt")) in message
    assert "relative to the manifest" in message


def test_prompt_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00bad")
    message = load_error(tmp_path, '[[prompts]]\npath = "bin.txt"\n')
    assert message == "prompt file bin.txt is not UTF-8 text"


# --- calls, expected_output_tokens, input_tokens -----------------------------------------------------------------


def test_calls_input_tokens_and_expected_output_tokens(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[[prompts]]\npath = "a.txt"\ninput_tokens = 1200\nexpected_output_tokens = 300\ncalls = 500\n',
        {"a.txt": "ignored: input_tokens overrides counting"},
    )
    [record], _ = run(path)
    assert record.tokens == TokenCounts(input=600_000, output=150_000)
    assert record.requests == 500
    assert record.system_tags["x-token-method"] == "manifest"
    # gpt-4o: 2.5 input / 10 output USD per million
    assert record.cost == Decimal("1.5") + Decimal("1.5")
    assert record.cost == Decimal("3.0")
    assert record.cost_source == "estimated"
    assert record.source == "manifest:llm-cost.toml"


def test_defaults_for_calls_and_output(tmp_path: Path) -> None:
    path = manifest_at(tmp_path, '[[prompts]]\npath = "a.txt"\ninput_tokens = 1000\n', {"a.txt": "a"})
    [record], _ = run(path)
    assert record.requests == 1
    assert record.tokens == TokenCounts(input=1000)
    assert record.cost == Decimal("0.0025")


def test_zero_calls_cost_nothing(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[[prompts]]\npath = "a.txt"\ninput_tokens = 1000\nexpected_output_tokens = 5\ncalls = 0\n',
        {"a.txt": ""},
    )
    [record], _ = run(path)
    assert record.tokens == TokenCounts()
    assert record.cost == 0


def test_record_period_is_the_charge_day(tmp_path: Path) -> None:
    path = manifest_at(tmp_path, '[[prompts]]\npath = "a.txt"\ninput_tokens = 1\n', {"a.txt": ""})
    [record], _ = run(path, day=date(2024, 2, 29))
    assert record.period_start == datetime(2024, 2, 29, tzinfo=UTC)
    assert record.period_end == datetime(2024, 3, 1, tzinfo=UTC)


# --- the cache-hit ratio -----------------------------------------------------------------------------------------


def test_known_list_prices() -> None:
    """The prices the hand-computed expectations below rely on (genai-prices, USD per million tokens)."""
    book = PriceBook()
    at = datetime(2025, 6, 1, tzinfo=UTC)
    gpt = book.list_prices("gpt-4o", None, at)
    claude = book.list_prices("claude-sonnet-4-0", None, at)
    assert gpt is not None and claude is not None
    assert (gpt[0].input, gpt[0].output, gpt[0].cache_read) == (Decimal("2.5"), Decimal("10"), Decimal("1.25"))
    assert (claude[0].input, claude[0].output, claude[0].cache_read, claude[0].cache_write) == (
        Decimal("3"),
        Decimal("15"),
        Decimal("0.3"),
        Decimal("3.75"),
    )


def test_cache_hit_ratio_prices_cached_input_at_the_cache_read_price(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[[prompts]]\npath = "search.txt"\nmodel = "claude-sonnet-4-0"\ninput_tokens = 1200\n'
        "expected_output_tokens = 300\ncalls = 500\ncache_hit_ratio = 0.6\n",
        {"search.txt": "s"},
    )
    [record], _ = run(path)
    # input 600,000: cached 360,000 at 0.3, uncached 240,000 at 3; output 150,000 at 15
    assert record.tokens == TokenCounts(input=240_000, cache_read=360_000, output=150_000)
    assert record.cost == Decimal("0.72") + Decimal("0.108") + Decimal("2.25")
    assert record.cost == Decimal("3.078")
    assert record.system_tags["x-cache-hit-ratio"] == "0.6"


def test_cache_hit_ratio_gpt_4o(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[[prompts]]\npath = "a.txt"\ninput_tokens = 1000\nexpected_output_tokens = 200\ncalls = 10\n'
        "cache_hit_ratio = 0.25\n",
        {"a.txt": "a"},
    )
    [record], _ = run(path)
    # 7,500 x 2.5 + 2,500 x 1.25 + 2,000 x 10 = 18,750 + 3,125 + 20,000 = 41,875 micro-dollars
    assert record.tokens == TokenCounts(input=7_500, cache_read=2_500, output=2_000)
    assert record.cost == Decimal("0.041875")


def test_cache_hit_ratio_one_and_zero(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[[prompts]]\npath = "a.txt"\nprompt_id = "all"\ninput_tokens = 1000\ncache_hit_ratio = 1\n'
        '[[prompts]]\npath = "a.txt"\nprompt_id = "none"\ninput_tokens = 1000\ncache_hit_ratio = 0\n',
        {"a.txt": "a"},
    )
    full, zero = run(path)[0]
    assert full.tokens == TokenCounts(cache_read=1000)
    assert full.cost == Decimal("0.00125")
    assert zero.tokens == TokenCounts(input=1000)
    assert zero.cost == Decimal("0.0025")
    assert "x-cache-hit-ratio" not in zero.system_tags


def test_cached_tokens_are_rounded_to_whole_tokens_half_even(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[[prompts]]\npath = "a.txt"\nprompt_id = "odd"\ninput_tokens = 3\ncache_hit_ratio = 0.5\n'
        '[[prompts]]\npath = "a.txt"\nprompt_id = "five"\ninput_tokens = 5\ncache_hit_ratio = 0.5\n',
        {"a.txt": "a"},
    )
    odd, five = run(path)[0]
    assert odd.tokens == TokenCounts(input=1, cache_read=2)  # 1.5 -> 2
    assert five.tokens == TokenCounts(input=3, cache_read=2)  # 2.5 -> 2
    assert odd.cost == (Decimal(1) * Decimal("2.5") + Decimal(2) * Decimal("1.25")) / MILLION


def test_ratio_precedence_flag_then_prompt_then_defaults(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        "[defaults]\ncache_hit_ratio = 0.5\n"
        '[[prompts]]\npath = "a.txt"\nprompt_id = "own"\ninput_tokens = 1000\ncache_hit_ratio = 0.2\n'
        '[[prompts]]\npath = "a.txt"\nprompt_id = "inherits"\ninput_tokens = 1000\n',
        {"a.txt": "a"},
    )
    records, _ = run(path)
    assert [r.tokens.cache_read for r in records] == [200, 500]
    overridden, _ = run(path, ratio=Decimal("0.9"))
    assert [r.tokens.cache_read for r in overridden] == [900, 900]
    zero, _ = run(path, ratio=Decimal(0))  # an explicit 0 on the command line still overrides
    assert [r.tokens.cache_read for r in zero] == [0, 0]


def test_cache_rows_in_focus_output(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[[prompts]]\npath = "a.txt"\ninput_tokens = 1000\nexpected_output_tokens = 200\ncalls = 10\n'
        "cache_hit_ratio = 0.25\n",
        {"a.txt": "a"},
    )
    records, _ = run(path)
    rows = {row["x_TokenType"]: row for row in rows_of(records)}
    assert set(rows) == {"input", "output", "cache_read"}
    assert rows["cache_read"]["ConsumedQuantity"] == "2500.0"
    assert rows["cache_read"]["ListUnitPrice"] == "1.25"
    assert rows["cache_read"]["BilledCost"] == "0.003125"
    assert rows["input"]["BilledCost"] == "0.01875"
    assert rows["output"]["BilledCost"] == "0.02"
    assert sum(Decimal(r["BilledCost"] or "0") for r in rows.values()) == Decimal("0.041875")


# --- [pricing] overrides -----------------------------------------------------------------------------------------


def test_pricing_override_prices_an_unknown_model(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[[prompts]]\npath = "a.txt"\nmodel = "acme-ft"\ninput_tokens = 2400\nexpected_output_tokens = 700\n'
        "calls = 20\ncache_hit_ratio = 0.5\n"
        '[pricing."acme-ft"]\nprovider = "openai"\ninput_mtok = 3.0\noutput_mtok = 12.0\ncache_read_mtok = 0.3\n'
        "cache_write_mtok = 3.75\n",
        {"a.txt": "a"},
    )
    [record], _ = run(path)
    # 48,000 input: 24,000 x 3 + 24,000 x 0.3; 14,000 output x 12
    assert record.cost == Decimal("0.072") + Decimal("0.0072") + Decimal("0.168")
    assert record.cost == Decimal("0.2472")
    assert record.provider == "openai"
    assert record.provider_name == "OpenAI"
    assert record.pricing is not None
    assert record.pricing.source == "override"
    assert record.pricing.list_prices == record.pricing.contracted
    tags = json.loads(rows_of([record])[0]["Tags"] or "{}")
    assert tags["x-price-source"] == "override"


def test_pricing_override_without_provider_is_custom(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[[prompts]]\npath = "a.txt"\nmodel = "my-ft"\ninput_tokens = 1000\n[pricing."my-ft"]\ninput_mtok = 1\n',
        {"a.txt": "a"},
    )
    [record], _ = run(path)
    assert (record.provider, record.provider_name) == ("custom", "Custom")
    assert record.cost == Decimal("0.001")


def test_pricing_override_of_a_known_model_is_the_contracted_price(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[[prompts]]\npath = "a.txt"\ninput_tokens = 1000\nexpected_output_tokens = 100\n'
        '[pricing."gpt-4o"]\ninput_mtok = 2.0\n',
        {"a.txt": "a"},
    )
    [record], _ = run(path)
    assert record.cost == Decimal("0.003")  # 1000 x 2.0 (negotiated) + 100 x 10 (list; not overridden)
    assert record.pricing is not None
    assert record.pricing.source == "genai-prices+override"
    assert record.pricing.list_prices is not None and record.pricing.contracted is not None
    assert record.pricing.list_prices.input == Decimal("2.5")
    assert record.pricing.contracted.input == Decimal("2.0")
    assert record.pricing.contracted.output == Decimal("10")
    rows = {row["x_TokenType"]: row for row in rows_of([record])}
    assert rows["input"]["ListUnitPrice"] == "2.5"
    assert rows["input"]["ContractedUnitPrice"] == "2.0"
    assert rows["input"]["ListCost"] == "0.0025"
    assert rows["input"]["ContractedCost"] == "0.002"
    assert rows["input"]["BilledCost"] == "0.002"


def test_unknown_model_without_pricing_is_an_error(tmp_path: Path) -> None:
    message = load_error(
        tmp_path, '[[prompts]]\npath = "a.txt"\nmodel = "no-such-model-xyz"\ninput_tokens = 5\n', {"a.txt": "a"}
    )
    assert "unknown model 'no-such-model-xyz'" in message
    assert '[pricing."no-such-model-xyz"]' in message


def test_override_missing_a_needed_price_is_an_error(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        '[[prompts]]\npath = "a.txt"\nmodel = "my-ft"\ninput_tokens = 10\nexpected_output_tokens = 10\n'
        '[pricing."my-ft"]\ninput_mtok = 1\n',
        {"a.txt": "a"},
    )
    assert "has no output price" in message
    assert 'output_mtok in [pricing."my-ft"]' in message


def test_negative_override_price_is_rejected(tmp_path: Path) -> None:
    message = load_error(tmp_path, '[pricing."my-ft"]\ninput_mtok = -1\n')
    assert "pricing.my-ft.input_mtok" in message


# --- tags --------------------------------------------------------------------------------------------------------


def test_prompt_tags_beat_global_tags_and_reserved_keys_are_protected(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[tags]\napp = "global"\nenv = "prod"\nprovider = "evil"\n'
        '[[prompts]]\npath = "a.txt"\ninput_tokens = 1000\nexpected_output_tokens = 10\n'
        'tags = { app = "mine", model = "x", "llm-cost-type" = "actual", team = "search" }\n',
        {"a.txt": "a"},
    )
    [record], warnings = run(path)
    assert record.tags == {"app": "mine", "env": "prod", "team": "search"}
    assert record.team_id == record.team_alias == "search"
    assert any("[tags]" in w and "provider" in w for w in warnings)
    assert any("prompt a.txt tags" in w and "'model'" in w and "'llm-cost-type'" in w for w in warnings)
    for row in rows_of([record]):
        tags = json.loads(row["Tags"] or "{}")
        assert tags["model"] == "gpt-4o"
        assert tags["provider"] == "openai"
        assert tags["llm-cost-type"] == "estimate"
        assert tags["app"] == "mine"
        assert tags["env"] == "prod"
        assert tags["resource-name"] == "a.txt"
        assert tags["effective-cost"] == row["BilledCost"]
        assert row["SubAccountId"] == "search"


def test_reserved_key_warning_is_not_emitted_for_plain_tags(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[tags]\napp = "g"\n[[prompts]]\npath = "a.txt"\ninput_tokens = 1\ntags = { x = "y" }\n',
        {"a.txt": ""},
    )
    assert run(path)[1] == []


def test_global_team_tag_applies_when_the_prompt_has_none(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[tags]\nteam = "platform"\n[[prompts]]\npath = "a.txt"\nprompt_id = "a"\ninput_tokens = 1\n'
        '[[prompts]]\npath = "a.txt"\nprompt_id = "b"\ninput_tokens = 1\ntags = { team = "search" }\n',
        {"a.txt": ""},
    )
    records, _ = run(path)
    assert [r.team_id for r in records] == ["platform", "search"]


def test_tag_values_are_text(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[[prompts]]\npath = "a.txt"\ninput_tokens = 1\ntags = { flag = true, off = false, n = 3, f = 0.5, s = "x" }\n',
        {"a.txt": ""},
    )
    [record], _ = run(path)
    assert record.tags == {"flag": "true", "off": "false", "n": "3", "f": "0.5", "s": "x"}


def test_user_tags_cannot_fake_the_token_method(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        '[[prompts]]\npath = "a.txt"\ninput_tokens = 10\ntags = { "x-token-method" = "tiktoken:exact" }\n',
        {"a.txt": ""},
    )
    records, _ = run(path)
    tags = json.loads(rows_of(records)[0]["Tags"] or "{}")
    assert tags["x-token-method"] == "manifest"


# --- token counting ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "encoding", "method"),
    [
        ("gpt-4o", "o200k_base", "tiktoken:o200k_base"),
        ("gpt-4", "cl100k_base", "tiktoken:cl100k_base"),
        ("claude-sonnet-4-0", "o200k_base", "tiktoken:o200k_base-fallback"),
    ],
)
def test_exact_tiktoken_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vocab_dir: Path, model: str, encoding: str, method: str
) -> None:
    reference = reference_encoding(encoding, vocab_dir, monkeypatch)
    expected = len(reference.encode_ordinary(PROMPT_TEXT))
    assert expected != math.ceil(len(PROMPT_TEXT) / 4)  # the text tells an exact count from the approximation

    path = manifest_at(tmp_path, f'[[prompts]]\npath = "p.txt"\nmodel = "{model}"\ncalls = 3\n', {"p.txt": PROMPT_TEXT})
    warnings: list[str] = []
    [record], estimate_warnings = run(path, counter=TokenCounter(vocab_dir, warn=warnings.append))
    assert record.tokens.input == 3 * expected
    assert record.system_tags["x-token-method"] == method
    assert warnings == [] and estimate_warnings == []


def test_vocab_dir_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vocab_dir: Path) -> None:
    reference = reference_encoding("o200k_base", vocab_dir, monkeypatch)
    monkeypatch.setenv("LLM_COST_VOCAB_DIR", str(vocab_dir))
    count = TokenCounter().count(PROMPT_TEXT, "gpt-4o")
    assert count.tokens == len(reference.encode_ordinary(PROMPT_TEXT))
    assert count.exact


def test_approximation_without_vocabulary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline_tiktoken: Callable[[], int]
) -> None:
    empty = tmp_path / "empty-vocab"
    empty.mkdir()
    monkeypatch.setenv("LLM_COST_VOCAB_DIR", str(empty))
    short, long_ = "abcde", "x" * 4001
    path = manifest_at(
        tmp_path,
        '[[prompts]]\npath = "short.txt"\n'
        '[[prompts]]\npath = "long.md"\ncalls = 2\n'
        '[[prompts]]\npath = "short.txt"\nprompt_id = "c"\nmodel = "claude-sonnet-4-0"\n',
        {"short.txt": short, "long.md": long_},
    )
    warnings: list[str] = []
    records, _ = run(path, counter=TokenCounter(warn=warnings.append))

    assert [r.tokens.input for r in records] == [2, 2 * 1001, 2]  # ceil(chars / 4)
    assert {r.system_tags["x-token-method"] for r in records} == {APPROXIMATION} == {"approx-chars/4"}
    assert len(warnings) == 1, warnings  # once per encoding, not once per prompt
    assert "o200k_base" in warnings[0]
    assert "approx-chars/4" in warnings[0]
    assert "LLM_COST_VOCAB_DIR" in warnings[0]
    assert offline_tiktoken() == 1
    for row in rows_of(records):
        assert json.loads(row["Tags"] or "{}")["x-token-method"] == "approx-chars/4"


def test_approximation_warns_once_per_encoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline_tiktoken: Callable[[], int]
) -> None:
    monkeypatch.setenv("LLM_COST_VOCAB_DIR", str(tmp_path))
    warnings: list[str] = []
    counter = TokenCounter(warn=warnings.append)
    assert counter.count("abcd" * 3, "gpt-4o").tokens == 3
    assert counter.count("abcd" * 3, "gpt-4o-mini").tokens == 3
    assert counter.count("abc", "gpt-4").tokens == 1
    assert len(warnings) == 2
    assert "o200k_base" in warnings[0] and "cl100k_base" in warnings[1]


def test_input_tokens_skip_counting(tmp_path: Path, offline_tiktoken: Callable[[], int]) -> None:
    path = manifest_at(tmp_path, '[[prompts]]\npath = "a.txt"\ninput_tokens = 77\n', {"a.txt": "a" * 1000})
    warnings: list[str] = []
    [record], _ = run(path, counter=TokenCounter(tmp_path, warn=warnings.append))
    assert record.tokens.input == 77
    assert warnings == []
    assert offline_tiktoken() == 0


# --- [budget], [policy], [settings] ------------------------------------------------------------------------------


def test_budget_policy_and_settings_are_kept(tmp_path: Path) -> None:
    path = manifest_at(
        tmp_path,
        "[budget]\nmax_cost_usd = 25.0\nwarn_threshold = 0.8\nper_team = 3\n"
        '[policy]\nallowed_models = ["gpt-4o", "claude-sonnet-4-0"]\n'
        '[settings]\nformat = "vantage"\n',
    )
    manifest = load_manifest(path)
    assert manifest.budget.max_cost_usd == Decimal("25.0")
    assert manifest.budget.warn_threshold == Decimal("0.8")
    assert manifest.budget.model_extra == {"per_team": 3}
    assert manifest.policy.allowed_models == ["gpt-4o", "claude-sonnet-4-0"]
    assert manifest.settings == {"format": "vantage"}
    assert manifest.prompts == []
    assert manifest.path == path
    assert manifest.base_dir == tmp_path


def test_empty_manifest_estimates_nothing(tmp_path: Path) -> None:
    path = manifest_at(tmp_path, '[defaults]\nmodel = "gpt-4o"\n')
    assert run(path) == ([], [])


def test_the_shipped_example_manifest(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # paths in the example are relative to the example, not to the CWD
    records, warnings = run(ROOT / "llm-cost.toml.example")
    assert warnings == []
    assert [r.resource_id for r in records] == ["support-triage", "examples-prompts-search-rewrite-md", "release-notes"]
    assert [r.model for r in records] == ["gpt-4o", "claude-sonnet-4-0", "acme-notes-ft"]
    assert [r.team_id for r in records] == ["support", "search", "devrel"]
    notes = records[2]
    assert notes.tokens == TokenCounts(input=48_000, output=14_000)
    assert notes.cost == Decimal("0.144") + Decimal("0.168")
    assert notes.provider_name == "OpenAI"
    assert records[0].tokens.cache_read > 0 and records[0].system_tags["x-cache-hit-ratio"] == "0.5"
    assert all(r.tags["app"] == "acme-support" and r.tags["env"] == "prod" for r in records)


# --- validation errors -------------------------------------------------------------------------------------------


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_manifest(tmp_path / "nope.toml")
    assert str(info.value).startswith("manifest not found: ")
    assert "llm-cost init" in str(info.value)


def test_manifest_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_manifest(tmp_path)


def test_malformed_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "m.toml", '[defaults]\nmodel = "gpt-4o"\n[[prompts]\npath = "a.txt"\n')
    with pytest.raises(ConfigError) as info:
        load_manifest(path)
    message = str(info.value)
    assert message.startswith(f"malformed TOML in {path}")
    assert "line 3" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '[[prompts]]\nprompt_id = "x"\n',
            "[[prompts]] #1 has no 'path' (every prompt needs a path)",
        ),
        (
            '[[prompts]]\npath = "a.txt"\n[[prompts]]\nmodel = "gpt-4o"\n',
            "[[prompts]] #2 has no 'path'",
        ),
        (
            '[[prompts]]\npath = "a.txt"\ncals = 3\n',
            "unknown key [[prompts]] #1 (a.txt) 'cals' (check the spelling",
        ),
        (
            '[[prompts]]\npath = "a.txt"\ncalls = -1\n',
            "[[prompts]] #1 (a.txt) 'calls': Input should be greater than or equal to 0",
        ),
        (
            '[[prompts]]\npath = "a.txt"\ninput_tokens = 12.5\n',
            "[[prompts]] #1 (a.txt) 'input_tokens'",
        ),
        (
            '[[prompts]]\npath = "a.txt"\ncache_hit_ratio = 1.5\n',
            "[[prompts]] #1 (a.txt) 'cache_hit_ratio': cache_hit_ratio must be between 0 and 1, got 1.5",
        ),
        (
            '[[prompts]]\npath = "a.txt"\ncache_hit_ratio = -0.2\n',
            "cache_hit_ratio must be between 0 and 1, got -0.2",
        ),
        (
            "[defaults]\ncache_hit_ratio = 2\n",
            "defaults.cache_hit_ratio: cache_hit_ratio must be between 0 and 1, got 2",
        ),
        ('[defaults]\nmodle = "gpt-4o"\n', "unknown key defaults.modle"),
        ('[prompt]\npath = "a.txt"\n', "unknown key prompt"),
    ],
)
def test_validation_errors_are_one_clear_line(tmp_path: Path, body: str, expected: str) -> None:
    path = write(tmp_path, "llm-cost.toml", body)
    with pytest.raises(ConfigError) as info:
        load_manifest(path)
    message = str(info.value)
    assert message.startswith(f"invalid manifest {path}: ")
    assert expected in message
    assert "\n" not in message
    assert "validation error" not in message  # no raw pydantic dump

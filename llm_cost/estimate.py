"""`llm-cost estimate`: what a prompt (or given token counts) costs on one model, priced exactly as the manifest's
estimates are (`sources/manifest.py` `price_usage`): genai-prices as they stood on a day, `[pricing."<model>"]`
overrides, cached input at the cache-read price.

`estimate_cost` is pure; `run_estimate` does the I/O around it (the text, the manifest, the vocabularies).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from llm_cost.errors import ConfigError
from llm_cost.formats import format_decimal
from llm_cost.pricing import PriceBook
from llm_cost.records import TokenType
from llm_cost.reports import Table
from llm_cost.settings import DEFAULT_CONFIG, parse_ratio
from llm_cost.sources.manifest import Manifest, PricedUsage, known_model, load_manifest, price_usage, provider_of
from llm_cost.tokens import APPROXIMATION, TokenCounter
from llm_cost.window import day_window, parse_day

Warn = Callable[[str], None]
GIVEN = "given"  # the counting method of --input-tokens
# Where an unknown model's price goes: the end of the error message.
OVERRIDE_FIX = " to llm-cost.toml, or to a manifest passed with --manifest"
Counting = Literal["exact", "fallback-encoding", "approximation", "given"]
_SHOWN = (TokenType.INPUT, TokenType.CACHE_READ, TokenType.OUTPUT)  # the token types an estimate has
_LABELS = {TokenType.INPUT: "input (uncached)", TokenType.CACHE_READ: "cached input", TokenType.OUTPUT: "output"}


@dataclass(frozen=True, slots=True)
class Estimate(PricedUsage):
    """The estimated cost of `calls` calls of `model`: the priced usage (tokens, unit prices in USD per million
    tokens, the cost of each token type), and what it was estimated from."""

    model: str
    provider: str
    provider_name: str
    day: date
    calls: int
    cache_hit_ratio: Decimal
    input_per_call: int
    output_per_call: int
    method: str  # tiktoken:<encoding>, tiktoken:<encoding>-fallback, approx-chars/4 or given

    @property
    def counting(self) -> Counting:
        """How the input was counted: the model's own tiktoken encoding, a fallback encoding, the approximation, or
        given as --input-tokens."""
        if self.method == GIVEN:
            return "given"
        if self.method == APPROXIMATION:
            return "approximation"
        return "fallback-encoding" if self.method.endswith("-fallback") else "exact"

    def unit_price(self, token_type: TokenType) -> Decimal | None:
        """The price per million tokens the cost uses (the override, else the list price)."""
        return self.pricing.contracted.get(token_type) if self.pricing.contracted else None

    def to_json(self) -> dict[str, Any]:
        """A JSON object; money and prices as decimal strings, never floats."""

        def money(value: Decimal | None) -> str | None:
            return None if value is None else format_decimal(value)

        return {
            "model": self.model,
            "provider": self.provider,
            "date": self.day.isoformat(),
            "calls": self.calls,
            "cache_hit_ratio": format_decimal(self.cache_hit_ratio),
            "tokens": {
                "input": self.tokens.total_input,
                "cached_input": self.tokens.cache_read,
                "uncached_input": self.tokens.input,
                "output": self.tokens.output,
                "input_per_call": self.input_per_call,
                "output_per_call": self.output_per_call,
                "method": self.method,
                "counting": self.counting,
            },
            "prices_per_million_tokens": {
                "input": money(self.unit_price(TokenType.INPUT)),
                "cache_read": money(self.unit_price(TokenType.CACHE_READ)),
                "output": money(self.unit_price(TokenType.OUTPUT)),
                "source": self.pricing.source,
                "tier": self.pricing.tier,
            },
            "cost": {
                "input": format_decimal(self.costs.get(TokenType.INPUT, Decimal(0))),
                "cache_read": format_decimal(self.costs.get(TokenType.CACHE_READ, Decimal(0))),
                "output": format_decimal(self.costs.get(TokenType.OUTPUT, Decimal(0))),
                "total": format_decimal(self.cost),
            },
            "currency": "USD",
        }

    def table(self) -> Table:
        """The estimate as a table for stderr: one row per token type and the total."""
        rows = []
        for token_type in _SHOWN:
            price = self.unit_price(token_type)
            rows.append(
                (
                    _LABELS[token_type],
                    f"{self.tokens.get(token_type):,}",
                    "n/a" if price is None else format_decimal(price),
                    format_decimal(self.costs.get(token_type, Decimal(0))),
                )
            )
        rows.append(("total", f"{self.tokens.total_input + self.tokens.output:,}", "", format_decimal(self.cost)))
        calls = f"{self.calls:,} call{'s' if self.calls != 1 else ''}"
        tier = "" if self.pricing.tier == "standard" else f", tier {self.pricing.tier}"
        return Table(
            title=f"Estimate: {self.model} ({self.provider_name}), {calls}, prices of {self.day.isoformat()}",
            headings=("tokens", "count", "USD per 1M tokens", "cost (USD)"),
            rows=rows,
            lines=(
                f"input counted by {self.method} ({self.counting}); cache-hit ratio "
                f"{format_decimal(self.cache_hit_ratio)}; prices from {self.pricing.source}{tier}",
            ),
            right=frozenset({"count", "USD per 1M tokens", "cost (USD)"}),
        )

    def summary(self) -> str:
        """One line: the tokens, the calls and the cost."""
        return (
            f"{self.model}: {self.tokens.total_input:,} input tokens ({self.tokens.cache_read:,} cached) and "
            f"{self.tokens.output:,} output tokens over {self.calls:,} call(s) cost {format_decimal(self.cost)} USD"
        )


def estimate_cost(
    prices: PriceBook,
    model: str,
    *,
    input_tokens: int,
    method: str,
    day: date,
    output_tokens: int = 0,
    calls: int = 1,
    cache_hit_ratio: Decimal = Decimal(0),
    provider: str | None = None,
) -> Estimate:
    """Price `calls` calls of `model` with `input_tokens` and `output_tokens` each, at `day`'s prices. `provider`
    names the provider of a model that only a `[pricing]` override prices. No I/O."""
    if input_tokens < 0 or output_tokens < 0 or calls < 1:
        raise ConfigError("token counts must be 0 or more and --calls at least 1")
    priced = price_usage(
        prices,
        model,
        per_call_input=input_tokens,
        per_call_output=output_tokens,
        calls=calls,
        cache_hit_ratio=cache_hit_ratio,
        window=day_window(day),
        fix=OVERRIDE_FIX,
    )
    provider_id, provider_name = provider_of(prices, priced.match, provider)
    return Estimate(
        model=model,
        provider=provider_id,
        provider_name=provider_name,
        day=day,
        calls=calls,
        cache_hit_ratio=cache_hit_ratio,
        input_per_call=input_tokens,
        output_per_call=output_tokens,
        method=method,
        match=priced.match,
        tokens=priced.tokens,
        pricing=priced.pricing,
        costs=priced.costs,
    )


# --- the I/O around it -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EstimateRequest:
    """What `llm-cost estimate` was asked, as given on the command line. Exactly one input: `text`, `file`,
    `stdin` (its bytes) or `input_tokens`; the CLI checks that."""

    model: str
    text: str | None = None
    file: Path | None = None
    stdin: bytes | None = None
    input_tokens: int | None = None
    output_tokens: int = 0
    calls: int = 1
    cache_hit_ratio: str | None = None
    date: str | None = None
    manifest: str | None = None
    config: str | None = None
    vocab_dir: Path | None = None

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> EstimateRequest:
        """The request from the command's parameters, by name."""
        return cls(**{name: values[name] for name in cls.__dataclass_fields__})


def run_estimate(request: EstimateRequest, warn: Warn | None = None, *, today: date | None = None) -> Estimate:
    """Read what the request names (the prompt, the manifest's overrides), count and price it."""
    ratio = parse_ratio(request.cache_hit_ratio, "--cache-hit-ratio") or Decimal(0)
    day = parse_day(request.date or "today", option="--date", today=today)
    manifest = pricing_manifest(request.manifest, request.config)
    prices = PriceBook(manifest.price_overrides() if manifest else None)
    override = manifest.pricing.get(request.model) if manifest else None
    known_model(prices, request.model, fix=OVERRIDE_FIX)  # before any reading or counting, as the manifest does
    if request.input_tokens is not None:
        input_tokens, method = request.input_tokens, GIVEN
    else:
        text = _prompt_text(request, warn)
        counted = TokenCounter(request.vocab_dir, warn=warn).count(text, request.model)
        input_tokens, method = counted.tokens, counted.method
    return estimate_cost(
        prices,
        request.model,
        input_tokens=input_tokens,
        method=method,
        day=day,
        output_tokens=request.output_tokens,
        calls=request.calls,
        cache_hit_ratio=ratio,
        provider=override.provider if override else None,
    )


def pricing_manifest(manifest: str | None, config: str | None) -> Manifest | None:
    """The manifest whose `[pricing]` tables apply: --manifest, else --config, else ./llm-cost.toml when present.
    A file that was named must exist and be valid."""
    if manifest:
        return load_manifest(Path(manifest))
    if config:
        if not Path(config).is_file():
            raise ConfigError(f"config file not found: {config} (from --config or LLM_COST_CONFIG)")
        return load_manifest(Path(config))
    return load_manifest(DEFAULT_CONFIG) if DEFAULT_CONFIG.is_file() else None


def _prompt_text(request: EstimateRequest, warn: Warn | None) -> str:
    if request.text is not None:
        return request.text
    if request.file is not None:
        return read_text_file(request.file)
    text = decode_stdin(request.stdin or b"")
    if not text and warn is not None:
        warn("stdin was empty: the prompt has 0 input tokens (give --text, --file or --input-tokens)")
    return text


def read_text_file(path: Path) -> str:
    """A prompt file's text, UTF-8; every problem is a one-line ConfigError."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--file: {path} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"--file: {path} is a directory, not a text file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--file: {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"--file: cannot read {path}: {exc.strerror}") from None


def decode_stdin(data: bytes) -> str:
    """Text piped on stdin, UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("stdin is not UTF-8 text") from None

"""The manifest source: prompts listed in `llm-cost.toml` -> estimated UsageRecords for one charge day.

Compatible with the original llm-cost manifest (`[defaults] model`, `[[prompts]]` with `path`, `prompt_id`,
`model`, `tags`, `[budget]`, `[policy]`), plus: paths relative to the manifest, `input_tokens`,
`expected_output_tokens`, `calls` per day, a `cache_hit_ratio` that really prices cached input at the cache-read
price, global `[tags]` and `[pricing."<model>"]` overrides. See design.md §4b.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llm_cost.config import check_ratio, read_toml
from llm_cost.errors import ConfigError
from llm_cost.focus.mapping import RESERVED_TAG_KEYS
from llm_cost.pricing import ModelMatch, PriceBook
from llm_cost.records import TOKEN_TYPES, Pricing, TokenCounts, TokenType, UnitPrices, UsageRecord
from llm_cost.sources.interface import Partition, Source, Warn
from llm_cost.tokens import TokenCounter
from llm_cost.window import Window, day_window

DEFAULT_MODEL = "gpt-4o"
SERVICE_NAME = "LLM Inference"
ONE_MILLION = Decimal(1_000_000)
TagValue = str | int | Decimal | bool
# Reads a prompt file's text: (the path joined to the manifest's folder, the path as the manifest writes it).
PromptReader = Callable[[Path, str], str]
Day = date  # a charge day (ManifestSettings has a field named `date`)


def _tag_text(value: TagValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


class Defaults(_Strict):
    model: str = DEFAULT_MODEL
    cache_hit_ratio: Decimal | None = None

    _ratio = field_validator("cache_hit_ratio")(check_ratio)


class Prompt(_Strict):
    path: str
    prompt_id: str | None = None
    model: str | None = None
    tags: dict[str, TagValue] = Field(default_factory=dict)
    input_tokens: int | None = Field(default=None, ge=0)
    expected_output_tokens: int = Field(default=0, ge=0)
    calls: int = Field(default=1, ge=0)
    cache_hit_ratio: Decimal | None = None

    _ratio = field_validator("cache_hit_ratio")(check_ratio)


class PriceOverride(_Strict):
    """USD per million tokens, with genai-prices' names. `provider` names the provider of an unknown model."""

    input_mtok: Decimal | None = Field(default=None, ge=0)
    output_mtok: Decimal | None = Field(default=None, ge=0)
    cache_read_mtok: Decimal | None = Field(default=None, ge=0)
    cache_write_mtok: Decimal | None = Field(default=None, ge=0)
    provider: str | None = None

    def unit_prices(self) -> UnitPrices:
        return UnitPrices(self.input_mtok, self.output_mtok, self.cache_read_mtok, self.cache_write_mtok)


class Budget(BaseModel):
    """Kept for `check`, which reads `[budget]` strictly itself (llm_cost/guard/rules.py): the original budget gate."""

    model_config = ConfigDict(extra="allow")
    max_cost_usd: Decimal | None = None
    warn_threshold: Decimal | None = None


class Policy(BaseModel):
    """Kept for `check`, which reads `[policy]` strictly itself (llm_cost/guard/rules.py): the allowed-model gate."""

    model_config = ConfigDict(extra="allow")
    allowed_models: list[str] | None = None


class Manifest(BaseModel):
    """A parsed `llm-cost.toml`. `settings` is the `[settings]` table of CLI defaults and `adjustments` the
    negotiated rates of LiteLLM spend (both read by settings.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    defaults: Defaults = Field(default_factory=Defaults)
    tags: dict[str, TagValue] = Field(default_factory=dict)
    prompts: list[Prompt] = Field(default_factory=list)
    pricing: dict[str, PriceOverride] = Field(default_factory=dict)
    budget: Budget = Field(default_factory=Budget)
    policy: Policy = Field(default_factory=Policy)
    settings: dict[str, Any] = Field(default_factory=dict)
    adjustments: dict[str, Any] = Field(default_factory=dict)  # negotiated rates for reported spend (settings.py)
    sources: list[Any] = Field(default_factory=list)  # the run's labelled sources (sources/configured.py)
    path: Path = Path("llm-cost.toml")

    @property
    def base_dir(self) -> Path:
        """Prompt paths are relative to the manifest's own folder, never to the working directory."""
        return self.path.parent

    def price_overrides(self) -> dict[str, UnitPrices]:
        """`[pricing."<model>"]` tables as unit prices."""
        return {model: override.unit_prices() for model, override in self.pricing.items()}


def _describe(error: ValidationError, data: dict[str, Any]) -> str:
    """One line for the first validation error, naming the table and key like a TOML user would."""
    first = error.errors()[0]
    loc = list(first["loc"])
    where = ".".join(str(p) for p in loc)
    if loc[:1] == ["prompts"] and len(loc) >= 2 and isinstance(loc[1], int):
        number = loc[1] + 1
        prompt = data.get("prompts", [])[loc[1]] if isinstance(data.get("prompts"), list) else {}
        label = f"[[prompts]] #{number}" + (
            f" ({prompt.get('path')})" if isinstance(prompt, dict) and prompt.get("path") else ""
        )
        rest = ".".join(str(p) for p in loc[2:])
        if first["type"] == "missing":
            return (
                f"{label} has no '{rest}' (every prompt needs a path)" if rest == "path" else f"{label} has no '{rest}'"
            )
        where = f"{label} '{rest}'"
    if first["type"] == "extra_forbidden":
        return f"unknown key {where} (check the spelling; see llm-cost.toml.example)"
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}"


def load_manifest(path: Path) -> Manifest:
    """Read and validate a manifest. Every problem is a one-line ConfigError."""
    return parse_manifest(read_toml(path), path)


def parse_manifest(data: dict[str, Any], path: Path, where: str | None = None) -> Manifest:
    """Validate a parsed manifest whose file is `path` (its prompts are relative to it); errors name `where`
    (default: the path)."""
    try:
        return Manifest.model_validate({**data, "path": path})
    except ValidationError as exc:
        raise ConfigError(f"invalid manifest {where or path}: {_describe(exc, data)}") from None


def slugify(path: str) -> str:
    """The original tool's ResourceId fallback: `prompts/search.txt` -> `prompts-search-txt`."""
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "prompt"


def resource_id(prompt: Prompt) -> str:
    """`prompt_id`, else a slug of the path as written in the manifest."""
    return prompt.prompt_id or slugify(prompt.path)


def estimate(
    manifest: Manifest,
    *,
    day: date,
    prices: PriceBook,
    counter: TokenCounter,
    cache_hit_ratio: Decimal | None = None,
    warn: Callable[[str], None] = lambda message: None,
    read: PromptReader | None = None,
) -> Iterator[UsageRecord]:
    """One estimated record per prompt for the charge `day`.

    cost = calls x (uncached input x input price + cached input x cache-read price + output x output price),
    with cached input = cache_hit_ratio x input tokens (rounded to whole tokens). `cache_hit_ratio` given here
    (the CLI flag) overrides every prompt; else a prompt's own ratio, else `[defaults]`, else 0. `read` returns a
    prompt file's text (default: from disk; `diff` reads it from a git ref).
    """
    window = day_window(day)
    global_tags = {k: _tag_text(v) for k, v in manifest.tags.items()}
    _warn_reserved(global_tags, "[tags]", warn)
    seen: dict[tuple[str, str], str] = {}
    for prompt in manifest.prompts:
        model = prompt.model or manifest.defaults.model
        rid = resource_id(prompt)
        if (rid, model) in seen:
            warn(
                f"prompts {seen[(rid, model)]} and {prompt.path} share ResourceId {rid!r} and model {model}; "
                "their costs are summed into one row set (give each a distinct prompt_id)"
            )
        seen[(rid, model)] = prompt.path
        yield _estimate_prompt(
            manifest,
            prompt,
            model,
            rid,
            window,
            prices,
            counter,
            cache_hit_ratio,
            global_tags,
            warn,
            read or _read_prompt,
        )


def _estimate_prompt(
    manifest: Manifest,
    prompt: Prompt,
    model: str,
    rid: str,
    window: Window,
    prices: PriceBook,
    counter: TokenCounter,
    ratio_override: Decimal | None,
    global_tags: dict[str, str],
    warn: Callable[[str], None],
    read: PromptReader,
) -> UsageRecord:
    override = manifest.pricing.get(model)
    known_model(prices, model, f"prompt {prompt.path}")  # before reading the prompt: the model is the first error
    system_tags: dict[str, str] = {}
    if prompt.input_tokens is not None:
        per_call_input = prompt.input_tokens
        system_tags["x-token-method"] = "manifest"
    else:
        text = read(manifest.base_dir / prompt.path, prompt.path)
        counted = counter.count(text, model)
        per_call_input = counted.tokens
        system_tags["x-token-method"] = counted.method
    ratio = next(
        (r for r in (ratio_override, prompt.cache_hit_ratio, manifest.defaults.cache_hit_ratio) if r is not None),
        Decimal(0),
    )
    if ratio:
        system_tags["x-cache-hit-ratio"] = str(ratio)
    priced = price_usage(
        prices,
        model,
        per_call_input=per_call_input,
        per_call_output=prompt.expected_output_tokens,
        calls=prompt.calls,
        cache_hit_ratio=ratio,
        window=window,
        where=f"prompt {prompt.path}",
    )
    match, tokens, pricing, cost = priced.match, priced.tokens, priced.pricing, priced.cost
    user_tags = {**global_tags, **{k: _tag_text(v) for k, v in prompt.tags.items()}}
    _warn_reserved({k: _tag_text(v) for k, v in prompt.tags.items()}, f"prompt {prompt.path} tags", warn)
    provider_id, provider_name = provider_of(prices, match, override.provider if override else None)
    team = user_tags.get("team")
    return UsageRecord(
        period_start=window.start,
        period_end=window.end,
        provider=provider_id,
        provider_name=provider_name,
        model=model,
        cost=cost,
        tokens=tokens,
        requests=prompt.calls,
        team_id=team,
        team_alias=team,
        service_name=SERVICE_NAME,
        tags={k: v for k, v in user_tags.items() if k not in RESERVED_TAG_KEYS},
        system_tags=system_tags,
        cost_source="estimated",
        source=f"manifest:{manifest.path.name}",
        resource_id=rid,
        resource_name=prompt.path,
        pricing=pricing,
    )


def known_model(prices: PriceBook, model: str, where: str = "", fix: str = "") -> ModelMatch | None:
    """genai-prices' match for `model` (None for a model only a `[pricing]` override prices); a ConfigError when
    nothing prices it. `where` names the prompt, `fix` ends the message (where to put the override)."""
    match = prices.match(model)
    if match is None and not prices.has_override(model):
        raise ConfigError(
            f"unknown model {model!r}{f' in {where}' if where else ''}: genai-prices has no price for it; "
            f'add a [pricing."{model}"] table with input_mtok and output_mtok{fix}'
        )
    return match


def provider_of(prices: PriceBook, match: ModelMatch | None, override_provider: str | None) -> tuple[str, str]:
    """The provider id and name of an estimate: genai-prices' for a model it knows, else the `[pricing]` table's
    `provider` (default `custom`)."""
    if match is not None:
        return match.provider_id, match.provider_name
    provider_id = (override_provider or "custom").lower()
    return provider_id, prices.provider_name(provider_id) if provider_id != "custom" else "Custom"


@dataclass(frozen=True, slots=True)
class PricedUsage:
    """Estimated usage of a model: its genai-prices match, the tokens of every call, the prices and the cost of each
    token type (USD, exact)."""

    match: ModelMatch | None
    tokens: TokenCounts
    pricing: Pricing
    costs: dict[TokenType, Decimal]

    @property
    def cost(self) -> Decimal:
        """The total cost."""
        return sum(self.costs.values(), Decimal(0))


def price_usage(
    prices: PriceBook,
    model: str,
    *,
    per_call_input: int,
    per_call_output: int,
    calls: int,
    cache_hit_ratio: Decimal,
    window: Window,
    where: str = "",
    fix: str = "",
) -> PricedUsage:
    """Tokens and cost of `calls` calls of `model`, priced as they stood at the window's start.

    cost = calls x (uncached input x input price + cached input x cache-read price + output x output price), with
    cached input = cache_hit_ratio x all input tokens (rounded half-even to whole tokens). A tiered price is chosen
    by the input of one call. Shared by the manifest source and `llm-cost estimate`.
    """
    match = known_model(prices, model, where, fix)
    input_total = per_call_input * calls
    cached = int((cache_hit_ratio * input_total).to_integral_value(ROUND_HALF_EVEN))
    tokens = TokenCounts(input=input_total - cached, cache_read=cached, output=per_call_output * calls)
    pricing = prices.pricing(model, match.provider_id if match else None, window.start, per_call_input, window.end)
    costs: dict[TokenType, Decimal] = {}
    for token_type in TOKEN_TYPES:
        count = tokens.get(token_type)
        if not count:
            continue
        unit = pricing.contracted.get(token_type) if pricing.contracted else None
        if unit is None:
            raise ConfigError(
                f"model {model!r}{f' ({where})' if where else ''} has no {token_type.value} price; "
                f'set {token_type.value}_mtok in [pricing."{model}"]{fix}'
            )
        costs[token_type] = Decimal(count) * unit / ONE_MILLION
    return PricedUsage(match, tokens, pricing, costs)


def _read_prompt(path: Path, as_written: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"prompt file not found: {as_written} (looked for {path}; paths are relative to the manifest)"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"prompt file {as_written} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read prompt file {as_written}: {exc.strerror}") from None


def _warn_reserved(tags: dict[str, str], where: str, warn: Callable[[str], None]) -> None:
    clashes = sorted(set(tags) & RESERVED_TAG_KEYS)
    if clashes:
        warn(f"{where}: reserved tag keys {clashes} are set by llm-cost and were ignored")


class ManifestSettings(BaseModel):
    """What `--mode manifest` reads: the manifest, the charge day, the cache-hit override and the vocabularies.
    `manifest_days` (set in a labelled run beside a LiteLLM proxy) are the days to estimate instead of `date`."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    manifest: Path
    date: date
    cache_hit_ratio: Decimal | None = None
    vocab_dir: Path | None = None
    manifest_days: tuple[Day, ...] | None = None

    @property
    def days(self) -> tuple[Day, ...]:
        """The charge days to estimate."""
        return self.manifest_days if self.manifest_days is not None else (self.date,)


class ManifestSource(Source):
    """Estimates per charge day (one, or each day of a proxy's window): one record per prompt and day, priced as
    that day's prices stood (offline). Each day is a partition."""

    grain = "day"

    def __init__(self, settings: ManifestSettings, warn: Warn) -> None:
        manifest = load_manifest(settings.manifest)
        self.prices = PriceBook(manifest.price_overrides())
        counter = TokenCounter(settings.vocab_dir, warn=warn)
        self.days: list[list[UsageRecord]] = []
        for number, day in enumerate(settings.days):
            records = estimate(
                manifest,
                day=day,
                prices=self.prices,
                counter=counter,
                cache_hit_ratio=settings.cache_hit_ratio,
                warn=warn if number == 0 else _silent,  # the same prompts: warn once, not once a day
            )
            self.days.append(list(records))
        if not manifest.prompts:
            warn(f"manifest {settings.manifest} lists no prompts; there are no rows")
        self.label = f"manifest {settings.manifest}"

    def partitions(self) -> Iterator[Partition]:
        return iter([partial(iter, records) for records in self.days])

    def partition_count(self) -> int:
        return len(self.days)


def _silent(message: str) -> None:
    """Drop a warning already given."""


def upload_periods(settings: ManifestSettings) -> list[tuple[dict[str, object], tuple[date, date]]]:
    """The replaceable periods of an upload: each charge day."""
    return [({"manifest_days": (day,)}, (day, day + timedelta(days=1))) for day in settings.days]

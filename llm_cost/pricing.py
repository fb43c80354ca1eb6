"""Unit prices per token type, from genai-prices, with manifest `[pricing."<model>"]` overrides.

All prices are USD per million tokens, as Decimal. genai-prices is asked for the price in force at a given moment,
so yesterday's export does not change when a price changes today.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from genai_prices import data_snapshot
from genai_prices.types import TieredPrices, TimeOfDateConstraint

from llm_cost.records import Pricing, TokenType, UnitPrices

T = TypeVar("T")
# The tier of a group whose list price changes within its period (DeepSeek's off-peak hours at day grain): it is
# priced at the period's start, and Tags and SkuPriceId say so. At request grain each request gets its own price.
TIME_OF_DAY_TIER = "time-of-day"

_PRICE_KEYS = {
    TokenType.INPUT: "input_mtok",
    TokenType.OUTPUT: "output_mtok",
    TokenType.CACHE_READ: "cache_read_mtok",
    TokenType.CACHE_WRITE: "cache_write_mtok",
}


ANSWERS_MEMO = 4096  # pricing() answers remembered per price book


@dataclass(slots=True, frozen=True)
class ModelMatch:
    """A model reference resolved in genai-prices."""

    provider_id: str
    provider_name: str
    model_id: str


class PriceBook:
    """Resolves models to providers and prices. `overrides` maps a model name to the user's negotiated prices."""

    def __init__(self, overrides: Mapping[str, UnitPrices] | None = None) -> None:
        self._overrides = dict(overrides or {})
        self._snapshot = data_snapshot.get_snapshot()
        self._matches: dict[tuple[str, str | None], tuple[object, object] | None] = {}
        # Built once per genai-prices price entry and per model: every group of a model shares the same objects.
        self._unit_prices: dict[tuple[int, object], tuple[object, tuple[UnitPrices, str]]] = {}
        self._pricings: dict[tuple[int, object], tuple[object, Pricing]] = {}
        self._answers: dict[tuple[object, ...], Pricing] = {}

    def has_override(self, model: str) -> bool:
        """True when the user priced this model explicitly."""
        return model in self._overrides

    def _find(self, model: str, provider: str | None) -> tuple[object, object] | None:
        """genai-prices' (Provider, ModelInfo) for a model reference, or None. Tries the provider hint, then the
        bare model, then a LiteLLM-style `provider/model` split."""
        key = (model, provider)
        if key in self._matches:
            return self._matches[key]
        attempts: list[tuple[str, str | None]] = []
        if provider:
            attempts.append((model, provider))
        attempts.append((model, None))
        if "/" in model:
            prefix, rest = model.split("/", 1)
            attempts += [(rest, prefix), (rest, None)]
        found = None
        for ref, provider_id in attempts:
            try:
                found = self._snapshot.find_provider_model(ref, None, provider_id, None)
                break
            except LookupError:
                continue
        self._matches[key] = found
        return found

    def match(self, model: str, provider: str | None = None) -> ModelMatch | None:
        """The genai-prices provider and model id for `model`, or None when genai-prices does not know it."""
        found = self._find(model, provider)
        if found is None:
            return None
        prov, info = found
        return ModelMatch(prov.id, prov.name, info.id)  # type: ignore[attr-defined]

    def provider_name(self, provider_id: str) -> str:
        """genai-prices' display name for a provider id (`openai` -> `OpenAI`), else the id itself."""
        for provider in self._snapshot.providers:
            if provider.id == provider_id.lower():
                return provider.name
        return provider_id

    def list_prices(
        self, model: str, provider: str | None, at: datetime, input_tokens_per_request: int = 0
    ) -> tuple[UnitPrices, str] | None:
        """Public list prices in force at `at`, and the tier used ("standard" or "above-<N>-tokens").

        Tiered prices (e.g. long-context rates) apply to every token of a request whose input exceeds the tier
        start, as genai-prices defines them; with no per-request figure the base tier is used.
        """
        found = self._find(model, provider)
        if found is None:
            return None
        _, info = found
        model_price = info.get_prices(at)  # type: ignore[attr-defined]
        return _per_object(
            self._unit_prices,
            model_price,
            input_tokens_per_request,
            lambda: self._list_prices(model_price, input_tokens_per_request),
        )

    @staticmethod
    def _list_prices(model_price: object, input_tokens_per_request: int) -> tuple[UnitPrices, str]:
        values: dict[str, Decimal | None] = {}
        tier_name = "standard"
        for token_type, key in _PRICE_KEYS.items():
            price = getattr(model_price, key, None)
            if isinstance(price, TieredPrices):
                chosen = price.base
                for tier in reversed(price.tiers):
                    if input_tokens_per_request > tier.start:
                        chosen = tier.price
                        tier_name = f"above-{tier.start}-tokens"
                        break
                price = chosen
            values[token_type.value] = price
        prices = UnitPrices(**values)
        # Cache reads and writes without their own price are billed as plain input.
        prices = replace(
            prices,
            cache_read=prices.cache_read if prices.cache_read is not None else prices.input,
            cache_write=prices.cache_write if prices.cache_write is not None else prices.input,
        )
        return prices, tier_name

    def pricing(
        self,
        model: str,
        provider: str | None,
        at: datetime,
        input_tokens_per_request: int = 0,
        until: datetime | None = None,
    ) -> Pricing:
        """List and contracted prices for a model at a moment (`at`, the start of a period ending at `until`). An
        override is the contracted price, and also the list price when genai-prices has none. Missing override
        fields fall back to the list price. A list price that changes within [at, until) gets TIME_OF_DAY_TIER.
        Answers are remembered (bounded): the groups of a day ask for the same model and period again and again."""
        key = (model, provider, at, input_tokens_per_request, until)
        found = self._answers.get(key)
        if found is not None:
            return found
        listed = self.list_prices(model, provider, at, input_tokens_per_request)
        varies = listed is not None and until is not None and self._varies_within(model, provider, at, until)
        # `listed` is one of list_prices' remembered objects (or None), so its identity stands for its value.
        found = _per_object(self._pricings, listed, (model, varies), lambda: self._pricing(model, listed, varies))
        if len(self._answers) >= ANSWERS_MEMO:
            self._answers.clear()  # request grain asks for a period per request: memory stays bounded
        self._answers[key] = found
        return found

    def _varies_within(self, model: str, provider: str | None, start: datetime, end: datetime) -> bool:
        """True when a time-of-day price of the model starts or ends strictly inside (start, end)."""
        found = self._find(model, provider)
        prices = getattr(found[1], "prices", None) if found else None
        if not isinstance(prices, list):
            return False
        constraints = [c.constraint for c in prices if isinstance(c.constraint, TimeOfDateConstraint)]
        if not constraints:
            return False
        if end - start > timedelta(days=1):
            return True
        days = {start.date(), end.date()}
        for constraint in constraints:
            for bound in (constraint.start_time, constraint.end_time):
                for day in days:
                    moment = datetime.combine(day, bound)
                    if moment.tzinfo is None:
                        moment = moment.replace(tzinfo=start.tzinfo)
                    if start < moment < end:
                        return True
        return False

    def _pricing(self, model: str, listed: tuple[UnitPrices, str] | None, varies: bool = False) -> Pricing:
        list_prices, tier = listed if listed else (None, "standard")
        tier = TIME_OF_DAY_TIER if varies else tier
        override = self._overrides.get(model)
        if override is None:
            return Pricing(list_prices, list_prices, "genai-prices" if list_prices else "unknown", tier)
        if list_prices is None:
            return Pricing(override, override, "override", "negotiated")
        contracted = UnitPrices(
            **{t.value: override.get(t) if override.get(t) is not None else list_prices.get(t) for t in TokenType}
        )
        return Pricing(list_prices, contracted, "genai-prices+override", tier)


def _per_object(
    store: dict[tuple[int, object], tuple[object, T]], anchor: object, extra: object, build: Callable[[], T]
) -> T:
    """`build()`, remembered per (identity of `anchor`, `extra`). The anchor is kept with the value, so its id
    cannot be reused by another object while the entry lives."""
    key = (id(anchor), extra)
    hit = store.get(key)
    if hit is not None and hit[0] is anchor:
        return hit[1]
    value = build()
    store[key] = (anchor, value)
    return value

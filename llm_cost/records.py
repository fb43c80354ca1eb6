"""The internal currency between stages: `UsageRecord` and its parts.

A source yields `UsageRecord`s; the aggregator folds them into `UsageGroup`s; the FOCUS mapping turns each group
into rows. Nothing here knows about FOCUS, LiteLLM or manifests.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

CostSource = Literal["reported", "estimated"]

# Decimal's default context keeps 28 significant digits and rounds silently beyond them: a day of spends such as
# 1.6499999999999997e-10 (26 decimal places) summed into thousands of dollars needs more. Money arithmetic runs with
# this many digits instead, so sums are exact; every division in llm-cost terminates or has its own context.
MONEY_DIGITS = 200
# For pure code (mapping, checks) that must be exact whatever the calling thread's context: money is added,
# multiplied and divided in this context, never rounded except by an explicit quantize.
EXACT = decimal.Context(prec=MONEY_DIGITS, rounding=decimal.ROUND_HALF_EVEN)


def exact_money() -> None:
    """Give this thread (and threads started later) a Decimal context wide enough that money never rounds."""
    decimal.DefaultContext.prec = max(decimal.DefaultContext.prec, MONEY_DIGITS)
    context = decimal.getcontext()
    context.prec = max(context.prec, MONEY_DIGITS)


class TokenType(StrEnum):
    """The token types that get their own FOCUS row, in output order."""

    INPUT = "input"
    OUTPUT = "output"
    CACHE_READ = "cache_read"
    CACHE_WRITE = "cache_write"


TOKEN_TYPES: tuple[TokenType, ...] = tuple(TokenType)


@dataclass(slots=True)
class TokenCounts:
    """Token counts by type. `input` excludes cache reads and cache writes; `reasoning` is informational
    (providers bill it as output, so it is already inside `output`). Treated as immutable (`+` makes a new one);
    not frozen, because a frozen dataclass costs a microsecond more per request to build."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0

    def get(self, token_type: TokenType) -> int:
        """The count of one billable token type."""
        return getattr(self, token_type)  # a TokenType is its field's name (a str), without Enum.value's cost

    def __add__(self, other: TokenCounts) -> TokenCounts:
        return TokenCounts(
            self.input + other.input,
            self.output + other.output,
            self.cache_read + other.cache_read,
            self.cache_write + other.cache_write,
            self.reasoning + other.reasoning,
        )

    @property
    def total_input(self) -> int:
        """All prompt-side tokens: uncached input, cache reads and cache writes."""
        return self.input + self.cache_read + self.cache_write


@dataclass(slots=True, frozen=True)
class UnitPrices:
    """USD per million tokens, by token type; None where no price is known."""

    input: Decimal | None = None
    output: Decimal | None = None
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None

    def get(self, token_type: TokenType) -> Decimal | None:
        """The price per million tokens of one token type."""
        return getattr(self, token_type)


@dataclass(slots=True, frozen=True)
class Pricing:
    """What the mapping needs to price a group: list prices, contracted prices and where they came from.

    `list_prices` is the public price list (genai-prices), `contracted` the user's negotiated rate (a manifest
    `[pricing]` override) or the list price when there is none. Either may be None when nothing is known.
    """

    list_prices: UnitPrices | None
    contracted: UnitPrices | None
    source: str  # "litellm" (the proxy's /model/info), "genai-prices", "override", "genai-prices+override", "unknown"
    tier: str = "standard"


@dataclass(slots=True)
class UsageRecord:
    """One unit of usage: a request, a daily row or a prompt estimate, over `[period_start, period_end)` UTC.

    `tags` are the user's (manifest or request tags); `system_tags` are the source's own provenance labels, which
    user tags can never override. `pricing` is set by sources that priced the usage themselves (estimates), so
    the FOCUS unit prices are the very ones the cost was computed from. `records` is how many source records
    (requests, daily rows) this one folds: 1, or more where a source sums its rows before handing them over (the
    spend-log rows that share every raw value; their `requests` and metrics are then sums and the period is the
    bucket of the grain).
    """

    period_start: datetime
    period_end: datetime
    provider: str
    model: str
    cost: Decimal
    tokens: TokenCounts = field(default_factory=TokenCounts)
    requests: int = 1
    provider_name: str | None = None
    model_group: str | None = None
    api_key_hash: str | None = None
    key_alias: str | None = None
    key_name: str | None = None  # LiteLLM's masked key name (`sk-...a1b2`), when a lookup gave it
    team_id: str | None = None
    team_alias: str | None = None
    user_id: str | None = None
    user_email: str | None = None
    user_alias: str | None = None
    end_user: str | None = None
    org_id: str | None = None
    org_alias: str | None = None
    cost_components: dict[TokenType, Decimal] | None = None
    service_name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    system_tags: dict[str, str] = field(default_factory=dict)
    cost_source: CostSource = "reported"
    source: str = ""
    resource_id: str | None = None
    resource_name: str | None = None
    request_id: str | None = None
    pricing: Pricing | None = None
    records: int = 1


GroupKey = tuple[object, ...]


@dataclass(slots=True)
class UsageGroup:
    """Usage summed to a grain: all the records that share every dimension and the (truncated) period.

    The dimensions are copied from the first record; the metrics are sums. `cost_components` stays only when
    every record in the group carried components, so a partial breakdown never skews the allocation.
    """

    period_start: datetime
    period_end: datetime
    provider: str
    provider_name: str | None
    model: str
    model_group: str | None
    api_key_hash: str | None
    key_alias: str | None
    key_name: str | None
    team_id: str | None
    team_alias: str | None
    user_id: str | None
    user_email: str | None
    user_alias: str | None
    end_user: str | None
    org_id: str | None
    org_alias: str | None
    service_name: str | None
    tags: dict[str, str]
    system_tags: dict[str, str]
    cost_source: CostSource
    source: str
    resource_id: str | None
    resource_name: str | None
    pricing: Pricing | None = None
    cost: Decimal = Decimal(0)
    tokens: TokenCounts = field(default_factory=TokenCounts)
    requests: int = 0
    cost_components: dict[TokenType, Decimal] | None = None
    records: int = 0

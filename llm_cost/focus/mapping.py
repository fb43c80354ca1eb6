"""PURE: aggregated usage -> FOCUS rows. No I/O, no clock, no environment.

Each `UsageGroup` becomes one row per token type with usage (input, output, cache read, cache write). The group's
cost is allocated across those rows from LiteLLM's cost breakdown, else in proportion to the priced tokens, else
in proportion to the tokens; the remainder of rounding goes to the largest share, so the rows of a group sum to
its cost exactly. With the split off (or a group without tokens) the group is one row measured in Requests.

A group's rows come as a `RowSet` (`focus/rowset.py`): per row a shape (the columns it shares with other rows, built
once and reused across groups) and its VARYING values. Values are already formatted: decimals in fixed point with a
`.`, date-times as `YYYY-MM-DDTHH:mm:ssZ`, JSON with sorted keys. None is a null (an empty, unquoted CSV field).
`RowSet.rows()` (and `map_group`) give the rows as `dict[column, str | None]`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Context, Decimal
from functools import lru_cache

from llm_cost.focus.adjustments import Adjustment, Adjustments
from llm_cost.focus.columns import CUSTOM, FOCUS_1_2, SOURCE_COLUMN
from llm_cost.focus.dimensions import billing_account_name, sub_account_of
from llm_cost.focus.providers import ProviderNames, model_identity, provider_names
from llm_cost.focus.rowset import VARYING_SET, FocusRow, RowSet, RowShape, TagsTemplate, tags_json
from llm_cost.formats import format_decimal, format_utc
from llm_cost.records import EXACT, TOKEN_TYPES, Pricing, TokenType, UsageGroup
from llm_cost.window import billing_month

__all__ = ["FocusRow", "MappingOptions", "RowMapper", "allocate", "billed_total", "map_group", "tags_json"]

ONE_MILLION = Decimal(1_000_000)
ALLOCATION_QUANTUM = Decimal("1e-12")
PRICING_UNIT = "1000000 Tokens"
# A reported cost keeps the price list's unit price when price x quantity is this close to it (relative); else the
# unit price is the cost per unit at PRICE_DIGITS significant digits. The row checks allow the same tolerance on
# the FOCUS cost identities (the official validator allows 1e-9).
PRICE_TOLERANCE = Decimal("1e-12")
PRICE_DIGITS = 20
_PRICE_CONTEXT = Context(prec=PRICE_DIGITS)
SERVICE_CATEGORY = "AI and Machine Learning"
SERVICE_SUBCATEGORY = "Generative AI"
RESOURCE_TYPE = "LLM"
_ALL_COLUMNS = (*FOCUS_1_2, *CUSTOM, SOURCE_COLUMN)
# The Tags key of a labelled source (`[[sources]]`); in a labelled run it replaces a request tag of that name.
SOURCE_TAG = "source"

_LABELS = {
    TokenType.INPUT: "Input",
    TokenType.OUTPUT: "Output",
    TokenType.CACHE_READ: "Cache Read",
    TokenType.CACHE_WRITE: "Cache Write",
}

# Tags of a group's attribution, per cost source: (tag key, UsageGroup attribute). Reported (LiteLLM) rows use
# one x- kebab style; estimates keep the original llm-cost tool's keys.
_REPORTED_ATTRIBUTION = (
    ("x-model-group", "model_group"),
    ("x-team-id", "team_id"),
    ("x-team-alias", "team_alias"),
    ("x-api-key-alias", "key_alias"),
    ("x-user-id", "user_id"),
    ("x-user-email", "user_email"),
    ("x-user-alias", "user_alias"),
    ("x-end-user", "end_user"),
    ("x-organization-id", "org_id"),
    ("x-organization-alias", "org_alias"),
    ("x-resource-name", "resource_name"),
)
_ESTIMATE_ATTRIBUTION = (
    ("model_group", "model_group"),
    ("team_id", "team_id"),
    ("team_alias", "team_alias"),
    ("api_key_alias", "key_alias"),
    ("user_id", "user_id"),
    ("user_email", "user_email"),
    ("user_alias", "user_alias"),
    ("end_user", "end_user"),
    ("organization_id", "org_id"),
    ("organization_alias", "org_alias"),
    ("resource-name", "resource_name"),
)
# Keys the mapping writes into Tags. User and request tags can never override them (nor a source's system tags).
RESERVED_TAG_KEYS: frozenset[str] = frozenset(
    {key for key, _ in _REPORTED_ATTRIBUTION + _ESTIMATE_ATTRIBUTION}
    | {"llm-cost-type", "provider", "model", "effective-cost", "token-type"}
    | {"x-token-count-input", "x-token-count-output", "x-cost-allocation", "x-price-source", "x-price-tier"}
    | {"x-list-price", "x-provider", "x-model", "x-token-type", "x-adjustment"}
)


@dataclass(frozen=True, slots=True)
class MappingOptions:
    """The choices a run makes about its rows: one row per token type (else per group, in Requests), the
    chargeback key of SubAccount*, what ServiceName means, the negotiated rates on reported spend, and the label of
    the source in a labelled run (x_Source and Tags `source`)."""

    split_tokens: bool = True
    sub_account: str = "team"
    service_name: str = "offering"
    adjustments: Adjustments = Adjustments()
    source_label: str | None = None


DEFAULT_MAPPING = MappingOptions()


@lru_cache(maxsize=4096)
def _charge_period(start: datetime, end: datetime) -> tuple[str, str]:
    """ChargePeriodStart and ChargePeriodEnd of a group (the groups of a day or an hour share them)."""
    return format_utc(start), format_utc(end)


@lru_cache(maxsize=256)
def _billing_period(year: int, month: int) -> tuple[str, str]:
    billing = billing_month(datetime(year, month, 1, tzinfo=UTC))
    return format_utc(billing.start), format_utc(billing.end)


@lru_cache(maxsize=4096)
def _sku_columns(model: str, token_type: TokenType, pricing: Pricing, developer: str | None) -> dict[str, str | None]:
    """The columns that depend only on the model, the token type and the prices: the same for every group of a
    model, so they are built once."""
    label = _LABELS[token_type]
    columns: dict[str, str | None] = {
        "ChargeDescription": f"{model} {label.lower()} tokens",
        "ConsumedUnit": "Tokens",
        "PricingUnit": PRICING_UNIT,
        "SkuMeter": f"{label} Tokens",
        "SkuPriceId": f"{model}:{token_type.value}:{pricing.tier}",
        "SkuPriceDetails": _sku_price_details(model, developer, pricing.tier, token_type.value),
        "x_TokenType": token_type.value,
    }
    for prices, unit_col, pricing_col in (
        (pricing.list_prices, "ListUnitPrice", "PricingCurrencyListUnitPrice"),
        (pricing.contracted, "ContractedUnitPrice", "PricingCurrencyContractedUnitPrice"),
    ):
        unit_price = prices.get(token_type) if prices else None
        if unit_price is not None:
            columns[unit_col] = columns[pricing_col] = format_decimal(unit_price)
    return columns


def _sku_price_details(model: str, developer: str | None, tier: str, token_type: str) -> str:
    """SkuPriceDetails: the model's identity under the FOCUS AI keys (ModelId, ModelDeveloper, ModelFamily,
    ModelVersion), and our own keys with the `x_` prefix."""
    return tags_json({**model_identity(model, developer), "x_PriceTier": tier, "x_TokenType": token_type})


def allocate(total: Decimal, weights: dict[TokenType, Decimal]) -> dict[TokenType, Decimal]:
    """Split `total` across every key of `weights`, in proportion to the positive weights; a key whose weight is
    zero or negative gets a zero share. The remainder of rounding goes to the largest weight (the first in
    token-type order on a tie), so the shares sum to `total` exactly. The other shares are rounded toward zero, so
    their sum never passes `total` and every share has the sign of `total`. Weights that already sum to `total` are the
    shares themselves, unrounded."""
    positive = {t: w for t, w in weights.items() if w > 0}
    if not positive:
        raise ValueError("allocate() needs at least one positive weight")
    shares = dict.fromkeys(weights, Decimal(0))
    ctx = EXACT
    weight_sum = _sum(positive.values())
    if weight_sum == total:
        shares.update(positive)
        return shares
    if len(positive) == 1:
        shares.update(dict.fromkeys(positive, total))
        return shares
    for token_type, weight in positive.items():
        share = ctx.divide(ctx.multiply(total, weight), weight_sum)
        shares[token_type] = share.quantize(ALLOCATION_QUANTUM, rounding=ROUND_DOWN, context=ctx)
    largest = max(positive, key=lambda t: (positive[t], -TOKEN_TYPES.index(t)))
    others = Decimal(0)
    for token_type in positive:
        if token_type is not largest:
            others = ctx.add(others, shares[token_type])
    shares[largest] = ctx.subtract(total, others)
    return shares


_ZERO = Decimal(0)


def _sum(values: Iterable[Decimal]) -> Decimal:
    """An exact sum, whatever the thread's Decimal context."""
    total = Decimal(0)
    for value in values:
        total = EXACT.add(total, value)
    return total


def _weights(group: UsageGroup, pricing: Pricing, used: list[TokenType]) -> tuple[dict[TokenType, Decimal], str]:
    """The allocation weights of the used token types and their basis, the value of `x-cost-allocation`:

    - `cost-breakdown`: LiteLLM's per-type costs, which add up to the cost exactly (they are the shares);
    - `cost-breakdown-scaled`: those costs where they do not add up to the cost (a component for a type without
      tokens, tool or other costs outside the token types, a breakdown larger than the spend): shares in
      proportion to them;
    - `unit-price`: no usable breakdown, so tokens x contracted unit prices;
    - `tokens`: no breakdown and no price, so the token counts.

    A breakdown that gives a used type nothing gives it a zero share; one that gives every used type nothing is
    not usable."""
    components = group.cost_components
    if components is not None:
        from_breakdown = {t: components.get(t, _ZERO) for t in used}
        if any(w > 0 for w in from_breakdown.values()):
            whole = _sum(components.values())
            exact = (
                whole == group.cost
                and all(w >= 0 for w in components.values())
                # every component is a used type's, or those of the used types sum to the same
                and (components.keys() <= from_breakdown.keys() or _sum(from_breakdown.values()) == whole)
            )
            return from_breakdown, "cost-breakdown" if exact else "cost-breakdown-scaled"
    prices = pricing.contracted
    if prices is not None:
        priced = {t: Decimal(group.tokens.get(t)) * (prices.get(t) or Decimal(0)) for t in used}
        if any(w > 0 for w in priced.values()):
            return priced, "unit-price"
    return {t: Decimal(group.tokens.get(t)) for t in used}, "tokens"


def _service_name(group: UsageGroup, names: ProviderNames, service_name: str) -> str:
    """ServiceName: the source's own (a manifest's `LLM Inference`), else the provider's service offering, or with
    `model-group` LiteLLM's documented mapping (the model group, else the model)."""
    if group.service_name:
        return group.service_name
    if service_name == "model-group":
        return group.model_group or group.model
    return names.service


def _base_columns(
    group: UsageGroup, names: ProviderNames, sub_account: str, service_name: str, source_label: str | None
) -> FocusRow:
    """The columns every row of a group shares; `sub_account` chooses the chargeback key (team, user, org or
    tag:KEY) of SubAccountId/Name/Type, `service_name` what ServiceName means, `source_label` fills x_Source."""
    account = sub_account_of(
        sub_account,
        team=(group.team_id, group.team_alias),
        user=(group.user_id, group.user_email or group.user_alias),
        org=(group.org_id, group.org_alias),
        tags=group.tags,
    )
    key = group.api_key_hash
    row: FocusRow = dict.fromkeys(_ALL_COLUMNS)
    billing_start, billing_end = _billing_period(group.period_start.year, group.period_start.month)
    row.update(BillingPeriodStart=billing_start, BillingPeriodEnd=billing_end)
    row.update(
        BillingAccountId=key or group.provider,
        BillingAccountName=billing_account_name(key, group.key_alias, group.key_name) if key else names.provider,
        BillingAccountType="API Key" if key else "Provider Account",
        BillingCurrency="USD",
        ChargeCategory="Usage",
        ChargeFrequency="Usage-Based",
        InvoiceIssuerName=names.invoice_issuer,
        ProviderName=names.provider,
        PublisherName=names.publisher,
        PricingCategory="Standard",
        PricingCurrency="USD",
        ResourceId=group.resource_id or group.model,
        ResourceName=group.resource_name or group.model,
        ResourceType=RESOURCE_TYPE,
        ServiceCategory=SERVICE_CATEGORY,
        ServiceSubcategory=SERVICE_SUBCATEGORY,
        ServiceName=_service_name(group, names, service_name),
        SkuId=group.model,
        SubAccountId=account.id,
        SubAccountName=account.name,
        SubAccountType=account.type,
        x_CostSource=group.cost_source,
        x_Model=group.model,
        x_Source=source_label,
    )
    return row


def _group_tags(
    group: UsageGroup, pricing: Pricing, allocation: str, adjustment: Adjustment | None, source_label: str | None
) -> dict[str, object]:
    """Tags shared by a group's rows: user tags, then the source's system tags, then ours (which always win).

    Reported (LiteLLM) rows use one style, `x-` kebab keys for everything we add (FOCUS: provider-defined keys
    carry a prefix), and no key whose value is per row or repeats a column. Estimate (manifest) rows keep the
    original llm-cost tool's keys, `effective-cost` and the token counts included."""
    tags: dict[str, object] = {k: v for k, v in group.tags.items() if k not in RESERVED_TAG_KEYS}
    tags.update(group.system_tags)
    estimate = group.cost_source == "estimated"
    for key, attribute in _ESTIMATE_ATTRIBUTION if estimate else _REPORTED_ATTRIBUTION:
        if value := getattr(group, attribute):
            tags[key] = value
    tags["llm-cost-type"] = "estimate" if estimate else "actual"
    if estimate:
        tags.update(
            {
                "provider": group.provider,
                "model": group.model,
                "x-token-count-input": group.tokens.total_input,
                "x-token-count-output": group.tokens.output,
            }
        )
    else:
        tags.update({"x-provider": group.provider, "x-model": group.model})
    tags["x-cost-allocation"] = allocation
    tags["x-price-source"] = pricing.source
    if pricing.tier != "standard":
        tags["x-price-tier"] = pricing.tier
    if pricing.list_prices is None:
        tags["x-list-price"] = "unknown"
    if adjustment is not None:
        tags["x-adjustment"] = adjustment.name
    if source_label is not None:
        tags[SOURCE_TAG] = source_label
    return tags


def _applicable(group: UsageGroup, adjustment: Adjustment | None) -> Adjustment | None:
    """The adjustment, where it applies: to reported usage only (estimates keep their manifest prices)."""
    return adjustment if group.cost_source == "reported" else None


def billed_total(group: UsageGroup, adjustment: Adjustment | None) -> Decimal:
    """What the rows of a group bill: its cost, times the adjustment's factor when one applies (exact)."""
    adjustment = _applicable(group, adjustment)
    return group.cost if adjustment is None else EXACT.multiply(group.cost, adjustment.factor)


def _unit_price_for(listed: Decimal | None, quantity: Decimal, cost: Decimal) -> Decimal | None:
    """The list unit price of a reported cost: the price list's where it reproduces the cost (within
    PRICE_TOLERANCE, relative), else the effective cost per unit at PRICE_DIGITS significant digits."""
    if listed is not None and abs(EXACT.multiply(listed, quantity) - cost) <= PRICE_TOLERANCE * abs(cost):
        return listed
    if quantity == 0 or cost < 0:  # a refund has no unit price (FOCUS unit prices are never negative)
        return None
    return EXACT.divide(cost, quantity).normalize(_PRICE_CONTEXT) if cost else Decimal(0)


_UNIT_PRICE_COLUMNS = (
    "ListUnitPrice",
    "PricingCurrencyListUnitPrice",
    "ContractedUnitPrice",
    "PricingCurrencyContractedUnitPrice",
)
# Shapes remembered per mapper: enough for a day's models x accounts x token types; cleared when full, so memory
# stays bounded whatever the data.
SHAPE_MEMO = 16384


_BASE = "base"  # where a memo entry keeps its base columns beside its shapes
_TOKEN_NAMES = tuple((t, t.value) for t in TOKEN_TYPES)
_NAME_OF = dict(_TOKEN_NAMES)


class RowMapper:
    """Maps groups to their FOCUS rows (`RowSet`) for one run's choices. It remembers the row shapes it built
    (bounded), so groups that share their period, provider, account and model share their shapes."""

    def __init__(self, options: MappingOptions = DEFAULT_MAPPING) -> None:
        self.options = options
        self._bases: dict[tuple[object, ...], dict[object, RowShape]] = {}

    def rows(self, group: UsageGroup, pricing: Pricing, adjustment: Adjustment | None = None) -> RowSet:
        """The rows of one group, whose BilledCost values sum exactly to `billed_total(group, adjustment)`.

        An adjustment (reported usage only) makes ListCost the reported spend and BilledCost = EffectiveCost =
        ContractedCost that spend times its factor, row by row, so both sum exactly."""
        adjustment = _applicable(group, adjustment)
        names = provider_names(group.provider, group.model, group.provider_name)
        tokens = group.tokens
        used = [t for t, name in _TOKEN_NAMES if getattr(tokens, name) > 0]
        if not (self.options.split_tokens and used):
            return self._requests_rows(group, pricing, names, adjustment)
        weights, allocation = _weights(group, pricing, used)
        # An exact breakdown (non-negative, summing to the cost) is its own allocation: allocate() returns it as is.
        shares = weights if allocation == "cost-breakdown" else allocate(group.cost, weights)
        tags = _group_tags(group, pricing, allocation, adjustment, self.options.source_label)
        estimate = group.cost_source == "estimated"
        template = TagsTemplate.build(tags, ("effective-cost", "token-type") if estimate else ("x-token-type",))
        shapes = self._shapes(group, names, pricing)
        period = _charge_period(group.period_start, group.period_end)
        list_prices, contracted_prices = pricing.list_prices, pricing.contracted
        row_shapes: list[RowShape] = []
        values: list[tuple[str | None, ...]] = []
        for token_type in used:
            name = _NAME_OF[token_type]
            count = getattr(tokens, name)
            quantity = Decimal(count).scaleb(-6, EXACT)  # tokens / 1,000,000, exact
            share = shares[token_type]
            if adjustment is not None:
                shape = self._adjusted(group, names, pricing, token_type, quantity, share, adjustment.factor)
                cost = contracted = format_decimal(EXACT.multiply(share, adjustment.factor))
                listed = format_decimal(share)
            else:
                found = shapes.get(token_type)
                if found is None:
                    base = shapes.get(_BASE)
                    if base is None:
                        base = shapes[_BASE] = self._base(group, names)  # type: ignore[assignment]
                    found = shapes[token_type] = self._shape(group, names, pricing, token_type, base)  # type: ignore[arg-type]
                shape = found
                cost = format_decimal(share)
                list_price = list_prices.get(token_type) if list_prices else None
                listed = cost if list_price is None else format_decimal(EXACT.multiply(list_price, quantity))
                contracted_price = contracted_prices.get(token_type) if contracted_prices else None
                if contracted_price is None:
                    contracted = cost
                elif contracted_price == list_price:
                    contracted = listed
                else:
                    contracted = format_decimal(EXACT.multiply(contracted_price, quantity))
            tags_text = template.render((cost, name) if estimate else (name,))
            row_shapes.append(shape)
            values.append(
                (cost, f"{count}.0", contracted, cost, listed, cost, format_decimal(quantity), tags_text, *period)
            )
        return RowSet(row_shapes, values)

    def _shapes(self, group: UsageGroup, names: ProviderNames, pricing: Pricing) -> dict[object, RowShape]:
        """The shapes by token type of the groups that share this one's base columns and prices (and, under `_BASE`,
        those base columns)."""
        key = (
            group.period_start.year,  # the billing period's month; the charge period is a row value
            group.period_start.month,
            group.provider,
            group.provider_name,
            group.model,
            group.model_group,
            group.service_name,
            group.api_key_hash,
            group.key_alias,
            group.key_name,
            group.resource_id,
            group.resource_name,
            group.cost_source,
            self._account_key(group),
            pricing,
        )
        shapes = self._bases.get(key)
        if shapes is None:
            if len(self._bases) >= SHAPE_MEMO:
                self._bases.clear()
            shapes = self._bases[key] = {}
        return shapes

    def _account_key(self, group: UsageGroup) -> object:
        """What the chargeback key (SubAccount*) of a group is made of, for the shape memo."""
        choice = self.options.sub_account
        if choice == "team":
            return group.team_id, group.team_alias
        if choice == "user":
            return group.user_id, group.user_email, group.user_alias
        if choice == "org":
            return group.org_id, group.org_alias
        return group.tags.get(choice[4:])

    def _base(self, group: UsageGroup, names: ProviderNames) -> FocusRow:
        options = self.options
        return _base_columns(group, names, options.sub_account, options.service_name, options.source_label)

    def _shape(
        self,
        group: UsageGroup,
        names: ProviderNames,
        pricing: Pricing,
        token_type: TokenType,
        base: FocusRow | None = None,
        **unit_prices: str | None,
    ) -> RowShape:
        """A token type's shape: the group's base columns (`base`, when already built for a sibling token type), the
        SKU columns and (under an adjustment, the given) unit prices."""
        columns = dict(base) if base is not None else self._base(group, names)
        columns.update(_sku_columns(group.model, token_type, pricing, names.developer))
        columns.update(unit_prices)
        return RowShape({c: v for c, v in columns.items() if c not in VARYING_SET})

    def _adjusted(
        self,
        group: UsageGroup,
        names: ProviderNames,
        pricing: Pricing,
        token_type: TokenType,
        quantity: Decimal,
        share: Decimal,
        factor: Decimal,
    ) -> RowShape:
        """The shape of one row under a negotiated rate, whose ListCost is the reported share and whose other costs
        are that share x the factor: its unit prices reproduce them (the contracted one is the list one x the factor),
        so they are the row's own."""
        listed = pricing.list_prices.get(token_type) if pricing.list_prices else None
        unit = _unit_price_for(listed, quantity, share)
        prices: dict[str, str | None] = dict.fromkeys(_UNIT_PRICE_COLUMNS)
        if unit is not None:
            prices["ListUnitPrice"] = prices["PricingCurrencyListUnitPrice"] = format_decimal(unit)
            contracted = format_decimal(EXACT.multiply(unit, factor))
            prices["ContractedUnitPrice"] = prices["PricingCurrencyContractedUnitPrice"] = contracted
        return self._shape(group, names, pricing, token_type, None, **prices)

    def _requests_rows(
        self, group: UsageGroup, pricing: Pricing, names: ProviderNames, adjustment: Adjustment | None
    ) -> RowSet:
        """One row for the whole group, measured in Requests. List and contracted costs are the priced tokens where
        every used token type has a price, else the billed cost; per-request unit prices stay null. Under an
        adjustment, ListCost is the reported spend and the other costs that spend x the factor."""
        columns = self._base(group, names)
        billed = billed_total(group, adjustment)
        cost = format_decimal(billed)
        requests = format_decimal(Decimal(group.requests))
        tags = _group_tags(group, pricing, "none", adjustment, self.options.source_label)
        if group.cost_source == "estimated":
            tags["effective-cost"] = cost
        columns.update(
            ChargeDescription=f"{group.model} requests",
            ConsumedUnit="Requests",
            PricingUnit="Requests",
            SkuMeter="Requests",
            SkuPriceId=f"{group.model}:requests:{pricing.tier}",
            SkuPriceDetails=_sku_price_details(group.model, names.developer, pricing.tier, "all"),
            x_TokenType="all",
        )
        if adjustment is not None:
            listed, contracted = format_decimal(group.cost), cost
        else:
            costs = []
            for prices in (pricing.list_prices, pricing.contracted):
                priced = [
                    EXACT.divide(EXACT.multiply(Decimal(group.tokens.get(t)), p), ONE_MILLION)
                    for t in TOKEN_TYPES
                    if group.tokens.get(t) and prices and (p := prices.get(t)) is not None
                ]
                complete = prices is not None and all(
                    prices.get(t) is not None for t in TOKEN_TYPES if group.tokens.get(t)
                )
                costs.append(format_decimal(_sum(priced)) if priced and complete else cost)
            listed, contracted = costs
        template = TagsTemplate.build(tags)
        shape = RowShape({c: v for c, v in columns.items() if c not in VARYING_SET})
        period = _charge_period(group.period_start, group.period_end)
        values = (cost, requests, contracted, cost, listed, cost, requests, template.render(), *period)
        return RowSet([shape], [values])


def map_group(
    group: UsageGroup,
    pricing: Pricing,
    *,
    split_tokens: bool = True,
    sub_account: str = "team",
    service_name: str = "offering",
    adjustment: Adjustment | None = None,
    source_label: str | None = None,
) -> list[FocusRow]:
    """The FOCUS rows of one group as whole dicts (see `RowMapper.rows`, which the pipeline uses)."""
    options = MappingOptions(
        split_tokens=split_tokens, sub_account=sub_account, service_name=service_name, source_label=source_label
    )
    return list(RowMapper(options).rows(group, pricing, adjustment).rows())

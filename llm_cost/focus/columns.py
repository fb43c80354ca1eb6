"""Column lists per FOCUS version (1.2, 1.0) and per profile (full FOCUS, Vantage subset).

FOCUS columns come first in alphabetical order (as the spec allows), then our custom `x_` columns.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

Format = Literal["focus", "vantage"]  # --format: every FOCUS column, or the Vantage subset
FocusVersion = Literal["1.2", "1.0"]

FOCUS_1_2: tuple[str, ...] = (
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingAccountType",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "CapacityReservationId",
    "CapacityReservationStatus",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "CommitmentDiscountUnit",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
    "Tags",
)

# Columns that FOCUS 1.1 and 1.2 added; 1.0 is 1.2 without them.
_ADDED_AFTER_1_0 = frozenset(
    {
        "BillingAccountType",
        "CapacityReservationId",
        "CapacityReservationStatus",
        "CommitmentDiscountQuantity",
        "CommitmentDiscountUnit",
        "InvoiceId",
        "PricingCurrency",
        "PricingCurrencyContractedUnitPrice",
        "PricingCurrencyEffectiveCost",
        "PricingCurrencyListUnitPrice",
        "ServiceSubcategory",
        "SkuMeter",
        "SkuPriceDetails",
        "SubAccountType",
    }
)

FOCUS_1_0: tuple[str, ...] = tuple(c for c in FOCUS_1_2 if c not in _ADDED_AFTER_1_0)

CUSTOM: tuple[str, ...] = ("x_CostSource", "x_Model", "x_TokenType")
# The label of a source in a run of several (`[[sources]]`): a column of the focus profile in labelled runs only, so
# an unlabelled run's header is what it always was.
SOURCE_COLUMN = "x_Source"

# The Vantage profile: every column Vantage accepts and llm-cost fills, at least the 25 that LiteLLM's own Vantage
# exporter uploads (its VANTAGE_SUPPORTED_COLUMNS, litellm-api.md §5). Vantage shows ServiceName as Service,
# ServiceCategory as Category, ResourceType as Subcategory, BillingAccount* as Billing Account and SubAccount* as
# Account; the profile fills Category with the model and Subcategory with the token type, as Vantage's own OpenAI
# integration does (see `vantage_values`).
VANTAGE: tuple[str, ...] = (
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeFrequency",
    "ChargeDescription",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "BillingCurrency",
    "BillingAccountId",
    "BillingAccountName",
    "SubAccountId",
    "SubAccountName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "RegionId",
    "RegionName",
    "ServiceCategory",
    "ServiceSubcategory",
    "ServiceName",
    "ConsumedQuantity",
    "ConsumedUnit",
    "Tags",
)

# Vantage's Subcategory names of our token types (x_TokenType), as its OpenAI integration spells them.
VANTAGE_SUBCATEGORIES: dict[str, str] = {
    "input": "input",
    "output": "output",
    "cache_read": "cached input",
    "cache_write": "cache write",
    "all": "requests",
}
_CATEGORY_AT = VANTAGE.index("ServiceCategory")
_SUBCATEGORY_AT = VANTAGE.index("ResourceType")


def vantage_values(row: Mapping[str, str | None]) -> tuple[str | None, ...]:
    """A FOCUS row's values in the Vantage profile: the FOCUS columns, except Category (ServiceCategory) = the model
    and Subcategory (ResourceType) = the token type. A row without our x_ columns (a file from another tool) keeps
    its own ServiceCategory and ResourceType where nothing better is known."""
    values = [row.get(c) for c in VANTAGE]
    model = row.get("x_Model") or row.get("SkuId")
    if model:
        values[_CATEGORY_AT] = model
    token_type = row.get("x_TokenType")
    if token_type:
        values[_SUBCATEGORY_AT] = VANTAGE_SUBCATEGORIES.get(token_type, token_type)
    return tuple(values)


ALL_FOCUS: frozenset[str] = frozenset(FOCUS_1_2)

DECIMAL_COLUMNS: frozenset[str] = frozenset(
    {
        "BilledCost",
        "CommitmentDiscountQuantity",
        "ConsumedQuantity",
        "ContractedCost",
        "ContractedUnitPrice",
        "EffectiveCost",
        "ListCost",
        "ListUnitPrice",
        "PricingCurrencyContractedUnitPrice",
        "PricingCurrencyEffectiveCost",
        "PricingCurrencyListUnitPrice",
        "PricingQuantity",
    }
)

DATETIME_COLUMNS: frozenset[str] = frozenset(
    {"BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart"}
)

JSON_COLUMNS: frozenset[str] = frozenset({"Tags", "SkuPriceDetails"})

# Mandatory in FOCUS 1.0-1.2 and never null (BillingAccountName, ChargeClass, ChargeDescription, PricingQuantity
# and PricingUnit are Mandatory but nullable).
NOT_NULL: frozenset[str] = frozenset(
    {
        "BilledCost",
        "BillingAccountId",
        "BillingCurrency",
        "BillingPeriodEnd",
        "BillingPeriodStart",
        "ChargeCategory",
        "ChargePeriodEnd",
        "ChargePeriodStart",
        "ContractedCost",
        "EffectiveCost",
        "InvoiceIssuerName",
        "ListCost",
        "ProviderName",
        "PublisherName",
        "ServiceCategory",
        "ServiceName",
    }
)


def columns_for(profile: Format, version: FocusVersion = "1.2", *, labelled: bool = False) -> tuple[str, ...]:
    """The header of a file: every column of the FOCUS version plus ours (with x_Source in a labelled run), or the
    Vantage subset (whose Tags carry the label)."""
    if profile == "vantage":
        return VANTAGE
    return (FOCUS_1_2 if version == "1.2" else FOCUS_1_0) + CUSTOM + ((SOURCE_COLUMN,) if labelled else ())


def values_of(columns: Sequence[str]) -> Callable[[Mapping[str, str | None]], tuple[str | None, ...]]:
    """A C-speed getter of these columns' values from a row, always as a tuple (KeyError for a missing column);
    for the Vantage profile, `vantage_values`."""
    if tuple(columns) == VANTAGE:
        return vantage_values
    if len(columns) == 1:
        only = columns[0]
        return lambda row: (row[only],)
    return operator.itemgetter(*columns) if columns else (lambda row: ())

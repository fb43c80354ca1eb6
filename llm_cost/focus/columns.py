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

# Vantage's documented Custom Provider columns (vantage-api.md §1.6), in the original tool's order plus
# ChargePeriodEnd and BillingCurrency. Attribution (provider, key, team) travels in Tags.
VANTAGE: tuple[str, ...] = (
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "BilledCost",
    "BillingCurrency",
    "ResourceId",
    "ResourceType",
    "RegionId",
    "ServiceCategory",
    "ServiceName",
    "ConsumedQuantity",
    "ConsumedUnit",
    "Tags",
)

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


def columns_for(profile: Format, version: FocusVersion = "1.2") -> tuple[str, ...]:
    """The header of a file: every column of the FOCUS version plus ours, or the Vantage subset."""
    if profile == "vantage":
        return VANTAGE
    return (FOCUS_1_2 if version == "1.2" else FOCUS_1_0) + CUSTOM


def values_of(columns: Sequence[str]) -> Callable[[Mapping[str, str | None]], tuple[str | None, ...]]:
    """A C-speed getter of these columns' values from a row, always as a tuple (KeyError for a missing column)."""
    if len(columns) == 1:
        only = columns[0]
        return lambda row: (row[only],)
    return operator.itemgetter(*columns) if columns else (lambda row: ())

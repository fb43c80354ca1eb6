"""Our own row checks: what the official FOCUS validator misses (focus.md §0.5, §3.6, §3.8).

The validator does not check enum values per row, the exact date-time format, the cost identities, the `x_`
prefix on custom columns or decimal formatting. These checks run on every export; a failure is our bug (exit 6).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation

from llm_cost.errors import VerificationError
from llm_cost.focus.columns import ALL_FOCUS, DATETIME_COLUMNS, DECIMAL_COLUMNS, JSON_COLUMNS, NOT_NULL
from llm_cost.focus.mapping import FocusRow

DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DECIMAL_RE = re.compile(r"^-?\d+\.\d+$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
CUSTOM_COLUMN_RE = re.compile(r"^x_[A-Za-z0-9]+$")

SERVICE_CATEGORIES = frozenset({
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases", "Developer Tools",
    "Multicloud", "Identity", "Integration", "Internet of Things", "Management and Governance", "Media",
    "Migration", "Mobile", "Networking", "Security", "Storage", "Web", "Other",
})  # fmt: skip
AI_SUBCATEGORIES = frozenset({
    "AI Platforms", "Bots", "Generative AI", "Machine Learning", "Natural Language Processing",
    "Other (AI and Machine Learning)",
})  # fmt: skip

# Allowed values per column; None in a set means the column may be null.
ENUMS: dict[str, frozenset[str | None]] = {
    "ChargeCategory": frozenset({"Usage", "Purchase", "Tax", "Credit", "Adjustment"}),
    "ChargeClass": frozenset({None, "Correction"}),
    "ChargeFrequency": frozenset({"One-Time", "Recurring", "Usage-Based"}),
    "PricingCategory": frozenset({None, "Standard", "Dynamic", "Committed", "Other"}),
    "CommitmentDiscountCategory": frozenset({None, "Spend", "Usage"}),
    "CommitmentDiscountStatus": frozenset({None, "Used", "Unused"}),
    "CapacityReservationStatus": frozenset({None, "Used", "Unused"}),
    "ServiceCategory": frozenset(SERVICE_CATEGORIES),
}

# Pairs that FOCUS says are null together.
NULL_TOGETHER = (("ConsumedQuantity", "ConsumedUnit"), ("PricingQuantity", "PricingUnit"))
# unit price x PricingQuantity == cost, whenever both are present.
IDENTITIES = (("ListUnitPrice", "ListCost"), ("ContractedUnitPrice", "ContractedCost"))
# Columns that must equal another column for our pay-as-you-go rows.
EQUALS = (
    ("EffectiveCost", "BilledCost"),
    ("PricingCurrencyEffectiveCost", "EffectiveCost"),
    ("PricingCurrencyListUnitPrice", "ListUnitPrice"),
    ("PricingCurrencyContractedUnitPrice", "ContractedUnitPrice"),
)
MAX_REPORTED = 10


def check_header(columns: Sequence[str]) -> list[str]:
    """Problems with a header: duplicates, and custom columns without the `x_` prefix."""
    problems = [f"column {c!r} is not FOCUS and lacks the x_ prefix" for c in columns
                if c not in ALL_FOCUS and not CUSTOM_COLUMN_RE.match(c)]  # fmt: skip
    problems += [f"column {c!r} appears twice" for c in sorted({c for c in columns if list(columns).count(c) > 1})]
    return problems


def _flat_json_object(text: str) -> str | None:
    """None if `text` is a flat JSON object (FOCUS KeyValue format), else what is wrong with it."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"is not valid JSON ({exc.args[0] if exc.args else exc})"
    if not isinstance(value, dict):
        return "is not a JSON object"
    nested = [k for k, v in value.items() if isinstance(v, dict | list)]
    return f"has nested values under {nested}" if nested else None


def check_row(row: FocusRow, columns: Iterable[str]) -> list[str]:
    """Every problem with one row, restricted to the columns that are written."""
    present = set(columns)
    problems: list[str] = []
    get = row.get
    for column in sorted(present & NOT_NULL):
        if get(column) in (None, ""):
            problems.append(f"{column} is null but FOCUS requires a value")
    for column, allowed in ENUMS.items():
        if column in present and (get(column) or None) not in allowed:
            problems.append(f"{column}={get(column)!r} is not an allowed value")
    if "ServiceSubcategory" in present and get("ServiceCategory") == "AI and Machine Learning":
        if get("ServiceSubcategory") not in AI_SUBCATEGORIES:
            problems.append(f"ServiceSubcategory={get('ServiceSubcategory')!r} is not under AI and Machine Learning")
    for column in ("BillingCurrency", "PricingCurrency"):
        value = get(column)
        if column in present and value and not CURRENCY_RE.match(value):
            problems.append(f"{column}={value!r} is not an ISO 4217 code")
    for column in sorted(present & DATETIME_COLUMNS):
        value = get(column)
        if value and not DATETIME_RE.match(value):
            problems.append(f"{column}={value!r} is not YYYY-MM-DDTHH:mm:ssZ")
    numbers: dict[str, Decimal] = {}
    for column in sorted(present & DECIMAL_COLUMNS):
        value = get(column)
        if not value:
            continue
        if not DECIMAL_RE.match(value):
            problems.append(f"{column}={value!r} is not a fixed-point decimal with a '.'")
            continue
        try:
            numbers[column] = Decimal(value)
        except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
            problems.append(f"{column}={value!r} is not a number")
    for column in sorted(present & JSON_COLUMNS):
        value = get(column)
        if value and (why := _flat_json_object(value)):
            problems.append(f"{column} {why}")
    if "SkuPriceDetails" in present and get("SkuPriceDetails"):
        try:
            bad = [k for k in json.loads(get("SkuPriceDetails") or "{}") if not k.startswith("x_")]
        except (ValueError, TypeError):
            bad = []
        if bad:
            problems.append(f"SkuPriceDetails keys {bad} are not FOCUS keys and lack the x_ prefix")
    problems += _check_semantics(row, present, numbers)
    return problems


def _check_semantics(row: FocusRow, present: set[str], numbers: dict[str, Decimal]) -> list[str]:
    """Null pairing, the cost identities and the equalities of pay-as-you-go usage rows."""
    problems: list[str] = []
    for quantity, unit in NULL_TOGETHER:
        if quantity in present and unit in present and bool(row.get(quantity)) != bool(row.get(unit)):
            problems.append(f"{quantity} and {unit} must be null together")
    if row.get("ChargeCategory") == "Usage":
        for column in ("ConsumedQuantity", "PricingQuantity"):
            if column in present and not row.get(column):
                problems.append(f"{column} must not be null on a Usage row")
    quantity = numbers.get("PricingQuantity")
    for unit_price, cost in IDENTITIES:
        if quantity is not None and unit_price in numbers and cost in numbers:
            if numbers[unit_price] * quantity != numbers[cost]:
                problems.append(
                    f"{unit_price} x PricingQuantity = {numbers[unit_price] * quantity} but {cost} = {numbers[cost]}"
                )
        if numbers.get(unit_price, Decimal(0)) < 0:
            problems.append(f"{unit_price} is negative")
    for left, right in EQUALS:
        if left in present and right in present and numbers.get(left) != numbers.get(right):
            problems.append(f"{left}={row.get(left)!r} differs from {right}={row.get(right)!r}")
    start, end = row.get("ChargePeriodStart"), row.get("ChargePeriodEnd")
    if start and end and DATETIME_RE.match(start) and DATETIME_RE.match(end) and end <= start:
        problems.append("ChargePeriodEnd is not after ChargePeriodStart")
    return problems


class RowChecker:
    """Checks a stream of rows against one header and raises VerificationError on the first failure."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self.rows = 0
        if problems := check_header(self.columns):
            raise VerificationError(f"FOCUS self-check failed on the header: {'; '.join(problems)}")

    def check(self, row: FocusRow) -> None:
        """Check one row; raise with the row number and its problems."""
        self.rows += 1
        if problems := check_row(row, self.columns):
            shown = "; ".join(problems[:MAX_REPORTED])
            raise VerificationError(f"FOCUS self-check failed on row {self.rows}: {shown} (this is a bug in llm-cost)")


def check_group_total(rows: Sequence[FocusRow], expected: Decimal, what: str) -> Decimal:
    """The BilledCost of a group's rows must sum exactly to the group's cost; returns that sum."""
    total = sum((Decimal(r["BilledCost"] or "0") for r in rows), Decimal(0))
    if total != expected:
        raise VerificationError(f"FOCUS self-check failed: rows of {what} sum to {total}, not {expected}")
    return total

"""Our own row checks: what the official FOCUS validator misses (focus.md §0.5, §3.6, §3.8).

The validator does not check enum values per row, the exact date-time format, the cost identities, the `x_`
prefix on custom columns or decimal formatting. These checks run on every export; a failure is our bug (exit 6).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

import msgspec

from llm_cost.errors import VerificationError
from llm_cost.focus.columns import (
    ALL_FOCUS,
    DATETIME_COLUMNS,
    DECIMAL_COLUMNS,
    JSON_COLUMNS,
    NOT_NULL,
)
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


_JSON_OBJECT = msgspec.json.Decoder(dict[str, Any])
_SCALAR = (str, int, float, bool, type(None))


def _flat_json_object(text: str) -> str | None:
    """None if `text` is a flat JSON object (FOCUS KeyValue format), else what is wrong with it."""
    try:
        value = _JSON_OBJECT.decode(text)
    except msgspec.ValidationError:
        return "is not a JSON object"
    except msgspec.DecodeError as exc:
        return f"is not valid JSON ({exc})"
    nested = [k for k, v in value.items() if not isinstance(v, _SCALAR)]
    return f"has nested values under {nested}" if nested else None


def _sku_price_details(text: str) -> str | None:
    """None unless SkuPriceDetails holds keys that are neither FOCUS keys nor `x_`-prefixed."""
    try:
        bad = [k for k in _JSON_OBJECT.decode(text) if not k.startswith("x_")]
    except msgspec.MsgspecError:
        return None  # reported by the flat-object check
    return f"SkuPriceDetails keys {bad} are not FOCUS keys and lack the x_ prefix" if bad else None


class RowChecker:
    """Checks a stream of rows against one header and raises VerificationError on the first failure.

    The per-column checks are planned once for the header. A value that passed its column's checks before is not
    checked again (most values repeat across rows: providers, models, periods, unit prices), so the cost per row
    is the values that are new plus the row-level rules (null pairs, cost identities, equalities).
    """

    MEMO_LIMIT = 4096  # per column: bounded, so unique values (costs, Tags) cannot grow memory

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self.rows = 0
        if problems := check_header(self.columns):
            raise VerificationError(f"FOCUS self-check failed on the header: {'; '.join(problems)}")
        present = set(self.columns)
        self.present = present
        self._not_null = sorted(present & NOT_NULL)
        self._value_columns = [c for c in self.columns if c in _VALUE_CHECKS]
        self._decimal_columns = sorted(present & DECIMAL_COLUMNS)
        self._passed: dict[str, set[str | None]] = {c: set() for c in self._value_columns}
        self._service = "ServiceSubcategory" in present

    def problems(self, row: FocusRow) -> list[str]:
        """Every problem with one row, restricted to the columns that are written."""
        get = row.get
        problems = [f"{c} is null but FOCUS requires a value" for c in self._not_null if get(c) in (None, "")]
        for column in self._value_columns:
            value = get(column)
            passed = self._passed[column]
            if value in passed:
                continue
            found = _VALUE_CHECKS[column](column, value)
            if found:
                problems += found
            else:
                if len(passed) >= self.MEMO_LIMIT:
                    passed.clear()
                passed.add(value)
        subcategory = get("ServiceSubcategory")
        if self._service and get("ServiceCategory") == "AI and Machine Learning" and subcategory not in AI_SUBCATEGORIES:
            problems.append(f"ServiceSubcategory={subcategory!r} is not under AI and Machine Learning")
        numbers: dict[str, Decimal] = {}
        for column in self._decimal_columns:
            value = get(column)
            if value and DECIMAL_RE.match(value):
                numbers[column] = Decimal(value)
        return problems + _check_semantics(row, self.present, numbers)

    def check(self, row: FocusRow) -> None:
        """Check one row; raise with the row number and its problems."""
        self.rows += 1
        if problems := self.problems(row):
            shown = "; ".join(problems[:MAX_REPORTED])
            raise VerificationError(f"FOCUS self-check failed on row {self.rows}: {shown} (this is a bug in llm-cost)")


def check_row(row: FocusRow, columns: Iterable[str]) -> list[str]:
    """Every problem with one row, restricted to the columns that are written."""
    return RowChecker(tuple(columns)).problems(row)


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


def _enum(column: str, value: str | None) -> list[str]:
    return [] if (value or None) in ENUMS[column] else [f"{column}={value!r} is not an allowed value"]


def _currency(column: str, value: str | None) -> list[str]:
    return [f"{column}={value!r} is not an ISO 4217 code"] if value and not CURRENCY_RE.match(value) else []


def _datetime(column: str, value: str | None) -> list[str]:
    return [f"{column}={value!r} is not YYYY-MM-DDTHH:mm:ssZ"] if value and not DATETIME_RE.match(value) else []


def _decimal(column: str, value: str | None) -> list[str]:
    if value and not DECIMAL_RE.match(value):
        return [f"{column}={value!r} is not a fixed-point decimal with a '.'"]
    return []


def _json(column: str, value: str | None) -> list[str]:
    problems = [f"{column} {why}"] if value and (why := _flat_json_object(value)) else []
    if column == "SkuPriceDetails" and value and not problems and (why := _sku_price_details(value)):
        problems.append(why)
    return problems


_VALUE_CHECKS: dict[str, Callable[[str, str | None], list[str]]] = {
    **dict.fromkeys(ENUMS, _enum),
    "BillingCurrency": _currency,
    "PricingCurrency": _currency,
    **dict.fromkeys(DATETIME_COLUMNS, _datetime),
    **dict.fromkeys(DECIMAL_COLUMNS, _decimal),
    **dict.fromkeys(JSON_COLUMNS, _json),
}


def check_group_total(rows: Sequence[FocusRow], expected: Decimal, what: str) -> Decimal:
    """The BilledCost of a group's rows must sum exactly to the group's cost; returns that sum."""
    total = sum((Decimal(r["BilledCost"] or "0") for r in rows), Decimal(0))
    if total != expected:
        raise VerificationError(f"FOCUS self-check failed: rows of {what} sum to {total}, not {expected}")
    return total

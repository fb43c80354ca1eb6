"""Our own row checks: what the official FOCUS validator misses (focus.md §0.5, §3.6, §3.8).

The validator does not check enum values per row, the exact date-time format, the cost identities, the `x_`
prefix on custom columns or decimal formatting. These checks run on every export; a failure is our bug (exit 6).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
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
    values_of,
)
from llm_cost.focus.mapping import PRICE_TOLERANCE, FocusRow
from llm_cost.records import EXACT

DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DECIMAL_RE = re.compile(r"^-?\d+\.\d+$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
CUSTOM_COLUMN_RE = re.compile(r"^x_[A-Za-z0-9]+$")

SERVICE_CATEGORIES = frozenset(
    {
        "AI and Machine Learning",
        "Analytics",
        "Business Applications",
        "Compute",
        "Databases",
        "Developer Tools",
        "Multicloud",
        "Identity",
        "Integration",
        "Internet of Things",
        "Management and Governance",
        "Media",
        "Migration",
        "Mobile",
        "Networking",
        "Security",
        "Storage",
        "Web",
        "Other",
    }
)
AI_SUBCATEGORIES = frozenset(
    {
        "AI Platforms",
        "Bots",
        "Generative AI",
        "Machine Learning",
        "Natural Language Processing",
        "Other (AI and Machine Learning)",
    }
)

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
# unit price x PricingQuantity == cost, whenever both are present: exactly, or within PRICE_TOLERANCE (relative)
# where the unit price of a reported cost was rounded to its significant digits.
IDENTITIES = (("ListUnitPrice", "ListCost"), ("ContractedUnitPrice", "ContractedCost"))
# Columns that must equal another column for our pay-as-you-go rows.
EQUALS = (
    ("EffectiveCost", "BilledCost"),
    ("PricingCurrencyEffectiveCost", "EffectiveCost"),
    ("PricingCurrencyListUnitPrice", "ListUnitPrice"),
    ("PricingCurrencyContractedUnitPrice", "ContractedUnitPrice"),
)
MAX_REPORTED = 10
# Columns that hold a new value on nearly every row: checked per row rather than remembered.
PER_ROW = frozenset(
    {
        "BilledCost",
        "EffectiveCost",
        "PricingCurrencyEffectiveCost",
        "ListCost",
        "ContractedCost",
        "ConsumedQuantity",
        "PricingQuantity",
        "Tags",
        "ChargePeriodStart",
        "ChargePeriodEnd",
    }
)


def check_header(columns: Sequence[str]) -> list[str]:
    """Problems with a header: duplicates, and custom columns without the `x_` prefix."""
    problems = [
        f"column {c!r} is not FOCUS and lacks the x_ prefix"
        for c in columns
        if c not in ALL_FOCUS and not CUSTOM_COLUMN_RE.match(c)
    ]
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


# SkuPriceDetails keys FOCUS defines that we write: the model identity of the accepted FOCUS AI proposal.
SKU_PRICE_DETAIL_KEYS = frozenset({"ModelDeveloper", "ModelFamily", "ModelId", "ModelVersion"})


def _sku_price_details(text: str) -> str | None:
    """None unless SkuPriceDetails holds keys that are neither FOCUS keys nor `x_`-prefixed."""
    try:
        bad = [k for k in _JSON_OBJECT.decode(text) if not k.startswith("x_") and k not in SKU_PRICE_DETAIL_KEYS]
    except msgspec.MsgspecError:
        return None  # reported by the flat-object check
    return f"SkuPriceDetails keys {bad} are not FOCUS keys and lack the x_ prefix" if bad else None


class RowChecker:
    """Checks a stream of rows against one header and raises VerificationError on the first failure.

    The checks are planned once for the header. Columns whose values repeat from row to row (enums, currencies,
    periods, unit prices, SKU details) are checked once per distinct combination; costs, quantities and Tags,
    and the row-level rules (null pairs, cost identities, equalities), on every row.
    """

    MEMO_LIMIT = 4096  # combinations remembered: bounded, so memory cannot grow with the rows

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self.rows = 0
        if problems := check_header(self.columns):
            raise VerificationError(f"FOCUS self-check failed on the header: {'; '.join(problems)}")
        present = set(self.columns)
        self.present = present
        self._not_null = sorted(present & NOT_NULL)
        self._not_null_values = values_of(self._not_null)
        # Columns whose values repeat from row to row are checked together, once per distinct combination; the
        # rest (costs, quantities, Tags) are checked on every row.
        checked = [c for c in self.columns if c in _VALUE_CHECKS]
        self._repeated = [c for c in checked if c not in PER_ROW]
        self._repeated_values = values_of(self._repeated)
        self._repeated_seen: set[tuple[str | None, ...]] = set()
        self._unique = [c for c in checked if c in PER_ROW]
        self._service = "ServiceSubcategory" in present and "ServiceCategory" in present

    def problems(self, row: FocusRow) -> list[str]:
        """Every problem with one row, restricted to the columns that are written."""
        try:
            return self._problems(row)
        except KeyError:  # a row without some columns: they are nulls
            return self._problems({**dict.fromkeys(self.columns), **row})

    def _problems(self, row: FocusRow) -> list[str]:
        problems: list[str] = []
        values = self._not_null_values(row)
        if None in values or "" in values:
            problems += [
                f"{c} is null but FOCUS requires a value"
                for c, v in zip(self._not_null, values, strict=True)
                if v in (None, "")
            ]
        repeated = self._repeated_values(row)
        if repeated not in self._repeated_seen:
            found = [p for c, v in zip(self._repeated, repeated, strict=True) for p in _VALUE_CHECKS[c](c, v)]
            if found:
                problems += found
            else:
                if len(self._repeated_seen) >= self.MEMO_LIMIT:
                    self._repeated_seen.clear()
                self._repeated_seen.add(repeated)
        for column in self._unique:
            problems += _VALUE_CHECKS[column](column, row[column])
        subcategory = row["ServiceSubcategory"] if self._service else None
        if (
            self._service
            and row["ServiceCategory"] == "AI and Machine Learning"
            and subcategory not in AI_SUBCATEGORIES
        ):
            problems.append(f"ServiceSubcategory={subcategory!r} is not under AI and Machine Learning")
        return problems + _check_semantics(row, self.present)

    def check(self, row: FocusRow) -> None:
        """Check one row; raise with the row number and its problems."""
        self.rows += 1
        if problems := self.problems(row):
            shown = "; ".join(problems[:MAX_REPORTED])
            raise VerificationError(f"FOCUS self-check failed on row {self.rows}: {shown} (this is a bug in llm-cost)")


def _check_semantics(row: FocusRow, present: set[str]) -> list[str]:
    """Null pairing, the cost identities and the equalities of pay-as-you-go usage rows."""
    problems: list[str] = []
    get = row.get
    for quantity, unit in NULL_TOGETHER:
        if quantity in present and unit in present and bool(get(quantity)) != bool(get(unit)):
            problems.append(f"{quantity} and {unit} must be null together")
    if get("ChargeCategory") == "Usage":
        for column in ("ConsumedQuantity", "PricingQuantity"):
            if column in present and not get(column):
                problems.append(f"{column} must not be null on a Usage row")
    pricing_quantity = _number(row, "PricingQuantity", present)
    for unit_price_column, cost_column in IDENTITIES:
        unit_price = _number(row, unit_price_column, present)
        if unit_price is None:
            continue
        cost = _number(row, cost_column, present)
        product = EXACT.multiply(unit_price, pricing_quantity) if pricing_quantity is not None else None
        if product is not None and cost is not None and abs(product - cost) > PRICE_TOLERANCE * abs(cost):
            problems.append(f"{unit_price_column} x PricingQuantity = {product} but {cost_column} = {cost}")
        if unit_price < 0:
            problems.append(f"{unit_price_column} is negative")
    for left, right in EQUALS:
        differ = left in present and right in present and get(left) != get(right)
        if differ and _number(row, left, present) != _number(row, right, present):
            problems.append(f"{left}={get(left)!r} differs from {right}={get(right)!r}")
    start, end = get("ChargePeriodStart"), get("ChargePeriodEnd")
    if start and end and DATETIME_RE.match(start) and DATETIME_RE.match(end) and end <= start:
        problems.append("ChargePeriodEnd is not after ChargePeriodStart")
    return problems


def _number(row: FocusRow, column: str, present: set[str]) -> Decimal | None:
    """A written decimal column's value, or None when it is absent, null or not a fixed-point decimal."""
    value = row.get(column) if column in present else None
    return Decimal(value) if value and DECIMAL_RE.match(value) else None


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
    total = Decimal(0)
    for row in rows:
        total = EXACT.add(total, Decimal(row["BilledCost"] or "0"))
    if total != expected:
        raise VerificationError(f"FOCUS self-check failed: rows of {what} sum to {total}, not {expected}")
    return total

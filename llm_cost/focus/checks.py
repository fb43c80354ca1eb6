"""Our own row checks: what the official FOCUS validator misses (focus.md §0.5, §3.6, §3.8).

The validator does not check enum values per row, the exact date-time format, the cost identities, the `x_`
prefix on custom columns or decimal formatting. These checks run on every export; a failure is our bug (exit 6).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple, cast

import msgspec

from llm_cost.errors import VerificationError
from llm_cost.focus.columns import (
    ALL_FOCUS,
    DATETIME_COLUMNS,
    DECIMAL_COLUMNS,
    JSON_COLUMNS,
    NOT_NULL,
)
from llm_cost.focus.mapping import PRICE_TOLERANCE
from llm_cost.focus.rowset import VARYING, VARYING_SET, FocusRow, RowSet, RowShape, derived_key
from llm_cost.records import EXACT

# Fixed-point decimals joined by commas (possessive, so a failing text is not backtracked through).
_DECIMALS = re.compile(r"(?:-?\d++\.\d++,)*+-?\d++\.\d++\Z").match
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
VALUE_MEMO = 8192  # column values whose problems are remembered


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


class _ShapeVerdict(NamedTuple):
    """What a row shape's columns tell the checks, found once per shape."""

    problems: list[str]
    unit_prices: list[Decimal | None]  # of the identities, in their order
    units_set: bool  # every unit of the null pairs is set
    usage: bool  # ChargeCategory is Usage


class RowChecker:
    """Checks a stream of rows against one header and raises VerificationError on the first failure.

    Rows come as `RowSet`s (a group's rows: shapes and per-row values) or as dicts (made into a set of one). The
    columns of a row's shape (enums, currencies, the billing period, unit prices, SKU details, names) are checked
    once per shape, which the mapping shares between rows and groups; the VARYING columns (costs, quantities, the
    charge period) and the row-level rules (null pairs, cost identities, equalities, the period's order) on every
    row, a charge period's format once per distinct period. Tags, built for a group from one template, are checked
    on the first row of each set.
    """

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self.rows = 0
        if problems := check_header(self.columns):
            raise VerificationError(f"FOCUS self-check failed on the header: {'; '.join(problems)}")
        present = set(self.columns)
        self.present = present
        self._key = derived_key("checks", self.columns)  # a shape's verdict, shared by every checker of this header
        self._shape_columns = [c for c in self.columns if c not in VARYING_SET]
        self._shape_not_null = [c for c in self._shape_columns if c in NOT_NULL]
        self._shape_checked = [c for c in self._shape_columns if c in _VALUE_CHECKS]
        self._checked_values: dict[tuple[str, str | None], list[str]] = {}
        self._service = "ServiceSubcategory" in present and "ServiceCategory" in present
        # The VARYING columns written, as (index in the row's values, column).
        written = [(at, c) for at, c in enumerate(VARYING) if c in present]
        self._row_not_null = [(at, c) for at, c in written if c in NOT_NULL]
        self._row_decimals = [(at, c) for at, c in written if c in DECIMAL_COLUMNS]
        self._row_datetimes = [(at, c) for at, c in written if c in DATETIME_COLUMNS]
        self._period_at = (
            (VARYING.index("ChargePeriodStart"), VARYING.index("ChargePeriodEnd"))
            if {"ChargePeriodStart", "ChargePeriodEnd"} <= present
            else None
        )
        datetime_at = [at for at, _ in self._row_datetimes]
        self._period_in = (
            (datetime_at.index(self._period_at[0]), datetime_at.index(self._period_at[1])) if self._period_at else None
        )
        self._periods_seen: set[tuple[str | None, ...]] = set()  # written datetimes already found well formed
        self._tags_at = VARYING.index("Tags") if "Tags" in present else None
        self._identities = [
            (unit, VARYING.index(cost)) for unit, cost in IDENTITIES if unit in present and cost in present
        ]
        self._row_equals = [
            (VARYING.index(left), VARYING.index(right))
            for left, right in EQUALS
            if left in VARYING_SET and right in VARYING_SET and left in present and right in present
        ]
        self._pricing_quantity = "PricingQuantity" in present
        self._equals_left = _getter([left for left, _ in self._row_equals])
        self._equals_right = _getter([right for _, right in self._row_equals])
        # The quick test of check_set: the written decimals (every one, so none is null), the identities by index.
        self._decimals_of = _getter([at for at, _ in self._row_decimals])
        self._datetimes_of = _getter([at for at, _ in self._row_datetimes])
        self._quantity_at = VARYING.index("PricingQuantity")
        self._identities_at = (
            [(at, cost_at) for at, (_, cost_at) in enumerate(self._identities)] if self._pricing_quantity else []
        )
        self._null_together = [
            (VARYING.index(quantity), unit)
            for quantity, unit in NULL_TOGETHER
            if quantity in present and unit in present
        ]
        self._usage_quantities = [
            (VARYING.index(c), c) for c in ("ConsumedQuantity", "PricingQuantity") if c in present
        ]

    def problems(self, row: FocusRow) -> list[str]:
        """Every problem with one row, restricted to the columns that are written (a missing column is a null)."""
        shape = RowShape({c: row.get(c) for c in self.columns if c not in VARYING_SET})
        values = tuple(row.get(c) for c in VARYING)
        return self._set_problems(RowSet([shape], [values]), 0)

    def check(self, row: FocusRow) -> None:
        """Check one row; raise with the row number and its problems."""
        self.rows += 1
        self._raise(self.problems(row), self.rows)

    def check_set(self, rows: RowSet) -> None:
        """Check a group's rows; raise with the first bad row's number and its problems. A row that passes the quick
        test (what the full check demands, tested all at once) is not checked again in detail."""
        key, decimals, identities, datetimes_of = self._key, self._decimals_of, self._identities_at, self._datetimes_of
        equals_left, equals_right = self._equals_left, self._equals_right
        for at, (shape, values) in enumerate(zip(rows.shapes, rows.values, strict=True)):
            self.rows += 1
            verdict = cast(_ShapeVerdict | None, shape.derived.get(key))
            if verdict is None:
                verdict = shape.derived[key] = self._shape_verdict(shape.values)
            problems, unit_prices, units_set, _ = verdict
            try:
                numbers = ",".join(decimals(values))  # type: ignore[arg-type]
            except TypeError:  # a null among them
                numbers = ""
            clean = not problems and units_set and _DECIMALS(numbers) is not None
            if clean and (datetimes := datetimes_of(values)) not in self._periods_seen:
                clean = self._datetimes_clean(datetimes)
            if clean and at == 0 and self._tags_at is not None and (tags := values[self._tags_at]):
                clean = _flat_json_object(tags) is None
            if clean and identities:
                quantity = Decimal(values[self._quantity_at])  # type: ignore[arg-type]
                for unit_at, cost_at in identities:
                    unit_price = unit_prices[unit_at]
                    if unit_price is not None:
                        cost = Decimal(values[cost_at])  # type: ignore[arg-type]
                        if abs(EXACT.multiply(unit_price, quantity) - cost) > PRICE_TOLERANCE * abs(cost):
                            clean = False
            if clean and equals_left(values) == equals_right(values):
                continue
            self._raise(self._set_problems(rows, at), self.rows)

    def _datetimes_clean(self, datetimes: tuple[str | None, ...]) -> bool:
        """Whether a row's written datetimes (its charge period) are well formed and in order; remembered when so."""
        if not all(value and DATETIME_RE.match(value) for value in datetimes):
            return False
        if self._period_in is not None and datetimes[self._period_in[1]] <= datetimes[self._period_in[0]]:  # type: ignore[operator]
            return False
        if len(self._periods_seen) >= VALUE_MEMO:
            self._periods_seen.clear()
        self._periods_seen.add(datetimes)
        return True

    @staticmethod
    def _raise(problems: list[str], number: int) -> None:
        if problems:
            shown = "; ".join(problems[:MAX_REPORTED])
            raise VerificationError(f"FOCUS self-check failed on row {number}: {shown} (this is a bug in llm-cost)")

    def _set_problems(self, rows: RowSet, at: int) -> list[str]:
        shape = rows.shapes[at]
        verdict = cast(_ShapeVerdict | None, shape.derived.get(self._key))
        if verdict is None:
            verdict = shape.derived[self._key] = self._shape_verdict(shape.values)
        problems, unit_prices, _, usage = verdict
        problems = list(problems)
        units = {unit: shape.values.get(unit) for _, unit in NULL_TOGETHER}
        values = rows.values[at]
        for index, column in self._row_not_null:
            if not values[index]:
                problems.append(f"{column} is null but FOCUS requires a value")
        for index, column in self._row_decimals + self._row_datetimes:
            problems += _VALUE_CHECKS[column](column, values[index])
        if self._period_at is not None:
            start, end = (values[i] for i in self._period_at)
            if start and end and DATETIME_RE.match(start) and DATETIME_RE.match(end) and end <= start:
                problems.append("ChargePeriodEnd is not after ChargePeriodStart")
        if self._tags_at is not None and at == 0 and (tags := values[self._tags_at]):
            problems += _json("Tags", tags)
        for index, unit in self._null_together:
            if bool(values[index]) != bool(units[unit]):
                problems.append(f"{VARYING[index]} and {unit} must be null together")
        if usage:
            for index, column in self._usage_quantities:
                if not values[index]:
                    problems.append(f"{column} must not be null on a Usage row")
        if self._identities:
            quantity = _decimal_value(values[VARYING.index("PricingQuantity")]) if self._pricing_quantity else None
            for (unit_column, cost_index), unit_price in zip(self._identities, unit_prices, strict=True):
                cost = _decimal_value(values[cost_index])
                if unit_price is None or quantity is None or cost is None:
                    continue
                product = EXACT.multiply(unit_price, quantity)
                if abs(product - cost) > PRICE_TOLERANCE * abs(cost):
                    problems.append(f"{unit_column} x PricingQuantity = {product} but {VARYING[cost_index]} = {cost}")
        for left, right in self._row_equals:
            if values[left] != values[right] and _decimal_value(values[left]) != _decimal_value(values[right]):
                problems.append(f"{VARYING[left]}={values[left]!r} differs from {VARYING[right]}={values[right]!r}")
        return problems

    def _value_problems(self, column: str, value: str | None) -> list[str]:
        """The problems of one column's value, remembered (bounded): a new shape mostly repeats values checked
        before (its period, provider, model, SKU details)."""
        memo = (column, value)
        found = self._checked_values.get(memo)
        if found is None:
            if len(self._checked_values) >= VALUE_MEMO:
                self._checked_values.clear()
            found = self._checked_values[memo] = _VALUE_CHECKS[column](column, value)
        return found

    def _shape_verdict(self, shape: Mapping[str, str | None]) -> _ShapeVerdict:
        """What a shape's columns tell, once: their problems, the unit prices of the identities (in their order),
        whether every unit of the null pairs is set, and whether the rows are Usage rows."""
        get = shape.get
        problems = [f"{c} is null but FOCUS requires a value" for c in self._shape_not_null if get(c) in (None, "")]
        problems += [p for c in self._shape_checked for p in self._value_problems(c, get(c))]
        subcategory = get("ServiceSubcategory")
        if (
            self._service
            and get("ServiceCategory") == "AI and Machine Learning"
            and subcategory not in AI_SUBCATEGORIES
        ):
            problems.append(f"ServiceSubcategory={subcategory!r} is not under AI and Machine Learning")
        present = self.present
        for left, right in EQUALS:
            if left in VARYING_SET or right in VARYING_SET or left not in present or right not in present:
                continue
            if get(left) != get(right) and _decimal_value(get(left)) != _decimal_value(get(right)):
                problems.append(f"{left}={get(left)!r} differs from {right}={get(right)!r}")
        for unit_column, _ in IDENTITIES:
            unit_price = _decimal_value(get(unit_column)) if unit_column in present else None
            if unit_price is not None and unit_price < 0:
                problems.append(f"{unit_column} is negative")
        unit_prices = [_decimal_value(get(unit_column)) for unit_column, _ in self._identities]
        units_set = all(get(unit) for _, unit in self._null_together)
        return _ShapeVerdict(problems, unit_prices, units_set, get("ChargeCategory") == "Usage")


def _getter(indexes: list[int]) -> Callable[[Sequence[str | None]], tuple[str | None, ...]]:
    """The values at these indexes, always as a tuple."""
    if len(indexes) > 1:
        return operator.itemgetter(*indexes)
    return lambda values: tuple(values[i] for i in indexes)


def _decimal_value(value: str | None) -> Decimal | None:
    """A decimal column's value, or None when it is null or not a fixed-point decimal."""
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


def check_group_total(rows: RowSet, expected: Decimal, what: str | Callable[[], str]) -> Decimal:
    """The BilledCost of a group's rows, as written, must sum exactly to the group's cost; returns that sum. `what`
    names the group in the error (a callable is called only then, so a name costs nothing on every group)."""
    total = Decimal(0)
    for values in rows.values:
        total = EXACT.add(total, Decimal(values[0] or "0"))  # BilledCost is VARYING[0]
    if total != expected:
        name = what if isinstance(what, str) else what()
        raise VerificationError(f"FOCUS self-check failed: rows of {name} sum to {total}, not {expected}")
    return total

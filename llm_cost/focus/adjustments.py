"""PURE: negotiated rates on reported spend, the `[adjustments.NAME]` tables of llm-cost.toml.

An adjustment matches a provider slug (`azure`, `bedrock`), a model, or both, and turns the spend a proxy reported at
list price into what the company pays: spend x (1 - discount_pct/100) x (1 + markup_pct/100), exactly. The most
specific match wins: provider and model, then model, then provider; two adjustments at the same level that both
match are a configuration error, found when the tables are read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from llm_cost.records import EXACT

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Adjustment:
    """One negotiated rate: which usage it covers and the factor it applies to the reported spend."""

    name: str
    provider: str | None
    model: str | None
    discount_pct: Decimal = Decimal(0)
    markup_pct: Decimal = Decimal(0)

    @property
    def factor(self) -> Decimal:
        """(1 - discount) x (1 + markup), exact."""
        keep = EXACT.subtract(Decimal(1), EXACT.divide(self.discount_pct, _HUNDRED))
        return EXACT.multiply(keep, EXACT.add(Decimal(1), EXACT.divide(self.markup_pct, _HUNDRED)))

    @property
    def specificity(self) -> int:
        """2 for provider and model, 1 for a model, 0 for a provider."""
        return (self.model is not None) + (self.model is not None and self.provider is not None)

    def matches(self, provider: str, model: str) -> bool:
        """True when this adjustment covers the usage of `model` through `provider` (slugs compare without case)."""
        return (self.provider is None or self.provider == provider.lower()) and (
            self.model is None or self.model == model
        )


@dataclass(frozen=True, slots=True)
class Adjustments:
    """The configured adjustments, and the choice of one for a (provider, model)."""

    items: tuple[Adjustment, ...] = ()

    def for_usage(self, provider: str, model: str) -> Adjustment | None:
        """The most specific adjustment covering this usage, or None."""
        best: Adjustment | None = None
        for item in self.items:
            if item.matches(provider, model) and (best is None or item.specificity > best.specificity):
                best = item
        return best

    def __bool__(self) -> bool:
        return bool(self.items)


def parse_adjustments(table: object, where: str) -> Adjustments:
    """The `[adjustments.NAME]` tables; a ValueError names the table and the problem."""
    if table is None:
        return Adjustments()
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: [adjustments] must be a table of [adjustments.NAME] tables")
    items = [_parse_one(str(name), body, where) for name, body in table.items()]
    _refuse_overlaps(items, where)
    return Adjustments(tuple(items))


def _parse_one(name: str, body: object, where: str) -> Adjustment:
    label = f"{where}: [adjustments.{name}]"
    if not _NAME_RE.match(name):
        raise ValueError(f"{label}: the name must be letters, digits, '-', '_' or '.'")
    if not isinstance(body, Mapping):
        raise ValueError(f"{label} must be a table")
    unknown = sorted(set(body) - {"provider", "model", "discount_pct", "markup_pct"})
    if unknown:
        raise ValueError(f"{label}: unknown key(s) {', '.join(unknown)}")
    provider, model = body.get("provider"), body.get("model")
    for key, value in (("provider", provider), ("model", model)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"{label}: {key} must be a non-empty string")
    if provider is None and model is None:
        raise ValueError(f"{label}: give a provider, a model or both")
    if "discount_pct" not in body and "markup_pct" not in body:
        raise ValueError(f"{label}: give discount_pct, markup_pct or both")
    discount = _percent(body.get("discount_pct", 0), f"{label} discount_pct", upper=_HUNDRED)
    markup = _percent(body.get("markup_pct", 0), f"{label} markup_pct", upper=None)
    return Adjustment(name, provider.strip().lower() if provider else None, model, discount, markup)


def _percent(value: object, label: str, *, upper: Decimal | None) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float | str):
        raise ValueError(f"{label}: {value!r} is not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{label}: {value!r} is not a number") from None
    if not number.is_finite() or number < 0 or (upper is not None and number > upper):
        bound = f"from 0 to {upper}" if upper is not None else "of 0 or more"
        raise ValueError(f"{label}: {value} must be a percentage {bound}")
    return number


def _refuse_overlaps(items: Sequence[Adjustment], where: str) -> None:
    """Two adjustments for the same provider and model at the same level would make the choice arbitrary."""
    seen: dict[tuple[str | None, str | None], str] = {}
    for item in items:
        key = (item.provider, item.model)
        if key in seen:
            raise ValueError(f"{where}: [adjustments.{seen[key]}] and [adjustments.{item.name}] cover the same usage")
        seen[key] = item.name

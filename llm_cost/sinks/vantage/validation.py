"""What Vantage would reject in a row (its 422 checks), checked locally so a bad file never leaves the machine."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from llm_cost.focus.mapping import FocusRow

REQUIRED_COLUMNS = ("ChargeCategory", "ChargePeriodStart", "BilledCost", "ServiceName")
CHARGE_CATEGORIES = frozenset({"Credit", "Discount", "Fee", "Refund", "Tax", "Usage"})
MAX_SHOWN_ERRORS = 10


@lru_cache(maxsize=4096)
def _utc_day(value: str) -> date | None:
    """The UTC day of a date or ISO 8601 date-time (a naive one is UTC), or None when it is not one or that day is
    outside datetime's range. Rows repeat their periods, so the answers are kept."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (moment if moment.tzinfo is None else moment.astimezone(UTC)).date()
    except (ValueError, OverflowError):
        return None


def _valid_date(value: str) -> bool:
    return _utc_day(value) is not None


def vantage_row_problems(row: FocusRow) -> list[str]:
    """What Vantage would reject in one row (its 422 checks), so a bad file never leaves the machine."""
    problems = [f"{c} is required" for c in REQUIRED_COLUMNS if not row.get(c)]
    category = row.get("ChargeCategory")
    if category and category not in CHARGE_CATEGORIES:
        problems.append(f"ChargeCategory {category!r} must be one of {', '.join(sorted(CHARGE_CATEGORIES))}")
    cost = row.get("BilledCost")
    if cost:
        try:
            if not Decimal(cost).is_finite():
                raise InvalidOperation
        except InvalidOperation:
            problems.append(f"BilledCost {cost!r} must be a valid number")
    for column in ("ChargePeriodStart", "ChargePeriodEnd"):
        value = row.get(column)
        if value and not _valid_date(value):
            problems.append(f"{column} {value!r} must be a valid date")
    tags = row.get("Tags")
    if tags:
        try:
            parsed = json.loads(tags)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or any(isinstance(v, dict | list) for v in parsed.values()):
            problems.append("Tags must be a flat JSON object")
    return problems


def _shorten(lines: list[str]) -> list[str]:
    """The first MAX_SHOWN_ERRORS lines, then a count of the rest."""
    shown = lines[:MAX_SHOWN_ERRORS]
    if len(lines) > MAX_SHOWN_ERRORS:
        shown.append(f"... and {len(lines) - MAX_SHOWN_ERRORS} more")
    return shown

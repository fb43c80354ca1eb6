"""How llm-cost writes values, in one place for the mapping, the sinks and the reports: money as fixed-point
decimals, changes in percent, date-times in the FOCUS format."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from llm_cost.records import EXACT


def format_decimal(value: Decimal) -> str:
    """Fixed-point with a `.` and at least one decimal: `3.0`, `0.0000001`, never `3` or `1E-7`; trailing zeros
    dropped, and no negative zero."""
    text = str(value)
    if "E" in text or "N" in text or "n" in text:  # exponent notation, NaN, Infinity: the general way
        text = format(value.normalize(EXACT), "f")
    if "." in text:
        text = text.rstrip("0")
        if text[-1] == ".":
            text += "0"
    else:
        text += ".0"
    return "0.0" if text == "-0.0" else text


def percent_change(base: Decimal, head: Decimal) -> Decimal | None:
    """(head - base) / base in percent, exact; None when it is undefined (from zero to something)."""
    if base == 0:
        return Decimal(0) if head == 0 else None
    return (head - base) * 100 / base


def format_utc(moment: datetime) -> str:
    """FOCUS date-time format: `YYYY-MM-DDTHH:mm:ssZ` (always a four-digit year)."""
    m = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}Z"

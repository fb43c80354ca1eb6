"""UTC time windows. Every window is half-open, `[start, end)`, and timezone-aware in UTC."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from dateutil.relativedelta import relativedelta

from llm_cost.errors import ConfigError
from llm_cost.formats import format_utc

MIN_YEAR, MAX_YEAR = 1970, 9998
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH_RE = re.compile(r"^\d{4}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


@dataclass(slots=True, frozen=True)
class Window:
    """A half-open UTC interval `[start, end)`."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Window bounds must be timezone-aware")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))
        if self.end <= self.start:
            raise ConfigError(f"empty window: end {format_utc(self.end)} is not after start {format_utc(self.start)}")

    def days(self) -> Iterator[Window]:
        """Split into UTC calendar days (the first and last may be partial)."""
        cursor = self.start
        while cursor < self.end:
            next_midnight = datetime.combine(cursor.date() + timedelta(days=1), datetime.min.time(), UTC)
            yield Window(cursor, min(next_midnight, self.end))
            cursor = next_midnight

    def hours(self) -> Iterator[Window]:
        """Split into UTC clock hours (the first and last may be partial)."""
        cursor = self.start
        while cursor < self.end:
            next_hour = cursor.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            yield Window(cursor, min(next_hour, self.end))
            cursor = next_hour

    def is_whole_day(self) -> bool:
        """True when the window is exactly one UTC calendar day."""
        return self == day_window(self.start.date())

    def is_closed(self, now: datetime) -> bool:
        """True when the whole window lies in the past."""
        return self.end <= now

    def __str__(self) -> str:
        return f"[{format_utc(self.start)}, {format_utc(self.end)})"


def day_window(day: date) -> Window:
    """The UTC calendar day `[day 00:00, day+1 00:00)`."""
    start = datetime.combine(day, datetime.min.time(), UTC)
    return Window(start, start + timedelta(days=1))


def parse_day(text: str, *, option: str = "--date", today: date | None = None) -> date:
    """Parse `YYYY-MM-DD`, `today` or `yesterday` (UTC) into a date; a ConfigError names the option."""
    value = text.strip().lower()
    if value in ("today", "yesterday"):
        base = today or datetime.now(UTC).date()
        return base if value == "today" else base - timedelta(days=1)
    if not _DATE_RE.match(value):
        raise ConfigError(f"{option}: {text!r} is not a date; use YYYY-MM-DD, 'today' or 'yesterday'")
    try:
        parsed = date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{option}: {text!r} is not a valid date ({exc})") from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ConfigError(f"{option}: {text!r} is out of range; use a year from {MIN_YEAR} to {MAX_YEAR}")
    return parsed


def parse_month(text: str) -> Window:
    """Parse `YYYY-MM` into the UTC calendar month."""
    if not _MONTH_RE.match(text.strip()):
        raise ConfigError(f"--month: {text!r} is not a month; use YYYY-MM")
    try:
        first = date.fromisoformat(text.strip() + "-01")
    except ValueError as exc:
        raise ConfigError(f"--month: {text!r} is not a valid month ({exc})") from None
    if not MIN_YEAR <= first.year <= MAX_YEAR:
        raise ConfigError(f"--month: {text!r} is out of range; use a year from {MIN_YEAR} to {MAX_YEAR}")
    start = datetime.combine(first, datetime.min.time(), UTC)
    return Window(start, start + relativedelta(months=1))


def parse_instant(text: str, *, option: str) -> datetime:
    """Parse a date or ISO 8601 date-time into an aware UTC datetime. A naive time is taken as UTC. Like a date, the
    instant must lie in the years MIN_YEAR..MAX_YEAR (in UTC), so that every day and month of a window exists."""
    value = text.strip()
    if _DATE_RE.match(value):
        return datetime.combine(parse_day(value, option=option), datetime.min.time(), UTC)
    if not _DATETIME_RE.match(value):
        raise ConfigError(f"{option}: {text!r} is not a date or an ISO 8601 date-time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{option}: {text!r} is not a valid date-time ({exc})") from None
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        in_range = MIN_YEAR <= moment.year <= MAX_YEAR
    except OverflowError:  # before year 1 or after 9999 in UTC
        in_range = False
    if not in_range:
        raise ConfigError(
            f"{option}: {text!r} is out of range; use a time from {MIN_YEAR}-01-01 to {MAX_YEAR}-12-31 (UTC)"
        )
    return moment


def billing_month(moment: datetime) -> Window:
    """The calendar month that contains `moment`: the FOCUS billing period of a charge."""
    moment = moment.astimezone(UTC)
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    return Window(start, start + relativedelta(months=1))


def resolve_window(
    *,
    start: str | None = None,
    end: str | None = None,
    day: str | None = None,
    month: str | None = None,
    now: datetime,
    include_partial: bool = False,
) -> Window:
    """Turn the window options into one Window. Default: the last closed UTC day ("yesterday").

    At most one of `--day`, `--month` and `--start/--end` may be given. A window that reaches past `now` is
    refused unless `include_partial` is set, because an open day's numbers still change.
    """
    now = now.astimezone(UTC)
    chosen = [name for name, value in (("--day", day), ("--month", month), ("--start", start or end)) if value]
    if len(chosen) > 1:
        raise ConfigError(f"choose one of --day, --month or --start/--end (got {', '.join(chosen)})")
    if day:
        window = day_window(parse_day(day, option="--day", today=now.date()))
    elif month:
        window = parse_month(month)
    elif start or end:
        if not (start and end):
            raise ConfigError("--start and --end go together; give both (the window is [start, end) in UTC)")
        window = Window(parse_instant(start, option="--start"), parse_instant(end, option="--end"))
    else:
        window = day_window(now.date() - timedelta(days=1))
    if not include_partial and not window.is_closed(now):
        raise ConfigError(
            f"window {window} is not closed yet (now is {format_utc(now)}); wait, or pass --include-partial"
        )
    return window

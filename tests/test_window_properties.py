"""Properties of UTC windows over the whole supported range (years MIN_YEAR..MAX_YEAR) and any UTC offset: fixed
offsets to the second, IANA zones (with their DST and historical offsets) and UTC itself.

Windows are half-open and UTC; `days()` and `hours()` tile a window exactly, piece by UTC day or hour; `--day`,
`--month` and `--start/--end` mean exactly the instants they name, and anything outside the supported range is a
ConfigError naming the option, never an OverflowError or a window.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from llm_cost.errors import ConfigError
from llm_cost.window import (
    MAX_YEAR,
    MIN_YEAR,
    Window,
    billing_month,
    day_window,
    format_utc,
    parse_instant,
    resolve_window,
)

DAY, HOUR, TICK = timedelta(days=1), timedelta(hours=1), timedelta(microseconds=1)
RANGE_START = datetime(MIN_YEAR, 1, 1, tzinfo=UTC)
RANGE_END = datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC)  # the end of the last supported day
FOCUS_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")

zones: st.SearchStrategy[tzinfo] = st.one_of(
    st.just(UTC),
    st.integers(-86399, 86399).map(lambda seconds: timezone(timedelta(seconds=seconds))),
    st.timezones(),
)
_any_utc = st.datetimes(min_value=RANGE_START.replace(tzinfo=None), max_value=(RANGE_END - TICK).replace(tzinfo=None))
# Any instant of the range, often on an hour or a midnight, where the edge cases are.
utc_instants = st.one_of(
    _any_utc,
    _any_utc.map(lambda m: m.replace(minute=0, second=0, microsecond=0)),
    _any_utc.map(lambda m: m.replace(hour=0, minute=0, second=0, microsecond=0)),
).map(lambda m: m.replace(tzinfo=UTC))
moments = st.builds(lambda m, zone: m.astimezone(zone), utc_instants, zones)  # the same instants, in any offset
days_in_range = st.dates(date(MIN_YEAR, 1, 1), date(MAX_YEAR, 12, 31))


def is_utc(moment: datetime) -> bool:
    return moment.tzinfo is UTC


def midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def on_the_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@st.composite
def bounds(draw: st.DrawFn, longest: timedelta) -> tuple[datetime, datetime]:
    """Aware `start < end` in any offsets, at most `longest` apart, ending by the end of the range."""
    start = draw(utc_instants)
    length = draw(
        st.one_of(
            st.timedeltas(TICK, longest),
            st.integers(1, longest // HOUR).map(lambda n: n * HOUR),
            st.integers(1, max(1, longest // DAY)).map(lambda n: n * DAY),
        )
    )
    end = min(start + length, RANGE_END)
    return start.astimezone(draw(zones)), end.astimezone(draw(zones))


@given(bounds(longest=timedelta(days=800)), moments)
def test_a_window_is_utc_and_half_open(case: tuple[datetime, datetime], now: datetime) -> None:
    start, end = case
    window = Window(start, end)
    assert (window.start, window.end) == (start, end)  # the same instants...
    assert is_utc(window.start) and is_utc(window.end)  # ...in UTC
    assert window.is_closed(now) == (end <= now)
    assert window.is_closed(end) and not window.is_closed(end - TICK)
    assert str(window) == f"[{format_utc(start)}, {format_utc(end)})"
    for empty in ((end, start), (start, start), (end, end)):
        with pytest.raises(ConfigError, match="empty window"):
            Window(*empty)


def _check_tiling(window: Window, pieces: list[Window], unit: timedelta, floor: Callable[[datetime], datetime]) -> None:
    assert pieces, "a window has at least one piece"
    assert pieces[0].start == window.start and pieces[-1].end == window.end
    for piece in pieces:
        assert is_utc(piece.start) and is_utc(piece.end)
        assert piece.start < piece.end  # positive length
        assert piece.end <= floor(piece.start) + unit  # within one UTC day / hour
    for before, after in zip(pieces, pieces[1:], strict=False):
        assert before.end == after.start  # no gap, no overlap
        assert after.start == floor(after.start)  # every cut is on a boundary


@given(bounds(longest=timedelta(days=70)))
@example((datetime(MAX_YEAR, 12, 31, 12, tzinfo=UTC), RANGE_END))  # the last supported day
@example((datetime(MIN_YEAR, 1, 1, 5, 30, tzinfo=timezone(timedelta(hours=5))), datetime(MIN_YEAR, 1, 2, tzinfo=UTC)))
def test_days_tile_the_window_by_utc_day(case: tuple[datetime, datetime]) -> None:
    window = Window(*case)
    days = list(window.days())
    _check_tiling(window, days, DAY, midnight)
    touched = (midnight(window.end - TICK) - midnight(window.start)).days + 1  # the UTC dates the window touches
    assert len(days) == len({d.start.date() for d in days}) == touched
    for day in days[1:-1]:
        assert day.is_whole_day()


@given(bounds(longest=timedelta(days=3)))
@example((datetime(MAX_YEAR, 12, 31, 22, 30, tzinfo=UTC), RANGE_END))
def test_hours_tile_the_window_by_utc_hour(case: tuple[datetime, datetime]) -> None:
    window = Window(*case)
    hours = list(window.hours())
    _check_tiling(window, hours, HOUR, on_the_hour)
    assert len(hours) == (on_the_hour(window.end - TICK) - on_the_hour(window.start)) // HOUR + 1
    assert [h.start for h in hours[1:]] == [on_the_hour(window.start) + n * HOUR for n in range(1, len(hours))]


@given(bounds(longest=timedelta(days=3)))
def test_is_whole_day_means_one_utc_calendar_day(case: tuple[datetime, datetime]) -> None:
    window = Window(*case)
    start = window.start
    assert window.is_whole_day() == (start == midnight(start) and window.end - start == DAY)


@given(days_in_range, moments)
@example(date(MAX_YEAR, 12, 31), datetime(MAX_YEAR, 12, 31, 23, tzinfo=UTC))
def test_a_day_window_is_exactly_that_utc_day(day: date, moment: datetime) -> None:
    window = day_window(day)
    assert window.start == datetime(day.year, day.month, day.day, tzinfo=UTC) and window.end - window.start == DAY
    assert window.is_whole_day() and list(window.days()) == [window] and len(list(window.hours())) == 24
    assert (window.start <= moment < window.end) == (moment.astimezone(UTC).date() == day)


@given(days_in_range, moments, st.booleans(), st.sampled_from(["{}", " {} ", "{}\t"]))
def test_resolve_window_day_covers_exactly_that_day(day: date, now: datetime, partial: bool, spacing: str) -> None:
    text = spacing.format(day.isoformat())
    expected = day_window(day)
    if partial or expected.end <= now:
        assert resolve_window(day=text, now=now, include_partial=partial) == expected
    else:
        with pytest.raises(ConfigError, match="not closed yet"):
            resolve_window(day=text, now=now, include_partial=partial)


@given(moments, st.sampled_from(["today", "yesterday", "Yesterday", " TODAY "]))
def test_today_and_yesterday_are_utc_days_of_now(now: datetime, keyword: str) -> None:
    today = now.astimezone(UTC).date()
    expected = day_window(today if keyword.strip().lower() == "today" else today - DAY)
    assert resolve_window(day=keyword, now=now, include_partial=True) == expected


@given(moments)
def test_the_default_window_is_the_last_closed_utc_day(now: datetime) -> None:
    window = resolve_window(now=now)
    assert window == day_window(now.astimezone(UTC).date() - DAY) and window.is_closed(now)
    assert window.end <= now < window.end + DAY


@given(st.integers(MIN_YEAR, MAX_YEAR), st.integers(1, 12), moments)
def test_resolve_window_month_covers_exactly_that_month(year: int, month: int, now: datetime) -> None:
    window = resolve_window(month=f"{year:04d}-{month:02d}", now=now, include_partial=True)
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    assert (window.start, window.end) == (datetime(year, month, 1, tzinfo=UTC), following)
    days = list(window.days())
    length = calendar.monthrange(year, month)[1]
    assert [d.start.date() for d in days] == [date(year, month, n) for n in range(1, length + 1)]
    assert all(d.is_whole_day() for d in days)
    assert billing_month(window.start) == billing_month(window.end - TICK) == window


@given(moments)
@example(datetime(MAX_YEAR, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
@example(datetime(MIN_YEAR, 1, 1, tzinfo=UTC).astimezone(timezone(-timedelta(hours=23))))  # 1969 locally
def test_billing_month_contains_its_moment(moment: datetime) -> None:
    month = billing_month(moment)
    utc_moment = moment.astimezone(UTC)
    assert month.start <= moment < month.end
    assert month.start == datetime(utc_moment.year, utc_moment.month, 1, tzinfo=UTC)
    assert month.end == billing_month(month.end).start and billing_month(month.end - TICK) == month


@given(moments)
def test_format_utc_is_focus_format_and_round_trips(moment: datetime) -> None:
    text = format_utc(moment)
    assert FOCUS_TIME.fullmatch(text)
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() == timedelta(0)
    assert parsed == moment.astimezone(UTC).replace(microsecond=0)
    assert parse_instant(text, option="--start") == parsed


# --- --start/--end as text: any local time in any offset, inside or outside the supported range -------------------

_local_times = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999))
_offset_minutes = st.integers(-(24 * 60 - 1), 24 * 60 - 1)


@st.composite
def instant_texts(draw: st.DrawFn) -> tuple[str, datetime | None]:
    """A `--start/--end` value as a user writes it, and the UTC instant it means (None: outside datetime's range)."""
    local = draw(st.one_of(_local_times, _local_times.map(lambda m: m.replace(hour=0, minute=0, second=0))))
    if draw(st.integers(0, 5)) == 0:  # a date: midnight UTC
        return local.date().isoformat(), datetime.combine(local.date(), datetime.min.time(), UTC)
    separator = draw(st.sampled_from(["T", " "]))
    text = f"{local.year:04d}-{local.month:02d}-{local.day:02d}{separator}{local.hour:02d}:{local.minute:02d}"
    meant = local.replace(second=0, microsecond=0)
    precision = draw(st.sampled_from(["minutes", "seconds", "fraction"]))
    if precision != "minutes":
        text += f":{local.second:02d}"
        meant = meant.replace(second=local.second)
    if precision == "fraction":
        digits = draw(st.integers(1, 9))
        fraction = f"{local.microsecond:06d}{draw(st.integers(0, 999)):03d}"[:digits]
        text += "." + fraction
        meant = meant.replace(microsecond=int(fraction[:6].ljust(6, "0")))  # digits past the 6th are dropped
    offset = draw(st.one_of(st.none(), st.just(0), _offset_minutes))
    if offset is None:  # naive: UTC
        return text, meant.replace(tzinfo=UTC)
    if offset == 0 and draw(st.booleans()):
        text += "Z"
    else:
        hours, minutes = divmod(abs(offset), 60)
        text += ("-" if offset < 0 else "+") + f"{hours:02d}{draw(st.sampled_from([':', '']))}{minutes:02d}"
    try:
        return text, (meant - timedelta(minutes=offset)).replace(tzinfo=UTC)
    except OverflowError:
        return text, None


def _supported(moment: datetime | None) -> bool:
    return moment is not None and MIN_YEAR <= moment.year <= MAX_YEAR


@given(instant_texts())
# Regressions: these were an OverflowError, or accepted though outside the range every date option keeps to.
@example(("0001-01-01T00:00+01:00", None))
@example(("9999-12-31T23:30-01:00", None))
@example(("1969-12-31T23:00:00Z", datetime(1969, 12, 31, 23, tzinfo=UTC)))
@example(("9998-12-31T20:00-05:00", datetime(9999, 1, 1, 1, tzinfo=UTC)))
@example(("1970-01-01T00:30+01:00", datetime(1969, 12, 31, 23, 30, tzinfo=UTC)))
def test_parse_instant_is_the_utc_instant_or_a_config_error(case: tuple[str, datetime | None]) -> None:
    text, meant = case
    if _supported(meant):
        moment = parse_instant(text, option="--start")
        assert moment == meant and is_utc(moment)
    else:
        with pytest.raises(ConfigError, match=r"^--start: .*out of range"):
            parse_instant(text, option="--start")


@given(instant_texts(), instant_texts(), moments)
def test_resolve_window_start_end_is_exactly_the_instants_given(
    first: tuple[str, datetime | None], second: tuple[str, datetime | None], now: datetime
) -> None:
    (start_text, start), (end_text, end) = first, second
    if not (_supported(start) and _supported(end)):
        with pytest.raises(ConfigError, match=r"^--(start|end): .*out of range"):
            resolve_window(start=start_text, end=end_text, now=now, include_partial=True)
    elif start >= end:  # type: ignore[operator]
        with pytest.raises(ConfigError, match="empty window"):
            resolve_window(start=start_text, end=end_text, now=now, include_partial=True)
    elif end > now:  # type: ignore[operator]
        with pytest.raises(ConfigError, match="not closed yet"):
            resolve_window(start=start_text, end=end_text, now=now)
    else:
        assert resolve_window(start=start_text, end=end_text, now=now) == Window(start, end)  # type: ignore[arg-type]


@given(st.one_of(st.dates(max_value=date(MIN_YEAR - 1, 12, 31)), st.dates(min_value=date(MAX_YEAR + 1, 1, 1))), moments)
def test_days_and_months_outside_the_range_are_config_errors(day: date, now: datetime) -> None:
    with pytest.raises(ConfigError, match=r"^--day: .*out of range"):
        resolve_window(day=day.isoformat(), now=now, include_partial=True)
    with pytest.raises(ConfigError, match=r"^--month: .*out of range"):
        resolve_window(month=f"{day.year:04d}-{day.month:02d}", now=now, include_partial=True)

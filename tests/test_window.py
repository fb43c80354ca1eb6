"""UTC windows: parsing of days, months and instants, half-open intervals and the closed-window default."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from llm_cost.errors import ConfigError
from llm_cost.formats import format_utc
from llm_cost.window import (
    Window,
    billing_month,
    day_window,
    parse_day,
    parse_instant,
    parse_month,
    resolve_window,
)

NOW = datetime(2025, 6, 15, 10, 30, tzinfo=UTC)  # mid-day: "today" is open, "yesterday" is closed
PLUS_2 = timezone(timedelta(hours=2))
MINUS_2 = timezone(timedelta(hours=-2))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- parse_day -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-01", date(2025, 6, 1)),
        ("2024-02-29", date(2024, 2, 29)),  # leap day
        ("  2025-06-01 ", date(2025, 6, 1)),
        ("today", date(2025, 6, 15)),
        ("TODAY", date(2025, 6, 15)),
        ("yesterday", date(2025, 6, 14)),
        (" Yesterday ", date(2025, 6, 14)),
    ],
)
def test_parse_day_accepts_dates_and_keywords(text: str, expected: date) -> None:
    assert parse_day(text, today=date(2025, 6, 15)) == expected


def test_parse_day_yesterday_crosses_month_and_year() -> None:
    assert parse_day("yesterday", today=date(2025, 1, 1)) == date(2024, 12, 31)
    assert parse_day("yesterday", today=date(2024, 3, 1)) == date(2024, 2, 29)


def test_parse_day_defaults_to_the_utc_clock() -> None:
    before = datetime.now(UTC).date()
    parsed = parse_day("today")
    after = datetime.now(UTC).date()
    assert parsed in (before, after)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2025-13-01", "not a valid date"),
        ("2025-02-30", "not a valid date"),
        ("2023-02-29", "not a valid date"),
        ("June 1", "not a date"),
        ("01/06/2025", "not a date"),
        ("2025-6-1", "not a date"),
        ("20250601", "not a date"),
        ("", "not a date"),
        ("tomorrow", "not a date"),
        ("2025-06-01T00:00:00Z", "not a date"),
    ],
)
def test_parse_day_rejects_bad_input_and_names_the_option(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_day(text, option="--date")
    message = str(info.value)
    assert message.startswith("--date: ")
    assert fragment in message
    assert repr(text) in message
    assert "\n" not in message
    assert info.value.exit_code == 3


def test_parse_day_error_names_the_given_option() -> None:
    with pytest.raises(ConfigError, match=r"^\[settings\] date: "):
        parse_day("nope", option="[settings] date")


# --- day and month windows ---------------------------------------------------------------------------------------


def test_day_window_is_half_open_utc_midnight_to_midnight() -> None:
    window = day_window(date(2025, 6, 1))
    assert window.start == utc(2025, 6, 1)
    assert window.end == utc(2025, 6, 2)
    assert window.start.utcoffset() == timedelta(0)
    assert str(window) == "[2025-06-01T00:00:00Z, 2025-06-02T00:00:00Z)"


def test_day_window_over_year_end() -> None:
    window = day_window(date(2024, 12, 31))
    assert (window.start, window.end) == (utc(2024, 12, 31), utc(2025, 1, 1))


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2025-06", utc(2025, 6, 1), utc(2025, 7, 1)),
        ("2025-12", utc(2025, 12, 1), utc(2026, 1, 1)),
        ("2024-02", utc(2024, 2, 1), utc(2024, 3, 1)),
        (" 2025-01 ", utc(2025, 1, 1), utc(2025, 2, 1)),
    ],
)
def test_parse_month(text: str, start: datetime, end: datetime) -> None:
    window = parse_month(text)
    assert (window.start, window.end) == (start, end)


@pytest.mark.parametrize("text", ["2025-13", "2025-00", "2025-6", "June", "2025-06-01", ""])
def test_parse_month_rejects_bad_input(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^--month: "):
        parse_month(text)


# --- parse_instant -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-01", utc(2025, 6, 1)),
        ("2025-06-01T10:00", utc(2025, 6, 1, 10)),  # naive: taken as UTC
        ("2025-06-01 10:00:30", utc(2025, 6, 1, 10, 0, 30)),  # naive, with a space
        ("2025-06-01T10:00:00Z", utc(2025, 6, 1, 10)),
        ("2025-06-01T10:00:00.5Z", utc(2025, 6, 1, 10, 0, 0, 500000)),
        ("2025-06-01T10:00:00+02:00", utc(2025, 6, 1, 8)),  # converted to UTC
        ("2025-06-01T10:00+0200", utc(2025, 6, 1, 8)),
        ("2025-06-01T00:30:00-01:00", utc(2025, 6, 1, 1, 30)),
        ("2025-06-01T00:30:00+05:30", utc(2025, 5, 31, 19)),
    ],
)
def test_parse_instant_is_aware_utc(text: str, expected: datetime) -> None:
    moment = parse_instant(text, option="--start")
    assert moment == expected
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timedelta(0)
    assert moment.tzinfo == UTC


def test_parse_instant_naive_time_is_utc_not_local(monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is not available on this platform")
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert parse_instant("2025-06-01T10:00", option="--start") == utc(2025, 6, 1, 10)
        assert parse_instant("2025-06-01", option="--start") == utc(2025, 6, 1)
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("text", ["yesterday", "2025-06-01T25:00", "2025-06-01T1:00", "10:00", "2025-06-01Tnoon", "x"])
def test_parse_instant_rejects_bad_input_and_names_the_option(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^--end: "):
        parse_instant(text, option="--end")


# --- Window ------------------------------------------------------------------------------------------------------


def test_window_requires_aware_bounds() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Window(datetime(2025, 6, 1), utc(2025, 6, 2))


@pytest.mark.parametrize("end", [utc(2025, 6, 1), utc(2025, 5, 31)])
def test_window_must_not_be_empty(end: datetime) -> None:
    with pytest.raises(ConfigError, match="empty window"):
        Window(utc(2025, 6, 1), end)


def test_window_days_split_at_utc_midnight_first_and_last_partial() -> None:
    window = Window(utc(2025, 6, 1, 12), utc(2025, 6, 3, 6))
    days = list(window.days())
    assert [(d.start, d.end) for d in days] == [
        (utc(2025, 6, 1, 12), utc(2025, 6, 2)),
        (utc(2025, 6, 2), utc(2025, 6, 3)),
        (utc(2025, 6, 3), utc(2025, 6, 3, 6)),
    ]
    # half-open pieces tile the window exactly: each ends where the next starts
    assert all(a.end == b.start for a, b in zip(days, days[1:], strict=False))


def test_window_days_of_one_whole_day_is_itself() -> None:
    window = day_window(date(2025, 6, 1))
    assert list(window.days()) == [window]


def test_window_days_of_a_month() -> None:
    days = list(parse_month("2024-02").days())
    assert len(days) == 29
    assert days[0] == day_window(date(2024, 2, 1))
    assert days[-1] == day_window(date(2024, 2, 29))


def test_window_days_split_at_utc_midnight_even_for_non_utc_bounds() -> None:
    window = Window(datetime(2025, 6, 1, tzinfo=PLUS_2), datetime(2025, 6, 2, tzinfo=PLUS_2))
    assert [(d.start, d.end) for d in window.days()] == [
        (utc(2025, 5, 31, 22), utc(2025, 6, 1)),
        (utc(2025, 6, 1), utc(2025, 6, 1, 22)),
    ]


def test_window_is_closed_is_half_open() -> None:
    window = day_window(date(2025, 6, 1))
    assert window.is_closed(utc(2025, 6, 2))  # the end instant itself is outside the window
    assert window.is_closed(utc(2025, 6, 2, 0, 0, 1))
    assert not window.is_closed(utc(2025, 6, 1, 23, 59, 59))


# --- resolve_window ----------------------------------------------------------------------------------------------


def test_resolve_window_default_is_the_last_closed_utc_day() -> None:
    window = resolve_window(now=NOW)
    assert (window.start, window.end) == (utc(2025, 6, 14), utc(2025, 6, 15))


def test_resolve_window_default_just_after_midnight() -> None:
    window = resolve_window(now=utc(2025, 1, 1, 0, 0, 1))
    assert (window.start, window.end) == (utc(2024, 12, 31), utc(2025, 1, 1))


def test_resolve_window_default_at_exact_midnight_is_closed() -> None:
    window = resolve_window(now=utc(2025, 6, 2))
    assert window == day_window(date(2025, 6, 1))


def test_resolve_window_default_uses_the_utc_date_of_a_non_utc_now() -> None:
    window = resolve_window(now=datetime(2025, 6, 15, 1, 0, tzinfo=PLUS_2))
    assert window == day_window(date(2025, 6, 13))


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"day": "2025-06-01"}, day_window(date(2025, 6, 1))),
        ({"day": "yesterday"}, day_window(date(2025, 6, 14))),
        ({"month": "2025-05"}, Window(utc(2025, 5, 1), utc(2025, 6, 1))),
        ({"start": "2025-06-01", "end": "2025-06-03"}, Window(utc(2025, 6, 1), utc(2025, 6, 3))),
        ({"start": "2025-06-01T06:00", "end": "2025-06-01T07:00"}, Window(utc(2025, 6, 1, 6), utc(2025, 6, 1, 7))),
        (
            {"start": "2025-06-01T02:00:00+02:00", "end": "2025-06-01T03:00:00Z"},
            Window(utc(2025, 6, 1, 0), utc(2025, 6, 1, 3)),
        ),
    ],
)
def test_resolve_window_options(kwargs: dict[str, str], expected: Window) -> None:
    assert resolve_window(now=NOW, **kwargs) == expected


def test_resolve_window_refuses_an_open_day_without_include_partial() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_window(day="today", now=NOW)
    assert "not closed yet" in str(info.value)
    assert "--include-partial" in str(info.value)


def test_resolve_window_include_partial_allows_today_and_the_current_month() -> None:
    assert resolve_window(day="today", now=NOW, include_partial=True) == day_window(date(2025, 6, 15))
    month = resolve_window(month="2025-06", now=NOW, include_partial=True)
    assert (month.start, month.end) == (utc(2025, 6, 1), utc(2025, 7, 1))
    with pytest.raises(ConfigError, match="not closed yet"):
        resolve_window(month="2025-06", now=NOW)


def test_resolve_window_refuses_an_end_in_the_future() -> None:
    with pytest.raises(ConfigError, match="not closed yet"):
        resolve_window(start="2025-06-15T09:00", end="2025-06-15T11:00", now=NOW)
    window = resolve_window(start="2025-06-15T09:00", end="2025-06-15T10:30", now=NOW)  # end == now: closed
    assert window.end == NOW


@pytest.mark.parametrize(
    "kwargs",
    [
        {"day": "2025-06-01", "month": "2025-06"},
        {"day": "2025-06-01", "start": "2025-06-01", "end": "2025-06-02"},
        {"month": "2025-05", "end": "2025-06-02"},
    ],
)
def test_resolve_window_options_are_exclusive(kwargs: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="choose one of"):
        resolve_window(now=NOW, **kwargs)


@pytest.mark.parametrize("kwargs", [{"start": "2025-06-01"}, {"end": "2025-06-02"}])
def test_resolve_window_start_and_end_go_together(kwargs: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="go together"):
        resolve_window(now=NOW, **kwargs)


def test_resolve_window_rejects_an_inverted_range() -> None:
    with pytest.raises(ConfigError, match="empty window"):
        resolve_window(start="2025-06-02", end="2025-06-01", now=NOW)


def test_resolve_window_bad_values_name_their_option() -> None:
    with pytest.raises(ConfigError, match=r"^--day: "):
        resolve_window(day="soon", now=NOW)
    with pytest.raises(ConfigError, match=r"^--start: "):
        resolve_window(start="x", end="2025-06-01", now=NOW)
    with pytest.raises(ConfigError, match=r"^--month: "):
        resolve_window(month="2025-13", now=NOW)


# --- helpers -----------------------------------------------------------------------------------------------------


def test_format_utc_converts_and_uses_focus_format() -> None:
    assert format_utc(utc(2025, 6, 1, 8, 5, 9)) == "2025-06-01T08:05:09Z"
    assert format_utc(datetime(2025, 6, 1, 2, 0, tzinfo=PLUS_2)) == "2025-06-01T00:00:00Z"
    assert format_utc(utc(2025, 6, 1, 8, 5, 9, 999999)) == "2025-06-01T08:05:09Z"


def test_billing_month() -> None:
    assert billing_month(utc(2025, 6, 15, 10)) == Window(utc(2025, 6, 1), utc(2025, 7, 1))
    assert billing_month(utc(2025, 12, 31, 23, 59)) == Window(utc(2025, 12, 1), utc(2026, 1, 1))


def test_billing_month_uses_the_utc_month_of_a_non_utc_moment() -> None:
    assert billing_month(datetime(2025, 6, 30, 23, 30, tzinfo=MINUS_2)) == Window(utc(2025, 7, 1), utc(2025, 8, 1))


def test_hours_split_a_window_on_clock_hours() -> None:
    start = datetime(2026, 11, 2, 22, 30, tzinfo=UTC)
    hours = list(Window(start, start + timedelta(hours=2)).hours())
    assert [(h.start.hour, h.start.minute, h.end.hour, h.end.minute) for h in hours] == [
        (22, 30, 23, 0),
        (23, 0, 0, 0),
        (0, 0, 0, 30),
    ]

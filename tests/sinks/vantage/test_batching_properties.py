"""Properties of the Vantage batcher over any rows Vantage accepts: hostile text in every free column and in Tags,
charge periods in every form the validator accepts (FOCUS `...Z`, a date, an ISO offset, a naive time, the basic
format), costs of up to 19 digits and 30 places in plain and exponent notation (their sums need far more than
Decimal's default 28 digits), and small row and byte limits.

- Every part starts with the header and holds at most `max_rows` rows and `max_bytes` bytes; a part is cut only
  when the next row would pass a limit. The parts' rows, parsed with `csv` or `read_focus_csv`, are the input rows
  in order.
- Part and total costs are the exact sums of BilledCost; the period runs from the first UTC day of a
  ChargePeriodStart to the last UTC day of a ChargePeriodEnd (or of the start, for a row without an end).
- A row too big for a file on its own is a ConfigError naming it; invalid rows are one ConfigError listing each
  problem by row. Either way no part is left on disk.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from llm_cost.errors import ConfigError
from llm_cost.focus.columns import VANTAGE
from llm_cost.formats import format_utc
from llm_cost.records import EXACT
from llm_cost.sinks.csv_reader import read_focus_csv
from llm_cost.sinks.vantage.batching import build_batches
from llm_cost.sinks.vantage.validation import CHARGE_CATEGORIES, vantage_row_problems

Row = dict[str, str | None]

SPECIALS = [",", '"', "\r", "\n", "\r\n", "\r\r", " ", "\t", "\x00", "é", "日本", "😀", "\u2028", "\ufeff", "{", "\\"]
hostile_text = st.lists(st.one_of(st.sampled_from(SPECIALS), st.text(max_size=4)), max_size=5).map("".join)
free_values = st.one_of(st.none(), st.just(""), hostile_text)
FREE_COLUMNS = [
    c
    for c in VANTAGE
    if c not in ("ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd", "BilledCost", "ServiceName", "Tags")
]

offsets = st.one_of(
    st.just(UTC),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda minutes: timezone(timedelta(minutes=minutes))),
    st.timezones(),
)
# UTC instants a day inside datetime's range, so that the local time in any offset exists.
instants = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
    lambda m: m.replace(tzinfo=UTC)
)
STYLES = ("focus", "iso", "date", "naive", "basic")


def date_text(instant: datetime, zone: tzinfo, style: str) -> tuple[str, date]:
    """A charge-period value in one of the accepted forms, and the UTC day it means (a naive time is UTC)."""
    local = instant.astimezone(zone)
    if style == "focus":
        return format_utc(instant), instant.date()
    if style == "iso":
        return local.isoformat(), instant.date()
    if style == "date":
        return local.date().isoformat(), local.date()
    if style == "naive":
        return local.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds"), local.date()
    i = instant  # the ISO 8601 basic format
    return f"{i.year:04d}{i.month:02d}{i.day:02d}T{i.hour:02d}{i.minute:02d}{i.second:02d}Z", instant.date()


def cost_text(digits: int, places: int, style: str) -> str:
    value = Decimal(digits).scaleb(-places)
    if style == "f":
        return format(value, "f")
    if style == "E":
        return format(value, "E")
    if style == "+":
        return "+" + format(abs(value), "f")
    return str(value)


costs = st.builds(
    cost_text, st.integers(-(10**18), 10**18), st.integers(0, 30), st.sampled_from(["str", "f", "E", "+"])
)
flat_json_values = st.one_of(
    hostile_text, st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False)
)
tags = st.one_of(
    st.none(),
    st.just(""),
    st.builds(
        lambda d, ascii_only: json.dumps(d, ensure_ascii=ascii_only),
        st.dictionaries(hostile_text, flat_json_values, max_size=4),
        st.booleans(),
    ),
)


@st.composite
def vantage_rows(draw: st.DrawFn) -> tuple[Row, date, date]:
    """A row Vantage accepts, with the UTC days its charge period starts and ends on."""
    start = draw(instants)
    start_text, start_day = date_text(start, draw(offsets), draw(st.sampled_from(STYLES)))
    end_text, end_day = None, start_day
    if draw(st.booleans()):
        end = min(start + draw(st.timedeltas(timedelta(0), timedelta(days=3))), datetime(9999, 12, 30, tzinfo=UTC))
        end_text, end_day = date_text(end, draw(offsets), draw(st.sampled_from(STYLES)))
    row: Row = {c: draw(free_values) for c in FREE_COLUMNS}
    row.update(
        ChargeCategory=draw(st.sampled_from(sorted(CHARGE_CATEGORIES))),
        ChargePeriodStart=start_text,
        ChargePeriodEnd=end_text,
        BilledCost=draw(costs),
        ServiceName=draw(hostile_text.filter(bool)),
        Tags=draw(tags),
    )
    row = {c: v for c, v in row.items() if v is not None or draw(st.booleans())}  # a missing column is a null
    assert vantage_row_problems(row) == [], row
    return row, start_day, end_day


def line(values: Sequence[str | None]) -> bytes:
    """The documented bytes of a record: csv.writer's QUOTE_MINIMAL, LF, with a CR always quoted."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return (buffer.getvalue()[:-2] + "\n").encode("utf-8")


def fields(row: Row) -> list[str | None]:
    return [row.get(c) for c in VANTAGE]


HEADER = line(VANTAGE)


@contextmanager
def own_tempdir() -> Iterator[Path]:
    """Point `tempfile` at a fresh folder, so a test can see every part folder the batcher leaves behind."""
    folder = tempfile.mkdtemp(prefix="vantage-properties-")
    saved = tempfile.tempdir
    tempfile.tempdir = folder
    try:
        yield Path(folder)
    finally:
        tempfile.tempdir = saved
        shutil.rmtree(folder, ignore_errors=True)


def exact_sum(texts: Sequence[str | None]) -> Decimal:
    total = Decimal(0)
    for text in texts:
        total = EXACT.add(total, Decimal(text or "0"))
    return total


ROW = {"ChargeCategory": "Usage", "ChargePeriodStart": "2026-10-05T00:00:00Z", "BilledCost": "1.5", "ServiceName": "s"}


@given(
    st.lists(vantage_rows(), min_size=1, max_size=14),
    st.integers(1, 6),
    st.one_of(st.integers(1, 1500), st.just(1_000_000)),
)
# Regressions: a bare CR split the record (csv.writer leaves it unquoted); an offset or the basic format gave the
# wrong day or a ValueError; costs beyond 28 significant digits were rounded.
@example([({**ROW, "ResourceId": "cr\ronly", "RegionId": "end\r"}, date(2026, 10, 5), date(2026, 10, 5))], 1, 1000)
@example(
    [
        ({**ROW, "ChargePeriodStart": "2026-10-05T23:00:00-05:00"}, date(2026, 10, 6), date(2026, 10, 6)),
        ({**ROW, "ChargePeriodStart": "20261004T120000Z"}, date(2026, 10, 4), date(2026, 10, 4)),
    ],
    5,
    1000,
)
@example(
    [
        ({**ROW, "BilledCost": "1000000000000000000.000000000000000000001"}, date(2026, 10, 5), date(2026, 10, 5)),
        ({**ROW, "BilledCost": "1E-30"}, date(2026, 10, 5), date(2026, 10, 5)),
    ],
    1,
    1000,
)
def test_parts_hold_the_rows_in_order_within_the_limits(
    cases: list[tuple[Row, date, date]], max_rows: int, slack: int
) -> None:
    rows = [row for row, _, _ in cases]
    max_bytes = len(HEADER) + slack
    sizes = [len(line(fields(row))) for row in rows]
    with own_tempdir() as folder:
        too_big = [number for number, size in enumerate(sizes, start=1) if len(HEADER) + size > max_bytes]
        if too_big:
            with pytest.raises(ConfigError) as info:
                build_batches(rows, max_rows=max_rows, max_bytes=max_bytes)
            number = too_big[0]
            name = rows[number - 1].get("ResourceId") or rows[number - 1].get("ServiceName")
            assert str(info.value).startswith(f"row {number} ({name}) is {sizes[number - 1]} bytes, too large")
            assert os.listdir(folder) == []
            return
        batches = build_batches(rows, max_rows=max_rows, max_bytes=max_bytes)
        try:
            parts = batches.parts
            assert [p.number for p in parts] == list(range(1, len(parts) + 1))
            assert batches.rows == sum(p.rows for p in parts) == len(rows)
            position = 0
            parsed_rows: list[list[str]] = []
            for part in parts:
                data = part.path.read_bytes()
                assert data.startswith(HEADER) and len(data) == part.size <= max_bytes and 1 <= part.rows <= max_rows
                mine = rows[position : position + part.rows]
                assert data == HEADER + b"".join(line(fields(r)) for r in mine)
                parsed = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
                assert parsed[0] == list(VANTAGE) and len(parsed) == part.rows + 1
                parsed_rows += parsed[1:]
                assert list(read_focus_csv(part.path)) == [{c: r.get(c) or None for c in VANTAGE} for r in mine]
                assert part.cost == exact_sum([r.get("BilledCost") for r in mine])
                if position + part.rows < len(rows):  # cut only because the next row would pass a limit
                    assert part.rows == max_rows or part.size + sizes[position + part.rows] > max_bytes
                position += part.rows
            assert parsed_rows == [[v or "" for v in fields(r)] for r in rows]
            assert batches.cost == exact_sum([r.get("BilledCost") for r in rows])
            assert batches.period_start == min(start for _, start, _ in cases)
            assert batches.period_end == max(end for _, _, end in cases)
        finally:
            batches.cleanup()
        assert os.listdir(folder) == []


@given(st.lists(vantage_rows(), max_size=4), vantage_rows(), st.lists(vantage_rows(), max_size=3), st.integers(0, 300))
def test_a_row_too_big_for_one_file_is_named_and_nothing_is_left(
    before: list[tuple[Row, date, date]], big: tuple[Row, date, date], after: list[tuple[Row, date, date]], slack: int
) -> None:
    rows = [row for row, _, _ in before]
    max_bytes = len(HEADER) + max([len(line(fields(r))) for r in rows], default=1) + slack
    big_row = {**big[0], "Tags": json.dumps({"blob": "x" * max_bytes})}
    with own_tempdir() as folder:
        with pytest.raises(ConfigError) as info:
            build_batches([*rows, big_row, *(row for row, _, _ in after)], max_bytes=max_bytes)
        assert os.listdir(folder) == []
    name = big_row.get("ResourceId") or big_row.get("ServiceName")
    size = len(line(fields(big_row)))
    assert str(info.value).startswith(f"row {len(rows) + 1} ({name}) is {size} bytes, too large for one Vantage file")


BREAKS = {
    "ChargeCategory": st.one_of(
        st.sampled_from([None, "Purchase", "usage", " Usage", "Adjustment"]),
        hostile_text.filter(lambda t: t and t not in CHARGE_CATEGORIES),
    ),
    "BilledCost": st.sampled_from([None, "", "abc", "NaN", "-Infinity", "sNaN", "1,5", "1.2.3", "$1", "1e", "--1"]),
    "ChargePeriodStart": st.sampled_from(
        [
            "5/1/25",
            "2024-13-01",
            "2024-02-30",
            "yesterday",
            "2024-01-01T25:00",
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:00:00-01:00",
        ]
    ),
    "ChargePeriodEnd": st.sampled_from(["soon", "2024-00-10", "0001-01-01T01:00+02:00"]),
    "Tags": st.sampled_from(["{x}", "[]", '"text"', "1", "null", '{"a":{"b":1}}', '{"a":[1]}', "{", "{'a': 1}"]),
    "ServiceName": st.sampled_from([None, ""]),  # required
    "ResourceId": st.builds(
        lambda a, s, b: a + s + b, hostile_text, st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), hostile_text
    ),
}


@st.composite
def rows_with_problems(draw: st.DrawFn) -> tuple[list[Row], list[int]]:
    """Valid rows and rows with exactly one problem each; the numbers of the bad rows."""
    rows, bad = [], []
    for number, (row, _, _) in enumerate(draw(st.lists(vantage_rows(), min_size=1, max_size=16)), start=1):
        if draw(st.booleans()):
            column = draw(st.sampled_from(sorted(BREAKS)))
            row = {**row, column: draw(BREAKS[column])}
            bad.append(number)
        rows.append(row)
    return rows, bad


@given(rows_with_problems(), st.integers(1, 4))
@example(
    ([{**ROW, "ResourceId": "bad \udc80 text"}], [1]), 1
)  # a lone surrogate is a problem, not a UnicodeEncodeError
@example(
    ([{**ROW, "ChargePeriodStart": "0001-01-01T00:00:00+05:00"}], [1]), 1
)  # before year 1 in UTC: not OverflowError
def test_invalid_rows_are_listed_and_nothing_is_left(case: tuple[list[Row], list[int]], max_rows: int) -> None:
    rows, bad = case
    with own_tempdir() as folder:
        if not bad:
            build_batches(rows, max_rows=max_rows).cleanup()
            return
        with pytest.raises(ConfigError) as info:
            build_batches(rows, max_rows=max_rows)
        assert os.listdir(folder) == []
    assert str(info.value) == f"{len(bad)} problem(s) that Vantage would reject; nothing was sent"
    details = info.value.details
    shown = bad[:10]
    assert [int(re.match(r"row (\d+): ", d).group(1)) for d in details[: len(shown)]] == shown  # type: ignore[union-attr]
    assert details[len(shown) :] == ([f"... and {len(bad) - 10} more"] if len(bad) > 10 else [])

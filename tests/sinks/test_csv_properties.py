"""Properties of the CSV sink over any FOCUS rows: every header of ours (and any column subset), values with commas,
quotes, CR, LF, CRLF, a lone CR, edge spaces, NUL, non-ASCII and emoji, empty strings, nulls and missing columns.

- A written file parses back with Python's `csv` module to the same values, row for row. A null (None or a missing
  column) and an empty string are both an empty, unquoted field, so both read back as "" (FOCUS has no empty
  string distinct from null; the module docstring: "A null is an empty, unquoted field").
- The bytes are `csv.writer`'s (QUOTE_MINIMAL, LF) except that a value with a CR is always quoted: csv.writer with
  an LF terminator leaves a lone CR bare, and every reader then splits the record there.
- NUL is valid UTF-8 and round-trips. A lone surrogate cannot be written as UTF-8: a ConfigError names the row and
  column, and nothing is written.
- The destination only changes when the block succeeds (temporary file + rename).
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from llm_cost.errors import ConfigError
from llm_cost.focus.columns import CUSTOM, FOCUS_1_2, VANTAGE, columns_for
from llm_cost.focus.rowset import VARYING, RowSet, RowShape
from llm_cost.sinks.csv_writer import CsvSink

Row = dict[str, str | None]

PROFILES = [columns_for("focus", "1.2"), columns_for("focus", "1.0"), VANTAGE]
SPECIALS = [
    ",",
    '"',
    '""',
    "\r",
    "\n",
    "\r\n",
    "\n\r",
    "\r\r",
    " ",
    "  ",
    "\t",
    "\x00",
    "é",
    "Ünï",
    "日本語",
    "😀",
    "👩‍💻",
    "\u2028",
    "\x85",
    "\ufeff",
    "\x0b",
    "'",
    "=",
    "-",
    "{",
    "}",
    ":",
    "\\",
]

hostile_text = st.lists(st.one_of(st.sampled_from(SPECIALS), st.text(max_size=4)), max_size=6).map("".join)
values = st.one_of(st.none(), st.just(""), hostile_text)
column_lists = st.one_of(
    st.sampled_from(PROFILES),
    st.lists(st.sampled_from(FOCUS_1_2 + CUSTOM), min_size=1, max_size=4, unique=True).map(tuple),
)


@st.composite
def headers_and_rows(draw: st.DrawFn, max_rows: int = 8) -> tuple[tuple[str, ...], list[Row]]:
    """A header and rows over it; any column may be missing (a null), and a row may carry a column the header
    does not have (ignored)."""
    columns = draw(column_lists)
    row = st.fixed_dictionaries({}, optional={**dict.fromkeys(columns, values), "x_NotInHeader": values})
    return columns, draw(st.lists(row, max_size=max_rows))


def _read_back(data: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data, newline="")))


def _expected_fields(columns: Sequence[str], row: Row) -> list[str]:
    return [row.get(c) or "" for c in columns]


def _write_file(target: Path, columns: Sequence[str], rows: list[Row]) -> CsvSink:
    with CsvSink(str(target), columns) as sink:
        for row in rows:
            sink.write(row)
    return sink


def _csv_writer_line(values: Sequence[str | None], lineterminator: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=lineterminator, quoting=csv.QUOTE_MINIMAL).writerow(values)
    return buffer.getvalue()


def _bare_cr(value: str | None) -> bool:
    """A value that csv.writer (LF terminator) would write with a CR outside quotes."""
    return value is not None and "\r" in value and not any(c in value for c in ',"\n')


@given(headers_and_rows())
# Regression: a one-column row of a null was a blank line, which reads back as a record with no fields.
@example((("BilledCost",), [{"BilledCost": None}, {"BilledCost": ""}, {}]))
@example((("A", "B"), [{"A": "cr\ronly", "B": "trailing cr\r"}, {"A": "\r", "B": "\r\n"}]))
def test_a_written_file_reads_back_to_the_same_values(case: tuple[tuple[str, ...], list[Row]]) -> None:
    columns, rows = case
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "costs.csv"
        sink = _write_file(target, columns, rows)
        assert os.listdir(folder) == ["costs.csv"]  # the temporary file was renamed, not copied
        data = target.read_bytes()
    assert sink.rows == len(rows)
    assert not data.startswith(b"\xef\xbb\xbf") and data.endswith(b"\n")
    parsed = _read_back(data.decode("utf-8"))
    assert parsed[0] == list(columns)
    assert len(parsed) == len(rows) + 1
    assert parsed[1:] == [_expected_fields(columns, row) for row in rows]


@given(headers_and_rows())
@example((("BilledCost",), [{"BilledCost": None}, {"BilledCost": ""}]))
@example((("A", "B"), [{"A": "cr\ronly", "B": None}, {"A": '"\r', "B": "\r,"}]))
def test_the_bytes_are_csv_writers_except_that_a_cr_is_always_quoted(case: tuple[tuple[str, ...], list[Row]]) -> None:
    columns, rows = case
    out = io.BytesIO()
    with CsvSink("-", columns, stdout=out) as sink:
        for row in rows:
            sink.write(row)
    ours = out.getvalue().decode("utf-8")
    lf_header = _csv_writer_line(columns, "\n")
    # The documented rule, from the stdlib: with a CRLF terminator csv.writer quotes a value holding CR or LF.
    crlf_rows = [_csv_writer_line(_expected_fields(columns, r), "\r\n") for r in rows]
    assert ours == lf_header + "".join(line[:-2] + "\n" for line in crlf_rows)
    # And literally csv.writer's LF output for every row without a bare CR; those rows differ only by the quotes.
    lines = [lf_header]
    for row in rows:
        fields = [row.get(c) for c in columns]
        line = _csv_writer_line(fields, "\n")
        if any(map(_bare_cr, fields)):
            assert line != _csv_writer_line(fields, "\r\n")[:-2] + "\n"
            line = ",".join(f'"{v}"' if _bare_cr(v) else _csv_writer_line([v, None], "\n")[:-2] for v in fields) + "\n"
        lines.append(line)
    assert ours == "".join(lines)


@given(headers_and_rows(), st.integers(min_value=0), st.binary(max_size=64))
def test_a_failed_block_leaves_the_existing_file_untouched(
    case: tuple[tuple[str, ...], list[Row]], fail_at: int, existing: bytes
) -> None:
    columns, rows = case
    fail_at %= len(rows) + 1
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "costs.csv"
        target.write_bytes(existing)
        with pytest.raises(RuntimeError, match="boom"), CsvSink(str(target), columns) as sink:
            for row in rows[:fail_at]:
                sink.write(row)
            raise RuntimeError("boom")
        assert target.read_bytes() == existing
        assert os.listdir(folder) == ["costs.csv"]


surrogate = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)


@st.composite
def rows_with_a_surrogate(draw: st.DrawFn) -> tuple[tuple[str, ...], list[Row], int, str]:
    columns, rows = draw(headers_and_rows())
    bad_column = draw(st.sampled_from(columns))
    bad_value = draw(hostile_text) + draw(surrogate) + draw(hostile_text)
    at = draw(st.integers(0, len(rows)))
    rows = [
        *rows[:at],
        {**draw(st.fixed_dictionaries(dict.fromkeys(columns, values))), bad_column: bad_value},
        *rows[at:],
    ]
    return columns, rows, at, bad_column


@given(rows_with_a_surrogate(), st.binary(max_size=64))
@example((("A", "B"), [{"A": "ok", "B": "x\ud83dy"}], 0, "B"), b"old")
def test_a_lone_surrogate_is_a_clear_error_and_nothing_is_written(
    case: tuple[tuple[str, ...], list[Row], int, str], existing: bytes
) -> None:
    columns, rows, at, bad_column = case
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "costs.csv"
        target.write_bytes(existing)
        with pytest.raises(ConfigError) as info:
            _write_file(target, columns, rows)
        assert target.read_bytes() == existing
        assert os.listdir(folder) == ["costs.csv"]
    message = str(info.value)
    assert re.search(rf"\brow {at + 1}\b", message) and bad_column in message and "surrogate" in message
    out = io.BytesIO()
    with pytest.raises(ConfigError), CsvSink("-", columns, stdout=out) as sink:
        for row in rows:
            sink.write(row)
    assert out.getvalue() == b""


@st.composite
def row_sets(draw: st.DrawFn) -> tuple[tuple[str, ...], list[RowSet]]:
    """A header and groups of rows as the pipeline hands them over: rows that share shapes (the same object, as the
    mapping's memo gives them), each with its own VARYING values, all hostile."""
    columns = draw(column_lists)
    shape_values = st.fixed_dictionaries({}, optional={c: values for c in (*FOCUS_1_2, *CUSTOM) if c not in VARYING})
    shapes = [RowShape(draw(shape_values)) for _ in range(draw(st.integers(1, 3)))]
    groups = []
    for _ in range(draw(st.integers(0, 4))):
        count = draw(st.integers(1, 4))
        groups.append(
            RowSet(
                [draw(st.sampled_from(shapes)) for _ in range(count)],
                [tuple(draw(st.lists(values, min_size=len(VARYING), max_size=len(VARYING)))) for _ in range(count)],
            )
        )
    return columns, groups


@given(row_sets())
def test_a_group_writes_the_bytes_of_its_rows_one_by_one(case: tuple[tuple[str, ...], list[RowSet]]) -> None:
    """`write_group` (the pipeline's path: a shape's text built once and kept) writes exactly what `write` writes for
    each row of the group as a dict, whatever the header and the values, and twice in a row (the kept text)."""
    columns, groups = case
    by_group, by_row = io.BytesIO(), io.BytesIO()
    with CsvSink("-", columns, stdout=by_group) as sink:
        for rows in groups + groups:
            sink.write_group(rows)
    with CsvSink("-", columns, stdout=by_row) as sink:
        for rows in groups + groups:
            for row in rows.rows():
                sink.write(row)
    assert by_group.getvalue() == by_row.getvalue()
    assert sink.rows == 2 * sum(len(rows) for rows in groups)


def test_a_lone_surrogate_in_a_group_names_its_row_and_column() -> None:
    shape = RowShape({"ServiceName": "ok"})
    good = tuple("{}" if c == "Tags" else "1.0" if c == "BilledCost" else None for c in VARYING)
    bad = tuple('{"a":"\ud800"}' if c == "Tags" else value for c, value in zip(VARYING, good, strict=True))
    rows = RowSet([shape, shape], [good, bad])
    with (
        pytest.raises(ConfigError, match=r"row 3: column Tags holds a lone surrogate \(U\+D800\)"),
        CsvSink("-", columns_for("focus"), stdout=io.BytesIO()) as sink,
    ):
        sink.write_group(RowSet([shape], [good]))
        sink.write_group(rows)

"""The CSV sink: RFC 4180, nulls unquoted, atomic replace, nothing written on failure."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from llm_cost.errors import ConfigError
from llm_cost.sinks.csv_writer import CsvSink, check_output_path

COLUMNS = ("A", "B", "C")


def test_quoting_and_nulls(tmp_path: Path) -> None:
    out = io.BytesIO()
    tricky = 'Team, "Ünïcode"\nline two\r'
    with CsvSink("-", COLUMNS, stdout=out) as sink:
        sink.write({"A": tricky, "B": None, "C": ""})
        sink.write({"A": "x", "B": "1.0", "C": '{"k":"v"}'})
    data = out.getvalue()
    assert data.startswith(b"A,B,C\n") and b"\r\n" not in data.replace(b'\r"', b"")
    assert b'"{""k"":""v""}"' in data and b",," in data and b'""' not in data.split(b"\n")[-2].split(b",")[1]
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[1] == [tricky, "", ""] and sink.rows == 2


def test_stdout_gets_nothing_when_the_block_fails() -> None:
    out = io.BytesIO()
    with pytest.raises(RuntimeError), CsvSink("-", COLUMNS, stdout=out) as sink:
        sink.write({"A": "1"})
        raise RuntimeError("boom")
    assert out.getvalue() == b""


def test_existing_file_survives_a_failure_and_no_temp_is_left(tmp_path: Path) -> None:
    target = tmp_path / "costs.csv"
    target.write_text("precious\n")
    with pytest.raises(RuntimeError), CsvSink(str(target), COLUMNS) as sink:
        sink.write({"A": "1"})
        raise RuntimeError("boom")
    assert target.read_text() == "precious\n"
    assert [p.name for p in tmp_path.iterdir()] == ["costs.csv"]


def test_success_replaces_atomically_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "costs.csv"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    with CsvSink(str(target), COLUMNS) as sink:
        sink.write({"A": "1", "B": "2", "C": "3"})
    assert target.read_bytes() == b"A,B,C\n1,2,3\n"
    assert target.stat().st_mode & 0o777 == 0o640


def test_new_file_gets_umask_mode(tmp_path: Path) -> None:
    target = tmp_path / "new.csv"
    old = os.umask(0o022)
    try:
        with CsvSink(str(target), COLUMNS):
            pass
    finally:
        os.umask(old)
    assert target.read_bytes() == b"A,B,C\n" and target.stat().st_mode & 0o777 == 0o644


def test_bad_output_paths(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        check_output_path(str(tmp_path / "missing" / "x.csv"))
    with pytest.raises(ConfigError, match="is a directory"):
        check_output_path(str(tmp_path))
    check_output_path("-")
    check_output_path(None)


def test_same_bytes_as_csv_writer_except_a_lone_cr_is_quoted() -> None:
    """The hand-written escaper matches csv.writer (QUOTE_MINIMAL, LF) value for value, and round-trips."""
    values = [
        "plain",
        "",
        None,
        "a,b",
        'say "hi"',
        "line\nbreak",
        " spaced ",
        "Équipe ☃",
        '{"k":1}',
        "-0.5",
        "cr\ronly",
    ]
    rows = [{"A": a, "B": b, "C": c} for a in values for b in values[:4] for c in values[-4:]]
    out = io.BytesIO()
    with CsvSink("-", COLUMNS, stdout=out) as sink:
        for row in rows:
            sink.write(row)
    expected = io.StringIO(newline="")
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([[r[c] for c in COLUMNS] for r in rows])
    ours = out.getvalue().decode("utf-8")
    assert ours.replace('"cr\ronly"', "cr\ronly") == expected.getvalue()  # csv.writer leaves a lone CR unquoted
    parsed = list(csv.reader(io.StringIO(ours, newline="")))
    assert parsed[1:] == [[r[c] or "" for c in COLUMNS] for r in rows]

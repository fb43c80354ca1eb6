"""RFC 4180 CSV, deterministic, written to a temporary file and renamed (or copied to stdout) only on success.

UTF-8 without BOM, LF line endings, fields quoted only when they hold a comma, quote, CR or LF. A null (and an
empty string) is an empty, unquoted field; a record of one empty field is `""`. A failed run never truncates an
existing output file and never leaves half a CSV on stdout.
"""

from __future__ import annotations

import csv
import io
import operator
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, BinaryIO

from llm_cost.errors import ConfigError
from llm_cost.focus.columns import JSON_COLUMNS, values_of
from llm_cost.focus.rowset import VARYING, VARYING_SET, FocusRow, RowSet, RowShape, derived_key
from llm_cost.sinks.interface import Destination

SPOOL_BYTES = 8 * 1024 * 1024
WRITE_BATCH = 256 * 1024
ESCAPE_MEMO = 8192


def escape_field(value: str | None) -> str:
    """One field as `csv.writer` with QUOTE_MINIMAL writes it: quoted (with doubled quotes) only when the value holds
    a comma, quote, CR or LF; None is an empty field. One difference: a value with a CR but no comma, quote or LF
    is quoted too, where csv.writer (LF terminator) leaves the CR bare and every reader splits the record there."""
    if value is None:
        return ""
    text = str(value)
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if "," in text or "\n" in text or "\r" in text:
        return '"' + text + '"'
    return text


_NEEDS_QUOTES = re.compile(r'[",\r\n]').search


def encode_row(values: Sequence[str | None]) -> str:
    """One record with its LF, fields as `escape_field` writes them. A record of one empty field is `""`, as
    csv.writer writes it: a blank line would read back as a record with no fields."""
    line = ",".join(map(escape_field, values))
    if not line and len(values) == 1:
        line = '""'
    return line + "\n"


class _Escaped(dict[str | None, str]):
    """`escape_field` by value. Most values repeat from row to row (providers, models, periods), so their text is
    kept; the memo is bounded, so unique values cannot grow it."""

    def __missing__(self, value: str | None) -> str:
        text = escape_field(value)
        if len(self) >= ESCAPE_MEMO:
            self.clear()
        self[value] = text
        return text


def unencodable(columns: Sequence[str], values: Sequence[str | None], number: int) -> str:
    """The error for a row whose text UTF-8 cannot encode (a lone surrogate), naming the row and the column."""
    for column, value in zip(columns, values, strict=False):
        if value is None:
            continue
        try:
            str(value).encode("utf-8")
        except UnicodeEncodeError as exc:
            char = ord(exc.object[exc.start])
            return (
                f"row {number}: column {column} holds a lone surrogate (U+{char:04X}), which cannot be written as "
                "UTF-8; the source sent invalid text"
            )
    return f"row {number} cannot be written as UTF-8"


def is_stdout(output: str | None) -> bool:
    """`None` and `-` mean standard output."""
    return output in (None, "", "-")


def check_output_path(output: str | None) -> None:
    """Fail early (exit 3) when the output file cannot be written: a missing or read-only directory."""
    if is_stdout(output):
        return
    path = Path(output)  # type: ignore[arg-type]
    if path.is_dir():
        raise ConfigError(f"output {output}: is a directory; give a file name")
    parent = path.parent
    if not parent.is_dir():
        raise ConfigError(f"output {output}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"output {output}: directory {str(parent)!r} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"output {output}: file is not writable")


class CsvSink(Destination):
    """Writes FOCUS rows for one header to a file or stdout. The output appears only on `commit()`; `abort()`
    (or an exception inside `with`) removes the temporary file and leaves the destination untouched."""

    def __init__(self, output: str | None, columns: Sequence[str], stdout: BinaryIO | None = None) -> None:
        self.output = None if is_stdout(output) else output
        self.columns = tuple(columns)
        self.rows = 0
        self._stdout = stdout
        self._tmp_path: Path | None = None
        self._binary: IO[bytes]
        self._pending: list[bytes] = []  # encoded records not yet handed to the file, written in batches
        self._pending_bytes = 0

    def __enter__(self) -> CsvSink:
        self.open()
        return self

    def open(self) -> None:
        """Create the temporary file (in the target's folder, so the rename is atomic) and write the header."""
        if self.output is None:
            self._binary = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        else:
            target = Path(self.output)
            check_output_path(self.output)
            try:
                fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            except OSError as exc:
                raise ConfigError(f"output {self.output}: cannot create a file there ({exc.strerror})") from None
            self._tmp_path = Path(name)
            self._binary = os.fdopen(fd, "wb")
        header = io.StringIO()
        csv.writer(header, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow(self.columns)
        self._binary.write(header.getvalue().encode("utf-8"))
        self._escaped = _Escaped()
        self._values = values_of(self.columns)
        # A row set's VARYING values in header order, and their placeholders (None) for a shape's fixed text.
        at = {column: index for index, column in enumerate(VARYING)}
        positions = [at[c] for c in self.columns if c in at]
        self._varying_values: Callable[[Sequence[str | None]], Sequence[str | None]] = (
            operator.itemgetter(*positions) if len(positions) > 1 else lambda values: [values[i] for i in positions]
        )
        self._no_varying = dict.fromkeys(VARYING)
        # JSON values (Tags) hold quotes, so they are always escaped; the others (numbers, dates) are tested together.
        in_order = [c for c in self.columns if c in at]
        self._json_slots = [i for i, c in enumerate(in_order) if c in JSON_COLUMNS]
        plain = [i for i, c in enumerate(in_order) if c not in JSON_COLUMNS]
        self._plain_values: Callable[[Sequence[str | None]], Sequence[str | None]] = (
            operator.itemgetter(*plain) if len(plain) > 1 else lambda values: [values[i] for i in plain]
        )
        self._nulls = dict.fromkeys(self.columns)  # a column a shape lacks is a null
        self._shape_key = derived_key("csv", self.columns)

    def write(self, row: FocusRow) -> None:
        """Write one row, in header order; missing and None values are nulls. The bytes of `encode_row` (csv.writer's,
        QUOTE_MINIMAL, LF, but a CR always quoted), without its per-field cost. Text that UTF-8 cannot encode (a lone
        surrogate) is a ConfigError naming the row and column, and nothing of the row is written."""
        try:
            values = self._values(row)
        except KeyError:
            values = tuple(row.get(c) for c in self.columns)
        line = ",".join(map(self._escaped.__getitem__, values))
        if not line and len(values) == 1:
            line = '""'  # as encode_row: one empty field, not a blank line
        try:
            self._emit((line + "\n").encode("utf-8"))  # encoded at once, so a failure writes nothing of the row
        except UnicodeEncodeError:
            raise ConfigError(unencodable(self.columns, values, self.rows + 1)) from None
        self.rows += 1

    def _emit(self, data: bytes) -> None:
        """Queue encoded records; the file gets them in batches of about WRITE_BATCH bytes."""
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= WRITE_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._binary.write(b"".join(self._pending))
            self._pending.clear()
            self._pending_bytes = 0

    def write_group(self, rows: RowSet) -> None:
        """Write a group's rows: the fixed text of each row shape is escaped and joined once (and kept on the shape
        for later groups); a row adds its VARYING values. The same bytes as `write` for each row."""
        if len(self.columns) == 1:
            super().write_group(rows)
            return
        key, ordered, search, escape = self._shape_key, self._varying_values, _NEEDS_QUOTES, escape_field
        plain_values, json_slots = self._plain_values, self._json_slots
        lines = []
        for shape, values in zip(rows.shapes, rows.values, strict=True):
            parts = shape.derived.get(key)
            if parts is None:
                parts = shape.derived[key] = self._segments(shape)
            parts = parts.copy()  # type: ignore[attr-defined]
            fields = ordered(values)
            try:
                plain = not search("".join(plain_values(fields)))  # type: ignore[arg-type]
            except TypeError:  # a null among them
                plain = False
            if plain:
                fields = list(fields)
                for slot in json_slots:
                    value = fields[slot]
                    fields[slot] = "" if value is None else escape(value)
                parts[1::2] = fields
            else:
                parts[1::2] = [escape(v) if v is not None and search(v) else v or "" for v in fields]
            lines.append("".join(parts))
        try:
            self._emit("".join(lines).encode("utf-8"))
        except UnicodeEncodeError:  # nothing of the group was written: name the first row UTF-8 cannot encode
            for number, (row, line) in enumerate(zip(rows.rows(), lines, strict=True), start=self.rows + 1):
                try:
                    line.encode("utf-8")
                except UnicodeEncodeError:
                    values = self._values({**self._nulls, **row})
                    raise ConfigError(unencodable(self.columns, values, number)) from None
            raise
        self.rows += len(rows)

    def _segments(self, shape: RowShape) -> list[str]:
        """A shape's record as its fixed text around the VARYING values (in header order): segment, slot, segment,
        ..., segment, the last with the LF. A row fills the slots (the odd items)."""
        parts = [""]
        for column, value in zip(
            self.columns, self._values({**self._nulls, **shape.values, **self._no_varying}), strict=True
        ):
            if column in VARYING_SET:
                parts += ["", ""]  # the slot, and the segment after it
            else:
                parts[-1] += self._escaped[value]
            parts[-1] += ","
        parts[-1] = parts[-1][:-1] + "\n"
        return parts

    def append_file(self, path: Path, rows: int) -> None:
        """Append the records of a CSV this class wrote for the same header (a staged source of a labelled run),
        byte for byte, without its header; `rows` is how many it holds."""
        self._flush()
        with path.open("rb") as staged:
            header = staged.readline()
            if header.decode("utf-8").rstrip("\n").split(",") != list(self.columns):
                raise ValueError(f"{path} has another header")  # a bug: staged files share the run's header
            shutil.copyfileobj(staged, self._binary)
        self.rows += rows

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def commit(self) -> int:
        """Rename the temporary file over the output (or copy the spooled CSV to stdout); returns the rows."""
        try:
            self._flush()
            self._commit()
        finally:
            self.abort()
        return self.rows

    def abort(self) -> None:
        """Close and remove the temporary file, if it is still there."""
        self._pending.clear()
        self._binary.close()
        if self._tmp_path is not None and self._tmp_path.exists():
            self._tmp_path.unlink()

    def _commit(self) -> None:
        if self.output is None:
            self._binary.seek(0)
            destination = self._stdout or sys.stdout.buffer
            shutil.copyfileobj(self._binary, destination)
            destination.flush()
            return
        assert self._tmp_path is not None
        self._binary.flush()
        os.fsync(self._binary.fileno())
        target = Path(self.output)
        os.chmod(self._tmp_path, _final_mode(target))
        os.replace(self._tmp_path, target)


def _final_mode(target: Path) -> int:
    """Keep an existing file's mode; a new file gets the usual 0666 less the umask (mkstemp makes it 0600)."""
    if target.exists():
        return target.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask

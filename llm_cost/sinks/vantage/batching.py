"""Row-level batching: validated rows cut into CSV parts within Vantage's row and byte limits, staged on disk."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from llm_cost.errors import ConfigError
from llm_cost.focus.columns import VANTAGE, vantage_values
from llm_cost.focus.mapping import FocusRow
from llm_cost.records import EXACT
from llm_cost.sinks.csv_writer import encode_row, unencodable
from llm_cost.sinks.interface import Destination
from llm_cost.sinks.vantage.validation import _shorten, _utc_day, vantage_row_problems

MAX_ROWS = 10_000
MAX_BYTES = 2_000_000


@dataclass(slots=True)
class Part:
    """One CSV file of a run: the header and at most MAX_ROWS rows and MAX_BYTES bytes."""

    number: int
    path: Path
    rows: int
    size: int
    cost: Decimal
    filename: str = ""


@dataclass(slots=True)
class Batches:
    """The parts of a run, written to a temporary folder, with the period they cover."""

    parts: list[Part]
    rows: int
    cost: Decimal
    period_start: date | None
    period_end: date | None
    directory: tempfile.TemporaryDirectory[str] = field(repr=False)

    def cleanup(self) -> None:
        self.directory.cleanup()


def _encode(values: Sequence[str | None]) -> bytes:
    """One record as the CSV sink writes it (a CR is always quoted: csv.writer would leave a lone one bare)."""
    return encode_row(values).encode("utf-8")


class BatchWriter(Destination):
    """A row sink that cuts rows into parts at row boundaries (never inside a quoted field), on disk.

    Every row is validated as Vantage would; `close()` raises ConfigError listing the problems, so nothing is sent
    unless every row is acceptable. A row too large for a file on its own fails at once, naming the row.
    """

    def __init__(
        self, columns: Sequence[str] = VANTAGE, *, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES
    ) -> None:
        self.columns = tuple(columns)
        self._header = _encode(self.columns)
        self._values = vantage_values if self.columns == VANTAGE else _getter(self.columns)
        if len(self._header) >= max_bytes:
            raise ConfigError("the CSV header alone exceeds Vantage's file size limit")
        self._max_rows, self._max_bytes = max_rows, max_bytes
        self._directory = tempfile.TemporaryDirectory(prefix="llm-cost-vantage-")
        self._parts: list[Part] = []
        self._handle: io.BufferedWriter | None = None
        self._problems: list[str] = []
        self._rows = 0
        self._cost = Decimal(0)
        self._first_day: date | None = None
        self._last_day: date | None = None

    def write(self, row: FocusRow) -> None:
        """Validate one row and append it to the current part, starting a new part when a limit would be passed."""
        self._rows += 1
        if found := vantage_row_problems(row):
            self._problems += [f"row {self._rows}: {p}" for p in found]
            return
        values = self._values(row)
        try:
            encoded = _encode(values)
        except UnicodeEncodeError:
            self._problems.append(unencodable(self.columns, values, self._rows))
            return
        if len(self._header) + len(encoded) > self._max_bytes:
            self.abort()
            raise ConfigError(
                f"row {self._rows} ({row.get('ResourceId') or row.get('ServiceName')}) is {len(encoded)} bytes, too "
                f"large for one Vantage file ({self._max_bytes} bytes with the header); shorten its Tags or names"
            )
        current = self._parts[-1] if self._parts else None
        if current is None or current.rows >= self._max_rows or current.size + len(encoded) > self._max_bytes:
            if self._handle is not None:
                self._handle.close()
            path = Path(self._directory.name) / f"part{len(self._parts) + 1:03d}.csv"
            self._handle = path.open("wb")
            self._handle.write(self._header)
            current = Part(len(self._parts) + 1, path, 0, len(self._header), Decimal(0))
            self._parts.append(current)
        assert self._handle is not None
        self._handle.write(encoded)
        cost = Decimal(row.get("BilledCost") or "0")
        current.rows += 1
        current.size += len(encoded)
        current.cost = EXACT.add(current.cost, cost)  # exact whatever this thread's context
        self._cost = EXACT.add(self._cost, cost)
        # Validated above, so both parse; the UTC day, whatever the notation or offset.
        start = _utc_day(row["ChargePeriodStart"])
        end_text = row.get("ChargePeriodEnd")
        end = _utc_day(end_text) if end_text else start
        assert start is not None and end is not None
        self._first_day = start if self._first_day is None else min(self._first_day, start)
        self._last_day = end if self._last_day is None else max(self._last_day, end)

    def commit(self) -> Batches:
        """Finish the parts (staged on disk, ready to upload); raise if any row would be rejected."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._problems:
            count = len(self._problems)
            problems = _shorten(self._problems)
            self.abort()
            raise ConfigError(f"{count} problem(s) that Vantage would reject; nothing was sent", details=problems)
        return Batches(self._parts, self._rows, self._cost, self._first_day, self._last_day, self._directory)

    def abort(self) -> None:
        """Drop every part written so far."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self._directory.cleanup()


def build_batches(
    rows: Iterable[FocusRow], *, columns: Sequence[str] = VANTAGE, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES
) -> Batches:
    """Validate and cut a stream of rows into parts (see BatchWriter)."""
    writer = BatchWriter(columns, max_rows=max_rows, max_bytes=max_bytes)
    try:
        for row in rows:
            writer.write(row)
    except BaseException:
        writer.abort()
        raise
    return writer.commit()


def _getter(columns: tuple[str, ...]) -> Callable[[FocusRow], tuple[str | None, ...]]:
    """Values of any columns of a row, a missing one as a null."""
    return lambda row: tuple(row.get(c) for c in columns)

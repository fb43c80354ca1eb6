"""Reading a FOCUS CSV file (full or Vantage profile) back into rows, for `llm-cost upload FILE`."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from llm_cost.errors import ConfigError
from llm_cost.focus.columns import VANTAGE
from llm_cost.focus.mapping import FocusRow
from llm_cost.sinks.vantage.validation import REQUIRED_COLUMNS


def read_focus_csv(path: Path) -> Iterator[FocusRow]:
    """Rows of a FOCUS CSV (full or Vantage profile) for upload. Local problems are ConfigError (exit 3)."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise ConfigError(f"CSV not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not a readable CSV ({exc})") from None
        if not header or not any(h.strip() for h in header):
            raise ConfigError(f"{path} is empty: no header and no rows")
        known = [c for c in header if c in set(VANTAGE) | {"ProviderName", "ListCost", "EffectiveCost"}]
        if not known:
            raise ConfigError(f"{path} is not a FOCUS CSV: none of its columns ({', '.join(header[:5])}...) are FOCUS")
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ConfigError(f"{path} lacks the required column(s) {', '.join(missing)}")
        width = len(header)
        rows = 0
        try:
            for number, values in enumerate(reader, start=2):
                if not values:
                    continue
                if len(values) != width:
                    raise ConfigError(f"{path} line {number}: {len(values)} fields, the header has {width}")
                rows += 1
                yield {c: (v if v != "" else None) for c, v in zip(header, values, strict=True)}
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not a readable CSV ({exc})") from None
        if rows == 0:
            raise ConfigError(f"{path} has a header but no rows; nothing to upload")

"""Vantage row-level batching: row and byte limits, quoted fields kept whole, rows too large or invalid."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest

from llm_cost.errors import ConfigError
from llm_cost.focus.columns import VANTAGE
from llm_cost.sinks.vantage.batching import build_batches
from tests.fakes.vantage import vantage_row


def test_batches_respect_rows_and_bytes_and_keep_quoted_fields() -> None:
    rows = [vantage_row(i, cost="0.000001") for i in range(2500)]
    batches = build_batches(rows, max_rows=1000, max_bytes=60_000)
    try:
        assert sum(p.rows for p in batches.parts) == 2500
        assert all(p.rows <= 1000 and p.size <= 60_000 for p in batches.parts)
        assert len(batches.parts) > 3  # bytes bind before rows
        parsed = []
        for part in batches.parts:
            data = part.path.read_bytes()
            assert len(data) == part.size
            reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
            assert tuple(reader.fieldnames or ()) == VANTAGE
            parsed += list(reader)
        assert [r["ResourceId"] for r in parsed] == [f"r{i}" for i in range(2500)]
        assert json.loads(parsed[7]["Tags"]) == {"team": 'Équipe, "7"\nx'}
        assert batches.cost == Decimal("0.0025") and sum(p.cost for p in batches.parts) == batches.cost
        assert (batches.period_start, batches.period_end) == (date(2026, 10, 5), date(2026, 10, 6))
    finally:
        batches.cleanup()


def test_a_row_too_large_for_any_file_is_named() -> None:
    big = vantage_row(3)
    big["Tags"] = json.dumps({"blob": "x" * 5000})
    with pytest.raises(ConfigError, match=r"row 2 \(r3\) is \d+ bytes, too large"):
        build_batches([vantage_row(1), big], max_bytes=4000)


def test_invalid_rows_are_all_reported_and_nothing_is_built() -> None:
    rows = [vantage_row(i) for i in range(15)]
    for r in rows:
        r["ChargeCategory"] = "Adjustment"
    with pytest.raises(ConfigError, match="15 problem") as info:
        build_batches(rows)
    assert len(info.value.details) == 11 and info.value.details[-1] == "... and 5 more"

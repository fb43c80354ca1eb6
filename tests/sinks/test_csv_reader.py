"""Reading FOCUS CSV files for `llm-cost upload FILE`: files that are not uploadable are ConfigErrors."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_cost.errors import ConfigError
from llm_cost.focus.columns import VANTAGE
from llm_cost.sinks.csv_reader import read_focus_csv


def test_read_focus_csv_rejects_bad_files(tmp_path: Path) -> None:
    cases = {
        "empty.csv": ("", "is empty"),
        "header.csv": (",".join(VANTAGE) + "\n", "no rows"),
        "other.csv": ("a,b,c\n1,2,3\n", "not a FOCUS CSV"),
        "missing.csv": ("ChargePeriodStart,BilledCost,ServiceName\n2026-10-05,1.0,x\n", "ChargeCategory"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ConfigError, match=message):
            list(read_focus_csv(path))
    with pytest.raises(ConfigError, match="not found"):
        list(read_focus_csv(tmp_path / "nope.csv"))

"""A destination that keeps the rows it is given, as dicts, for tests of the pipeline."""

from __future__ import annotations

from llm_cost.focus.rowset import FocusRow
from llm_cost.sinks.interface import Destination


class CollectRows(Destination):
    """Keeps every row written to it, in order."""

    def __init__(self) -> None:
        self.rows: list[FocusRow] = []

    def write(self, row: FocusRow) -> None:
        self.rows.append(row)

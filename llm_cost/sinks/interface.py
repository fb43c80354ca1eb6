"""The destination interface: where FOCUS rows go, with a lifecycle.

The pipeline opens every destination, writes each checked row to all of them, and then either commits them all
(the run succeeded and verified) or aborts them all: an existing output file is never truncated by a failed run,
and nothing is uploaded from a run that failed. `commit()` returns the destination's result for the reports.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from llm_cost.focus.rowset import FocusRow, RowSet


class Destination(ABC):
    """A sink of FOCUS rows: open, write rows, then commit (returning a result) or abort."""

    def open(self) -> None:
        """Prepare to receive rows (create a temporary file, a staging folder)."""

    @abstractmethod
    def write(self, row: FocusRow) -> None:
        """Take one checked row."""

    def write_group(self, rows: RowSet) -> None:
        """Take the checked rows of one group (the pipeline's call); by default each row as a dict, in order."""
        for row in rows.rows():
            self.write(row)

    def commit(self) -> object:
        """Make the rows final (rename the file, hand over the staged parts) and return the result."""
        return None

    def abort(self) -> None:
        """Drop everything written since `open()`; leave whatever existed before untouched."""

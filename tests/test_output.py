"""stderr output: progress of long runs, a bar only on a terminal and plain lines with -v elsewhere."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from llm_cost.output import Output, RunProgress
from llm_cost.pipeline import PartitionDone

DAYS = [PartitionDone(1000 * n, 10 * n, datetime(2026, 10, n, tzinfo=UTC)) for n in (1, 2, 3)]


def _output(*, terminal: bool, quiet: bool = False, verbose: bool = False) -> tuple[Output, io.StringIO]:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=terminal, width=160, soft_wrap=True)
    return Output(console, quiet=quiet, verbose=verbose), stream


def _run(out: Output, total: int | None = 3) -> RunProgress:
    with RunProgress(out, "LiteLLM spend-logs", total) as progress:
        for day in DAYS:
            progress(day)
    return progress


def test_a_terminal_gets_a_bar_with_partitions_records_and_rows() -> None:
    out, stream = _output(terminal=True)
    progress = _run(out)
    assert (progress.done, progress.records, progress.rows) == (3, 6000, 60)
    text = stream.getvalue()
    assert "LiteLLM spend-logs" in text and "3/3" in text and "6,000 records, 60 rows" in text
    assert "done," not in text  # no plain lines under a bar


def test_a_log_gets_one_plain_line_per_partition_with_verbose_and_nothing_without() -> None:
    out, stream = _output(terminal=False, verbose=True)
    _run(out, total=None)
    lines = stream.getvalue().splitlines()
    assert lines == [
        "LiteLLM spend-logs: 2026-10-01T00:00:00Z done, 1,000 records, 10 rows",
        "LiteLLM spend-logs: 2026-10-02T00:00:00Z done, 2,000 records, 20 rows",
        "LiteLLM spend-logs: 2026-10-03T00:00:00Z done, 3,000 records, 30 rows",
    ]
    out, stream = _output(terminal=False)
    _run(out)
    assert stream.getvalue() == ""


def test_quiet_shows_no_progress_even_on_a_terminal() -> None:
    out, stream = _output(terminal=True, quiet=True, verbose=True)
    _run(out)
    assert stream.getvalue() == ""

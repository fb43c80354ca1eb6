"""Where humans read: stderr. One-line messages, GitHub annotations, and errors turned into exit codes."""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from llm_cost import github
from llm_cost.errors import LlmCostError
from llm_cost.formats import format_utc
from llm_cost.secrets import Masker

if TYPE_CHECKING:
    from llm_cost.pipeline import PartitionDone


def one_line(message: str) -> str:
    """A message as one line: a newline inside a path or name could otherwise start a forged `::command::` line
    in a GitHub Actions log."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


@dataclass(slots=True)
class Output:
    """The stderr console and the verbosity flags. Inside GitHub Actions, warnings and errors are annotations."""

    console: Console
    quiet: bool = False
    verbose: bool = False
    debug: bool = False

    @classmethod
    def stderr(cls, *, quiet: bool = False, verbose: bool = False, debug: bool = False) -> Output:
        return cls(Console(stderr=True, soft_wrap=True), quiet=quiet, verbose=verbose, debug=debug)

    def add_flags(self, *, quiet: bool = False, verbose: bool = False, debug: bool = False) -> None:
        """Add the global flags given after the command to those given before it. A flag given in either place
        counts, and nothing unsets one; -q still wins over -v, as `detail` prints only when verbose and not quiet."""
        self.quiet = self.quiet or quiet
        self.verbose = self.verbose or verbose
        self.debug = self.debug or debug

    def _print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def warn(self, message: str) -> None:
        if github.in_actions():
            github.annotate("warning", message)
        elif not self.quiet:
            self._print(f"warning: {one_line(message)}")

    def info(self, message: str) -> None:
        if not self.quiet:
            self._print(one_line(message))

    def detail(self, message: str) -> None:
        if self.verbose and not self.quiet:
            self._print(one_line(message))

    def error(self, message: str) -> None:
        if github.in_actions():
            github.annotate("error", message)
        else:
            self._print(f"error: {one_line(message)}")


@contextmanager
def handle_errors(out: Output, masker: Masker | None = None) -> Iterator[None]:
    """One line on stderr and the documented exit code; a traceback only with --debug. Secrets are masked in
    everything printed, tracebacks included."""
    mask = masker or Masker()

    def traceback_if_debug(exc: BaseException) -> None:
        if out.debug:
            sys.stderr.write(mask("".join(traceback.format_exception(exc))))

    try:
        yield
    except LlmCostError as exc:
        traceback_if_debug(exc)
        for line in exc.details:
            out._print(f"  {one_line(mask(line))}")
        out.error(mask(exc))
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        out.error("interrupted; nothing was written")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise
    except Exception as exc:  # a bug: say so, and keep the traceback for --debug
        traceback_if_debug(exc)
        out.error(
            mask(f"internal error: {type(exc).__name__}: {exc} (this is a bug; rerun with --debug for the traceback)")
        )
        raise typer.Exit(1) from None


class RunProgress:
    """Progress of long work on stderr: partitions of a run (UTC days or hours), or the parts of an upload.

    On a terminal (and without -q): a rich progress bar with the steps done of planned, the counts so far, the
    elapsed time and an ETA. Elsewhere (cron logs, CI) nothing redraws: with -v, one plain line per finished step;
    otherwise nothing."""

    def __init__(self, out: Output, title: str, total: int | None) -> None:
        self.out = out
        self.title = title
        self.total = total
        self.records = self.rows = self.done = 0
        self._lock = threading.Lock()  # the sources of a labelled run report from their own threads
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        if out.console.is_terminal and not out.quiet:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=out.console,
                transient=True,
            )
            self._task = self._bar.add_task(title, total=total, counts="")

    def __enter__(self) -> RunProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def add_total(self, steps: int | None) -> None:
        """More planned steps (a source of a labelled run, once opened, says how many partitions it has)."""
        with self._lock:
            self.total = None if steps is None or self.total is None else self.total + steps
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, total=self.total)

    def __call__(self, done: PartitionDone, source: str | None = None) -> None:
        """One partition of a run (of `source`, in a labelled run) finished."""
        with self._lock:
            self.records += done.records
            self.rows += done.rows
            counts = f"{self.records:,} records, {self.rows:,} rows"
        label = format_utc(done.start) if done.start is not None else None
        if label is not None and source is not None:
            label = f"{source} {label}"
        self.step(label, counts, f"{done.records:,} records, {done.rows:,} rows")

    def step(self, label: str | None, counts: str, line: str) -> None:
        """One step finished: `counts` (the totals so far) go on the bar, `line` (this step's) into a plain log."""
        with self._lock:
            self.done += 1
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, advance=1, counts=counts)
            elif label is not None:
                self.out.detail(f"{self.title}: {label} done, {line}")

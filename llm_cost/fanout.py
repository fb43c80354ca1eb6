"""Several sources in one run (`[[sources]]`): each source works in a thread of its own, with at most
`--concurrency` slices (UTC days, hours) fetched at once across all of them. A failing source stops the others and
fails the run, named; with `--keep-going` it is set aside and named, and the others finish."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TypeVar

from llm_cost.errors import LlmCostError, SourceError
from llm_cost.pipeline import Stopped
from llm_cost.settings import SourceRun

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SourceFailure:
    """A source that failed in a `--keep-going` run: its label and its error."""

    label: str
    error: LlmCostError

    def __str__(self) -> str:
        return f"{self.label} ({self.error})"


def shares(concurrency: int, sources: int) -> tuple[int, int]:
    """(sources worked at once, slices each fetches at once): together never more than `concurrency`."""
    at_once = max(1, min(sources, concurrency))
    return at_once, max(1, concurrency // at_once)


def named(label: str | None, error: LlmCostError) -> LlmCostError:
    """The error with its source's label in front, keeping its class (so its exit code) and details."""
    if label is None or str(error).startswith(f"source {label}: "):
        return error
    renamed = type(error)(f"source {label}: {error}", details=error.details)
    renamed.__cause__ = error.__cause__
    return renamed


def for_each_source(
    runs: Sequence[SourceRun],
    work: Callable[[SourceRun, int, threading.Event], T],
    *,
    concurrency: int,
    keep_going: bool,
) -> tuple[list[tuple[SourceRun, T]], list[SourceFailure]]:
    """`work(run, slices, stop)` for every source, in threads; the results in the runs' order.

    `slices` is how many slices that source may fetch at once, and `stop` is set when the run fails elsewhere (the
    work then ends with `Stopped`). Without `keep_going`, the first failure stops the others and is raised, with
    its source's label. With it, the failures (LlmCostErrors; a bug still fails the run) are returned instead."""
    at_once, slices = shares(concurrency, len(runs))
    stop = threading.Event()
    futures: list[Future[T]] = []
    first: tuple[SourceRun, BaseException] | None = None
    with ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="llm-cost-source") as pool:
        try:
            futures = [pool.submit(_guarded, work, run, slices, stop) for run in runs]
            owner = dict(zip(futures, runs, strict=True))
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in finished:
                    if future.cancelled():
                        continue
                    error = future.exception()
                    if error is None or isinstance(error, Stopped) or first is not None:
                        continue
                    if keep_going and isinstance(error, LlmCostError):
                        continue
                    first = owner[future], error
                    stop.set()
                    for other in pending:
                        other.cancel()
        except BaseException:  # Ctrl-C in the main thread: stop the sources, then go
            stop.set()
            for future in futures:
                future.cancel()
            raise
    if first is not None:
        run, error = first
        raise named(run.label, error) if isinstance(error, LlmCostError) else error
    done: list[tuple[SourceRun, T]] = []
    failures: list[SourceFailure] = []
    for run, future in zip(runs, futures, strict=True):
        error = future.exception()
        if error is None:
            done.append((run, future.result()))
        else:
            assert isinstance(error, LlmCostError)
            failures.append(SourceFailure(run.label or "", named(run.label, error)))
    return done, failures


def _guarded(
    work: Callable[[SourceRun, int, threading.Event], T], run: SourceRun, slices: int, stop: threading.Event
) -> T:
    if stop.is_set():  # the run failed before this source began
        raise Stopped
    return work(run, slices, stop)


def keep_going_error(failures: Sequence[SourceFailure], what: str) -> SourceError:
    """The error of a `--keep-going` run that left sources out (exit 4): `what` was done, and which are missing."""
    missing = "; ".join(str(failure) for failure in failures)
    return SourceError(f"--keep-going: {what}, without {len(failures)} failed source(s): {missing}")

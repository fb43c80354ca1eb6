"""The source interface: everything the core pipeline needs from a usage source, and nothing more.

A source is built from its own settings model (see `llm_cost.sources.registry`). It yields its records as
time-ordered partitions (a thunk per slice of time: a UTC day, or an hour at fine grains), which the pipeline
aggregates, maps, checks and writes one after the other, so memory holds a partition's groups, never the window's
records. It says which prices its records are mapped with and at which grain, reports its own completeness, and
may verify what it read (LiteLLM's reconciliation of its two endpoints) before any destination commits.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from llm_cost.aggregate import Granularity
from llm_cost.pricing import PriceBook
from llm_cost.records import UsageRecord
from llm_cost.reports import Table

Partition = Callable[[], Iterable[UsageRecord]]
Warn = Callable[[str], None]


@dataclass(slots=True, frozen=True)
class Verification:
    """What a source's own verification found: a table for the reports, and the failure (None when it passed)."""

    table: Table
    failure: str | None = None


class Source(ABC):
    """A usage source. Use it as a context manager: `close()` releases its connections."""

    label: str  # what it reads, for messages: "manifest llm-cost.toml", "LiteLLM spend-logs [..., ...)"
    grain: Granularity
    prices: PriceBook

    @abstractmethod
    def partitions(self) -> Iterator[Partition]:
        """The records, as time-ordered partitions that never share a group (lazy: nothing is read before)."""

    def partition_count(self) -> int | None:
        """How many partitions `partitions()` will hand out, when known in advance (for progress and ETA)."""
        return None

    def report(self) -> list[str]:
        """Completeness lines for the user (shown with -v and in dry-run), once every partition was read."""
        return []

    def verify(self) -> Verification | None:
        """Check what was read, after every partition and before any destination commits; None: nothing to check."""
        return None

    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

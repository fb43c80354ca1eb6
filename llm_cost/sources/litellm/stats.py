"""The completeness stats both LiteLLM readers (`--mode spend-logs` and `--mode daily-activity`) fill."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(slots=True)
class PullStats:
    """The completeness summary: what was asked, what came back, and what was done to make it exact."""

    endpoint: str = ""
    version: str | None = None
    windows: int = 0
    pages: int = 0
    rows_read: int = 0
    requests: int = 0
    duplicates: int = 0
    splits: int = 0
    requeries: int = 0
    health_checks: int = 0
    master_key_requests: int = 0
    http_requests: int = 0  # the client's counts, set when the run ends (partitions share one client)
    retries: int = 0
    notes: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def absorb(self, part: PullStats) -> None:
        """Add the counts of one partition's pull (read in its own thread) to the run's."""
        with self._lock:
            for name in _SUMMED:
                setattr(self, name, getattr(self, name) + getattr(part, name))
            self.endpoint = part.endpoint or self.endpoint
            self.notes += [note for note in part.notes if note not in self.notes]

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        return [
            f"source: {self.endpoint} (LiteLLM {self.version or 'version unknown'})",
            f"windows queried: {self.windows} ({self.splits} split), pages: {self.pages}, re-reads: {self.requeries}",
            f"rows read: {self.rows_read}, requests kept: {self.requests}, duplicates dropped: {self.duplicates}, "
            f"health checks excluded: {self.health_checks}, master-key requests: {self.master_key_requests}",
            f"HTTP requests: {self.http_requests}, retries: {self.retries}",
            *self.notes,
        ]


_SUMMED = (
    "windows",
    "pages",
    "rows_read",
    "requests",
    "duplicates",
    "splits",
    "requeries",
    "health_checks",
    "master_key_requests",
)

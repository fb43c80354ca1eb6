"""`--mode daily-activity`: pre-aggregated day x model x key rows from `/user/daily/activity`.

It pages over database rows, not days, and aggregates each page on its own, so the same date appears on several
pages and `metadata.total_*` covers one page only. We ask for one day at a time with page_size=1000, loop while
`has_more`, and sum `breakdown.models[m].api_key_breakdown[k]` ourselves. We never send `timezone` (it
double-counted in 1.83–1.86). On ≤1.90 the order inside a day is unstable, so there a day must fit one page; a
bigger day is split by model, then by key. See litellm-api.md §2a and §7.3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from llm_cost.errors import SourceError
from llm_cost.records import TokenCounts, UsageRecord
from llm_cost.sources.litellm.client import LiteLLMClient, version_tuple
from llm_cost.sources.litellm.lookups import Lookups
from llm_cost.sources.litellm.spend_logs import (
    HEALTH_CHECK_KEYS,
    MASTER_KEY_LITERAL,
    PullStats,
    token_counts,
)
from llm_cost.window import Window

PAGE_SIZE = 1000
PATH = "/user/daily/activity"
UNATTRIBUTED = ("", "unattributed")


@dataclass(slots=True)
class Cell:
    """Sums for one day x model x key."""

    spend: Decimal = Decimal(0)
    prompt: int = 0
    completion: int = 0
    cache_read: int = 0
    cache_write: int = 0
    requests: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)

    def add(self, metrics: dict[str, Any], metadata: dict[str, Any]) -> None:
        self.spend += Decimal(str(metrics.get("spend") or 0))
        self.prompt += int(metrics.get("prompt_tokens") or 0)
        self.completion += int(metrics.get("completion_tokens") or 0)
        self.cache_read += int(metrics.get("cache_read_input_tokens") or 0)
        self.cache_write += int(metrics.get("cache_creation_input_tokens") or 0)
        self.requests += int(metrics.get("api_requests") or 0)
        self.metadata.update({k: v for k, v in metadata.items() if v not in (None, "")})


class DailyActivityReader:
    """Reads `/user/daily/activity` one day at a time and merges the pages."""

    def __init__(self, client: LiteLLMClient, stats: PullStats, *, version: str | None) -> None:
        self.client = client
        self.stats = stats
        parsed = version_tuple(version)
        self.stable_order = parsed is None or parsed >= (1, 95)

    def _pages(self, day: date, filters: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
        """Every page for one day (and filters); returns the results and the number of pages."""
        results: list[dict[str, Any]] = []
        page = 1
        while True:
            params = {"start_date": day.isoformat(), "end_date": day.isoformat(), "page": page,
                      "page_size": PAGE_SIZE, **filters}  # fmt: skip
            body = self.client.get_json(PATH, params)
            self.stats.pages += 1
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise SourceError(f"unexpected response from {PATH}: expected an object with a 'results' list, got "
                                  f"{type(body).__name__} {str(body)[:120]}")  # fmt: skip
            results += [r for r in body["results"] if isinstance(r, dict)]
            metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
            if not metadata.get("has_more"):
                return results, page
            page += 1

    def cells(self, day: date, filters: dict[str, str] | None = None) -> dict[tuple[str, str], Cell]:
        """(model, key) -> sums for one day, read so that no row is lost or counted twice."""
        filters = filters or {}
        self.stats.windows += 1
        results, pages = self._pages(day, filters)
        if pages > 1 and not self.stable_order:
            return self._split(day, filters, results)
        cells: dict[tuple[str, str], Cell] = {}
        for result in results:
            if str(result.get("date")) != day.isoformat():
                continue
            models = (result.get("breakdown") or {}).get("models") or {}
            if not isinstance(models, dict):
                raise SourceError(f"unexpected response from {PATH}: breakdown.models is not an object")
            for model, entry in models.items():
                keys = (entry or {}).get("api_key_breakdown") or {}
                for key, key_entry in keys.items():
                    if not isinstance(key_entry, dict):
                        continue
                    metrics = key_entry.get("metrics") or {}
                    metadata = key_entry.get("metadata") or {}
                    cells.setdefault((str(model), str(key)), Cell()).add(metrics, metadata)
                    self.stats.rows_read += 1
        return cells

    def _split(self, day: date, filters: dict[str, str], results: list[dict[str, Any]]) -> dict[tuple[str, str], Cell]:
        """On ≤1.90 a multi-page day may lose or repeat rows: re-read it per model, then per model and key."""
        self.stats.splits += 1
        seen_models: set[str] = set()
        seen_keys: set[str] = set()
        for result in results:
            for model, entry in ((result.get("breakdown") or {}).get("models") or {}).items():
                seen_models.add(str(model))
                seen_keys.update(str(k) for k in ((entry or {}).get("api_key_breakdown") or {}))
        dimension, values = ("model", sorted(seen_models)) if "model" not in filters else ("api_key", sorted(seen_keys))
        if "api_key" in filters:
            raise SourceError(f"{PATH} for {day} needs more than one page even for model {filters['model']} and one "
                              "key, and this proxy (≤1.90) pages in an unstable order; upgrade it or use --mode spend-logs")  # fmt: skip
        merged: dict[tuple[str, str], Cell] = {}
        for value in values:
            for cell_key, cell in self.cells(day, {**filters, dimension: value}).items():
                merged[cell_key] = cell
        return merged


def daily_activity_records(client: LiteLLMClient, window: Window, stats: PullStats, lookups: Lookups, *,
                           version: str | None, include_health_checks: bool = False) -> Iterator[UsageRecord]:  # fmt: skip
    """One record per day x model x key. Aliases and team ids come from the key metadata, team aliases from
    /v2/team/list, providers from /model/info (else genai-prices)."""
    for partition in daily_activity_partitions(client, window, stats, lookups, version=version,
                                               include_health_checks=include_health_checks):  # fmt: skip
        yield from partition()


def daily_activity_partitions(client: LiteLLMClient, window: Window, stats: PullStats, lookups: Lookups, *,
                              version: str | None, include_health_checks: bool = False,
                              ) -> Iterator[Callable[[], Iterator[UsageRecord]]]:  # fmt: skip
    """The window's records as one partition per UTC day, each counted into `stats` when done, so the days can
    be fetched concurrently. A partial day is refused before anything is read."""
    stats.endpoint = PATH
    days = list(window.days())
    for day in days:
        if not day.is_whole_day():
            raise SourceError(f"{PATH} has whole UTC days only; {day} is a partial day (use --mode spend-logs)")
    for day in days:
        yield partial(_day_records, client, day, stats, lookups, version, include_health_checks)


def _day_records(client: LiteLLMClient, day: Window, stats: PullStats, lookups: Lookups, version: str | None,
                 include_health_checks: bool) -> Iterator[UsageRecord]:  # fmt: skip
    part = PullStats(endpoint=PATH, version=stats.version)
    try:
        yield from _records(DailyActivityReader(client, part, version=version), day, part, lookups,
                            include_health_checks)  # fmt: skip
    finally:
        stats.absorb(part)


def _records(reader: DailyActivityReader, day: Window, stats: PullStats, lookups: Lookups,
             include_health_checks: bool) -> Iterator[UsageRecord]:  # fmt: skip
    for (model, key), cell in sorted(reader.cells(day.start.date()).items()):
        if key in HEALTH_CHECK_KEYS and not include_health_checks:
            stats.health_checks += cell.requests
            continue
        team_id = cell.metadata.get("team_id")
        master = key == MASTER_KEY_LITERAL
        stats.requests += cell.requests
        if master:
            stats.master_key_requests += cell.requests
        provider, provider_name = lookups.provider(model)
        yield UsageRecord(
            period_start=day.start,
            period_end=day.end,
            provider=provider,
            provider_name=provider_name,
            model=model,
            cost=cell.spend,
            tokens=_tokens(cell),
            requests=cell.requests,
            api_key_hash=None if key in UNATTRIBUTED else key,
            key_alias=str(cell.metadata.get("key_alias") or ("master key" if master else "")) or None,
            team_id=str(team_id) if team_id else None,
            team_alias=lookups.team_alias(str(team_id)) if team_id else None,
            user_id=cell.metadata.get("user_id"),
            user_email=cell.metadata.get("user_email"),
            system_tags={"x-master-key": "true"} if master else {},
            cost_source="reported",
            source=f"litellm:{PATH}",
        )


def _tokens(cell: Cell) -> TokenCounts:
    return token_counts(cell.prompt, cell.completion,
                        {"cache_read_input_tokens": cell.cache_read, "cache_creation_input_tokens": cell.cache_write})  # fmt: skip

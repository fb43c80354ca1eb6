"""`--mode spend-logs`: per-request rows from `/spend/logs/v2` (or legacy `/spend/logs`), proven complete.

`/spend/logs/v2` orders by startTime with no tiebreaker, so rows with equal startTime shift between pages and a
multi-page read can miss rows that no deduplication brings back (litellm-api.md §0b). The only safe unit is a
window that fits in one page: each window is split until its first page is short (or `total` proves it whole),
down to one second; a second that still overflows a page is re-read until the union of request ids equals the
server's exact `total`. Legacy `/spend/logs` has no paging: a truncated day fails loudly.

Pages are decoded into typed rows, and a page the typed decoder refuses (a shape older versions send) into
tolerant ones; at day and hour grain a partition sums its typed rows by their raw values (fold.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from sys import intern
from typing import Any

import httpx
import msgspec

from llm_cost.aggregate import Granularity
from llm_cost.errors import SourceError
from llm_cost.records import UsageRecord
from llm_cost.sources.litellm.client import (
    EndpointMissing,
    LiteLLMClient,
    version_tuple,
)
from llm_cost.sources.litellm.fold import SpendFold
from llm_cost.sources.litellm.stats import PullStats
from llm_cost.sources.litellm.wire import (
    LIST_DECODER,
    PAGE_DECODER,
    TYPED_LIST_DECODER,
    TYPED_PAGE_DECODER,
    RowOptions,
    SpendPage,
    SpendRow,
    TypedPage,
    TypedRow,
    decode_typed,
    started,
)
from llm_cost.window import Window

Row = TypedRow | SpendRow  # a row of a page the typed decoder read, or of one it refused

CROWDED_SECOND_ATTEMPTS = 12


def _v2_time(moment: datetime) -> str:
    """v2 takes `YYYY-MM-DD HH:MM:SS` in UTC (ISO `T…Z` is rejected with 400)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


class SpendLogsReader:
    """Reads every spend-log row of a window exactly once, from v2 or the legacy endpoint."""

    def __init__(
        self, client: LiteLLMClient, stats: PullStats, *, version: str | None, exclude_health_checks: bool = True
    ) -> None:
        self.client = client
        self.stats = stats
        self.exclude_health_checks = exclude_health_checks
        parsed = version_tuple(version)
        self.use_v2 = parsed is None or parsed >= (1, 80, 8)
        self.page_size = 1000 if parsed is None or parsed >= (1, 95) else 100
        self.sortable = parsed is None or parsed >= (1, 83)

    def rows(self, window: Window) -> Iterator[Row]:
        """Every row with window.start <= startTime < window.end, one UTC day at a time. Rows are streamed window
        by window (at most a page or a crowded second at a time), never a whole day."""
        for day in window.days():
            yield from self._day_rows(day)

    def _day_rows(self, day: Window) -> Iterator[Row]:
        if self.use_v2:
            self.stats.endpoint = "/spend/logs/v2"
            rows = self._v2_walk(day.start, day.end) if self.sortable else self._v2_window(day.start, day.end)
            try:
                first = next(rows, None)
            except EndpointMissing:
                self.use_v2 = False
                self.stats.notes.append("/spend/logs/v2 is missing (HTTP 404): fell back to legacy /spend/logs")
            else:
                if first is not None:
                    yield first
                    yield from rows
                return
        self.stats.endpoint = "/spend/logs"
        yield from self._legacy_day(day)

    def _v2_page(self, start: datetime, end: datetime, page: int) -> tuple[Sequence[Row], int | None, bool]:
        params: dict[str, Any] = {
            "start_date": _v2_time(start),
            "end_date": _v2_time(end),
            "page": page,
            "page_size": self.page_size,
        }
        if self.sortable:
            params.update(sort_by="startTime", sort_order="asc")
        if self.exclude_health_checks:
            params["exclude_internal_health_checks"] = "true"
        try:
            response = self.client.get("/spend/logs/v2", params)
        except SourceError as exc:
            if self.page_size > 100 and "page_size" in str(exc) and not isinstance(exc, EndpointMissing):
                self.page_size = 100  # a 1.80–1.94 proxy allows 100 at most
                self.stats.notes.append("the proxy allows page_size 100 at most: using 100")
                return self._v2_page(start, end, page)
            raise
        self.stats.pages += 1
        page_body: TypedPage | SpendPage = self._decode(response, "/spend/logs/v2", TYPED_PAGE_DECODER, PAGE_DECODER)
        rows, (total, capped) = page_body.data, page_body.counted()
        self.stats.rows_read += len(rows)
        return rows, total, capped

    def _decode(
        self, response: httpx.Response, path: str, typed: msgspec.json.Decoder[Any], tolerant: msgspec.json.Decoder[Any]
    ) -> Any:
        """A body of typed rows, or of tolerant rows where the typed decoder refuses it (a value of a type other
        than LiteLLM writes: older versions, odd rows); either gives the same records."""
        try:
            body = typed.decode(response.content)
            decode_typed(body.data if isinstance(body, TypedPage) else body)
            return body
        except msgspec.DecodeError:
            return self.client.decode(response, path, tolerant)

    def _whole_window(
        self, start: datetime, end: datetime, rows: Sequence[Row], total: int | None, capped: bool
    ) -> list[Row] | None:
        """The window's rows when page 1 holds all of it (a short page, or exactly the server's total), else None.
        Rows outside [start, end) are dropped: the server's bounds are inclusive and whole seconds."""
        exact = total is not None and not capped
        if len(rows) >= self.page_size and not (exact and total == len(rows)):
            return None
        if exact and total != len(rows):
            raise SourceError(
                f"/spend/logs/v2 said {total} rows for [{_v2_time(start)}, {_v2_time(end)}] but "
                f"returned {len(rows)} on one page; the window is not closed or the proxy is busy"
            )
        return self._unique([r for r in rows if start <= started(r) < end])

    def _unique(self, rows: list[Row]) -> list[Row]:
        """A window's rows without repeated request ids (the primary key, so a repeat is the proxy's glitch).
        Windows never overlap, so this is enough to count each request once."""
        unique = list({str(r.request_id): r for r in rows}.values())
        self.stats.duplicates += len(rows) - len(unique)
        return unique

    def _v2_walk(self, start: datetime, end: datetime) -> Iterator[Row]:
        """Rows with start <= startTime < end, walking forward (needs sort_order=asc, LiteLLM >= 1.83).

        With ORDER BY startTime ASC, page 1 of [cursor, end] holds every row whose startTime is below the startTime
        of its last row, however ties are ordered: those rows sort strictly first. So each full page proves
        [cursor, floor-to-second(last startTime)) complete; the walk continues from there, and a second that
        fills a page on its own is read as a crowded second. No page is read only to be thrown away."""
        cursor = start
        while cursor < end:
            self.stats.windows += 1
            rows, total, capped = self._v2_page(cursor, end, 1)
            if (complete := self._whole_window(cursor, end, rows, total, capped)) is not None:
                yield from complete
                return
            times = [started(r) for r in rows]
            if any(later < earlier for earlier, later in zip(times, times[1:], strict=False)):
                raise SourceError(
                    "/spend/logs/v2 did not sort by startTime ascending; this proxy cannot be read "
                    "exactly (is it older than 1.83?)"
                )
            boundary = max(times).replace(microsecond=0)
            if boundary <= cursor:  # one second fills the page: read it as a crowded second
                second_end = cursor + timedelta(seconds=1)
                yield from self._crowded_second(cursor, second_end, *self._v2_page(cursor, second_end, 1))
                self.stats.splits += 1
                cursor = second_end
                continue
            yield from self._unique([r for r, t in zip(rows, times, strict=True) if cursor <= t < boundary])
            del rows, times  # this page's rows go before the next page is fetched and decoded
            cursor = boundary

    def _v2_window(self, start: datetime, end: datetime) -> Iterator[Row]:
        """Rows with start <= startTime < end. The server's bounds are inclusive and whole seconds, so rows at
        `end` (the next window owns them) and any before a fractional `start` are dropped here."""
        self.stats.windows += 1
        rows, total, capped = self._v2_page(start, end, 1)
        if (complete := self._whole_window(start, end, rows, total, capped)) is not None:
            yield from complete
            return
        seconds = int((end - start).total_seconds())
        if seconds > 1:
            estimate = total if total is not None and not capped else max(total or 0, self.page_size) * 4
            parts = min(seconds, max(2, math.ceil(estimate / (self.page_size * 0.8))))
            self.stats.splits += 1
            step = math.ceil(seconds / parts)
            cursor = start
            while cursor < end:
                upper = min(cursor + timedelta(seconds=step), end)
                yield from self._v2_window(cursor, upper)
                cursor = upper
            return
        yield from self._crowded_second(start, end, rows, total, capped)

    def _crowded_second(
        self, start: datetime, end: datetime, first: Sequence[Row], total: int | None, capped: bool
    ) -> list[Row]:
        """A single second with more rows than a page: page through it, again and again, until the union of
        request ids is exactly the server's count. Ties reorder between reads, so each read finds what the last
        one missed."""
        if total is None or capped:
            raise SourceError(
                f"more than {self.page_size} requests at {_v2_time(start)} and the proxy gives no exact "
                "count, so they cannot be read completely; narrow the data with fewer requests per second"
            )
        union: dict[str, Row] = {str(r.request_id): r for r in first}
        for attempt in range(CROWDED_SECOND_ATTEMPTS):
            page = 2 if attempt == 0 else 1
            while True:
                rows, _, _ = self._v2_page(start, end, page)
                for row in rows:
                    union.setdefault(str(row.request_id), row)
                if len(rows) < self.page_size:
                    break
                page += 1
            if len(union) == total:
                return [r for r in union.values() if start <= started(r) < end]
            self.stats.requeries += 1
        raise SourceError(
            f"could not read all {total} requests at {_v2_time(start)} exactly (got {len(union)} after "
            f"{CROWDED_SECOND_ATTEMPTS} reads); the proxy's page order is unstable — try again"
        )

    def _legacy_day(self, day: Window) -> list[Row]:
        """Legacy `/spend/logs`: dates only, end exclusive in effect, a 10,000-row cap (≥~1.100) flagged by a
        header. A truncated day cannot be split further by time, so it fails loudly."""
        start_date, end_date = day.start.date(), (day.end - timedelta(microseconds=1)).date() + timedelta(days=1)
        self.stats.windows += 1
        response = self.client.get(
            "/spend/logs",
            {"start_date": start_date.isoformat(), "end_date": end_date.isoformat(), "summarize": "false"},
        )
        if response.headers.get("x-litellm-spend-logs-truncated", "").lower() == "true":
            raise SourceError(
                f"legacy /spend/logs truncated {start_date} at 10,000 rows; upgrade the proxy to "
                "1.80.8 or newer for /spend/logs/v2, or use --mode daily-activity"
            )
        body: list[Row] = self._decode(response, "/spend/logs", TYPED_LIST_DECODER, LIST_DECODER)
        self.stats.pages += 1
        if body and all(row.request_id is None for row in body):
            raise SourceError(
                "this proxy's /spend/logs only returns daily summaries (no summarize=false before "
                "1.73); use --mode daily-activity"
            )
        self.stats.rows_read += len(body)
        return self._unique([r for r in body if day.start <= started(r) < day.end])


def spend_log_records(
    client: LiteLLMClient,
    window: Window,
    stats: PullStats,
    options: RowOptions,
    *,
    version: str | None,
    grain: Granularity = "day",
) -> Iterator[UsageRecord]:
    """Every request in the window, health checks excluded unless asked for: at day and hour grain summed into one
    record per distinct key of each day (`SpendFold`), at request grain one record per request."""
    reader = SpendLogsReader(client, stats, version=version, exclude_health_checks=not options.include_health_checks)
    for day in window.days():
        fold = SpendFold(options, grain, day, stats)
        for row in reader.rows(day):
            if isinstance(row, TypedRow):
                fold.add(row)
                if grain == "request":
                    yield from fold.records(_source(stats))
            else:
                yield from fold.parsed(row, _source(stats))
        yield from fold.records(_source(stats))


def _source(stats: PullStats) -> str:
    """The records' source: the endpoint the day was read from (set before its first row)."""
    return intern(f"litellm:{stats.endpoint}")


def spend_log_partitions(
    client: LiteLLMClient,
    window: Window,
    stats: PullStats,
    options: RowOptions,
    *,
    version: str | None,
    grain: Granularity = "day",
) -> Iterator[Callable[[], Iterator[UsageRecord]]]:
    """The window's records as one partition per UTC day, each read with its own reader and counted into
    `stats` when done, so the days can be fetched concurrently.

    At hour and request grain the partitions are clock hours, so memory holds an hour of groups (at request grain
    a group is a request) rather than a day; each costs at most one more short page. Not on proxies that may only
    have the legacy endpoint, which reads whole dates."""
    parsed = version_tuple(version)
    by_hour = grain != "day" and parsed is not None and parsed >= (1, 80, 8)
    for piece in window.hours() if by_hour else window.days():
        yield partial(_partition, client, piece, stats, options, version, grain)


def _partition(
    client: LiteLLMClient, day: Window, stats: PullStats, options: RowOptions, version: str | None, grain: Granularity
) -> Iterator[UsageRecord]:
    part = PullStats(version=stats.version)
    try:
        yield from spend_log_records(client, day, part, options, version=version, grain=grain)
    finally:
        stats.absorb(part)

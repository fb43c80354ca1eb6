"""`--mode spend-logs`: per-request rows from `/spend/logs/v2` (or legacy `/spend/logs`), proven complete.

`/spend/logs/v2` orders by startTime with no tiebreaker, so rows with equal startTime shift between pages and a
multi-page read can miss rows that no deduplication brings back (litellm-api.md §0b). The only safe unit is a
window that fits in one page: each window is split until its first page is short (or `total` proves it whole),
down to one second; a second that still overflows a page is re-read until the union of request ids equals the
server's exact `total`. Legacy `/spend/logs` has no paging: a truncated day fails loudly.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from sys import intern
from typing import Any

import msgspec

from llm_cost.errors import SourceError
from llm_cost.records import TokenCounts, TokenType, UsageRecord
from llm_cost.sources.litellm.client import (
    EndpointMissing,
    LiteLLMClient,
    version_tuple,
)
from llm_cost.window import Window

HEALTH_CHECK_KEY = "litellm-internal-health-check"
HEALTH_CHECK_KEYS = frozenset({HEALTH_CHECK_KEY, hashlib.sha256(HEALTH_CHECK_KEY.encode()).hexdigest()})
MASTER_KEY_LITERAL = "litellm_proxy_master_key"
USER_AGENT_PREFIX = "user-agent"
CROWDED_SECOND_ATTEMPTS = 12
TOTAL_CAP = 10_000
ONE_SECOND = timedelta(seconds=1)
ZERO = timedelta()


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


# ------------------------------------------------------------------------------------------------------ parsing


def parse_time(value: Any) -> datetime:
    """LiteLLM's datetime spellings (`…928+00:00`, `…928000Z`, `… 12:00:00`) as aware UTC."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"missing or malformed timestamp {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = datetime.fromisoformat(value.strip().replace(" ", "T", 1).replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def started(row: SpendRow) -> datetime:
    """A row's startTime; a row without a readable one is a SourceError naming it (the readers filter and order
    rows by it before they are parsed)."""
    try:
        return parse_time(row.startTime)
    except (ValueError, TypeError, OverflowError):
        raise SourceError(
            f"unexpected spend-log row from LiteLLM (missing or malformed startTime "
            f"{str(row.startTime)[:40]!r}); request_id={str(row.request_id)[:60]!r}"
        ) from None


class Metadata(msgspec.Struct):
    """The parts of a spend-log row's `metadata` that llm-cost reads; every other key is skipped unparsed."""

    user_api_key_alias: Any = None
    user_api_key_team_id: Any = None
    user_api_key_team_alias: Any = None
    user_api_key_user_id: Any = None
    user_api_key_user_email: Any = None
    user_api_key_org_id: Any = None
    additional_usage_values: Any = None
    cost_breakdown: Any = None


class SpendRow(msgspec.Struct):
    """One spend-log row as it comes off the wire: only the columns llm-cost reads are decoded (numbers with a
    fraction as exact Decimals), `metadata` is kept as raw JSON until the row is parsed, the rest is skipped."""

    request_id: Any = None
    startTime: Any = None  # LiteLLM's column names
    endTime: Any = None
    spend: Any = None
    api_key: Any = None
    prompt_tokens: Any = None
    completion_tokens: Any = None
    model: Any = None
    model_group: Any = None
    custom_llm_provider: Any = None
    user: Any = None
    team_id: Any = None
    organization_id: Any = None
    end_user: Any = None
    cache_hit: Any = None
    request_tags: Any = None
    metadata: msgspec.Raw = msgspec.Raw(b"null")


class SpendPage(msgspec.Struct):
    """A `/spend/logs/v2` page."""

    data: list[SpendRow]
    total: Any = None
    total_is_capped: Any = None

    def counted(self) -> tuple[int | None, bool]:
        """The server's row count for the window (None when absent) and whether it is capped."""
        total = self.total if isinstance(self.total, int) and not isinstance(self.total, bool) else None
        return total, self.total_is_capped is True or (total is not None and total >= TOTAL_CAP)


PAGE_DECODER = msgspec.json.Decoder(SpendPage, float_hook=Decimal)
LIST_DECODER = msgspec.json.Decoder(list[SpendRow], float_hook=Decimal)
_METADATA_DECODER = msgspec.json.Decoder(Metadata | str | None, float_hook=Decimal)
_NO_METADATA = Metadata()


def read_metadata(raw: msgspec.Raw | bytes | str) -> Metadata:
    """`metadata` is an object, or (older versions) that object as a JSON string; anything else is empty."""
    try:
        value = _METADATA_DECODER.decode(raw)
        if isinstance(value, str):
            value = _METADATA_DECODER.decode(value) if value.strip() not in ("", "None", "null") else None
    except msgspec.MsgspecError:
        return _NO_METADATA
    return value if isinstance(value, Metadata) else _NO_METADATA


def _json_list(value: Any) -> Any:
    """`request_tags` arrive as a list or as a JSON string of one, depending on the version."""
    if isinstance(value, str):
        try:
            return msgspec.json.decode(value)
        except msgspec.DecodeError:
            return None
    return value


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError, ArithmeticError):
        return 0


def _text(value: Any) -> str | None:
    """A dimension's text, interned: the same few providers, models, keys and teams repeat on every row, and
    thousands of groups would otherwise each keep their own copies."""
    if value.__class__ is str:
        return intern(value) if value and value != "None" else None
    return intern(str(value)) if value not in (None, "", "None") else None


def parse_tags(raw: Any, tag_keys: frozenset[str] | None, keep_user_agent: bool) -> dict[str, str]:
    """Request tags of the form `key:value` become tags. `User-Agent:` tags are dropped unless asked for;
    with `tag_keys`, only those keys are kept (they split rows, so this bounds the cardinality)."""
    tags_list = _json_list(raw)
    if not isinstance(tags_list, list):
        return {}
    tags: dict[str, str] = {}
    for item in tags_list:
        if not isinstance(item, str) or ":" not in item:
            continue
        key, _, value = item.partition(":")
        key, value = key.strip(), value.strip()
        if not key:
            continue
        if key.lower() == USER_AGENT_PREFIX and not keep_user_agent and not (tag_keys and key in tag_keys):
            continue
        if tag_keys is not None and key not in tag_keys:
            continue
        tags[intern(key)] = intern(value)
    return tags


_COMPONENTS = (
    ("input_cost", TokenType.INPUT),
    ("output_cost", TokenType.OUTPUT),
    ("reasoning_cost", TokenType.OUTPUT),
    ("cache_read_cost", TokenType.CACHE_READ),
    ("cache_creation_cost", TokenType.CACHE_WRITE),
)


def _cost_components(breakdown: Any) -> dict[TokenType, Decimal] | None:
    if not isinstance(breakdown, dict):
        return None
    components: dict[TokenType, Decimal] = {}
    for name, token_type in _COMPONENTS:
        value = breakdown.get(name)
        if value is None:
            continue
        try:
            amount = value if isinstance(value, Decimal) else Decimal(str(value))
        except ArithmeticError:
            continue
        components[token_type] = components[token_type] + amount if token_type in components else amount
    return components or None


def token_counts(prompt: int, completion: int, usage: dict[str, Any]) -> TokenCounts:
    """Split LiteLLM's prompt tokens (which include cached tokens) into uncached input, cache reads and writes."""
    if not usage:
        return TokenCounts(input=max(prompt, 0), output=completion)
    details = usage.get("prompt_tokens_details") if isinstance(usage.get("prompt_tokens_details"), dict) else {}
    cache_read = _int(usage.get("cache_read_input_tokens")) or _int((details or {}).get("cached_tokens"))
    cache_write = _int(usage.get("cache_creation_input_tokens"))
    completion_details = usage.get("completion_tokens_details")
    reasoning = _int(completion_details.get("reasoning_tokens")) if isinstance(completion_details, dict) else 0
    return TokenCounts(
        input=max(prompt - cache_read - cache_write, 0),
        output=completion,
        cache_read=cache_read,
        cache_write=cache_write,
        reasoning=reasoning,
    )


@dataclass(slots=True, frozen=True)
class RowOptions:
    """How rows become records."""

    tag_keys: frozenset[str] | None = None
    keep_user_agent: bool = False
    include_health_checks: bool = False
    master_key_hash: str | None = None


def parse_spend_row(row: SpendRow, options: RowOptions, source: str) -> UsageRecord | None:
    """One spend-log row as a UsageRecord; None for excluded health-check traffic. Raises SourceError on a row
    without the fields every version has."""
    try:
        if row.request_id is None:
            raise ValueError("no request_id")
        request_id = str(row.request_id)
        start = started(row)
        spend = row.spend
        cost = Decimal(0) if spend is None else spend if isinstance(spend, Decimal) else Decimal(str(spend))
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise SourceError(
            f"unexpected spend-log row from LiteLLM ({type(exc).__name__}: {exc}); "
            f"request_id={str(row.request_id)[:60]!r}"
        ) from None
    api_key = intern(str(row.api_key or ""))
    if api_key in HEALTH_CHECK_KEYS and not options.include_health_checks:
        return None
    metadata = read_metadata(row.metadata)
    usage = metadata.additional_usage_values
    tokens = token_counts(
        _int(row.prompt_tokens), _int(row.completion_tokens), usage if isinstance(usage, dict) else {}
    )
    master = api_key == MASTER_KEY_LITERAL or (
        options.master_key_hash is not None and api_key == options.master_key_hash
    )
    system_tags = {"x-master-key": "true"} if master else {}
    if str(row.cache_hit) == "True":
        system_tags["x-cache-hit"] = "true"
    try:
        end = max(parse_time(row.endTime or row.startTime), start)
    except (ValueError, TypeError, OverflowError):
        end = start
    second = start.replace(microsecond=0)
    return UsageRecord(
        period_start=second,
        period_end=max(end.replace(microsecond=0) + (ONE_SECOND if end.microsecond else ZERO), second + ONE_SECOND),
        provider=_text(row.custom_llm_provider) or "unknown",
        model=_text(row.model) or "unknown-model",
        cost=cost,
        tokens=tokens,
        requests=1,
        model_group=_text(row.model_group),
        api_key_hash=api_key or None,
        key_alias=_text(metadata.user_api_key_alias) or ("master key" if master else None),
        team_id=_text(row.team_id) or _text(metadata.user_api_key_team_id),
        team_alias=_text(metadata.user_api_key_team_alias),
        user_id=_text(row.user) or _text(metadata.user_api_key_user_id),
        user_email=_text(metadata.user_api_key_user_email),
        end_user=_text(row.end_user),
        org_id=_text(row.organization_id) or _text(metadata.user_api_key_org_id),
        cost_components=_cost_components(metadata.cost_breakdown),
        tags=parse_tags(row.request_tags, options.tag_keys, options.keep_user_agent),
        system_tags=system_tags,
        cost_source="reported",
        source=source,
        request_id=request_id,
    )


# ------------------------------------------------------------------------------------------------------ reading


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

    def rows(self, window: Window) -> Iterator[SpendRow]:
        """Every row with window.start <= startTime < window.end, one UTC day at a time. Rows are streamed window
        by window (at most a page or a crowded second at a time), never a whole day."""
        for day in window.days():
            yield from self._day_rows(day)

    def _day_rows(self, day: Window) -> Iterator[SpendRow]:
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

    def _v2_page(self, start: datetime, end: datetime, page: int) -> tuple[list[SpendRow], int | None, bool]:
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
        page_body: SpendPage = self.client.decode(response, "/spend/logs/v2", PAGE_DECODER)
        rows, (total, capped) = page_body.data, page_body.counted()
        self.stats.rows_read += len(rows)
        return rows, total, capped

    def _whole_window(
        self, start: datetime, end: datetime, rows: list[SpendRow], total: int | None, capped: bool
    ) -> list[SpendRow] | None:
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

    def _unique(self, rows: list[SpendRow]) -> list[SpendRow]:
        """A window's rows without repeated request ids (the primary key, so a repeat is the proxy's glitch).
        Windows never overlap, so this is enough to count each request once."""
        unique = list({str(r.request_id): r for r in rows}.values())
        self.stats.duplicates += len(rows) - len(unique)
        return unique

    def _v2_walk(self, start: datetime, end: datetime) -> Iterator[SpendRow]:
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
            cursor = boundary

    def _v2_window(self, start: datetime, end: datetime) -> Iterator[SpendRow]:
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
        self, start: datetime, end: datetime, first: list[SpendRow], total: int | None, capped: bool
    ) -> list[SpendRow]:
        """A single second with more rows than a page: page through it, again and again, until the union of
        request ids is exactly the server's count. Ties reorder between reads, so each read finds what the last
        one missed."""
        if total is None or capped:
            raise SourceError(
                f"more than {self.page_size} requests at {_v2_time(start)} and the proxy gives no exact "
                "count, so they cannot be read completely; narrow the data with fewer requests per second"
            )
        union: dict[str, SpendRow] = {str(r.request_id): r for r in first}
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

    def _legacy_day(self, day: Window) -> list[SpendRow]:
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
        body: list[SpendRow] = self.client.decode(response, "/spend/logs", LIST_DECODER)
        self.stats.pages += 1
        if body and all(row.request_id is None for row in body):
            raise SourceError(
                "this proxy's /spend/logs only returns daily summaries (no summarize=false before "
                "1.73); use --mode daily-activity"
            )
        self.stats.rows_read += len(body)
        return self._unique([r for r in body if day.start <= started(r) < day.end])


def spend_log_records(
    client: LiteLLMClient, window: Window, stats: PullStats, options: RowOptions, *, version: str | None
) -> Iterator[UsageRecord]:
    """Every request in the window as a record, health checks excluded unless asked for."""
    reader = SpendLogsReader(client, stats, version=version, exclude_health_checks=not options.include_health_checks)
    for row in reader.rows(window):
        record = parse_spend_row(row, options, intern(f"litellm:{stats.endpoint}"))
        if record is None:
            stats.health_checks += 1
            continue
        stats.requests += 1
        if record.system_tags.get("x-master-key"):
            stats.master_key_requests += 1
        yield record


def spend_log_partitions(
    client: LiteLLMClient,
    window: Window,
    stats: PullStats,
    options: RowOptions,
    *,
    version: str | None,
    grain: str = "day",
) -> Iterator[Callable[[], Iterator[UsageRecord]]]:
    """The window's records as one partition per UTC day, each read with its own reader and counted into
    `stats` when done, so the days can be fetched concurrently.

    At hour and request grain the partitions are clock hours, so memory holds an hour of groups (at request grain
    a group is a request) rather than a day; each costs at most one more short page. Not on proxies that may only
    have the legacy endpoint, which reads whole dates."""
    parsed = version_tuple(version)
    by_hour = grain != "day" and parsed is not None and parsed >= (1, 80, 8)
    for piece in window.hours() if by_hour else window.days():
        yield partial(_partition, client, piece, stats, options, version)


def _partition(
    client: LiteLLMClient, day: Window, stats: PullStats, options: RowOptions, version: str | None
) -> Iterator[UsageRecord]:
    part = PullStats(version=stats.version)
    try:
        yield from spend_log_records(client, day, part, options, version=version)
    finally:
        stats.absorb(part)

"""Every fail-loudly path of the LiteLLM source, each raised by a proxy that misbehaves the way the path guards
against: respx routes whose handlers serve (and, where needed, remember) what a real or broken proxy would send.
No internal function is patched; only the retry sleep is made instant.

The reader and the client are driven directly for the exact message (and the exception type); a few paths also
run through the CLI for the exit code, a one-line error with no traceback, and no API key anywhere in the output.
Paths that once escaped as internal errors (exit 1) are kept as regression tests: a malformed startTime, odd
daily-activity shapes, a split day's unchecked models, a day that lost a model between unstable pages.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from typer.testing import CliRunner, Result

from llm_cost.cli import app
from llm_cost.errors import ConfigError, LlmCostError, SourceError
from llm_cost.pricing import PriceBook
from llm_cost.sources.litellm.client import EndpointMissing, LiteLLMClient
from llm_cost.sources.litellm.daily_activity import DailyActivityReader, daily_activity_partitions
from llm_cost.sources.litellm.lookups import Lookups
from llm_cost.sources.litellm.spend_logs import (
    CROWDED_SECOND_ATTEMPTS,
    SpendLogsReader,
    spend_log_records,
)
from llm_cost.sources.litellm.stats import PullStats
from llm_cost.sources.litellm.wire import RowOptions
from llm_cost.window import Window, day_window

BASE = "http://proxy.test"
KEY = "sk-fail-loudly-9f8e7d6c5b4a3210"
DAY = day_window(date(2025, 6, 1))
NOON = datetime(2025, 6, 1, 12, tzinfo=UTC)
TIE = NOON + timedelta(milliseconds=500)  # the instant a crowded second's requests share
KEY_A, KEY_B, KEY_C = "a" * 64, "b" * 64, "c" * 64


# ------------------------------------------------------------------------------------------------------ helpers


def _client(sleep: Callable[[float], None] = lambda seconds: None) -> LiteLLMClient:
    return LiteLLMClient(base_url=BASE, api_key=KEY, sleep=sleep)


def _fails(run: Callable[[], object], *words: str, kind: type[LlmCostError] = SourceError, code: int = 4) -> str:
    """Run, expect `kind` with every word in its message and the API key nowhere in it; return the message."""
    with pytest.raises(kind) as info:
        run()
    message = str(info.value)
    missing = [word for word in words if word not in message]
    assert not missing, f"{missing} not in {message!r}"
    assert KEY not in message, "the API key leaked into the message"
    assert info.value.exit_code == code
    return message


def _read(version: str | None, window: Window = DAY, stats: PullStats | None = None) -> list[str]:
    """The request ids the spend-log reader returns for the window."""
    reader = SpendLogsReader(_client(), stats if stats is not None else PullStats(), version=version)
    return [str(row.request_id) for row in reader.rows(window)]


def _records(version: str | None) -> list[Any]:
    return list(spend_log_records(_client(), DAY, PullStats(), RowOptions(), version=version))


def _row(i: int, when: datetime, **extra: Any) -> dict[str, Any]:
    """A v2 spend-log row (the shape of litellm-api.md §1c), `startTime` spelled as v2 spells it."""
    stamp = when.isoformat(timespec="milliseconds")
    return {
        "request_id": f"chatcmpl-{i:05d}",
        "call_type": "acompletion",
        "api_key": KEY_A,
        "spend": 0.25,
        "total_tokens": 110,
        "prompt_tokens": 100,
        "completion_tokens": 10,
        "startTime": stamp,
        "endTime": stamp,
        "model": "gpt-4o-mini",
        "model_group": "gpt-4o-mini",
        "custom_llm_provider": "openai",
        "user": "user-1",
        "team_id": "",
        "organization_id": "",
        "end_user": "",
        "cache_hit": "False",
        "request_tags": [],
        "metadata": {"user_api_key_alias": "prod-key"},
        **extra,
    }


def _spread(count: int, start: datetime, step: timedelta, first: int = 0) -> list[dict[str, Any]]:
    return [_row(first + n, start + n * step) for n in range(count)]


def _tied(count: int, first: int = 1000, when: datetime = TIE) -> list[dict[str, Any]]:
    return [_row(first + n, when) for n in range(count)]


def _ids(rows: list[dict[str, Any]], window: Window = DAY) -> set[str]:
    return {r["request_id"] for r in rows if window.start <= datetime.fromisoformat(r["startTime"]) < window.end}


def _v2_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------- a /spend/logs/v2 proxy


class SpendLogsV2:
    """`/spend/logs/v2` over fixed rows, as LiteLLM serves it: both date bounds inclusive, LIMIT/OFFSET pages, and
    `ORDER BY "startTime"` with no tiebreaker, so equal times come back in a new order on every query (PostgreSQL).

    `sorts`: honours `sort_order=asc` (≥1.83); otherwise the order is descending (1.80–1.82 have no sort_by).
    `page_max`: the largest page_size allowed (1000 from ~1.95, 100 before; more is a 422).
    `count`: "exact" (`total`, capped at 10,000 with `total_is_capped`) or "absent" (no `total` at all).
    Subclasses misbehave by overriding `respond`."""

    def __init__(
        self,
        rows: list[dict[str, Any]],
        *,
        page_max: int = 1000,
        sorts: bool = True,
        count: str = "exact",
        seed: int = 5,
    ) -> None:
        timed = sorted(((datetime.fromisoformat(r["startTime"]), r) for r in rows), key=lambda pair: pair[0])
        self.times = [t for t, _ in timed]
        self.rows = [r for _, r in timed]
        self.page_max, self.sorts, self.count = page_max, sorts, count
        self.rng = random.Random(seed)
        self.calls: list[dict[str, str]] = []

    def select(self, q: dict[str, str]) -> list[tuple[datetime, dict[str, Any]]]:
        lo = bisect_left(self.times, _v2_time(q["start_date"]))
        hi = bisect_right(self.times, _v2_time(q["end_date"]))
        return list(zip(self.times[lo:hi], self.rows[lo:hi], strict=True))

    def ordered(self, q: dict[str, str]) -> list[dict[str, Any]]:
        chosen = self.select(q)
        self.rng.shuffle(chosen)  # ties in a new order on every query; the stable sort below keeps it
        chosen.sort(key=lambda pair: pair[0], reverse=not (self.sorts and q.get("sort_order") == "asc"))
        return [r for _, r in chosen]

    def counted(self, n: int) -> dict[str, Any]:
        if self.count == "absent":
            return {}
        return {"total": min(n, 10_000), "total_is_capped": n > 10_000}

    def body(self, rows: list[dict[str, Any]], size: int, page: int, n: int | None = None) -> dict[str, Any]:
        total = len(rows) if n is None else n
        return {
            "data": rows[(page - 1) * size : page * size],
            "page": page,
            "page_size": size,
            "total_pages": max(1, math.ceil(min(total, 10_000) / size)),
            **self.counted(total),
        }

    def respond(self, q: dict[str, str], size: int, page: int) -> dict[str, Any]:
        return self.body(self.ordered(q), size, page)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        q = dict(request.url.params)
        self.calls.append(q)
        size, page = int(q["page_size"]), int(q["page"])
        if size > self.page_max:
            return httpx.Response(
                422,
                json={
                    "detail": [
                        {
                            "type": "less_than_equal",
                            "loc": ["query", "page_size"],
                            "msg": f"Input should be less than or equal to {self.page_max}",
                            "input": q["page_size"],
                            "ctx": {"le": self.page_max},
                        }
                    ]
                },
            )
        return httpx.Response(200, json=self.respond(q, size, page))


class BusyProxy(SpendLogsV2):
    """Counts in one statement and selects in another while the batch writer commits rows, so `total` is off by
    `drift` from what the page holds."""

    def __init__(self, rows: list[dict[str, Any]], drift: int, **kwargs: Any) -> None:
        super().__init__(rows, **kwargs)
        self.drift = drift

    def respond(self, q: dict[str, str], size: int, page: int) -> dict[str, Any]:
        body = super().respond(q, size, page)
        body["total"] += self.drift
        return body


class LeakyProxy(SpendLogsV2):
    """Counts one request that no page ever returns: every page is a fresh random pick of the others, so the union
    of the reads never reaches `total`."""

    def __init__(self, rows: list[dict[str, Any]], lost: str, **kwargs: Any) -> None:
        super().__init__(rows, **kwargs)
        self.lost = lost

    def respond(self, q: dict[str, str], size: int, page: int) -> dict[str, Any]:
        ordered = self.ordered(q)
        return self.body([r for r in ordered if r["request_id"] != self.lost], size, page, n=len(ordered))


class UnluckyProxy(SpendLogsV2):
    """For its first `unlucky` reads, the crowded second's ties come back in orders that keep the same `missed`
    rows off every page (last on page 1, first on page 2); later reads return them in a plain order."""

    def __init__(self, rows: list[dict[str, Any]], *, missed: set[str], unlucky: int, **kwargs: Any) -> None:
        super().__init__(rows, **kwargs)
        self.missed, self.unlucky, self.reads = missed, unlucky, 0
        self.second = (TIE.strftime("%Y-%m-%d %H:%M:%S"), (TIE + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S"))

    def respond(self, q: dict[str, str], size: int, page: int) -> dict[str, Any]:
        if (q["start_date"], q["end_date"]) != self.second:
            return super().respond(q, size, page)
        self.reads += page == 1
        rows = [r for _, r in self.select(q)]
        if self.reads <= self.unlucky:
            hit = [r for r in rows if r["request_id"] in self.missed]
            rest = [r for r in rows if r["request_id"] not in self.missed]
            rows = rest + hit if page == 1 else hit + rest
        return self.body(rows, size, page)


def _one_second_reads(proxy: SpendLogsV2, second: datetime = TIE) -> int:
    """Requests for the crowded second's own one-second window."""
    bounds = (second.strftime("%Y-%m-%d %H:%M:%S"), (second + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S"))
    return sum(1 for q in proxy.calls if (q["start_date"], q["end_date"]) == bounds)


# ---------------------------------------------------------------------------- a /user/daily/activity proxy


@dataclass(frozen=True, slots=True)
class DailyRow:
    """One LiteLLM_DailyUserSpend row: (user, date, key, model, provider) is the unique index."""

    model: str
    key: str
    user: str
    spend: float
    requests: int = 1
    day: str = "2025-06-01"


def _metrics(rows: list[DailyRow]) -> dict[str, Any]:
    return {
        "spend": sum(r.spend for r in rows),
        "prompt_tokens": 100 * len(rows),
        "completion_tokens": 10 * len(rows),
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "total_tokens": 110 * len(rows),
        "successful_requests": sum(r.requests for r in rows),
        "failed_requests": 0,
        "api_requests": sum(r.requests for r in rows),
    }


def _aggregate(rows: list[DailyRow]) -> list[dict[str, Any]]:
    """What ≤1.104 does to ONE page of rows: per date, per model, per key (floats summed by the server)."""
    results = []
    for day in sorted({r.day for r in rows}, reverse=True):
        of_day = [r for r in rows if r.day == day]
        models: dict[str, Any] = {}
        for model in sorted({r.model for r in of_day}):
            of_model = [r for r in of_day if r.model == model]
            keys = {
                key: {
                    "metrics": _metrics([r for r in of_model if r.key == key]),
                    "metadata": {"key_alias": f"alias-{key[:4]}", "team_id": None},
                }
                for key in sorted({r.key for r in of_model})
            }
            models[model] = {"metrics": _metrics(of_model), "metadata": {}, "api_key_breakdown": keys}
        results.append(
            {"date": day, "metrics": _metrics(of_day), "breakdown": {"models": models, "api_keys": {}, "providers": {}}}
        )
    return results


class DailyActivity:
    """`/user/daily/activity` of a ≤1.90 proxy: the `if model:` / `if api_key:` filters of LiteLLM's
    common_daily_activity (an empty value filters nothing), `ORDER BY date DESC` only (a day's rows in a new order
    on every query), LIMIT/OFFSET pages, each page aggregated on its own (litellm-api.md §2a)."""

    def __init__(self, rows: list[DailyRow], seed: int = 3) -> None:
        self.rows = rows
        self.rng = random.Random(seed)
        self.calls: list[dict[str, str]] = []

    def order(self, q: dict[str, str], page: int, chosen: list[DailyRow]) -> list[DailyRow]:
        self.rng.shuffle(chosen)
        chosen.sort(key=lambda r: r.day, reverse=True)
        return chosen

    def __call__(self, request: httpx.Request) -> httpx.Response:
        q = dict(request.url.params)
        self.calls.append(q)
        size, page = int(q.get("page_size", 50)), int(q.get("page", 1))
        chosen = [
            r
            for r in self.rows
            if q["start_date"] <= r.day <= q["end_date"]
            and (not q.get("model") or r.model == q["model"])
            and (not q.get("api_key") or r.key == q["api_key"])
        ]
        part = self.order(q, page, chosen)[(page - 1) * size : page * size]
        return httpx.Response(
            200,
            json={
                "results": _aggregate(part),
                "metadata": {
                    "total_spend": sum(r.spend for r in part),
                    "page": page,
                    "total_pages": max(1, math.ceil(len(chosen) / size)),
                    "has_more": page * size < len(chosen),
                },
            },
        )

    def aggregated(self, request: httpx.Request) -> httpx.Response:
        """`/user/daily/activity/aggregated` (≥1.77): the same filters, every row in one response."""
        q = dict(request.url.params)
        self.calls.append({**q, "aggregated": "true"})
        chosen = [
            r
            for r in self.rows
            if q["start_date"] <= r.day <= q["end_date"]
            and (not q.get("model") or r.model == q["model"])
            and (not q.get("api_key") or r.key == q["api_key"])
        ]
        return httpx.Response(
            200, json={"results": _aggregate(chosen), "metadata": {"total_spend": sum(r.spend for r in chosen)}}
        )

    def mount(self, router: Any = respx, *, aggregated: bool = True) -> None:
        """Route both endpoints (`/aggregated` answers 404 without `aggregated`, as before 1.77)."""
        router.get(f"{BASE}/user/daily/activity").mock(side_effect=self)
        route = router.get(f"{BASE}/user/daily/activity/aggregated")
        if aggregated:
            route.mock(side_effect=self.aggregated)
        else:
            route.respond(404, json={"detail": "Not Found"})


def _daily_rows(model: str, key: str, count: int, first_user: int = 0) -> list[DailyRow]:
    """`count` rows of one model and key (different users), with spends exact in binary so float sums are exact."""
    return [DailyRow(model, key, f"user-{first_user + n}", ((first_user + n) % 7 + 1) / 64) for n in range(count)]


def _cells(version: str, stats: PullStats | None = None) -> dict[tuple[str, str], tuple[Decimal, int]]:
    reader = DailyActivityReader(_client(), stats if stats is not None else PullStats(), version=version)
    return {k: (cell.spend, cell.requests) for k, cell in reader.cells(DAY.start.date()).items()}


def _truth(rows: list[DailyRow]) -> dict[tuple[str, str], tuple[Decimal, int]]:
    spend: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    requests: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        spend[(r.model, r.key)] += Decimal(str(r.spend))
        requests[(r.model, r.key)] += r.requests
    return {k: (spend[k], requests[k]) for k in spend}


# -------------------------------------------------------------------------------------------------- CLI harness


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.MockRouter]:
    """A respx router standing in for the proxy at BASE; the CLI's retry waits are instant."""
    monkeypatch.setattr("llm_cost.http.time.sleep", lambda seconds: None)
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def _healthy(router: respx.MockRouter, version: str | None = "1.109.1") -> None:
    """Readiness (with the version, or none at all), an admin key, and no models or teams to look up."""
    if version is None:
        router.get("/health/readiness/details").respond(404, json={"detail": "Not Found"})
        router.get("/health/readiness").respond(200, json={"status": "healthy", "db": "connected"})
    else:
        router.get("/health/readiness/details").respond(
            200, json={"status": "healthy", "db": "connected", "litellm_version": version}
        )
    router.get("/v2/team/list").respond(200, json={"teams": [], "total_pages": 1})
    router.get("/model/info").respond(200, json={"data": []})
    router.get("/user/list").respond(200, json={"users": [], "total_pages": 1})
    router.get("/key/list").respond(200, json={"keys": [], "total_pages": 1})
    router.get("/organization/list").respond(200, json=[])


def _cli(*args: str) -> Result:
    result = CliRunner().invoke(
        app, ["-v", "export", "--concurrency", "1", *args], env={"LITELLM_BASE_URL": BASE, "LITELLM_API_KEY": KEY}
    )
    assert KEY not in result.stdout and KEY not in result.stderr, "the API key leaked"
    return result


def _cli_failed(result: Result, code: int, *words: str) -> str:
    """Exit `code`, no traceback, and the last stderr line is the one error line holding every word."""
    assert result.exit_code == code, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), last
    missing = [word for word in words if word not in last]
    assert not missing, f"{missing} not in {last!r}"
    return last


SPEND_DAY = ("--mode", "spend-logs", "--day", "2025-06-01")
DAILY_DAY = ("--mode", "daily-activity", "--day", "2025-06-01")


# ============================================================================ spend logs: windows that do not add up


@respx.mock
@pytest.mark.parametrize("version", ["1.109.1", "1.80.10"])  # the walk, and the split reader of 1.80.8–1.82
@pytest.mark.parametrize(("drift", "total", "returned"), [(+1, 5, 4), (-1, 3, 4)])
def test_a_count_that_disagrees_with_a_short_page(version: str, drift: int, total: int, returned: int) -> None:
    proxy = BusyProxy(
        _spread(4, DAY.start + timedelta(hours=1), timedelta(hours=3)),
        drift,
        page_max=1000 if version == "1.109.1" else 100,
    )
    respx.get(f"{BASE}/spend/logs/v2").mock(side_effect=proxy)
    _fails(
        lambda: _read(version),
        f"/spend/logs/v2 said {total} rows for [2025-06-01 00:00:00, 2025-06-02 00:00:00]",
        f"but returned {returned} on one page",
        "the window is not closed or the proxy is busy",
    )
    assert len(proxy.calls) == 1


def test_a_busy_proxy_exits_4_through_the_cli(proxy: respx.MockRouter) -> None:
    _healthy(proxy)
    proxy.get("/spend/logs/v2").mock(side_effect=BusyProxy(_spread(4, NOON, timedelta(minutes=1)), +1))
    _cli_failed(_cli(*SPEND_DAY), 4, "said 5 rows", "returned 4 on one page", "not closed or the proxy is busy")


@respx.mock
def test_a_proxy_claiming_1_83_that_does_not_sort_ascending() -> None:
    proxy = SpendLogsV2(_spread(250, DAY.start, timedelta(minutes=5)), page_max=100, sorts=False)
    respx.get(f"{BASE}/spend/logs/v2").mock(side_effect=proxy)
    _fails(lambda: _read("1.86.7"), "/spend/logs/v2 did not sort by startTime ascending", "older than 1.83")
    assert proxy.calls[0]["sort_by"] == "startTime" and proxy.calls[0]["sort_order"] == "asc"  # it was asked


# ============================================================================ spend logs: crowded seconds


@respx.mock
@pytest.mark.parametrize(
    ("version", "page_max", "count", "crowd"),
    [
        ("1.86.7", 100, "absent", 150),  # walk, no total at all
        ("1.109.1", 1000, "exact", 10_050),  # walk, total capped at 10,000 (total_is_capped)
        ("1.80.10", 100, "absent", 150),  # split reader, no total
        ("1.80.10", 100, "exact", 10_050),
    ],  # split reader, capped total
)
def test_a_crowded_second_without_an_exact_count(version: str, page_max: int, count: str, crowd: int) -> None:
    rows = _spread(40, DAY.start, timedelta(minutes=15)) + _tied(crowd)
    proxy = SpendLogsV2(rows, page_max=page_max, count=count)
    respx.get(f"{BASE}/spend/logs/v2").mock(side_effect=proxy)
    _fails(
        lambda: _read(version),
        f"more than {page_max} requests at 2025-06-01 12:00:00",
        "the proxy gives no exact count",
        "cannot be read completely",
    )
    if count == "exact":
        assert any(
            q["start_date"] == "2025-06-01 12:00:00" and q["end_date"] == "2025-06-01 12:00:01" for q in proxy.calls
        )


@respx.mock
@pytest.mark.parametrize("version", ["1.86.7", "1.80.10"])
def test_a_crowded_second_that_never_converges(version: str) -> None:
    crowd = _tied(150)
    proxy = LeakyProxy(
        _spread(30, DAY.start, timedelta(minutes=20)) + crowd,
        lost=crowd[77]["request_id"],
        page_max=100,
        sorts=version == "1.86.7",
    )
    respx.get(f"{BASE}/spend/logs/v2").mock(side_effect=proxy)
    stats = PullStats()
    _fails(
        lambda: _read(version, stats=stats),
        "could not read all 150 requests at 2025-06-01 12:00:00 exactly",
        f"(got 149 after {CROWDED_SECOND_ATTEMPTS} reads)",
        "page order is unstable",
    )
    assert stats.requeries == CROWDED_SECOND_ATTEMPTS == 12
    # the first page, then page 2, then page 1 and 2 again on each of the 11 further reads
    assert _one_second_reads(proxy) == 2 + 2 * (CROWDED_SECOND_ATTEMPTS - 1)


@respx.mock
@pytest.mark.parametrize("version", ["1.86.7", "1.80.10"])
@pytest.mark.parametrize("unlucky", [1, 4])
def test_a_crowded_second_that_converges_after_some_re_reads(version: str, unlucky: int) -> None:
    crowd = _tied(150)
    rows = (
        _spread(50, DAY.start, timedelta(minutes=13))
        + crowd
        + _spread(50, NOON + timedelta(hours=1), timedelta(minutes=11), first=500)
    )
    rows.append(_row(9999, DAY.end))  # the next day's first request: the inclusive bound returns it, we drop it
    proxy = UnluckyProxy(
        rows, missed={r["request_id"] for r in crowd[::8]}, unlucky=unlucky, page_max=100, sorts=version == "1.86.7"
    )
    respx.get(f"{BASE}/spend/logs/v2").mock(side_effect=proxy)
    stats = PullStats()
    ids = _read(version, stats=stats)
    assert len(ids) == len(set(ids)) == 250 and set(ids) == _ids(rows)
    assert stats.requeries == unlucky  # one re-read per unlucky read, none after the lucky one
    assert proxy.reads == unlucky + 1 and _one_second_reads(proxy) == 2 + 2 * unlucky


# ====================================================================== spend logs: the split reader of 1.80.8–1.82


@respx.mock
def test_split_reader_splits_a_busy_day_several_times_and_ends_exact() -> None:
    rows = (
        _spread(400, DAY.start, timedelta(seconds=216))  # every 216 s, from midnight on
        + _spread(300, DAY.start + timedelta(hours=9), timedelta(seconds=12), first=1000)  # a busy hour
        + _spread(250, DAY.start + timedelta(hours=15, minutes=30), timedelta(milliseconds=240), first=2000)
        + _tied(120, first=3000, when=DAY.start + timedelta(hours=20, milliseconds=250))  # a crowded second
        + [_row(9999, DAY.end)]
    )
    proxy = SpendLogsV2(rows, page_max=100, sorts=False)
    respx.get(f"{BASE}/spend/logs/v2").mock(side_effect=proxy)
    stats = PullStats()
    ids = _read("1.80.10", stats=stats)
    assert len(ids) == len(set(ids)) == 1070 and set(ids) == _ids(rows)
    assert stats.splits >= 3 and stats.requeries >= 1 and stats.windows > 10
    assert all(q["page_size"] == "100" and "sort_by" not in q and "sort_order" not in q for q in proxy.calls)


@pytest.mark.parametrize("version", [None, "1.95.1"])
def test_page_size_1000_rejected_with_422_falls_back_to_100(proxy: respx.MockRouter, version: str | None) -> None:
    _healthy(proxy, version)
    v2 = SpendLogsV2(_spread(250, DAY.start, timedelta(minutes=5)), page_max=100)
    proxy.get("/spend/logs/v2").mock(side_effect=v2)
    result = _cli(*SPEND_DAY)
    assert result.exit_code == 0, result.stderr
    assert "the proxy allows page_size 100 at most: using 100" in result.stderr
    assert v2.calls[0]["page_size"] == "1000" and all(q["page_size"] == "100" for q in v2.calls[1:])
    cost = sum(Decimal(row["BilledCost"]) for row in csv.DictReader(io.StringIO(result.stdout)))
    assert cost == Decimal("62.5")  # 250 requests at 0.25, none lost to the rejected page


# ============================================================================ spend logs: legacy /spend/logs


def _legacy_rows(count: int) -> list[dict[str, Any]]:
    rows = _spread(count, DAY.start, timedelta(seconds=3))
    for r in rows:  # legacy spells times with microseconds and Z
        r["startTime"] = r["endTime"] = datetime.fromisoformat(r["startTime"]).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return rows


def test_v2_missing_and_legacy_truncated_exits_4(proxy: respx.MockRouter) -> None:
    _healthy(proxy, version=None)
    v2 = proxy.get("/spend/logs/v2").respond(404, json={"detail": "Not Found"})
    legacy = proxy.get("/spend/logs").respond(
        200, json=_legacy_rows(50), headers={"x-litellm-spend-logs-truncated": "true"}
    )
    _cli_failed(
        _cli(*SPEND_DAY),
        4,
        "legacy /spend/logs truncated 2025-06-01 at 10,000 rows",
        "1.80.8 or newer",
        "--mode daily-activity",
    )
    assert v2.call_count == 1 and legacy.call_count == 1
    assert dict(legacy.calls[0].request.url.params) == {
        "start_date": "2025-06-01",
        "end_date": "2025-06-02",
        "summarize": "false",
    }


def test_legacy_truncated_on_a_proxy_older_than_v2(proxy: respx.MockRouter) -> None:
    v2 = proxy.get("/spend/logs/v2").respond(404)
    proxy.get("/spend/logs").respond(200, json=_legacy_rows(10), headers={"X-LiteLLM-Spend-Logs-Truncated": "True"})
    _fails(lambda: _read("1.79.3"), "legacy /spend/logs truncated 2025-06-01 at 10,000 rows")
    assert v2.call_count == 0  # 1.79 has no v2: not even asked


@respx.mock
def test_a_legacy_proxy_that_only_returns_daily_summaries() -> None:
    respx.get(f"{BASE}/spend/logs").respond(
        200,
        json=[
            {
                KEY_A: 0.0123,
                "startTime": "2025-06-01",
                "spend": 0.0123,
                "users": {"user-1": 0.0123},
                "models": {"gpt-4o": 0.0123},
            },
            {"startTime": "2025-06-02", "spend": 0, "users": {}, "models": {}},
        ],
    )
    _fails(
        lambda: _read("1.72.0"), "only returns daily summaries", "summarize=false before 1.73", "--mode daily-activity"
    )


# ============================================================================ spend logs: rows that cannot be read


@respx.mock
@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ({"request_id": None}, ("ValueError: no request_id", "request_id='None'")),
        ({"spend": "n/a"}, ("InvalidOperation", "request_id='chatcmpl-00002'")),
        ({"spend": {"amount": 1}}, ("InvalidOperation",)),
    ],
)
@pytest.mark.parametrize("version", ["1.109.1", "1.74.0"])
def test_a_bad_spend_log_row(bad: dict[str, Any], words: tuple[str, ...], version: str) -> None:
    rows = _spread(3, NOON, timedelta(minutes=1))
    rows[2].update(bad)  # not the first row: a first row without request_id reads as a daily summary on legacy
    if version == "1.109.1":
        respx.get(f"{BASE}/spend/logs/v2").mock(side_effect=SpendLogsV2(rows))
    else:
        respx.get(f"{BASE}/spend/logs").respond(200, json=rows)
    _fails(lambda: _records(version), "unexpected spend-log row from LiteLLM", *words)


def test_a_bad_row_exits_4_through_the_cli(proxy: respx.MockRouter) -> None:
    _healthy(proxy)
    rows = _spread(3, NOON, timedelta(minutes=1))
    del rows[1]["request_id"]
    proxy.get("/spend/logs/v2").mock(side_effect=SpendLogsV2(rows))
    _cli_failed(_cli(*SPEND_DAY), 4, "unexpected spend-log row from LiteLLM (ValueError: no request_id)")


@respx.mock
@pytest.mark.parametrize("start", ["yesterday at noon", None, 1748779200])
@pytest.mark.parametrize("version", ["1.109.1", "1.74.0"])
def test_a_row_with_a_malformed_start_time(start: Any, version: str) -> None:
    rows = _spread(3, NOON, timedelta(minutes=1))
    rows[1]["startTime"] = start
    if version == "1.109.1":
        respx.get(f"{BASE}/spend/logs/v2").respond(200, json={"data": rows, "total": 3, "page": 1, "page_size": 1000})
    else:
        respx.get(f"{BASE}/spend/logs").respond(200, json=rows)
    _fails(lambda: _records(version), "unexpected spend-log row from LiteLLM", "malformed startTime")


# ============================================================================ daily activity


@respx.mock
def test_old_proxy_splits_a_multi_page_day_by_model_then_by_key() -> None:
    rows = (
        _daily_rows("gpt-4o", KEY_A, 700)
        + _daily_rows("gpt-4o", KEY_B, 800, first_user=700)
        + _daily_rows("o1", KEY_A, 300)
        + _daily_rows("claude-sonnet-4-0", KEY_C, 200)
    )
    server = DailyActivity(rows)
    server.mount(aggregated=False)
    stats = PullStats()
    assert _cells("1.74.0", stats) == _truth(rows)  # exact: every row once
    assert stats.splits == 2  # the day, then gpt-4o
    filters = {tuple(sorted((k, v) for k, v in q.items() if k in ("model", "api_key"))) for q in server.calls}
    assert filters == {
        (),
        (("model", "gpt-4o"),),
        (("model", "o1"),),
        (("model", "claude-sonnet-4-0"),),
        (("api_key", KEY_A), ("model", "gpt-4o")),
        (("api_key", KEY_B), ("model", "gpt-4o")),
    }
    # pages of 1000, and pages of 1 whose total_pages count the rows of each part
    assert all("timezone" not in q and q["page_size"] in ("1000", "1") for q in server.calls)


@respx.mock
@pytest.mark.parametrize("version", ["1.77.7", "1.86.7", "1.90.7"])
def test_an_unstable_proxy_with_aggregated_reads_a_multi_page_day_from_it(version: str) -> None:
    rows = (
        _daily_rows("gpt-4o", KEY_A, 1200)
        + _daily_rows("gpt-4o", "", 300, first_user=1200)
        + _daily_rows("o1", KEY_B, 10)
    )
    server = DailyActivity(rows)
    server.mount()
    stats = PullStats()
    assert _cells(version, stats) == _truth(rows)
    assert stats.splits == 0 and [q for q in server.calls if q.get("aggregated")] == [
        {"start_date": "2025-06-01", "end_date": "2025-06-01", "aggregated": "true"}
    ]


@respx.mock
def test_one_model_and_one_key_over_a_page() -> None:
    rows = _daily_rows("gpt-4o", KEY_A, 1200) + _daily_rows("o1", KEY_B, 100)
    DailyActivity(rows).mount(aggregated=False)
    _fails(
        lambda: _cells("1.74.0"),
        "/user/daily/activity for 2025-06-01 needs more than one page even for model gpt-4o and one key",
        "pages in an unstable order without /aggregated (<1.77)",
        "--mode spend-logs",
    )


def test_one_model_and_one_key_over_a_page_exits_4(proxy: respx.MockRouter) -> None:
    _healthy(proxy, "1.74.0")
    DailyActivity(_daily_rows("gpt-4o", KEY_A, 1001)).mount(proxy, aggregated=False)
    _cli_failed(_cli(*DAILY_DAY), 4, "needs more than one page even for model gpt-4o and one key")


@respx.mock
def test_the_unattributed_key_cannot_be_filtered_so_its_model_fails_loudly() -> None:
    """LiteLLM filters with `if api_key:`, so `api_key=` (the unattributed key "") would return the whole model
    again: before 1.77 a model with unattributed traffic that needs a key split fails, naming that traffic."""
    rows = _daily_rows("gpt-4o", "", 600) + _daily_rows("gpt-4o", KEY_A, 600, first_user=600)
    server = DailyActivity(rows)
    server.mount(aggregated=False)
    _fails(lambda: _cells("1.74.0"), "needs more than one page for model gpt-4o", 'unattributed requests (api_key "")')
    assert not any(q.get("api_key") == "" for q in server.calls)


class UnluckyDay(DailyActivity):
    """One order PostgreSQL may pick for `ORDER BY date DESC` on a day of 2,000 rows: the one row of `rare` comes
    last when page 1 is read and first when page 2 is read, so neither page holds it."""

    def __init__(self, rows: list[DailyRow], rare: str) -> None:
        super().__init__(rows)
        self.rare = rare

    def order(self, q: dict[str, str], page: int, chosen: list[DailyRow]) -> list[DailyRow]:
        chosen = super().order(q, page, chosen)
        if q.get("model"):
            return chosen
        rare = [r for r in chosen if r.model == self.rare]
        rest = [r for r in chosen if r.model != self.rare]
        return rest + rare if page == 1 else rare + rest


@respx.mock
def test_old_proxy_multi_page_day_loses_no_model() -> None:
    """Regression: on ≤1.90 the models to re-read were taken from the unstable multi-page read itself, so a model
    none of its pages showed was never re-read and its spend was silently dropped (a 1-row model on a 2-page day:
    about 1 in 4 with a random order). With /aggregated the day is read whole."""
    rows = _daily_rows("gpt-4o", KEY_A, 1000) + _daily_rows("o1", KEY_B, 999) + [DailyRow("o1-mini", KEY_C, "u-x", 0.5)]
    UnluckyDay(rows, rare="o1-mini").mount()
    assert _cells("1.86.7") == _truth(rows)


@respx.mock
def test_old_proxy_without_aggregated_fails_loudly_rather_than_lose_a_model() -> None:
    """Before 1.77 the re-reads never show the unlucky model either, but the parts' exact row counts do not add up
    to the day's, so the day fails loudly instead of losing it."""
    rows = _daily_rows("gpt-4o", KEY_A, 1000) + _daily_rows("o1", KEY_B, 999) + [DailyRow("o1-mini", KEY_C, "u-x", 0.5)]
    UnluckyDay(rows, rare="o1-mini").mount(aggregated=False)
    _fails(lambda: _cells("1.74.0"), "has 2000 rows, but its 2 models", "cannot be read exactly")


@respx.mock
@pytest.mark.parametrize("body", [{"results": {"2025-06-01": {}}, "metadata": {}}, [], {"detail": "ok"}, "ok", None])
def test_daily_activity_results_that_are_not_a_list(body: Any) -> None:
    respx.get(f"{BASE}/user/daily/activity").respond(200, content=json.dumps(body).encode())
    _fails(
        lambda: _cells("1.109.1"),
        "unexpected response from /user/daily/activity",
        "expected an object with a 'results' list, got",
    )


@respx.mock
def test_daily_activity_shape_error_masks_an_echoed_key() -> None:
    respx.get(f"{BASE}/user/daily/activity").respond(200, json={"results": f"invalid token {KEY}"})
    _fails(lambda: _cells("1.109.1"), "expected an object with a 'results' list")


def _day_with_models(models: Any, has_more: bool = False, page: int = 1) -> dict[str, Any]:
    return {
        "results": [{"date": "2025-06-01", "metrics": {}, "breakdown": {"models": models}}],
        "metadata": {"page": page, "has_more": has_more},
    }


@respx.mock
@pytest.mark.parametrize("models", [["gpt-4o"], "gpt-4o", 3])
def test_breakdown_models_not_an_object(models: Any) -> None:
    respx.get(f"{BASE}/user/daily/activity").respond(200, json=_day_with_models(models))
    _fails(
        lambda: _cells("1.109.1"), "unexpected response from /user/daily/activity: breakdown.models is not an object"
    )


@respx.mock
def test_breakdown_models_not_an_object_on_a_split_day() -> None:
    """Regression: _split walked breakdown.models before cells() checked it, so on a multi-page day of an old
    proxy a list escaped as AttributeError (exit 1). Every reader now goes through one shape check."""
    respx.get(f"{BASE}/user/daily/activity").mock(
        side_effect=[
            httpx.Response(200, json=_day_with_models([{"gpt-4o": {}}], True, 1)),
            httpx.Response(200, json=_day_with_models([{"gpt-4o": {}}], False, 2)),
        ]
    )
    respx.get(f"{BASE}/user/daily/activity/aggregated").respond(404, json={"detail": "Not Found"})
    _fails(lambda: _cells("1.74.0"), "breakdown.models is not an object")


def _entry(**metrics: Any) -> dict[str, Any]:
    return {
        "gpt-4o": {"metrics": {}, "api_key_breakdown": {KEY_A: {"metrics": {"spend": 0.5, **metrics}, "metadata": {}}}}
    }


@respx.mock
@pytest.mark.parametrize(
    "result",
    [
        {"date": "2025-06-01", "breakdown": ["models"]},
        {"date": "2025-06-01", "breakdown": {"models": {"gpt-4o": ["x"]}}},
        {"date": "2025-06-01", "breakdown": {"models": {"gpt-4o": {"api_key_breakdown": [KEY_A]}}}},
        {"date": "2025-06-01", "breakdown": {"models": _entry(spend="n/a")}},
        {"date": "2025-06-01", "breakdown": {"models": _entry(prompt_tokens="many")}},
    ],
)
def test_other_daily_activity_shapes(result: dict[str, Any]) -> None:
    respx.get(f"{BASE}/user/daily/activity").respond(200, json={"results": [result], "metadata": {"has_more": False}})
    _fails(lambda: _cells("1.109.1"), "unexpected response from /user/daily/activity")


def test_a_partial_day_is_refused_before_anything_is_read(proxy: respx.MockRouter) -> None:
    route = proxy.get("/user/daily/activity").respond(200, json={"results": []})
    client = _client()
    window = Window(DAY.start + timedelta(hours=6), DAY.end)
    parts = daily_activity_partitions(client, window, PullStats(), Lookups(client, PriceBook()), version="1.109.1")
    _fails(
        lambda: list(parts),
        "/user/daily/activity has whole UTC days only",
        "[2025-06-01T06:00:00Z, 2025-06-02T00:00:00Z) is a partial day",
        "(use --mode spend-logs)",
    )
    assert route.call_count == 0


def test_a_partial_day_exits_4(proxy: respx.MockRouter) -> None:
    _healthy(proxy)
    daily = proxy.get("/user/daily/activity").respond(200, json={"results": []})
    result = _cli("--mode", "daily-activity", "--start", "2025-06-01T06:00:00", "--end", "2025-06-02")
    _cli_failed(result, 4, "has whole UTC days only", "is a partial day")
    assert daily.call_count == 0


def test_daily_activity_missing_exits_4(proxy: respx.MockRouter) -> None:
    _healthy(proxy, "1.74.0")
    proxy.get("/user/daily/activity").respond(404, json={"detail": "Not Found"})
    _cli_failed(_cli(*DAILY_DAY), 4, "LiteLLM has no /user/daily/activity (HTTP 404: Not Found)", "may be too old")


# ============================================================================ client: bodies


@respx.mock
@pytest.mark.parametrize(
    ("path", "version", "content", "kind"),
    [
        ("/spend/logs/v2", "1.109.1", b"<!DOCTYPE html><html><title>LiteLLM Dashboard</title></html>", "not JSON"),
        ("/spend/logs/v2", "1.109.1", b"", "not JSON"),
        ("/spend/logs/v2", "1.109.1", b'{"data": [{"request_id": "chatcmpl-1", "spend": 0.1', "truncated"),
        ("/spend/logs", "1.74.0", b'[{"request_id": "chatcmpl-1"', "truncated"),
        ("/spend/logs", "1.74.0", b"Internal Server Error", "not JSON"),
    ],
)
def test_bodies_that_are_not_json(path: str, version: str, content: bytes, kind: str) -> None:
    respx.get(f"{BASE}{path}").respond(200, content=content, headers={"content-type": "application/json"})
    _fails(
        lambda: _read(version),
        f"LiteLLM answered {path} with a body that is {kind}",
        "is LITELLM_BASE_URL the proxy itself?",
    )


def test_an_html_page_exits_4(proxy: respx.MockRouter) -> None:
    _healthy(proxy)
    proxy.get("/user/daily/activity").respond(200, html="<html><body>Please log in</body></html>")
    _cli_failed(_cli(*DAILY_DAY), 4, "LiteLLM answered /user/daily/activity with a body that is not JSON")


@respx.mock
@pytest.mark.parametrize(
    ("path", "version", "body", "words"),
    [
        ("/spend/logs/v2", "1.109.1", {"data": "none"}, ("unexpected response from /spend/logs/v2", "$.data")),
        ("/spend/logs/v2", "1.109.1", {"rows": []}, ("unexpected response from /spend/logs/v2", "data")),
        ("/spend/logs/v2", "1.109.1", [], ("unexpected response from /spend/logs/v2", "array")),
        ("/spend/logs", "1.74.0", {"data": []}, ("unexpected response from /spend/logs", "object")),
        ("/spend/logs", "1.74.0", [1, 2], ("unexpected response from /spend/logs", "$[0]")),
    ],
)
def test_a_body_of_the_wrong_shape(path: str, version: str, body: Any, words: tuple[str, ...]) -> None:
    respx.get(f"{BASE}{path}").respond(200, json=body)
    _fails(lambda: _read(version), *words)


# ============================================================================ client: error statuses


NO_DB = [
    (
        401,
        {
            "error": {
                "message": "Prisma Client is not initialized",
                "type": "internal_error",
                "param": "None",
                "code": "401",
            }
        },
    ),
    (400, {"error": {"message": "No connected db.", "type": "no_db_connection", "param": None, "code": "400"}}),
    (500, {"error": {"message": "/spend/logs/v2 Error: DB not connected", "type": "internal_error", "code": "500"}}),
    (400, {"detail": {"error": "Database not connected. Connect a database to your proxy - https://docs.litellm.ai"}}),
    (400, {"error": {"message": "cannot serve spend", "type": "no_db_connection", "code": "400"}}),
]


@respx.mock
@pytest.mark.parametrize(("status", "body"), NO_DB)
def test_no_database_behind_the_proxy(status: int, body: dict[str, Any]) -> None:
    respx.get(f"{BASE}/spend/logs/v2").respond(status, json=body)
    _fails(
        lambda: _read("1.109.1"),
        "the LiteLLM proxy has no database connected (/spend/logs/v2: HTTP",
        "needs a proxy with DATABASE_URL set",
    )


def test_no_database_exits_4_at_the_admin_probe(proxy: respx.MockRouter) -> None:
    proxy.get("/health/readiness/details").respond(200, json={"status": "healthy", "litellm_version": "1.100.5"})
    proxy.get("/v2/team/list").respond(NO_DB[0][0], json=NO_DB[0][1])
    _cli_failed(_cli(*SPEND_DAY), 4, "no database connected (/v2/team/list: HTTP 401", "DATABASE_URL")


BAD_KEY = [
    {
        "error": {
            "message": "Authentication Error, Invalid proxy server token passed. Received API Key = sk-...3210",
            "type": "auth_error",
            "param": "None",
            "code": "401",
        }
    },
    {
        "error": {
            "message": "Authentication Error, Invalid proxy server token passed.",
            "type": "token_not_found_in_db",
            "param": "key",
            "code": "401",
        }
    },
    {
        "error": {
            "message": f"Authentication Error, Invalid proxy server token passed. valid_token=None, key={KEY}",
            "type": "internal_error",
            "code": "401",
        }
    },  # only the message prefix says so; it echoes the key
    {"detail": "Authentication Error, No api key passed in."},
]


@respx.mock
@pytest.mark.parametrize("body", BAD_KEY)
@pytest.mark.parametrize("path", ["/spend/logs/v2", "/user/daily/activity"])
def test_bad_credentials(body: dict[str, Any], path: str) -> None:
    respx.get(f"{BASE}{path}").respond(401, json=body)
    read = (lambda: _read("1.109.1")) if path == "/spend/logs/v2" else (lambda: _cells("1.109.1"))
    _fails(
        read,
        "LiteLLM rejected the API key (HTTP 401: Authentication Error",
        "check LITELLM_API_KEY",
        "--litellm-key",
        "use the master key or a proxy_admin / proxy_admin_viewer key",
    )


def test_bad_credentials_exit_4_at_version_detection(proxy: respx.MockRouter) -> None:
    proxy.get("/health/readiness/details").respond(401, json=BAD_KEY[2])
    probe = proxy.get("/v2/team/list").respond(200, json={"teams": []})
    _cli_failed(_cli(*SPEND_DAY), 4, "LiteLLM rejected the API key (HTTP 401", "check LITELLM_API_KEY")
    assert probe.call_count == 0  # failed before anything else was asked


@respx.mock
@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            {
                "error": {
                    "message": "user not allowed to access this route, role= internal_user. Trying to access: "
                    "/spend/logs/v2",
                    "type": "auth_error",
                    "param": None,
                    "code": "403",
                }
            },
            (
                "LiteLLM refused /spend/logs/v2 to this key's role (HTTP 403: user not allowed to access this route",
                "proxy_admin_viewer",
            ),
        ),
        (
            {"detail": "Not allowed to view spend of other users"},
            ("LiteLLM refused /spend/logs/v2 (HTTP 403: Not allowed to view spend", "proxy_admin_viewer"),
        ),
    ],
)
def test_a_role_denial(body: dict[str, Any], words: tuple[str, ...]) -> None:
    respx.get(f"{BASE}/spend/logs/v2").respond(403, json=body)
    _fails(lambda: _read("1.109.1"), *words)


@respx.mock
def test_a_404_is_endpoint_missing() -> None:
    respx.get(f"{BASE}/user/daily/activity").respond(404, json={"detail": "Not Found"})
    _fails(
        lambda: _cells("1.74.0"),
        "LiteLLM has no /user/daily/activity (HTTP 404: Not Found)",
        "the proxy may be too old",
        kind=EndpointMissing,
    )


@respx.mock
def test_rate_limited_after_retries() -> None:
    route = respx.get(f"{BASE}/spend/logs/v2").respond(
        429,
        headers={"Retry-After": "0"},
        json={"error": {"message": "Rate limit exceeded", "type": "rate_limit", "code": "429"}},
    )
    waits: list[float] = []
    reader = SpendLogsReader(_client(waits.append), PullStats(), version="1.109.1")
    _fails(lambda: list(reader.rows(DAY)), "LiteLLM kept rate-limiting /spend/logs/v2 (HTTP 429)", "try again later")
    assert route.call_count > 1 and waits  # retried, through the injected sleep


@respx.mock
@pytest.mark.parametrize(
    ("status", "kwargs", "detail"),
    [
        (
            500,
            {"json": {"error": {"message": "Internal Server Error", "type": "internal_error", "code": "500"}}},
            "Internal Server Error",
        ),
        (502, {"html": "<html><body><h1>502 Bad Gateway</h1></body></html>"}, "502 Bad Gateway"),
        (503, {"content": b""}, "HTTP 503 with an empty body"),
        (504, {"text": "upstream request timeout"}, "upstream request timeout"),
    ],
)
def test_server_errors_after_retries(status: int, kwargs: dict[str, Any], detail: str) -> None:
    route = respx.get(f"{BASE}/spend/logs/v2").respond(status, **kwargs)
    _fails(lambda: _read("1.109.1"), "LiteLLM failed on /spend/logs/v2 after", f"(HTTP {status}: ", detail)
    assert route.call_count > 1


@respx.mock
def test_a_server_error_that_clears_is_no_error() -> None:
    respx.get(f"{BASE}/spend/logs/v2").mock(
        side_effect=[httpx.Response(503), httpx.Response(502), httpx.Response(200, json={"data": [], "total": 0})]
    )
    assert _read("1.109.1") == []


@respx.mock
@pytest.mark.parametrize(
    ("details", "public", "db"),
    [
        ((200, {"status": "healthy", "db": "Not connected"}), None, "Not connected"),
        ((404, {"detail": "Not Found"}), (200, {"status": "healthy", "db": "disconnected"}), "disconnected"),
        ((200, "not json"), (200, {"status": "connected", "db": "Disconnected"}), "Disconnected"),
    ],
)
def test_readiness_says_no_database(details: tuple[int, Any], public: tuple[int, Any] | None, db: str) -> None:
    status, body = details
    route = respx.get(f"{BASE}/health/readiness/details")
    route.respond(status, json=body) if isinstance(body, dict) else route.respond(status, text=body)
    if public:
        respx.get(f"{BASE}/health/readiness").respond(public[0], json=public[1])
    _fails(
        lambda: _client().version(),
        f"the LiteLLM proxy at {BASE} has no database connected",
        f"(readiness says db={db!r})",
        "DATABASE_URL",
    )


def test_readiness_without_database_exits_4(proxy: respx.MockRouter) -> None:
    proxy.get("/health/readiness/details").respond(200, json={"status": "healthy", "db": "Not connected"})
    _cli_failed(_cli(*DAILY_DAY), 4, "has no database connected (readiness says db='Not connected')")


# ============================================================================ lookups: the admin probe and teams


@respx.mock
@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"detail": {"error": "Only admin users can query all teams/other teams. Your user role=internal_user"}}),
        (403, {"error": {"message": "This is an admin-only endpoint", "type": "auth_error", "code": "403"}}),
    ],
)
def test_a_non_admin_key_is_refused_by_the_team_probe(status: int, body: dict[str, Any]) -> None:
    respx.get(f"{BASE}/v2/team/list").respond(status, json=body)
    _fails(
        lambda: Lookups(_client(), PriceBook()).check_admin_scope(),
        "the LiteLLM key is not an admin key",
        "narrow every spend query to that key's own user",
        "proxy_admin_viewer key in LITELLM_API_KEY",
    )


def test_a_non_admin_key_exits_4(proxy: respx.MockRouter) -> None:
    proxy.get("/health/readiness/details").respond(200, json={"status": "healthy", "litellm_version": "1.100.5"})
    proxy.get("/v2/team/list").respond(
        401,
        json={"detail": {"error": "Only admin users can query all teams/other teams. Your user role=internal_user"}},
    )
    spend = proxy.get("/spend/logs/v2").respond(200, json={"data": [], "total": 0})
    _cli_failed(_cli(*SPEND_DAY), 4, "not an admin key", "proxy_admin_viewer")
    assert spend.call_count == 0


@respx.mock
@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (401, BAD_KEY[1], ("LiteLLM rejected the API key (HTTP 401",)),
        (403, {"detail": "Forbidden by policy"}, ("LiteLLM refused /v2/team/list (HTTP 403: Forbidden by policy)",)),
        (500, {"error": {"message": "boom", "type": "internal_error"}}, ("LiteLLM failed on /v2/team/list", "boom")),
        (400, {"error": {"message": "bad page", "type": "bad_request"}}, ("LiteLLM rejected /v2/team/list (HTTP 400",)),
    ],
)
def test_other_answers_of_the_team_probe(status: int, body: dict[str, Any], words: tuple[str, ...]) -> None:
    respx.get(f"{BASE}/v2/team/list").respond(status, json=body)
    _fails(lambda: Lookups(_client(), PriceBook()).check_admin_scope(), *words)


@respx.mock
def test_team_probe_404_passes_on_an_old_proxy() -> None:
    respx.get(f"{BASE}/v2/team/list").respond(404, json={"detail": "Not Found"})
    assert Lookups(_client(), PriceBook()).check_admin_scope() is None


@respx.mock
@pytest.mark.parametrize("body", [{"data": []}, [], {"teams": "none"}])
def test_team_list_without_teams(body: Any) -> None:
    respx.get(f"{BASE}/v2/team/list").respond(200, json=body)
    _fails(
        lambda: Lookups(_client(), PriceBook()).team_alias("team-a"),
        "unexpected response from /v2/team/list: no 'teams' list",
    )


@respx.mock
def test_legacy_team_list_that_is_not_a_list() -> None:
    respx.get(f"{BASE}/v2/team/list").respond(404, json={"detail": "Not Found"})
    respx.get(f"{BASE}/team/list").respond(200, json={"teams": [{"team_id": "team-a", "team_alias": "A"}]})
    _fails(
        lambda: Lookups(_client(), PriceBook()).team_alias("team-a"),
        "unexpected response from /team/list: expected a list",
    )


# ============================================================================ transport and settings


@respx.mock
@pytest.mark.parametrize(
    ("error", "hint"),
    [
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), "and --ca-bundle"),
        (httpx.ConnectError("[Errno -2] Name or service not known"), "check LITELLM_BASE_URL / --litellm-url"),
        (httpx.ReadTimeout("timed out"), "check LITELLM_BASE_URL / --litellm-url"),
    ],
)
def test_an_unreachable_proxy(error: Exception, hint: str) -> None:
    route = respx.get(f"{BASE}/spend/logs/v2").mock(side_effect=error)
    message = _fails(lambda: _read("1.109.1"), f"cannot reach the LiteLLM proxy at {BASE} after", hint)
    assert route.call_count > 1 and ("--ca-bundle" in message) == ("SSL" in str(error))


def test_a_url_without_a_scheme_is_a_config_error() -> None:
    _fails(
        lambda: LiteLLMClient(base_url=f"proxy.test/{KEY}", api_key=KEY),
        "must start with http:// or https://",
        "LITELLM_BASE_URL",
        kind=ConfigError,
        code=3,
    )


# ============================================================================ --reconcile


def test_reconcile_mismatch_exits_6_and_writes_nothing(proxy: respx.MockRouter, tmp_path: Path) -> None:
    _healthy(proxy)
    proxy.get("/spend/logs/v2").mock(side_effect=SpendLogsV2(_spread(4, NOON, timedelta(minutes=1))))  # 4 x 0.25
    proxy.get("/user/daily/activity").mock(
        side_effect=DailyActivity([DailyRow("gpt-4o-mini", KEY_A, "user-1", 1.5, 4)])
    )
    out = tmp_path / "costs.csv"
    result = _cli(*SPEND_DAY, "--reconcile", "-o", str(out))
    _cli_failed(
        result,
        6,
        "--reconcile: 2 difference(s) beyond the tolerance between /spend/logs and "
        "/user/daily/activity; nothing was written",
    )
    assert "MISMATCH" in result.stderr and not out.exists()


def test_reconcile_within_tolerance_passes(proxy: respx.MockRouter, tmp_path: Path) -> None:
    _healthy(proxy)
    proxy.get("/spend/logs/v2").mock(side_effect=SpendLogsV2(_spread(4, NOON, timedelta(minutes=1))))
    proxy.get("/user/daily/activity").mock(
        side_effect=DailyActivity([DailyRow("gpt-4o-mini", KEY_A, "user-1", 1.0000000000000002, 4)])
    )
    out = tmp_path / "costs.csv"
    result = _cli(*SPEND_DAY, "--reconcile", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert out.exists()

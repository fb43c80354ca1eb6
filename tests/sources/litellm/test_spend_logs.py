"""The provably-complete spend-log window reader and its partitions (respx units)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from llm_cost.errors import SourceError
from llm_cost.sources.litellm.client import LiteLLMClient
from llm_cost.sources.litellm.spend_logs import SpendLogsReader, spend_log_partitions
from llm_cost.sources.litellm.stats import PullStats
from llm_cost.sources.litellm.wire import RowOptions, parse_time
from llm_cost.window import Window, day_window
from tests.fakes.litellm import spend_row

BASE = "http://proxy.test"
KEY = "sk-master-secret-1234"
DAY = day_window(datetime(2025, 6, 1, tzinfo=UTC).date())


def _client() -> LiteLLMClient:
    return LiteLLMClient(base_url=BASE, api_key=KEY, sleep=lambda s: None)


class TieProxy:
    """A v2 handler over fixed rows: ORDER BY startTime with ties reshuffled on every request (like Postgres)."""

    def __init__(self, rows: list[dict[str, Any]], page_max: int = 1000) -> None:
        self.rows = rows
        self.page_max = page_max
        self.rng = random.Random(7)
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        q = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        start = datetime.fromisoformat(q["start_date"]).replace(tzinfo=UTC)
        end = datetime.fromisoformat(q["end_date"]).replace(tzinfo=UTC)
        size, page = int(q["page_size"]), int(q["page"])
        if size > self.page_max:
            return httpx.Response(422, json={"detail": [{"loc": ["query", "page_size"], "msg": "too big"}]})
        chosen = [r for r in self.rows if start <= parse_time(r["startTime"]) <= end]
        self.rng.shuffle(chosen)
        chosen.sort(key=lambda r: parse_time(r["startTime"]))  # stable sort: ties keep the random order
        total = len(chosen)
        data = chosen[(page - 1) * size : page * size]
        return httpx.Response(
            200,
            json={
                "data": data,
                "total": min(total, 10000),
                "page": page,
                "page_size": size,
                "total_pages": -(-min(total, 10000) // size),
                "total_is_capped": total > 10000,
            },
        )


def _tied_rows() -> list[dict[str, Any]]:
    rows = []
    base = datetime(2025, 6, 1, 12, 0, 0, 500000, tzinfo=UTC)
    for i in range(2600):  # 2600 rows sharing one millisecond: one crowded second
        rows.append(spend_row(i, base.isoformat()))
    for i in range(2600, 2900):  # spread over the day, including both midnights
        rows.append(spend_row(i, (DAY.start + timedelta(seconds=(i - 2600) * 287)).isoformat()))
    rows.append(spend_row(9999, DAY.end.isoformat()))  # belongs to the next day
    return rows


@respx.mock
def test_v2_reader_is_exact_with_ties_across_page_boundaries() -> None:
    proxy = TieProxy(_tied_rows())
    respx.get(f"{BASE}/spend/logs/v2").mock(side_effect=proxy)
    stats = PullStats()
    rows = list(SpendLogsReader(_client(), stats, version="1.109.1").rows(DAY))
    ids = [r.request_id for r in rows]
    assert len(ids) == len(set(ids)) == 2900 and "req-9999" not in ids
    assert stats.splits > 0 and stats.requeries > 0  # the tied second needed re-reads to become exact


@respx.mock
def test_v2_page_size_falls_back_to_100_on_mid_versions() -> None:
    proxy = TieProxy([spend_row(i, (DAY.start + timedelta(minutes=i)).isoformat()) for i in range(250)], page_max=100)
    respx.get(f"{BASE}/spend/logs/v2").mock(side_effect=proxy)
    stats = PullStats()
    rows = list(SpendLogsReader(_client(), stats, version=None).rows(DAY))
    assert len(rows) == 250 and any("page_size 100" in n for n in stats.notes)


@respx.mock
def test_legacy_fallback_on_404_and_exclusive_end() -> None:
    respx.get(f"{BASE}/spend/logs/v2").mock(return_value=httpx.Response(404, json={"detail": "Not Found"}))
    legacy = respx.get(f"{BASE}/spend/logs").mock(
        return_value=httpx.Response(
            200,
            json=[
                spend_row(1, "2025-06-01T00:00:00.000000Z"),
                spend_row(2, "2025-06-01T23:59:59.999000Z"),
                spend_row(3, "2025-06-02T00:00:00.000000Z"),
            ],
        )
    )
    stats = PullStats()
    rows = list(SpendLogsReader(_client(), stats, version=None).rows(DAY))
    assert [r.request_id for r in rows] == ["req-1", "req-2"]
    params = dict(legacy.calls[0].request.url.params)
    assert params == {"start_date": "2025-06-01", "end_date": "2025-06-02", "summarize": "false"}
    assert stats.endpoint == "/spend/logs"


@respx.mock
def test_legacy_truncation_fails_loudly() -> None:
    respx.get(f"{BASE}/spend/logs").mock(
        return_value=httpx.Response(
            200, json=[spend_row(1, "2025-06-01T00:00:00Z")], headers={"x-litellm-spend-logs-truncated": "true"}
        )
    )
    with pytest.raises(SourceError, match="truncated 2025-06-01 at 10,000 rows"):
        list(SpendLogsReader(_client(), PullStats(), version="1.74.0").rows(DAY))


@respx.mock
def test_v2_sends_plain_utc_dates_sorted_ascending() -> None:
    route = respx.get(f"{BASE}/spend/logs/v2").mock(return_value=httpx.Response(200, json={"data": [], "total": 0}))
    list(SpendLogsReader(_client(), PullStats(), version="1.109.1").rows(DAY))
    params = dict(route.calls[0].request.url.params)
    assert params["start_date"] == "2025-06-01 00:00:00" and params["end_date"] == "2025-06-02 00:00:00"
    assert params["sort_by"] == "startTime" and params["sort_order"] == "asc" and params["page_size"] == "1000"
    assert "timezone" not in params


@respx.mock
@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"data": [1]}, "unexpected response from /spend/logs/v2"),
        ({"rows": []}, "unexpected response"),
        ([], "unexpected response"),
    ],
)
def test_a_page_of_the_wrong_shape_is_a_source_error(body: Any, fragment: str) -> None:
    respx.get(f"{BASE}/spend/logs/v2").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(SourceError, match=fragment):
        list(SpendLogsReader(_client(), PullStats(), version="1.109.1").rows(DAY))


@pytest.mark.parametrize(
    ("version", "grain", "count"),
    [
        ("1.109.1", "day", 2),
        ("1.109.1", "hour", 48),
        ("1.109.1", "request", 48),
        ("1.74.0", "request", 2),
        (None, "request", 2),
    ],
)
def test_finer_grains_read_an_hour_at_a_time_where_v2_exists(version: str | None, grain: str, count: int) -> None:
    window = Window(DAY.start, DAY.end + timedelta(days=1))
    parts = list(spend_log_partitions(_client(), window, PullStats(), RowOptions(), version=version, grain=grain))
    assert len(parts) == count  # partitions are lazy: nothing is fetched here

"""Daily activity: pages merged by date and summed by us; per-page metadata ignored; no timezone sent."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from llm_cost.pricing import PriceBook
from llm_cost.records import UsageRecord
from llm_cost.sources.interface import Partition
from llm_cost.sources.litellm.client import LiteLLMClient
from llm_cost.sources.litellm.daily_activity import daily_activity_partitions
from llm_cost.sources.litellm.lookups import Lookups
from llm_cost.sources.litellm.stats import PullStats
from llm_cost.window import Window, day_window

BASE = "http://proxy.test"
DAY = day_window(datetime(2025, 6, 1, tzinfo=UTC).date())


def _records(partitions: Iterable[Partition]) -> list[UsageRecord]:
    """Every record of every partition, in order."""
    return [record for partition in partitions for record in partition()]


def _metrics(spend: float, requests: int) -> dict[str, Any]:
    return {
        "spend": spend,
        "prompt_tokens": 1000 * requests,
        "completion_tokens": 100 * requests,
        "cache_read_input_tokens": 10 * requests,
        "cache_creation_input_tokens": 0,
        "api_requests": requests,
    }


def _page(cells: list[tuple[str, str, float, int]], has_more: bool, page: int) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for model, key, spend, requests in cells:
        entry = models.setdefault(model, {"metrics": {}, "metadata": {}, "api_key_breakdown": {}})
        entry["api_key_breakdown"][key] = {
            "metrics": _metrics(spend, requests),
            "metadata": {"key_alias": f"alias-{key[:4]}", "team_id": "team-a"},
        }
    return {
        "results": [{"date": "2025-06-01", "metrics": {}, "breakdown": {"models": models}}],
        "metadata": {"total_spend": 999.0, "page": page, "has_more": has_more},
    }


def _lookups(client: LiteLLMClient) -> Lookups:
    respx.get(f"{BASE}/v2/team/list").mock(
        return_value=httpx.Response(
            200, json={"teams": [{"team_id": "team-a", "team_alias": "Team A"}], "total_pages": 1}
        )
    )
    respx.get(f"{BASE}/model/info").mock(
        return_value=httpx.Response(
            200, json={"data": [{"model_name": "gpt-4o", "litellm_params": {"model": "azure/gpt-4o"}}]}
        )
    )
    respx.get(f"{BASE}/user/list").mock(return_value=httpx.Response(200, json={"users": [], "total_pages": 1}))
    respx.get(f"{BASE}/key/list").mock(return_value=httpx.Response(200, json={"keys": [], "total_pages": 1}))
    return Lookups(client, PriceBook())


@respx.mock
def test_pages_are_merged_and_summed_by_us() -> None:
    pages = [
        _page([("gpt-4o", "k" * 64, 0.1, 1), ("claude-sonnet-4-0", "j" * 64, 0.2, 2)], True, 1),
        _page([("gpt-4o", "k" * 64, 0.30000000000000004, 3)], False, 2),
    ]
    route = respx.get(f"{BASE}/user/daily/activity").mock(side_effect=[httpx.Response(200, json=p) for p in pages])
    client = LiteLLMClient(base_url=BASE, api_key="sk-x-1234", sleep=lambda s: None)
    stats = PullStats(version="1.109.1")
    records = _records(daily_activity_partitions(client, DAY, stats, _lookups(client), version="1.109.1"))
    by_model = {r.model: r for r in records}
    assert by_model["gpt-4o"].cost == Decimal("0.1") + Decimal("0.30000000000000004")
    assert by_model["gpt-4o"].requests == 4 and by_model["gpt-4o"].tokens.cache_read == 40
    assert by_model["gpt-4o"].tokens.input == 4000 - 40
    assert by_model["gpt-4o"].provider == "azure" and by_model["gpt-4o"].team_alias == "Team A"
    assert by_model["claude-sonnet-4-0"].provider == "anthropic"
    for call in route.calls:
        params = dict(call.request.url.params)
        assert params["start_date"] == params["end_date"] == "2025-06-01" and params["page_size"] == "1000"
        assert "timezone" not in params


@respx.mock
def test_old_proxy_multi_page_day_is_reread_per_model() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        if "model" in params:
            cells = {"gpt-4o": [("gpt-4o", "k" * 64, 0.5, 5)], "o1": [("o1", "k" * 64, 1.5, 1)]}[params["model"]]
            return httpx.Response(200, json=_page(cells, False, 1))
        page = int(params["page"])  # unstable unfiltered pages: both show gpt-4o partially
        return httpx.Response(
            200,
            json=_page(
                [("gpt-4o", "k" * 64, 0.25, 2), ("o1", "k" * 64, 1.5, 1)]
                if page == 1
                else [("gpt-4o", "k" * 64, 0.25, 2)],
                page == 1,
                page,
            ),
        )

    respx.get(f"{BASE}/user/daily/activity").mock(side_effect=handler)
    client = LiteLLMClient(base_url=BASE, api_key="sk-x-1234", sleep=lambda s: None)
    stats = PullStats(version="1.74.0")  # before /aggregated (1.77): the split is the only way
    records = _records(daily_activity_partitions(client, DAY, stats, _lookups(client), version="1.74.0"))
    assert sorted((r.model, r.cost) for r in records) == [("gpt-4o", Decimal("0.5")), ("o1", Decimal("1.5"))]
    assert stats.splits == 1


def test_partial_days_are_refused() -> None:
    client = LiteLLMClient(base_url=BASE, api_key="sk-x-1234")
    window = Window(DAY.start, DAY.start.replace(hour=12))
    with pytest.raises(Exception, match="whole UTC days"):
        _records(daily_activity_partitions(client, window, PullStats(), Lookups(client, PriceBook()), version=None))

"""Daily activity's providers from the response itself (`breakdown.providers[p].api_key_breakdown`): the three
rules of `resolve_providers`, a property that whatever they decide is true, and the failure paths."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_cost.errors import SourceError
from llm_cost.pricing import PriceBook
from llm_cost.sources.litellm.client import LiteLLMClient
from llm_cost.sources.litellm.daily_activity import Cell, Tally, daily_activity_partitions, resolve_providers
from llm_cost.sources.litellm.lookups import Lookups
from llm_cost.sources.litellm.stats import PullStats
from llm_cost.window import day_window

BASE = "http://proxy.test"
DAY = day_window(datetime(2025, 6, 1, tzinfo=UTC).date())


class Listed:
    """The one Lookups method `resolve_providers` asks: which providers /model/info names a model at."""

    def __init__(self, listed: dict[str, set[str]]) -> None:
        self.listed = listed

    def providers_of(self, model: str) -> frozenset[str]:
        return frozenset(self.listed.get(model, ()))


Row = tuple[str, str, str, Tally]  # model, key, provider, counts


def _day(rows: list[Row]) -> tuple[dict[tuple[str, str], Cell], dict[tuple[str, str], Tally]]:
    """The cells and the provider x key tallies a proxy would serve for these rows (one unfiltered read)."""
    cells: dict[tuple[str, str], Cell] = {}
    tallies: dict[tuple[str, str], Tally] = {}
    key_providers: dict[str, set[str]] = {}
    for model, key, provider, (requests, prompt, completion, cache_read) in rows:
        cell = cells.setdefault((model, key), Cell())
        cell.requests += requests
        cell.prompt += prompt
        cell.completion += completion
        cell.cache_read += cache_read
        old = tallies.get((provider, key), (0, 0, 0, 0))
        tallies[(provider, key)] = (old[0] + requests, old[1] + prompt, old[2] + completion, old[3] + cache_read)
        key_providers.setdefault(key, set()).add(provider)
    for (_, key), cell in cells.items():
        cell.providers = set(key_providers[key])
    return cells, tallies


def _resolve(rows: list[Row], listed: dict[str, set[str]]) -> dict[tuple[str, str], str]:
    cells, tallies = _day(rows)
    return resolve_providers(cells, tallies, cast(Lookups, Listed(listed)))


def test_a_key_under_one_provider_decides_its_cells() -> None:
    rows = [("gemini", "k1", "vertex_ai", (3, 30, 3, 0)), ("gemini", "k2", "gemini", (1, 10, 1, 0))]
    assert _resolve(rows, {}) == {("gemini", "k1"): "vertex_ai", ("gemini", "k2"): "gemini"}


def test_accounting_places_an_unlisted_model_beside_listed_ones() -> None:
    rows = [
        ("gpt-4o-mini", "k1", "openai", (5, 500, 50, 0)),
        ("gpt-4o", "k1", "openai", (2, 200, 20, 0)),
        ("gpt-4o", "k1", "azure", (1, 100, 10, 0)),
        ("gemini-2.0-flash", "k1", "vertex_ai", (4, 400, 40, 4)),
        ("acme-7b", "k1", "hosted_vllm", (1, 7, 1, 0)),
        ("unknown-model", "k1", "unknown", (1, 0, 0, 0)),
    ]
    listed = {"gpt-4o-mini": {"openai"}, "gpt-4o": {"openai", "azure"}}
    resolved = _resolve(rows, listed)
    assert resolved[("gemini-2.0-flash", "k1")] == "vertex_ai" and resolved[("acme-7b", "k1")] == "hosted_vllm"
    assert ("gpt-4o", "k1") not in resolved  # a mixed cell has no one provider: /model/info decides
    assert ("gpt-4o-mini", "k1") not in resolved  # known from /model/info, left to it


def test_accounting_that_does_not_add_up_or_is_ambiguous_decides_nothing() -> None:
    twins = [
        ("a", "k1", "vertex_ai", (1, 10, 1, 0)),
        ("b", "k1", "hosted_vllm", (1, 10, 1, 0)),
    ]
    assert _resolve(twins, {}) == {}  # identical counts: either way round fits
    hidden = [
        ("gpt-4o", "k1", "openai", (1, 10, 1, 0)),
        ("gpt-4o", "k1", "azure", (1, 10, 1, 0)),
        ("x", "k1", "openai", (1, 5, 1, 0)),
    ]
    assert _resolve(hidden, {"gpt-4o": {"openai", "azure"}}) == {}  # x hides inside the load-balanced residual
    assert resolve_providers(*_day(twins)[:1], None, cast(Lookups, Listed({}))) == {}  # a split day: no tallies


def test_a_model_whose_keys_share_one_provider_gets_it_unless_the_name_is_load_balanced() -> None:
    cells = {
        ("m", "k1"): Cell(requests=1, providers={"openai", "x"}),
        ("m", "k2"): Cell(requests=1, providers={"openai", "y"}),
        ("n", "k1"): Cell(requests=1, providers={"openai", "x"}),
        ("n", "k2"): Cell(requests=1, providers={"z", "y"}),
    }
    resolved = resolve_providers(cells, None, cast(Lookups, Listed({})))  # a split day: no tallies to account
    assert resolved == {("m", "k1"): "openai", ("m", "k2"): "openai"}  # "n" shares none
    assert resolve_providers(cells, None, cast(Lookups, Listed({"m": {"openai", "x"}}))) == {}


MODELS = ("m0", "m1", "m2", "m3", "m4")
PROVIDERS = ("openai", "azure", "vertex_ai", "anthropic")


@st.composite
def proxies(draw: st.DrawFn) -> tuple[list[Row], dict[str, set[str]]]:
    """A day of a proxy: each model at one provider (listed by /model/info or not, as a wildcard), or
    load-balanced over two (always listed with both), used by a few keys with random counts."""
    truth: dict[str, list[str]] = {}
    listed: dict[str, set[str]] = {}
    for model in MODELS:
        kind = draw(st.sampled_from(["listed", "unlisted", "balanced"]))
        providers = draw(st.lists(st.sampled_from(PROVIDERS), min_size=1, max_size=2, unique=True))
        if kind != "balanced":
            providers = providers[:1]
        truth[model] = providers
        if kind != "unlisted":
            listed[model] = set(providers)
    rows: list[Row] = []
    for _ in range(draw(st.integers(1, 14))):
        model = draw(st.sampled_from(MODELS))
        counts = draw(st.tuples(st.integers(1, 3), st.integers(0, 50), st.integers(0, 9), st.integers(0, 4)))
        rows.append((model, draw(st.sampled_from(("k0", "k1", "k2"))), draw(st.sampled_from(truth[model])), counts))
    return rows, listed


@settings(max_examples=300, deadline=None)
@given(proxies())
def test_every_provider_decided_is_the_one_all_the_cells_requests_went_to(
    proxy: tuple[list[Row], dict[str, set[str]]],
) -> None:
    rows, listed = proxy
    for (model, key), provider in _resolve(rows, listed).items():
        assert {p for m, k, p, _ in rows if (m, k) == (model, key)} == {provider}, (model, key, provider)


# --------------------------------------------------------------------------------------------- through the reader


def _page(providers: Any) -> dict[str, Any]:
    metrics = {"spend": 0.5, "api_requests": 2, "prompt_tokens": 20, "completion_tokens": 2}
    key = {"metrics": metrics, "metadata": {}}
    return {
        "results": [
            {
                "date": "2025-06-01",
                "metrics": {},
                "breakdown": {"models": {"gemini-x": {"api_key_breakdown": {"k" * 64: key}}}, "providers": providers},
            }
        ],
        "metadata": {"page": 1, "has_more": False},
    }


def _read(page: dict[str, Any]) -> list[Any]:
    respx.get(f"{BASE}/user/daily/activity").mock(return_value=httpx.Response(200, json=page))
    respx.get(f"{BASE}/model/info").mock(return_value=httpx.Response(200, json={"data": []}))
    respx.get(f"{BASE}/key/list").mock(return_value=httpx.Response(200, json={"keys": [], "total_pages": 1}))
    client = LiteLLMClient(base_url=BASE, api_key="sk-x-1234", sleep=lambda s: None)
    parts = daily_activity_partitions(client, DAY, PullStats(), Lookups(client, PriceBook()), version="1.109.1")
    return [record for part in parts for record in part()]


@respx.mock
def test_the_reader_takes_the_provider_from_the_providers_breakdown() -> None:
    metrics = {"spend": 0.5, "api_requests": 2, "prompt_tokens": 20, "completion_tokens": 2}
    (record,) = _read(_page({"vertex_ai": {"metrics": metrics, "api_key_breakdown": {"k" * 64: {"metrics": metrics}}}}))
    assert (record.provider, record.provider_name) == ("vertex_ai", "vertex_ai")


@respx.mock
def test_without_a_providers_breakdown_the_lookups_decide() -> None:
    (record,) = _read(_page(None))
    assert record.provider == "unknown"  # not at the proxy, unknown to genai-prices


@pytest.mark.parametrize(
    ("providers", "words"),
    [
        (["vertex_ai"], "breakdown.providers is not an object"),
        ({"vertex_ai": {"api_key_breakdown": ["k"]}}, "has no api_key_breakdown object"),
        ({"vertex_ai": {"api_key_breakdown": {"k": {"metrics": "lots"}}}}, "is not an object"),
        ({"vertex_ai": {"api_key_breakdown": {"k": {"metrics": {"api_requests": 1.5}}}}}, "not a whole number"),
    ],
)
@respx.mock
def test_a_malformed_providers_breakdown_is_a_source_error(providers: Any, words: str) -> None:
    with pytest.raises(SourceError, match=words):
        _read(_page(providers))

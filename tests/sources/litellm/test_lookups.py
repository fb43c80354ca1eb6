"""Lookups, unit by unit over respx: proxy prices from /model/info, users, keys and organizations, and every way
they fail (a refused or missing lookup: one warning and ids only; a malformed answer: a SourceError naming it)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from llm_cost.errors import SourceError
from llm_cost.pricing import PriceBook
from llm_cost.records import UsageRecord
from llm_cost.sources.litellm.client import LiteLLMClient
from llm_cost.sources.litellm.lookups import Lookups, per_million, plain

BASE = "http://proxy.test"
KEY = "sk-secret-lookups-9876"
_T = datetime(2025, 6, 1, tzinfo=UTC)


def _lookups(warnings: list[str] | None = None) -> Lookups:
    client = LiteLLMClient(base_url=BASE, api_key=KEY, sleep=lambda s: None)
    return Lookups(client, PriceBook(), warn=None if warnings is None else warnings.append)


def _deployment(name: str, model: str, model_id: str, provider: str | None = None, **prices: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"model": model}
    if provider:
        params["custom_llm_provider"] = provider
    return {"model_name": name, "litellm_params": params, "model_info": {"id": model_id, **prices}}


def _model_info(*items: dict[str, Any]) -> None:
    # Raw text, so the prices arrive spelled as JSON floats the way the proxy sends them.
    respx.get(f"{BASE}/model/info").mock(return_value=httpx.Response(200, text=json.dumps({"data": list(items)})))


# ------------------------------------------------------------------------------------------------- prices


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (Decimal("2.5e-06"), "2.5"),
        (Decimal("1e-05"), "10"),
        (Decimal("7.5e-08"), "0.075"),
        (Decimal("0.000000075"), "0.075"),
        (Decimal("1.5E-7"), "0.15"),
        (0, "0"),
        (Decimal("0.0"), "0"),
        (3, "3000000"),
        ("3e-7", "0.3"),  # a string from the proxy's config.yaml
        (Decimal("1.23456789012345678901234567890e-6"), "1.2345678901234567890123456789"),
    ],
)
def test_a_per_token_price_is_per_million_exactly_and_plain(wire: Any, expected: str) -> None:
    price = per_million(wire, "input_cost_per_token", "gpt-4o")
    assert price is not None and str(price) == expected


@pytest.mark.parametrize("wire", [True, "abc", "", Decimal("-1e-06"), "NaN", "Infinity", {"a": 1}, [1]])
def test_a_price_that_is_not_one_is_a_source_error_naming_it(wire: Any) -> None:
    with pytest.raises(SourceError, match=r"/model/info: input_cost_per_token of gpt-4o is"):
        per_million(wire, "input_cost_per_token", "gpt-4o")


@given(st.decimals(min_value=Decimal(0), max_value=Decimal(1), allow_nan=False, allow_infinity=False, places=18))
def test_per_million_is_exact_and_prints_without_an_exponent(price: Decimal) -> None:
    per_mtok = per_million(price, "f", "d")
    assert per_mtok is not None and per_mtok == price * 1_000_000
    assert "E" not in str(per_mtok) or per_mtok.adjusted() < -6  # Decimal's str has no other spelling there
    digits, exponent = per_mtok.as_tuple().digits, int(per_mtok.as_tuple().exponent)
    assert exponent <= 0 and (exponent == 0 or digits[-1] != 0)  # no exponent up, no trailing zeros after a point
    assert plain(per_mtok) == per_mtok


@respx.mock
def test_prices_match_by_model_id_then_by_name_and_equal_prices_are_one_object() -> None:
    _model_info(
        _deployment("gpt-4o", "openai/gpt-4o", "id-openai", "openai", input_cost_per_token=2.5e-06,
                    output_cost_per_token=1e-05, cache_read_input_token_cost=1.25e-06),
        _deployment("gpt-4o", "azure/gpt-4o-eastus", "id-azure", "azure", input_cost_per_token=2.5e-06,
                    output_cost_per_token=1e-05, cache_read_input_token_cost=1.25e-06),
        _deployment("vertex-gemini", "vertex_ai/gemini-2.0-flash", "id-vertex", input_cost_per_token=1.5e-07,
                    output_cost_per_token=6e-07),
        _deployment("vertex_ai/*", "vertex_ai/*", "id-wild"),
        _deployment("cheap", "openai/gpt-4o-mini", "id-mini-1", "openai", input_cost_per_token=1.5e-07,
                    output_cost_per_token=6e-07),
        _deployment("cheap", "azure/gpt-4o-mini", "id-mini-2", "azure", input_cost_per_token=1.65e-07,
                    output_cost_per_token=6.6e-07),
    )  # fmt: skip
    lookups = _lookups()
    openai = lookups.pricing("id-openai", "gpt-4o", "openai")
    azure = lookups.pricing("id-azure", "gpt-4o", "azure")
    assert openai is not None and openai is azure  # equal prices: one shared object, one group
    assert openai.source == "litellm" and openai.list_prices is openai.contracted
    prices = openai.list_prices
    assert prices is not None
    assert (str(prices.input), str(prices.output), str(prices.cache_read)) == ("2.5", "10", "1.25")
    assert prices.cache_write is None  # LiteLLM bills a missing cache price at 0, not at the input price
    assert lookups.pricing("", "gpt-4o", "azure") is openai  # no model_id: by name
    assert lookups.pricing(None, "gpt-4o-eastus", "azure") is openai  # the part after the provider prefix
    vertex = lookups.pricing(None, "gemini-2.0-flash", "vertex_ai")  # provider from the model's prefix
    assert vertex is not None and vertex.list_prices is not None and str(vertex.list_prices.input) == "0.15"
    assert lookups.pricing("id-wild", "gemini-1.5-pro", "vertex_ai") is None  # the route has no prices
    assert lookups.pricing(None, "claude-3-opus", "anthropic") is None  # not at the proxy: genai-prices
    assert lookups.pricing(None, "gpt-4o", "anthropic") is None  # the name is there, at other providers
    assert lookups.pricing(None, "cheap", "unknown") is None  # two prices under one name: ambiguous
    mini = lookups.pricing(None, "cheap", "azure")
    assert mini is not None and mini.list_prices is not None and str(mini.list_prices.input) == "0.165"
    assert lookups.pricing("id-mini-2", "whatever", "openai") is mini  # the id wins over the name
    assert respx.calls.call_count == 1  # /model/info read once


@respx.mock
def test_no_model_info_means_no_proxy_prices() -> None:
    respx.get(f"{BASE}/model/info").mock(return_value=httpx.Response(404, json={"detail": "Not Found"}))
    lookups = _lookups()
    assert lookups.pricing("id", "gpt-4o", "openai") is None
    assert lookups.provider("gpt-4o")[0] == "openai"  # genai-prices still names the provider


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"data": {"a": 1}}, "no 'data' list"),
        ([], "no 'data' list"),
        ({"data": ["gpt-4o"]}, "a deployment is str"),
        ({"data": [{"model_name": "x", "litellm_params": "openai/x"}]}, "is not an object"),
        ({"data": [{"model_name": "x", "model_info": {"input_cost_per_token": "cheap"}}]}, "not a price"),
    ],
)
@respx.mock
def test_a_malformed_model_info_is_a_source_error(body: Any, words: str) -> None:
    respx.get(f"{BASE}/model/info").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(SourceError, match=words):
        _lookups().pricing(None, "gpt-4o", "openai")


@respx.mock
def test_a_failing_model_info_is_a_source_error_without_the_key() -> None:
    respx.get(f"{BASE}/model/info").mock(return_value=httpx.Response(500, json={"error": {"message": f"boom {KEY}"}}))
    with pytest.raises(SourceError) as failure:
        _lookups().pricing(None, "gpt-4o", "openai")
    assert KEY not in str(failure.value) and "/model/info" in str(failure.value)


# ------------------------------------------------------------------------------------------------- users


def _users_page(users: list[dict[str, Any]], total_pages: int) -> dict[str, Any]:
    return {"users": users, "total": 99, "page": 1, "page_size": 100, "total_pages": total_pages}


@respx.mock
def test_users_are_paged_once_and_fill_email_and_alias() -> None:
    pages = [
        _users_page([{"user_id": "u1", "user_email": "a@x.com", "user_alias": 'A, "quoted"\nalias'}], 2),
        _users_page([{"user_id": "u2", "user_email": None, "user_alias": "Ünïcode"}], 2),
    ]
    route = respx.get(f"{BASE}/user/list").mock(side_effect=[httpx.Response(200, json=p) for p in pages])
    lookups = _lookups()
    assert lookups.user("u1") is not None and lookups.user("u1").alias == 'A, "quoted"\nalias'  # type: ignore[union-attr]
    assert lookups.user("u2").email is None and lookups.user("nobody") is None  # type: ignore[union-attr]
    assert route.call_count == 2
    params = [dict(c.request.url.params) for c in route.calls]
    assert [p["page"] for p in params] == ["1", "2"] and params[0]["sort_by"] == "user_id"
    assert params[0]["page_size"] == "100"


@respx.mock
def test_an_old_bare_list_of_users_is_read() -> None:
    respx.get(f"{BASE}/user/list").mock(return_value=httpx.Response(200, json=[{"user_id": "u1", "user_alias": "A"}]))
    assert _lookups().user("u1").alias == "A"  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [401, 403])
@respx.mock
def test_a_refused_user_list_warns_once_and_leaves_ids(status: int) -> None:
    route = respx.get(f"{BASE}/user/list").mock(
        return_value=httpx.Response(status, json={"detail": {"error": f"Only proxy admins can list users ({KEY})"}})
    )
    info = respx.get(f"{BASE}/user/info").mock(return_value=httpx.Response(200, json={}))
    warnings: list[str] = []
    lookups = _lookups(warnings)
    records = [UsageRecord(_T, _T, "openai", "gpt-4o", Decimal(1), user_id=f"u{i}") for i in range(5)]
    for record in records:
        lookups.user(str(record.user_id))
    assert all(lookups.user(f"u{i}") is None for i in range(5))
    assert len(warnings) == 1 and "/user/list" in warnings[0] and f"HTTP {status}" in warnings[0]
    assert KEY not in warnings[0] and "user ids only" in warnings[0]
    assert route.call_count == 1 and info.call_count == 0


@respx.mock
def test_without_user_list_each_user_is_read_once_from_user_info() -> None:
    respx.get(f"{BASE}/user/list").mock(return_value=httpx.Response(404, json={"detail": "Not Found"}))

    def user_info(request: httpx.Request) -> httpx.Response:
        user_id = request.url.params["user_id"]
        if user_id == "ghost":
            return httpx.Response(404, json={"error": {"message": "User ghost not found", "code": "404"}})
        return httpx.Response(200, json={"user_id": user_id, "user_info": {"user_email": f"{user_id}@x.com"}})

    route = respx.get(f"{BASE}/user/info").mock(side_effect=user_info)
    warnings: list[str] = []
    lookups = _lookups(warnings)
    for _ in range(3):
        assert lookups.user("u1").email == "u1@x.com"  # type: ignore[union-attr]
        assert lookups.user("ghost") is None
    assert route.call_count == 2 and warnings == []


@respx.mock
def test_a_refused_user_info_warns_once_and_stops_asking() -> None:
    respx.get(f"{BASE}/user/list").mock(return_value=httpx.Response(404, json={"detail": "Not Found"}))
    route = respx.get(f"{BASE}/user/info").mock(
        return_value=httpx.Response(403, json={"error": {"message": "not allowed", "type": "auth_error"}})
    )
    warnings: list[str] = []
    lookups = _lookups(warnings)
    assert [lookups.user(u) for u in ("a", "b", "c")] == [None, None, None]
    assert route.call_count == 1 and len(warnings) == 1 and "/user/info" in warnings[0]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"users": "many"}, "no 'users' list"),
        ({"data": []}, "no 'users' list"),
        ({"users": [{"user_email": "a@x.com"}], "total_pages": 1}, "without a user_id"),
        ({"users": ["u1"], "total_pages": 1}, "without a user_id"),
        ({"users": [{"user_id": "u1"}], "total_pages": "lots"}, "total_pages"),
    ],
)
@respx.mock
def test_a_malformed_user_list_is_a_source_error(body: Any, words: str) -> None:
    respx.get(f"{BASE}/user/list").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(SourceError, match=words):
        _lookups().user("u1")


@respx.mock
def test_a_malformed_user_info_and_a_failing_user_list_are_source_errors() -> None:
    respx.get(f"{BASE}/user/list").mock(return_value=httpx.Response(404, json={"detail": "Not Found"}))
    respx.get(f"{BASE}/user/info").mock(return_value=httpx.Response(200, json={"user_info": "alice"}))
    with pytest.raises(SourceError, match="unexpected response from /user/info"):
        _lookups().user("u1")
    respx.get(f"{BASE}/user/list").mock(return_value=httpx.Response(500, json={"error": {"message": "db down"}}))
    with pytest.raises(SourceError, match="/user/list"):
        _lookups().user("u1")


@respx.mock
def test_tables_are_loaded_once_under_concurrency() -> None:
    route = respx.get(f"{BASE}/user/list").mock(
        return_value=httpx.Response(200, json=_users_page([{"user_id": "u1", "user_alias": "A"}], 1))
    )
    lookups = _lookups()
    seen: list[Any] = []
    threads = [threading.Thread(target=lambda: seen.append(lookups.user("u1"))) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert route.call_count == 1 and len(seen) == 16 and all(u is not None and u.alias == "A" for u in seen)


# ------------------------------------------------------------------------------------------------- keys, orgs


@respx.mock
def test_keys_and_orgs_decorate_records() -> None:
    key_pages = [
        {"keys": [{"token": "h1", "key_name": "sk-...a1b2", "user_id": "u1", "org_id": "o1"}], "total_pages": 2},
        {"keys": ["h-bare", {"token": "h2", "key_name": None, "organization_id": "o2"}], "total_pages": 2},
    ]
    archive = {"keys": [{"token": "h3", "key_name": "sk-...dead"}, {"token": "h1", "key_name": "old"}]}
    deleted = respx.get(f"{BASE}/key/list", params={"status": "deleted"}).mock(
        return_value=httpx.Response(200, json={**archive, "total_pages": 1})
    )
    keys = respx.get(f"{BASE}/key/list").mock(side_effect=[httpx.Response(200, json=p) for p in key_pages])
    respx.get(f"{BASE}/organization/list").mock(
        return_value=httpx.Response(200, json=[{"organization_id": "o1", "organization_alias": "Org, One"}, {}])
    )
    respx.get(f"{BASE}/user/list").mock(
        return_value=httpx.Response(
            200, json=_users_page([{"user_id": "u1", "user_email": "a@x", "user_alias": "A"}], 1)
        )
    )
    lookups = _lookups()
    record = UsageRecord(_T, _T, "openai", "gpt-4o", Decimal(1), api_key_hash="h1", user_id="u1", org_id="o1")
    lookups.enrich(record)
    assert (record.key_name, record.user_email, record.user_alias, record.org_alias) == (
        "sk-...a1b2",
        "a@x",
        "A",
        "Org, One",
    )
    kept = UsageRecord(_T, _T, "openai", "gpt-4o", Decimal(1), user_id="u1", user_email="row@x", org_id="o9")
    lookups.enrich(kept)
    assert kept.user_email == "row@x" and kept.org_alias is None  # the row's own email wins
    assert lookups.key("h2").org_id == "o2" and lookups.key("h-bare") is None  # type: ignore[union-attr]
    # A key deleted since keeps its name from the archive; a live key's entry wins over an archived one.
    assert lookups.key("h3").name == "sk-...dead"  # type: ignore[union-attr]
    assert lookups.key("h1").name == "sk-...a1b2" and deleted.call_count == 1  # type: ignore[union-attr]
    params = dict(keys.calls[0].request.url.params)
    assert params["return_full_object"] == "true" and params["size"] == "100"


@respx.mock
@pytest.mark.parametrize("status", [400, 422, 403])
def test_a_proxy_without_the_key_archive_keeps_the_live_keys(status: int) -> None:
    respx.get(f"{BASE}/key/list", params={"status": "deleted"}).mock(return_value=httpx.Response(status, json={}))
    respx.get(f"{BASE}/key/list").mock(
        return_value=httpx.Response(200, json={"keys": [{"token": "h1", "key_name": "sk-...a1b2"}], "total_pages": 1})
    )
    warnings: list[str] = []
    lookups = _lookups(warnings)
    assert lookups.key("h1").name == "sk-...a1b2" and lookups.key("h3") is None  # type: ignore[union-attr]
    assert warnings == []


@respx.mock
def test_a_failing_key_archive_fails_loudly() -> None:
    respx.get(f"{BASE}/key/list", params={"status": "deleted"}).mock(return_value=httpx.Response(500, json={}))
    respx.get(f"{BASE}/key/list").mock(return_value=httpx.Response(200, json={"keys": [], "total_pages": 1}))
    with pytest.raises(SourceError):
        _lookups().key("h1")


@pytest.mark.parametrize(("path", "kind"), [("/key/list", "key names"), ("/organization/list", "organization")])
@pytest.mark.parametrize("status", [401, 403, 404])
@respx.mock
def test_refused_or_missing_keys_and_orgs_warn_once(path: str, kind: str, status: int) -> None:
    route = respx.get(f"{BASE}{path}").mock(return_value=httpx.Response(status, json={"detail": "nope"}))
    warnings: list[str] = []
    lookups = _lookups(warnings)
    for _ in range(4):
        if path == "/key/list":
            assert lookups.key("h1") is None
        else:
            assert lookups.org_alias("o1") is None
    assert route.call_count == 1 and len(warnings) == 1 and path in warnings[0] and kind in warnings[0]


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/key/list", {"keys": {"h1": {}}}, "no 'keys' list"),
        ("/key/list", [], "no 'keys' list"),
        ("/key/list", {"keys": [42], "total_pages": 1}, "a key is int"),
        ("/key/list", {"keys": [{"token": "h"}], "total_pages": 1.5}, "total_pages"),
        ("/organization/list", {"orgs": []}, "expected a list"),
        ("/organization/list", ["org-1"], "an entry is str"),
    ],
)
@respx.mock
def test_malformed_keys_and_orgs_are_source_errors(path: str, body: Any, words: str) -> None:
    respx.get(f"{BASE}{path}").mock(return_value=httpx.Response(200, json=body))
    lookups = _lookups()
    with pytest.raises(SourceError, match=words):
        lookups.key("h1") if path == "/key/list" else lookups.org_alias("o1")


@respx.mock
def test_a_failing_key_list_is_a_source_error() -> None:
    respx.get(f"{BASE}/key/list").mock(return_value=httpx.Response(503, text="<html>down</html>"))
    with pytest.raises(SourceError, match="/key/list"):
        _lookups().key("h1")


@respx.mock
def test_teams_carry_their_organization() -> None:
    respx.get(f"{BASE}/v2/team/list").mock(
        return_value=httpx.Response(
            200,
            json={
                "teams": [
                    {"team_id": "t1", "team_alias": "One", "organization_id": "o1"},
                    {"team_id": "t2", "team_alias": None, "organization_id": "o2"},
                ],
                "total_pages": 1,
            },
        )
    )
    lookups = _lookups()
    assert lookups.team_alias("t1") == "One" and lookups.team("t2").org_id == "o2"  # type: ignore[union-attr]
    assert lookups.team_alias("t2") is None and lookups.team("t3") is None

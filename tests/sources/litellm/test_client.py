"""The LiteLLM client: error envelopes, credentials versus no database, bad bodies, version detection."""

from __future__ import annotations

import httpx
import pytest
import respx

from llm_cost.errors import ConfigError, SourceError
from llm_cost.pricing import PriceBook
from llm_cost.sources.litellm.client import (
    EndpointMissing,
    LiteLLMClient,
    parse_error,
    version_tuple,
)
from llm_cost.sources.litellm.lookups import Lookups

BASE = "http://proxy.test"
KEY = "sk-master-secret-1234"


def _client() -> LiteLLMClient:
    return LiteLLMClient(base_url=BASE, api_key=KEY, sleep=lambda s: None)


@pytest.mark.parametrize(
    ("body", "message", "kind"),
    [
        ({"error": {"message": "m1", "type": "auth_error", "param": "None", "code": "401"}}, "m1", "auth_error"),
        ({"detail": "plain detail"}, "plain detail", None),
        ({"detail": {"error": "Only admin users can query all teams"}}, "Only admin users can query all teams", None),
        (
            {"detail": [{"loc": ["query", "page_size"], "msg": "less than or equal to 1000"}]},
            "query.page_size: less than or equal to 1000",
            "validation_error",
        ),
    ],
)
def test_three_error_envelopes(body: dict, message: str, kind: str | None) -> None:
    error = parse_error(httpx.Response(400, json=body))
    assert error.message == message and error.type == kind


@respx.mock
@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            401,
            {
                "error": {
                    "message": "Authentication Error, Invalid proxy server token passed",
                    "type": "auth_error",
                    "param": None,
                    "code": "401",
                }
            },
            "rejected the API key",
        ),
        (
            401,
            {
                "error": {
                    "message": "Authentication Error, Invalid proxy server token passed",
                    "type": "token_not_found_in_db",
                    "param": "key",
                    "code": "401",
                }
            },
            "rejected the API key",
        ),
        (
            401,
            {"error": {"message": "Prisma Client is not initialized", "type": "internal_error", "code": "401"}},
            "no database connected",
        ),
        (400, {"error": {"message": "No connected db.", "type": "no_db_connection", "code": "400"}}, "no database"),
        (
            403,
            {
                "error": {
                    "message": "user not allowed to access this route, role= internal_user",
                    "type": "auth_error",
                    "code": "403",
                }
            },
            "refused /spend/logs/v2 to this key's role",
        ),
        (
            400,
            {"error": {"message": "Invalid date format", "type": "internal_server_error", "code": "400"}},
            r"rejected /spend/logs/v2 \(HTTP 400: Invalid date format\)",
        ),
    ],
)
def test_errors_name_the_setting_and_never_the_key(status: int, body: dict, expected: str) -> None:
    respx.get(f"{BASE}/spend/logs/v2").mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(SourceError, match=expected) as info:
        _client().get_json("/spend/logs/v2")
    assert KEY not in str(info.value) and info.value.exit_code == 4
    if "API key" in expected:
        assert "LITELLM_API_KEY" in str(info.value)


@respx.mock
def test_404_is_endpoint_missing() -> None:
    respx.get(f"{BASE}/spend/logs/v2").mock(return_value=httpx.Response(404, json={"detail": "Not Found"}))
    with pytest.raises(EndpointMissing):
        _client().get_json("/spend/logs/v2")


@respx.mock
@pytest.mark.parametrize(
    ("content", "kind"), [(b"<html>gateway</html>", "not JSON"), (b'{"data": [{"request_', "truncated")]
)
def test_bad_bodies(content: bytes, kind: str) -> None:
    respx.get(f"{BASE}/x").mock(return_value=httpx.Response(200, content=content))
    with pytest.raises(SourceError, match=kind):
        _client().get_json("/x")


@respx.mock
def test_retries_then_succeeds_and_counts() -> None:
    route = respx.get(f"{BASE}/x").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "0"}),
            httpx.Response(500),
            httpx.Response(503),
            httpx.Response(504),
            httpx.Response(200, json={"ok": 1}),
        ]
    )
    client = _client()
    assert client.get_json("/x") == {"ok": 1}
    assert route.call_count == 5 and client.retries == 4


@respx.mock
def test_unreachable_host() -> None:
    respx.get(f"{BASE}/x").mock(side_effect=httpx.ConnectError("Name or service not known"))
    with pytest.raises(SourceError, match="cannot reach the LiteLLM proxy .* LITELLM_BASE_URL"):
        _client().get_json("/x")


@respx.mock
def test_version_from_details_then_public_readiness() -> None:
    respx.get(f"{BASE}/health/readiness/details").mock(return_value=httpx.Response(404))
    respx.get(f"{BASE}/health/readiness").mock(
        return_value=httpx.Response(200, json={"status": "healthy", "litellm_version": "1.74.0"})
    )
    assert _client().version() == "1.74.0"
    assert version_tuple("1.74.15.post2") == (1, 74, 15) and version_tuple(None) is None


@respx.mock
def test_readiness_without_database_is_explained() -> None:
    respx.get(f"{BASE}/health/readiness/details").mock(
        return_value=httpx.Response(200, json={"status": "healthy", "db": "Not connected"})
    )
    with pytest.raises(SourceError, match="no database connected"):
        _client().version()


@respx.mock
def test_non_admin_key_is_refused() -> None:
    respx.get(f"{BASE}/v2/team/list").mock(
        return_value=httpx.Response(
            401,
            json={
                "detail": {"error": "Only admin users can query all teams/other teams. Your user role=internal_user"}
            },
        )
    )
    with pytest.raises(SourceError, match="not an admin key"):
        Lookups(_client(), PriceBook()).check_admin_scope()


def test_missing_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="LITELLM_BASE_URL"):
        LiteLLMClient(base_url=None, api_key=KEY)
    with pytest.raises(ConfigError, match="LITELLM_API_KEY"):
        LiteLLMClient(base_url=BASE, api_key=None)

"""The Vantage client: retries, rate limits, errors that name the setting and mask secrets, paging (respx)."""

from __future__ import annotations

import httpx
import pytest
import respx

from llm_cost.errors import ConfigError, DestinationError
from llm_cost.sinks.vantage.client import VantageClient

KEY, TOKEN = "vk_secret_key_123", "accss_crdntl_secret_456"
BASE = "https://vantage.test"
UPLOADS = f"{BASE}/v2/integrations/{TOKEN}/costs"


def _client(**kwargs: object) -> VantageClient:
    return VantageClient(api_key=KEY, integration_token=TOKEN, base_url=BASE, sleep=lambda s: None, **kwargs)  # type: ignore[arg-type]


@respx.mock
def test_retries_429_with_retry_after_then_succeeds() -> None:
    waits: list[float] = []
    route = respx.post(f"{UPLOADS}.csv").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}, json={"errors": ["slow down"]}),
            httpx.Response(503),
            httpx.Response(201, json={"token": "usr_csts_upld_1", "amount": "1.5"}),
        ]
    )
    client = VantageClient(api_key=KEY, integration_token=TOKEN, base_url=BASE, sleep=waits.append)
    assert client.upload("f.csv", b"data")["token"] == "usr_csts_upld_1"
    assert route.call_count == 3 and waits[0] == 7.0 and client.retries == 2
    request = route.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert b'name="csv"; filename="f.csv"' in request.content and b'name="auto_transform"' in request.content


@respx.mock
def test_rate_limit_reset_header_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("llm_cost.http.time.time", lambda: 1000.0)
    waits: list[float] = []
    respx.get(UPLOADS).mock(
        side_effect=[
            httpx.Response(429, headers={"x-rate-limit-reset": "1012"}),
            httpx.Response(200, json={"user_costs_uploads": []}),
        ]
    )
    client = VantageClient(api_key=KEY, integration_token=TOKEN, base_url=BASE, sleep=waits.append)
    assert client.list_uploads() == [] and waits == [12.0]


@respx.mock
def test_422_is_not_retried_and_shows_errors() -> None:
    errors = [f"Row {i}: BilledCost must be a valid number" for i in range(1, 14)]
    route = respx.post(f"{UPLOADS}.csv").mock(return_value=httpx.Response(422, json={"errors": errors}))
    with pytest.raises(DestinationError, match="HTTP 422") as info:
        _client().upload("f.csv", b"x")
    assert route.call_count == 1
    assert info.value.details[:2] == errors[:2] and info.value.details[-1] == "... and 3 more"
    assert info.value.exit_code == 5


@respx.mock
@pytest.mark.parametrize(
    ("status", "hint"), [(401, "VANTAGE_API_KEY"), (403, "VANTAGE_API_KEY"), (404, "VANTAGE_INTEGRATION_TOKEN")]
)
def test_auth_and_unknown_token_errors_name_the_setting_and_mask_secrets(status: int, hint: str) -> None:
    respx.get(UPLOADS).mock(return_value=httpx.Response(status, json={"errors": [f"bad {KEY} {TOKEN}"]}))
    with pytest.raises(DestinationError) as info:
        _client().list_uploads()
    text = str(info.value) + " ".join(info.value.details)
    assert hint in text and KEY not in text and TOKEN not in text


@respx.mock
def test_unreachable_host_is_a_destination_error_without_secrets() -> None:
    respx.get(UPLOADS).mock(side_effect=httpx.ConnectError(f"cannot connect to {UPLOADS}"))
    with pytest.raises(DestinationError, match="could not be reached after 5 tries") as info:
        _client().list_uploads()
    assert TOKEN not in str(info.value)


def test_base_url_with_v2_is_not_doubled() -> None:
    with respx.mock:
        route = respx.get(UPLOADS).mock(return_value=httpx.Response(200, json={"user_costs_uploads": []}))
        VantageClient(api_key=KEY, integration_token=TOKEN, base_url=f"{BASE}/v2/").list_uploads()
        assert route.called


def test_missing_credentials_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="VANTAGE_API_KEY"):
        VantageClient(api_key="", integration_token=TOKEN)
    with pytest.raises(ConfigError, match="VANTAGE_INTEGRATION_TOKEN"):
        VantageClient(api_key=KEY, integration_token="")


# ------------------------------------------------------------------------------------------- contract edge cases


def _page(tokens: list[str], next_url: str | None) -> httpx.Response:
    uploads = [{"token": t, "filename": f"{t}.csv", "amount": "1.0"} for t in tokens]
    return httpx.Response(200, json={"links": {"next": next_url}, "user_costs_uploads": uploads})


@respx.mock
@pytest.mark.parametrize("spelling", ["absolute", "relative"])
def test_the_upload_list_follows_links_next(spelling: str) -> None:
    second = f"{UPLOADS}?page=2" if spelling == "absolute" else "costs?page=2"
    route = respx.get(UPLOADS).mock(
        side_effect=lambda request: (
            _page(["b"], None) if request.url.params.get("page") == "2" else _page(["a"], second)
        )
    )
    assert [u["token"] for u in _client().list_uploads()] == ["a", "b"]
    assert route.call_count == 2


@respx.mock
def test_a_next_link_to_another_host_is_refused_without_sending_the_key() -> None:
    respx.get(UPLOADS).mock(return_value=_page(["a"], "https://elsewhere.test/steal?token=1"))
    other = respx.get("https://elsewhere.test/steal").mock(return_value=_page([], None))
    with pytest.raises(DestinationError, match="another host") as info:
        _client().list_uploads()
    assert not other.called and KEY not in str(info.value)


@respx.mock
def test_a_next_link_that_loops_is_an_error_not_a_silent_stop() -> None:
    respx.get(UPLOADS).mock(return_value=_page(["a"], f"{UPLOADS}?page=1"))
    with pytest.raises(DestinationError, match="does not end"):
        _client().list_uploads()


@respx.mock
def test_an_http_date_retry_after_is_waited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("llm_cost.http.time.time", lambda: 1_800_000_000.0)
    waits: list[float] = []
    respx.get(UPLOADS).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "Fri, 15 Jan 2027 08:00:05 GMT"}),
            httpx.Response(200, json={"user_costs_uploads": []}),
        ]
    )
    client = VantageClient(api_key=KEY, integration_token=TOKEN, base_url=BASE, sleep=waits.append)
    assert client.list_uploads() == [] and waits == [5.0]


@respx.mock
def test_5xx_never_waits_for_the_hour_long_rate_limit_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: every 5xx slept until x-rate-limit-reset (capped at 120 s): 8 minutes for one part."""
    monkeypatch.setattr("llm_cost.http.time.time", lambda: 1_800_000_000.0)
    waits: list[float] = []
    reset = {"x-rate-limit-reset": "1800003600", "x-rate-limit-remaining": "900"}
    route = respx.post(f"{UPLOADS}.csv").mock(
        return_value=httpx.Response(502, headers=reset, json={"errors": ["bad gateway"]})
    )
    client = VantageClient(api_key=KEY, integration_token=TOKEN, base_url=BASE, sleep=waits.append)
    with pytest.raises(DestinationError, match=r"after 5 tries \(HTTP 502\): bad gateway"):
        client.upload("f.csv", b"x")
    assert route.call_count == 5 and len(waits) == 4 and sum(waits) < 20


@respx.mock
def test_a_rate_limit_reset_beyond_the_retry_budget_fails_at_once_naming_the_reset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("llm_cost.http.time.time", lambda: 1_800_000_000.0)
    waits: list[float] = []
    respx.get(UPLOADS).mock(return_value=httpx.Response(429, headers={"x-rate-limit-reset": "1800003600"}))
    client = VantageClient(api_key=KEY, integration_token=TOKEN, base_url=BASE, sleep=waits.append)
    with pytest.raises(DestinationError, match="resets at 2027-01-15T09:00:00Z") as info:
        client.list_uploads()
    assert waits == [] and "1 try" in str(info.value)

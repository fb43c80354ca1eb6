"""The shared retry policy: which waits are the server's, which are backoff, and the per-request retry budget.

Regression: Vantage sends `x-rate-limit-reset` (up to an hour ahead) on every response, and every 5xx waited until
it (capped at 120 s): five tries of one part slept about 8 minutes, long enough for a cron or CI job to be killed
between uploading a period's new parts and deleting its old ones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from llm_cost.errors import DestinationError
from llm_cost.http import RetryingHttp, RetryPolicy, attempts_of, server_wait
from llm_cost.secrets import Masker

BASE = "https://api.example.test"
NOW = 1_800_000_000.0
HOUR_AHEAD = str(int(NOW) + 3600)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("llm_cost.http.time.time", lambda: NOW)


def _http(waits: list[float], *, attempts: int = 5, budget: float = 60.0) -> RetryingHttp:
    def unreachable(exc: Exception, count: int) -> DestinationError:
        return DestinationError(f"unreachable after {count} tries: {exc}")

    return RetryingHttp(
        base_url=BASE,
        headers={},
        masker=Masker([]),
        unreachable=unreachable,
        retry_statuses={429, 500, 502, 503, 504},
        reset_header="x-rate-limit-reset",
        policy=RetryPolicy(attempts, budget),
        sleep=waits.append,
    )


@respx.mock
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_backs_off_and_never_waits_for_the_rate_limit_reset(status: int) -> None:
    route = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(status, headers={"x-rate-limit-reset": HOUR_AHEAD}))
    waits: list[float] = []
    response = _http(waits).request("GET", "/x")
    assert response.status_code == status and attempts_of(response) == 5 and route.call_count == 5
    assert len(waits) == 4
    # exponential with up to 1 s of jitter: about 1, 2, 4, 8 s, never the hour until the reset
    for number, wait in enumerate(waits):
        assert 2**number <= wait <= 2**number + 1
    assert sum(waits) < 20


@respx.mock
def test_429_waits_for_retry_after_then_for_the_reset_time() -> None:
    respx.get(f"{BASE}/x").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7", "x-rate-limit-reset": HOUR_AHEAD}),
            httpx.Response(429, headers={"x-rate-limit-reset": str(int(NOW) + 12)}),
            httpx.Response(429),  # neither: back off
            httpx.Response(200),
        ]
    )
    waits: list[float] = []
    assert _http(waits).request("GET", "/x").status_code == 200
    assert waits[:2] == [7.0, 12.0] and 4 <= waits[2] <= 5


@respx.mock
def test_503_waits_for_its_retry_after_given_as_an_http_date() -> None:
    when = format_datetime(datetime.fromtimestamp(NOW + 9, UTC), usegmt=True)
    respx.get(f"{BASE}/x").mock(side_effect=[httpx.Response(503, headers={"Retry-After": when}), httpx.Response(200)])
    waits: list[float] = []
    assert _http(waits).request("GET", "/x").status_code == 200 and waits == [9.0]


@respx.mock
def test_a_server_wait_beyond_the_budget_gives_up_at_once() -> None:
    route = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(429, headers={"x-rate-limit-reset": HOUR_AHEAD}))
    waits: list[float] = []
    response = _http(waits).request("GET", "/x")
    assert response.status_code == 429 and waits == [] and route.call_count == 1 and attempts_of(response) == 1


@respx.mock
def test_the_budget_caps_the_sum_of_waits_of_one_request() -> None:
    route = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(500))
    waits: list[float] = []
    response = _http(waits, attempts=50, budget=10).request("GET", "/x")
    assert response.status_code == 500
    assert sum(waits) == pytest.approx(10.0) and route.call_count == len(waits) + 1 < 50


@respx.mock
def test_a_zero_budget_means_one_try() -> None:
    route = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(502))
    waits: list[float] = []
    assert _http(waits, budget=0).request("GET", "/x").status_code == 502
    assert waits == [] and route.call_count == 1


@respx.mock
def test_transport_errors_back_off_and_then_say_how_many_tries() -> None:
    respx.get(f"{BASE}/x").mock(side_effect=httpx.ConnectError("refused"))
    waits: list[float] = []
    with pytest.raises(DestinationError, match="unreachable after 3 tries"):
        _http(waits, attempts=3).request("GET", "/x")
    assert len(waits) == 2 and waits[0] <= 2


@respx.mock
def test_other_statuses_are_not_retried() -> None:
    route = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(422, headers={"Retry-After": "1"}))
    assert _http([]).request("GET", "/x").status_code == 422 and route.call_count == 1


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(budget=-1)


_header = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


@given(st.sampled_from([429, 500, 502, 503, 504]), _header, _header)
def test_server_wait_never_crashes_and_is_only_for_429_and_503(
    status: int, retry_after: str | None, reset: str | None
) -> None:
    headers = {k: v for k, v in (("Retry-After", retry_after), ("x-rate-limit-reset", reset)) if v is not None}
    try:
        response = httpx.Response(status, headers=headers)
    except (UnicodeEncodeError, ValueError):
        return  # not a header httpx can carry
    wait = server_wait(response, NOW, "x-rate-limit-reset")
    if status not in (429, 503):
        assert wait is None
    assert wait is None or wait >= 0


@respx.mock
@pytest.mark.parametrize(("args", "tries"), [([], 5), (["--max-tries", "2"], 2), (["--retry-budget", "0"], 1)])
def test_the_cli_hands_its_retry_policy_to_the_litellm_client(
    args: list[str], tries: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from llm_cost.cli import app

    monkeypatch.setattr("llm_cost.http.time.sleep", lambda seconds: None)

    respx.get(f"{BASE}/health/readiness/details").respond(200, json={"litellm_version": "1.109.1"})
    probe = respx.get(f"{BASE}/v2/team/list").respond(500, json={"error": {"message": "boom"}})
    result = CliRunner().invoke(
        app,
        ["export", "--mode", "spend-logs", "--day", "2025-06-01", *args],
        env={"LITELLM_BASE_URL": BASE, "LITELLM_API_KEY": "sk-test-key"},
    )
    assert result.exit_code == 4 and probe.call_count == tries
    assert f"after {tries} {'try' if tries == 1 else 'tries'}" in result.stderr

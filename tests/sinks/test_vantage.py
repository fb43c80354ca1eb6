"""Vantage sink units: validation, row-level batching, the client's retries and errors (respx)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import respx

from llm_cost.errors import ConfigError, DestinationError
from llm_cost.focus.columns import VANTAGE
from llm_cost.sinks.vantage import (
    VantageClient,
    build_batches,
    part_filename,
    read_focus_csv,
    upload_batches,
    vantage_row_problems,
)

KEY, TOKEN = "vk_secret_key_123", "accss_crdntl_secret_456"
BASE = "https://vantage.test"
UPLOADS = f"{BASE}/v2/integrations/{TOKEN}/costs"


def _row(n: int = 0, cost: str = "1.5", name: str = "svc") -> dict[str, str | None]:
    return {
        "ChargePeriodStart": "2026-10-05T00:00:00Z",
        "ChargePeriodEnd": "2026-10-06T00:00:00Z",
        "ChargeCategory": "Usage",
        "BilledCost": cost,
        "BillingCurrency": "USD",
        "ResourceId": f"r{n}",
        "ResourceType": "LLM",
        "RegionId": None,
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": name,
        "ConsumedQuantity": "10.0",
        "ConsumedUnit": "Tokens",
        "Tags": json.dumps({"team": f'Équipe, "{n}"\nx'}),
    }


def _client(**kwargs: object) -> VantageClient:
    return VantageClient(api_key=KEY, integration_token=TOKEN, base_url=BASE, sleep=lambda s: None, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("ChargeCategory", "Purchase", "ChargeCategory 'Purchase' must be one of"),
        ("BilledCost", "abc", "valid number"),
        ("BilledCost", "NaN", "valid number"),
        ("ChargePeriodStart", "5/1/25", "valid date"),
        ("Tags", "{x}", "flat JSON"),
        ("Tags", '{"a":{"b":1}}', "flat JSON"),
        ("ServiceName", None, "ServiceName is required"),
    ],
)
def test_vantage_validation(column: str, value: str | None, problem: str) -> None:
    row = _row()
    assert vantage_row_problems(row) == []
    row[column] = value
    assert any(problem in p for p in vantage_row_problems(row))


def test_batches_respect_rows_and_bytes_and_keep_quoted_fields() -> None:
    rows = [_row(i, cost="0.000001") for i in range(2500)]
    batches = build_batches(rows, max_rows=1000, max_bytes=60_000)
    try:
        assert sum(p.rows for p in batches.parts) == 2500
        assert all(p.rows <= 1000 and p.size <= 60_000 for p in batches.parts)
        assert len(batches.parts) > 3  # bytes bind before rows
        parsed = []
        for part in batches.parts:
            data = part.path.read_bytes()
            assert len(data) == part.size
            reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
            assert tuple(reader.fieldnames or ()) == VANTAGE
            parsed += list(reader)
        assert [r["ResourceId"] for r in parsed] == [f"r{i}" for i in range(2500)]
        assert json.loads(parsed[7]["Tags"]) == {"team": 'Équipe, "7"\nx'}
        assert batches.cost == Decimal("0.0025") and sum(p.cost for p in batches.parts) == batches.cost
        assert (batches.period_start, batches.period_end) == (date(2026, 10, 5), date(2026, 10, 6))
    finally:
        batches.cleanup()


def test_a_row_too_large_for_any_file_is_named() -> None:
    big = _row(3)
    big["Tags"] = json.dumps({"blob": "x" * 5000})
    with pytest.raises(ConfigError, match=r"row 2 \(r3\) is \d+ bytes, too large"):
        build_batches([_row(1), big], max_bytes=4000)


def test_invalid_rows_are_all_reported_and_nothing_is_built() -> None:
    rows = [_row(i) for i in range(15)]
    for r in rows:
        r["ChargeCategory"] = "Adjustment"
    with pytest.raises(ConfigError, match="15 problem") as info:
        build_batches(rows)
    assert len(info.value.details) == 11 and info.value.details[-1] == "... and 5 more"


def test_filename_is_traceable() -> None:
    assert (
        part_filename(date(2026, 10, 5), date(2026, 10, 6), "RUN", 7)
        == "llm-cost_2026-10-05_2026-10-06_RUN_part007.csv"
    )


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
    monkeypatch.setattr("llm_cost.sinks.vantage.time.time", lambda: 1000.0)
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


@respx.mock
def test_failed_part_rolls_back_and_keeps_earlier_uploads() -> None:
    earlier = {"token": "old1", "filename": "llm-cost_2026-10-05_2026-10-06_OLD_part001.csv"}
    respx.get(UPLOADS).mock(return_value=httpx.Response(200, json={"user_costs_uploads": [earlier]}))
    respx.post(f"{UPLOADS}.csv").mock(
        side_effect=[
            httpx.Response(201, json={"token": "new1", "amount": "1"}),
            httpx.Response(422, json={"errors": ["Row 1: nope"]}),
        ]
    )
    deleted = respx.delete(url__regex=rf"{UPLOADS}/.*").mock(return_value=httpx.Response(204))
    batches = build_batches([_row(i) for i in range(4)], max_rows=2)
    with pytest.raises(DestinationError, match="HTTP 422"):
        upload_batches(_client(), batches, run_id="RUN")
    assert [c.request.url.path.rsplit("/", 1)[-1] for c in deleted.calls] == ["new1"]


@respx.mock
def test_replace_deletes_only_earlier_uploads_of_the_same_period_after_success() -> None:
    listing = [
        {"token": "old1", "filename": "llm-cost_2026-10-05_2026-10-06_OLD_part001.csv"},
        {"token": "other-day", "filename": "llm-cost_2026-10-04_2026-10-05_OLD_part001.csv"},
        {"token": "users-own", "filename": "costs.csv"},
    ]
    respx.get(UPLOADS).mock(return_value=httpx.Response(200, json={"user_costs_uploads": listing}))
    respx.post(f"{UPLOADS}.csv").mock(return_value=httpx.Response(201, json={"token": "new1", "amount": "3.0"}))
    deleted = respx.delete(url__regex=rf"{UPLOADS}/.*").mock(return_value=httpx.Response(204))
    result = upload_batches(_client(), build_batches([_row(1), _row(2)]), run_id="RUN")
    assert [c.request.url.path.rsplit("/", 1)[-1] for c in deleted.calls] == ["old1"]
    assert [u["token"] for u in result.replaced or []] == ["old1"]


def test_read_focus_csv_rejects_bad_files(tmp_path: Path) -> None:
    cases = {
        "empty.csv": ("", "is empty"),
        "header.csv": (",".join(VANTAGE) + "\n", "no rows"),
        "other.csv": ("a,b,c\n1,2,3\n", "not a FOCUS CSV"),
        "missing.csv": ("ChargePeriodStart,BilledCost,ServiceName\n2026-10-05,1.0,x\n", "ChargeCategory"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ConfigError, match=message):
            list(read_focus_csv(path))
    with pytest.raises(ConfigError, match="not found"):
        list(read_focus_csv(tmp_path / "nope.csv"))


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
@pytest.mark.parametrize(("amount", "warned"), [("1234.567890123456789", False), ("1234.5678901234567", True)])
def test_a_numeric_amount_in_the_upload_answer_is_compared_exactly(amount: str, warned: bool) -> None:
    """Vantage documents `amount` as a string; a number must not lose digits through a float on the way."""
    batches = build_batches([_row(cost="1234.567890123456789")])
    respx.get(UPLOADS).mock(return_value=httpx.Response(200, json={"user_costs_uploads": []}))
    body = '{"token": "usr_csts_upld_1", "filename": "f.csv", "amount": ' + amount + "}"
    respx.post(f"{UPLOADS}.csv").mock(
        return_value=httpx.Response(201, content=body.encode(), headers={"content-type": "application/json"})
    )
    warnings: list[str] = []
    try:
        upload_batches(_client(), batches, run_id="RUN", warn=warnings.append)
    finally:
        batches.cleanup()
    assert any("Vantage reports" in w for w in warnings) is warned


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

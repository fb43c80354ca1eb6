"""FakeLiteLLM behaves like the documented LiteLLM proxy admin API (/work/shared/docs/litellm-api.md).

Plain httpx against the loopback server; every server is stopped by its context manager. Each test proves one
documented quirk, so a client that passes against the fake has met it.
"""

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import httpx
import pytest

from tests.fakes.litellm import (
    DEPLOYMENTS,
    HEALTH_CHECK_KEY,
    HEALTH_CHECK_KEY_HASH,
    KEYS,
    MASTER_KEY_LITERAL,
    ORGS,
    PROXY_ADMIN_USER_ID,
    SPEND_LOGS_CAP,
    TEAMS,
    USERS,
    WILDCARD_DEPLOYMENTS,
    FakeLiteLLM,
    SpendDataset,
    fake_litellm_fixture,
    format_v2_datetime,
    generate_dataset,
    hash_key,
)

MASTER = "sk-master-1234"
VIEWER = "sk-viewer"
INTERNAL = "sk-internal"  # internal_user narrowed to user-alice
OLD, MID, NEW = "1.74.0", "1.86.7", "1.109.1"
D1, D2, D3 = date(2025, 6, 1), date(2025, 6, 2), date(2025, 6, 3)
KEY = {k.key_alias: k for k in KEYS}
V2_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?\+00:00")
V1_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z")


@cache
def small() -> SpendDataset:
    """Three days, 800 rows a day: 300 tied rows at 2025-06-02 12:00:00.250, a crowded second on 06-01."""
    return generate_dataset(7, days=3, requests=2400)


@cache
def big() -> SpendDataset:
    """One day (2025-06-10) of 10,050 rows: over the 10,000 caps."""
    return generate_dataset(11, days=1, requests=10_050, start_day=date(2025, 6, 10))


@cache
def big_lean() -> list[dict[str, Any]]:
    """big() without metadata, for the tests that move 10,000 legacy rows (half the bytes)."""
    return [{**r, "metadata": {}} for r in big()]


def serve(version: str = NEW, dataset: Any = None, **options: Any) -> FakeLiteLLM:
    return FakeLiteLLM(small() if dataset is None else dataset, version=version, **options)


def http(fake: FakeLiteLLM, key: str | None = MASTER, **options: Any) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    options.setdefault("timeout", 10)
    return httpx.Client(base_url=fake.base_url, headers=headers, verify=False, **options)


@pytest.fixture
def new() -> Iterator[FakeLiteLLM]:
    with serve(NEW) as fake:
        yield fake
    assert fake.internal_errors == []


@pytest.fixture
def c(new: FakeLiteLLM) -> Iterator[httpx.Client]:
    with http(new) as client:
        yield client


def v2(client: httpx.Client, start: str, end: str, **params: Any) -> httpx.Response:
    return client.get("/spend/logs/v2", params={"start_date": start, "end_date": end, **params})


def rows_between(lo: datetime, hi: datetime, *, dataset: SpendDataset | None = None) -> list[dict[str, Any]]:
    """Dataset rows with lo <= startTime <= hi (health checks included), like v2's inclusive bounds."""
    return [r for r in (dataset or small()) if lo <= r["startTime"] <= hi]


def utc(day: date, hour: int = 0, minute: int = 0, second: int = 0, ms: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, ms * 1000, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------------- generator


def test_generator_is_deterministic_per_seed():
    a, b = generate_dataset(3, days=2, requests=500), generate_dataset(3, days=2, requests=500)
    assert [(r["request_id"], r["spend"], r["startTime"]) for r in a] == [
        (r["request_id"], r["spend"], r["startTime"]) for r in b
    ]
    other = generate_dataset(4, days=2, requests=500)
    assert [r["request_id"] for r in other] != [r["request_id"] for r in a]
    assert len({r["request_id"] for r in a}) == 500  # unique primary keys


def test_generator_has_ties_midnights_and_every_kind_of_traffic():
    rows = small()
    assert len(rows) == 2400 and rows.day_list == [D1, D2, D3]
    times = Counter(r["startTime"] for r in rows)
    assert times[utc(D2, 12, 0, 0, 250)] == 300  # one millisecond shared by 300 rows
    crowded = [r for r in rows if utc(D1, 15, 30, 7) <= r["startTime"] < utc(D1, 15, 30, 8)]
    assert len(crowded) >= 300 and len({r["startTime"] for r in crowded}) <= 40  # hundreds in one second
    for day in (D1, D2, D3):
        assert times[utc(day)] == 3  # rows exactly at D 00:00:00.000
    assert {r["startTime"].date() for r in rows} == {D1, D2, D3}

    keys = Counter(r["api_key"] for r in rows)
    assert keys[MASTER_KEY_LITERAL] > 100 and keys[HEALTH_CHECK_KEY] > 0 and keys[HEALTH_CHECK_KEY_HASH] > 0
    assert keys[""] > 0  # unattributed
    hashed = [k for k in keys if re.fullmatch(r"[0-9a-f]{64}", k)]
    assert {KEY[a].token for a in ("prod-search", "prod-chat", "staging", "batch-jobs")} <= set(hashed)
    master_rows = [r for r in rows if r["api_key"] == MASTER_KEY_LITERAL]
    assert {r["user"] for r in master_rows} == {PROXY_ADMIN_USER_ID}

    chat = [r for r in rows if r["api_key"] == KEY["prod-chat"].token]
    assert {r["metadata"]["user_api_key_alias"] for r in chat if r["startTime"].date() == D1} == {"chat-v1"}
    assert {r["metadata"]["user_api_key_alias"] for r in chat if r["startTime"].date() > D1} == {"prod-chat"}
    assert {r["metadata"]["user_api_key_team_alias"] for r in chat} == {"Chat Platform"}
    assert all(r["startTime"].date() == D1 for r in rows if r["api_key"] == KEY["old-exporter"].token)

    assert {r["custom_llm_provider"] for r in rows} >= {"openai", "azure", "anthropic", "bedrock"}
    assert {r["model_group"] for r in rows} >= {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-0"}
    assert {r["cache_hit"] for r in rows} == {"True", "False", "None"}
    usage = [r["metadata"]["additional_usage_values"] for r in rows]
    assert any(u.get("cache_read_input_tokens") for u in usage)
    assert any(u.get("cache_creation_input_tokens") for u in usage)
    tags = [t for r in rows for t in r["request_tags"]]
    assert any(t.startswith("User-Agent: ") for t in tags)
    assert "env:prod" in tags and any(t.startswith("feature:") for t in tags)
    assert {r["status"] for r in rows} == {"success", "failure"}


def test_spend_is_exact_decimal_and_cost_breakdown_adds_up():
    rows = small()
    assert all(isinstance(r["spend"], Decimal) for r in rows)
    assert all(r["spend"].as_tuple().exponent >= -10 for r in rows)  # at most 10 decimals
    assert any(len(r["spend"].as_tuple().digits) >= 6 for r in rows)
    breakdowns = [(r["spend"], r["metadata"]["cost_breakdown"]) for r in rows if "cost_breakdown" in r["metadata"]]
    assert len(breakdowns) > len(rows) / 3
    for spend, parts in breakdowns:
        parts_sum = sum(
            parts[k]
            for k in (
                "input_cost",
                "output_cost",
                "cache_read_cost",
                "cache_creation_cost",
                "reasoning_cost",
                "tool_usage_cost",
            )
        )
        assert parts_sum == parts["total_cost"] == spend


def test_truth_is_exact_and_keeps_health_checks_apart():
    rows, truth = small(), small().truth
    real = [r for r in rows if r["api_key"] not in (HEALTH_CHECK_KEY, HEALTH_CHECK_KEY_HASH)]
    assert truth.total() == sum((r["spend"] for r in real), Decimal(0))
    assert sum(truth.by_day().values()) == truth.total()
    assert sum(truth.by_day_model().values()) == truth.total()
    assert sum(truth.by_day_key().values()) == truth.total()
    assert (D1, MASTER_KEY_LITERAL) in truth.by_day_key() and (D1, "") in truth.by_day_key()
    assert not any(k in (HEALTH_CHECK_KEY, HEALTH_CHECK_KEY_HASH) for _, k in truth.by_day_key())
    assert sum(truth.requests_by_day().values()) == len(real)
    assert len(truth.health_check_rows) == len(rows) - len(real) > 0
    assert truth.total(include_health_checks=True) == truth.total() + truth.health_check_total()
    renamed = truth.by_day_key(master_key_as=hash_key(MASTER))
    assert (D1, hash_key(MASTER)) in renamed and (D1, MASTER_KEY_LITERAL) not in renamed


def test_generator_and_server_handle_50k_rows_quickly():
    started = time.perf_counter()
    rows = generate_dataset(5, days=5, requests=50_000)
    generated = time.perf_counter() - started
    assert len(rows) == 50_000 and generated < 6
    started = time.perf_counter()
    with FakeLiteLLM(rows) as fake, http(fake) as client:
        page = v2(client, "2025-06-03", "2025-06-03 06:00:00", page_size=1000).json()
        daily = client.get(
            "/user/daily/activity", params={"start_date": "2025-06-03", "end_date": "2025-06-03", "page_size": 1000}
        ).json()
    assert len(page["data"]) == 1000 and daily["metadata"]["total_api_requests"] > 0
    assert time.perf_counter() - started < 4


# ---------------------------------------------------------------------------------------------------- auth


def test_missing_and_malformed_keys_are_the_captured_401_bodies():
    with serve("1.100.5") as fake, http(fake, key=None) as client:
        missing = client.get("/spend/logs/v2")
        malformed = client.get("/spend/logs/v2", headers={"Authorization": MASTER})
    assert missing.status_code == 401
    assert missing.text == (
        '{"error":{"message":"Authentication Error, No api key passed in.","type":"auth_error",'
        '"param":"None","code":"401"}}'
    )
    assert malformed.status_code == 401
    assert malformed.text == (
        '{"error":{"message":"Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.",'
        '"type":"auth_error","param":"None","code":"401"}}'
    )


def test_unknown_key_is_401_auth_error_or_token_not_found_in_db(new: FakeLiteLLM):
    with http(new, key="sk-nope") as client:
        first, second = client.get("/key/list"), client.get("/key/list")
    for response in (first, second):
        assert response.status_code == 401
        assert response.json()["error"]["message"].startswith("Authentication Error, Invalid proxy server token passed")
    assert first.json()["error"]["type"] == "auth_error"
    assert second.json()["error"]["type"] == "token_not_found_in_db"
    assert second.json()["error"]["param"] == "key"


def test_x_litellm_api_key_takes_precedence(new: FakeLiteLLM):
    with http(new, key=None) as client:
        assert (
            client.get(
                "/key/list", headers={"x-litellm-api-key": MASTER, "Authorization": "Bearer sk-wrong"}
            ).status_code
            == 200
        )
        assert client.get("/key/list", headers={"x-litellm-api-key": f"Bearer {MASTER}"}).status_code == 200
        assert (
            client.get(
                "/key/list", headers={"x-litellm-api-key": "sk-wrong", "Authorization": f"Bearer {MASTER}"}
            ).status_code
            == 401
        )


def test_no_database_behaviours():
    with serve("1.100.5", db=False) as fake, http(fake) as client:
        assert client.get("/health/readiness").json() == {"status": "healthy", "db": "Not connected"}
        no_prisma = v2(client, "2025-06-01", "2025-06-02")
        assert no_prisma.status_code == 401  # a 401 that is not a credential problem
        assert no_prisma.json() == {
            "error": {
                "message": "Prisma Client is not initialized",
                "type": "internal_error",
                "param": "None",
                "code": "401",
            }
        }
        no_db = {"error": {"message": "No connected db.", "type": "no_db_connection", "param": None, "code": "400"}}
        for path in ("/spend/logs", "/user/daily/activity", "/team/list", "/key/list"):
            response = client.get(path, params={"start_date": "2025-06-01", "end_date": "2025-06-01"})
            assert (response.status_code, response.json()) == (400, no_db), path
        wrong = client.get("/key/list", headers={"Authorization": "Bearer sk-wrong"})
        assert (wrong.status_code, wrong.json()) == (400, no_db)
        assert client.get("/model/info").status_code == 200  # config models need no DB


# ---------------------------------------------------------------------------------------------------- roles


def test_internal_user_is_narrowed_silently_to_its_own_user(new: FakeLiteLLM):
    with http(new) as admin, http(new, key=INTERNAL) as internal:
        everyone = v2(admin, "2025-06-01", "2025-06-01 06:00:00", page_size=1000).json()
        mine = v2(internal, "2025-06-01", "2025-06-01 06:00:00", page_size=1000).json()
        assert mine["total"] < everyone["total"] and mine["total"] > 0
        assert {row["user"] for row in mine["data"]} == {"user-alice"}
        other = v2(internal, "2025-06-01", "2025-06-02", user_id="user-bob")
        assert other.status_code == 403 and other.json()["error"]["type"] == "auth_error"
        assert v2(internal, "2025-06-01", "2025-06-02", team_id=TEAMS[1].team_id).status_code == 403
        own_team = v2(internal, "2025-06-01", "2025-06-02", team_id=TEAMS[0].team_id)  # alice is its admin
        assert own_team.status_code == 200 and own_team.json()["total"] > 0

        legacy = internal.get(
            "/spend/logs",
            params={"start_date": "2025-06-01", "end_date": "2025-06-02", "summarize": "false", "user_id": "user-bob"},
        ).json()
        assert {row["user"] for row in legacy} == {"user-alice"}  # user_id overwritten, no error

        daily = internal.get(
            "/user/daily/activity", params={"start_date": "2025-06-01", "end_date": "2025-06-01", "page_size": 1000}
        ).json()
        assert set(daily["results"][0]["breakdown"]["entities"]) == {"user-alice"}

        for path in ("/team/list", "/v2/team/list"):
            refused = internal.get(path)
            assert refused.status_code == 401
            assert refused.json()["detail"]["error"].startswith("Only admin users can query all teams/other teams.")
        own = internal.get("/team/list", params={"user_id": "user-alice"}).json()
        assert [t["team_alias"] for t in own] == ["Search & Discovery"]

        customer = internal.get(
            "/customer/daily/activity", params={"start_date": "2025-06-01", "end_date": "2025-06-01"}
        )
        assert customer.status_code == 401
        assert customer.json() == {"detail": {"error": "Admin-only endpoint. Your user role=internal_user"}}


def test_admin_viewer_sees_everything(new: FakeLiteLLM):
    with http(new, key=VIEWER) as viewer, http(new) as admin:
        params = {"start_date": "2025-06-01", "end_date": "2025-06-01", "page_size": 1}
        assert viewer.get("/customer/daily/activity", params=params).status_code == 200
        assert len(viewer.get("/team/list").json()) == len(TEAMS)
        assert (
            v2(viewer, "2025-06-01", "2025-06-02").json()["total"]
            == v2(admin, "2025-06-01", "2025-06-02").json()["total"]
        )


# ---------------------------------------------------------------------------------------------------- health


@pytest.mark.parametrize(("version", "detailed"), [(OLD, True), ("1.83.14", True), (MID, False), (NEW, False)])
def test_readiness_per_version(version: str, detailed: bool):
    with serve(version) as fake, http(fake, key=None) as client:
        assert client.get("/health/liveliness").json() == "I'm alive!"
        ready = client.get("/health/readiness").json()
        details = client.get("/health/readiness/details")
        if detailed:
            assert ready["litellm_version"] == version and ready["db"] == "connected"
            assert details.status_code == 404
        else:
            assert ready == {"status": "healthy", "db": "connected"}
            assert details.status_code == 401
            authed = client.get("/health/readiness/details", headers={"Authorization": f"Bearer {MASTER}"})
            assert authed.json()["litellm_version"] == version


# ---------------------------------------------------------------------------------------------------- /spend/logs/v2


def test_v2_is_absent_before_1_80_8():
    with serve(OLD) as fake, http(fake) as client:
        response = v2(client, "2025-06-01", "2025-06-02")
        assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
        assert client.get("/spend/logs", params={"start_date": "2025-06-01", "end_date": "2025-06-02"}).is_success


def test_v2_requires_dates_in_its_two_spellings(c: httpx.Client):
    missing = c.get("/spend/logs/v2", params={"start_date": "2025-06-01"})
    assert missing.status_code == 400
    assert missing.json() == {
        "error": {
            "message": "Start date and end date are required",
            "type": "bad_request",
            "param": None,
            "code": "400",
        }
    }
    iso = v2(c, "2025-06-01T00:00:00Z", "2025-06-02")
    assert iso.status_code == 400
    assert iso.json()["error"] == {
        "message": "Invalid date format: 2025-06-01T00:00:00Z. Expected: 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'",
        "type": "internal_server_error",
        "param": None,
        "code": "400",
    }
    assert v2(c, "2025-06-01 00:00:00", "2025-06-01 23:59:59").status_code == 200


def test_v2_bounds_are_inclusive_and_a_date_only_end_is_midnight(c: httpx.Client):
    same_day = v2(c, "2025-06-02", "2025-06-02", page_size=1000).json()
    assert same_day["total"] == 3  # only the rows exactly at 2025-06-02 00:00:00.000
    assert {row["startTime"] for row in same_day["data"]} == {"2025-06-02T00:00:00+00:00"}

    whole = v2(c, "2025-06-02", "2025-06-03 00:00:00", page_size=1000).json()
    expected = rows_between(utc(D2), utc(D3))
    assert whole["total"] == len(expected) == 803  # the next day's midnight rows are included
    assert {row["request_id"] for row in whole["data"]} == {r["request_id"] for r in expected}

    seconds = v2(c, "2025-06-02", "2025-06-02 23:59:59", page_size=1000).json()
    assert seconds["total"] == len(rows_between(utc(D2), utc(D2, 23, 59, 59)))  # misses the last second's ms
    assert seconds["total"] < 800


def test_v2_page_size_limits_per_version():
    with serve(MID) as fake, http(fake) as client:
        too_big = v2(client, "2025-06-01", "2025-06-02", page_size=101)
        assert too_big.status_code == 422
        assert too_big.json() == {
            "detail": [
                {
                    "type": "less_than_equal",
                    "loc": ["query", "page_size"],
                    "msg": "Input should be less than or equal to 100",
                    "input": "101",
                    "ctx": {"le": 100},
                }
            ]
        }
        assert v2(client, "2025-06-01", "2025-06-02", page_size=100).status_code == 200
    with serve(NEW) as fake, http(fake) as client:
        assert v2(client, "2025-06-01", "2025-06-02", page_size=1000).status_code == 200
        detail = v2(client, "2025-06-01", "2025-06-02", page_size=1001, page=0).json()["detail"]
        assert [(d["type"], d["loc"][1], d.get("ctx")) for d in detail] == [
            ("greater_than_equal", "page", {"ge": 1}),
            ("less_than_equal", "page_size", {"le": 1000}),
        ]
        assert v2(client, "2025-06-01", "2025-06-02", page="x").json()["detail"][0]["type"] == "int_parsing"


def test_naive_multi_page_read_of_a_tied_window_loses_and_repeats_rows(c: httpx.Client):
    expected = {r["request_id"] for r in rows_between(utc(D2), utc(D3))}
    seen: list[str] = []
    page = 1
    while True:
        body = v2(c, "2025-06-02", "2025-06-03 00:00:00", page=page, page_size=50).json()
        seen += [row["request_id"] for row in body["data"]]
        if len(body["data"]) < 50:
            break
        page += 1
    assert body["total"] == len(seen) == len(expected) == 803
    assert len(set(seen)) < len(expected)  # duplicates ...
    assert expected - set(seen)  # ... and rows never returned, which deduplication cannot bring back
    assert set(seen) <= expected


def test_a_single_page_read_of_the_same_window_is_complete(c: httpx.Client):
    expected = {r["request_id"] for r in rows_between(utc(D2), utc(D3))}
    for _ in range(3):
        body = v2(c, "2025-06-02", "2025-06-03 00:00:00", page_size=1000).json()
        assert [row["request_id"] for row in body["data"]] != []
        assert {row["request_id"] for row in body["data"]} == expected and len(body["data"]) == 803


def test_tied_rows_change_order_between_requests_but_the_sort_holds(c: httpx.Client):
    first = v2(c, "2025-06-02 12:00:00", "2025-06-02 12:00:01", page_size=1000, sort_order="asc").json()["data"]
    second = v2(c, "2025-06-02 12:00:00", "2025-06-02 12:00:01", page_size=1000, sort_order="asc").json()["data"]
    assert [r["request_id"] for r in first] != [r["request_id"] for r in second]
    assert {r["request_id"] for r in first} == {r["request_id"] for r in second}
    times = [r["startTime"] for r in first]
    assert times == sorted(times)
    desc = [r["startTime"] for r in v2(c, "2025-06-02", "2025-06-03", page_size=1000).json()["data"]]
    assert desc == sorted(desc, reverse=True)  # default: startTime desc


def test_a_window_without_ties_pages_correctly(c: httpx.Client):
    for hour in range(1, 22):
        lo, hi = utc(D3, hour), utc(D3, hour + 2)
        rows = rows_between(lo, hi)
        if len(rows) >= 40 and len({r["startTime"] for r in rows}) == len(rows):
            break
    else:  # pragma: no cover - the seeded dataset has such a window
        pytest.fail("no tie-free window")
    seen: list[str] = []
    for page in range(1, 100):
        data = v2(
            c, lo.strftime("%Y-%m-%d %H:%M:%S"), hi.strftime("%Y-%m-%d %H:%M:%S"), page=page, page_size=10
        ).json()["data"]
        seen += [row["request_id"] for row in data]
        if len(data) < 10:
            break
    assert sorted(seen) == sorted(r["request_id"] for r in rows)


def test_v2_total_is_capped_from_1_95_and_pages_past_the_end_still_return_rows():
    with serve(NEW, big()) as fake, http(fake) as client:
        body = v2(client, "2025-06-10", "2025-06-11 00:00:00", page=11, page_size=1000).json()
        assert (body["total"], body["total_pages"], body["total_is_capped"]) == (SPEND_LOGS_CAP, 10, True)
        assert len(body["data"]) == 50  # page 11 of "10"
        small_window = v2(client, "2025-06-10", "2025-06-10 01:00:00", page_size=1000).json()
        assert small_window["total_is_capped"] is False
    with serve(MID, big()) as fake, http(fake) as client:
        body = v2(client, "2025-06-10", "2025-06-11 00:00:00", page_size=100).json()
        assert (body["total"], body["total_pages"]) == (10_050, 101)
        assert "total_is_capped" not in body


def test_v2_excludes_health_checks_by_literal_and_by_hash(c: httpx.Client):
    everything = v2(c, "2025-06-01", "2025-06-02 00:00:00", page_size=1000).json()
    without = v2(c, "2025-06-01", "2025-06-02 00:00:00", page_size=1000, exclude_internal_health_checks="true").json()
    keys = {row["api_key"] for row in everything["data"]}
    assert {HEALTH_CHECK_KEY, HEALTH_CHECK_KEY_HASH} <= keys
    assert not {HEALTH_CHECK_KEY, HEALTH_CHECK_KEY_HASH} & {row["api_key"] for row in without["data"]}
    health = [r for r in rows_between(utc(D1), utc(D2)) if r["api_key"] in (HEALTH_CHECK_KEY, HEALTH_CHECK_KEY_HASH)]
    assert everything["total"] - without["total"] == len(health)


def test_v2_filters_and_their_versions(c: httpx.Client):
    token = KEY["batch-jobs"].token
    by_key = v2(c, "2025-06-01", "2025-06-04", page_size=1000, api_key=token).json()["data"]
    assert by_key and {row["api_key"] for row in by_key} == {token}
    assert v2(c, "2025-06-01", "2025-06-04", api_key="sk-batch-jobs-55e0a9d4").json()["total"] == 0  # not hashed
    group = v2(c, "2025-06-01", "2025-06-04", page_size=1000, model_group="claude-sonnet-4-0").json()["data"]
    assert group and {row["model_group"] for row in group} == {"claude-sonnet-4-0"}
    team = v2(c, "2025-06-01", "2025-06-04", page_size=1000, team_id=TEAMS[2].team_id).json()["data"]
    assert team and {row["team_id"] for row in team} == {TEAMS[2].team_id}
    with serve("1.80.10") as fake, http(fake) as client:  # no model_group filter yet: silently ignored
        everything = v2(client, "2025-06-01", "2025-06-02").json()["total"]
        assert v2(client, "2025-06-01", "2025-06-02", model_group="claude-sonnet-4-0").json()["total"] == everything


def test_v2_row_shapes_per_version():
    new_columns = {
        "request_id",
        "call_type",
        "api_key",
        "spend",
        "total_tokens",
        "prompt_tokens",
        "completion_tokens",
        "startTime",
        "endTime",
        "completionStartTime",
        "model",
        "model_id",
        "model_group",
        "custom_llm_provider",
        "api_base",
        "user",
        "metadata",
        "cache_hit",
        "cache_key",
        "request_tags",
        "team_id",
        "organization_id",
        "end_user",
        "requester_ip_address",
        "session_id",
        "status",
        "mcp_namespaced_tool_name",
        "agent_id",
        "litellm_call_id",
        "request_duration_ms",
    }
    with serve(NEW) as fake, http(fake) as client:
        row = v2(client, "2025-06-01", "2025-06-02").json()["data"][0]
        assert set(row) == new_columns  # no messages / response / proxy_server_request
        assert isinstance(row["metadata"], dict)
        assert isinstance(row["request_tags"], str) and isinstance(json.loads(row["request_tags"]), list)
        assert all(V2_TIME.fullmatch(row[k]) for k in ("startTime", "endTime", "completionStartTime"))
        assert isinstance(row["cache_hit"], str)
    with serve(MID) as fake, http(fake) as client:
        row = v2(client, "2025-06-01", "2025-06-02").json()["data"][0]
        assert set(row) == new_columns - {"litellm_call_id"}
        assert isinstance(row["metadata"], str) and json.loads(row["metadata"])["user_api_key"] == row["api_key"]
    with serve("1.80.10") as fake, http(fake) as client:
        body = v2(client, "2025-06-01", "2025-06-02").json()
        row = body["data"][0]
        assert {"messages", "response", "proxy_server_request"} <= set(row) and isinstance(row["metadata"], dict)
        assert V1_TIME.fullmatch(row["startTime"]) and "total_is_capped" not in body


def test_v2_spend_text_is_the_exact_decimal(c: httpx.Client):
    response = v2(c, "2025-06-01", "2025-06-01 03:00:00", page_size=1000)
    exact = {r["request_id"]: r["spend"] for r in small()}
    parsed = json.loads(response.text, parse_float=Decimal)
    assert parsed["data"] and all(row["spend"] == exact[row["request_id"]] for row in parsed["data"])
    priced = next(row for row in parsed["data"] if row["spend"] and row["spend"] < Decimal("0.001"))
    assert f'"spend":{format(exact[priced["request_id"]], "f")},' in response.text  # no exponent, no float noise
    assert f'"startTime":"{format_v2_datetime(utc(D1))}"' in response.text


def test_whole_second_timestamps_have_no_fraction(c: httpx.Client):
    rows = v2(c, "2025-06-01", "2025-06-01", page_size=10).json()["data"]
    assert {row["startTime"] for row in rows} == {"2025-06-01T00:00:00+00:00"}


def test_master_key_rows_are_the_hash_of_the_master_key_before_1_86():
    with serve("1.83.14") as fake, http(fake) as client:
        keys = {row["api_key"] for row in v2(client, "2025-06-01", "2025-06-02", page_size=100).json()["data"]}
        assert hash_key(MASTER) in keys and MASTER_KEY_LITERAL not in keys
        assert fake.master_key_api_key == hash_key(MASTER)
    with serve(NEW) as fake, http(fake) as client:
        keys = {row["api_key"] for row in v2(client, "2025-06-01", "2025-06-02", page_size=1000).json()["data"]}
        assert MASTER_KEY_LITERAL in keys


def test_v2_sort_by(c: httpx.Client):
    spends = [
        Decimal(str(r["spend"]))
        for r in v2(c, "2025-06-01", "2025-06-02", page_size=200, sort_by="spend").json()["data"]
    ]
    assert spends == sorted(spends, reverse=True) and spends[0] == max(
        r["spend"] for r in small() if r["startTime"] <= utc(D2)
    )
    assert v2(c, "2025-06-01", "2025-06-02", sort_by="cost").status_code == 400


# ---------------------------------------------------------------------------------------------------- /spend/logs


def test_legacy_date_format_errors_are_500(c: httpx.Client):
    with_time = c.get("/spend/logs", params={"start_date": "2025-06-01 00:00:00", "end_date": "2025-06-02"})
    assert with_time.status_code == 500
    assert with_time.json()["error"]["message"] == "/spend/logs Errorunconverted data remains:  00:00:00"
    assert with_time.json()["error"]["type"] == "internal_error"
    slashes = c.get("/spend/logs", params={"start_date": "2025/06/01", "end_date": "2025-06-02"})
    assert slashes.json()["error"]["message"] == (
        "/spend/logs Errortime data '2025/06/01' does not match format '%Y-%m-%d'"
    )


def test_legacy_raw_rows_end_exclusive_in_effect_newest_first(c: httpx.Client):
    rows = c.get(
        "/spend/logs", params={"start_date": "2025-06-01", "end_date": "2025-06-02", "summarize": "false"}
    ).json()
    expected = rows_between(utc(D1), utc(D2))
    assert len(rows) == len(expected) == 800 + 3
    assert sum(1 for row in rows if row["startTime"] == "2025-06-02T00:00:00Z") == 3  # the end day's midnight
    times = [row["startTime"] for row in rows]
    assert times == sorted(times, reverse=True) and all(V1_TIME.fullmatch(t) for t in times)
    assert isinstance(rows[0]["metadata"], dict) and isinstance(rows[0]["request_tags"], list)
    assert {"messages", "response", "proxy_server_request"} <= set(rows[0])


def test_legacy_summarize_pads_and_gives_the_end_day_its_midnight_rows(c: httpx.Client):
    summary = c.get("/spend/logs", params={"start_date": "2025-06-01", "end_date": "2025-06-03"}).json()
    assert [entry["startTime"] for entry in summary] == ["2025-06-01", "2025-06-02", "2025-06-03"]
    day1 = [r for r in small() if r["startTime"].date() == D1]
    assert summary[0]["spend"] == pytest.approx(float(sum(r["spend"] for r in day1)), abs=1e-9)
    assert summary[0][MASTER_KEY_LITERAL] > 0 and "" in summary[0] and HEALTH_CHECK_KEY in summary[0]
    assert set(summary[0]["users"]) >= {"user-alice", PROXY_ADMIN_USER_ID}
    midnight = [r for r in small() if r["startTime"] == utc(D3)]
    assert summary[2]["spend"] == pytest.approx(float(sum(r["spend"] for r in midnight)), abs=1e-12)

    padded = c.get("/spend/logs", params={"start_date": "2025-06-02", "end_date": "2025-06-05"}).json()
    assert [e["startTime"] for e in padded] == ["2025-06-02", "2025-06-03", "2025-06-04", "2025-06-05"]
    assert padded[-1] == {"startTime": "2025-06-05", "spend": 0, "users": {}, "models": {}}
    assert c.get("/spend/logs", params={"start_date": "2025-05-31", "end_date": "2025-05-31"}).json() == []


def test_legacy_cap_and_truncation_header_from_1_100():
    with serve(NEW, big_lean()) as fake, http(fake) as client:
        response = client.get(
            "/spend/logs", params={"start_date": "2025-06-10", "end_date": "2025-06-11", "summarize": "false"}
        )
        rows = response.json()
        assert len(rows) == SPEND_LOGS_CAP and response.headers["x-litellm-spend-logs-truncated"] == "true"
        newest = sorted(big(), key=lambda r: r["startTime"], reverse=True)[:SPEND_LOGS_CAP]
        assert rows[-1]["startTime"] == newest[-1]["startTime"].isoformat()[:-6] + "Z"
    with serve(MID, big_lean()) as fake, http(fake) as client:
        response = client.get(
            "/spend/logs", params={"start_date": "2025-06-10", "end_date": "2025-06-11", "summarize": "false"}
        )
        assert len(response.json()) == 10_050 and "x-litellm-spend-logs-truncated" not in response.headers


# ---------------------------------------------------------------------------------------------------- daily activity


def daily(client: httpx.Client, start: str, end: str, **params: Any) -> httpx.Response:
    return client.get("/user/daily/activity", params={"start_date": start, "end_date": end, **params})


def test_daily_requires_dates_and_validates_them_per_version(c: httpx.Client):
    missing = c.get("/user/daily/activity", params={"start_date": "2025-06-01"})
    assert missing.status_code == 400
    assert missing.json() == {"detail": {"error": "Please provide start_date and end_date"}}
    assert daily(c, "2025-6-1", "2025-06-02").status_code == 400
    assert daily(c, "2025-06-01", "2025-06-02", page_size=1001).status_code == 422
    with serve(MID) as fake, http(fake) as client:
        silent = daily(client, "2025-6-1", "2025-6-2")
        assert silent.status_code == 200 and silent.json()["results"] == []


def test_daily_pages_are_aggregated_on_their_own_in_floats(new: FakeLiteLLM, c: httpx.Client):
    day_rows = [r for r in new.daily_rows() if r.date == "2025-06-02"]
    assert len(day_rows) > 40
    pages, page = [], 1
    while True:
        body = daily(c, "2025-06-02", "2025-06-02", page=page, page_size=20).json()
        pages.append(body)
        if not body["metadata"]["has_more"]:
            break
        page += 1
    assert len(pages) == -(-len(day_rows) // 20) == pages[0]["metadata"]["total_pages"]
    assert all([r["date"] for r in p["results"]] == ["2025-06-02"] for p in pages)  # the day is on every page
    for p in pages:  # totals are per page
        assert p["metadata"]["total_spend"] == pytest.approx(sum(r["metrics"]["spend"] for r in p["results"]))
        assert isinstance(p["metadata"]["total_spend"], float)
    merged = sum(p["metadata"]["total_spend"] for p in pages)
    exact = small().truth.by_day(include_health_checks=True)[D2]  # daily tables include health checks
    assert merged != pytest.approx(float(pages[0]["metadata"]["total_spend"]))
    assert round(Decimal(repr(merged)), 8) == round(exact, 8)
    merged_keys: Counter[str] = Counter()
    for p in pages:
        for key, item in p["results"][0]["breakdown"]["api_keys"].items():
            merged_keys[key] += item["metrics"]["spend"]
    by_key = {k: v for (d, k), v in small().truth.by_day_key(include_health_checks=True).items() if d == D2}
    assert set(merged_keys) == {"unattributed" if k == "" else k for k in by_key}
    assert merged_keys["unattributed"] == pytest.approx(float(by_key[""]), abs=1e-9)
    requests = sum(p["metadata"]["total_api_requests"] for p in pages)
    assert requests == small().truth.requests_by_day(include_health_checks=True)[D2]


def test_daily_breakdown_shapes_and_key_metadata_per_version():
    chat, deleted = KEY["prod-chat"].token, KEY["old-exporter"].token
    with serve(NEW) as fake, http(fake) as client:
        result = daily(client, "2025-06-01", "2025-06-01", page_size=1000).json()["results"][0]
        assert set(result["metrics"]) >= {"ptu_hours", "total_response_time_ms", "timed_requests", "flat_cost"}
        breakdown = result["breakdown"]
        assert set(breakdown) == {
            "models",
            "model_groups",
            "mcp_servers",
            "providers",
            "endpoints",
            "api_keys",
            "entities",
            "guardrails",
        }
        assert breakdown["api_keys"][chat]["metadata"] == {
            "key_alias": "prod-chat",
            "team_id": TEAMS[1].team_id,
            "user_id": "user-bob",
            "user_email": "bob@example.com",
            "key_exists": True,
        }
        assert breakdown["api_keys"][deleted]["metadata"]["key_exists"] is False
        assert breakdown["api_keys"]["unattributed"]["metadata"]["key_alias"] == "Unattributed"
        assert chat in breakdown["models"]["gpt-4o"]["api_key_breakdown"]
        assert {"openai", "azure"} <= set(breakdown["providers"]) and "unknown-model" in breakdown["models"]
        assert breakdown["entities"]["user-bob"]["metadata"] == {
            "user_email": "bob@example.com",
            "user_alias": "Bob\nBuilder",
        }
    with serve("1.100.5") as fake, http(fake) as client:
        body = daily(client, "2025-06-01", "2025-06-01", page_size=1000).json()
        result = body["results"][0]
        assert not {"ptu_hours", "total_response_time_ms", "timed_requests"} & set(result["metrics"])
        assert not {"total_ptu_hours", "api_key_limit", "total_api_keys"} & set(body["metadata"])
        assert "guardrails" not in result["breakdown"]
        assert result["breakdown"]["api_keys"][chat]["metadata"] == {
            "key_alias": "prod-chat",
            "team_id": TEAMS[1].team_id,
        }
        assert "" in result["breakdown"]["api_keys"] and "unknown-model" not in result["breakdown"]["models"]
    with serve(MID) as fake, http(fake) as client:
        metrics = daily(client, "2025-06-01", "2025-06-01", page_size=1000).json()["results"][0]["metrics"]
        assert set(metrics) == {
            "spend",
            "prompt_tokens",
            "completion_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
            "total_tokens",
            "successful_requests",
            "failed_requests",
            "api_requests",
        }
    with serve(OLD) as fake, http(fake) as client:
        keys = daily(client, "2025-06-01", "2025-06-01", page_size=1000).json()["results"][0]["breakdown"]["api_keys"]
        assert keys[deleted]["metadata"] == {"key_alias": None, "team_id": None}  # no deleted-key recovery yet


def test_daily_order_is_stable_from_1_95_and_unstable_within_a_day_before():
    with serve(NEW) as fake, http(fake) as client:
        assert (
            daily(client, "2025-06-02", "2025-06-02", page_size=20).json()
            == daily(client, "2025-06-02", "2025-06-02", page_size=20).json()
        )
    with serve(MID) as fake, http(fake) as client:
        first = daily(client, "2025-06-02", "2025-06-02", page_size=20).json()
        second = daily(client, "2025-06-02", "2025-06-02", page_size=20).json()
        assert first["metadata"]["total_spend"] != second["metadata"]["total_spend"]


def test_daily_timezone_over_counts_on_1_83_to_1_86_and_is_ignored_later():
    with serve(MID) as fake, http(fake) as client:
        east = daily(client, "2025-06-02", "2025-06-02", page_size=1000, timezone=-120).json()["results"]
        west = daily(client, "2025-06-02", "2025-06-02", page_size=1000, timezone=420).json()["results"]
        assert [r["date"] for r in east] == ["2025-06-02", "2025-06-01"]
        assert [r["date"] for r in west] == ["2025-06-03", "2025-06-02"]
    with serve(NEW) as fake, http(fake) as client:
        ignored = daily(client, "2025-06-02", "2025-06-02", page_size=1000, timezone=-120).json()["results"]
        assert [r["date"] for r in ignored] == ["2025-06-02"]


def test_daily_activity_skew_makes_the_endpoints_disagree():
    with serve(NEW, daily_activity_skew=Decimal("0.05"), skew_day=D2) as fake, http(fake) as client:
        truth = small().truth.by_day(include_health_checks=True)
        for day in (D1, D2):
            total = daily(client, day.isoformat(), day.isoformat(), page_size=1000).json()["metadata"]["total_spend"]
            expected = truth[day] + (Decimal("0.05") if day == D2 else 0)
            assert total == pytest.approx(float(expected), abs=1e-9)


def test_daily_aggregated_and_filters(c: httpx.Client):
    aggregated = c.get(
        "/user/daily/activity/aggregated", params={"start_date": "2025-06-01", "end_date": "2025-06-03"}
    ).json()
    truth = small().truth
    assert aggregated["metadata"]["total_spend"] == pytest.approx(float(truth.total(include_health_checks=True)))
    assert [r["date"] for r in aggregated["results"]] == ["2025-06-03", "2025-06-02", "2025-06-01"]
    only = daily(c, "2025-06-01", "2025-06-03", page_size=1000, model="gpt-4o-mini").json()
    assert {m for r in only["results"] for m in r["breakdown"]["models"]} == {"gpt-4o-mini"}
    unattributed = daily(c, "2025-06-01", "2025-06-03", page_size=1000, api_key="unattributed").json()
    assert {k for r in unattributed["results"] for k in r["breakdown"]["api_keys"]} == {"unattributed"}


# ---------------------------------------------------------------------------------------------------- lookups


def test_team_lists(c: httpx.Client):
    bare = c.get("/team/list").json()
    assert isinstance(bare, list) and [t["team_alias"] for t in bare] == sorted(t.team_alias for t in TEAMS)
    keys = {k["token"]: k["key_alias"] for t in bare for k in t["keys"]}
    assert keys[KEY["prod-chat"].token] == "prod-chat" and KEY["old-exporter"].token not in keys
    first = c.get("/v2/team/list").json()
    assert (first["page"], first["page_size"], first["total"], first["total_pages"]) == (1, 10, 3, 1)
    assert "keys" not in first["teams"][0] and "members_count" in first["teams"][0]
    paged = [c.get("/v2/team/list", params={"page": p, "page_size": 1}).json() for p in (1, 2, 3)]
    assert [p["teams"][0]["team_id"] for p in paged] == [t["team_id"] for t in bare]
    assert paged[0]["total_pages"] == 3
    assert c.get("/v2/team/list", params={"page_size": 101}).status_code == 422


def test_model_info_and_key_list(c: httpx.Client):
    data = c.get("/model/info").json()["data"]
    assert len(data) == len(DEPLOYMENTS) + len(WILDCARD_DEPLOYMENTS)
    wildcards = [m for m in data if "*" in m["model_name"]]
    assert {m["model_name"] for m in wildcards} == {"vertex_ai/*", "hosted_vllm/*"}
    assert not any("input_cost_per_token" in m["model_info"] for m in wildcards)
    gpt = [m for m in data if m["model_name"] == "gpt-4o"]
    assert {(m["litellm_params"]["model"], m["litellm_params"]["custom_llm_provider"]) for m in gpt} == {
        ("openai/gpt-4o", "openai"),
        ("azure/gpt-4o-eastus", "azure"),
    }
    keys = c.get("/key/list", params={"size": 100, "return_full_object": "true"}).json()
    assert keys["total_count"] == len(KEYS) - 1 and keys["current_page"] == 1
    assert {k["key_alias"] for k in keys["keys"]} == {k.key_alias for k in KEYS if not k.deleted}
    hashes = c.get("/key/list", params={"size": 2, "page": 2}).json()
    assert hashes["total_pages"] == 3 and all(re.fullmatch(r"[0-9a-f]{64}", k) for k in hashes["keys"])
    assert c.get("/key/list", params={"size": 101}).status_code == 422
    deleted = c.get("/key/list", params={"status": "deleted"}).json()["keys"]
    assert deleted == [KEY["old-exporter"].token]
    info = c.get("/key/info", params={"key": KEY["staging"].token}).json()
    assert info["key"] == KEY["staging"].token and info["info"]["key_alias"] == "staging"
    assert "token" not in info["info"]
    assert c.get("/key/info", params={"key": "sk-staging-3b8a6c2f"}).json()["info"]["team_id"] == TEAMS[1].team_id
    missing = c.get("/key/info", params={"key": "0" * 64})
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"


# ---------------------------------------------------------------------------------------------------- envelopes


def test_the_three_error_envelopes(c: httpx.Client):
    proxy_exception = c.get("/spend/logs/v2").json()
    assert set(proxy_exception["error"]) == {"message", "type", "param", "code"}
    assert c.get("/nope").json() == {"detail": "Not Found"}  # detail: str
    assert isinstance(daily(c, "2025-06-01", "").json(), dict)
    assert c.get("/user/daily/activity").json() == {"detail": {"error": "Please provide start_date and end_date"}}
    validation = c.get("/key/list", params={"size": "many"}).json()["detail"]
    assert validation == [
        {
            "type": "int_parsing",
            "loc": ["query", "size"],
            "msg": "Input should be a valid integer, unable to parse string as an integer",
            "input": "many",
        }
    ]
    assert c.post("/spend/logs").status_code == 405


@pytest.mark.parametrize(("version", "param"), [("1.104.9", "None"), (NEW, None)])
def test_param_is_the_string_none_until_1_104(version: str, param: str | None):
    with serve(version) as fake, http(fake, key=None) as client:
        assert client.get("/key/list").json()["error"]["param"] == param


# ---------------------------------------------------------------------------------------------------- faults


def test_random_faults_are_seeded_and_only_on_data_endpoints():
    def statuses() -> list[tuple[int, str]]:
        with serve(NEW, fault_rate=0.3, seed=5) as fake, http(fake) as client:
            out = []
            for _ in range(40):
                assert client.get("/health/readiness").status_code == 200
                response = v2(client, "2025-06-01", "2025-06-01 00:10:00")
                out.append((response.status_code, response.headers.get("content-type", "")))
                if response.status_code == 429:
                    assert response.headers["retry-after"] == "0"
                    assert response.json()["error"]["code"] == "429"
            assert fake.count("/spend/logs/v2") == 40
            assert sum(1 for r in fake.requests if r.injected == "random") == sum(1 for s, _ in out if s != 200)
            return out

    first = statuses()
    assert first == statuses()
    codes = Counter(status for status, _ in first)
    assert set(codes) == {200, 429, 500, 503} and codes[200] > 20
    assert all(kind.startswith("text/html") for status, kind in first if status == 503)  # not JSON


def test_fail_next_is_one_shot_per_path(c: httpx.Client, new: FakeLiteLLM):
    new.fail_next("/spend/logs/v2", 502, times=2, body="Bad Gateway")
    assert c.get("/key/list").status_code == 200  # another path is untouched
    for _ in range(2):
        failed = v2(c, "2025-06-01", "2025-06-02")
        assert (failed.status_code, failed.text) == (502, "Bad Gateway")
    assert v2(c, "2025-06-01", "2025-06-02").status_code == 200
    new.fail_next("/user/daily", 429)
    limited = daily(c, "2025-06-01", "2025-06-01")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "0"
    assert new.count("/spend/logs/v2") == 3 and new.count("/spend/logs/v2", status=502) == 2


def test_garbled_bodies(c: httpx.Client, new: FakeLiteLLM):
    new.garble_next("/spend/logs/v2", "non_json")
    response = v2(c, "2025-06-01", "2025-06-02")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        response.json()
    new.truncate_next("/spend/logs/v2")
    with pytest.raises(json.JSONDecodeError):
        v2(c, "2025-06-01", "2025-06-02").json()
    new.unexpected_schema_next("/spend/logs/v2")
    odd = v2(c, "2025-06-01", "2025-06-02").json()
    assert "data" not in odd and "total" not in odd
    new.garble_next("/spend/logs/v2", "short_body")
    with pytest.raises(httpx.RemoteProtocolError):
        v2(c, "2025-06-01", "2025-06-02")
    assert v2(c, "2025-06-01", "2025-06-02").json()["total"] > 0  # back to normal
    assert [r.injected for r in new.requests if r.injected] == [
        "garble:non_json",
        "garble:truncated",
        "garble:schema",
        "garble:short_body",
    ]


def test_dropped_connections(new: FakeLiteLLM):
    new.drop_next("/spend/logs")
    new.drop_next("/spend/logs", reset=True)
    with http(new) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/spend/logs")
        with pytest.raises(httpx.TransportError):
            client.get("/spend/logs")
        assert client.get("/spend/logs", params={"start_date": "2025-06-01", "end_date": "2025-06-01"}).is_success
    dropped = [r for r in new.requests if r.dropped]
    assert len(dropped) == 2 and all(r.status is None for r in dropped)


def test_delay_next_trips_a_read_timeout(new: FakeLiteLLM):
    new.delay_next("/key/list", seconds=0.5)
    with http(new, timeout=0.1) as client, pytest.raises(httpx.ReadTimeout):
        client.get("/key/list")


def test_request_log_records_roles(new: FakeLiteLLM):
    with http(new, key=VIEWER) as viewer, http(new, key=INTERNAL) as internal:
        viewer.get("/key/list")
        internal.get("/key/list")
    assert [r.role for r in new.requests] == ["proxy_admin_viewer", "internal_user"]
    assert new.requests[0].params == {} and new.count("/key") == 2


def test_fixture_generator_stops_the_server():
    generator = fake_litellm_fixture(version=MID)
    fake = next(generator)
    assert fake.running and fake.flavor.v2_page_size_max == 100
    with pytest.raises(StopIteration):
        next(generator)
    assert not fake.running


def test_hash_key_is_sha256():
    assert hash_key("sk-1234") == hashlib.sha256(b"sk-1234").hexdigest()
    assert (datetime(2025, 6, 2, tzinfo=UTC) - timedelta(days=1)).date() == D1


def test_model_info_prices_are_the_ones_spend_was_computed_from():
    """The per-token floats of /model/info, read as the Decimal of their JSON text, are the deployment prices the
    generator multiplied: a priced row's spend is its tokens times them, exactly."""
    with serve(NEW) as fake, http(fake) as client:
        info = {m["model_info"]["id"]: m["model_info"] for m in client.get("/model/info").json()["data"]}
        raw = client.get("/model/info").content.decode()
    for dep in DEPLOYMENTS:
        prices = info[dep.model_id]
        assert Decimal(repr(prices["input_cost_per_token"])) == dep.input_cost
        assert Decimal(repr(prices["output_cost_per_token"])) == dep.output_cost
        read = prices["cache_read_input_token_cost"]
        assert (Decimal(repr(read)) if read is not None else Decimal(0)) == dep.cache_read_cost
    assert "2.5e-06" in raw  # JSON floats, as the real proxy serves them
    by_id = {d.model_id: d for d in DEPLOYMENTS}
    checked = 0
    for row in small():
        usage = row["metadata"]["additional_usage_values"] or {}
        if row["spend"] == 0 or row["model_id"] not in by_id:
            continue
        dep = by_id[row["model_id"]]
        cache_read, cache_write = usage.get("cache_read_input_tokens", 0), usage.get("cache_creation_input_tokens", 0)
        expected = (
            (row["prompt_tokens"] - cache_read - cache_write) * dep.input_cost
            + row["completion_tokens"] * dep.output_cost
            + cache_read * dep.cache_read_cost
            + cache_write * dep.cache_creation_cost
        )
        assert row["spend"] == expected
        checked += 1
    assert checked > 1000


def test_wildcard_traffic_is_opt_in_and_leaves_the_default_rows_alone():
    plain = generate_dataset(7, days=1, requests=500)
    again = generate_dataset(7, days=1, requests=500, wildcard_share=0.0)
    assert [r["request_id"] for r in plain] == [r["request_id"] for r in again]
    mixed = generate_dataset(7, days=1, requests=500, wildcard_share=0.3)
    models = {r["model"] for r in mixed}
    assert {"gemini-2.0-flash-001", "acme-llm-7b"} <= models
    vertex = [r for r in mixed if r["model"] == "gemini-2.0-flash-001"]
    assert {r["custom_llm_provider"] for r in vertex} == {"vertex_ai"}
    assert {r["model_group"] for r in vertex} == {"vertex_ai/gemini-2.0-flash-001"}
    assert {r["model_id"] for r in vertex} == {WILDCARD_DEPLOYMENTS[0].model_id}


def test_user_list_pages_and_is_admin_only(c: httpx.Client):
    first = c.get("/user/list").json()
    assert (first["page"], first["page_size"], first["total"]) == (1, 25, len(USERS))
    paged = [c.get("/user/list", params={"page": p, "page_size": 2, "sort_by": "user_id"}).json() for p in (1, 2, 3, 4)]
    ids = [u["user_id"] for page in paged for u in page["users"]]
    assert ids == sorted(u.user_id for u in USERS) and paged[0]["total_pages"] == 4
    aliases = {u["user_id"]: u["user_alias"] for u in first["users"]}
    assert aliases["user-bob"] == "Bob\nBuilder" and "," in aliases["user-alice"] and '"' in aliases["user-alice"]
    assert not aliases["user-carol"].isascii()
    assert c.get("/user/list", params={"page_size": 101}).status_code == 422
    assert c.get("/user/list", params={"sort_by": "password"}).status_code == 400
    info = c.get("/user/info", params={"user_id": "user-alice"}).json()
    assert info["user_info"]["user_email"] == "alice@example.com" and {k["key_alias"] for k in info["keys"]} == {
        "prod-search",
        "alice-laptop",
    }
    missing = c.get("/user/info", params={"user_id": "nobody"})
    assert missing.status_code == 404 and "not found" in missing.json()["error"]["message"]
    orgs = c.get("/organization/list").json()
    assert {o["organization_id"]: o["organization_alias"] for o in orgs} == {
        o.organization_id: o.organization_alias for o in ORGS
    }
    with serve(NEW) as fake, http(fake, key=INTERNAL) as internal:
        refused = internal.get("/user/list")
        assert refused.status_code == 403 and "Only proxy admins" in refused.json()["detail"]["error"]
        assert internal.get("/user/info", params={"user_id": "user-bob"}).status_code == 403
        assert internal.get("/organization/list").json() == []


def test_refuse_and_missing_paths():
    with serve(NEW, refuse_paths={"/user/list"}, missing_paths={"/organization/list"}) as fake, http(fake) as client:
        refused = client.get("/user/list")
        assert refused.status_code == 403 and refused.json()["error"]["type"] == "auth_error"
        assert client.get("/organization/list").json() == {"detail": "Not Found"}
        assert client.get("/key/list").status_code == 200


def test_a_client_that_hangs_up_during_an_answer_is_not_a_bug_of_the_fake(
    new: FakeLiteLLM, monkeypatch: pytest.MonkeyPatch
):
    """Writing an answer into a connection the client closed (a read timeout during a delayed answer) raises a
    broken pipe in the handler; that is the client's doing, and the fixture's teardown (no internal errors) must not
    fail on it. Provoked here without the race: the handler meets the broken pipe on every request."""

    def hung_up(handler: object) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(new, "_handle", hung_up)
    with http(new) as client, pytest.raises(httpx.RemoteProtocolError):
        client.get("/key/list")

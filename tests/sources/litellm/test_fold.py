"""Spend-log rows summed where they are read (fold.py): one record per key, the typed decoder's fallback, and the
rows that fail loudly on this path."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import pytest
from typer.testing import CliRunner

from llm_cost.aggregate import Granularity, Sums
from llm_cost.cli import app
from llm_cost.errors import SourceError
from llm_cost.records import TokenCounts, TokenType
from llm_cost.sources.litellm import fold as fold_module
from llm_cost.sources.litellm import wire as wire_module
from llm_cost.sources.litellm.client import LiteLLMClient
from llm_cost.sources.litellm.fold import SpendFold
from llm_cost.sources.litellm.spend_logs import spend_log_partitions, spend_log_records
from llm_cost.sources.litellm.stats import PullStats
from llm_cost.sources.litellm.wire import (
    PAGE_DECODER,
    TYPED_PAGE_DECODER,
    Breakdown,
    RowOptions,
    TypedRow,
    decode_typed,
    parse_spend_row,
)
from llm_cost.window import day_window
from tests.fakes.litellm import FakeLiteLLM, generate_dataset, spend_row

BASE = "http://proxy.test"
DAY = day_window(date(2025, 6, 1))
GRAINS = ["day", "hour", "request"]


def _page(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps({"data": rows, "total": len(rows)}).encode()


def _records(rows: list[dict[str, Any]], grain: Granularity = "day", stats: PullStats | None = None) -> list[Any]:
    """Every record the v2 partitions of DAY give for these rows (the fake answers every query with all of them)."""
    body = _page(rows)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    stats = stats if stats is not None else PullStats()
    with LiteLLMClient(base_url=BASE, api_key="sk-test", transport=transport) as client:
        parts = spend_log_partitions(client, DAY, stats, RowOptions(), version="1.109.1", grain=grain)
        return [record for part in parts for record in part()]


def _rows(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [spend_row(i, f"2025-06-01T12:00:0{i}.250+00:00", **extra) for i in range(count)]


def test_rows_that_share_every_raw_value_become_one_record() -> None:
    stats = PullStats()
    (record,) = _records(_rows(3), stats=stats)
    assert (record.requests, record.records, record.request_id) == (3, 3, None)
    assert record.period_start == datetime(2025, 6, 1, tzinfo=UTC)
    assert record.period_end == datetime(2025, 6, 2, tzinfo=UTC)
    assert record.cost == Decimal("0.002025")
    assert record.tokens == TokenCounts(input=3300, output=900, cache_read=300)
    assert record.cost_components == {
        TokenType.INPUT: Decimal("0.000495"),
        TokenType.CACHE_READ: Decimal("0.0000225"),
        TokenType.OUTPUT: Decimal("0.00054"),
    }
    assert (record.tags, record.key_alias, record.source) == ({"env": "prod"}, "prod-key", "litellm:/spend/logs/v2")
    assert (stats.requests, stats.health_checks) == (3, 0)


def test_a_row_without_a_breakdown_drops_the_components_of_its_key() -> None:
    rows = _rows(2)
    rows[1]["metadata"] = json.dumps({"user_api_key_alias": "prod-key", "user_api_key_team_alias": "Team A"})
    (record,) = _records(rows)
    assert record.requests == 2 and record.cost_components is None


def test_request_grain_keeps_one_record_per_request() -> None:
    records = _records(_rows(3), "request")
    assert [(r.request_id, r.requests, r.records) for r in records] == [(f"req-{i}", 1, 1) for i in range(3)]
    assert records[1].period_start == datetime(2025, 6, 1, 12, 0, 1, tzinfo=UTC)


def _typed(rows: list[dict[str, Any]]) -> list[TypedRow]:
    """Rows as the typed decoder gives them, each page decoded on its own (so no two share a string object)."""
    typed: list[TypedRow] = []
    for row in rows:
        (decoded,) = TYPED_PAGE_DECODER.decode(_page([row])).data
        decode_typed([decoded])
        typed.append(decoded)
    return typed


def test_keys_share_their_raw_values_across_rows() -> None:
    # Memory: a day's keys repeat a few models, keys and users; each decoded page brings new string objects.
    fold = SpendFold(RowOptions(), "day", DAY, PullStats())
    for row in _typed(_rows(3, user="user-1") + [spend_row(9, "2025-06-01T13:00:00+00:00", user="user-2")]):
        fold.add(row)
    first, second = fold._sums  # user-1's key, then user-2's
    assert first == second[:6] + ("user-1",) + second[7:]  # the bucket, then the raw values (the user is 6th)
    shared = [a is b for a, b in zip(first[1:], second[1:], strict=True) if a == b and a is not None]
    assert shared and all(shared)
    (record_1, record_2) = fold.records("litellm:/spend/logs/v2")
    assert (record_1.user_id, record_1.requests, record_2.user_id) == ("user-1", 3, "user-2")
    assert not fold._sums  # handed out and gone


@pytest.mark.parametrize("present", range(32))
def test_a_rows_breakdown_adds_as_the_tolerant_reading_of_it_would(present: int) -> None:
    # Every pattern of null fields: adding a typed row's breakdown in place equals adding the components that the
    # tolerant path (`parse_spend_row`) reads from the same JSON object.
    fields = ["input_cost", "output_cost", "reasoning_cost", "cache_read_cost", "cache_creation_cost"]
    values = {f: Decimal(f"0.00{i + 1}") for i, f in enumerate(fields) if present >> i & 1}
    in_place, expected = (
        Sums(Decimal(0), 0, 0, 0, 0, 0, 1, True, Decimal("0.5"), None, None, Decimal("0.25")) for _ in "ab"
    )
    fold_module._add_breakdown(in_place, Breakdown(**values))
    expected.add_components(wire_module._cost_components(values))
    assert in_place == expected
    assert in_place.broken_down is bool(values)
    fold_module._add_breakdown(in_place, None)
    assert in_place.components() is None


def test_the_request_tag_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fold_module, "TAGS_MEMO", 2)
    rows = [
        spend_row(i, "2025-06-01T12:00:00+00:00", request_tags=json.dumps([f"User-Agent: x/{i}", "env:prod"]))
        for i in range(5)
    ]
    fold = SpendFold(RowOptions(), "day", DAY, PullStats())
    for row in _typed(rows):
        fold.add(row)
        assert len(fold._tags) <= 2
    (record,) = fold.records("litellm:/spend/logs/v2")  # the User-Agent tags are dropped: one key
    assert (record.requests, record.tags) == (5, {"env": "prod"})


# ------------------------------------------------------------------------------------------------ fallback


def test_a_page_the_typed_decoder_refuses_gives_the_records_of_the_tolerant_decoder() -> None:
    rows = _rows(3)
    rows[1]["prompt_tokens"] = "1200"  # text where LiteLLM writes a number: the typed decoder refuses the page
    rows[2]["metadata"] = 7  # no metadata at all, for the tolerant decoder
    body = _page(rows)
    with pytest.raises(msgspec.ValidationError):
        TYPED_PAGE_DECODER.decode(body)
    tolerant = [parse_spend_row(row, RowOptions(), "litellm:/spend/logs/v2") for row in PAGE_DECODER.decode(body).data]
    assert _records(rows) == _records(rows, "request") == tolerant  # at any grain, a record per row of such a page
    assert [r.tokens.input for r in tolerant if r is not None] == [1100, 1100, 1200]


def test_string_metadata_is_decoded_once_with_its_row() -> None:
    rows = _rows(2)
    typed = TYPED_PAGE_DECODER.decode(_page(rows)).data
    assert isinstance(typed[0].metadata, str)  # 1.83-1.86 send it as text; decode_typed decodes it in place
    (record,) = _records(rows)
    assert record.key_alias == "prod-key" and record.tokens.cache_read == 200


# ------------------------------------------------------------------------------------------------ fail loudly


@pytest.mark.parametrize("grain", GRAINS)
@pytest.mark.parametrize(
    ("bad", "typed", "words"),
    [
        ({"request_id": None}, True, ("ValueError: no request_id", "request_id='None'")),
        ({"startTime": "yesterday at noon"}, True, ("malformed startTime", "request_id='req-1'")),
        ({"startTime": 1748779200}, True, ("malformed startTime",)),
        ({"spend": "n/a"}, False, ("InvalidOperation", "request_id='req-1'")),
        ({"spend": {"amount": 1}}, False, ("InvalidOperation",)),
        ({"spend": True}, False, ("InvalidOperation",)),
    ],
)
def test_a_bad_row_fails_loudly_on_either_decoder(
    bad: dict[str, Any], typed: bool, words: tuple[str, ...], grain: Granularity
) -> None:
    rows = _rows(3)
    rows[1].update(bad)
    if typed:  # the typed decoder takes the page: the row fails in the reader or the fold
        TYPED_PAGE_DECODER.decode(_page(rows))
    else:  # it refuses the page: the row fails in the tolerant parse
        with pytest.raises(msgspec.ValidationError):
            TYPED_PAGE_DECODER.decode(_page(rows))
    with pytest.raises(SourceError, match="unexpected spend-log row from LiteLLM") as info:
        _records(rows, grain)
    assert all(word in str(info.value) for word in words), str(info.value)


def test_the_fold_itself_refuses_a_row_without_request_id() -> None:
    fold = SpendFold(RowOptions(), "day", DAY, PullStats())
    with pytest.raises(SourceError, match=r"ValueError: no request_id\); request_id='None'"):
        fold.add(TypedRow(startTime="2025-06-01T12:00:00+00:00"))


def test_spend_log_records_counts_health_checks_and_master_key_requests_per_request() -> None:
    rows = [
        *_rows(2, api_key="litellm-internal-health-check"),
        *[{**r, "request_id": f"m-{i}"} for i, r in enumerate(_rows(3, api_key="litellm_proxy_master_key"))],
    ]
    stats = PullStats()
    body = _page(rows)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    with LiteLLMClient(base_url=BASE, api_key="sk-test", transport=transport) as client:
        (record,) = spend_log_records(client, DAY, stats, RowOptions(), version="1.109.1")
    assert (record.requests, record.key_alias, record.system_tags) == (3, "prod-key", {"x-master-key": "true"})
    assert (stats.requests, stats.health_checks, stats.master_key_requests) == (3, 2, 3)


# ------------------------------------------------------------------------------------------------ end to end


def test_dry_run_counts_every_request_as_a_record() -> None:
    dataset = generate_dataset(2, days=1, requests=1500, start_day=date(2025, 6, 1))
    with FakeLiteLLM(dataset, version="1.109.1") as fake:
        env = {"LITELLM_BASE_URL": fake.base_url, "LITELLM_API_KEY": "sk-master-1234"}
        args = ["dry-run", "--mode", "spend-logs", "--day", "2025-06-01", "--json"]
        result = CliRunner().invoke(app, args, env=env)
        requests = fake.truth.requests_by_day()[date(2025, 6, 1)]
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["records"] == requests

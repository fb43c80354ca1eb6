"""Spend-log wire parsing: rows and pages as decoded off the wire, and each row as a UsageRecord (pure units)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from llm_cost.errors import SourceError
from llm_cost.records import TokenType
from llm_cost.sources.litellm.wire import (
    HEALTH_CHECK_KEY,
    PAGE_DECODER,
    RowOptions,
    SpendRow,
    parse_spend_row,
    parse_tags,
    parse_time,
)
from tests.fakes.litellm import spend_row


def _wire(row: dict[str, Any] | int, *args: Any, **extra: Any) -> SpendRow:
    """A row as the reader hands it over: decoded from a JSON page, like on the wire."""
    row = spend_row(row, *args, **extra) if isinstance(row, int) else row
    return PAGE_DECODER.decode(json.dumps({"data": [row]})).data[0]


@pytest.mark.parametrize(
    "text",
    [
        "2025-06-01T00:01:29.928+00:00",
        "2025-06-01T00:01:29.928000Z",
        "2025-06-01 00:01:29.928",
        "2025-06-01T02:01:29.928+02:00",
    ],
)
def test_parse_time_spellings(text: str) -> None:
    assert parse_time(text) == datetime(2025, 6, 1, 0, 1, 29, 928000, tzinfo=UTC)


def test_row_with_string_metadata_and_tags() -> None:
    record = parse_spend_row(_wire(1, "2025-06-01T12:00:00.123+00:00"), RowOptions(), "test")
    assert record is not None
    assert record.cost == Decimal("0.000675") and record.request_id == "req-1"
    assert (record.tokens.input, record.tokens.cache_read, record.tokens.output) == (1100, 100, 300)
    assert record.key_alias == "prod-key" and record.team_alias == "Team A" and record.team_id == "team-a"
    assert record.tags == {"env": "prod"}  # User-Agent dropped, plain tags are not key:value
    assert record.cost_components == {
        TokenType.INPUT: Decimal("0.000165"),
        TokenType.CACHE_READ: Decimal("0.0000075"),
        TokenType.OUTPUT: Decimal("0.00018"),
    }
    assert record.period_start == datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
    assert record.period_end > record.period_start


def test_tag_keys_choose_the_splitting_keys() -> None:
    raw = ["env:prod", "feature:chat", "User-Agent: curl/8"]
    assert parse_tags(raw, frozenset({"feature"}), False) == {"feature": "chat"}
    assert parse_tags(raw, None, True) == {"env": "prod", "feature": "chat", "User-Agent": "curl/8"}
    assert parse_tags('["team:a"]', None, False) == {"team": "a"}


def test_health_checks_excluded_and_master_key_labelled() -> None:
    assert parse_spend_row(_wire(1, "2025-06-01T00:00:00+00:00", api_key=HEALTH_CHECK_KEY), RowOptions(), "t") is None
    kept = parse_spend_row(
        _wire(1, "2025-06-01T00:00:00+00:00", api_key=HEALTH_CHECK_KEY), RowOptions(include_health_checks=True), "t"
    )
    assert kept is not None
    master = parse_spend_row(
        _wire(2, "2025-06-01T00:00:00+00:00", api_key="litellm_proxy_master_key"), RowOptions(), "t"
    )
    assert master is not None and master.system_tags["x-master-key"] == "true"
    hashed = parse_spend_row(
        _wire(3, "2025-06-01T00:00:00+00:00", api_key="f" * 64), RowOptions(master_key_hash="f" * 64), "t"
    )
    assert hashed is not None and hashed.system_tags.get("x-master-key") == "true"


def test_unexpected_row_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="unexpected spend-log row"):
        parse_spend_row(_wire({"spend": 1}), RowOptions(), "t")


@pytest.mark.parametrize(
    ("metadata", "alias"),
    [
        ({"user_api_key_alias": "k"}, "k"),
        ('{"user_api_key_alias": "k"}', "k"),
        ("None", None),
        ("null", None),
        ("", None),
        ("{not json", None),
        (["a"], None),
        (7, None),
        (None, None),
    ],
)
def test_metadata_in_every_shape(metadata: Any, alias: str | None) -> None:
    record = parse_spend_row(_wire(spend_row(1, "2025-06-01T00:00:00+00:00", metadata=metadata)), RowOptions(), "t")
    assert record is not None and record.key_alias == alias
    assert record.cost == Decimal("0.000675")  # the row itself is unaffected


@pytest.mark.parametrize(
    ("spend", "cost"),
    [
        (0.000675, "0.000675"),
        ("0.5", "0.5"),
        (3, "3"),
        (None, "0"),
        (1e-7, "1E-7"),
        (Decimal("0.1000000000000000055511151231257827"), "0.1000000000000000055511151231257827"),
    ],
)
def test_spend_is_the_exact_decimal_of_its_text(spend: Any, cost: str) -> None:
    body = json.dumps({"data": [spend_row(1, "2025-06-01T00:00:00+00:00", spend="SPEND")]})
    text = str(spend) if isinstance(spend, Decimal) else json.dumps(spend)
    row = PAGE_DECODER.decode(body.replace('"SPEND"', text)).data[0]
    record = parse_spend_row(row, RowOptions(), "t")
    assert record is not None and record.cost == Decimal(cost)


@pytest.mark.parametrize("tags", [["env:prod", "User-Agent: x"], '["env:prod", "User-Agent: x"]', "not json", None, 5])
def test_request_tags_as_list_string_or_junk(tags: Any) -> None:
    record = parse_spend_row(_wire(spend_row(1, "2025-06-01T00:00:00+00:00", request_tags=tags)), RowOptions(), "t")
    assert record is not None
    assert record.tags == ({"env": "prod"} if isinstance(tags, list) or (isinstance(tags, str) and "[" in tags) else {})


def test_page_totals_of_odd_types_are_ignored() -> None:
    page = PAGE_DECODER.decode(json.dumps({"data": [], "total": True, "total_is_capped": "yes"}))
    assert page.counted() == (None, False)
    assert PAGE_DECODER.decode(json.dumps({"data": [], "total": 10000})).counted() == (10000, True)


@pytest.mark.parametrize(
    ("caller_metadata", "tags", "expected"),
    [
        ({"cost-center": "cc-42"}, [], "cc-42"),
        ({"cost-center": 4711}, [], "4711"),
        ({"cost-center": 12.5}, [], "12.5"),
        ({"cost-center": "cc-42"}, ["cost-center:cc-7"], "cc-7"),  # the request tag wins
        ({"cost-center": {"nested": "x"}}, [], None),  # not a tag value
        ({"cost-center": True}, [], None),
        ({"cost-center": "  "}, [], None),
        ({"other": "x"}, [], None),
        ("not a dict", [], None),
        (None, [], None),
    ],
)
def test_the_chargeback_tag_is_read_from_spend_logs_metadata_too(
    caller_metadata: Any, tags: list[str], expected: str | None
) -> None:
    metadata = {"user_api_key_alias": "k", "spend_logs_metadata": caller_metadata}
    row = _wire(spend_row(1, "2025-06-01T00:00:00+00:00", metadata=metadata, request_tags=tags))
    record = parse_spend_row(row, RowOptions(metadata_tag="cost-center"), "t")
    assert record is not None and record.tags.get("cost-center") == expected
    plain = parse_spend_row(row, RowOptions(), "t")  # without the chargeback choice, metadata makes no tags
    assert plain is not None and "other" not in plain.tags
    assert plain.tags.get("cost-center") == (expected if tags else None)

"""Spend-log rows summed where they are read (fold.py) make exactly the groups that per-request records make.

Rows of every shape the contract allows (litellm-api.md §1c, §7) go through the real reader, decoders and fold
(`spend_log_partitions`, pages from a mock transport); the reference is the tolerant decode of the same rows, one
`parse_spend_row` record per request. Both are aggregated: the groups must be equal in every dimension and metric,
the money to the digit, and so must the counts.
"""

from __future__ import annotations

import hashlib
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_cost.aggregate import Aggregator, Granularity
from llm_cost.records import Pricing, UnitPrices, UsageGroup, UsageRecord, exact_money
from llm_cost.sources.litellm.client import LiteLLMClient
from llm_cost.sources.litellm.spend_logs import spend_log_partitions
from llm_cost.sources.litellm.stats import PullStats
from llm_cost.sources.litellm.wire import (
    HEALTH_CHECK_KEY,
    MASTER_KEY_LITERAL,
    PAGE_DECODER,
    TYPED_PAGE_DECODER,
    RowOptions,
    decode_typed,
    parse_spend_row,
    parse_time,
)
from llm_cost.window import day_window

BASE = "http://proxy.test"
DAY = date(2025, 6, 1)
WINDOW = day_window(DAY)
MASTER_HASH = "f" * 64
ENCODER = msgspec.json.Encoder(decimal_format="number")  # Decimals as JSON numbers, digit for digit
TAG = "cost-center"


def _pricing(model_id: str | None, model: str, provider: str) -> Pricing | None:
    """The proxy's prices as a pure function of the deployment (equal arguments give equal prices)."""
    if model == "unknown-model":
        return None
    return Pricing(UnitPrices(input=Decimal(len(model_id or "")), output=Decimal(len(provider))), None, "litellm")


# ------------------------------------------------------------------------------------------------ row shapes

# Money as LiteLLM writes it (a float's digits, an int) or as text. Sums are exact, and so independent of their
# order, only within MONEY_DIGITS (200) digits: no float below 1e-15 (2e-188 + 10000 needs more). And not -0.0 nor
# exponents above 0, whose Decimal spelling (not value) `components.get(t, Decimal(0)) + amount` in the aggregator
# can change with the order of sums.
_FLOAT_MONEY = st.floats(min_value=-1, max_value=1e6).filter(lambda x: abs(x) >= 1e-15 or str(x) == "0.0")
MONEY = st.one_of(
    _FLOAT_MONEY.map(lambda x: Decimal(repr(x))), st.integers(-5, 10_000).map(Decimal), st.sampled_from([Decimal(0)])
)
MONEY_TEXT = MONEY.map(str)


def _odd(odd: bool, normal: st.SearchStrategy[Any], *junk: Any) -> st.SearchStrategy[Any]:
    """`normal`, and in an odd example also values of a type the typed decoder refuses."""
    return st.one_of(normal, st.sampled_from(junk)) if odd and junk else normal


def _texts(odd: bool, *values: str) -> st.SearchStrategy[Any]:
    return _odd(odd, st.sampled_from([*values, "", "None", None]), 7, True)


def _count(odd: bool) -> st.SearchStrategy[Any]:
    return _odd(odd, st.one_of(st.none(), st.integers(-10, 5000)), "12", Decimal("12.0"), True)


def _start(draw: st.DrawFn) -> str:
    """A startTime in any spelling the versions use, in a few hours of the day so that requests share them; a few
    fall just outside the day (the reader drops them)."""
    hour = draw(st.sampled_from([0, 1, 23]))
    moment = datetime(2025, 6, 1, hour, tzinfo=UTC) + timedelta(
        seconds=draw(st.integers(-1 if hour == 0 else 0, 3600 if hour == 23 else 3599)),
        milliseconds=draw(st.integers(0, 999)),
    )
    spelling = draw(st.sampled_from(["v2", "legacy", "naive"]))
    if spelling == "v2":
        return moment.isoformat(timespec="milliseconds")
    if spelling == "legacy":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


COST_FIELDS = ("input_cost", "output_cost", "reasoning_cost", "cache_read_cost", "cache_creation_cost", "total_cost")
IDENTITY = ("alias", "team_id", "team_alias", "user_id", "user_email", "org_id")
TAGS = ["env:prod", "env:dev", "feature:chat", "User-Agent: curl/8", "plain", f"{TAG}:cc-7", " spaced : v ", "env:"]
HEALTH_KEYS = [HEALTH_CHECK_KEY, hashlib.sha256(HEALTH_CHECK_KEY.encode()).hexdigest()]
API_KEYS = ["a" * 64, "b" * 64, "", None, MASTER_KEY_LITERAL, MASTER_HASH, *HEALTH_KEYS]


@st.composite
def profile(draw: st.DrawFn, odd: bool) -> dict[str, Any]:
    """The dimensions some requests share: their columns, request tags, metadata identity and caller metadata."""
    texts = {"alias": ("prod-key",), "team_id": ("team-a", "team-b"), "user_id": ("user-1",), "org_id": ("org-1",)}
    identity = st.fixed_dictionaries(
        {}, optional={f"user_api_key_{name}": _texts(odd, *texts.get(name, ("x",))) for name in IDENTITY}
    )
    callers = st.sampled_from(["cc-42", " cc-7 ", "  ", 4711, Decimal("12.5"), True, None, {"nested": 1}])
    return {
        "api_key": draw(_odd(odd, st.sampled_from(API_KEYS), 7)),
        "model": draw(_texts(odd, "gpt-4o", "claude")),
        "model_id": draw(_texts(odd, "dep-1", "dep-2")),
        "model_group": draw(_texts(odd, "gpt")),
        "custom_llm_provider": draw(_texts(odd, "openai", "azure")),
        "user": draw(_texts(odd, "user-1")),
        "team_id": draw(_texts(odd, "team-a")),
        "organization_id": draw(_texts(odd, "org-1")),
        "end_user": draw(_texts(odd, "customer-1")),
        "cache_hit": draw(_odd(odd, st.sampled_from(["True", "False", "None", True, False, None]), 1)),
        "tags": draw(st.lists(st.sampled_from(TAGS), max_size=3)),
        "identity": draw(identity),
        "spend_logs_metadata": draw(
            st.one_of(st.none(), st.just("not a dict"), st.fixed_dictionaries({}, optional={TAG: callers}))
        ),
    }


def _request_tags(draw: st.DrawFn, tags: list[str], odd: bool) -> Any:
    """`request_tags` as a list, as a JSON string of one (1.109 v2), null, text that is no JSON, or (odd) junk."""
    text = ENCODER.encode(tags).decode()
    shapes = [tags, tags, text, text, None, "not json", msgspec.UNSET]
    return draw(st.sampled_from([*shapes, 5, ["env:prod", 1], {"env": "prod"}] if odd else shapes))


def _metadata(draw: st.DrawFn, shared: dict[str, Any], odd: bool) -> Any:
    """`metadata` as an object, as that object's JSON string, null, missing, empty text or (odd) junk; with the
    request's own usage and cost breakdown."""
    count = _count(odd)
    usage = st.fixed_dictionaries(
        {},
        optional={
            "cache_read_input_tokens": count,
            "cache_creation_input_tokens": count,
            "prompt_tokens_details": _odd(
                odd, st.one_of(st.none(), st.fixed_dictionaries({}, optional={"cached_tokens": count})), "x"
            ),
            "completion_tokens_details": _odd(
                odd, st.one_of(st.none(), st.fixed_dictionaries({}, optional={"reasoning_tokens": count})), 3
            ),
            "audio_tokens": count,
        },
    )
    cost = _odd(odd, st.one_of(st.none(), MONEY, MONEY, MONEY_TEXT), "n/a", True)
    breakdown = st.one_of(  # mostly one with an input cost, as LiteLLM writes them, so keys keep their components
        *[st.fixed_dictionaries({"input_cost": MONEY}, optional=dict.fromkeys(COST_FIELDS[1:], cost))] * 3,
        st.fixed_dictionaries({}, optional=dict.fromkeys(COST_FIELDS, cost)),
        st.none(),
    )
    own = st.fixed_dictionaries(
        {"cost_breakdown": _odd(odd, breakdown, "breakdown")},
        optional={
            "additional_usage_values": _odd(odd, st.one_of(st.none(), usage), "usage", [1]),
            "status": st.just("success"),
        },
    )
    body = {**shared["identity"], "spend_logs_metadata": shared["spend_logs_metadata"], **draw(own)}
    shapes = [*["object", "string"] * 3, "null", "missing", "None", "empty"]
    shape = draw(st.sampled_from([*shapes, "bad json", "list", "number", "double"] if odd else shapes))
    return {
        "object": body,
        "string": ENCODER.encode(body).decode(),
        "null": None,
        "missing": msgspec.UNSET,
        "None": "None",
        "empty": "",
        "bad json": "{not json",
        "list": [1],
        "number": 7,
        "double": ENCODER.encode(ENCODER.encode(body).decode()).decode(),
    }[shape]


@st.composite
def spend_rows(draw: st.DrawFn, odd: bool) -> list[dict[str, Any]]:
    """Rows of a day, each with one of a few profiles; with `odd`, some values have types the typed decoder
    refuses."""
    profiles = draw(st.lists(profile(odd), min_size=1, max_size=3))
    rows = []
    for i in range(draw(st.integers(0, 40))):
        shared = draw(st.sampled_from(profiles))
        start = _start(draw)
        end = parse_time(start) + timedelta(seconds=draw(st.sampled_from([0, 0.25, 3.5])))
        row = {
            "request_id": f"req-{i}",
            "startTime": start,
            "endTime": draw(st.sampled_from([start, end.isoformat(), None, "soon", msgspec.UNSET])),
            "spend": draw(st.one_of(st.none(), MONEY, MONEY, MONEY_TEXT)),  # a spend that is no number fails loudly
            "prompt_tokens": draw(_count(odd)),
            "completion_tokens": draw(_count(odd)),
            **{k: v for k, v in shared.items() if k not in ("tags", "identity", "spend_logs_metadata")},
            "request_tags": _request_tags(draw, shared["tags"], odd),
            "metadata": _metadata(draw, shared, odd),
            "call_type": "acompletion",
        }
        rows.append({k: v for k, v in row.items() if v is not msgspec.UNSET})
    return rows


OPTIONS = st.builds(
    RowOptions,
    tag_keys=st.sampled_from([None, frozenset({"env"}), frozenset({"env", TAG})]),
    keep_user_agent=st.booleans(),
    metadata_tag=st.sampled_from([None, TAG]),
    include_health_checks=st.booleans(),
    master_key_hash=st.sampled_from([None, MASTER_HASH]),
    pricing=st.sampled_from([None, _pricing]),
)


# ------------------------------------------------------------------------------------------------ the property


def _exact(value: Any) -> Any:
    """A value compared digit for digit: Decimals by their text, dicts by their items."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return sorted((str(k), _exact(v)) for k, v in value.items())
    return value


def _groups(records: list[UsageRecord], grain: Granularity) -> tuple[list[dict[str, Any]], int, Decimal]:
    """The aggregated groups (every field but `records`, the number of records a group was summed from), and the
    aggregator's record count and total."""
    aggregator = Aggregator(grain).extend(records)
    groups = [
        {f.name: _exact(getattr(g, f.name)) for f in fields(UsageGroup) if f.name != "records"}
        for g in aggregator.drain()
    ]
    return groups, aggregator.records, aggregator.records_cost


def _reference(body: bytes, options: RowOptions, source: str) -> tuple[list[UsageRecord], PullStats]:
    """Per request: the tolerant decode, the reader's window, one `parse_spend_row` record each."""
    stats = PullStats()
    records = []
    for row in PAGE_DECODER.decode(body).data:
        if not WINDOW.start <= parse_time(row.startTime) < WINDOW.end:
            continue
        record = parse_spend_row(row, options, source)
        if record is None:
            stats.health_checks += 1
            continue
        records.append(record)
        stats.requests += 1
        stats.master_key_requests += bool(record.system_tags.get("x-master-key"))
    return records, stats


@pytest.mark.parametrize("odd", [False, True], ids=["typed", "odd"])
@pytest.mark.parametrize("version", ["1.109.1", "1.74.0"])
@pytest.mark.parametrize("grain", ["day", "hour", "request"])
@given(data=st.data(), options=OPTIONS)
def test_folded_rows_make_the_groups_of_per_request_records(
    data: st.DataObject, options: RowOptions, grain: Granularity, version: str, odd: bool
) -> None:
    """`odd` examples have values of types the typed decoder refuses, so their pages are read tolerantly."""
    rows = data.draw(spend_rows(odd))
    exact_money()
    body = ENCODER.encode({"data": rows, "total": len(rows)})
    if not odd:  # the typed path is what is under test: an ordinary page must not fall back
        decode_typed(TYPED_PAGE_DECODER.decode(body).data)
    legacy = version == "1.74.0"
    stats = PullStats()
    pages = {"/spend/logs/v2": body, "/spend/logs": ENCODER.encode(rows)}  # every query: the reader keeps its window
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=pages[request.url.path]))
    with LiteLLMClient(base_url=BASE, api_key="sk-test", transport=transport) as client:
        folded = [
            record
            for part in spend_log_partitions(client, WINDOW, stats, options, version=version, grain=grain)
            for record in part()
        ]
    reference, expected = _reference(body, options, "litellm:/spend/logs" if legacy else "litellm:/spend/logs/v2")

    assert _groups(folded, grain) == _groups(reference, grain)
    assert (stats.requests, stats.health_checks, stats.master_key_requests) == (
        expected.requests,
        expected.health_checks,
        expected.master_key_requests,
    )
    assert all(r.records == r.requests for r in folded)
    assert sum(r.records for r in folded) == len(reference)
    if grain == "request":
        assert len(folded) == len(reference)

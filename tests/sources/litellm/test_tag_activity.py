"""The chargeback-tag split of daily activity: the pure apportioning (properties), the tag parsing, and the reader's
paging protections against respx."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from llm_cost.errors import SourceError
from llm_cost.sources.litellm.client import LiteLLMClient
from llm_cost.sources.litellm.daily_activity import Cell
from llm_cost.sources.litellm.stats import PullStats
from llm_cost.sources.litellm.tag_activity import TAG_PATH, TagActivityReader, split_cells, tag_value

DAY = date(2025, 6, 1)
BASE = "http://proxy.test"


def _cell(spend: str, requests: int = 1, prompt: int = 10, completion: int = 5, cache: int = 0) -> Cell:
    return Cell(
        spend=Decimal(spend),
        prompt=prompt,
        completion=completion,
        cache_read=cache,
        requests=requests,
        metadata={"key_alias": "k"},
    )


def _sum(cells: list[Cell]) -> tuple[Decimal, int, int, int, int, int]:
    return (
        sum((c.spend for c in cells), Decimal(0)),
        sum(c.requests for c in cells),
        sum(c.prompt for c in cells),
        sum(c.completion for c in cells),
        sum(c.cache_read for c in cells),
        sum(c.cache_write for c in cells),
    )


@st.composite
def _split_case(draw: st.DrawFn) -> tuple[dict[tuple[str, str], Cell], dict[tuple[str, str], dict[str, Cell]]]:
    """Cells of a day and tagged parts that fit in them (each part a subset of the cell's requests)."""
    cells: dict[tuple[str, str], Cell] = {}
    parts: dict[tuple[str, str], dict[str, Cell]] = {}
    for model, key in draw(st.sets(st.tuples(st.sampled_from("abc"), st.sampled_from("xyz")), min_size=1)):
        requests = draw(st.lists(st.tuples(st.decimals(0, 5, places=9), st.integers(0, 900), st.integers(0, 90))))
        values = [draw(st.sampled_from([None, "eng", "ops", "sales"])) for _ in requests]
        cell = cells[(model, key)] = Cell(metadata={"team_id": f"t-{key}"}, providers={"openai"})
        for (spend, prompt, completion), value in zip(requests, values, strict=True):
            for target in [cell] + ([parts.setdefault((model, key), {}).setdefault(value, Cell())] if value else []):
                target.spend += spend
                target.prompt += prompt
                target.completion += completion
                target.requests += 1
    return cells, parts


@given(_split_case())
def test_the_pieces_of_every_cell_sum_to_it_exactly(case: tuple[dict, dict]) -> None:
    cells, parts = case
    pieces = split_cells(cells, parts, key="cost-center", day=DAY)
    for (model, key), cell in cells.items():
        mine = {value: piece for (m, k, value), piece in pieces.items() if (m, k) == (model, key)}
        assert _sum(list(mine.values())) == _sum([cell])
        assert set(mine) - {None} == set(parts.get((model, key), {}))
        assert all(p.spend >= 0 and p.requests >= 0 and p.metadata == cell.metadata for p in mine.values())
        for value, part in parts.get((model, key), {}).items():
            assert (mine[value].requests, mine[value].prompt, mine[value].spend) == (
                part.requests,
                part.prompt,
                part.spend,
            )


def test_float_rounding_between_the_tables_goes_to_the_largest_part() -> None:
    """The parts hold every request of the cell, but the proxy's two float sums differ in the 17th digit: no row of
    zero requests and 1e-17 USD, and the cell's total stays the user table's."""
    cells = {("m", "k"): _cell("0.30000000000000004", requests=3, prompt=30, completion=15)}
    parts = {("m", "k"): {"eng": _cell("0.2", 2, 20, 10), "ops": _cell("0.1", 1, 10, 5)}}
    pieces = split_cells(cells, parts, key="cc", day=DAY)
    assert set(pieces) == {("m", "k", "eng"), ("m", "k", "ops")}
    assert pieces[("m", "k", "eng")].spend == Decimal("0.20000000000000004")
    assert _sum(list(pieces.values()))[0] == Decimal("0.30000000000000004")


def test_free_untagged_requests_beside_a_rounded_over_part_keep_a_zero_rest() -> None:
    cells = {("m", "k"): _cell("0.1", requests=2, prompt=20, completion=10)}
    parts = {("m", "k"): {"eng": _cell("0.10000000000000001", 1, 10, 5)}}
    pieces = split_cells(cells, parts, key="cc", day=DAY)
    assert pieces[("m", "k", None)].spend == 0 and pieces[("m", "k", None)].requests == 1
    assert pieces[("m", "k", "eng")].spend == Decimal("0.1")


@pytest.mark.parametrize(
    ("part", "named"),
    [
        (_cell("0.1", requests=3), "requests"),
        (_cell("0.1", requests=1, prompt=11), "prompt tokens"),
        (_cell("0.2", requests=1), "spend"),
    ],
)
def test_a_part_larger_than_its_cell_fails_loudly(part: Cell, named: str) -> None:
    cells = {("m", "k"): _cell("0.15", requests=2, prompt=10, completion=10)}
    with pytest.raises(SourceError, match=f"more {named}.*two values of cc"):
        split_cells(cells, {("m", "k"): {"eng": part}}, key="cc", day=DAY)


def test_tagged_requests_the_user_table_lacks_fail_loudly() -> None:
    with pytest.raises(SourceError, match="lacks"):
        split_cells({("m", "k"): _cell("1")}, {("m", "other"): {"eng": _cell("0.5")}}, key="cc", day=DAY)


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        ("cost-center:eng", "eng"),
        (" cost-center : eng ", "eng"),
        ("cost-center:a:b", "a:b"),
        ("cost-center:", None),
        ("cost-centre:eng", None),
        ("cost-center", None),
        ("User-Agent: x", None),
    ],
)
def test_tag_values_parse_as_the_spend_logs_reader_parses_them(tag: str, value: str | None) -> None:
    assert tag_value(tag, "cost-center") == value


def _page(entities: dict[str, float], *, has_more: bool = False, total_pages: int = 1) -> dict:
    breakdown = {
        "models": {"gpt-4o": {"metrics": {}, "api_key_breakdown": {}}},
        "entities": {name: {"metrics": {"spend": spend}, "api_key_breakdown": {}} for name, spend in entities.items()},
    }
    return {
        "results": [{"date": DAY.isoformat(), "metrics": {}, "breakdown": breakdown}] if entities else [],
        "metadata": {"has_more": has_more, "total_pages": total_pages},
    }


@respx.mock
def test_an_unstable_multi_page_tag_listing_must_hold_every_row() -> None:
    """≤1.90 pages in an unstable order: the tags of several reads are united, and their row count must equal the
    day's; a tag whose rows never showed fails loudly."""

    def answer(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if params.get("page_size") == "1":  # the row counts: 3 rows in the day, 2 of them under the tags found
            total = 3 if "tags" not in params else 2
            return httpx.Response(200, json=_page({"x": 1.0}, total_pages=total))
        page = int(params["page"])
        return httpx.Response(200, json=_page({"cc:eng": 1.0} if page == 1 else {"cc:ops": 1.0}, has_more=page == 1))

    respx.get(f"{BASE}{TAG_PATH}").mock(side_effect=answer)
    with LiteLLMClient(base_url=BASE, api_key="sk-test") as client:
        reader = TagActivityReader(client, PullStats(), version="1.86.7", key="cc")
        with pytest.raises(SourceError, match="has 3 rows.*hold 2"):
            reader.tags(DAY)


@respx.mock
def test_a_stable_listing_reads_each_page_once() -> None:
    route = respx.get(f"{BASE}{TAG_PATH}").mock(
        side_effect=lambda request: httpx.Response(
            200,
            json=_page(
                {"cc:eng": 1.0} if request.url.params["page"] == "1" else {"cc:ops": 1.0, "User-Agent: x": 2.0},
                has_more=request.url.params["page"] == "1",
            ),
        )
    )
    with LiteLLMClient(base_url=BASE, api_key="sk-test") as client:
        tags = TagActivityReader(client, PullStats(), version="1.109.1", key="cc").tags(DAY)
    assert tags == {"cc:eng", "cc:ops", "User-Agent: x"} and route.call_count == 2

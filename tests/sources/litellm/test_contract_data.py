"""Contract-generated source data: every field shape litellm-api.md documents, on every version flavour of the fake,
through the real CLI, exact to the digit against the generator's truth.

The fake and the client share one reading of the contract, so the data is generated from the contract instead:
``generate_dataset(..., variety=True)`` reshapes rows into every documented shape (metadata, request_tags,
cost_breakdown, additional_usage_values, numbers, timestamps, ties at page boundaries; see ``_apply_variety`` in
tests/fakes/litellm.py), and each version flavour of the fake serialises them its own way. Spend-log exports must
match the exact Decimal truth per day, per day x model and per day x key; daily-activity exports must match the
float sums the fake's endpoint serves, exactly, after the pages are merged.
"""

from __future__ import annotations

import csv
import decimal
import io
import json
import zlib
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from llm_cost.cli import app
from llm_cost.focus.checks import RowChecker
from llm_cost.records import exact_money
from tests.fakes.litellm import (
    HEALTH_CHECK_KEY,
    HEALTH_CHECK_KEY_HASH,
    CsvSums,
    FakeLiteLLM,
    JsonNumber,
    SpendDataset,
    _Resp,
    csv_sums,
    generate_dataset,
    hash_key,
)

MASTER = "sk-master-1234"
START = date(2025, 6, 1)
# Every version flavour of the fake (Flavor's thresholds): legacy /spend/logs, v2 via find_many (page_size <= 100,
# no sort: the split reader), v2 raw SQL with metadata as a JSON string, v2 with page_size 1000, and the newest.
FLAVOURS = ("1.74.0", "1.80.10", "1.86.7", "1.95.1", "1.109.1")
HEALTH_KEYS = frozenset({HEALTH_CHECK_KEY, HEALTH_CHECK_KEY_HASH})

# Breakdown shapes (the `shape:bd-<name>` request tag) whose components over the used token types add up to the
# spend exactly, and those whose do not (or that have no usable components at all).
EXACT_BREAKDOWNS = frozenset(
    {"exact", "minimal", "strings", "reasoning", "output-zero", "input-free", "cached-prompt", "audio", "exponents"}
)
INEXACT_BREAKDOWNS = frozenset(
    {
        "partial",
        "less",
        "more",
        "larger",
        "additional",
        "unused-type",
        "tool-only",
        "free-zero",
        "free-paid",
        "absent",
        "null",
    }
)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("llm_cost.http.time.sleep", lambda seconds: None)


@pytest.fixture(scope="module")
def varied() -> SpendDataset:
    """Two days of every documented shape: 1,500 rows a day, so ties straddle positions 100, 200 and 1000."""
    exact_money()
    return generate_dataset(21, days=2, requests=3000, start_day=START, variety=True)


@pytest.fixture(scope="module")
def crowded() -> SpendDataset:
    """Two days of thousands of daily-activity DB rows each (1,100 pool keys x every model): several pages a day,
    and a model with more than a page of its own."""
    exact_money()
    return generate_dataset(31, days=2, requests=9000, start_day=START, variety=True, key_pool=1100)


def _run(fake: FakeLiteLLM, *args: str, key: str = MASTER) -> Result:
    env = {"LITELLM_BASE_URL": fake.base_url, "LITELLM_API_KEY": key}
    result = CliRunner().invoke(app, ["-v", "export", *args], env=env)
    assert key not in result.output and key not in (result.stderr or ""), "the API key leaked"
    return result


def _window(days: int) -> list[str]:
    return ["--start", START.isoformat(), "--end", (START + timedelta(days=days)).isoformat()]


def _csv(text: str) -> list[dict[str, Any]]:
    """The CSV rows, nulls (empty fields) as None, every row checked by the export's own FOCUS row checks."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = [{k: (v if v != "" else None) for k, v in row.items()} for row in reader]
    assert reader.fieldnames and rows
    checker = RowChecker(reader.fieldnames)
    for row in rows:
        checker.check(row)
    return rows


def _nonzero(mapping: dict[Any, Decimal]) -> dict[Any, Decimal]:
    return {k: v for k, v in mapping.items() if v}


def _spend_log_truth(fake: FakeLiteLLM) -> CsvSums:
    """The generator's exact truth for the rows as this flavour serves them (master-key rows under the hash of the
    master key before 1.86; a missing model under LiteLLM's placeholder; unattributed traffic has no key)."""
    truth = fake.truth
    by_model: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    with decimal.localcontext(prec=200):
        for (day, model), spend in truth.by_day_model().items():
            by_model[(day, model or "unknown-model")] += spend
    by_key = {k: v for k, v in truth.by_day_key(master_key_as=fake.master_key_api_key).items() if k[1]}
    return truth.total(), truth.by_day(), dict(by_model), by_key


def _assert_exact(rows: list[dict[str, Any]], want: CsvSums) -> None:
    total, by_day, by_model, by_key = csv_sums(rows)
    want_total, want_day, want_model, want_key = want
    assert total == want_total  # Decimal to the digit
    assert by_day == want_day
    assert _nonzero(by_model) == _nonzero(want_model)
    assert _nonzero(by_key) == _nonzero(want_key)


def _tags(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(row["Tags"]) if row["Tags"] else {}


def _assert_allocation_tags(rows: list[dict[str, Any]]) -> set[str]:
    """Rows of every odd breakdown carry x-cost-allocation: `cost-breakdown` where the components add up to the
    spend exactly over the used token types, something else where they do not. Returns the shapes seen."""
    seen = set()
    for row in rows:
        tags = _tags(row)
        assert "x-cost-allocation" in tags, row
        shape = str(tags.get("shape", ""))
        if not shape.startswith("bd-"):
            continue
        name = shape[3:]
        seen.add(name)
        allocation = tags["x-cost-allocation"]
        assert row["x_TokenType"] != "all", row  # priced rows with tokens: split by token type
        if name in EXACT_BREAKDOWNS:
            assert allocation == "cost-breakdown", (name, row)
        else:
            assert name in INEXACT_BREAKDOWNS, name
            assert allocation != "cost-breakdown", (name, row)
    return seen


# ------------------------------------------------------------------------------------------------ the generator


def test_the_generator_covers_every_documented_shape_and_its_truth_stays_exact(varied: SpendDataset) -> None:
    shapes = varied.shapes
    expected = {
        "metadata": {"object", "null", "empty", "sparse", "nulls", "odd-aliases", "extra-keys"},
        "tags": {
            "list",
            "null",
            "empty",
            "plain",
            "user-agent-only",
            "colon-values",
            "duplicate-keys",
            "odd-values",
            "reserved-keys",
            "empty-parts",
        },
        "breakdown": EXACT_BREAKDOWNS | INEXACT_BREAKDOWNS,
        "usage": {
            "both",
            "absent",
            "empty",
            "null",
            "cached-tokens-only",
            "cache-read-only",
            "creation",
            "reasoning",
            "nulls-inside",
        },
        "number": {"as-is", "float-repr", "tiny", "many-digits", "int-zero", "float-zero", "int-three", "huge-tokens"},
        "kind": {
            "failure-unknown-model",
            "cache-hit-null",
            "cache-hit-None",
            "status-null",
            "completion-start-null",
            "health-check",
        },
        "time": {
            "straddle-100",
            "straddle-200",
            "straddle-1000",
            "tie-group-100",
            "tie-group-200",
            "last-second-whole",
            "last-second-999",
        },
    }
    for field_name, names in expected.items():
        assert {k.split(":", 1)[1] for k in shapes if k.startswith(field_name + ":")} == names, field_name
    assert generate_dataset(21, days=2, requests=3000, start_day=START, variety=True).shapes == shapes  # seeded

    rows = list(varied)
    assert [r["startTime"] for r in rows] == sorted(r["startTime"] for r in rows)
    assert len({r["request_id"] for r in rows}) == len(rows)
    kinds = {r["api_key"] for r in rows}
    assert {"litellm_proxy_master_key", "", HEALTH_CHECK_KEY, HEALTH_CHECK_KEY_HASH} <= kinds
    assert {r["model"] for r in rows if r["status"] == "failure"} >= {"", "unknown-model"}
    assert any(r["cache_hit"] == "True" and "_cache_hit" in r["request_id"] and r["spend"] == 0 for r in rows)
    # The truth is the exact Decimal sum of the spends, whatever their spelling (health checks apart).
    with decimal.localcontext(prec=200):
        exact = sum((r["spend"] for r in rows if r["api_key"] not in HEALTH_KEYS), Decimal(0))
    assert varied.truth.total() == exact and exact.as_tuple().exponent <= -19  # 1e-10 next to 19 digits


def _samples(dataset: SpendDataset) -> dict[str, dict[str, Any]]:
    """One row of each shape whose spelling the flavours differ on (health checks apart)."""
    rows = [r for r in dataset if r["api_key"] not in HEALTH_KEYS]

    def first(name: str, test: Any) -> tuple[str, dict[str, Any]]:
        return name, next(r for r in rows if test(r))

    even = lambda r: zlib.crc32(r["request_id"].encode()) % 2 == 0  # noqa: E731 (the fake's "mixed" choice)
    return dict(
        [
            first("tiny", lambda r: isinstance(r["spend"], JsonNumber) and r["spend"].text == "1e-10"),
            first("three", lambda r: r["spend"] == 3 and not isinstance(r["spend"], JsonNumber)),
            first("float-zero", lambda r: isinstance(r["spend"], JsonNumber) and r["spend"].text == "0.0"),
            first(
                "float-repr",
                lambda r: isinstance(r["spend"], JsonNumber) and "e-" in r["spend"].text and r["spend"].text != "1e-10",
            ),
            first("metadata-null", lambda r: r["metadata"] is None),
            first("metadata-object", lambda r: isinstance(r["metadata"], dict) and r["metadata"].get("cost_breakdown")),
            first("tags-null", lambda r: r["request_tags"] is None),
            first("tags-even", lambda r: isinstance(r["request_tags"], list) and r["request_tags"] and even(r)),
            first("tags-odd", lambda r: isinstance(r["request_tags"], list) and r["request_tags"] and not even(r)),
            first("whole-second", lambda r: r["startTime"].microsecond == 0 and r["startTime"].second),
            first("fraction", lambda r: r["startTime"].microsecond),
        ]
    )


@pytest.mark.parametrize("version", FLAVOURS)
def test_the_fake_serialises_the_shapes_as_each_version_does(varied: SpendDataset, version: str) -> None:
    """What the doc says each version sends: v2 `metadata` as a JSON string on 1.83-1.86 (SQL NULL stays null),
    `request_tags` as a list or a JSON string in v2, lists in legacy rows; v2 raw-SQL datetimes `…928+00:00`
    without a fraction on a whole second, find_many and legacy ones `…928000Z` / `…:05Z`; numbers in their own
    spelling (`1e-10`, `3`, `0.0`, float reprs)."""
    served: dict[str, tuple[str, dict[str, Any]]] = {}
    with (
        FakeLiteLLM(varied, version=version, v2_request_tags_as_string="mixed") as fake,
        httpx.Client(base_url=fake.base_url, headers=fake.auth_headers(), timeout=30) as client,
    ):
        flavor = fake.flavor
        for name, row in _samples(varied).items():
            if flavor.has_v2:
                response = client.get(
                    "/spend/logs/v2",
                    params={"start_date": "2025-06-01", "end_date": "2025-06-03", "request_id": row["request_id"]},
                )
                data = response.json()["data"]
            else:
                response = client.get("/spend/logs", params={"request_id": row["request_id"]})
                data = response.json()
            assert response.status_code == 200 and len(data) == 1, name
            served[name] = (response.text, data[0])
    for name, text in (("tiny", "1e-10"), ("three", "3"), ("float-zero", "0.0")):
        assert f'"spend":{text},' in served[name][0], name
    repr_text = _samples(varied)["float-repr"]["spend"].text
    assert f'"spend":{repr_text},' in served["float-repr"][0]
    assert served["metadata-null"][1]["metadata"] is None and served["tags-null"][1]["request_tags"] is None
    metadata = served["metadata-object"][1]["metadata"]
    if flavor.has_v2 and flavor.v2_metadata_string:
        assert isinstance(metadata, str) and "cost_breakdown" in json.loads(metadata)
    else:
        assert isinstance(metadata, dict) and "cost_breakdown" in metadata
    tags = {name: served[name][1]["request_tags"] for name in ("tags-even", "tags-odd")}
    if flavor.has_v2:
        assert isinstance(tags["tags-even"], str) and isinstance(json.loads(tags["tags-even"]), list)
        assert isinstance(tags["tags-odd"], list)
    else:
        assert all(isinstance(t, list) for t in tags.values())
    whole, fraction = served["whole-second"][1]["startTime"], served["fraction"][1]["startTime"]
    if flavor.v2_raw_sql:
        assert whole[19:] == "+00:00" and fraction[19] == "." and fraction[23:] == "+00:00"
    else:
        assert whole[19:] == "Z" and fraction[19] == "." and fraction[23:] == "000Z"


# ------------------------------------------------------------------------------------------------ spend logs


@pytest.mark.parametrize("version", FLAVOURS)
def test_spend_logs_are_exact_on_every_flavour_for_every_shape(varied: SpendDataset, version: str) -> None:
    with FakeLiteLLM(varied, version=version, v2_request_tags_as_string="mixed") as fake:
        result = _run(fake, "--mode", "spend-logs", *_window(2))
        assert result.exit_code == 0, result.stderr
        assert not fake.internal_errors
        rows = _csv(result.stdout)
        _assert_exact(rows, _spend_log_truth(fake))
    assert _assert_allocation_tags(rows) == EXACT_BREAKDOWNS | INEXACT_BREAKDOWNS
    names = {r["BillingAccountName"] for r in rows}
    assert 'prod, "search" ✨\nkey; ü' in names and "master key" in names  # odd aliases survive the CSV
    tags = [_tags(r) for r in rows]
    assert not any(t.get("model") == "evil" or t.get("team_id") == "evil" for t in tags)  # reserved keys win
    assert any(t.get("url") == "https://api.example.com:8443/v1" for t in tags)  # colons in the value
    assert any(t.get("note") == 'a,b "quoted"\nnext line' for t in tags)
    assert not any(k.lower().startswith("user-agent") for t in tags for k in t)


@pytest.mark.parametrize(("version", "grain"), [("1.109.1", "hour"), ("1.80.10", "hour"), ("1.86.7", "request")])
def test_spend_logs_are_exact_at_hour_and_request_grain(varied: SpendDataset, version: str, grain: str) -> None:
    with FakeLiteLLM(varied, version=version, v2_request_tags_as_string="mixed") as fake:
        result = _run(fake, "--mode", "spend-logs", *_window(2), "--granularity", grain)
        assert result.exit_code == 0, result.stderr
        rows = _csv(result.stdout)
        _assert_exact(rows, _spend_log_truth(fake))
        periods = {(r["ChargePeriodStart"], r["ChargePeriodEnd"]) for r in rows}
        if grain == "hour":
            assert all(start[14:] == "00:00Z" and end[14:] == "00:00Z" for start, end in periods)
        else:
            assert len(rows) >= sum(fake.truth.requests_by_day().values())  # one group (or more rows) a request
    assert _assert_allocation_tags(rows) == EXACT_BREAKDOWNS | INEXACT_BREAKDOWNS


# ------------------------------------------------------------------------------------------------ daily activity


def _served_cells(fake: FakeLiteLLM, day: date, *, pages: bool) -> dict[tuple[str, str], Decimal]:
    """What /user/daily/activity serves for (model, key) on `day`, merged exactly: the fake's DB rows in its order
    (date DESC, id ASC), summed in floats per page of 1000 (`pages`) or over the whole day (/aggregated, or a day
    on one page), each float as the Decimal of its JSON text (its repr), the pages' values added exactly."""
    flavor = fake.flavor
    rows = [r for r in fake.daily_rows() if r.date == day.isoformat()]
    chunks = [rows[i : i + 1000] for i in range(0, len(rows), 1000)] if pages else [rows]
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for chunk in chunks:
        floats: dict[tuple[str, str], float] = {}
        for r in chunk:
            model = r.model or ("unknown-model" if flavor.unknown_model else None)
            if model is None:  # skipped from breakdown.models before 1.105
                continue
            key = "unattributed" if r.api_key == "" and flavor.unattributed_key else r.api_key
            floats[(model, key)] = floats.get((model, key), 0.0) + r.spend
        with decimal.localcontext(prec=200):
            for cell, value in floats.items():
                out[cell] += Decimal(repr(value))
    return dict(out)


def _daily_truth(fake: FakeLiteLLM, days: list[date], *, pages: bool) -> CsvSums:
    total = Decimal(0)
    by_day: dict[date, Decimal] = defaultdict(Decimal)
    by_model: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    by_key: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    with decimal.localcontext(prec=200):
        for day in days:
            for (model, key), spend in _served_cells(fake, day, pages=pages).items():
                if key in HEALTH_KEYS:
                    continue
                total += spend
                by_day[day] += spend
                by_model[(day, model)] += spend
                if key not in ("", "unattributed"):
                    by_key[(day, key)] += spend
    return total, dict(by_day), dict(by_model), dict(by_key)


def _cells_with_more_than_two_rows(fake: FakeLiteLLM) -> int:
    """Float sums of one or two numbers do not depend on their order; the unstable flavours need that."""
    count: dict[tuple[Any, ...], int] = defaultdict(int)
    for r in fake.daily_rows():
        count[(r.date, r.model or None, r.api_key)] += 1
    return sum(1 for n in count.values() if n > 2)


@pytest.mark.parametrize("version", ["1.109.1", "1.95.1", "1.86.7"])
def test_daily_activity_over_several_pages_matches_the_served_float_sums_exactly(
    crowded: SpendDataset, version: str
) -> None:
    """≥1.95 pages in a stable order (the pages are merged); ≤1.90 does not, so a day over one page is read from
    /aggregated. Either way the export holds exactly what the endpoint served, Decimal to the digit."""
    with FakeLiteLLM(crowded, version=version) as fake:
        days = crowded.day_list
        per_day = defaultdict(int)
        for r in fake.daily_rows():
            per_day[r.date] += 1
        assert all(per_day[d.isoformat()] > 3000 for d in days), per_day  # four pages or more each
        per_model: dict[tuple[str, str | None], int] = defaultdict(int)
        for r in fake.daily_rows():
            per_model[(r.date, r.model)] += 1
        assert max(per_model.values()) > 1000  # one model alone needs two pages
        stable = fake.flavor.daily_stable_order
        if not stable:
            assert _cells_with_more_than_two_rows(fake) == 0
        result = _run(fake, "--mode", "daily-activity", *_window(2))
        assert result.exit_code == 0, result.stderr
        rows = _csv(result.stdout)
        _assert_exact(rows, _daily_truth(fake, days, pages=stable))
        if stable:
            assert fake.count("/user/daily/activity/aggregated") == 0
            assert fake.count("/user/daily/activity") >= 6  # every page of both days
        else:
            assert fake.count("/user/daily/activity/aggregated") == 2  # one per day, after its first page
            assert "read from /user/daily/activity/aggregated" in result.stderr
        # Within a cent of the exact spend-log truth too (the server's float sums are not exact).
        assert abs(csv_sums(rows)[0] - fake.truth.total()) < Decimal("0.01")


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 100 instead of 1000: the same paths with a tenth of the rows (the shape, not the volume)."""
    monkeypatch.setattr("llm_cost.sources.litellm.daily_activity.PAGE_SIZE", 100)


def _split_dataset(seed: int, *, unattributed: float) -> SpendDataset:
    exact_money()
    return generate_dataset(
        seed, days=1, requests=900, start_day=START, variety=True, key_pool=200, unattributed_share=unattributed
    )


@pytest.mark.usefixtures("small_pages")
@pytest.mark.parametrize(("version", "aggregated_fails"), [("1.74.0", False), ("1.86.7", True)])
def test_daily_activity_split_by_model_then_key_finds_every_key(version: str, aggregated_fails: bool) -> None:
    """Before 1.77 (no /aggregated, or when it answers 404) a day over one page is split by model, then by key.
    The keys to split by are collected from re-reads of the unstable pages: a key whose rows all fell between the
    pages of one read was lost before (its spend missing from the export, without an error)."""
    dataset = _split_dataset(41, unattributed=0.0)
    with FakeLiteLLM(dataset, version=version) as fake:
        models = defaultdict(int)
        for r in fake.daily_rows():
            models[r.model] += 1
        assert max(models.values()) > 100  # some model needs the key split at 100 a page
        assert _cells_with_more_than_two_rows(fake) == 0
        if aggregated_fails:
            fake.fail_next("/user/daily/activity/aggregated", status=404, body={"detail": "Not Found"})
        result = _run(fake, "--mode", "daily-activity", "--day", START.isoformat())
        assert result.exit_code == 0, result.stderr
        rows = _csv(result.stdout)
        _assert_exact(rows, _daily_truth(fake, [START], pages=False))
        key_reads = [r for r in fake.requests if "api_key" in r.params and "model" in r.params]
        assert key_reads, "the key split was not exercised"


class _UnluckyOrder(FakeLiteLLM):
    """An order PostgreSQL may pick for `ORDER BY date DESC` on every read: the rows of one model come just after
    the end of page 1 and just before the start of page 2 (and later pages), so no page of the day shows them."""

    rare = "whisper-1"

    def _daily_response(self, rows: list[Any], page: int, page_size: int, paginated: bool, table: str) -> Any:
        models = {r.model for r in rows}
        if not paginated or page_size == 1 or len(models) == 1 or self.rare not in models:
            return super()._daily_response(rows, page, page_size, paginated, table)
        rare = [r for r in rows if r.model == self.rare]
        others = [r for r in rows if r.model != self.rare]
        ordered = others + rare if page == 1 else rare + others
        served = ordered[(page - 1) * page_size : page * page_size]
        assert not any(r.model == self.rare for r in served)
        pages = (len(rows) + page_size - 1) // page_size
        return _Resp(200, self._aggregate(served, page, pages, page * page_size < len(rows), table))


@pytest.mark.usefixtures("small_pages")
def test_daily_activity_split_fails_loudly_when_its_parts_miss_rows() -> None:
    """Re-reads cannot find a model that every read hides; the parts' exact row counts (`total_pages` at
    page_size 1) then fall short of the day's, and the export fails instead of dropping that model's spend."""
    dataset = _split_dataset(47, unattributed=0.0)
    with _UnluckyOrder(dataset, version="1.74.0") as fake:
        assert any(r.model == "whisper-1" and r.spend for r in fake.daily_rows())
        result = _run(fake, "--mode", "daily-activity", "--day", START.isoformat())
    assert result.exit_code == 4, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "cannot be read exactly" in last and "--mode spend-logs" in last and "Traceback" not in result.stderr


@pytest.mark.usefixtures("small_pages")
def test_daily_activity_refuses_a_split_that_would_need_the_unattributed_key() -> None:
    """An empty `api_key` filter is no filter: splitting a model by key cannot isolate unattributed traffic (key
    ""), so its read came back as the whole model again and failed with a misleading message. Now it says why."""
    dataset = _split_dataset(43, unattributed=0.08)
    with FakeLiteLLM(dataset, version="1.74.0") as fake:
        result = _run(fake, "--mode", "daily-activity", "--day", START.isoformat())
    assert result.exit_code == 4, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert 'unattributed requests (api_key "")' in last and "--mode spend-logs" in last
    assert not any(r.params.get("api_key") == "" for r in fake.requests)


@pytest.mark.parametrize("version", ["1.83.14", "1.109.1"])
def test_daily_activity_names_master_key_traffic_like_spend_logs(version: str) -> None:
    """Master-key traffic is the literal `litellm_proxy_master_key` from 1.86 and the sha256 of the master key
    before: both modes must call it the master key (before, daily activity left the hashed one unnamed)."""
    dataset = generate_dataset(5, days=1, requests=600, start_day=START, variety=True)
    with FakeLiteLLM(dataset, version=version) as fake:
        named: dict[str, set[tuple[str | None, str | None]]] = {}
        for mode in ("spend-logs", "daily-activity"):
            result = _run(fake, "--mode", mode, "--day", START.isoformat())
            assert result.exit_code == 0, result.stderr
            master = [r for r in _csv(result.stdout) if r["BillingAccountId"] == fake.master_key_api_key]
            assert master, mode
            named[mode] = {(r["BillingAccountName"], _tags(r).get("x-master-key")) for r in master}
            assert "master-key requests: 0" not in result.stderr
    assert named["spend-logs"] == named["daily-activity"] == {("master key", "true")}
    assert fake.master_key_api_key == (hash_key(MASTER) if version == "1.83.14" else "litellm_proxy_master_key")

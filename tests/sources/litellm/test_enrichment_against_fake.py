"""Proxy prices, users, keys, organizations and daily-activity providers, end to end against the loopback fake:
the source's records, and the CSV the CLI writes from them."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner, Result

from llm_cost.cli import app
from llm_cost.records import UsageRecord, exact_money
from llm_cost.sources.litellm.settings import LiteLLMSettings
from llm_cost.sources.litellm.source import LiteLLMSource
from tests.fakes.litellm import (
    DEPLOYMENTS,
    KEYS,
    ORGS,
    TEAMS,
    USERS,
    WILDCARD_DEPLOYMENTS,
    FakeLiteLLM,
    SpendDataset,
    generate_dataset,
)

MASTER = "sk-master-1234"
START = date(2025, 6, 1)
DAY = START.isoformat()
ONE_MILLION = Decimal(1_000_000)
USER = {u.user_id: u for u in USERS}
KEY_BY_TOKEN = {k.token: k for k in KEYS}
ORG_ALIAS = {o.organization_id: o.organization_alias for o in ORGS}
PRICED = {(d.model, d.provider): d for d in DEPLOYMENTS}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("llm_cost.http.time.sleep", lambda seconds: None)


@pytest.fixture(scope="module")
def mixed() -> SpendDataset:
    """One day with wildcard traffic (models /model/info does not name) and no zero-spend rows with tokens (cache
    hits), so a proxy-priced group's list cost is its billed cost exactly."""
    return generate_dataset(5, days=1, requests=1500, start_day=START, wildcard_share=0.1, cache_hit_share=0.0)


def _records(fake: FakeLiteLLM, mode: str, key: str = MASTER) -> tuple[list[UsageRecord], list[str]]:
    exact_money()
    warnings: list[str] = []
    settings = LiteLLMSettings(mode=mode, litellm_url=fake.base_url, litellm_key=SecretStr(key), day=DAY)
    with LiteLLMSource(settings, warnings.append) as source:
        records = [record for part in source.partitions() for record in part()]
    return records, warnings


def _run(fake: FakeLiteLLM, *args: str) -> Result:
    env = {"LITELLM_BASE_URL": fake.base_url, "LITELLM_API_KEY": MASTER}
    result = CliRunner().invoke(app, ["export", "--day", DAY, *args], env=env)
    assert MASTER not in result.output and MASTER not in (result.stderr or "")
    return result


def _rows(result: Result) -> list[dict[str, Any]]:
    """The CSV rows, each with `tags`: its Tags read, with the x- keys this file asks for also under short names."""
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    for row in rows:
        tags = json.loads(row["Tags"])
        for name in ("model", "provider", "user_alias", "organization_alias"):
            tags[name] = tags.get("x-" + name.replace("_", "-"))
        row["tags"] = tags
    return rows


# ------------------------------------------------------------------------------------------------- prices


@pytest.mark.parametrize("mode", ["spend-logs", "daily-activity"])
def test_proxy_prices_are_the_list_prices_and_the_identities_hold(mixed: SpendDataset, mode: str) -> None:
    with FakeLiteLLM(mixed, version="1.109.1") as fake:
        rows = _rows(_run(fake, "--mode", mode))
    by_source: dict[str, int] = defaultdict(int)
    billed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    listed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        source, model, provider = row["tags"]["x-price-source"], row["tags"]["model"], row["tags"]["provider"]
        by_source[source] += 1
        if row["ListUnitPrice"]:
            assert Decimal(row["ListUnitPrice"]) * Decimal(row["PricingQuantity"]) == Decimal(row["ListCost"])
        if source == "litellm" and row["x_TokenType"] != "all":  # "all": a failed request, without tokens
            dep = PRICED[(model, provider)]
            per_token = {"input": dep.input_cost, "output": dep.output_cost, "cache_read": dep.cache_read_cost}
            per_token["cache_write"] = dep.cache_creation_cost
            assert Decimal(row["ListUnitPrice"]) == per_token[row["x_TokenType"]] * ONE_MILLION
            billed[(model, provider)] += Decimal(row["BilledCost"])
            listed[(model, provider)] += Decimal(row["ListCost"])
        if model in {d.model for d in WILDCARD_DEPLOYMENTS}:
            assert source in ("genai-prices", "unknown")  # no proxy price: genai-prices decides
    assert by_source["litellm"] > 10 and by_source["genai-prices"] > 0 and by_source["unknown"] > 0
    if mode == "spend-logs":  # per-request spend is exact; daily sums are floats
        assert ("gpt-4o", "azure") in billed  # the motivating case: Azure at the proxy's own price
        assert billed == listed  # spend = tokens x the proxy's prices, to the last digit


def test_one_model_is_one_pricing_object_and_never_splits_a_group(mixed: SpendDataset) -> None:
    with FakeLiteLLM(mixed, version="1.109.1") as fake:
        records, _ = _records(fake, "spend-logs")
    pricings: dict[tuple[str, str], set[int]] = defaultdict(set)
    for record in records:
        pricings[(record.model, record.provider)].add(id(record.pricing))
    assert all(len(ids) == 1 for ids in pricings.values()), pricings
    openai, azure = (next(r.pricing for r in records if (r.model, r.provider) == ("gpt-4o", p)) for p in PROVIDERS)
    assert openai is azure is not None  # equal prices, one object
    assert all(r.pricing is None for r in records if r.model in {d.model for d in WILDCARD_DEPLOYMENTS})


PROVIDERS = ("openai", "azure")


def test_without_model_info_every_price_comes_from_genai_prices(mixed: SpendDataset) -> None:
    with FakeLiteLLM(mixed, version="1.109.1", missing_paths={"/model/info"}) as fake:
        records, warnings = _records(fake, "spend-logs")
    assert records and all(r.pricing is None for r in records) and warnings == []


# ------------------------------------------------------------------------------------------------- users, keys, orgs


@pytest.mark.parametrize("mode", ["spend-logs", "daily-activity"])
def test_users_keys_and_orgs_decorate_the_ids(mixed: SpendDataset, mode: str) -> None:
    with FakeLiteLLM(mixed, version="1.109.1") as fake:
        records, warnings = _records(fake, mode)
    assert warnings == []
    keyed = [r for r in records if r.api_key_hash in KEY_BY_TOKEN and not KEY_BY_TOKEN[r.api_key_hash].deleted]
    assert keyed and all(r.key_name == KEY_BY_TOKEN[str(r.api_key_hash)].key_name for r in keyed)
    users = [r for r in records if r.user_id in USER]
    assert users and all(r.user_alias == USER[str(r.user_id)].user_alias for r in users)
    assert all(r.user_email == USER[str(r.user_id)].user_email for r in users if USER[str(r.user_id)].user_email)
    orgs = [r for r in records if r.org_id]
    assert orgs and all(r.org_alias == ORG_ALIAS[str(r.org_id)] for r in orgs)
    teams_with_org = {t.team_id for t in TEAMS if t.organization_id}
    assert all(r.org_id for r in records if r.team_id in teams_with_org)


def test_hostile_aliases_survive_the_csv(mixed: SpendDataset) -> None:
    with FakeLiteLLM(mixed, version="1.109.1") as fake:
        rows = _rows(_run(fake, "--mode", "spend-logs"))
    aliases = {row["tags"].get("user_alias") for row in rows}
    assert {USER["user-bob"].user_alias, USER["user-alice"].user_alias, USER["user-carol"].user_alias} <= aliases
    assert {row["tags"].get("organization_alias") for row in rows} >= {ORG_ALIAS["org-acme"]}


def test_old_daily_activity_gets_the_user_from_the_key_list(mixed: SpendDataset) -> None:
    """≤1.100 key metadata has no user_id: the key's owner from /key/list fills it, and so the user's alias."""
    with FakeLiteLLM(mixed, version="1.100.5") as fake:
        records, _ = _records(fake, "daily-activity")
    keyed = [r for r in records if r.api_key_hash in KEY_BY_TOKEN and not KEY_BY_TOKEN[r.api_key_hash].deleted]
    assert keyed and all(r.user_id == KEY_BY_TOKEN[str(r.api_key_hash)].user_id for r in keyed)
    assert any(r.user_alias for r in keyed)


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"refuse_paths": {"/user/list"}}, "/user/list"),
        ({"missing_paths": {"/user/list"}, "refuse_paths": {"/user/info"}}, "/user/info"),
        ({"refuse_paths": {"/key/list"}}, "/key/list"),
        ({"missing_paths": {"/key/list"}}, "/key/list"),
        ({"refuse_paths": {"/organization/list"}}, "/organization/list"),
    ],
)
@pytest.mark.parametrize("mode", ["spend-logs", "daily-activity"])
def test_a_declined_lookup_is_one_warning_and_ids_only(
    mixed: SpendDataset, options: dict[str, Any], path: str, mode: str
) -> None:
    with FakeLiteLLM(mixed, version="1.109.1", **options) as fake:
        records, warnings = _records(fake, mode)
        asked = fake.count(path)
    assert len(warnings) == 1 and path in warnings[0] and MASTER not in warnings[0], warnings
    assert asked == 1  # refused once, never asked again
    if "user" in path:
        assert all(r.user_alias is None for r in records) and any(r.user_id for r in records)
    elif path == "/key/list":
        assert all(r.key_name is None for r in records) and any(r.api_key_hash for r in records)
    else:
        assert all(r.org_alias is None for r in records) and any(r.org_id for r in records)


def test_without_user_list_users_come_from_user_info_once_each(mixed: SpendDataset) -> None:
    with FakeLiteLLM(mixed, version="1.109.1", missing_paths={"/user/list"}) as fake:
        records, warnings = _records(fake, "spend-logs")
        asked = fake.count("/user/info")
    users = {r.user_id for r in records if r.user_id}
    assert warnings == [] and asked == len(users)
    assert all(r.user_alias == USER[str(r.user_id)].user_alias for r in records if r.user_id in USER)


def test_the_cli_prints_the_one_warning(mixed: SpendDataset) -> None:
    with FakeLiteLLM(mixed, version="1.109.1", refuse_paths={"/user/list"}) as fake:
        result = _run(fake, "--mode", "spend-logs", "--concurrency", "4")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("warning:") == 1 and "/user/list" in result.stderr


def test_a_garbled_lookup_fails_the_run_loudly(mixed: SpendDataset) -> None:
    with FakeLiteLLM(mixed, version="1.109.1") as fake:
        fake.garble_next("/key/list", "schema")
        result = _run(fake, "--mode", "spend-logs")
    assert result.exit_code == 4 and "unexpected response from /key/list" in result.stderr.strip().splitlines()[-1]


# ------------------------------------------------------------------------------------------------- providers


@pytest.mark.parametrize("version", ["1.109.1", "1.86.7"])
def test_daily_activity_takes_the_provider_from_the_response(mixed: SpendDataset, version: str) -> None:
    with FakeLiteLLM(mixed, version=version) as fake:
        records, _ = _records(fake, "daily-activity")
        spend, _ = _records(fake, "spend-logs")
    providers = {r.model: r.provider for r in records}
    assert providers["gemini-2.0-flash-001"] == "vertex_ai"  # genai-prices alone would say google
    assert providers["acme-llm-7b"] == "hosted_vllm"  # unknown to /model/info by name and to genai-prices
    truth: dict[str, set[str]] = defaultdict(set)
    for record in spend:
        truth[record.model].add(record.provider)
    for record in records:  # every provider given is one the model's requests really went to
        if record.model != "unknown-model":
            assert record.provider in truth[record.model], (record.model, record.provider)
    by_day_provider: dict[str, Decimal] = defaultdict(Decimal)
    for record in records:
        if record.model in ("gemini-2.0-flash-001", "acme-llm-7b", "claude-sonnet-4-20250514"):
            by_day_provider[record.provider] += record.cost
    expected = fake.truth.by_day_provider()
    for provider in ("vertex_ai", "hosted_vllm", "anthropic"):
        assert abs(by_day_provider[provider] - expected[(START, provider)]) < Decimal("1e-9")


def test_unattributed_rows_are_billed_to_their_provider_not_to_unknown(mixed: SpendDataset) -> None:
    with FakeLiteLLM(mixed, version="1.109.1") as fake:
        rows = _rows(_run(fake, "--mode", "daily-activity"))
    unattributed = [r for r in rows if r["BillingAccountType"] == "Provider Account"]
    assert unattributed
    named = [r for r in unattributed if r["tags"]["model"] != "unknown-model"]
    assert named and all(r["BillingAccountId"] not in ("", "unknown") for r in named)
    assert all(r["BillingAccountId"] == r["tags"]["provider"] for r in unattributed)

"""The FinOps Foundation's FOCUS use-case queries, run in DuckDB on a LiteLLM export, answer with the source's truth.

A FOCUS file is only as good as the answers an analyst gets from it in any tool. This loads a spend-logs export of
the loopback fake (with a 12.5 % deal on Bedrock) into DuckDB and asks: cost by provider, publisher and service,
by sub account, by SKU and token type, list against billed, and how much cost the tags cover. Each answer is held
to the fake's exact ground truth, computed from its raw rows with a hand-written name table, not with our mapping.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from llm_cost.cli import app
from tests.fakes.litellm import FakeLiteLLM, SpendDataset, generate_dataset

MASTER = "sk-master-1234"
# LiteLLM slug -> (ProviderName, ServiceName), written by hand from the providers' own names.
SELLERS = {
    "openai": ("OpenAI", "OpenAI API"),
    "azure": ("Microsoft", "Azure OpenAI"),
    "anthropic": ("Anthropic", "Anthropic API"),
    "bedrock": ("Amazon Web Services", "Amazon Bedrock"),
}
DEVELOPERS = {"gpt": "OpenAI", "text-embedding": "OpenAI", "claude": "Anthropic", "anthropic.claude": "Anthropic"}
DEAL = Decimal("0.875")
COST_SCALE = 30  # decimal places DuckDB keeps: more than any cost in the export (checked below)


@pytest.fixture(scope="module")
def dataset() -> SpendDataset:
    return generate_dataset(21, days=2, requests=3000, start_day=date(2025, 6, 1))


@pytest.fixture(scope="module")
def export(dataset: SpendDataset, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[Mapping[str, Any]]]:
    folder = tmp_path_factory.mktemp("use-cases")
    config = folder / "llm-cost.toml"
    config.write_text('[adjustments.aws-deal]\nprovider = "bedrock"\ndiscount_pct = 12.5\n', encoding="utf-8")
    out = folder / "costs.csv"
    with FakeLiteLLM(dataset, version="1.109.1") as fake:
        args = ["export", "--config", str(config), "--mode", "spend-logs", "--start", "2025-06-01"]
        args += ["--end", "2025-06-03", "-o", str(out)]
        env = {"LITELLM_BASE_URL": fake.base_url, "LITELLM_API_KEY": MASTER}
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 0, result.stderr
        rows = fake.truth.rows
    assert len(rows) > 1000
    return _load(out), rows


def _load(path: Path) -> Any:
    """The export as a DuckDB table `focus`, costs as exact decimals (all text first, then cast)."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE raw AS SELECT * FROM read_csv('{path}', all_varchar = true, header = true)")
    for (value,) in con.execute("SELECT BilledCost FROM raw UNION ALL SELECT ListCost FROM raw").fetchall():
        assert len(value.partition(".")[2]) <= COST_SCALE, f"{value} would be rounded by the cast"
    money = ", ".join(
        f"CAST({c} AS DECIMAL(38, {COST_SCALE})) AS {c}" for c in ("BilledCost", "ListCost", "EffectiveCost")
    )
    con.execute(
        f"CREATE TABLE focus AS SELECT * EXCLUDE (BilledCost, ListCost, EffectiveCost), {money}, "
        "CAST(ConsumedQuantity AS DECIMAL(38, 6)) AS Quantity FROM raw"
    )
    return con


def _query(con: Any, sql: str) -> dict[Any, Decimal]:
    return {row[0]: Decimal(row[1]) for row in con.execute(sql).fetchall()}


def _truth(rows: list[Mapping[str, Any]], key: Callable[[Mapping[str, Any]], Any]) -> dict[Any, Decimal]:
    out: dict[Any, Decimal] = defaultdict(Decimal)
    for row in rows:
        out[key(row)] += row["spend"]
    return {k: v for k, v in out.items() if v}


def _billed(row: Mapping[str, Any]) -> Decimal:
    return row["spend"] * DEAL if row["custom_llm_provider"] == "bedrock" else row["spend"]


def _developer(model: str) -> str:
    return next(name for prefix, name in DEVELOPERS.items() if model.startswith(prefix))


def test_cost_by_provider_publisher_and_service(export: tuple[Any, list[Mapping[str, Any]]]) -> None:
    con, rows = export
    billed = [dict(r, spend=_billed(r)) for r in rows if r["spend"]]
    assert {r["custom_llm_provider"] for r in billed} == set(SELLERS)
    providers = _query(con, "SELECT ProviderName, SUM(BilledCost) FROM focus GROUP BY 1 HAVING SUM(BilledCost) <> 0")
    assert providers == _truth(billed, lambda r: SELLERS[r["custom_llm_provider"]][0])
    issuers = _query(con, "SELECT InvoiceIssuerName, SUM(BilledCost) FROM focus GROUP BY 1 HAVING SUM(BilledCost) <> 0")
    assert issuers == providers
    services = _query(con, "SELECT ServiceName, SUM(BilledCost) FROM focus GROUP BY 1 HAVING SUM(BilledCost) <> 0")
    assert services == _truth(billed, lambda r: SELLERS[r["custom_llm_provider"]][1])
    publishers = _query(con, "SELECT PublisherName, SUM(BilledCost) FROM focus GROUP BY 1 HAVING SUM(BilledCost) <> 0")
    assert publishers == _truth(billed, lambda r: _developer(r["model"]))
    # One ServiceName, one subcategory (FOCUS ServiceName-C-008-C).
    (pairs,) = con.execute("SELECT COUNT(DISTINCT ServiceName || '|' || ServiceSubcategory) FROM focus").fetchone()
    assert pairs == con.execute("SELECT COUNT(DISTINCT ServiceName) FROM focus").fetchone()[0]


def test_cost_by_sub_account_and_sku(export: tuple[Any, list[Mapping[str, Any]]]) -> None:
    con, rows = export
    billed = [dict(r, spend=_billed(r)) for r in rows if r["spend"]]
    teams = _query(con, "SELECT SubAccountId, SUM(BilledCost) FROM focus GROUP BY 1 HAVING SUM(BilledCost) <> 0")
    assert teams == _truth(billed, lambda r: r["team_id"] or None)
    skus = _query(con, "SELECT SkuId, SUM(BilledCost) FROM focus GROUP BY 1 HAVING SUM(BilledCost) <> 0")
    assert skus == _truth(billed, lambda r: r["model"])
    # Token types: every SKU's rows are one per token type, and output tokens are the requests' completions.
    (dupes,) = con.execute(
        "SELECT COUNT(*) FROM (SELECT ChargePeriodStart, SkuId, BillingAccountId, SubAccountId, Tags, x_TokenType, "
        "COUNT(*) AS n FROM focus GROUP BY ALL HAVING n > 1)"
    ).fetchone()
    assert dupes == 0
    output = con.execute("SELECT SUM(Quantity) FROM focus WHERE x_TokenType = 'output'").fetchone()[0]
    assert Decimal(output) == sum(int(r["completion_tokens"] or 0) for r in rows)


def test_list_against_billed(export: tuple[Any, list[Mapping[str, Any]]]) -> None:
    con, rows = export
    got = con.execute(
        "SELECT ProviderName, SUM(ListCost), SUM(BilledCost), SUM(EffectiveCost) FROM focus "
        "WHERE ProviderName = 'Amazon Web Services' GROUP BY 1"
    ).fetchall()
    ((_, listed, billed, effective),) = got
    bedrock = sum(r["spend"] for r in rows if r["custom_llm_provider"] == "bedrock")
    assert Decimal(listed) == bedrock and Decimal(billed) == Decimal(effective) == bedrock * DEAL
    (total,) = con.execute("SELECT SUM(BilledCost) FROM focus").fetchone()
    assert Decimal(total) == sum(_billed(r) for r in rows)


def test_tag_coverage(export: tuple[Any, list[Mapping[str, Any]]]) -> None:
    """The cost that carries a team tag is the cost of requests with a team; no tag key repeats per-row values."""
    con, rows = export
    (tagged,) = con.execute(
        "SELECT SUM(BilledCost) FROM focus WHERE json_extract_string(Tags, '$.\"x-team-id\"') IS NOT NULL"
    ).fetchone()
    assert Decimal(tagged) == sum(_billed(r) for r in rows if r["team_id"])
    keys = {k for (k,) in con.execute("SELECT DISTINCT unnest(json_keys(Tags)) FROM focus").fetchall()}
    assert not keys & {"effective-cost", "x-token-count-input", "x-token-count-output"}
    assert "llm-cost-type" in keys and all(k.startswith("x-") or k == "llm-cost-type" or ":" not in k for k in keys)

"""Negotiated rates end to end: `[adjustments]` in llm-cost.toml over a LiteLLM pull, exact against the fake."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from llm_cost.cli import app
from llm_cost.focus.checks import RowChecker
from llm_cost.focus.columns import columns_for
from tests.fakes.litellm import FakeLiteLLM, SpendDataset, generate_dataset

MASTER = "sk-master-1234"
START = date(2025, 6, 1)
WINDOW = ["--start", "2025-06-01", "--end", "2025-06-03"]


@pytest.fixture(scope="module")
def dataset() -> SpendDataset:
    return generate_dataset(11, days=2, requests=1500, start_day=START)


def _run(fake: FakeLiteLLM, config: Path, *args: str, command: str = "export") -> Result:
    env = {"LITELLM_BASE_URL": fake.base_url, "LITELLM_API_KEY": MASTER}
    result = CliRunner().invoke(
        app, [command, "--config", str(config), "--mode", "spend-logs", *WINDOW, *args], env=env
    )
    assert MASTER not in result.output and MASTER not in (result.stderr or "")
    return result


def _provider_of(row: dict[str, str]) -> str:
    return str(json.loads(row["Tags"])["x-provider"])


def _by_provider(csv_text: str, column: str) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for row in csv.DictReader(io.StringIO(csv_text)):
        sums[_provider_of(row)] += Decimal(row[column])
    return dict(sums)


@pytest.mark.parametrize("mode", ["spend-logs", "daily-activity"])
def test_a_discount_on_one_provider_is_exact_and_keeps_the_list_cost(
    dataset: SpendDataset, tmp_path: Path, mode: str
) -> None:
    """12.5 % off openai: its rows list what LiteLLM reported and bill 0.875 of it, exactly; the other providers'
    rows are untouched; every row passes the checks. Spend-logs mode is also held to the fake's truth per provider
    (daily-activity cannot split a model load-balanced across providers, so it is held to the plain run)."""
    config = tmp_path / "llm-cost.toml"
    config.write_text('[adjustments.openai-deal]\nprovider = "openai"\ndiscount_pct = 12.5\n', encoding="utf-8")
    plain_config = tmp_path / "plain.toml"
    plain_config.write_text("", encoding="utf-8")
    with FakeLiteLLM(dataset, version="1.109.1") as fake:
        result = _run(fake, config, "--mode", mode)
        assert result.exit_code == 0, result.stderr
        plain = _run(fake, plain_config, "--mode", mode)
        assert plain.exit_code == 0, plain.stderr
        truth: dict[str, Decimal] = defaultdict(Decimal)
        for (_, provider), spend in fake.truth.by_day_provider().items():
            truth[provider] += spend
    checker = RowChecker(columns_for("focus"))
    for row in csv.DictReader(io.StringIO(result.stdout)):
        checker.check({k: v or None for k, v in row.items()})  # the identities hold, within the unit price digits
        tags = json.loads(row["Tags"])
        if _provider_of(row) == "openai":
            assert tags["x-adjustment"] == "openai-deal"
            assert row["BilledCost"] == row["EffectiveCost"] == row["ContractedCost"]
        else:
            assert "x-adjustment" not in tags
    reported = _by_provider(plain.stdout, "BilledCost")
    listed, billed = _by_provider(result.stdout, "ListCost"), _by_provider(result.stdout, "BilledCost")
    assert reported["openai"] > 0 and len(reported) > 1
    assert listed["openai"] == reported["openai"]  # ListCost is what LiteLLM reported, unchanged
    assert billed["openai"] == reported["openai"] * Decimal("0.875")  # exact
    assert {p: v for p, v in billed.items() if p != "openai"} == {p: v for p, v in reported.items() if p != "openai"}
    if mode == "spend-logs":
        assert {p: v for p, v in reported.items() if v} == {p: v for p, v in truth.items() if v}


def test_dry_run_shows_list_against_billed(dataset: SpendDataset, tmp_path: Path) -> None:
    config = tmp_path / "llm-cost.toml"
    config.write_text('[adjustments.deal]\nprovider = "openai"\ndiscount_pct = 10\nmarkup_pct = 5\n', encoding="utf-8")
    with FakeLiteLLM(dataset, version="1.109.1") as fake:
        result = _run(fake, config, "--json", command="dry-run")
        assert result.exit_code == 0, result.stderr
        openai = sum(v for (_, p), v in fake.truth.by_day_provider().items() if p == "openai")
        total = fake.truth.total()
    summary = json.loads(result.stdout)
    assert Decimal(summary["total_cost"]) == total - openai + openai * Decimal("0.945")
    (openai_slice,) = [s for s in summary["by_provider"] if s["name"] == "OpenAI"]
    assert Decimal(openai_slice["cost"]) == Decimal(openai_slice["list_cost"]) * Decimal("0.945")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[adjustments.x]\nprovider = "openai"\ndiscount_pct = 150\n', "from 0 to 100"),
        ("[adjustments.x]\ndiscount_pct = 5\n", "give a provider, a model or both"),
        ("[settings]\nadjustments = 5\n", "unknown key(s) in [settings]: adjustments"),
    ],
)
def test_a_bad_adjustment_is_a_configuration_error(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "llm-cost.toml"
    config.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["export", "--config", str(config), "--date", "2025-01-01"])
    assert result.exit_code == 3
    assert message in result.stderr and "Traceback" not in result.stderr


def test_service_name_is_the_offering_or_the_model_group(dataset: SpendDataset, tmp_path: Path) -> None:
    config = tmp_path / "llm-cost.toml"
    config.write_text("", encoding="utf-8")
    with FakeLiteLLM(dataset, version="1.109.1") as fake:
        offering = _run(fake, config)
        grouped = _run(fake, config, "--service-name", "model-group")
        groups = {r["model_group"] or r["model"] for r in fake.truth.rows if r["spend"]}
    assert offering.exit_code == grouped.exit_code == 0, offering.stderr + grouped.stderr
    services = {r["ServiceName"] for r in csv.DictReader(io.StringIO(offering.stdout)) if Decimal(r["BilledCost"])}
    assert services == {"OpenAI API", "Azure OpenAI", "Anthropic API", "Amazon Bedrock"}
    by_group = {r["ServiceName"] for r in csv.DictReader(io.StringIO(grouped.stdout)) if Decimal(r["BilledCost"])}
    assert by_group == groups


def test_a_bad_service_name_is_a_configuration_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["export", "--service-name", "model", "--date", "2025-01-01"])
    assert result.exit_code == 3 and "service_name" in result.stderr and "Traceback" not in result.stderr

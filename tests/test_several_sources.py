"""Several labelled sources in one run ([[sources]]): two loopback LiteLLM proxies and a manifest, exported,
previewed and uploaded together, held to each proxy's exact truth per source, day and model."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from llm_cost.cli import app
from tests.fakes.actions import read_outputs
from tests.fakes.litellm import FakeLiteLLM, generate_dataset
from tests.fakes.sources import write_sources_config
from tests.fakes.vantage import FakeVantage

PROD_KEY, STAGING_KEY = "sk-prod-master-9f8e7d", "sk-staging-master-1a2b3c"
VKEY, VTOKEN = "vk_sources_key_123", "accss_crdntl_sources_456"
START = date(2025, 6, 1)
DAYS = [START, date(2025, 6, 2)]
WINDOW = ["--start", "2025-06-01", "--end", "2025-06-03"]
SECRETS = (PROD_KEY, STAGING_KEY, VKEY, VTOKEN)
UNLABELLED = "(unlabelled)"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("llm_cost.http.time.sleep", lambda seconds: None)


@pytest.fixture
def proxies() -> Iterator[tuple[FakeLiteLLM, FakeLiteLLM]]:
    """Two proxies with different data and keys: prod on the newest flavour, staging on an older one."""
    with (
        FakeLiteLLM(generate_dataset(11, days=2, requests=1500, start_day=START), master_key=PROD_KEY) as prod,
        FakeLiteLLM(
            generate_dataset(12, days=2, requests=900, start_day=START), version="1.86.7", master_key=STAGING_KEY
        ) as staging,
    ):
        yield prod, staging


def _config(tmp_path: Path, prod: FakeLiteLLM, staging: FakeLiteLLM, *, manifest: bool = False) -> Path:
    return write_sources_config(tmp_path, prod.base_url, staging.base_url, manifest=manifest)


def _invoke(config: Path, command: str, *args: str, env: dict[str, str] | None = None) -> Result:
    environment = {
        "LLM_COST_CONFIG": str(config),
        "LITELLM_PROD_KEY": PROD_KEY,
        "LITELLM_STAGING_KEY": STAGING_KEY,
        "LITELLM_BASE_URL": None,
        "LITELLM_API_KEY": None,
        "LLM_COST_MODE": None,
        **(env or {}),
    }
    result = CliRunner().invoke(app, [command, *args], env=environment)
    for secret in SECRETS:
        assert secret not in result.output and secret not in (result.stderr or ""), "a key leaked"
    return result


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _by_source_day_model(rows: list[dict[str, str]]) -> dict[tuple[str, date, str], Decimal]:
    totals: dict[tuple[str, date, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        assert json.loads(row["Tags"])["source"] == row["x_Source"]
        day = date.fromisoformat(row["ChargePeriodStart"][:10])
        totals[(row["x_Source"], day, row["x_Model"])] += Decimal(row["BilledCost"])
    return {key: cost for key, cost in totals.items() if cost}


def _truth(label: str, fake: FakeLiteLLM) -> dict[tuple[str, date, str], Decimal]:
    return {
        (label, day, model or "unknown-model"): spend
        for (day, model), spend in fake.truth.by_day_model().items()
        if spend
    }


def test_two_proxies_in_one_csv_equal_the_union_of_their_truths(
    tmp_path: Path, proxies: tuple[FakeLiteLLM, FakeLiteLLM]
) -> None:
    prod, staging = proxies
    config = _config(tmp_path, prod, staging)
    result = _invoke(config, "export", *WINDOW, "--concurrency", "3")
    assert result.exit_code == 0, result.stderr
    rows = _rows(result.stdout)
    assert {row["x_Source"] for row in rows} == {"prod", "staging"}
    got = _by_source_day_model(rows)
    prod_got = {k: v for k, v in got.items() if k[0] == "prod"}
    assert prod_got == _truth("prod", prod)  # spend logs: exact to the digit
    staging_got = {k: v for k, v in got.items() if k[0] == "staging"}
    staging_truth = _truth("staging", staging)
    assert staging_got.keys() == staging_truth.keys()
    assert all(abs(staging_got[k] - staging_truth[k]) < Decimal("1e-6") for k in staging_got)  # daily tables: floats
    # Rows come source by source, in the order of [[sources]].
    labels = [row["x_Source"] for row in rows]
    assert labels == sorted(labels, key=["prod", "staging"].index)


def test_one_source_can_be_chosen_and_an_unknown_label_is_refused(
    tmp_path: Path, proxies: tuple[FakeLiteLLM, FakeLiteLLM]
) -> None:
    prod, staging = proxies
    config = _config(tmp_path, prod, staging)
    only = _invoke(config, "export", *WINDOW, "--source", "staging")
    assert only.exit_code == 0, only.stderr
    assert {row["x_Source"] for row in _rows(only.stdout)} == {"staging"}
    unknown = _invoke(config, "export", *WINDOW, "--source", "qa")
    assert unknown.exit_code == 3 and unknown.stdout == ""
    assert "--source qa: no such label" in unknown.stderr and "prod, staging" in unknown.stderr


def test_a_failing_source_fails_the_run_and_writes_nothing(
    tmp_path: Path, proxies: tuple[FakeLiteLLM, FakeLiteLLM]
) -> None:
    prod, staging = proxies
    config = _config(tmp_path, prod, staging)
    output = tmp_path / "costs.csv"
    output.write_text("earlier export\n", encoding="utf-8")
    result = _invoke(config, "export", *WINDOW, "-o", str(output), env={"LITELLM_STAGING_KEY": "sk-wrong-key-000"})
    assert result.exit_code == 4, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "source staging:" in last and "Traceback" not in result.stderr
    assert output.read_text(encoding="utf-8") == "earlier export\n"


def test_keep_going_writes_the_others_and_exits_4_naming_the_missing_source(
    tmp_path: Path, proxies: tuple[FakeLiteLLM, FakeLiteLLM]
) -> None:
    prod, staging = proxies
    config = _config(tmp_path, prod, staging)
    output = tmp_path / "costs.csv"
    result = _invoke(
        config, "export", *WINDOW, "-o", str(output), "--keep-going", env={"LITELLM_STAGING_KEY": "sk-wrong-key-000"}
    )
    assert result.exit_code == 4
    last = result.stderr.strip().splitlines()[-1]
    assert "--keep-going" in last and "staging" in last and "1 failed source" in last
    rows = _rows(output.read_text(encoding="utf-8"))
    assert {row["x_Source"] for row in rows} == {"prod"}
    assert _by_source_day_model(rows) == _truth("prod", prod)


def test_dry_run_shows_totals_per_source_and_compares_estimates_with_actuals(
    tmp_path: Path, proxies: tuple[FakeLiteLLM, FakeLiteLLM]
) -> None:
    prod, staging = proxies
    config = _config(tmp_path, prod, staging, manifest=True)
    result = _invoke(config, "dry-run", *WINDOW, "--json", "--compare")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    per_source = {s["name"]: Decimal(s["cost"]) for s in summary["by_source"]}
    assert per_source["prod"] == prod.truth.total()
    assert abs(per_source["staging"] - staging.truth.total()) < Decimal("1e-6")
    assert per_source["plan"] > 0 and sum(per_source.values()) == Decimal(summary["total_cost"])
    compared = {row["name"]: row for row in summary["compare"]["by_model"]}
    gpt4o = compared["gpt-4o"]
    assert Decimal(gpt4o["estimated"]) == per_source["plan"]  # the manifest estimates gpt-4o only
    actual = Decimal(gpt4o["actual"])
    expected_pct = ((actual - per_source["plan"]) * 100 / per_source["plan"]).quantize(Decimal("0.1"))
    assert Decimal(gpt4o["difference_pct"]) == expected_pct
    table = _invoke(config, "dry-run", *WINDOW, "--compare", "--reconcile")
    assert table.exit_code == 0, table.stderr
    assert "by source" in table.stderr and "estimate vs actual by model" in table.stderr
    assert "prod: " in table.stderr and "staging: " in table.stderr  # each proxy reconciled, under its label


def test_a_manifest_beside_proxies_estimates_every_day_of_their_window(
    tmp_path: Path, proxies: tuple[FakeLiteLLM, FakeLiteLLM]
) -> None:
    prod, staging = proxies
    config = _config(tmp_path, prod, staging, manifest=True)
    result = _invoke(config, "export", *WINDOW, "--source", "plan", "--source", "prod")
    assert result.exit_code == 0, result.stderr
    rows = _rows(result.stdout)
    plan = [row for row in rows if row["x_Source"] == "plan"]
    assert {row["ChargePeriodStart"][:10] for row in plan} == {d.isoformat() for d in DAYS}
    assert {json.loads(row["Tags"])["llm-cost-type"] for row in plan} == {"estimate"}
    actual = [row for row in rows if row["x_Source"] == "prod"]
    assert {json.loads(row["Tags"])["llm-cost-type"] for row in actual} == {"actual"}
    per_day = defaultdict(Decimal)
    for row in plan:
        per_day[row["ChargePeriodStart"][:10]] += Decimal(row["BilledCost"])
    assert len(set(per_day.values())) == 1  # the same prompts, the same prices: the same estimate each day
    dated = _invoke(config, "export", *WINDOW, "--date", "2025-06-01")
    assert dated.exit_code == 3 and "is the charge day of manifest estimates" in dated.stderr


def _vantage_by_source_day(vantage: FakeVantage) -> dict[tuple[str, date], Decimal]:
    totals: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for upload in vantage.uploads:
        label = upload.filename.split("_")[1]
        unlabelled = label[:1].isdigit()  # llm-cost_<start>_<end>_...: an upload from before [[sources]]
        label = UNLABELLED if unlabelled else label
        for row in upload.rows:
            assert json.loads(row["Tags"]).get("source") == (None if unlabelled else label)
            totals[(label, date.fromisoformat(row["ChargePeriodStart"][:10]))] += Decimal(row["BilledCost"])
    return dict(totals)


def _upload(config: Path, vantage: FakeVantage, *args: str, env: dict[str, str] | None = None) -> Result:
    vantage_env = {
        "VANTAGE_API_KEY": VKEY,
        "VANTAGE_INTEGRATION_TOKEN": VTOKEN,
        "VANTAGE_BASE_URL": vantage.base_url,
        **(env or {}),
    }
    return _invoke(config, "upload", *args, env=vantage_env)


def test_a_re_upload_of_one_source_never_touches_the_other(
    tmp_path: Path, proxies: tuple[FakeLiteLLM, FakeLiteLLM]
) -> None:
    prod, staging = proxies
    config = _config(tmp_path, prod, staging)
    with FakeVantage(api_key=VKEY, integration_token=VTOKEN) as vantage:
        first = _upload(config, vantage, "--day", "2025-06-01")
        assert first.exit_code == 0, first.stderr
        staging_files = {u.filename for u in vantage.uploads if u.filename.startswith("llm-cost_staging_")}
        assert staging_files and all("_2025-06-01_2025-06-02_" in name for name in staging_files)
        again = _upload(config, vantage, "--day", "2025-06-01", "--source", "prod")
        assert again.exit_code == 0, again.stderr
        assert {u.filename for u in vantage.uploads if u.filename.startswith("llm-cost_staging_")} == staging_files
        held = _vantage_by_source_day(vantage)
        assert held[("prod", START)] == prod.truth.by_day()[START]
        assert abs(held[("staging", START)] - staging.truth.by_day()[START]) < Decimal("1e-6")
        assert set(held) == {("prod", START), ("staging", START)}
        runs = {u.filename.split("_")[4] for u in vantage.uploads if u.filename.startswith("llm-cost_prod_")}
        assert len(runs) == 1, "the re-upload replaced prod's first upload"


def test_switching_from_an_unlabelled_upload_to_labelled_sources_never_double_counts(
    tmp_path: Path, proxies: tuple[FakeLiteLLM, FakeLiteLLM]
) -> None:
    prod, staging = proxies
    config = _config(tmp_path, prod, staging)
    plain = tmp_path / "plain.toml"
    plain.write_text("", encoding="utf-8")
    with FakeVantage(api_key=VKEY, integration_token=VTOKEN) as vantage:
        # Before [[sources]]: one unlabelled upload of prod for each day.
        for day in ("2025-06-01", "2025-06-02"):
            before = _invoke(
                plain,
                "upload",
                "--mode",
                "spend-logs",
                "--day",
                day,
                env={
                    "LITELLM_BASE_URL": prod.base_url,
                    "LITELLM_API_KEY": PROD_KEY,
                    "VANTAGE_API_KEY": VKEY,
                    "VANTAGE_INTEGRATION_TOKEN": VTOKEN,
                    "VANTAGE_BASE_URL": vantage.base_url,
                    "LLM_COST_MODE": "spend-logs",
                },
            )
            assert before.exit_code == 0, before.stderr
        assert vantage.total_cost() == prod.truth.total()
        # A --source run cannot know whether the unlabelled upload was its own: it refuses, and sends nothing.
        partial = _upload(config, vantage, "--day", "2025-06-01", "--source", "prod")
        assert partial.exit_code == 3 and "run without --source once" in partial.stderr
        assert vantage.total_cost() == prod.truth.total()
        # The first run of every source takes the day over: the unlabelled upload goes, nothing counts twice.
        switched = _upload(config, vantage, "--day", "2025-06-01")
        assert switched.exit_code == 0, switched.stderr
        held = _vantage_by_source_day(vantage)
        assert (UNLABELLED, START) not in held
        assert held[("prod", START)] == prod.truth.by_day()[START]
        assert abs(held[("staging", START)] - staging.truth.by_day()[START]) < Decimal("1e-6")
        day_two = date(2025, 6, 2)
        assert held[(UNLABELLED, day_two)] == prod.truth.by_day()[day_two]  # the unlabelled day 2 is untouched
        assert vantage.total_by_day()[START] == held[("prod", START)] + held[("staging", START)]


def test_a_key_written_in_the_config_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    config = tmp_path / "llm-cost.toml"
    for entry in (
        f'litellm_url = "http://127.0.0.1:9"\nlitellm_key = "{PROD_KEY}"',
        f'litellm_url = "http://127.0.0.1:9"\nlitellm_key_env = "{PROD_KEY}"',
    ):
        config.write_text(f'[[sources]]\nlabel = "prod"\nmode = "spend-logs"\n{entry}\n', encoding="utf-8")
        for command in ("export", "dry-run", "upload"):
            result = _invoke(config, command, "--day", "2025-06-01", "--debug")
            assert result.exit_code == 3, result.stderr
            assert "key" in result.stderr.strip().splitlines()[-1]
            assert PROD_KEY not in result.stderr and PROD_KEY not in result.stdout


def test_a_backfill_that_fails_on_one_source_keeps_the_others_and_a_re_run_finishes(
    tmp_path: Path, proxies: tuple[FakeLiteLLM, FakeLiteLLM]
) -> None:
    prod, staging = proxies
    config = _config(tmp_path, prod, staging)
    with FakeVantage(api_key=VKEY, integration_token=VTOKEN) as vantage:
        broken = _upload(config, vantage, *WINDOW, "--keep-going", env={"LITELLM_STAGING_KEY": "sk-wrong-key-000"})
        assert broken.exit_code == 4
        last = broken.stderr.strip().splitlines()[-1]
        assert "uploaded 2 period(s) of the other sources" in last and "staging" in last
        assert _vantage_by_source_day(vantage) == {("prod", day): prod.truth.by_day()[day] for day in DAYS}
        # Vantage fails while the re-run uploads: what landed stays exact, and another re-run finishes it.
        vantage.fail_on_upload_number(vantage.upload_attempts + 3, status=500, times=20)
        interrupted = _upload(config, vantage, *WINDOW)
        assert interrupted.exit_code == 5
        vantage.clear_faults()
        finished = _upload(config, vantage, *WINDOW)
        assert finished.exit_code == 0, finished.stderr
        held = _vantage_by_source_day(vantage)
        assert set(held) == {(label, day) for label in ("prod", "staging") for day in DAYS}
        for day in DAYS:
            assert held[("prod", day)] == prod.truth.by_day()[day]
            assert abs(held[("staging", day)] - staging.truth.by_day()[day]) < Decimal("1e-6")
            for label in ("prod", "staging"):
                prefix = f"llm-cost_{label}_{day.isoformat()}_"
                runs = {u.filename.split("_")[4] for u in vantage.uploads if u.filename.startswith(prefix)}
                assert len(runs) == 1, f"{label} {day} is held by more than one run"


def test_github_outputs_and_summary_report_per_source(tmp_path: Path, proxies: tuple[FakeLiteLLM, FakeLiteLLM]) -> None:
    prod, staging = proxies
    config = _config(tmp_path, prod, staging)
    outputs, summary = tmp_path / "outputs", tmp_path / "summary.md"
    actions = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary)}
    result = _invoke(
        config,
        "export",
        *WINDOW,
        "-o",
        str(tmp_path / "costs.csv"),
        "--keep-going",
        env={**actions, "LITELLM_STAGING_KEY": "sk-wrong-key-000"},
    )
    assert result.exit_code == 4
    values = read_outputs(outputs)
    assert set(values) >= {"sources", "failed-sources", "rows", "total-cost"}
    per_source = json.loads(values["sources"])
    assert set(per_source) == {"prod"} and Decimal(per_source["prod"]["total-cost"]) == prod.truth.total()
    assert values["failed-sources"] == "staging"
    markdown = summary.read_text(encoding="utf-8")
    assert "| Source |" in markdown and "| prod |" in markdown and "**missing** source staging" in markdown

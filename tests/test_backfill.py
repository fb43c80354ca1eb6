"""LiteLLM -> Vantage in one step, day by day: re-runs and interrupted backfills never double-count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from typer.testing import CliRunner, Result

from llm_cost.cli import app
from tests.fakes.litellm import FakeLiteLLM, generate_dataset
from tests.fakes.vantage import FakeVantage

MASTER, VKEY, VTOKEN = "sk-master-1234", "vk_backfill_key_123", "accss_crdntl_backfill_456"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("llm_cost.http.time.sleep", lambda seconds: None)


@pytest.fixture
def fakes() -> Iterator[tuple[FakeLiteLLM, FakeVantage]]:
    dataset = generate_dataset(3, days=5, requests=3000, start_day=date(2025, 6, 1))
    with (
        FakeLiteLLM(dataset, version="1.109.1") as litellm,
        FakeVantage(api_key=VKEY, integration_token=VTOKEN) as vantage,
    ):
        yield litellm, vantage


def _upload(litellm: FakeLiteLLM, vantage: FakeVantage, *args: str) -> Result:
    env = {
        "LITELLM_BASE_URL": litellm.base_url,
        "LITELLM_API_KEY": MASTER,
        "VANTAGE_API_KEY": VKEY,
        "VANTAGE_INTEGRATION_TOKEN": VTOKEN,
        "VANTAGE_BASE_URL": vantage.base_url,
    }
    result = CliRunner().invoke(app, ["upload", "--mode", "spend-logs", *args], env=env)
    for secret in (MASTER, VKEY, VTOKEN):
        assert secret not in result.output and secret not in (result.stderr or "")
    return result


def test_daily_runs_reruns_and_an_interrupted_backfill_keep_totals_exact(
    fakes: tuple[FakeLiteLLM, FakeVantage],
) -> None:
    litellm, vantage = fakes
    truth = litellm.truth.by_day()
    days = sorted(truth)
    assert _upload(litellm, vantage, "--day", days[0].isoformat()).exit_code == 0
    assert _upload(litellm, vantage, "--day", days[1].isoformat()).exit_code == 0
    assert _upload(litellm, vantage, "--day", days[1].isoformat()).exit_code == 0  # the re-run of day 2
    assert vantage.total_cost() == truth[days[0]] + truth[days[1]]

    # A backfill of days 1-5 that fails while uploading day 4, then a re-run.
    uploads_so_far = vantage.upload_attempts
    vantage.fail_on_upload_number(uploads_so_far + 4, status=500, times=20)
    window = ["--start", days[0].isoformat(), "--end", date.fromordinal(days[-1].toordinal() + 1).isoformat()]
    interrupted = _upload(litellm, vantage, *window)
    assert interrupted.exit_code == 5
    assert vantage.total_cost() == sum((truth[d] for d in days[:3]), Decimal(0))  # days 1-3 replaced, day 4 rolled back
    vantage.clear_faults()
    finished = _upload(litellm, vantage, *window)
    assert finished.exit_code == 0, finished.stderr
    assert vantage.total_cost() == litellm.truth.total()
    assert vantage.total_by_day() == truth
    for day in days:
        names = {
            u.filename.split("_")[3] for u in vantage.uploads if u.filename.startswith(f"llm-cost_{day.isoformat()}_")
        }
        assert len(names) == 1, f"{day} is held by more than one run"


def test_a_window_that_cuts_a_day_is_refused(fakes: tuple[FakeLiteLLM, FakeVantage]) -> None:
    litellm, vantage = fakes
    result = _upload(litellm, vantage, "--start", "2025-06-01T12:00:00Z", "--end", "2025-06-02")
    assert result.exit_code == 3 and "whole UTC days" in result.stderr and vantage.count() == 0

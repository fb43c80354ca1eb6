"""The LiteLLM source end to end (CLI -> CSV) against the loopback fake proxy: exact against its ground truth."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, date, timedelta
from decimal import Decimal, localcontext
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from llm_cost.cli import app
from tests.fakes.litellm import CsvSums, FakeLiteLLM, SpendDataset, csv_sums, generate_dataset

MASTER = "sk-master-1234"
START = date(2025, 6, 1)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("llm_cost.http.time.sleep", lambda seconds: None)


@pytest.fixture(scope="module")
def small() -> SpendDataset:
    return generate_dataset(1, days=3, requests=4000, start_day=START)


def _run(fake: FakeLiteLLM, *args: str, key: str = MASTER, command: str = "export") -> Result:
    env = {"LITELLM_BASE_URL": fake.base_url, "LITELLM_API_KEY": key}
    result = CliRunner().invoke(app, ["-v", command, *args], env=env)
    assert key not in result.output and key not in (result.stderr or ""), "the API key leaked"
    return result


def _window(days: int) -> list[str]:
    return ["--start", START.isoformat(), "--end", date.fromordinal(START.toordinal() + days).isoformat()]


def _models(by_model: dict[tuple[date, str | None], Decimal]) -> dict[tuple[date, str], Decimal]:
    """Ground truth per day x model, with a missing model under LiteLLM's own placeholder."""
    out: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for (day, model), spend in by_model.items():
        out[(day, model or "unknown-model")] += spend
    return dict(out)


def _sums(csv_text: str) -> CsvSums:
    return csv_sums(csv.DictReader(io.StringIO(csv_text)))


@pytest.mark.parametrize("version", ["1.109.1", "1.86.7", "1.74.0"])
def test_spend_logs_is_exact_on_every_version_flavour(small: SpendDataset, version: str) -> None:
    with FakeLiteLLM(small, version=version, fault_rate=0.05, seed=3) as fake:
        result = _run(fake, "--mode", "spend-logs", *_window(3))
        assert result.exit_code == 0, result.stderr
        total, by_day, by_model, by_key = _sums(result.stdout)
        truth = fake.truth
        assert total == truth.total()
        assert by_day == truth.by_day()
        assert by_model == _models(truth.by_day_model())
        expected_keys = {k: v for k, v in truth.by_day_key(master_key_as=fake.master_key_api_key).items() if k[1]}
        assert by_key == expected_keys
        assert "retries:" in result.stderr and f"LiteLLM {version}" in result.stderr


@pytest.mark.parametrize("version", ["1.109.1", "1.86.7"])
def test_daily_activity_matches_to_the_cent(small: SpendDataset, version: str) -> None:
    with FakeLiteLLM(small, version=version, fault_rate=0.05, seed=4) as fake:
        result = _run(fake, "--mode", "daily-activity", *_window(3))
        assert result.exit_code == 0, result.stderr
        total, by_day, by_model, _ = _sums(result.stdout)
        truth = fake.truth
        cent = Decimal("0.01")
        daily_truth = truth.by_day(include_health_checks=True)
        health = truth.health_check_total()
        assert abs(total - truth.total()) <= cent, (total, truth.total(), health)
        for day, spend in truth.by_day().items():
            assert abs(by_day[day] - spend) <= cent
        assert set(by_day) == set(daily_truth)
        for key, spend in _models(truth.by_day_model()).items():
            assert abs(by_model.get(key, Decimal(0)) - spend) <= cent


def test_50k_requests_with_faults_exact_in_both_modes_and_reconcile() -> None:
    dataset = generate_dataset(7, days=5, requests=50_000, start_day=START)
    with FakeLiteLLM(dataset, version="1.109.1", fault_rate=0.05, seed=9) as fake:
        truth = fake.truth
        spend = _run(fake, "--mode", "spend-logs", *_window(5))
        assert spend.exit_code == 0, spend.stderr
        total, by_day, by_model, _ = _sums(spend.stdout)
        assert total == truth.total() and by_day == truth.by_day() and by_model == _models(truth.by_day_model())
        daily = _run(fake, "--mode", "daily-activity", *_window(5))
        assert daily.exit_code == 0, daily.stderr
        daily_total, daily_by_day, _, _ = _sums(daily.stdout)
        assert daily_total.quantize(Decimal("0.01")) == truth.total().quantize(Decimal("0.01"))
        reconciled = _run(fake, "--mode", "spend-logs", "--reconcile", *_window(5), command="dry-run")
        assert reconciled.exit_code == 0, reconciled.stderr
        assert "MISMATCH" not in reconciled.stderr and "reconcile" in reconciled.stderr


def test_reconcile_fails_with_exit_6_when_the_endpoints_disagree(small: SpendDataset) -> None:
    with FakeLiteLLM(small, version="1.109.1", daily_activity_skew=Decimal("0.05"), skew_day=START) as fake:
        result = _run(fake, "--mode", "spend-logs", "--reconcile", *_window(3), "-o", "-")
        assert result.exit_code == 6
        assert "MISMATCH" in result.stderr and result.stdout == ""


def test_request_granularity_and_tag_keys(small: SpendDataset) -> None:
    with FakeLiteLLM(small, version="1.109.1") as fake:
        result = _run(
            fake,
            "--mode",
            "spend-logs",
            "--day",
            START.isoformat(),
            "--granularity",
            "request",
            "--no-split-tokens",
            "--tag-key",
            "env",
        )
        assert result.exit_code == 0, result.stderr
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert len(rows) == fake.truth.requests_by_day()[START]
        assert sum(Decimal(r["BilledCost"]) for r in rows) == fake.truth.by_day()[START]
        assert not any("User-Agent" in r["Tags"] or "feature" in r["Tags"] for r in rows)


@pytest.mark.parametrize(
    ("setup", "key", "message"),
    [
        ("none", "sk-wrong-key-0000", "rejected the API key"),
        ("none", "sk-internal", "not an admin key"),
        ("non_json", MASTER, "not JSON"),
        ("truncated", MASTER, "truncated"),
        ("schema", MASTER, "unexpected response"),
        ("nodb", MASTER, "no database"),
    ],
)
def test_bad_input_exits_4_without_traceback(small: SpendDataset, setup: str, key: str, message: str) -> None:
    with FakeLiteLLM(small, version="1.109.1", db=setup != "nodb") as fake:
        if setup in ("non_json", "truncated", "schema"):
            fake.garble_next("/spend/logs/v2", setup)
        result = _run(fake, "--mode", "spend-logs", "--day", START.isoformat(), key=key)
        assert result.exit_code == 4, result.stderr
        lines = result.stderr.strip().splitlines()
        assert message in lines[-1] and "Traceback" not in result.stderr


def test_unreachable_host_exits_4() -> None:
    fake = FakeLiteLLM([], version="1.109.1").start()
    url = fake.base_url
    fake.stop()
    result = CliRunner().invoke(
        app,
        ["export", "--mode", "spend-logs", "--day", "2025-06-01"],
        env={"LITELLM_BASE_URL": url, "LITELLM_API_KEY": MASTER},
    )
    assert result.exit_code == 4 and "cannot reach the LiteLLM proxy" in result.stderr and MASTER not in result.stderr


def test_open_day_needs_include_partial() -> None:
    result = CliRunner().invoke(
        app,
        ["export", "--mode", "spend-logs", "--day", "today"],
        env={"LITELLM_BASE_URL": "http://127.0.0.1:9", "LITELLM_API_KEY": MASTER},
    )
    assert result.exit_code == 3 and "--include-partial" in result.stderr


@pytest.mark.parametrize("mode", ["spend-logs", "daily-activity"])
def test_concurrency_changes_nothing_in_the_output(small: SpendDataset, mode: str) -> None:
    """Days fetched four at a time give the same bytes, in the same order, and the same completeness counts."""
    with FakeLiteLLM(small, version="1.109.1") as fake:
        one = _run(fake, "--mode", mode, *_window(3), "--concurrency", "1")
        four = _run(fake, "--mode", mode, *_window(3), "--concurrency", "4")
    assert one.exit_code == four.exit_code == 0, one.stderr + four.stderr
    assert one.stdout == four.stdout and one.stdout.count("\n") > 10
    counts = [
        ln for ln in one.stderr.splitlines() if ln.lstrip().startswith(("windows", "rows read", "HTTP", "source"))
    ]
    assert counts and all(line in four.stderr for line in counts)


def test_concurrent_days_stay_exact_under_faults(small: SpendDataset) -> None:
    with FakeLiteLLM(small, version="1.109.1", fault_rate=0.1, seed=11) as fake:
        result = _run(fake, "--mode", "spend-logs", *_window(3), "--concurrency", "3", "--granularity", "hour")
        assert result.exit_code == 0, result.stderr
        assert _sums(result.stdout)[0] == fake.truth.total()


def test_a_failing_day_stops_the_concurrent_run(small: SpendDataset, tmp_path: pytest.TempPathFactory) -> None:
    out = tmp_path / "costs.csv"  # type: ignore[operator]
    with FakeLiteLLM(small, version="1.109.1") as fake:
        fake.garble_next("/spend/logs/v2", "truncated")
        result = _run(fake, "--mode", "spend-logs", *_window(3), "--concurrency", "4", "-o", str(out))
    assert result.exit_code == 4, result.stderr
    assert "truncated" in result.stderr.strip().splitlines()[-1] and "Traceback" not in result.stderr
    assert not out.exists()  # type: ignore[attr-defined]


def test_a_tag_sub_account_is_kept_beside_tag_keys_and_its_totals_are_exact(small: SpendDataset) -> None:
    with FakeLiteLLM(small, version="1.109.1") as fake:
        result = _run(
            fake,
            "--mode",
            "spend-logs",
            "--day",
            START.isoformat(),
            "--tag-key",
            "env",
            "--sub-account",
            "tag:feature",
        )
        assert result.exit_code == 0, result.stderr

        def feature(row: Mapping[str, Any]) -> tuple[date, str]:
            tags = row.get("request_tags") or []
            tags = json.loads(tags) if isinstance(tags, str) else tags
            values = [
                t.partition(":")[2].strip() for t in tags if isinstance(t, str) and t.partition(":")[0] == "feature"
            ]
            return row["startTime"].astimezone(UTC).date(), values[-1] if values else ""

        expected = {k[1]: v for k, v in fake.truth._group(feature, False).items() if k[0] == START}
        got: dict[str, Decimal] = {}
        for row in csv.DictReader(io.StringIO(result.stdout)):
            assert (row["SubAccountType"] == "Tag feature") == bool(row["SubAccountId"])
            got[row["SubAccountId"]] = got.get(row["SubAccountId"], Decimal(0)) + Decimal(row["BilledCost"])
        assert len(expected) > 2 and got == expected


def _feature(row: Mapping[str, Any]) -> tuple[date, str]:
    """The truth's chargeback key: a spend row's day and its `feature:` request tag's value ("" for none)."""
    tags = row.get("request_tags") or []
    tags = json.loads(tags) if isinstance(tags, str) else tags
    values = [t.partition(":")[2].strip() for t in tags if isinstance(t, str) and t.partition(":")[0] == "feature"]
    return row["startTime"].astimezone(UTC).date(), values[-1] if values else ""


def _by_sub_account(csv_text: str) -> dict[tuple[date, str], Decimal]:
    got: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    with localcontext(prec=200):
        for row in csv.DictReader(io.StringIO(csv_text)):
            assert (row["SubAccountType"] == "Tag feature") == bool(row["SubAccountId"])
            got[(date.fromisoformat(row["ChargePeriodStart"][:10]), row["SubAccountId"])] += Decimal(row["BilledCost"])
    return dict(got)


@pytest.mark.parametrize(("version", "page_size"), [("1.109.1", 1000), ("1.109.1", 40), ("1.86.7", 40)])
def test_a_tag_sub_account_in_daily_activity_apportions_each_day_exactly(
    small: SpendDataset, version: str, page_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per day and feature value the spend matches the spend logs' truth (the daily tables are float sums), and the
    values with the untagged rest add up to the plain daily-activity export exactly, digit for digit. Small pages
    make the tag reads page, and on 1.86.7 (unstable order, no tag /aggregated) split by model and key."""
    monkeypatch.setattr("llm_cost.sources.litellm.daily_activity.PAGE_SIZE", page_size)
    with FakeLiteLLM(small, version=version, fault_rate=0.03, seed=5) as fake:
        plain = _run(fake, "--mode", "daily-activity", *_window(2))
        tagged = _run(fake, "--mode", "daily-activity", *_window(2), "--sub-account", "tag:feature")
        assert plain.exit_code == tagged.exit_code == 0, plain.stderr + tagged.stderr
        assert "/tag/daily/activity" in tagged.stderr
        truth = {k: v for k, v in fake.truth._group(_feature, False).items() if k[0] < START + timedelta(days=2)}
    got = _by_sub_account(tagged.stdout)
    assert got.keys() == truth.keys() and len({value for _, value in got}) > 3
    assert all(abs(got[k] - truth[k]) < Decimal("1e-6") for k in truth), {k: got[k] - truth[k] for k in truth}
    assert sum(got.values()) == _sums(plain.stdout)[0]


def _tagged_dataset(tags: list[list[str]]) -> SpendDataset:
    """A small dataset whose rows carry the given request tags in turn."""
    dataset = generate_dataset(2, days=1, requests=300, start_day=START)
    for i, row in enumerate(dataset):
        row["request_tags"] = tags[i % len(tags)]
    return dataset


def test_a_request_with_two_values_of_the_tag_fails_loudly_in_daily_activity() -> None:
    dataset = _tagged_dataset([["cost-center:eng"]] * 200 + [["cost-center:eng", "cost-center:ops"]])
    with FakeLiteLLM(dataset, version="1.109.1") as fake:
        result = _run(fake, "--mode", "daily-activity", "--day", START.isoformat(), "--sub-account", "tag:cost-center")
    assert result.exit_code == 4 and result.stdout == "" and "Traceback" not in result.stderr
    assert "two values of cost-center" in result.stderr.strip().splitlines()[-1]


def test_a_tag_value_with_a_comma_cannot_be_read_from_daily_activity() -> None:
    dataset = _tagged_dataset([["cost-center:eng"], ["cost-center:r&d, berlin"], []])
    with FakeLiteLLM(dataset, version="1.109.1") as fake:
        result = _run(fake, "--mode", "daily-activity", "--day", START.isoformat(), "--sub-account", "tag:cost-center")
    assert result.exit_code == 4 and result.stdout == ""
    last = result.stderr.strip().splitlines()[-1]
    assert "holds a comma" in last and "--mode spend-logs" in last


def test_spelling_variants_of_one_value_are_one_sub_account_in_daily_activity() -> None:
    dataset = _tagged_dataset([["cost-center:eng"], ["cost-center: eng "], ["cost-center:"], ["other:x"], []])
    with FakeLiteLLM(dataset, version="1.109.1") as fake:
        result = _run(fake, "--mode", "daily-activity", "--day", START.isoformat(), "--sub-account", "tag:cost-center")
        assert result.exit_code == 0, result.stderr
        truth = fake.truth
    values = {row["SubAccountId"] for row in csv.DictReader(io.StringIO(result.stdout))}
    assert values == {"eng", ""}
    assert _sums(result.stdout)[0] > 0 and abs(_sums(result.stdout)[0] - truth.total()) < Decimal("1e-6")

"""`llm-cost upload` end to end against the loopback fake Vantage: whole, exactly once, replace, roll back."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from llm_cost.cli import app
from llm_cost.focus.columns import VANTAGE, columns_for
from llm_cost.focus.mapping import MappingOptions
from llm_cost.pipeline import write_partitions
from llm_cost.pricing import PriceBook
from llm_cost.records import TokenCounts, UsageRecord
from llm_cost.sinks.csv_writer import CsvSink
from tests.fakes.vantage import FakeVantage, fake_vantage_fixture

KEY, TOKEN = "vk_test_secret_key_9f8e7d", "accss_crdntl_test_token_1a2b3c"
DAY = datetime(2026, 10, 5, tzinfo=UTC)
ALIASES = ['Équipe "Données", R&D', "Ops, EU\nnight shift", 'Team "A"', "東京チーム", "plain"]


@pytest.fixture
def fake() -> Iterator[FakeVantage]:
    yield from fake_vantage_fixture(api_key=KEY, integration_token=TOKEN)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr("llm_cost.sinks.vantage.upload.time.sleep", waits.append)
    return waits


def _records(groups: int) -> list[UsageRecord]:
    """LiteLLM-shaped records, one group each, with hostile aliases and model groups (raw newlines in ServiceName)."""
    models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-0"]
    return [
        UsageRecord(
            DAY,
            DAY,
            "openai" if i % 3 < 2 else "anthropic",
            models[i % 3],
            Decimal(i % 97 + 1) / 1000,
            tokens=TokenCounts(input=1000 + i, output=10 + i % 50, cache_read=i % 7 + 1, cache_write=i % 5 + 1),
            model_group=f'group {i % 11}, "prod"\n{ALIASES[i % 5]}',
            api_key_hash=f"hash-{i:06d}",
            key_alias=ALIASES[(i + 1) % 5],
            team_id=f"team-{i % 13}",
            team_alias=ALIASES[i % 5],
            source="litellm",
        )
        for i in range(groups)
    ]


def _export(path: Path, groups: int) -> Decimal:
    columns = columns_for("focus")
    with CsvSink(str(path), columns) as sink:
        # ServiceName from the model groups, so the hostile names reach that column too.
        mapping = MappingOptions(service_name="model-group")
        result = write_partitions(
            [lambda: _records(groups)], prices=PriceBook(), columns=columns, sinks=[sink], mapping=mapping
        )
    return result.total_cost


def _upload(fake: FakeVantage, *args: str, key: str = KEY, token: str = TOKEN) -> Result:
    env = {"VANTAGE_API_KEY": key, "VANTAGE_INTEGRATION_TOKEN": token, "VANTAGE_BASE_URL": fake.base_url}
    result = CliRunner().invoke(app, ["upload", *args], env=env)
    assert KEY not in result.output and TOKEN not in result.output, "a secret leaked into the output"
    assert KEY not in (result.stderr or "") and TOKEN not in (result.stderr or "")
    return result


def _vantage_rows(path: Path) -> Counter[tuple[str, ...]]:
    """The FOCUS file's rows as the Vantage profile must carry them: Category = the model, Subcategory = the token
    type (written independently of `vantage_values`)."""
    subcategory = {"input": "input", "output": "output", "cache_read": "cached input", "cache_write": "cache write"}
    with path.open(encoding="utf-8", newline="") as handle:
        return Counter(
            tuple(
                row["x_Model"]
                if c == "ServiceCategory"
                else subcategory[row["x_TokenType"]]
                if c == "ResourceType"
                else row[c]
                for c in VANTAGE
            )
            for row in csv.DictReader(handle)
        )


def test_25k_rows_arrive_whole_exactly_once_in_valid_batches(fake: FakeVantage, tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    total = _export(path, 6300)
    expected = _vantage_rows(path)
    assert sum(expected.values()) >= 25_000
    result = _upload(fake, str(path))
    assert result.exit_code == 0, result.stderr
    assert fake.limit_violations == [] and len(fake.uploads) > 1
    received = Counter(tuple(row.get(c, "") for c in VANTAGE) for row in fake.rows())
    assert received == expected  # every row, byte for byte, exactly once
    # The hostile aliases arrive whole in the Billing Account and Account columns (and the model group in Service).
    arrived = fake.rows()
    assert {row["BillingAccountName"] for row in arrived} == set(ALIASES)
    assert {row["SubAccountName"] for row in arrived} == set(ALIASES)
    assert {row["ServiceCategory"] for row in arrived} == {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-0"}
    assert fake.total_cost() == total
    assert all(u.filename.startswith("llm-cost_2026-10-05_2026-10-06_") for u in fake.uploads)
    assert "total cost" in result.stderr


def test_rerunning_a_period_leaves_totals_unchanged(fake: FakeVantage, tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    total = _export(path, 300)
    for _ in range(3):
        assert _upload(fake, str(path)).exit_code == 0
        assert fake.total_cost() == total
    assert len(fake.uploads) == 1 and len(fake.deleted) == 2


def test_append_keeps_earlier_uploads(fake: FakeVantage, tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    total = _export(path, 10)
    assert _upload(fake, str(path)).exit_code == 0
    result = _upload(fake, str(path), "--append")
    assert result.exit_code == 0 and fake.total_cost() == 2 * total and "append mode" in result.stderr


def test_a_failed_part_rolls_back_and_keeps_the_earlier_upload(fake: FakeVantage, tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    total = _export(path, 4000)  # several parts
    assert _upload(fake, str(path)).exit_code == 0
    before = {u.token for u in fake.uploads}
    fake.fail_on_upload_number(fake.upload_attempts + 3, status=500, times=10)
    result = _upload(fake, str(path))
    assert result.exit_code == 5
    assert "rolled back 2 uploaded part(s)" in result.stderr
    assert {u.token for u in fake.uploads} == before and fake.total_cost() == total


def test_429_and_5xx_are_retried(fake: FakeVantage, tmp_path: Path, no_sleep: list[float]) -> None:
    path = tmp_path / "costs.csv"
    total = _export(path, 50)
    fake.fail_next("POST", status=429, retry_after=3, times=1)
    fake.fail_next("POST", status=503, times=2)
    fake.fail_next("GET", status=502, times=1)
    result = _upload(fake, str(path))
    assert result.exit_code == 0, result.stderr
    assert fake.total_cost() == total and len(fake.uploads) == 1
    assert 3.0 in no_sleep and len(no_sleep) >= 4


def test_a_lost_response_cannot_double_count(fake: FakeVantage, tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    total = _export(path, 50)
    fake.drop_on_upload_number(1, after_processing=True)  # stored, but the client never hears back and retries
    result = _upload(fake, str(path))
    assert result.exit_code == 0, result.stderr
    assert fake.total_cost() == total and len(fake.uploads) == 1
    assert "recorded" in result.stderr and "twice" in result.stderr


def test_422_is_shown_and_exits_5(fake: FakeVantage, tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    _export(path, 5)
    errors = [f"Row {i}: BilledCost must be a valid number" for i in range(1, 13)]
    fake.fail_next("POST", status=422, errors=errors)
    result = _upload(fake, str(path))
    assert result.exit_code == 5
    assert "Row 1: BilledCost must be a valid number" in result.stderr and "... and 2 more" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: Vantage rejected")
    assert fake.uploads == []


@pytest.mark.parametrize(
    ("key", "token", "hint"),
    [("vk_wrong_key_0000", TOKEN, "VANTAGE_API_KEY"), (KEY, "accss_crdntl_unknown_777", "VANTAGE_INTEGRATION_TOKEN")],
)
def test_wrong_key_or_unknown_token_exit_5(fake: FakeVantage, tmp_path: Path, key: str, token: str, hint: str) -> None:
    path = tmp_path / "costs.csv"
    _export(path, 5)
    result = _upload(fake, str(path), key=key, token=token)
    assert result.exit_code == 5 and hint in result.stderr
    assert key not in result.stderr and token not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # the error line (and at most Vantage's one message)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("ChargePeriodStart,BilledCost,ServiceName\n2026-10-05,1.0,x\n", "required column"),
        ("name,amount\nfoo,1\n", "not a FOCUS CSV"),
        (",".join(VANTAGE) + "\n", "no rows"),
    ],
)
def test_bad_files_exit_3_and_send_nothing(fake: FakeVantage, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    result = _upload(fake, str(path))
    assert result.exit_code == 3 and message in result.stderr
    assert fake.count("POST") == 0


def test_rows_vantage_would_reject_never_leave_the_machine(fake: FakeVantage, tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    _export(path, 5)
    text = path.read_text(encoding="utf-8").replace(",Usage,", ",Adjustment,", 1)
    path.write_text(text, encoding="utf-8")
    result = _upload(fake, str(path))
    assert result.exit_code == 3 and "ChargeCategory 'Adjustment'" in result.stderr
    assert fake.count() == 0


def _manifest(tmp_path: Path) -> Path:
    (tmp_path / "p.txt").write_text("hello", encoding="utf-8")
    manifest = tmp_path / "m.toml"
    manifest.write_text(
        '[[prompts]]\npath = "p.txt"\ninput_tokens = 1000\nexpected_output_tokens = 100\ncalls = 10\n', encoding="utf-8"
    )
    return manifest


def test_source_mode_builds_and_uploads_and_replaces(fake: FakeVantage, tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    args = ["--manifest", str(manifest), "--date", "2026-10-05"]
    assert _upload(fake, *args).exit_code == 0
    first = fake.total_cost()
    assert first == Decimal("0.035")  # 10 x (1000 x 2.5 + 100 x 10) / 1e6
    assert _upload(fake, *args).exit_code == 0
    assert fake.total_cost() == first and len(fake.uploads) == 1
    assert fake.uploads[0].filename.startswith("llm-cost_2026-10-05_2026-10-06_")


def test_dry_run_sends_nothing_and_shows_what_would_be_replaced(fake: FakeVantage, tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    args = ["--manifest", str(manifest), "--date", "2026-10-05"]
    assert _upload(fake, *args).exit_code == 0
    result = _upload(fake, *args, "--dry-run")
    assert result.exit_code == 0
    assert fake.count("POST") == 1 and fake.count("DELETE") == 0
    assert "would upload 1 file(s)" in result.stderr and "would replace 1 earlier upload(s)" in result.stderr


def test_wait_polls_until_complete(tmp_path: Path) -> None:
    with FakeVantage(api_key=KEY, integration_token=TOKEN, complete_after_lists=3) as fake:
        path = tmp_path / "costs.csv"
        _export(path, 5)
        result = _upload(fake, str(path), "--wait")
        assert result.exit_code == 0, result.stderr
        assert "import complete" in result.stderr and fake.uploads[0].import_status == "complete"


def test_unreachable_vantage_exits_5(tmp_path: Path) -> None:
    fake = FakeVantage(api_key=KEY, integration_token=TOKEN).start()
    url = fake.base_url
    fake.stop()  # the port now refuses connections
    path = tmp_path / "costs.csv"
    _export(path, 2)
    env = {"VANTAGE_API_KEY": KEY, "VANTAGE_INTEGRATION_TOKEN": TOKEN, "VANTAGE_BASE_URL": url}
    result = CliRunner().invoke(app, ["upload", str(path)], env=env)
    assert result.exit_code == 5 and "could not be reached" in result.stderr
    assert TOKEN not in result.stderr and KEY not in result.stderr


def test_hostile_fields_survive_the_trip(fake: FakeVantage, tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    _export(path, 5)
    assert _upload(fake, str(path)).exit_code == 0
    names = {row["ServiceName"] for row in fake.rows()}
    assert any("\n" in n and '"' in n and "," in n for n in names)
    assert any("Équipe" in row["Tags"] for row in fake.rows())


def test_missing_credentials_fail_before_any_work(tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    _export(path, 2)
    result = CliRunner().invoke(app, ["upload", str(path)], env={"VANTAGE_INTEGRATION_TOKEN": TOKEN})
    assert result.exit_code == 3 and "VANTAGE_API_KEY" in result.stderr


def test_the_upload_list_is_followed_page_by_page_so_every_earlier_upload_is_replaced(tmp_path: Path) -> None:
    """With `links.next` on the list, an earlier upload on page 2 must still be found and replaced."""
    path = tmp_path / "costs.csv"
    total = _export(path, 10)
    for fake in fake_vantage_fixture(api_key=KEY, integration_token=TOKEN, list_page_size=2):
        for number in range(5):  # other days' uploads fill page 1 and 2
            day = f"2026-09-0{number + 1}"
            fake.add_upload(
                f"ChargePeriodStart,ChargeCategory,BilledCost,ServiceName\n{day},Usage,1.0,x\n",
                f"llm-cost_{day}_2026-09-0{number + 2}_old_part001.csv",
            )
        assert _upload(fake, str(path)).exit_code == 0
        first = {u.token for u in fake.uploads if u.filename.startswith("llm-cost_2026-10-05")}
        assert _upload(fake, str(path)).exit_code == 0  # its earlier upload is on page 3 now
        today = [u for u in fake.uploads if u.filename.startswith("llm-cost_2026-10-05")]
        assert len(today) == 1 and today[0].token not in first
        assert fake.total_cost() == total + 5
        assert any(r.method == "GET" and r.query == "page=3" for r in fake.requests)


def test_a_failed_delete_of_the_earlier_upload_names_the_period_and_a_rerun_repairs_it(
    fake: FakeVantage, tmp_path: Path
) -> None:
    path = tmp_path / "costs.csv"
    total = _export(path, 40)
    assert _upload(fake, str(path)).exit_code == 0
    fake.fail_next("DELETE", status=503, times=50)  # Vantage goes down after the new parts landed
    result = _upload(fake, str(path), "--retry-budget", "0")
    assert result.exit_code == 5
    message = result.stderr.replace("\n", " ")
    assert "period 2026-10-05 to 2026-10-06 is counted twice" in message and "re-run the same command" in message
    assert "Traceback" not in result.stderr
    assert fake.total_cost() == 2 * total  # as the message says
    fake.clear_faults()
    assert _upload(fake, str(path)).exit_code == 0  # the repair: its list finds both earlier runs
    assert fake.total_cost() == total and len(fake.uploads) == 1


def test_a_rollback_that_cannot_delete_names_the_half_replaced_period_and_a_rerun_repairs_it(
    fake: FakeVantage, tmp_path: Path
) -> None:
    path = tmp_path / "costs.csv"
    total = _export(path, 4000)  # several parts
    assert _upload(fake, str(path)).exit_code == 0
    fake.fail_on_upload_number(fake.upload_attempts + 3, status=500, times=50)  # part 3 fails ...
    fake.fail_next("DELETE", status=502, times=50)  # ... and so does every rollback delete
    result = _upload(fake, str(path), "--retry-budget", "0")
    assert result.exit_code == 5
    message = result.stderr.replace("\n", " ")
    assert "period 2026-10-05 to 2026-10-06 is half-replaced" in message and "re-run the same command" in message
    assert "could not delete 2 uploaded part(s)" in message
    assert fake.total_cost() > total  # the earlier upload plus two parts of the failed run
    fake.clear_faults()
    assert _upload(fake, str(path)).exit_code == 0
    assert fake.total_cost() == total
    assert len({u.filename.split("_")[3] for u in fake.uploads}) == 1  # one run holds the period


def test_a_lost_upload_answer_is_rolled_back_too(fake: FakeVantage, tmp_path: Path) -> None:
    """A part Vantage stored although its answer never came must not stay behind when a later part fails."""
    path = tmp_path / "costs.csv"
    _export(path, 4000)
    first = fake.upload_attempts
    fake.drop_on_upload_number(first + 2, times=10, after_processing=True)  # part 2 is stored, its answers lost
    result = _upload(fake, str(path), "--max-tries", "2")
    assert result.exit_code == 5
    assert fake.uploads == [] and fake.total_cost() == 0

"""Golden FOCUS files: the exact bytes of known inputs. Regenerate with LLM_COST_UPDATE_GOLDEN=1 after a
deliberate change, and review the diff. The FOCUS 1.2 goldens are also checked by the official validator
(tests/focus/test_official_validator.py)."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llm_cost.cli import app
from llm_cost.focus.adjustments import Adjustment, Adjustments
from llm_cost.focus.columns import columns_for
from llm_cost.focus.mapping import MappingOptions
from llm_cost.pipeline import write_partitions
from llm_cost.pricing import PriceBook
from llm_cost.sinks.csv_writer import CsvSink

GOLDEN = Path(__file__).resolve().parent / "golden"
INPUTS = GOLDEN / "inputs"
DATE = "2026-10-05"
UPDATE = os.environ.get("LLM_COST_UPDATE_GOLDEN") == "1"  # read before the autouse fixture clears LLM_COST_*


def _compare(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_bytes(data)
    assert path.is_file(), f"{name} is missing; run with LLM_COST_UPDATE_GOLDEN=1 to create it"
    assert data.decode("utf-8") == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"
    assert data.isascii(), "goldens checked by the official validator must be ASCII (focus.md §3.4b)"


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("manifest_focus-1.2.csv", []),
        ("manifest_focus-1.0.csv", ["--focus-version", "1.0"]),
        ("manifest_vantage.csv", ["--format", "vantage"]),
        ("manifest_requests_focus-1.2.csv", ["--no-split-tokens"]),
    ],
)
def test_manifest_golden(name: str, args: list[str]) -> None:
    result = CliRunner().invoke(app, ["export", "--manifest", str(INPUTS / "manifest.toml"), "--date", DATE, *args])
    assert result.exit_code == 0, result.stderr
    _compare(name, result.stdout_bytes)


def _litellm_records() -> list:
    spec = importlib.util.spec_from_file_location("golden_litellm_records", INPUTS / "litellm_records.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.records()


@pytest.mark.parametrize(
    ("name", "profile", "sub_account", "adjusted"),
    [
        ("litellm_focus-1.2.csv", "focus", "team", False),
        ("litellm_focus-1.2_adjusted.csv", "focus", "team", True),
        ("litellm_vantage.csv", "vantage", "team", False),
        ("litellm_vantage_sub-account-user.csv", "vantage", "user", False),
        ("litellm_vantage_sub-account-org.csv", "vantage", "org", False),
        ("litellm_vantage_sub-account-tag.csv", "vantage", "tag:feature", False),
    ],
)
def test_litellm_shaped_golden(name: str, profile: str, sub_account: str, adjusted: bool) -> None:
    records = _litellm_records()
    out = io.BytesIO()
    columns = columns_for(profile)  # type: ignore[arg-type]
    adjustments = Adjustments((ANTHROPIC_DEAL,)) if adjusted else Adjustments()
    with CsvSink("-", columns, stdout=out) as sink:
        write_partitions(
            [lambda: records],
            prices=PriceBook(),
            columns=columns,
            sinks=[sink],
            mapping=MappingOptions(sub_account=sub_account, adjustments=adjustments),
        )
    _compare(name, out.getvalue())


ANTHROPIC_DEAL = Adjustment("anthropic-deal", "anthropic", None, Decimal("12.5"))


def test_the_adjusted_golden_against_the_plain_one_by_hand() -> None:
    """Checked without the mapping: the 12.5 % deal on Anthropic lists each Anthropic row at the plain golden's
    BilledCost and bills 0.875 of it; other providers' rows are unchanged; the deal is named in Tags."""
    plain = list(csv.DictReader(io.StringIO((GOLDEN / "litellm_focus-1.2.csv").read_text(encoding="utf-8"))))
    adjusted = list(
        csv.DictReader(io.StringIO((GOLDEN / "litellm_focus-1.2_adjusted.csv").read_text(encoding="utf-8")))
    )
    assert len(plain) == len(adjusted)
    deal = 0
    for before, after in zip(plain, adjusted, strict=True):
        tags = json.loads(after["Tags"])
        if after["ProviderName"] == "Anthropic":
            deal += 1
            assert Decimal(after["ListCost"]) == Decimal(before["BilledCost"])
            assert Decimal(after["BilledCost"]) == Decimal(before["BilledCost"]) * Decimal("0.875")
            assert after["BilledCost"] == after["EffectiveCost"] == after["ContractedCost"]
            assert tags["x-adjustment"] == "anthropic-deal"
        else:
            assert after == before
    assert deal >= 3
    total = sum(Decimal(r["BilledCost"]) for r in adjusted)
    anthropic = sum(Decimal(r["BilledCost"]) for r in plain if r["ProviderName"] == "Anthropic")
    assert total == Decimal("0.54068") - anthropic * Decimal("0.125")


def _labelled_config(tmp_path: Path) -> Path:
    """Two labelled manifest sources over the golden manifest (the same prompts under two labels)."""
    config = tmp_path / "llm-cost.toml"
    manifest = (INPUTS / "manifest.toml").as_posix()
    config.write_text(
        f'[[sources]]\nlabel = "plan"\nmode = "manifest"\nmanifest = "{manifest}"\n\n'
        f'[[sources]]\nlabel = "plan-copy"\nmode = "manifest"\nmanifest = "{manifest}"\n',
        encoding="utf-8",
    )
    return config


def test_labelled_sources_golden(tmp_path: Path) -> None:
    config = _labelled_config(tmp_path)
    result = CliRunner().invoke(app, ["export", "--config", str(config), "--date", DATE])
    assert result.exit_code == 0, result.stderr
    _compare("sources_focus-1.2.csv", result.stdout_bytes)


def test_the_labelled_golden_against_the_unlabelled_one_by_hand() -> None:
    """Checked without the code: the `plan` rows are the unlabelled golden's rows with x_Source and Tags `source`
    added, and the `plan-copy` rows follow them, the same but for the label."""
    plain = list(csv.DictReader(io.StringIO((GOLDEN / "manifest_focus-1.2.csv").read_text(encoding="utf-8"))))
    labelled = list(csv.DictReader(io.StringIO((GOLDEN / "sources_focus-1.2.csv").read_text(encoding="utf-8"))))
    plan = [row for row in labelled if row["x_Source"] == "plan"]
    copy = labelled[len(plan) :]
    assert labelled[: len(plan)] == plan and len(copy) == len(plan)
    assert len(plan) == len(plain)
    for before, after in zip(plain, plan, strict=True):
        tags = json.loads(after.pop("Tags"))
        assert tags.pop("source") == "plan" and tags == json.loads(before.pop("Tags"))
        assert after.pop("x_Source") == "plan" and after == before
    for original, copied in zip(plan, copy, strict=True):
        assert copied.pop("x_Source") == "plan-copy" and json.loads(copied.pop("Tags"))["source"] == "plan-copy"
        original.pop("x_Source", None)
        assert copied == original

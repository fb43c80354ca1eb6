"""How a labelled upload is cut into transactions: alone per source and period, together where every source takes a
period over from an unlabelled upload, refused or skipped where that would count twice or lose a source."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from rich.console import Console

from llm_cost.errors import ConfigError, SourceError
from llm_cost.fanout import SourceFailure
from llm_cost.output import Output
from llm_cost.runs import UploadJob, UploadPlan, transactions
from llm_cost.sinks.vantage.batching import build_batches
from tests.fakes.vantage import vantage_row

DAY1 = (date(2025, 6, 1), date(2025, 6, 2))
DAY2 = (date(2025, 6, 2), date(2025, 6, 3))


class _Listing:
    """A Vantage client that only lists."""

    def __init__(self, *filenames: str) -> None:
        self.uploads = [{"token": f"t{n}", "filename": name} for n, name in enumerate(filenames)]

    def list_uploads(self) -> list[dict[str, Any]]:
        return self.uploads


def _out() -> tuple[Output, io.StringIO]:
    stream = io.StringIO()
    return Output(Console(file=stream, width=400)), stream


def _plan(*jobs: tuple[str, tuple[date, date]], complete: bool = True) -> UploadPlan:
    plan = UploadPlan(labels=("prod", "staging"), complete=complete)
    for label, period in jobs:
        plan.jobs.append(UploadJob(f"{label} {period[0]}", build_batches([vantage_row(1)]), period, label))
    return plan


def _shape(result: list[tuple[list[UploadJob], list[dict[str, Any]]]]) -> list[tuple[list[str], list[str]]]:
    return [([job.source for job in jobs], [u["token"] for u in replaced]) for jobs, replaced in result]


def test_without_unlabelled_uploads_every_job_goes_alone() -> None:
    out, _ = _out()
    plan = _plan(("prod", DAY1), ("staging", DAY1), ("prod", DAY2))
    client = _Listing("llm-cost_prod_2025-06-01_2025-06-02_R_part001.csv", "costs.csv")
    result = transactions(plan, client, out, append=False)
    assert _shape(result) == [
        (["prod 2025-06-01"], []),
        (["staging 2025-06-01"], []),
        (["prod 2025-06-02"], []),
    ]


def test_every_source_takes_an_unlabelled_period_over_together() -> None:
    out, _ = _out()
    plan = _plan(("prod", DAY1), ("staging", DAY1), ("prod", DAY2), ("staging", DAY2))
    client = _Listing(
        "llm-cost_2025-06-01_2025-06-02_OLD_part001.csv", "llm-cost_2025-06-01_2025-06-02_OLD_part002.csv"
    )
    result = transactions(plan, client, out, append=False)
    assert _shape(result) == [
        (["prod 2025-06-01", "staging 2025-06-01"], ["t0", "t1"]),
        (["prod 2025-06-02"], []),
        (["staging 2025-06-02"], []),
    ]


def test_append_and_a_dry_run_without_credentials_never_take_over() -> None:
    out, _ = _out()
    plan = _plan(("prod", DAY1), ("staging", DAY1))
    client = _Listing("llm-cost_2025-06-01_2025-06-02_OLD_part001.csv")
    assert _shape(transactions(plan, client, out, append=True)) == [
        (["prod 2025-06-01"], []),
        (["staging 2025-06-01"], []),
    ]
    assert len(transactions(plan, None, out, append=False)) == 2


def test_a_run_of_some_sources_refuses_an_unlabelled_period() -> None:
    out, _ = _out()
    plan = _plan(("prod", DAY1), complete=False)
    client = _Listing("llm-cost_2025-06-01_2025-06-02_OLD_part001.csv")
    with pytest.raises(ConfigError, match="run without --source once"):
        transactions(plan, client, out, append=False)


def test_a_keep_going_gap_skips_an_unlabelled_period_and_says_so() -> None:
    out, stream = _out()
    plan = _plan(("prod", DAY1), ("prod", DAY2), ("staging", DAY2))
    plan.failures.append(SourceFailure("staging", SourceError("source staging: down")))
    client = _Listing("llm-cost_2025-06-01_2025-06-02_OLD_part001.csv")
    result = transactions(plan, client, out, append=False)
    assert _shape(result) == [(["prod 2025-06-02"], []), (["staging 2025-06-02"], [])]
    assert "period 2025-06-01 to 2025-06-02 was not uploaded" in stream.getvalue()
    assert "staging failed" in stream.getvalue()


def test_an_unlabelled_upload_over_several_periods_is_kept_and_named() -> None:
    out, stream = _out()
    plan = _plan(("prod", DAY1), ("staging", DAY1))
    client = _Listing("llm-cost_2025-05-30_2025-06-07_WEEK_part001.csv")
    result = transactions(plan, client, out, append=False)
    assert _shape(result) == [(["prod 2025-06-01"], []), (["staging 2025-06-01"], [])]
    assert "llm-cost_2025-05-30_2025-06-07_WEEK_part001.csv" in stream.getvalue()
    assert "were not replaced" in stream.getvalue()

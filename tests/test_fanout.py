"""Several sources at once: the concurrency bound, fail-fast with the source's name, --keep-going, and a bug that
still fails the run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_cost.errors import ConfigError, LlmCostError, SourceError, VerificationError
from llm_cost.fanout import SourceFailure, for_each_source, keep_going_error, named, shares
from llm_cost.pipeline import Stopped
from llm_cost.settings import SourceRun, resolve_export_settings


def _runs(*labels: str) -> list[SourceRun]:
    settings = resolve_export_settings({"manifest": str(Path("none.toml"))})
    return [SourceRun(label, settings, complete=True) for label in labels]


@given(st.integers(1, 16), st.integers(1, 40))
def test_sources_at_once_times_their_slices_never_pass_the_bound(concurrency: int, sources: int) -> None:
    at_once, slices = shares(concurrency, sources)
    assert 1 <= at_once <= sources and slices >= 1
    assert at_once * slices <= concurrency
    assert at_once == min(sources, concurrency)  # every source that can run does


def test_results_come_in_the_order_of_the_sources() -> None:
    def work(run: SourceRun, slices: int, stop: threading.Event) -> str:
        time.sleep(0.02 if run.label == "a" else 0)
        return f"{run.label}:{slices}"

    done, failures = for_each_source(_runs("a", "b", "c"), work, concurrency=4, keep_going=False)
    assert [result for _, result in done] == ["a:1", "b:1", "c:1"] and failures == []


def test_a_failure_stops_the_others_and_is_raised_with_its_label() -> None:
    stopped: list[str] = []

    def work(run: SourceRun, slices: int, stop: threading.Event) -> None:
        if run.label == "staging":
            raise SourceError("LiteLLM answered HTTP 401")
        assert stop.wait(5), "the other source was never told to stop"
        stopped.append(str(run.label))
        raise Stopped

    with pytest.raises(SourceError, match=r"^source staging: LiteLLM answered HTTP 401$") as caught:
        for_each_source(_runs("prod", "staging"), work, concurrency=2, keep_going=False)
    assert caught.value.exit_code == 4 and stopped == ["prod"]


def test_a_source_that_has_not_begun_when_the_run_fails_never_begins() -> None:
    began: list[str] = []

    def work(run: SourceRun, slices: int, stop: threading.Event) -> None:
        began.append(str(run.label))
        raise ConfigError("bad manifest")

    with pytest.raises(ConfigError, match="^source a: bad manifest$"):
        for_each_source(_runs("a", "b", "c"), work, concurrency=1, keep_going=False)
    assert began == ["a"]


def test_keep_going_returns_the_failures_and_the_others_results() -> None:
    def work(run: SourceRun, slices: int, stop: threading.Event) -> str:
        if run.label == "b":
            raise VerificationError("reconcile: off by 2 USD")
        return str(run.label)

    done, failures = for_each_source(_runs("a", "b", "c"), work, concurrency=3, keep_going=True)
    assert [result for _, result in done] == ["a", "c"]
    assert [(f.label, type(f.error), str(f.error)) for f in failures] == [
        ("b", VerificationError, "source b: reconcile: off by 2 USD")
    ]
    error = keep_going_error(failures, "wrote 10 rows")
    assert error.exit_code == 4 and str(error) == (
        "--keep-going: wrote 10 rows, without 1 failed source(s): b (source b: reconcile: off by 2 USD)"
    )


def test_keep_going_still_fails_on_a_bug() -> None:
    def work(run: SourceRun, slices: int, stop: threading.Event) -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        for_each_source(_runs("a"), work, concurrency=1, keep_going=True)


def test_naming_keeps_the_class_the_details_and_never_names_twice() -> None:
    error = named("prod", SourceError("down", details=["line"]))
    assert isinstance(error, SourceError) and error.details == ["line"] and str(error) == "source prod: down"
    assert named("prod", error) is error
    plain = LlmCostError("x")
    assert named(None, plain) is plain
    assert str(SourceFailure("prod", error)) == "prod (source prod: down)"

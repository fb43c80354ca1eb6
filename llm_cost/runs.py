"""What the commands do, between parsed settings and the pipeline: export/dry-run runs and upload jobs. With
cli.py, this is where the concrete destinations are chosen; sources come from their registry."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from llm_cost import charts, github
from llm_cost.errors import ConfigError
from llm_cost.fanout import SourceFailure, for_each_source, keep_going_error
from llm_cost.focus.columns import VANTAGE, columns_for
from llm_cost.formats import format_decimal
from llm_cost.http import RetryPolicy
from llm_cost.output import Output, RunProgress
from llm_cost.pipeline import Outcome, RunResult, run
from llm_cost.reports import render_table, table_markdown
from llm_cost.settings import ExportSettings, SourceRun
from llm_cost.sinks.csv_reader import read_focus_csv
from llm_cost.sinks.csv_writer import CsvSink, check_output_path
from llm_cost.sinks.interface import Destination
from llm_cost.sinks.preview import ChartBy, Summary
from llm_cost.sinks.vantage.batching import Batches, BatchWriter, Part, build_batches
from llm_cost.sinks.vantage.client import VantageClient
from llm_cost.sinks.vantage.settings import VantageSettings
from llm_cost.sinks.vantage.upload import (
    PeriodUpload,
    UploadResult,
    new_run_id,
    unlabelled_period,
    upload_together,
    uploads_table,
    wait_until_imported,
)
from llm_cost.sources import registry
from llm_cost.sources.interface import Verification
from llm_cost.sources.registry import open_source

T = TypeVar("T")


def source_rows(
    settings: ExportSettings,
    out: Output,
    columns: Sequence[str],
    destinations: list[Destination],
    *,
    progress: RunProgress | None = None,
    stop: threading.Event | None = None,
) -> Outcome:
    """Open the configured source and run it into the destinations; its completeness report goes to -v, its
    verification table (--reconcile) to stderr, before anything is committed. A labelled source's messages start
    with its label, and it reports to the run's shared `progress`."""
    label = settings.source_label
    prefix = f"{label}: " if label else ""

    def warn(message: str) -> None:
        out.warn(prefix + message)

    def report(lines: list[str]) -> None:
        for line in lines:
            out.detail(prefix + line)

    def verified(verification: Verification) -> None:
        render_table(replace(verification.table, title=prefix + verification.table.title), out.console)

    with open_source(settings, warn) as source:
        if progress is not None:
            progress.add_total(source.partition_count())
        shown = RunProgress(out, source.label, source.partition_count()) if progress is None else nullcontext(progress)
        with shown as bar:
            return run(
                source,
                destinations,
                columns=columns,
                mapping=settings.mapping,
                concurrency=settings.concurrency,
                on_partition=partial(bar.__call__, source=label),
                on_report=report,
                on_verification=verified,
                stop=stop,
            )


SourceWork = Callable[[SourceRun, ExportSettings, RunProgress, threading.Event], T]


def each_source(
    settings: ExportSettings, runs: Sequence[SourceRun], out: Output, work: SourceWork[T]
) -> tuple[list[tuple[SourceRun, T]], list[SourceFailure]]:
    """`work(source_run, its_settings, progress, stop)` for every labelled source at once (`fanout.for_each_source`):
    each source's settings carry its share of --concurrency, all report to one progress bar, and `stop` is set when
    the run fails elsewhere. Returns the results in the sources' order and the failures --keep-going set aside."""
    with RunProgress(out, f"{len(runs)} sources", 0) as bar:

        def shared(source_run: SourceRun, slices: int, stop: threading.Event) -> T:
            return work(source_run, source_run.settings.replace(concurrency=slices), bar, stop)

        return for_each_source(runs, shared, concurrency=settings.concurrency, keep_going=settings.keep_going)


@dataclass(slots=True)
class ExportRun:
    """What an export or dry-run produced: the counts, the summary, and the sources a --keep-going run left out."""

    result: RunResult
    summary: Summary
    failures: list[SourceFailure] = field(default_factory=list)


def run_export(settings: ExportSettings, out: Output, *, write_csv: bool) -> ExportRun:
    """Pull or estimate, map, check and write. The CSV appears only if everything succeeded (with --keep-going:
    every source that succeeded)."""
    if settings.labelled:
        return _labelled_export(settings, out, write_csv=write_csv)
    columns = columns_for(settings.format, settings.focus_version)
    if write_csv:
        check_output_path(settings.output)
    summary = Summary()
    destinations: list[Destination] = [summary, CsvSink(settings.output, columns)] if write_csv else [summary]
    return ExportRun(source_rows(settings, out, columns, destinations).result, summary)


def _labelled_export(settings: ExportSettings, out: Output, *, write_csv: bool) -> ExportRun:
    """Every labelled source into a staged CSV of its own, concurrently; then one CSV of them all, in the file's
    order of [[sources]], with x_Source and Tags `source` on every row."""
    runs = settings.source_runs()
    columns = columns_for(settings.format, settings.focus_version, labelled=True)
    if write_csv:
        check_output_path(settings.output)
    staging = Path(tempfile.mkdtemp(prefix="llm-cost-sources-"))
    try:

        def work(
            source_run: SourceRun, own: ExportSettings, bar: RunProgress, stop: threading.Event
        ) -> tuple[Outcome, Summary]:
            summary = Summary()
            destinations: list[Destination] = [summary]
            if write_csv:
                destinations.append(CsvSink(str(staging / f"{source_run.label}.csv"), columns))
            return source_rows(own, out, columns, destinations, progress=bar, stop=stop), summary

        done, failures = each_source(settings, runs, out, work)
        if not done:
            raise keep_going_error(failures, "nothing was written")
        summary = Summary()
        for _, (_, part) in done:
            summary.merge(part)
        if write_csv:
            sink = CsvSink(settings.output, columns)
            sink.open()
            try:
                for source_run, (outcome, _) in done:
                    sink.append_file(staging / f"{source_run.label}.csv", outcome.result.rows)
                sink.commit()
            except BaseException:
                sink.abort()
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    results = [outcome.result for _, (outcome, _) in done]
    total = RunResult(
        sum(r.records for r in results),
        sum(r.groups for r in results),
        sum(r.rows for r in results),
        sum((r.total_cost for r in results), Decimal(0)),
    )
    return ExportRun(total, summary, failures)


def publish(
    summary: Summary,
    title: str,
    csv_path: str,
    failures: Sequence[SourceFailure] = (),
    chart_by: ChartBy = "model",
) -> None:
    """In GitHub Actions: the step outputs (csv-path, rows, total-cost; per source in a labelled run) and the
    markdown step summary, with the spend per day as a Mermaid chart by `chart_by` for more than one day."""
    if github.in_actions():
        outputs = {"csv-path": csv_path, "rows": str(summary.rows), "total-cost": format_decimal(summary.total_cost)}
        if summary.by_source or failures:
            outputs.update(_per_source_outputs(summary, failures))
        github.write_outputs(outputs)
        series = summary.day_series(chart_by)
        chart = charts.mermaid(series, summary.chart_title(title, chart_by)) if series is not None else ""
        markdown = github.summary_markdown(
            title, summary.totals_line(), summary.tables(title), (summary.period_start, summary.period_end), chart
        )
        if failures:
            markdown += "\n" + "\n".join(f"- **missing** source {failure}" for failure in failures) + "\n"
        github.append_summary(markdown)


def _per_source_outputs(summary: Summary, failures: Sequence[SourceFailure]) -> dict[str, str]:
    """`sources`: rows and total cost per label, as JSON; `failed-sources`: the labels a --keep-going run left out."""
    per_source = {
        label: {"rows": totals.rows, "total-cost": format_decimal(totals.cost)}
        for label, totals in sorted(summary.by_source.items())
    }
    return {
        "sources": json.dumps(per_source, sort_keys=True),
        "failed-sources": " ".join(failure.label for failure in failures),
    }


@dataclass(slots=True)
class UploadJob:
    """One replaceable period's parts, ready to send. `period` None: the span of the rows. `label`: the labelled
    source it came from (None: unlabelled)."""

    source: str
    batches: Batches
    period: tuple[date, date] | None
    label: str | None = None


@dataclass(slots=True)
class UploadPlan:
    """What an upload sends: its jobs; in a labelled run also every configured label, whether the run reads them
    all (only such a run may take over an unlabelled upload of a period), and the sources --keep-going left out."""

    jobs: list[UploadJob] = field(default_factory=list)
    labels: tuple[str, ...] = ()
    complete: bool = True
    failures: list[SourceFailure] = field(default_factory=list)

    def cleanup(self) -> None:
        for job in self.jobs:
            job.batches.cleanup()


def upload_periods(settings: ExportSettings) -> list[tuple[ExportSettings, tuple[date, date]]]:
    """The replaceable periods of a source upload, each with the settings that pull it (the source decides: the
    charge day of a manifest, every UTC day of a LiteLLM window, so a backfill re-run replaces day by day)."""
    return [(settings.replace(**updates), period) for updates, period in registry.upload_periods(settings)]


def build_upload_jobs(
    files: Sequence[Path] | None, settings: ExportSettings | None, out: Output, plan: UploadPlan
) -> None:
    """Build and check every part of every period before anything is sent; add the jobs to `plan` (so the caller
    can clean up whatever was built, even after a failure). The sources of a labelled run are pulled concurrently;
    with --keep-going, a failed source's periods before its failure are still sent, and the failure is kept."""
    if files:
        for path in files:
            plan.jobs.append(UploadJob(str(path), build_batches(read_focus_csv(path)), None))
        return
    assert settings is not None
    if not settings.labelled:
        for period_settings, period in upload_periods(settings):
            outcome = source_rows(period_settings, out, VANTAGE, [BatchWriter()])
            plan.jobs.append(UploadJob(f"{outcome.label} {period[0].isoformat()}", _batches(outcome), period))
        return
    runs = settings.source_runs()
    plan.labels = tuple(entry.label for entry in settings.sources)
    plan.complete = all(source_run.complete for source_run in runs)
    lock = threading.Lock()

    def work(source_run: SourceRun, own: ExportSettings, bar: RunProgress, stop: threading.Event) -> None:
        for period_settings, period in upload_periods(own):
            outcome = source_rows(period_settings, out, VANTAGE, [BatchWriter()], progress=bar, stop=stop)
            job = UploadJob(f"{source_run.label} {period[0].isoformat()}", _batches(outcome), period, source_run.label)
            with lock:
                plan.jobs.append(job)

    _, plan.failures = each_source(settings, runs, out, work)
    order = {label: number for number, label in enumerate(plan.labels)}
    plan.jobs.sort(key=lambda job: (job.period or (date.min, date.min), order.get(job.label or "", -1)))


def _batches(outcome: Outcome) -> Batches:
    batches = outcome.committed[0]
    assert isinstance(batches, Batches)
    return batches


def open_vantage(settings: VantageSettings, *, dry_run: bool, retry: RetryPolicy | None = None) -> VantageClient | None:
    """The Vantage client, checked before any work: missing credentials are an error, except in a dry run
    (which then cannot list what it would replace)."""
    api_key = settings.vantage_api_key.get_secret_value() if settings.vantage_api_key else ""
    token = settings.integration_token.get_secret_value() if settings.integration_token else ""
    if dry_run and not (api_key and token):
        return None
    return VantageClient(api_key=api_key, integration_token=token, base_url=settings.vantage_url, retry=retry)


def _part_uploaded(bar: RunProgress, part: Part) -> None:
    bar.step(part.filename, f"{part.rows:,} rows in part {part.number}", f"{part.rows:,} rows, {part.size:,} bytes")


Transaction = tuple[list[UploadJob], list[dict[str, Any]]]  # jobs sent as one, and unlabelled uploads they replace


def transactions(plan: UploadPlan, client: VantageClient | None, out: Output, *, append: bool) -> list[Transaction]:
    """The jobs in the order they are sent, each alone, except where a labelled run takes over a period from an
    unlabelled upload (one made before [[sources]]): the jobs of every source for that period are then sent as one
    transaction, which replaces the unlabelled upload only once they all landed.

    The rule: the unlabelled upload came from one of the configured sources, and which one is not recorded, so
    only a run that reads every configured source covers it. A --source run refuses such a period (exit 3) before
    anything is sent; a --keep-going run whose failed source left a gap skips the period (and exits 4)."""
    alone: list[Transaction] = [([job], []) for job in plan.jobs]
    if client is None or append or not plan.labels:
        return alone
    unlabelled: dict[tuple[date, date], list[dict[str, Any]]] = {}
    for upload in client.list_uploads():
        period = unlabelled_period(str(upload.get("filename", "")))
        if period is not None:
            unlabelled.setdefault(period, []).append(upload)
    periods = sorted({job.period for job in plan.jobs if job.period is not None})
    for period, uploads in sorted(unlabelled.items()):
        if period not in periods and any(p[0] < period[1] and period[0] < p[1] for p in periods):
            names = ", ".join(str(u.get("filename")) for u in uploads)
            out.warn(
                f"unlabelled upload(s) {names} span {period[0]} to {period[1]}, which is not one period of this run, "
                "so they were not replaced: delete them in Vantage if these sources hold their days"
            )
    taken = [period for period in periods if period in unlabelled]
    if taken and not plan.complete:
        raise ConfigError(
            f"period {taken[0][0]} to {taken[0][1]} holds an unlabelled llm-cost upload from before [[sources]]; "
            "only a run of every configured source can replace it without counting it twice, so run without "
            "--source once"
        )
    result: list[Transaction] = []
    for period in periods:
        jobs = [job for job in plan.jobs if job.period == period]
        if period not in unlabelled:
            result += [([job], []) for job in jobs]
        elif {job.label for job in jobs} >= set(plan.labels):
            result.append((jobs, unlabelled[period]))
        else:
            gap = sorted(set(plan.labels) - {job.label for job in jobs if job.label})
            out.warn(
                f"period {period[0]} to {period[1]} was not uploaded: it holds an unlabelled upload, which only "
                f"every source together may replace, and {', '.join(gap)} failed"
            )
    return result


def upload_jobs(
    out: Output,
    plan: UploadPlan,
    client: VantageClient | None,
    *,
    append: bool,
    dry_run: bool,
    wait: bool,
    wait_timeout: float,
) -> None:
    """Upload each job as its own replaceable period (a labelled run's take-over of an unlabelled period as one
    transaction) and print its summary; in GitHub Actions, also the step summary and outputs of the periods that
    were done, even when a later one fails. A --keep-going run that left sources out exits 4 at the end."""
    done: list[tuple[str, UploadResult]] = []
    try:
        for jobs, replaced in transactions(plan, client, out, append=append):
            sent = [job for job in jobs if job.batches.parts]
            for job in jobs:
                if not job.batches.parts:
                    out.warn(f"{job.source}: no rows, so nothing was uploaded and earlier uploads were kept")
            if not sent:
                continue
            title = ", ".join(job.source for job in sent)
            with RunProgress(out, f"Vantage upload of {title}", sum(len(j.batches.parts) for j in sent)) as bar:
                results = upload_together(
                    client,
                    [PeriodUpload(job.batches, job.period, job.label) for job in sent],
                    run_id=new_run_id(),
                    append=append,
                    dry_run=dry_run,
                    also_replace=replaced,
                    warn=out.warn,
                    on_part=partial(_part_uploaded, bar),
                )
            if wait and not dry_run and client is not None:
                tokens = [str(u.get("token")) for result in results for u in result.uploaded]
                out.info(f"waiting up to {wait_timeout:.0f} s for Vantage to import {len(tokens)} part(s)...")
                wait_until_imported(client, tokens, timeout=wait_timeout)
                out.info("import complete")
            for job, result in zip(sent, results, strict=True):
                done.append((job.source, result))
                if not out.quiet:
                    render_table(result.table(job.source), out.console)
    finally:
        if github.in_actions() and done:
            github.append_summary(table_markdown(uploads_table(done)))
            outputs = {
                "csv-path": "",
                "rows": str(sum(r.rows for _, r in done)),
                "total-cost": format_decimal(sum((r.cost for _, r in done), Decimal(0))),
            }
            if plan.labels:
                outputs.update(_uploaded_per_source(plan, done))
            github.write_outputs(outputs)
    if plan.failures:
        raise keep_going_error(plan.failures, f"uploaded {len(done)} period(s) of the other sources")


def _uploaded_per_source(plan: UploadPlan, done: list[tuple[str, UploadResult]]) -> dict[str, str]:
    """`sources`: rows, total cost and periods uploaded per label, as JSON; `failed-sources`: those left out."""
    per_source: dict[str, dict[str, Any]] = {}
    labels = {job.source: job.label for job in plan.jobs}
    for source, result in done:
        entry = per_source.setdefault(labels.get(source) or "", {"rows": 0, "total-cost": Decimal(0), "periods": 0})
        entry["rows"] += result.rows
        entry["total-cost"] += result.cost
        entry["periods"] += 1
    for entry in per_source.values():
        entry["total-cost"] = format_decimal(entry["total-cost"])
    return {
        "sources": json.dumps(per_source, sort_keys=True),
        "failed-sources": " ".join(failure.label for failure in plan.failures),
    }

"""What the commands do, between parsed settings and the pipeline: export/dry-run runs and upload jobs."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from llm_cost import github
from llm_cost.errors import ConfigError, VerificationError
from llm_cost.focus.columns import VANTAGE, columns_for
from llm_cost.focus.mapping import format_decimal
from llm_cost.http import RetryPolicy
from llm_cost.output import Output
from llm_cost.pipeline import (
    RowSink,
    RunResult,
    open_source,
    reconcile,
    write_partitions,
)
from llm_cost.settings import ExportSettings
from llm_cost.sinks.csv_writer import CsvSink, check_output_path
from llm_cost.sinks.preview import Summary, render_reconcile, render_upload
from llm_cost.sinks.vantage import (
    Batches,
    BatchWriter,
    UploadResult,
    VantageClient,
    build_batches,
    new_run_id,
    read_focus_csv,
    upload_batches,
    wait_until_imported,
)
from llm_cost.sources.litellm.reconcile import SpendTap
from llm_cost.window import resolve_window


def source_rows(settings: ExportSettings, out: Output, columns: Sequence[str], sinks: list[RowSink]) -> RunResult:
    """Open the source, map, check every row and feed the sinks; with --reconcile, compare the endpoints before
    anything is committed."""
    source = open_source(settings, out.warn)
    try:
        tap = SpendTap()
        partitions = (tap.tapped(p) for p in source.partitions) if settings.reconcile else source.partitions
        result = write_partitions(partitions, prices=source.prices, columns=columns, sinks=sinks,
                                  grain=source.grain, split_tokens=settings.split_tokens,
                                  concurrency=settings.concurrency)  # fmt: skip
        if source.client is not None and source.stats is not None:
            source.stats.http_requests, source.stats.retries = source.client.requests, source.client.retries
        if source.stats is not None:
            for line in source.stats.lines():
                out.detail(line)
        if settings.reconcile:
            differences = reconcile(source, settings, tap)
            render_reconcile(differences, out.console)
            bad = [d for d in differences if not d.within]
            if bad:
                raise VerificationError(f"--reconcile: {len(bad)} difference(s) beyond the tolerance between "
                                        "/spend/logs and /user/daily/activity; nothing was written")  # fmt: skip
        return result
    finally:
        source.close()


def run_export(settings: ExportSettings, out: Output, *, write_csv: bool) -> tuple[RunResult, Summary]:
    """Pull or estimate, map, check and write. The CSV appears only if everything succeeded."""
    columns = columns_for(settings.format, settings.focus_version)
    if write_csv:
        check_output_path(settings.output)
    summary = Summary()
    sinks: list[RowSink] = [summary]
    with CsvSink(settings.output, columns) if write_csv else nullcontext() as csv_sink:
        if csv_sink is not None:
            sinks.append(csv_sink)
        result = source_rows(settings, out, columns, sinks)
    return result, summary


def publish(summary: Summary, title: str, csv_path: str) -> None:
    """In GitHub Actions: the step outputs (csv-path, rows, total-cost) and the markdown step summary."""
    if github.in_actions():
        github.write_outputs({"csv-path": csv_path, "rows": str(summary.rows),
                              "total-cost": format_decimal(summary.total_cost)})  # fmt: skip
        github.append_summary(github.summary_markdown(summary, title))


@dataclass(slots=True)
class UploadJob:
    """One replaceable period's parts, ready to send. `period` None: the span of the rows."""

    source: str
    batches: Batches
    period: tuple[date, date] | None


def upload_periods(settings: ExportSettings) -> list[tuple[ExportSettings, tuple[date, date]]]:
    """The replaceable periods of a source upload, each with the settings that pull it: the charge day for the
    manifest, and every UTC day of the window for LiteLLM, so a backfill re-run replaces day by day."""
    if settings.mode == "manifest":
        return [(settings, (settings.date, settings.date + timedelta(days=1)))]
    window = resolve_window(start=settings.start, end=settings.end, day=settings.day, month=settings.month,
                            now=datetime.now(UTC), include_partial=settings.include_partial)  # fmt: skip
    days = list(window.days())
    if not all(d.is_whole_day() for d in days):
        raise ConfigError(f"upload replaces whole UTC days, but {window} cuts a day; give --start/--end at midnight")
    update = {"start": None, "end": None, "month": None}
    return [(settings.model_copy(update={**update, "day": d.start.date().isoformat()}), (d.start.date(), d.end.date()))
            for d in days]  # fmt: skip


def build_upload_jobs(files: Sequence[Path] | None, settings: ExportSettings | None, out: Output, jobs: list[UploadJob]) -> None:
    """Build and check every part of every period before anything is sent; append the jobs to `jobs` (so the
    caller can clean up whatever was built, even after a failure)."""
    if files:
        for path in files:
            jobs.append(UploadJob(str(path), build_batches(read_focus_csv(path)), None))
        return
    assert settings is not None
    label = f"manifest {settings.manifest}" if settings.mode == "manifest" else f"LiteLLM {settings.mode}"
    for period_settings, period in upload_periods(settings):
        writer = BatchWriter()
        try:
            source_rows(period_settings, out, VANTAGE, [writer])
        except BaseException:
            writer.abort()
            raise
        jobs.append(UploadJob(f"{label} {period[0].isoformat()}", writer.close(), period))


def open_vantage(api_key: str | None, integration_token: str | None, vantage_url: str, *, dry_run: bool,
                 retry: RetryPolicy | None = None) -> VantageClient | None:  # fmt: skip
    """The Vantage client, checked before any work: missing credentials are an error, except in a dry run
    (which then cannot list what it would replace)."""
    if dry_run and not (api_key and integration_token):
        return None
    return VantageClient(api_key=api_key or "", integration_token=integration_token or "", base_url=vantage_url,
                         retry=retry)  # fmt: skip


def upload_jobs(out: Output, jobs: list[UploadJob], client: VantageClient | None, *, append: bool, dry_run: bool,
                wait: bool, wait_timeout: float) -> None:  # fmt: skip
    """Upload each job as its own replaceable period and print its summary; in GitHub Actions, also the step
    summary and outputs of the periods that were done, even when a later one fails."""
    done: list[tuple[str, UploadResult]] = []
    try:
        for job in jobs:
            if not job.batches.parts:
                out.warn(f"{job.source}: no rows, so nothing was uploaded and earlier uploads were kept")
                continue
            result = upload_batches(client, job.batches, run_id=new_run_id(), append=append, dry_run=dry_run,
                                    period=job.period, warn=out.warn)  # fmt: skip
            if wait and not dry_run and client is not None:
                out.info(f"waiting up to {wait_timeout:.0f} s for Vantage to import {len(result.uploaded)} part(s)...")
                wait_until_imported(client, [str(u.get("token")) for u in result.uploaded], timeout=wait_timeout)
                out.info("import complete")
            done.append((job.source, result))
            if not out.quiet:
                render_upload(result, out.console, source=job.source)
    finally:
        if github.in_actions() and done:
            github.append_summary(github.upload_markdown(done))
            github.write_outputs({"csv-path": "", "rows": str(sum(r.rows for _, r in done)),
                                  "total-cost": format_decimal(sum((r.cost for _, r in done), Decimal(0)))})  # fmt: skip

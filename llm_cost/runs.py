"""What the commands do, between parsed settings and the pipeline: export/dry-run runs and upload jobs. With
cli.py, this is where the concrete destinations are chosen; sources come from their registry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from pathlib import Path

from llm_cost import github
from llm_cost.focus.columns import VANTAGE, columns_for
from llm_cost.formats import format_decimal
from llm_cost.http import RetryPolicy
from llm_cost.output import Output, RunProgress
from llm_cost.pipeline import Outcome, RunResult, run
from llm_cost.reports import render_table, table_markdown
from llm_cost.settings import ExportSettings
from llm_cost.sinks.csv_reader import read_focus_csv
from llm_cost.sinks.csv_writer import CsvSink, check_output_path
from llm_cost.sinks.interface import Destination
from llm_cost.sinks.preview import Summary
from llm_cost.sinks.vantage.batching import Batches, BatchWriter, Part, build_batches
from llm_cost.sinks.vantage.client import VantageClient
from llm_cost.sinks.vantage.settings import VantageSettings
from llm_cost.sinks.vantage.upload import UploadResult, new_run_id, upload_batches, uploads_table, wait_until_imported
from llm_cost.sources import registry
from llm_cost.sources.registry import open_source


def source_rows(
    settings: ExportSettings, out: Output, columns: Sequence[str], destinations: list[Destination]
) -> Outcome:
    """Open the configured source and run it into the destinations; its completeness report goes to -v, its
    verification table (--reconcile) to stderr, before anything is committed."""

    def report(lines: list[str]) -> None:
        for line in lines:
            out.detail(line)

    with (
        open_source(settings, out.warn) as source,
        RunProgress(out, source.label, source.partition_count()) as bar,
    ):
        return run(
            source,
            destinations,
            columns=columns,
            mapping=settings.mapping,
            concurrency=settings.concurrency,
            on_partition=bar,
            on_report=report,
            on_verification=lambda verification: render_table(verification.table, out.console),
        )


def run_export(settings: ExportSettings, out: Output, *, write_csv: bool) -> tuple[RunResult, Summary]:
    """Pull or estimate, map, check and write. The CSV appears only if everything succeeded."""
    columns = columns_for(settings.format, settings.focus_version)
    if write_csv:
        check_output_path(settings.output)
    summary = Summary()
    destinations: list[Destination] = [summary, CsvSink(settings.output, columns)] if write_csv else [summary]
    return source_rows(settings, out, columns, destinations).result, summary


def publish(summary: Summary, title: str, csv_path: str) -> None:
    """In GitHub Actions: the step outputs (csv-path, rows, total-cost) and the markdown step summary."""
    if github.in_actions():
        github.write_outputs(
            {"csv-path": csv_path, "rows": str(summary.rows), "total-cost": format_decimal(summary.total_cost)}
        )
        markdown = github.summary_markdown(
            title, summary.totals_line(), summary.tables(title), (summary.period_start, summary.period_end)
        )
        github.append_summary(markdown)


@dataclass(slots=True)
class UploadJob:
    """One replaceable period's parts, ready to send. `period` None: the span of the rows."""

    source: str
    batches: Batches
    period: tuple[date, date] | None


def upload_periods(settings: ExportSettings) -> list[tuple[ExportSettings, tuple[date, date]]]:
    """The replaceable periods of a source upload, each with the settings that pull it (the source decides: the
    charge day of a manifest, every UTC day of a LiteLLM window, so a backfill re-run replaces day by day)."""
    return [(settings.replace(**updates), period) for updates, period in registry.upload_periods(settings)]


def build_upload_jobs(
    files: Sequence[Path] | None, settings: ExportSettings | None, out: Output, jobs: list[UploadJob]
) -> None:
    """Build and check every part of every period before anything is sent; append the jobs to `jobs` (so the
    caller can clean up whatever was built, even after a failure)."""
    if files:
        for path in files:
            jobs.append(UploadJob(str(path), build_batches(read_focus_csv(path)), None))
        return
    assert settings is not None
    for period_settings, period in upload_periods(settings):
        outcome = source_rows(period_settings, out, VANTAGE, [BatchWriter()])
        batches = outcome.committed[0]
        assert isinstance(batches, Batches)
        jobs.append(UploadJob(f"{outcome.label} {period[0].isoformat()}", batches, period))


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


def upload_jobs(
    out: Output,
    jobs: list[UploadJob],
    client: VantageClient | None,
    *,
    append: bool,
    dry_run: bool,
    wait: bool,
    wait_timeout: float,
) -> None:
    """Upload each job as its own replaceable period and print its summary; in GitHub Actions, also the step
    summary and outputs of the periods that were done, even when a later one fails."""
    done: list[tuple[str, UploadResult]] = []
    try:
        for job in jobs:
            if not job.batches.parts:
                out.warn(f"{job.source}: no rows, so nothing was uploaded and earlier uploads were kept")
                continue
            with RunProgress(out, f"Vantage upload of {job.source}", len(job.batches.parts)) as bar:
                result = upload_batches(
                    client,
                    job.batches,
                    run_id=new_run_id(),
                    append=append,
                    dry_run=dry_run,
                    period=job.period,
                    warn=out.warn,
                    on_part=partial(_part_uploaded, bar),
                )
            if wait and not dry_run and client is not None:
                out.info(f"waiting up to {wait_timeout:.0f} s for Vantage to import {len(result.uploaded)} part(s)...")
                wait_until_imported(client, [str(u.get("token")) for u in result.uploaded], timeout=wait_timeout)
                out.info("import complete")
            done.append((job.source, result))
            if not out.quiet:
                render_table(result.table(job.source), out.console)
    finally:
        if github.in_actions() and done:
            github.append_summary(table_markdown(uploads_table(done)))
            github.write_outputs(
                {
                    "csv-path": "",
                    "rows": str(sum(r.rows for _, r in done)),
                    "total-cost": format_decimal(sum((r.cost for _, r in done), Decimal(0))),
                }
            )

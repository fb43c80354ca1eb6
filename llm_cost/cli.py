"""The Typer app. Thin: parse options, build settings, wire the pipeline, turn errors into exit codes."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import date as date_type
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from llm_cost import __version__, github
from llm_cost.errors import ConfigError, LlmCostError, VerificationError
from llm_cost.focus.columns import VANTAGE, columns_for
from llm_cost.focus.mapping import format_decimal
from llm_cost.pipeline import RowSink, RunResult, open_source, reconcile as reconcile_endpoints, write_rows
from llm_cost.sources.litellm.reconcile import SpendTap
from llm_cost.settings import ExportSettings, resolve_export_settings
from llm_cost.sinks.csv_writer import CsvSink, check_output_path, is_stdout
from llm_cost.sinks.preview import Summary, render, render_reconcile, render_upload
from llm_cost.sinks.vantage import (
    DEFAULT_BASE_URL,
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
from llm_cost.secrets import Masker
from llm_cost.window import day_window, resolve_window
from llm_cost.sources.init_manifest import write_manifest

app = typer.Typer(
    name="llm-cost",
    help="Export LLM usage and cost as FinOps FOCUS data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help wraps long option names instead of cutting them at 80 columns
)


class Format(StrEnum):
    focus = "focus"
    vantage = "vantage"


class Mode(StrEnum):
    manifest = "manifest"
    spend_logs = "spend-logs"
    daily_activity = "daily-activity"


class Granularity(StrEnum):
    day = "day"
    hour = "hour"
    request = "request"


class FocusVersion(StrEnum):
    v1_2 = "1.2"
    v1_0 = "1.0"


@dataclass(slots=True)
class Output:
    """Where humans read: stderr. Knows the verbosity flags."""

    console: Console
    quiet: bool = False
    verbose: bool = False
    debug: bool = False

    def warn(self, message: str) -> None:
        if github.in_actions():
            github.annotate("warning", message)
        elif not self.quiet:
            self.console.print(f"warning: {_one_line(message)}", markup=False, highlight=False)

    def info(self, message: str) -> None:
        if not self.quiet:
            self.console.print(_one_line(message), markup=False, highlight=False)

    def detail(self, message: str) -> None:
        if self.verbose and not self.quiet:
            self.console.print(_one_line(message), markup=False, highlight=False)

    def error(self, message: str) -> None:
        if github.in_actions():
            github.annotate("error", message)
        else:
            self.console.print(f"error: {_one_line(message)}", markup=False, highlight=False, soft_wrap=True)


def _one_line(message: str) -> str:
    """A message as one line: a newline inside a path or name could otherwise start a forged `::command::` line
    in a GitHub Actions log."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


def _output(ctx: typer.Context) -> Output:
    return ctx.obj if isinstance(ctx.obj, Output) else Output(Console(stderr=True, soft_wrap=True))


@contextmanager
def handle_errors(out: Output, masker: Masker | None = None) -> Iterator[None]:
    """One line on stderr and the documented exit code; a traceback only with --debug. Secrets are masked in
    everything printed, tracebacks included."""
    mask = masker or Masker()

    def traceback_if_debug(exc: BaseException) -> None:
        if out.debug:
            sys.stderr.write(mask("".join(traceback.format_exception(exc))))

    try:
        yield
    except LlmCostError as exc:
        traceback_if_debug(exc)
        for line in exc.details:
            out.console.print(f"  {mask(line)}", markup=False, highlight=False)
        out.error(mask(exc))
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        out.error("interrupted; nothing was written")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise
    except Exception as exc:  # a bug: say so, and keep the traceback for --debug
        traceback_if_debug(exc)
        out.error(mask(f"internal error: {type(exc).__name__}: {exc} (this is a bug; rerun with --debug for the traceback)"))
        raise typer.Exit(1) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llm-cost {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", envvar="LLM_COST_DEBUG", help="Show tracebacks on errors.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only errors on stderr.")] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="More detail on stderr.")] = False,
) -> None:
    """llm-cost turns LLM usage into FOCUS cost data. Data goes to stdout or -o; messages go to stderr."""
    ctx.obj = Output(Console(stderr=True, soft_wrap=True), quiet=quiet, verbose=verbose, debug=debug)


# Options shared by export and dry-run. Each falls back to an LLM_COST_* variable, then to [settings].
FormatOpt = Annotated[Format | None, typer.Option("--format", "-f", envvar="LLM_COST_FORMAT", help="focus (every FOCUS column) or vantage (the Vantage subset). [default: focus]")]
VersionOpt = Annotated[FocusVersion | None, typer.Option("--focus-version", envvar="LLM_COST_FOCUS_VERSION", help="FOCUS version of --format focus. [default: 1.2]")]
OutputOpt = Annotated[str | None, typer.Option("--output", "-o", envvar="LLM_COST_OUTPUT", help="CSV file to write; - for stdout.")]
ManifestOpt = Annotated[str | None, typer.Option("--manifest", "-m", envvar="LLM_COST_MANIFEST", help="Manifest of prompts. [default: the config file, llm-cost.toml]")]
RatioOpt = Annotated[str | None, typer.Option("--cache-hit-ratio", envvar="LLM_COST_CACHE_HIT_RATIO", help="Share of input tokens read from cache (0-1), for every prompt.")]
DateOpt = Annotated[str | None, typer.Option("--date", "--test-date", envvar="LLM_COST_DATE", help="Charge day, YYYY-MM-DD, today or yesterday (UTC). [default: today]")]
ConfigOpt = Annotated[str | None, typer.Option("--config", "-c", envvar="LLM_COST_CONFIG", help="llm-cost.toml with a [settings] table. [default: ./llm-cost.toml if present]")]
VocabOpt = Annotated[Path | None, typer.Option("--vocab-dir", envvar="LLM_COST_VOCAB_DIR", help="Folder with tiktoken vocabularies (<encoding>.tiktoken) for offline counting.")]
SplitOpt = Annotated[bool | None, typer.Option("--split-tokens/--no-split-tokens", envvar="LLM_COST_SPLIT_TOKENS", help="One row per token type (default), or one row per group in Requests.")]


ModeOpt = Annotated[Mode | None, typer.Option("--mode", envvar="LLM_COST_MODE", help="manifest (offline estimates), spend-logs (per request) or daily-activity (per day) from a LiteLLM proxy. [default: manifest]")]
UrlOpt = Annotated[str | None, typer.Option("--litellm-url", envvar="LITELLM_BASE_URL", help="LiteLLM proxy URL.")]
KeyOpt = Annotated[str | None, typer.Option("--litellm-key", envvar=["LITELLM_API_KEY", "LITELLM_MASTER_KEY"], help="Master key or a proxy_admin / proxy_admin_viewer key.", show_default=False)]
CaOpt = Annotated[str | None, typer.Option("--ca-bundle", envvar="LLM_COST_CA_BUNDLE", help="CA bundle to verify the proxy's TLS certificate.")]
StartOpt = Annotated[str | None, typer.Option("--start", envvar="LLM_COST_START", help="Window start (inclusive), a date or ISO date-time, UTC.")]
EndOpt = Annotated[str | None, typer.Option("--end", envvar="LLM_COST_END", help="Window end (exclusive), a date or ISO date-time, UTC.")]
DayOpt = Annotated[str | None, typer.Option("--day", envvar="LLM_COST_DAY", help="One UTC day: YYYY-MM-DD or yesterday. [default: yesterday]")]
MonthOpt = Annotated[str | None, typer.Option("--month", envvar="LLM_COST_MONTH", help="One UTC month: YYYY-MM.")]
PartialOpt = Annotated[bool | None, typer.Option("--include-partial", envvar="LLM_COST_INCLUDE_PARTIAL", help="Allow a window that is not over yet (its numbers still change).")]
GrainOpt = Annotated[Granularity | None, typer.Option("--granularity", envvar="LLM_COST_GRANULARITY", help="Row grain for spend-logs. [default: day]")]
TagKeyOpt = Annotated[list[str] | None, typer.Option("--tag-key", help="Request-tag key that splits rows (repeatable); default: every key:value tag except User-Agent.")]
HealthOpt = Annotated[bool | None, typer.Option("--include-health-checks", help="Keep LiteLLM's internal health-check traffic.")]
ReconcileOpt = Annotated[bool | None, typer.Option("--reconcile", help="Also pull the other endpoint and compare spend per day and model; exit 6 on a difference.")]
ToleranceOpt = Annotated[str | None, typer.Option("--tolerance", envvar="LLM_COST_TOLERANCE", help="Allowed --reconcile difference in USD. [default: 0.01]")]
TolerancePctOpt = Annotated[str | None, typer.Option("--tolerance-pct", envvar="LLM_COST_TOLERANCE_PCT", help="Allowed --reconcile difference in percent (the larger allowance wins). [default: 0.1]")]

SETTING_NAMES = frozenset(ExportSettings.model_fields)


def _settings(**cli: Any) -> ExportSettings:
    values = {k: (v.value if isinstance(v, StrEnum) else v) for k, v in cli.items() if k in SETTING_NAMES}
    return resolve_export_settings(values)


def _source_rows(settings: ExportSettings, out: Output, columns: Sequence[str], sinks: list[RowSink]) -> RunResult:
    """Open the source, map, check every row and feed the sinks; with --reconcile, compare the endpoints before
    anything is committed."""
    source = open_source(settings, out.warn)
    try:
        tap = SpendTap()
        records = tap.tap(source.records) if settings.reconcile else source.records
        result = write_rows(records, prices=source.prices, columns=columns, sinks=sinks, grain=source.grain,
                            split_tokens=settings.split_tokens)  # fmt: skip
        if source.stats is not None:
            for line in source.stats.lines():
                out.detail(line)
        if settings.reconcile:
            differences = reconcile_endpoints(source, settings, tap)
            render_reconcile(differences, out.console)
            bad = [d for d in differences if not d.within]
            if bad:
                raise VerificationError(f"--reconcile: {len(bad)} difference(s) beyond the tolerance between "
                                        "/spend/logs and /user/daily/activity; nothing was written")  # fmt: skip
        return result
    finally:
        source.close()


def _run(settings: ExportSettings, out: Output, *, write_csv: bool) -> tuple[RunResult, Summary]:
    """Pull or estimate, map, check and write. The CSV appears only if everything succeeded."""
    columns = columns_for(settings.format, settings.focus_version)
    if write_csv:
        check_output_path(settings.output)
    summary = Summary()
    sinks: list[RowSink] = [summary]
    with CsvSink(settings.output, columns) if write_csv else nullcontext() as csv_sink:
        if csv_sink is not None:
            sinks.append(csv_sink)
        result = _source_rows(settings, out, columns, sinks)
    return result, summary


@app.command()
def export(
    ctx: typer.Context,
    format: FormatOpt = None,
    focus_version: VersionOpt = None,
    output: OutputOpt = None,
    mode: ModeOpt = None,
    manifest: ManifestOpt = None,
    cache_hit_ratio: RatioOpt = None,
    date: DateOpt = None,
    config: ConfigOpt = None,
    split_tokens: SplitOpt = None,
    vocab_dir: VocabOpt = None,
    litellm_url: UrlOpt = None,
    litellm_key: KeyOpt = None,
    ca_bundle: CaOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    day: DayOpt = None,
    month: MonthOpt = None,
    include_partial: PartialOpt = None,
    granularity: GrainOpt = None,
    tag_keys: TagKeyOpt = None,
    include_health_checks: HealthOpt = None,
    reconcile: ReconcileOpt = None,
    tolerance: ToleranceOpt = None,
    tolerance_pct: TolerancePctOpt = None,
) -> None:
    """Write FOCUS CSV to stdout or -o: manifest estimates, or usage pulled from a LiteLLM proxy."""
    out = _output(ctx)
    with handle_errors(out, Masker([litellm_key])):
        settings = _settings(**locals())
        result, summary = _run(settings, out, write_csv=True)
        where = "stdout" if is_stdout(settings.output) else settings.output
        _publish(summary, "llm-cost export", "" if is_stdout(settings.output) else str(settings.output))
        out.detail(f"read {result.records} records into {result.groups} groups")
        if result.rows == 0:
            out.warn(f"no rows: {where} holds only the CSV header")
        out.info(f"wrote {result.rows} rows to {where}, total cost {format_decimal(result.total_cost)} USD")


@app.command("dry-run")
def dry_run(
    ctx: typer.Context,
    format: FormatOpt = None,
    focus_version: VersionOpt = None,
    output: OutputOpt = None,
    mode: ModeOpt = None,
    manifest: ManifestOpt = None,
    cache_hit_ratio: RatioOpt = None,
    date: DateOpt = None,
    config: ConfigOpt = None,
    split_tokens: SplitOpt = None,
    vocab_dir: VocabOpt = None,
    litellm_url: UrlOpt = None,
    litellm_key: KeyOpt = None,
    ca_bundle: CaOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    day: DayOpt = None,
    month: MonthOpt = None,
    include_partial: PartialOpt = None,
    granularity: GrainOpt = None,
    tag_keys: TagKeyOpt = None,
    include_health_checks: HealthOpt = None,
    reconcile: ReconcileOpt = None,
    tolerance: ToleranceOpt = None,
    tolerance_pct: TolerancePctOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary on stdout.")] = False,
) -> None:
    """Preview: totals by model, provider and team (and the completeness of a LiteLLM pull) on stderr.
    Writes the CSV only with -o."""
    out = _output(ctx)
    if not as_json:
        out.verbose = True  # the completeness summary is part of the preview
    with handle_errors(out, Masker([litellm_key])):
        if as_json and output is not None and is_stdout(output):
            raise typer.BadParameter("--json prints to stdout, so -o - cannot be used with it", param_hint="--output")
        settings = _settings(**locals())
        result, summary = _run(settings, out, write_csv=output is not None)
        _publish(summary, "llm-cost dry-run", str(settings.output) if output and not is_stdout(output) else "")
        if as_json:
            typer.echo(json.dumps({**summary.to_json(), "records": result.records, "groups": result.groups}, indent=2))
        elif not out.quiet:
            render(summary, out.console)


@app.command()
def upload(
    ctx: typer.Context,
    files: Annotated[list[Path] | None, typer.Argument(help="FOCUS CSV files to upload; without files, build the rows from the source options.", show_default=False)] = None,
    mode: ModeOpt = None,
    manifest: ManifestOpt = None,
    cache_hit_ratio: RatioOpt = None,
    date: DateOpt = None,
    config: ConfigOpt = None,
    split_tokens: SplitOpt = None,
    vocab_dir: VocabOpt = None,
    litellm_url: UrlOpt = None,
    litellm_key: KeyOpt = None,
    ca_bundle: CaOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    day: DayOpt = None,
    month: MonthOpt = None,
    include_partial: PartialOpt = None,
    granularity: GrainOpt = None,
    tag_keys: TagKeyOpt = None,
    include_health_checks: HealthOpt = None,
    append: Annotated[bool, typer.Option("--append", help="Keep earlier uploads of the period instead of replacing them.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the files, sizes and what would be replaced; send nothing.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Poll until Vantage has imported every part.")] = False,
    wait_timeout: Annotated[float, typer.Option("--wait-timeout", help="Seconds --wait polls before giving up.")] = 900.0,
    api_key: Annotated[str | None, typer.Option("--vantage-api-key", envvar="VANTAGE_API_KEY", help="Vantage API token with the write scope.", show_default=False)] = None,
    integration_token: Annotated[str | None, typer.Option("--integration-token", envvar="VANTAGE_INTEGRATION_TOKEN", help="The Custom Provider's integration token (accss_crdntl_...).", show_default=False)] = None,
    vantage_url: Annotated[str, typer.Option("--vantage-url", envvar="VANTAGE_BASE_URL", help="Vantage API root.")] = DEFAULT_BASE_URL,
) -> None:
    """Upload to a Vantage Custom Provider, replacing this tool's earlier uploads of the same period."""
    out = _output(ctx)
    masker = Masker([api_key, integration_token, litellm_key])
    with handle_errors(out, masker):
        jobs: list[tuple[str, Batches, tuple[date_type, date_type] | None]] = []
        try:
            if files:
                for path in files:  # validate every file before anything is sent
                    jobs.append((str(path), build_batches(read_focus_csv(path)), None))
            else:
                settings = _settings(**{**locals(), "format": "vantage"})
                for period_settings, period in _upload_periods(settings):  # build and check every day first
                    writer = BatchWriter()
                    try:
                        _source_rows(period_settings, out, VANTAGE, [writer])
                    except BaseException:
                        writer.abort()
                        raise
                    label = f"{_describe_source(settings)} {period[0].isoformat()}"
                    jobs.append((label, writer.close(), period))
            _upload_jobs(out, jobs, append=append, dry_run=dry_run, wait=wait, wait_timeout=wait_timeout,
                         api_key=api_key, integration_token=integration_token, vantage_url=vantage_url)  # fmt: skip
        finally:
            for _, batches, _ in jobs:
                batches.cleanup()


def _upload_jobs(out: Output, jobs: list[tuple[str, Batches, tuple[date_type, date_type] | None]], *, append: bool,
                 dry_run: bool, wait: bool, wait_timeout: float, api_key: str | None, integration_token: str | None,
                 vantage_url: str) -> None:  # fmt: skip
    """Upload each job as its own replaceable period and print its summary; in GitHub Actions, also the step
    summary and outputs of the periods that were done, even when a later one fails."""
    have_credentials = bool(api_key and integration_token)
    client = VantageClient(api_key=api_key or "", integration_token=integration_token or "", base_url=vantage_url) \
        if have_credentials or not dry_run else None
    done: list[tuple[str, UploadResult]] = []
    try:
        for source, batches, period in jobs:
            if not batches.parts:
                out.warn(f"{source}: no rows, so nothing was uploaded and earlier uploads were kept")
                continue
            result = upload_batches(client, batches, run_id=new_run_id(), append=append, dry_run=dry_run,
                                    period=period, warn=out.warn)  # fmt: skip
            if wait and not dry_run and client is not None:
                out.info(f"waiting up to {wait_timeout:.0f} s for Vantage to import {len(result.uploaded)} part(s)...")
                wait_until_imported(client, [str(u.get("token")) for u in result.uploaded], timeout=wait_timeout)
                out.info("import complete")
            done.append((source, result))
            if not out.quiet:
                render_upload(result, out.console, source=source)
    finally:
        if client is not None:
            client.close()
        if github.in_actions() and done:
            github.append_summary(github.upload_markdown(done))
            github.write_outputs({"csv-path": "", "rows": str(sum(r.rows for _, r in done)),
                                  "total-cost": format_decimal(sum((r.cost for _, r in done), Decimal(0)))})  # fmt: skip


def _publish(summary: Summary, title: str, csv_path: str) -> None:
    """In GitHub Actions: the step outputs (csv-path, rows, total-cost) and the markdown step summary."""
    if github.in_actions():
        github.write_outputs({"csv-path": csv_path, "rows": str(summary.rows),
                              "total-cost": format_decimal(summary.total_cost)})  # fmt: skip
        github.append_summary(github.summary_markdown(summary, title))


def _upload_periods(settings: ExportSettings) -> list[tuple[ExportSettings, tuple[date_type, date_type]]]:
    """The replaceable periods of a source upload, each with the settings that pull it: the charge day for the
    manifest, and every UTC day of the window for LiteLLM, so a backfill re-run replaces day by day."""
    if settings.mode == "manifest":
        return [(settings, (settings.date, settings.date + timedelta(days=1)))]
    window = resolve_window(start=settings.start, end=settings.end, day=settings.day, month=settings.month,
                            now=datetime.now(UTC), include_partial=settings.include_partial)  # fmt: skip
    days = list(window.days())
    if any(d.start != day_window(d.start.date()).start or d.end != day_window(d.start.date()).end for d in days):
        raise ConfigError(f"upload replaces whole UTC days, but {window} cuts a day; give --start/--end at midnight")
    update = {"start": None, "end": None, "month": None}
    return [(settings.model_copy(update={**update, "day": d.start.date().isoformat()}), (d.start.date(), d.end.date()))
            for d in days]  # fmt: skip


def _describe_source(settings: ExportSettings) -> str:
    return f"manifest {settings.manifest}" if settings.mode == "manifest" else f"LiteLLM {settings.mode}"


@app.command()
def init(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Option("--dir", help="Folder to scan for prompt files (*.txt, *.md, *.prompt).")] = Path("."),
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Manifest to write. [default: <dir>/llm-cost.toml]")] = None,
    model: Annotated[str, typer.Option("--model", help="[defaults] model for the prompts.")] = "gpt-4o",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing manifest.")] = False,
) -> None:
    """Write a commented llm-cost.toml listing the prompt files found under --dir."""
    out = _output(ctx)
    with handle_errors(out):
        target = output or directory / "llm-cost.toml"
        prompts = write_manifest(directory, target, model=model, force=force)
        out.info(f"wrote {target} with {prompts} prompt(s); review the models, calls and tags, then run `llm-cost dry-run`")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="llm-cost")

"""The Typer app. Thin: parse options, build settings, call the run, turn errors into exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from llm_cost import __version__
from llm_cost.aggregate import Granularity
from llm_cost.diff import DiffFormat, diff_command
from llm_cost.estimate import EstimateRequest, run_estimate
from llm_cost.fanout import keep_going_error
from llm_cost.focus.columns import FocusVersion, Format
from llm_cost.formats import format_decimal
from llm_cost.guard.report import show as show_check
from llm_cost.guard.run import parse_options as parse_check_options
from llm_cost.guard.run import run_check
from llm_cost.output import Output, handle_errors
from llm_cost.records import exact_money
from llm_cost.reports import render_table
from llm_cost.runs import (
    ExportRun,
    UploadPlan,
    build_upload_jobs,
    open_vantage,
    publish,
    run_export,
    upload_jobs,
)
from llm_cost.secrets import Masker
from llm_cost.settings import SETTING_NAMES, ExportSettings, resolve_export_settings
from llm_cost.sinks.csv_writer import is_stdout
from llm_cost.sinks.preview import ChartBy, render
from llm_cost.sinks.vantage.client import DEFAULT_BASE_URL
from llm_cost.sinks.vantage.settings import VantageSettings
from llm_cost.sources.init_manifest import write_manifest
from llm_cost.sources.registry import Mode

app = typer.Typer(
    name="llm-cost",
    help="Export LLM usage and cost as FinOps FOCUS data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help wraps long option names instead of cutting them at 80 columns
)


# The global flags, taken before the command (by main_options) and after it (by every command, anywhere among its
# options). A flag given in either place counts: they combine, -q wins over -v, and --debug (or LLM_COST_DEBUG)
# from either shows tracebacks.
DebugOpt = Annotated[bool, typer.Option("--debug", envvar="LLM_COST_DEBUG", help="Show tracebacks on errors.")]
QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Only errors on stderr (wins over -v).")]
VerboseOpt = Annotated[bool, typer.Option("-v", "--verbose", help="More detail on stderr.")]


def _output(ctx: typer.Context, *, quiet: bool, verbose: bool, debug: bool) -> Output:
    """The run's Output, made by main_options from the global flags before the command, with those given after the
    command added. Every command calls it first, before handle_errors and any work."""
    out = ctx.obj if isinstance(ctx.obj, Output) else Output.stderr()
    out.add_flags(quiet=quiet, verbose=verbose, debug=debug)
    ctx.obj = out
    return out


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llm-cost {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    debug: DebugOpt = False,
) -> None:
    """llm-cost turns LLM usage into FOCUS cost data. Data goes to stdout or -o; messages go to stderr."""
    exact_money()  # before any source, sink or upload adds money
    ctx.obj = Output.stderr(quiet=quiet, verbose=verbose, debug=debug)


# Options shared by export and dry-run. Each falls back to an LLM_COST_* variable, then to [settings].
FormatOpt = Annotated[
    Format | None,
    typer.Option(
        "--format",
        "-f",
        envvar="LLM_COST_FORMAT",
        help="focus (every FOCUS column) or vantage (the Vantage subset). [default: focus]",
    ),
]
VersionOpt = Annotated[
    FocusVersion | None,
    typer.Option(
        "--focus-version", envvar="LLM_COST_FOCUS_VERSION", help="FOCUS version of --format focus. [default: 1.2]"
    ),
]
OutputOpt = Annotated[
    str | None, typer.Option("--output", "-o", envvar="LLM_COST_OUTPUT", help="CSV file to write; - for stdout.")
]
ManifestOpt = Annotated[
    str | None,
    typer.Option(
        "--manifest",
        "-m",
        envvar="LLM_COST_MANIFEST",
        help="Manifest of prompts. [default: the config file, llm-cost.toml]",
    ),
]
RatioOpt = Annotated[
    str | None,
    typer.Option(
        "--cache-hit-ratio",
        envvar="LLM_COST_CACHE_HIT_RATIO",
        help="Share of input tokens read from cache (0-1), for every prompt.",
    ),
]
DateOpt = Annotated[
    str | None,
    typer.Option(
        "--date",
        "--test-date",
        envvar="LLM_COST_DATE",
        help="Charge day, YYYY-MM-DD, today or yesterday (UTC). [default: today]",
    ),
]
ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        envvar="LLM_COST_CONFIG",
        help="llm-cost.toml with a [settings] table. [default: ./llm-cost.toml if present]",
    ),
]
VocabOpt = Annotated[
    Path | None,
    typer.Option(
        "--vocab-dir",
        envvar="LLM_COST_VOCAB_DIR",
        help="Folder with tiktoken vocabularies (<encoding>.tiktoken) for offline counting.",
    ),
]
SplitOpt = Annotated[
    bool | None,
    typer.Option(
        "--split-tokens/--no-split-tokens",
        envvar="LLM_COST_SPLIT_TOKENS",
        help="One row per token type (default), or one row per group in Requests.",
    ),
]


ModeOpt = Annotated[
    Mode | None,
    typer.Option(
        "--mode",
        envvar="LLM_COST_MODE",
        help="manifest (offline estimates), spend-logs (per request) or daily-activity (per day) from a LiteLLM "
        "proxy. [default: manifest]",
    ),
]
UrlOpt = Annotated[str | None, typer.Option("--litellm-url", envvar="LITELLM_BASE_URL", help="LiteLLM proxy URL.")]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--litellm-key",
        envvar=["LITELLM_API_KEY", "LITELLM_MASTER_KEY"],
        help="Master key or a proxy_admin / proxy_admin_viewer key.",
        show_default=False,
    ),
]
CaOpt = Annotated[
    str | None,
    typer.Option("--ca-bundle", envvar="LLM_COST_CA_BUNDLE", help="CA bundle to verify the proxy's TLS certificate."),
]
StartOpt = Annotated[
    str | None,
    typer.Option("--start", envvar="LLM_COST_START", help="Window start (inclusive), a date or ISO date-time, UTC."),
]
EndOpt = Annotated[
    str | None,
    typer.Option("--end", envvar="LLM_COST_END", help="Window end (exclusive), a date or ISO date-time, UTC."),
]
DayOpt = Annotated[
    str | None,
    typer.Option("--day", envvar="LLM_COST_DAY", help="One UTC day: YYYY-MM-DD or yesterday. [default: yesterday]"),
]
MonthOpt = Annotated[str | None, typer.Option("--month", envvar="LLM_COST_MONTH", help="One UTC month: YYYY-MM.")]
PartialOpt = Annotated[
    bool | None,
    typer.Option(
        "--include-partial",
        envvar="LLM_COST_INCLUDE_PARTIAL",
        help="Allow a window that is not over yet (its numbers still change).",
    ),
]
GrainOpt = Annotated[
    Granularity | None,
    typer.Option("--granularity", envvar="LLM_COST_GRANULARITY", help="Row grain for spend-logs. [default: day]"),
]
TagKeyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--tag-key",
        help="Request-tag key that splits rows (repeatable); default: every key:value tag except User-Agent.",
    ),
]
ServiceNameOpt = Annotated[
    str | None,
    typer.Option(
        "--service-name",
        envvar="LLM_COST_SERVICE_NAME",
        help="What ServiceName holds for LiteLLM rows: offering (the provider's service, e.g. Azure OpenAI) or "
        "model-group (LiteLLM's own mapping). Manifest rows keep `LLM Inference`. [default: offering]",
    ),
]
SubAccountOpt = Annotated[
    str | None,
    typer.Option(
        "--sub-account",
        envvar="LLM_COST_SUB_ACCOUNT",
        help="Chargeback key of SubAccountId/Name/Type: team, user, org or tag:KEY (e.g. tag:cost-center). "
        "[default: team]",
    ),
]
HealthOpt = Annotated[
    bool | None, typer.Option("--include-health-checks", help="Keep LiteLLM's internal health-check traffic.")
]
ReconcileOpt = Annotated[
    bool | None,
    typer.Option(
        "--reconcile", help="Also pull the other endpoint and compare spend per day and model; exit 6 on a difference."
    ),
]
ToleranceOpt = Annotated[
    str | None,
    typer.Option(
        "--tolerance", envvar="LLM_COST_TOLERANCE", help="Allowed --reconcile difference in USD. [default: 0.01]"
    ),
]
TolerancePctOpt = Annotated[
    str | None,
    typer.Option(
        "--tolerance-pct",
        envvar="LLM_COST_TOLERANCE_PCT",
        help="Allowed --reconcile difference in percent (the larger allowance wins). [default: 0.1]",
    ),
]
ConcurrencyOpt = Annotated[
    int | None,
    typer.Option(
        "--concurrency",
        envvar="LLM_COST_CONCURRENCY",
        help="The most UTC days of a LiteLLM pull (hours at spend-logs hour/request grain) fetched at once (1-16), "
        "used when the proxy keeps llm-cost waiting. [default: 4]",
    ),
]
TriesOpt = Annotated[
    int | None,
    typer.Option(
        "--max-tries",
        envvar="LLM_COST_MAX_TRIES",
        help="Tries of one HTTP request to LiteLLM or Vantage, the first included (1-20). [default: 5]",
    ),
]
BudgetOpt = Annotated[
    float | None,
    typer.Option(
        "--retry-budget",
        envvar="LLM_COST_RETRY_BUDGET",
        help="Seconds one HTTP request may spend waiting between its tries (0-3600): backoff after errors, or a "
        "429's Retry-After; a longer wait fails at once. [default: 60]",
    ),
]


SourceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--source",
        help="Read only this labelled source of [[sources]] in llm-cost.toml (repeatable). [default: every source]",
        show_default=False,
    ),
]
KeepGoingOpt = Annotated[
    bool | None,
    typer.Option(
        "--keep-going",
        envvar="LLM_COST_KEEP_GOING",
        help="With [[sources]]: when a source fails, still write (or upload) the others, then exit 4 naming it.",
    ),
]


def _settings(cli: dict[str, Any], masker: Masker) -> ExportSettings:
    """The run's settings; every key they name (each labelled source's) is masked from then on."""
    values = {k: v for k, v in cli.items() if k in SETTING_NAMES}
    settings = resolve_export_settings(values)
    for secret in settings.secrets():
        masker.add(secret)
    return settings


def _finish(out: Output, run: ExportRun, where: str) -> None:
    """The closing lines of an export or dry-run, and the exit 4 of a --keep-going run that left sources out."""
    result = run.result
    out.detail(f"read {result.records} records into {result.groups} groups")
    if run.failures:
        raise keep_going_error(run.failures, f"wrote {result.rows} rows of the other sources to {where}")


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
    sub_account: SubAccountOpt = None,
    service_name: ServiceNameOpt = None,
    include_health_checks: HealthOpt = None,
    reconcile: ReconcileOpt = None,
    tolerance: ToleranceOpt = None,
    tolerance_pct: TolerancePctOpt = None,
    concurrency: ConcurrencyOpt = None,
    max_tries: TriesOpt = None,
    retry_budget: BudgetOpt = None,
    only_sources: SourceOpt = None,
    keep_going: KeepGoingOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write FOCUS CSV to stdout or -o: manifest estimates, or usage pulled from a LiteLLM proxy (or from every
    source of [[sources]] in llm-cost.toml)."""
    out = _output(ctx, quiet=quiet, verbose=verbose, debug=debug)
    masker = Masker([litellm_key])
    with handle_errors(out, masker):
        settings = _settings(locals(), masker)
        run = run_export(settings, out, write_csv=True)
        result = run.result
        where = "stdout" if is_stdout(settings.output) else str(settings.output)
        publish(run.summary, "llm-cost export", "" if is_stdout(settings.output) else where, run.failures)
        if result.rows == 0:
            out.warn(f"no rows: {where} holds only the CSV header")
        out.info(f"wrote {result.rows} rows to {where}, total cost {format_decimal(result.total_cost)} USD")
        _finish(out, run, where)


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
    sub_account: SubAccountOpt = None,
    service_name: ServiceNameOpt = None,
    include_health_checks: HealthOpt = None,
    reconcile: ReconcileOpt = None,
    tolerance: ToleranceOpt = None,
    tolerance_pct: TolerancePctOpt = None,
    concurrency: ConcurrencyOpt = None,
    max_tries: TriesOpt = None,
    retry_budget: BudgetOpt = None,
    only_sources: SourceOpt = None,
    keep_going: KeepGoingOpt = None,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Estimates against actuals: per model and sub-account, estimated, actual and the difference.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary on stdout.")] = False,
    chart_by: Annotated[
        ChartBy,
        typer.Option(
            "--chart-by",
            help="Chart the spend per day (windows of several days) by model, by team (the sub-account), or none.",
        ),
    ] = "model",
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Preview: totals by source, model, provider and sub-account (and the completeness of a LiteLLM pull), and a
    chart of the spend per day for a window of several days, on stderr. Writes the CSV only with -o."""
    out = _output(ctx, quiet=quiet, verbose=verbose, debug=debug)
    if not as_json:
        out.verbose = True  # the completeness summary is part of the preview; -q, before or after, still wins
    masker = Masker([litellm_key])
    with handle_errors(out, masker):
        if as_json and output is not None and is_stdout(output):
            raise typer.BadParameter("--json prints to stdout, so -o - cannot be used with it", param_hint="--output")
        settings = _settings(locals(), masker)
        run = run_export(settings, out, write_csv=output is not None)
        summary, result = run.summary, run.result
        publish(
            summary,
            "llm-cost dry-run",
            str(settings.output) if output and not is_stdout(output) else "",
            run.failures,
            chart_by,
        )
        if as_json:
            extra = {"compare": summary.compare_json()} if compare else {}
            typer.echo(
                json.dumps({**summary.to_json(), "records": result.records, "groups": result.groups, **extra}, indent=2)
            )
        elif not out.quiet:
            render(summary, out.console, compare=compare, chart_by=chart_by)
        _finish(out, run, str(settings.output) if output and not is_stdout(output) else "no file")


@app.command()
def upload(
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="FOCUS CSV files to upload; without files, build the rows from the source options.", show_default=False
        ),
    ] = None,
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
    sub_account: SubAccountOpt = None,
    service_name: ServiceNameOpt = None,
    include_health_checks: HealthOpt = None,
    concurrency: ConcurrencyOpt = None,
    max_tries: TriesOpt = None,
    retry_budget: BudgetOpt = None,
    only_sources: SourceOpt = None,
    keep_going: KeepGoingOpt = None,
    append: Annotated[
        bool, typer.Option("--append", help="Keep earlier uploads of the period instead of replacing them.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the files, sizes and what would be replaced; send nothing.")
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Poll until Vantage has imported every part.")] = False,
    wait_timeout: Annotated[
        float, typer.Option("--wait-timeout", help="Seconds --wait polls before giving up.")
    ] = 900.0,
    vantage_api_key: Annotated[
        str | None,
        typer.Option(
            "--vantage-api-key",
            envvar="VANTAGE_API_KEY",
            help="Vantage API token with the write scope.",
            show_default=False,
        ),
    ] = None,
    integration_token: Annotated[
        str | None,
        typer.Option(
            "--integration-token",
            envvar="VANTAGE_INTEGRATION_TOKEN",
            help="The Custom Provider's integration token (accss_crdntl_...).",
            show_default=False,
        ),
    ] = None,
    vantage_url: Annotated[
        str | None,
        typer.Option(
            "--vantage-url", envvar="VANTAGE_BASE_URL", help=f"Vantage API root. [default: {DEFAULT_BASE_URL}]"
        ),
    ] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Upload to a Vantage Custom Provider, replacing this tool's earlier uploads of the same period (per source
    label with [[sources]])."""
    out = _output(ctx, quiet=quiet, verbose=verbose, debug=debug)
    masker = Masker([vantage_api_key, integration_token, litellm_key])
    with handle_errors(out, masker):
        settings = _settings({**locals(), "format": "vantage"}, masker)
        client = open_vantage(settings.part(VantageSettings), dry_run=dry_run, retry=settings.retry)  # fail fast
        plan = UploadPlan()
        try:
            # Every part of every period is built and checked before anything is sent.
            build_upload_jobs(files, None if files else settings, out, plan)
            upload_jobs(out, plan, client, append=append, dry_run=dry_run, wait=wait, wait_timeout=wait_timeout)
        finally:
            if client is not None:
                client.close()
            plan.cleanup()


# `estimate` options: where the prompt comes from, how often it is sent, and which prices apply.
EstimateModelOpt = Annotated[
    str, typer.Option("--model", help="Model to price, as genai-prices or a [pricing] table names it (e.g. gpt-4o).")
]
EstimateTextOpt = Annotated[str | None, typer.Option("--text", "-t", help="The prompt text to count.")]
EstimateFileOpt = Annotated[Path | None, typer.Option("--file", help="A UTF-8 prompt file to count.")]
EstimateInputOpt = Annotated[
    int | None,
    typer.Option("--input-tokens", min=0, help="Input tokens per call, instead of counting a text."),
]
EstimateOutputOpt = Annotated[int, typer.Option("--output-tokens", min=0, help="Output tokens per call.")]
EstimateCallsOpt = Annotated[int, typer.Option("--calls", min=1, help="Calls (sends of the prompt) to price.")]
EstimateRatioOpt = Annotated[
    str | None,
    typer.Option(
        "--cache-hit-ratio", help="Share of the input read from the prompt cache (0-1), at the cache-read price."
    ),
]
EstimateManifestOpt = Annotated[
    str | None,
    typer.Option(
        "--manifest",
        "-m",
        envvar="LLM_COST_MANIFEST",
        help='Manifest whose [pricing."<model>"] tables override genai-prices. [default: --config, else '
        "./llm-cost.toml if present]",
    ),
]
EstimateConfigOpt = Annotated[
    str | None,
    typer.Option("--config", "-c", envvar="LLM_COST_CONFIG", help="llm-cost.toml whose [pricing] tables apply."),
]
EstimateDateOpt = Annotated[
    str | None,
    typer.Option(
        "--date",
        envvar="LLM_COST_DATE",
        help="Day whose prices apply: YYYY-MM-DD, today or yesterday (UTC). [default: today]",
    ),
]


@app.command("estimate")
def estimate_command(
    ctx: typer.Context,
    model: EstimateModelOpt,
    text: EstimateTextOpt = None,
    file: EstimateFileOpt = None,
    input_tokens: EstimateInputOpt = None,
    output_tokens: EstimateOutputOpt = 0,
    calls: EstimateCallsOpt = 1,
    cache_hit_ratio: EstimateRatioOpt = None,
    manifest: EstimateManifestOpt = None,
    config: EstimateConfigOpt = None,
    date: EstimateDateOpt = None,
    vocab_dir: VocabOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the estimate as JSON on stdout.")] = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Estimate what a prompt (--text, --file or stdin) or given token counts cost on a model: tokens, prices per
    million tokens and cost on stderr, or JSON on stdout with --json."""
    out = _output(ctx, quiet=quiet, verbose=verbose, debug=debug)
    with handle_errors(out):
        if text is not None and file is not None:
            raise typer.BadParameter("give the prompt by --text or by --file, not both", param_hint="--text/--file")
        if input_tokens is not None and (text is not None or file is not None):
            raise typer.BadParameter("--input-tokens replaces counting a prompt: drop --text/--file or it")
        stdin = None
        if input_tokens is None and text is None and file is None:
            if sys.stdin is None or sys.stdin.isatty():
                raise typer.BadParameter("give --text, --file or --input-tokens, or pipe the prompt on stdin")
            stdin = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        result = run_estimate(EstimateRequest.of(locals()), out.warn)
        if as_json:
            typer.echo(json.dumps(result.to_json(), indent=2))
        elif not out.quiet:
            render_table(result.table(), out.console)
            out.info(result.summary())


@app.command()
def diff(
    ctx: typer.Context,
    base: Annotated[
        str,
        typer.Option(
            "--base", help="Git ref (branch, tag or commit) to compare from, e.g. origin/main.", show_default=False
        ),
    ],
    head: Annotated[
        str | None,
        typer.Option("--head", help="Git ref to compare to. [default: the working tree, read from disk]"),
    ] = None,
    manifest: ManifestOpt = None,
    config: ConfigOpt = None,
    date: DateOpt = None,
    cache_hit_ratio: RatioOpt = None,
    vocab_dir: VocabOpt = None,
    output_format: Annotated[
        DiffFormat,
        typer.Option(
            "--format",
            "-f",
            help="table (on stderr), json or markdown (a PR comment), both on stdout.",
        ),
    ] = "table",
    fail_on_increase: Annotated[
        str | None,
        typer.Option(
            "--fail-on-increase",
            metavar="PCT",
            help="Exit 10 when the total estimated cost rises by more than PCT percent (from zero: any rise).",
        ),
    ] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Compare the manifest's estimated cost per prompt at two git refs: added, removed and changed prompts, and
    the totals."""
    out = _output(ctx, quiet=quiet, verbose=verbose, debug=debug)
    with handle_errors(out):
        diff_command(
            out,
            base=base,
            head=head,
            output_format=output_format,
            fail_on_increase=fail_on_increase,
            settings={
                "manifest": manifest,
                "config": config,
                "date": date,
                "cache_hit_ratio": cache_hit_ratio,
                "vocab_dir": vocab_dir,
            },
        )


# `check` options: spikes against the days before, and the warn share of budgets. Money and shares are read as
# exact decimals (strings), then checked by llm_cost.guard.run.parse_options (a bad value: one line, exit 3).
SpikeFactorOpt = Annotated[
    str | None,
    typer.Option(
        "--spike-factor",
        envvar="LLM_COST_SPIKE_FACTOR",
        metavar="F",
        help="Flag every team, key and model whose spend on a judged day exceeds F x the median of its "
        "--baseline-days days before (LiteLLM sources; off without it).",
    ),
]
BaselineDaysOpt = Annotated[
    int | None,
    typer.Option(
        "--baseline-days",
        envvar="LLM_COST_BASELINE_DAYS",
        metavar="N",
        help="Days before each judged day whose median spikes are judged against; the source is read that far "
        "back too (1-90). [default: 7]",
    ),
]
SpikeFloorOpt = Annotated[
    str | None,
    typer.Option(
        "--spike-floor",
        envvar="LLM_COST_SPIKE_FLOOR",
        metavar="USD",
        help="A day's spend must exceed this to be judged a spike (or new spend). [default: 1.00]",
    ),
]
WarnAtOpt = Annotated[
    str | None,
    typer.Option(
        "--warn-at",
        envvar="LLM_COST_WARN_AT",
        metavar="PCT",
        help="Warn when spend reaches this percentage of a budget limit (a limit's warn_pct wins). [default: 80]",
    ),
]


@app.command()
def check(
    ctx: typer.Context,
    mode: ModeOpt = None,
    manifest: ManifestOpt = None,
    cache_hit_ratio: RatioOpt = None,
    date: DateOpt = None,
    config: ConfigOpt = None,
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
    sub_account: SubAccountOpt = None,
    include_health_checks: HealthOpt = None,
    reconcile: ReconcileOpt = None,
    tolerance: ToleranceOpt = None,
    tolerance_pct: TolerancePctOpt = None,
    concurrency: ConcurrencyOpt = None,
    max_tries: TriesOpt = None,
    retry_budget: BudgetOpt = None,
    only_sources: SourceOpt = None,
    keep_going: KeepGoingOpt = None,
    spike_factor: SpikeFactorOpt = None,
    baseline_days: BaselineDaysOpt = None,
    spike_floor: SpikeFloorOpt = None,
    warn_at: WarnAtOpt = None,
    chart_by: Annotated[
        ChartBy,
        typer.Option(
            "--chart-by",
            help="Chart the spend per day (several days, baseline included) by model, by team, or none.",
        ),
    ] = "model",
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict and findings as JSON on stdout.")] = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Gate CI or cron on spend: [budget] limits, [policy] models and --spike-factor spikes over the same sources
    as export. Exit 0 clean (warnings pass), 8 policy, 7 budget, 9 spike (in that precedence)."""
    out = _output(ctx, quiet=quiet, verbose=verbose, debug=debug)
    masker = Masker([litellm_key])
    with handle_errors(out, masker):
        options = parse_check_options(
            spike_factor=spike_factor,
            baseline_days=baseline_days,
            spike_floor=spike_floor,
            warn_at=warn_at,
            chart_by=chart_by,
        )
        settings = _settings(locals(), masker)
        report = run_check(settings, out, options)
        text = show_check(report, out, as_json=as_json)
        if text is not None:
            typer.echo(text)
        error = report.error()
        if error is not None:
            raise error
        out.info(report.headline())


@app.command()
def init(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder to scan for prompt files (*.txt, *.md, *.prompt).")
    ] = Path("."),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Manifest to write. [default: <dir>/llm-cost.toml]")
    ] = None,
    model: Annotated[str, typer.Option("--model", help="[defaults] model for the prompts.")] = "gpt-4o",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing manifest.")] = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write a commented llm-cost.toml listing the prompt files found under --dir."""
    out = _output(ctx, quiet=quiet, verbose=verbose, debug=debug)
    with handle_errors(out):
        target = output or directory / "llm-cost.toml"
        prompts = write_manifest(directory, target, model=model, force=force)
        out.info(
            f"wrote {target} with {prompts} prompt(s); review the models, calls and tags, then run `llm-cost dry-run`"
        )


def main() -> None:
    """Console-script entry point."""
    app(prog_name="llm-cost")

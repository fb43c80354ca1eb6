"""What `check` does, between parsed settings and the report: read the rules, choose the days to judge (and, for
spikes, the baseline days before them), run the sources through the pipeline into a ledger, and judge."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from llm_cost.charts import DaySeries, day_series
from llm_cost.errors import ConfigError
from llm_cost.fanout import SourceFailure, keep_going_error
from llm_cost.focus.columns import columns_for
from llm_cost.focus.dimensions import sub_account_tag
from llm_cost.guard.judge import judge_budgets, judge_policy, judge_spikes, spans
from llm_cost.guard.ledger import Ledger
from llm_cost.guard.report import CheckReport
from llm_cost.guard.rules import ACTUAL, DEFAULT_WARN_PCT, ESTIMATE, HUNDRED, Rules, load_rules, tag_key
from llm_cost.output import Output, RunProgress
from llm_cost.runs import each_source, source_rows
from llm_cost.settings import ExportSettings, SourceRun
from llm_cost.sinks.preview import ChartBy
from llm_cost.sources.manifest import ManifestSettings
from llm_cost.window import resolve_window

NO_TEAM = "(no team)"
DEFAULT_BASELINE_DAYS = 7
MAX_BASELINE_DAYS = 90
DEFAULT_SPIKE_FLOOR = Decimal("1.00")


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """The flags of `check`: spikes (off without a factor), their baseline and floor, and the default warn share.
    `ignored` names the spike flags given without --spike-factor."""

    spike_factor: Decimal | None = None
    baseline_days: int = DEFAULT_BASELINE_DAYS
    spike_floor: Decimal = DEFAULT_SPIKE_FLOOR
    warn_at: Decimal = DEFAULT_WARN_PCT
    ignored: tuple[str, ...] = ()
    chart_by: ChartBy = "model"


def _decimal(value: str, option: str) -> Decimal:
    try:
        number = Decimal(value.strip().removesuffix("%").strip())
    except InvalidOperation:
        raise ConfigError(f"{option}: {value!r} is not a number") from None
    if not number.is_finite():
        raise ConfigError(f"{option}: {value!r} is not a finite number")
    return number


def parse_options(
    *,
    spike_factor: str | None = None,
    baseline_days: int | None = None,
    spike_floor: str | None = None,
    warn_at: str | None = None,
    chart_by: ChartBy = "model",
) -> CheckOptions:
    """The check flags, validated (each bad value a one-line ConfigError naming its flag)."""
    factor = _decimal(spike_factor, "--spike-factor") if spike_factor is not None else None
    if factor is not None and factor < 1:
        raise ConfigError(f"--spike-factor: {spike_factor!r} must be 1 or more (3 flags a day above 3x its median)")
    days = DEFAULT_BASELINE_DAYS if baseline_days is None else baseline_days
    if not 1 <= days <= MAX_BASELINE_DAYS:
        raise ConfigError(f"--baseline-days: {baseline_days} must be from 1 to {MAX_BASELINE_DAYS}")
    floor = _decimal(spike_floor, "--spike-floor") if spike_floor is not None else DEFAULT_SPIKE_FLOOR
    if floor < 0:
        raise ConfigError(f"--spike-floor: {spike_floor!r} must be zero or more US dollars")
    warn = _decimal(warn_at, "--warn-at") if warn_at is not None else DEFAULT_WARN_PCT
    if not 0 < warn <= HUNDRED:
        raise ConfigError(f"--warn-at: {warn_at!r} must be a percentage above 0 and at most 100")
    ignored = tuple(
        flag
        for flag, value in (("--baseline-days", baseline_days), ("--spike-floor", spike_floor))
        if value is not None and factor is None
    )
    return CheckOptions(factor, days, floor, warn, ignored, chart_by)


def _chosen_modes(settings: ExportSettings) -> list[str]:
    """The modes of the sources this run reads."""
    if not settings.labelled:
        return [settings.mode]
    wanted = settings.only_sources
    return [entry.mode for entry in settings.sources if not wanted or entry.label in wanted]


def rule_files(settings: ExportSettings) -> list[Path]:
    """Where the rules are: the config file, and in (unlabelled) manifest mode the manifest when it is another
    file (the original tool read `[budget]` and `[policy]` from the manifest)."""
    files = [settings.config] if settings.config is not None else []
    if not settings.labelled and settings.mode == "manifest":
        files.append(settings.part(ManifestSettings).manifest)
    return files


def _check_sources(settings: ExportSettings, rules: Rules, options: CheckOptions) -> None:
    """Refuse, before any work, what the chosen sources cannot judge (each a ConfigError, exit 3)."""
    modes = _chosen_modes(settings)
    if options.spike_factor is not None and all(mode == "manifest" for mode in modes):
        raise ConfigError(
            "--spike-factor judges actual spend against the days before it, and manifest estimates have no history; "
            "drop it, or check a LiteLLM source (--mode spend-logs or daily-activity)"
        )
    chargeback = sub_account_tag(settings.sub_account)
    for limit in rules.limits:
        key = tag_key(limit.scope)
        if key and "daily-activity" in modes and key != chargeback:
            raise ConfigError(
                f"{limit.rule} scope {limit.scope}: --mode daily-activity reads request tags only for "
                f"--sub-account tag:{key}; pass it, or use --mode spend-logs"
            )


@dataclass(frozen=True, slots=True)
class Plan:
    """The days to judge, the baseline days read before them (for spikes), and the settings that read them all."""

    days: tuple[date, ...]
    baseline: tuple[date, ...]
    settings: ExportSettings


def plan_days(settings: ExportSettings, options: CheckOptions, now: datetime | None = None) -> Plan:
    """The judged days: a manifest's charge day (`--date`), or every UTC day of a LiteLLM window (whole days
    only). With spikes, the source is read from `--baseline-days` days before the window's first day."""
    if all(mode == "manifest" for mode in _chosen_modes(settings)):
        return Plan((settings.part(ManifestSettings).date,), (), settings)
    moment = settings.given("now") or now or datetime.now(UTC)
    window = resolve_window(
        start=settings.start,
        end=settings.end,
        day=settings.day,
        month=settings.month,
        now=moment,
        include_partial=settings.include_partial,
    )
    pieces = list(window.days())
    if not all(piece.is_whole_day() for piece in pieces):
        raise ConfigError(
            f"check judges whole UTC days, but the window {window} cuts a day; give --day, --month, or --start and "
            "--end as dates"
        )
    days = tuple(piece.start.date() for piece in pieces)
    if options.spike_factor is None:
        return Plan(days, (), settings)
    first = days[0] - timedelta(days=options.baseline_days)
    baseline = tuple(first + timedelta(days=offset) for offset in range(options.baseline_days))
    extended = settings.replace(
        start=first.isoformat(), end=(days[-1] + timedelta(days=1)).isoformat(), day=None, month=None
    )
    return Plan(days, baseline, extended)


def collect(settings: ExportSettings, out: Output, tag_keys: frozenset[str]) -> tuple[Ledger, list[SourceFailure]]:
    """Run the source (or every labelled source, at once) through the pipeline into a ledger; with --keep-going,
    also the failed sources (their errors, named)."""
    keys = tuple(sorted(tag_keys))
    columns = columns_for("focus", "1.2", labelled=settings.labelled)
    if not settings.labelled:
        ledger = Ledger(keys)
        source_rows(settings, out, columns, [ledger])
        return ledger, []
    runs = settings.source_runs()

    def work(source_run: SourceRun, own: ExportSettings, bar: RunProgress, stop: threading.Event) -> Ledger:
        part = Ledger(keys)
        source_rows(own, out, columns, [part], progress=bar, stop=stop)
        return part

    done, failures = each_source(settings, runs, out, work)
    if not done:
        raise keep_going_error(failures, "nothing was checked")
    ledger = Ledger(keys)
    for _, part in done:
        ledger.merge(part)
    return ledger, failures


def _notes(rules: Rules, plan: Plan, ledger: Ledger, options: CheckOptions) -> list[str]:
    """What a reader of the verdict should know: periods judged in part, limits with nothing to judge, spike
    flags that did nothing."""
    notes: list[str] = []
    present = set(ledger.totals(plan.days))
    for limit in rules.limits:
        for span in sorted({s for s in spans(plan.days, limit.period).values() if s.partial}, key=lambda s: s.start):
            notes.append(
                f"{limit.rule} ({limit.period}): {span.label} is judged on the {span.covered} of its {span.days} "
                "days that the window covers"
            )
        if not present & set(limit.costs):
            what = " (the original daily ceiling of estimates)" if limit.rule == "[budget] max_cost_usd" else ""
            notes.append(f"{limit.rule}{what} judges {' and '.join(limit.costs)} spend, and this run has none")
    if options.spike_factor is not None and "estimate" in present:
        notes.append("spikes are judged on actual spend only; the estimates of this run are not")
    for flag in options.ignored:
        notes.append(f"{flag} applies only with --spike-factor, so it was ignored")
    return notes


def day_chart(ledger: Ledger, days: tuple[date, ...], by: ChartBy) -> tuple[DaySeries | None, str]:
    """The spend per day (the baseline days before the judged ones included) by model or team, and its title: of
    actual spend, or of the estimates when the run has no actual spend. Spend without a team is `(no team)`, so
    each day's bars add up to its total. None for one day, or `none`."""
    if by == "none" or len(days) < 2:
        return None, ""
    kinds = {series.cost for series in ledger.spend}
    cost = ACTUAL if ACTUAL in kinds else ESTIMATE
    names = ledger.display_names()
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for series, per_day in ledger.spend.items():
        if series.cost != cost or series.scope not in (by, "total"):
            continue
        for day, amount in per_day.items():
            if series.scope == "total":
                totals[(day.isoformat(), NO_TEAM)] += amount if by == "team" else 0
            else:
                key = (day.isoformat(), names.get(series, series.id))
                totals[key] += amount
                if by == "team":
                    totals[(day.isoformat(), NO_TEAM)] -= amount
    chart = day_series({key: amount for key, amount in totals.items() if amount}, days=[d.isoformat() for d in days])
    return (chart if chart.chartable else None), f"llm-cost check: {cost} spend per day by {by}"


def run_check(settings: ExportSettings, out: Output, options: CheckOptions) -> CheckReport:
    """Read, fold and judge. Configuration mistakes fail (exit 3) before any source is read."""
    rules = load_rules(rule_files(settings))
    if rules.empty and options.spike_factor is None:
        where = ", ".join(str(path) for path in rules.files) or "no config file (llm-cost.toml)"
        raise ConfigError(
            f"nothing to check: {where} has no [budget] limits or [policy], and --spike-factor is not given"
        )
    _check_sources(settings, rules, options)
    plan = plan_days(settings, options)
    read = plan.settings
    if rules.tag_keys and read.given("tag_keys"):  # --tag-key narrows the tags kept: keep the limits' too
        read = read.replace(tag_keys=tuple(sorted(set(read.given("tag_keys")) | rules.tag_keys)))
    ledger, failures = collect(read, out, rules.tag_keys)
    names = ledger.display_names()
    budgets = judge_budgets(ledger.spend, rules.limits, plan.days, warn_pct=options.warn_at, names=names)
    policy = judge_policy(ledger.model_uses(plan.days), rules.policy)
    spikes = (
        judge_spikes(
            ledger.spend,
            plan.days,
            factor=options.spike_factor,
            baseline_days=options.baseline_days,
            floor=options.spike_floor,
            names=names,
        )
        if options.spike_factor is not None
        else None
    )
    checked = {"policy": policy.checked} if rules.policy.active else {}
    checked |= {"budget": budgets.checked} if rules.limits else {}
    checked |= {"spike": spikes.checked} if spikes is not None else {}
    findings = [*policy.findings, *budgets.findings, *(spikes.findings if spikes else ())]
    chart, chart_title = day_chart(ledger, tuple(sorted({*plan.baseline, *plan.days})), options.chart_by)
    return CheckReport(
        findings=findings,
        days=plan.days,
        baseline=plan.baseline,
        options=options,
        rows=ledger.rows,
        cost=ledger.totals(plan.days),
        checked=checked,
        notes=_notes(rules, plan, ledger, options),
        failures=failures,
        chart=chart,
        chart_title=chart_title,
    )

"""PURE: the judge of `check`. Per-day spend (and the models used) in, findings out; no I/O.

- Budgets: each limit, for each value of its scope that its glob selects and each cost kind it applies to, sums
  the spend of the judged days in each of its periods (day; ISO week, Monday to Sunday; calendar month; all UTC).
  A period the window covers only in part is judged on the days it covers, and says so. Above the limit fails
  (exactly at it passes); at the warn share of it (and above zero) warns, once per value and period.
- Policy: every model used on the judged days, by its name or any of its model groups: a blocked glob fails, no
  allowed glob (when `allowed_models` is set) fails, and an unknown model warns or fails as `unknown_models` says.
- Spikes: each team, key and model of actual spend, on each judged day above the floor: more than `factor` times
  the median of its `baseline_days` days before (missing days count as 0) is a spike; no spend at all on those
  days makes it new (reported, never a failure).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Literal

from llm_cost.formats import format_decimal
from llm_cost.guard.ledger import ZERO, ModelUse, Series
from llm_cost.guard.rules import ACTUAL, DEFAULT_WARN_PCT, HUNDRED, Limit, Period, Policy
from llm_cost.records import EXACT

Kind = Literal["policy", "budget", "spike"]
Status = Literal["fail", "warn", "new", "ok"]
# Which failing kind decides the exit code: a policy violation (8) over an exceeded budget (7) over a spike (9).
KIND_ORDER: tuple[Kind, ...] = ("policy", "budget", "spike")
STATUS_ORDER: tuple[Status, ...] = ("fail", "warn", "new", "ok")
SPIKE_SCOPES = ("team", "key", "model")
PERCENT = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Span:
    """A period of a limit (or the days of a finding): `[start, end)`, and how many of its days the window covers."""

    label: str
    start: date
    end: date
    covered: int

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def partial(self) -> bool:
        return self.covered < self.days

    def describe(self) -> str:
        """`2026-W23`, or `2026-W23 (3 of 7 days)` when the window covers only part of it."""
        return f"{self.label} ({self.covered} of {self.days} days)" if self.partial else self.label


def period_of(day: date, period: Period) -> tuple[str, date, date]:
    """The label, first day and end (exclusive) of the period of `day`: the day, its ISO week (Monday to Sunday) or
    its calendar month."""
    if period == "day":
        return day.isoformat(), day, day + timedelta(days=1)
    if period == "week":
        monday = day - timedelta(days=day.weekday())
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}", monday, monday + timedelta(days=7)
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return f"{day:%Y-%m}", first, following


def spans(days: Iterable[date], period: Period) -> dict[date, Span]:
    """Each judged day's period, with how many judged days fall in it."""
    keyed = {day: period_of(day, period) for day in days}
    covered: dict[tuple[str, date, date], int] = {}
    for key in keyed.values():
        covered[key] = covered.get(key, 0) + 1
    return {day: Span(*key, covered[key]) for day, key in keyed.items()}


def days_span(first: date, last: date) -> Span:
    """The days from `first` to `last`, both included, as a span."""
    label = first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"
    count = (last - first).days + 1
    return Span(label, first, last + timedelta(days=1), count)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing `check` found (or, with status ok, the closest a limit came). `limit` is a budget's maximum or a
    spike's threshold (`factor` x `baseline`, its median); `rule` what the finding is judged by."""

    kind: Kind
    status: Status
    cost: str
    scope: str
    value: str
    value_id: str
    span: Span
    spend: Decimal
    limit: Decimal | None = None
    warn_at: Decimal | None = None
    baseline: Decimal | None = None
    rule: str = ""
    message: str = ""
    factor: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Judgement:
    """The findings of one judge, and how many things it judged (values x periods, models, values x days)."""

    findings: tuple[Finding, ...] = ()
    checked: int = 0


def _money(value: Decimal) -> str:
    return format_decimal(value)


def _who(scope: str, name: str) -> str:
    return "total spend" if scope == "total" else f"spend of {scope} {name}"


def _share(spend: Decimal, limit: Decimal) -> str:
    if not limit:
        return ""
    percent = EXACT.divide(EXACT.multiply(spend, HUNDRED), limit).quantize(PERCENT)
    return f"{percent}% of "


def judge_budgets(
    spend: Mapping[Series, Mapping[date, Decimal]],
    limits: Sequence[Limit],
    days: Iterable[date],
    *,
    warn_pct: Decimal = DEFAULT_WARN_PCT,
    names: Mapping[Series, str] | None = None,
) -> Judgement:
    """Every limit against the spend of the judged `days`: its failures and warnings, or, when it has none, one ok
    finding with its peak (the value and period that came closest)."""
    names = names or {}
    judged = sorted(set(days))
    if not judged:
        return Judgement()
    findings: list[Finding] = []
    checked = 0
    for limit in limits:
        periods = spans(judged, limit.period)
        share = limit.warn_pct if limit.warn_pct is not None else warn_pct
        warn_at = EXACT.divide(EXACT.multiply(limit.max_usd, share), HUNDRED)
        own: list[Finding] = []
        peak: Finding | None = None
        for series in sorted(spend):
            if series.scope != limit.scope or series.cost not in limit.costs:
                continue
            name = names.get(series, series.id)
            if not limit.matches(series.id, name):
                continue
            daily = spend[series]
            per_span: dict[Span, Decimal] = {}
            for day in judged:
                if day in daily:
                    span = periods[day]
                    per_span[span] = EXACT.add(per_span.get(span, ZERO), daily[day])
            for span, total in per_span.items():
                checked += 1
                if total > limit.max_usd:
                    status: Status = "fail"
                    message = (
                        f"budget exceeded: {_who(limit.scope, name)} was {_money(total)} USD ({series.cost}) in "
                        f"{span.describe()}, over the {_money(limit.max_usd)} USD limit of {limit.rule}"
                    )
                elif total > 0 and total >= warn_at:
                    status = "warn"
                    message = (
                        f"budget warning: {_who(limit.scope, name)} was {_money(total)} USD ({series.cost}) in "
                        f"{span.describe()}, {_share(total, limit.max_usd)}the {_money(limit.max_usd)} USD limit "
                        f"of {limit.rule}"
                    )
                else:
                    status, message = "ok", ""
                finding = Finding(
                    "budget",
                    status,
                    series.cost,
                    limit.scope,
                    name,
                    series.id,
                    span,
                    total,
                    limit.max_usd,
                    warn_at,
                    rule=limit.rule,
                    message=message,
                )
                if status != "ok":
                    own.append(finding)
                elif peak is None or total > peak.spend:
                    peak = finding
        if own:
            findings += own
        else:
            first = periods[judged[0]]
            findings.append(
                peak
                or Finding(
                    "budget",
                    "ok",
                    limit.applies_to,
                    limit.scope,
                    "",
                    "",
                    first,
                    ZERO,
                    limit=limit.max_usd,
                    warn_at=warn_at,
                    rule=limit.rule,
                )
            )
    return Judgement(tuple(findings), checked)


def _first_match(names: Sequence[str], globs: Iterable[str]) -> str | None:
    return next((glob for glob in globs if any(fnmatchcase(name, glob) for name in names)), None)


def judge_policy(uses: Iterable[ModelUse], policy: Policy) -> Judgement:
    """Every model used against `[policy]`: blocked, not allowed, unknown. A model matches a glob by its own name
    or by one of its model groups (case-sensitive)."""
    findings: list[Finding] = []
    checked = 0
    for use in uses:
        checked += 1
        names = (use.model, *use.groups)
        span = days_span(use.first, use.last)
        spent = f"{_money(use.spend)} USD ({use.cost}) on {span.label}"

        def finding(status: Status, rule: str, message: str, use: ModelUse = use, span: Span = span) -> Finding:
            return Finding(
                "policy", status, use.cost, "model", use.model, use.model, span, use.spend, rule=rule, message=message
            )

        blocked = _first_match(names, policy.blocked_models)
        if blocked is not None:
            rule = f"[policy] blocked_models {blocked!r}"
            findings.append(finding("fail", rule, f"policy violation: model {use.model} is blocked by {rule}: {spent}"))
        elif policy.allowed_models is not None and _first_match(names, policy.allowed_models) is None:
            rule = "[policy] allowed_models"
            findings.append(finding("fail", rule, f"policy violation: model {use.model} is not in {rule}: {spent}"))
        if use.unknown and policy.unknown_models != "allow":
            rule = f"[policy] unknown_models = {policy.unknown_models!r}"
            what = "policy violation" if policy.unknown_models == "fail" else "policy warning"
            findings.append(
                finding(
                    "fail" if policy.unknown_models == "fail" else "warn",
                    rule,
                    f"{what}: model {use.model} has no public list price (LiteLLM and genai-prices cannot price "
                    f"it): {spent}",
                )
            )
    return Judgement(tuple(findings), checked)


def median(values: Sequence[Decimal]) -> Decimal:
    """The median (of an even count: the mean of the middle two), exact."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return EXACT.divide(EXACT.add(ordered[middle - 1], ordered[middle]), Decimal(2))


def judge_spikes(
    spend: Mapping[Series, Mapping[date, Decimal]],
    days: Iterable[date],
    *,
    factor: Decimal,
    baseline_days: int,
    floor: Decimal,
    names: Mapping[Series, str] | None = None,
    scopes: Sequence[str] = SPIKE_SCOPES,
) -> Judgement:
    """Each team, key and model of actual spend on each judged day above `floor`, against `factor` x the median of
    its `baseline_days` days before (a missing day counts as 0). No spend on any of those days: new."""
    names = names or {}
    findings: list[Finding] = []
    checked = 0
    judged = sorted(set(days))
    for series in sorted(spend):
        if series.cost != ACTUAL or series.scope not in scopes:
            continue
        daily = spend[series]
        name = names.get(series, series.id)
        for day in judged:
            today = daily.get(day, ZERO)
            if today <= floor:
                continue
            checked += 1
            before = [daily.get(day - timedelta(days=back), ZERO) for back in range(1, baseline_days + 1)]
            span = days_span(day, day)
            rule = f"--spike-factor {factor} --baseline-days {baseline_days} --spike-floor {floor}"
            if not any(before):
                message = (
                    f"new spend: {series.scope} {name} spent {_money(today)} USD on {day}, with no spend in the "
                    f"{baseline_days} days before (above the {_money(floor)} USD floor)"
                )
                findings.append(
                    Finding(
                        "spike",
                        "new",
                        ACTUAL,
                        series.scope,
                        name,
                        series.id,
                        span,
                        today,
                        baseline=ZERO,
                        rule=rule,
                        message=message,
                    )
                )
                continue
            middle = median(before)
            threshold = EXACT.multiply(factor, middle)
            if today > threshold:
                times = f"{EXACT.divide(today, middle).quantize(PERCENT)}x" if middle else "above"
                message = (
                    f"spend spike: {series.scope} {name} spent {_money(today)} USD on {day}, {times} the median "
                    f"{_money(middle)} USD of its {baseline_days} days before (spike factor {factor})"
                )
                findings.append(
                    Finding(
                        "spike",
                        "fail",
                        ACTUAL,
                        series.scope,
                        name,
                        series.id,
                        span,
                        today,
                        limit=threshold,
                        baseline=middle,
                        rule=rule,
                        message=message,
                        factor=factor,
                    )
                )
    return Judgement(tuple(findings), checked)


def deciding_kind(findings: Iterable[Finding]) -> Kind | None:
    """The failing kind that decides the exit code: policy over budget over spike; None when nothing failed."""
    failed = {finding.kind for finding in findings if finding.status == "fail"}
    return next((kind for kind in KIND_ORDER if kind in failed), None)


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Failures first, then warnings, new spend and ok; by kind (policy, budget, spike) within each, stable."""
    return sorted(findings, key=lambda f: (STATUS_ORDER.index(f.status), KIND_ORDER.index(f.kind)))

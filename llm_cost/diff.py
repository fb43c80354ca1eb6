"""`llm-cost diff`: the manifest's estimated cost per prompt at two git refs, compared.

Two halves: the pure comparison and its renderings (table, JSON, markdown for a sticky PR comment), and the git
I/O that reads the manifest and its prompt files at a ref (`git cat-file`, an argument list, never a shell). Both
refs are priced by the manifest source's own `estimate`, with the same genai-prices day and token counter, so a
prompt costs here exactly what `export` would write for it.

A prompt is its ResourceId (`prompt_id`, else a slug of its path) and model: a prompt whose model changes is one
removed and one added; a prompt renamed without a `prompt_id` likewise.
"""

from __future__ import annotations

import json
import posixpath
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import typer
from rich.console import Console
from rich.table import Table as RichTable

from llm_cost import github
from llm_cost.config import parse_toml
from llm_cost.errors import ConfigError, CostIncrease
from llm_cost.formats import format_decimal, percent_change
from llm_cost.output import Output
from llm_cost.pricing import PriceBook
from llm_cost.reports import Table, table_markdown
from llm_cost.settings import resolve_export_settings
from llm_cost.sources.manifest import Manifest, ManifestSettings, estimate, load_manifest, parse_manifest
from llm_cost.tokens import TokenCounter

MARKER = "<!-- llm-cost-diff -->"  # the first line of the markdown: it identifies the sticky PR comment
CURRENCY = "USD"
WORKING_TREE = "the working tree"
Status = Literal["added", "removed", "changed", "unchanged"]
DiffFormat = Literal["table", "json", "markdown"]  # --format: a table on stderr, or JSON / markdown on stdout
PromptKey = tuple[str, str]  # (ResourceId, model)
HUNDRED = Decimal(100)
CENT_OF_PERCENT = Decimal("0.01")
GIT_TIMEOUT = 60  # seconds for one git command (they read one object each)


# --- the pure comparison ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PromptCost:
    """One prompt's estimated cost for the charge day at one ref (prompts sharing a ResourceId and model summed)."""

    resource_id: str
    model: str
    path: str
    cost: Decimal


@dataclass(frozen=True, slots=True)
class PromptChange:
    """A prompt at both refs: its cost at each (None where it does not exist) and what happened to it."""

    resource_id: str
    model: str
    path: str
    status: Status
    base: Decimal | None
    head: Decimal | None

    @property
    def delta(self) -> Decimal:
        """Head cost minus base cost (a missing side counts as zero)."""
        return (self.head or Decimal(0)) - (self.base or Decimal(0))

    @property
    def delta_pct(self) -> Decimal | None:
        """The change in percent of the base cost; None for an added prompt (or one that cost nothing)."""
        return percent_change(self.base or Decimal(0), self.head or Decimal(0))


@dataclass(frozen=True, slots=True)
class CostDiff:
    """The comparison of two refs: every prompt (sorted by absolute delta, largest first), and the totals."""

    base_ref: str
    head_ref: str | None  # None: the working tree
    manifest: str
    day: date
    prompts: tuple[PromptChange, ...]

    @property
    def base_total(self) -> Decimal:
        return sum((p.base for p in self.prompts if p.base is not None), Decimal(0))

    @property
    def head_total(self) -> Decimal:
        return sum((p.head for p in self.prompts if p.head is not None), Decimal(0))

    @property
    def delta(self) -> Decimal:
        return self.head_total - self.base_total

    @property
    def delta_pct(self) -> Decimal | None:
        return percent_change(self.base_total, self.head_total)

    def with_status(self, *statuses: Status) -> list[PromptChange]:
        return [p for p in self.prompts if p.status in statuses]

    def counts(self) -> dict[Status, int]:
        statuses: tuple[Status, ...] = ("added", "removed", "changed", "unchanged")
        return {status: len(self.with_status(status)) for status in statuses}

    def exceeds(self, threshold_pct: Decimal) -> bool:
        """True when the total rose by more than `threshold_pct` percent (exactly the threshold passes). From a zero
        base any increase is infinite, so it always exceeds; a total that fell or stayed never does."""
        if self.delta <= 0:
            return False
        return self.base_total == 0 or self.delta * HUNDRED > threshold_pct * self.base_total


def compare(
    base: Mapping[PromptKey, PromptCost],
    head: Mapping[PromptKey, PromptCost],
    *,
    base_ref: str,
    head_ref: str | None,
    manifest: str,
    day: date,
) -> CostDiff:
    """Match the prompts of two refs by ResourceId and model."""
    changes = []
    for key in base.keys() | head.keys():
        before, after = base.get(key), head.get(key)
        status: Status
        if before is None:
            status = "added"
        elif after is None:
            status = "removed"
        else:
            status = "changed" if before.cost != after.cost else "unchanged"
        shown = after or before
        assert shown is not None
        changes.append(
            PromptChange(
                key[0],
                key[1],
                shown.path,
                status,
                before.cost if before else None,
                after.cost if after else None,
            )
        )
    changes.sort(key=lambda c: (-abs(c.delta), c.resource_id, c.model))
    return CostDiff(base_ref, head_ref, manifest, day, tuple(changes))


def parse_threshold(text: str) -> Decimal:
    """`--fail-on-increase PCT`: a percentage of zero or more (a trailing % is allowed)."""
    try:
        value = Decimal(text.strip().removesuffix("%").strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0:
        raise ConfigError(f"--fail-on-increase: {text!r} is not a percentage; use a number of zero or more, e.g. 10")
    return value


# --- renderings -------------------------------------------------------------------------------------------------


def money(value: Decimal | None, *, signed: bool = False) -> str:
    """A cost in USD as an exact fixed-point decimal; `+` before an increase when signed; `-` when missing."""
    if value is None:
        return "-"
    text = format_decimal(value)
    return f"+{text}" if signed and value > 0 else text


def percent(value: Decimal | None, *, signed: bool = True) -> str | None:
    """A percentage rounded half-even to two decimals (`+12.50` when signed, else `12.50`), or None when
    undefined."""
    if value is None:
        return None
    rounded = value.quantize(CENT_OF_PERCENT, rounding=ROUND_HALF_EVEN)
    if rounded == 0:
        return "0.00"
    return f"+{rounded}" if signed and rounded > 0 else str(rounded)


def _percent_cell(change: PromptChange) -> str:
    shown = percent(change.delta_pct)
    if shown is not None:
        return f"{shown}%"
    return "new" if change.status == "added" else "n/a"


def head_name(diff: CostDiff) -> str:
    return diff.head_ref if diff.head_ref is not None else WORKING_TREE


def totals_line(diff: CostDiff, *, arrow: str = "→") -> str:
    """`Estimated cost per day: 1.0 → 1.1 USD (+0.1 USD, +10.00 %)`."""
    pct = percent(diff.delta_pct)
    pct_text = f"{pct}%" if pct is not None else "n/a"
    return (
        f"Estimated cost per day: {money(diff.base_total)} {arrow} {money(diff.head_total)} {CURRENCY} "
        f"({money(diff.delta, signed=True)} {CURRENCY}, {pct_text})"
    )


def counts_line(diff: CostDiff) -> str:
    counts = diff.counts()
    return ", ".join(f"{counts[s]} {s}" for s in ("added", "removed", "changed", "unchanged"))


CHANGE_HEADINGS = ("Prompt", "Model", "File", "Change", "Base (USD)", "Head (USD)", "Δ (USD)", "Δ %")
RIGHT = frozenset({"Base (USD)", "Head (USD)", "Δ (USD)", "Δ %", "Cost (USD)"})


def _change_row(change: PromptChange, code: Callable[[str], str]) -> list[str]:
    return [
        code(change.resource_id),
        code(change.model),
        code(change.path),
        change.status,
        money(change.base),
        money(change.head),
        money(change.delta, signed=True),
        _percent_cell(change),
    ]


def changes_table(diff: CostDiff) -> Table:
    """The added, removed and changed prompts, for the terminal (stderr; without the File column, for width)."""
    file_column = CHANGE_HEADINGS.index("File")
    rows = [_change_row(c, str) for c in diff.with_status("added", "removed", "changed")]
    return Table(
        f"Estimated prompt cost per day: {diff.base_ref} -> {head_name(diff)}",
        CHANGE_HEADINGS[:file_column] + CHANGE_HEADINGS[file_column + 1 :],
        [row[:file_column] + row[file_column + 1 :] for row in rows],
        lines=(totals_line(diff, arrow="->"), f"Prompts: {counts_line(diff)}; prices of {diff.day.isoformat()}."),
        right=RIGHT,
    )


def render_changes(diff: CostDiff, console: Console) -> None:
    """The changes table on the console: names fold on a narrow terminal, amounts are never cut."""
    table = changes_table(diff)
    rich_table = RichTable(title=table.title, title_justify="left")
    for heading in table.headings:
        if heading in table.right:
            rich_table.add_column(heading, justify="right", no_wrap=True)
        else:
            rich_table.add_column(heading, overflow="fold")
    for row in table.rows:
        rich_table.add_row(*row)
    console.print(rich_table)
    for line in table.lines:
        console.print(line, markup=False, highlight=False)


def to_json(diff: CostDiff) -> dict[str, Any]:
    """The whole comparison, unchanged prompts included; money as decimal strings, percentages rounded to two
    decimals (null where undefined)."""
    return {
        "base": diff.base_ref,
        "head": diff.head_ref,
        "manifest": diff.manifest,
        "date": diff.day.isoformat(),
        "currency": CURRENCY,
        "total": {
            "base_cost": money(diff.base_total),
            "head_cost": money(diff.head_total),
            "delta": money(diff.delta),
            "delta_pct": percent(diff.delta_pct, signed=False),
        },
        "counts": diff.counts(),
        "prompts": [
            {
                "resource_id": c.resource_id,
                "model": c.model,
                "path": c.path,
                "status": c.status,
                "base_cost": None if c.base is None else money(c.base),
                "head_cost": None if c.head is None else money(c.head),
                "delta": money(c.delta),
                "delta_pct": percent(c.delta_pct, signed=False),
            }
            for c in diff.prompts
        ],
    }


def code_span(text: str) -> str:
    """`text` as a markdown code span, so nothing in a name renders (links, mentions, HTML): the fence is one
    backtick longer than any run inside it."""
    text = text.replace("\r", " ").replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _ref_text(ref: str) -> str:
    """A ref in the comment: a full commit id as plain text (GitHub links it to the commit), anything else as code."""
    return ref if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", ref) else code_span(ref)


def to_markdown(diff: CostDiff) -> str:
    """The sticky PR comment: the marker line, a heading, the totals, the changed prompts by absolute delta, and
    the unchanged ones collapsed."""
    lines = [
        MARKER,
        "### llm-cost diff",
        "",
        f"**{totals_line(diff)}**",
        "",
        f"Base {_ref_text(diff.base_ref)}, head "
        + (_ref_text(diff.head_ref) if diff.head_ref is not None else WORKING_TREE)
        + f"; manifest {code_span(diff.manifest)}; prices of {diff.day.isoformat()}. Prompts: {counts_line(diff)}.",
        "",
    ]
    changed = diff.with_status("added", "removed", "changed")
    if changed:
        rows = [_change_row(c, code_span) for c in changed]
        lines.append(table_markdown(Table("", CHANGE_HEADINGS, rows, right=RIGHT), title=False))
    else:
        lines.append("No prompt's estimated cost changed.")
    unchanged = diff.with_status("unchanged")
    lines += [
        "",
        "<details>",
        f"<summary>{len(unchanged)} unchanged prompt{'' if len(unchanged) == 1 else 's'}</summary>",
    ]
    lines.append("")
    if unchanged:
        headings = ("Prompt", "Model", "File", "Cost (USD)")
        rows = [[code_span(c.resource_id), code_span(c.model), code_span(c.path), money(c.head)] for c in unchanged]
        lines.append(table_markdown(Table("", headings, rows, right=RIGHT), title=False))
    else:
        lines.append("None.")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


# --- git I/O ----------------------------------------------------------------------------------------------------


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else "no message"


class GitRepo:
    """The git repository that holds a folder. Every command is an argument list (never a shell), and every ref
    is resolved to a commit before anything is read from it."""

    def __init__(self, where: Path) -> None:
        self.where = where
        proc = self._git("rev-parse", "--show-toplevel")
        if proc.returncode != 0:
            raise ConfigError(
                f"not a git repository: {where.absolute()} ({_first_line(proc.stderr)}); diff compares git refs, so "
                "run it inside the repository that holds the manifest"
            )
        self.top = Path(proc.stdout.decode("utf-8").rstrip("\n"))

    def _git(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(
                ["git", "-C", str(self.where), *args], capture_output=True, timeout=GIT_TIMEOUT, check=False
            )
        except FileNotFoundError:
            raise ConfigError("git is not installed or not on PATH; diff reads the refs with git") from None
        except subprocess.TimeoutExpired:
            raise ConfigError(f"git {args[0]} took longer than {GIT_TIMEOUT} s") from None

    def commit(self, ref: str) -> str:
        """The commit a ref names; a ConfigError for an unknown ref, or one that could be taken for an option."""
        if not ref.strip() or ref.startswith("-") or any(ch in ref for ch in "\0\r\n"):
            raise ConfigError(f"invalid git ref {ref!r}: give a branch, tag or commit (it may not start with '-')")
        proc = self._git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
        sha = proc.stdout.decode("utf-8", "replace").strip()
        if proc.returncode != 0 or not re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", sha):
            raise ConfigError(
                f"unknown git ref {ref!r}: no such branch, tag or commit here (fetch it first; in GitHub Actions "
                "check out with fetch-depth: 0)"
            )
        return sha

    def relative(self, path: Path, what: str) -> PurePosixPath:
        """A path on disk as a path inside the repository."""
        try:
            inside = path.resolve().relative_to(self.top.resolve())
        except ValueError:
            raise ConfigError(f"{what} {path} is outside the git repository {self.top}") from None
        return PurePosixPath(inside.as_posix())

    def read(self, commit: str, path: PurePosixPath) -> bytes | None:
        """A file's bytes at a commit, or None when the commit has no such file."""
        spec = f"{commit}:{path.as_posix()}"
        if self._git("cat-file", "-e", spec).returncode != 0:
            return None
        proc = self._git("cat-file", "blob", spec)
        if proc.returncode != 0:
            raise ConfigError(f"cannot read {path} at {commit[:12]}: {_first_line(proc.stderr)}")
        return proc.stdout


@dataclass(frozen=True, slots=True)
class Estimator:
    """Prices a manifest the way the manifest source does: one charge day, one counter, one cache-hit override."""

    day: date
    counter: TokenCounter
    cache_hit_ratio: Decimal | None

    def costs(
        self,
        manifest: Manifest,
        warn: Callable[[str], None],
        read: Callable[[Path, str], str] | None = None,
    ) -> dict[PromptKey, PromptCost]:
        """Each prompt's cost for the day; prompts sharing a ResourceId and model are summed (as export does)."""
        records = estimate(
            manifest,
            day=self.day,
            prices=PriceBook(manifest.price_overrides()),
            counter=self.counter,
            cache_hit_ratio=self.cache_hit_ratio,
            warn=warn,
            read=read,
        )
        costs: dict[PromptKey, PromptCost] = {}
        for record in records:
            rid = record.resource_id or ""
            key = (rid, record.model)
            earlier = costs.get(key)
            path = record.resource_name or ""
            costs[key] = PromptCost(
                rid,
                record.model,
                earlier.path if earlier else path,
                record.cost + (earlier.cost if earlier else Decimal(0)),
            )
        return costs


def _git_reader(repo: GitRepo, commit: str, ref: str) -> Callable[[Path, str], str]:
    """Reads a prompt file (its path joined to the manifest's folder inside the repository) at a commit."""

    def read(path: Path, as_written: str) -> str:
        if path.is_absolute():
            inside = repo.relative(path, f"prompt file {as_written}")
        else:
            normal = posixpath.normpath(path.as_posix())
            if normal == ".." or normal.startswith("../"):
                raise ConfigError(f"prompt file {as_written} is outside the git repository")
            inside = PurePosixPath(normal)
        data = repo.read(commit, inside)
        if data is None:
            raise ConfigError(
                f"prompt file not found: {as_written} (looked for {ref}:{inside}; paths are relative to the manifest)"
            )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"prompt file {as_written} is not UTF-8 text") from None

    return read


def _manifest_at(repo: GitRepo, commit: str, ref: str, path: PurePosixPath) -> Manifest | None:
    """The manifest at a commit, or None when the commit has no such file."""
    data = repo.read(commit, path)
    if data is None:
        return None
    where = f"{ref}:{path}"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read manifest {where}: not UTF-8 text") from None
    return parse_manifest(parse_toml(text, where), Path(path), where)


def _labelled(label: str, warn: Callable[[str], None]) -> Callable[[str], None]:
    return lambda message: warn(f"{label}: {message}")


def run_diff(
    *,
    base: str,
    head: str | None,
    manifest: Path,
    estimator: Estimator,
    warn: Callable[[str], None],
) -> CostDiff:
    """Estimate the manifest at `base` and at `head` (None: the working tree, read from disk like export does),
    and compare them.

    A manifest missing at the base (added by the head) makes every prompt `added`; one missing at the head, or
    a prompt file missing at either ref, is a ConfigError that names the ref."""
    folder = manifest.parent if manifest.parent.is_dir() else Path.cwd()
    repo = GitRepo(folder)
    inside = repo.relative(manifest, "manifest")
    head_label = f"head {head}" if head is not None else f"head ({WORKING_TREE})"
    refs = [(f"base {base}", base)] + ([(head_label, head)] if head is not None else [])
    commits = {}
    for label, ref in refs:
        try:
            commits[ref] = repo.commit(ref)
        except ConfigError as exc:
            raise ConfigError(f"{label.split()[0]}: {exc}") from None

    def side(label: str, ref: str | None) -> dict[PromptKey, PromptCost] | None:
        try:
            if ref is None:
                return estimator.costs(load_manifest(manifest), _labelled(label, warn))
            found = _manifest_at(repo, commits[ref], ref, inside)
            if found is None:
                return None
            return estimator.costs(found, _labelled(label, warn), _git_reader(repo, commits[ref], ref))
        except ConfigError as exc:
            raise ConfigError(f"{label}: {exc}", exc.details) from None

    base_costs = side(f"base {base}", base)
    head_costs = side(head_label, head)
    if head_costs is None:
        raise ConfigError(f"{head_label}: manifest not found: {head}:{inside} (check --manifest or --config)")
    if base_costs is None:
        warn(f"base {base} has no manifest {inside}: every prompt of the head counts as added")
        base_costs = {}
    return compare(base_costs, head_costs, base_ref=base, head_ref=head, manifest=str(inside), day=estimator.day)


def outputs(diff: CostDiff) -> dict[str, str]:
    """The step outputs of a diff in GitHub Actions."""
    return {
        "base-cost": money(diff.base_total),
        "head-cost": money(diff.head_total),
        "cost-delta": money(diff.delta),
        "cost-delta-pct": percent(diff.delta_pct, signed=False) or "",
    }


def describe_increase(diff: CostDiff, threshold: Decimal) -> str:
    """The one line of a CostIncrease."""
    pct = percent(diff.delta_pct, signed=False)
    by = f"{pct}%" if pct is not None else "from zero"
    return (
        f"estimated cost per day rose {by} ({money(diff.base_total)} -> {money(diff.head_total)} {CURRENCY}), "
        f"more than --fail-on-increase {threshold}%"
    )


# --- the command ------------------------------------------------------------------------------------------------


def diff_command(
    out: Output,
    *,
    base: str,
    head: str | None,
    output_format: DiffFormat,
    fail_on_increase: str | None,
    settings: dict[str, Any],
) -> None:
    """`llm-cost diff`: the manifest, the charge day (`--date`, the prices' day), the cache-hit override and the
    vocabularies come from the flags, environment and `[settings]` exactly as for export; the result goes to
    stderr (table) or stdout (json, markdown), and to the step outputs and summary inside GitHub Actions.
    Raises CostIncrease (exit 10) when the total rose above `--fail-on-increase`, after the output is written."""
    threshold = parse_threshold(fail_on_increase) if fail_on_increase is not None else None
    part = resolve_export_settings(settings).part(ManifestSettings)
    estimator = Estimator(part.date, TokenCounter(part.vocab_dir, warn=out.warn), part.cache_hit_ratio)
    result = run_diff(base=base, head=head, manifest=part.manifest, estimator=estimator, warn=out.warn)
    markdown = to_markdown(result)
    if output_format == "json":
        typer.echo(json.dumps(to_json(result), indent=2))
    elif output_format == "markdown":
        typer.echo(markdown, nl=False)
    elif not out.quiet:
        render_changes(result, out.console)
    if github.in_actions():
        github.write_outputs(outputs(result))
        github.append_summary(markdown)
    if threshold is not None and result.exceeds(threshold):
        raise CostIncrease(describe_increase(result, threshold))

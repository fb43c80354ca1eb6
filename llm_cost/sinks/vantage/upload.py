"""Replace-and-rollback upload of a run's parts, their file names, the upload summaries and the import poller.

A run uploads all its parts first, and only when every part succeeded deletes the earlier llm-cost uploads of the
same period (matched by file name); a failed part rolls back the parts just uploaded. See vantage-api.md §1.5.

A labelled source (`[[sources]]`) puts its label in the file names, `llm-cost_<label>_<start>_<end>_<run-id>_partNNN`,
so it replaces only its own earlier uploads of the period. Labels are never shaped like a date, so an unlabelled
name (`llm-cost_<start>_<end>_...`) and a labelled one never share a prefix.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from llm_cost.errors import ConfigError, DestinationError
from llm_cost.formats import format_decimal
from llm_cost.reports import Table
from llm_cost.sinks.vantage.batching import Batches, Part
from llm_cost.sinks.vantage.client import VantageClient

FILE_PREFIX = "llm-cost"
RATE_LIMIT_PER_HOUR = 1000
LARGE_RUN_REQUESTS = 100


UNLABELLED = re.compile(rf"{FILE_PREFIX}_(\d{{4}}-\d{{2}}-\d{{2}})_(\d{{4}}-\d{{2}}-\d{{2}})_")


def period_prefix(start: date, end: date, label: str | None = None) -> str:
    """The file-name prefix shared by every llm-cost upload of one period (and source label):
    `llm-cost_<start>_<end>_`, or `llm-cost_<label>_<start>_<end>_`."""
    tag = f"{label}_" if label else ""
    return f"{FILE_PREFIX}_{tag}{start.isoformat()}_{end.isoformat()}_"


def unlabelled_period(filename: str) -> tuple[date, date] | None:
    """The period of an unlabelled llm-cost upload (one made before `[[sources]]`), else None."""
    match = UNLABELLED.match(filename)
    if match is None:
        return None
    try:
        return date.fromisoformat(match[1]), date.fromisoformat(match[2])
    except ValueError:
        return None


def new_run_id(now: datetime | None = None) -> str:
    """A unique, sortable, traceable run id: UTC time plus random hex."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def part_filename(start: date, end: date, run_id: str, number: int, label: str | None = None) -> str:
    """`llm-cost_<period-start>_<period-end>_<run-id>_partNNN.csv`, with `<label>_` after `llm-cost_` for a
    labelled source."""
    return f"{period_prefix(start, end, label)}{run_id}_part{number:03d}.csv"


@dataclass(slots=True)
class UploadResult:
    """What a run did: the parts it uploaded (with Vantage's tokens) and the earlier uploads it replaced."""

    run_id: str
    prefix: str
    parts: list[Part]
    rows: int
    size: int
    cost: Decimal
    uploaded: list[dict[str, Any]] = field(default_factory=list)
    replaced: list[dict[str, Any]] | None = None  # None: not listed (append mode, or a dry run without credentials)
    dry_run: bool = False
    append: bool = False
    requests: int = 0
    retries: int = 0
    period: tuple[date, date] | None = None

    def table(self, source: str) -> Table:
        """The upload summary: files, rows, bytes, cost, Vantage's tokens, and what was (or would be) replaced."""
        tokens = [str(u.get("token", "")) for u in self.uploaded]
        rows = [
            (
                part.filename,
                str(part.rows),
                f"{part.size:,}",
                format_decimal(part.cost),
                tokens[index] if index < len(tokens) else ("(dry run)" if self.dry_run else ""),
            )
            for index, part in enumerate(self.parts)
        ]
        verb = "would upload" if self.dry_run else "uploaded"
        lines = [
            f"{verb} {len(self.parts)} file(s), {self.rows} rows, {self.size:,} bytes, "
            f"total cost {format_decimal(self.cost)}"
        ]
        if self.replaced is None:
            lines.append(
                "append mode: earlier uploads are kept" if self.append else "no credentials: earlier uploads not listed"
            )
        elif self.replaced:
            names = ", ".join(f"{u.get('filename')} ({u.get('token')})" for u in self.replaced)
            replaced_verb = "would replace" if self.dry_run else "replaced (deleted)"
            lines.append(f"{replaced_verb} {len(self.replaced)} earlier upload(s): {names}")
        else:
            lines.append("no earlier llm-cost upload of this period to replace")
        return Table(
            f"Vantage upload of {source} (run {self.run_id})",
            ("File", "Rows", "Bytes", "Cost", "Upload token"),
            rows,
            lines,
            right=frozenset({"Rows", "Bytes", "Cost"}),
        )


def uploads_table(results: Iterable[tuple[str, UploadResult]]) -> Table:
    """One line per uploaded period: files, rows, cost, tokens and what was replaced (the GitHub step summary)."""
    rows = []
    for source, result in results:
        tokens = ", ".join(f"`{u.get('token')}`" for u in result.uploaded) or ("dry run" if result.dry_run else "")
        replaced = "kept (append)" if result.replaced is None else str(len(result.replaced))
        rows.append((source, str(len(result.parts)), str(result.rows), format_decimal(result.cost), tokens, replaced))
    return Table(
        "llm-cost upload to Vantage",
        ("Period source", "Files", "Rows", "Cost", "Upload tokens", "Replaced"),
        rows,
        right=frozenset({"Files", "Rows", "Cost", "Replaced"}),
    )


def estimated_requests(parts: int, replaced: int, append: bool) -> int:
    """Requests a run makes: list, upload each part, list to verify, delete each replaced upload."""
    return parts + (0 if append else 2 + replaced)


@dataclass(slots=True, frozen=True)
class PeriodUpload:
    """One replaceable period of one source to upload: its parts, the period (None: the span of its rows) and the
    source's label (None: unlabelled)."""

    batches: Batches
    period: tuple[date, date] | None = None
    label: str | None = None


def upload_batches(
    client: VantageClient | None,
    batches: Batches,
    *,
    run_id: str,
    append: bool = False,
    dry_run: bool = False,
    period: tuple[date, date] | None = None,
    label: str | None = None,
    warn: Callable[[str], None] = lambda message: None,
    on_part: Callable[[Part], None] = lambda part: None,
) -> UploadResult:
    """Upload every part, then (replace mode) delete the earlier llm-cost uploads of the same period (and label);
    `on_part` hears of each part uploaded (for progress).

    `period` is the replaceable unit (a source's window); by default it is the span of the rows' charge periods.

    On a failed part the parts of this run that did upload are deleted again, the earlier uploads stay, and the
    error is raised (exit 5). A part that Vantage recorded twice (a retry after a lost response) is deleted, so
    the run's totals count once.

    When Vantage fails between the two steps (a rollback or an earlier upload cannot be deleted), the period holds
    two runs' costs: the error names the period and says so. Re-running the same command repairs it, since its
    list finds every llm-cost upload of the period, whichever run made it, and replaces them all.
    """
    (result,) = upload_together(
        client,
        [PeriodUpload(batches, period, label)],
        run_id=run_id,
        append=append,
        dry_run=dry_run,
        warn=warn,
        on_part=on_part,
    )
    return result


def upload_together(
    client: VantageClient | None,
    uploads: Sequence[PeriodUpload],
    *,
    run_id: str,
    append: bool = False,
    dry_run: bool = False,
    also_replace: Sequence[dict[str, Any]] = (),
    warn: Callable[[str], None] = lambda message: None,
    on_part: Callable[[Part], None] = lambda part: None,
) -> list[UploadResult]:
    """`upload_batches` for several uploads as one: every part of every upload first (a failure rolls them all
    back), then the earlier uploads of each one's prefix, and `also_replace` (unlabelled uploads that these labelled
    ones take over) are deleted. The first result lists `also_replace` among what it replaced."""
    results = [_prepared(upload, run_id, dry_run, append) for upload in uploads]
    earlier: list[list[dict[str, Any]]] = [[] for _ in results]
    if client is not None and not append:
        listing = client.list_uploads()
        for result, mine in zip(results, earlier, strict=True):
            mine += [u for u in listing if str(u.get("filename", "")).startswith(result.prefix)]
        earlier[0] += list(also_replace)
        for result, mine in zip(results, earlier, strict=True):
            result.replaced = mine
    expected = sum(
        estimated_requests(len(r.parts), len(mine), append) for r, mine in zip(results, earlier, strict=True)
    )
    if expected >= LARGE_RUN_REQUESTS:
        warn(f"this run makes about {expected} Vantage API requests; the limit is {RATE_LIMIT_PER_HOUR} per hour")
    if dry_run or client is None:
        return results
    what = _periods_text(results)
    try:
        for result in results:
            for part in result.parts:
                result.uploaded.append(client.upload(part.filename, part.path.read_bytes()))
                on_part(part)
            if not append:
                _drop_duplicates(client, result, warn)
    except BaseException as failure:
        left = [name for result in results for name in _roll_back(client, result, warn)]
        if left:
            raise DestinationError(
                f"{what} is half-replaced: {failure}, and the rollback could not delete "
                f"{len(left)} uploaded part(s) of run {run_id} ({left[0]}), so Vantage counts them on top of the "
                "earlier uploads; re-run the same command to repair it (it replaces every llm-cost upload of the "
                "period)",
                details=getattr(failure, "details", []),
            ) from None
        raise
    if not append:
        doomed = [upload for mine in earlier for upload in mine]
        for number, upload in enumerate(doomed):
            try:
                client.delete(str(upload.get("token")))
            except DestinationError as exc:
                raise DestinationError(
                    f"{what} is counted twice in Vantage: the new upload (run {run_id}, "
                    f"{sum(len(r.uploaded) for r in results)} part(s)) landed, but {len(doomed) - number} earlier "
                    f"upload(s) could not be deleted ({exc}); re-run the same command to repair it (it replaces "
                    "every llm-cost upload of the period)",
                    details=exc.details,
                ) from None
    for result in results:
        _check_amount(result, warn)
        result.requests, result.retries = client.requests, client.retries
    return results


def _prepared(upload: PeriodUpload, run_id: str, dry_run: bool, append: bool) -> UploadResult:
    """The result of one upload before anything is sent: its prefix and its parts' file names."""
    batches = upload.batches
    start, end = upload.period or (batches.period_start, batches.period_end)
    if start is None or end is None or not batches.parts:
        raise ConfigError("nothing to upload: there are no rows")
    for part in batches.parts:
        part.filename = part_filename(start, end, run_id, part.number, upload.label)
    return UploadResult(
        run_id,
        period_prefix(start, end, upload.label),
        batches.parts,
        batches.rows,
        sum(p.size for p in batches.parts),
        batches.cost,
        dry_run=dry_run,
        append=append,
        period=(start, end),
    )


def _periods_text(results: Sequence[UploadResult]) -> str:
    periods = sorted({r.period for r in results if r.period is not None})
    return ", ".join(_period_text(*period) for period in periods) or "the period"


def _listed_parts(client: VantageClient, result: UploadResult) -> dict[str, str]:
    """Token -> file name of every upload of this run that Vantage's list shows (by the run's file-name prefix)."""
    return {
        str(u.get("token")): str(u.get("filename"))
        for u in client.list_uploads()
        if str(u.get("filename", "")).startswith(result.prefix + result.run_id)
    }


def _drop_duplicates(client: VantageClient, result: UploadResult, warn: Callable[[str], None]) -> None:
    """Keep exactly one upload per part of this run: delete any copy a retried POST created."""
    kept = {str(u.get("token")) for u in result.uploaded}
    for token, name in _listed_parts(client, result).items():
        if token not in kept:
            warn(f"Vantage recorded {name} twice (a retried request); deleting the extra copy {token}")
            client.delete(token)


def _period_text(start: date, end: date) -> str:
    return f"period {start.isoformat()} to {end.isoformat()}"


def _roll_back(client: VantageClient, result: UploadResult, warn: Callable[[str], None]) -> list[str]:
    """Delete this run's parts after a failure, so the period keeps exactly its earlier uploads; returns the file
    names of the parts that could not be deleted. The parts are the uploads Vantage answered for, and any other
    upload of this run that its list shows (a part stored although its answer was lost)."""
    mine = {str(u.get("token")): str(u.get("filename")) for u in result.uploaded}
    try:
        mine.update(_listed_parts(client, result))
    except DestinationError as exc:
        warn(f"rollback: could not list the uploads to find every part of run {result.run_id} ({exc})")
    left: list[str] = []
    for token, filename in mine.items():
        try:
            client.delete(token)
        except DestinationError as exc:  # keep going: report every part we could not remove
            warn(client.mask(f"rollback: could not delete {filename} ({token}): {exc}"))
            left.append(filename)
    if mine and not left:
        warn(f"rolled back {len(mine)} uploaded part(s) of run {result.run_id}; earlier uploads are untouched")
    return left


def _check_amount(result: UploadResult, warn: Callable[[str], None]) -> None:
    """Vantage's own sum of the uploaded amounts should equal ours."""
    try:
        amount = sum((Decimal(str(u.get("amount"))) for u in result.uploaded), Decimal(0))
    except (InvalidOperation, ValueError):
        return
    if amount != result.cost:
        warn(
            f"Vantage reports {format_decimal(amount)} for the uploaded parts, "
            f"the CSV holds {format_decimal(result.cost)}"
        )


def wait_until_imported(
    client: VantageClient,
    tokens: Iterable[str],
    *,
    timeout: float,
    interval: float = 10.0,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, str]:
    """Poll the upload list until every token's import_status is complete; raise on error or timeout."""
    pending = set(tokens)
    deadline = clock() + timeout
    statuses: dict[str, str] = {}
    while True:
        for upload in client.list_uploads():
            token = str(upload.get("token"))
            if token in pending:
                statuses[token] = str(upload.get("import_status"))
        failed = [t for t in pending if statuses.get(t) == "error"]
        if failed:
            raise DestinationError(f"Vantage failed to import upload(s) {', '.join(sorted(failed))}")
        pending = {t for t in pending if statuses.get(t) != "complete"}
        if not pending:
            return statuses
        if clock() >= deadline:
            raise DestinationError(
                f"upload(s) {', '.join(sorted(pending))} still not imported after {timeout:.0f} s; check Vantage later"
            )
        (sleep or time.sleep)(interval)

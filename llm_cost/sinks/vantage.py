"""Upload to a Vantage Custom Provider: local validation, row-level batching, retries, replace semantics.

Vantage does not deduplicate by period: every upload is its own dataset. So a run uploads all its parts first,
and only when every part succeeded deletes the earlier llm-cost uploads of the same period (matched by file name).
A failed part rolls back the parts just uploaded and keeps the old ones. See vantage-api.md §1.5.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx

from llm_cost import __version__
from llm_cost.errors import ConfigError, DestinationError
from llm_cost.focus.columns import VANTAGE
from llm_cost.focus.mapping import FocusRow
from llm_cost.formats import format_decimal
from llm_cost.http import ApiClient, RetryingHttp, RetryPolicy, attempts_of, tries
from llm_cost.records import EXACT
from llm_cost.reports import Table
from llm_cost.secrets import Masker
from llm_cost.sinks.csv_writer import encode_row, unencodable
from llm_cost.sinks.interface import Destination

DEFAULT_BASE_URL = "https://api.vantage.sh"
MAX_ROWS = 10_000
MAX_BYTES = 2_000_000
REQUIRED_COLUMNS = ("ChargeCategory", "ChargePeriodStart", "BilledCost", "ServiceName")
CHARGE_CATEGORIES = frozenset({"Credit", "Discount", "Fee", "Refund", "Tax", "Usage"})
FILE_PREFIX = "llm-cost"
RATE_LIMIT_PER_HOUR = 1000
LARGE_RUN_REQUESTS = 100
MAX_SHOWN_ERRORS = 10
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_LIST_PAGES = 1000


# --------------------------------------------------------------------------------------------------- validation


@lru_cache(maxsize=4096)
def _utc_day(value: str) -> date | None:
    """The UTC day of a date or ISO 8601 date-time (a naive one is UTC), or None when it is not one or that day is
    outside datetime's range. Rows repeat their periods, so the answers are kept."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (moment if moment.tzinfo is None else moment.astimezone(UTC)).date()
    except (ValueError, OverflowError):
        return None


def _valid_date(value: str) -> bool:
    return _utc_day(value) is not None


def vantage_row_problems(row: FocusRow) -> list[str]:
    """What Vantage would reject in one row (its 422 checks), so a bad file never leaves the machine."""
    problems = [f"{c} is required" for c in REQUIRED_COLUMNS if not row.get(c)]
    category = row.get("ChargeCategory")
    if category and category not in CHARGE_CATEGORIES:
        problems.append(f"ChargeCategory {category!r} must be one of {', '.join(sorted(CHARGE_CATEGORIES))}")
    cost = row.get("BilledCost")
    if cost:
        try:
            if not Decimal(cost).is_finite():
                raise InvalidOperation
        except InvalidOperation:
            problems.append(f"BilledCost {cost!r} must be a valid number")
    for column in ("ChargePeriodStart", "ChargePeriodEnd"):
        value = row.get(column)
        if value and not _valid_date(value):
            problems.append(f"{column} {value!r} must be a valid date")
    tags = row.get("Tags")
    if tags:
        try:
            parsed = json.loads(tags)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or any(isinstance(v, dict | list) for v in parsed.values()):
            problems.append("Tags must be a flat JSON object")
    return problems


# ----------------------------------------------------------------------------------------------------- batching


@dataclass(slots=True)
class Part:
    """One CSV file of a run: the header and at most MAX_ROWS rows and MAX_BYTES bytes."""

    number: int
    path: Path
    rows: int
    size: int
    cost: Decimal
    filename: str = ""


@dataclass(slots=True)
class Batches:
    """The parts of a run, written to a temporary folder, with the period they cover."""

    parts: list[Part]
    rows: int
    cost: Decimal
    period_start: date | None
    period_end: date | None
    directory: tempfile.TemporaryDirectory[str] = field(repr=False)

    def cleanup(self) -> None:
        self.directory.cleanup()


def _encode(values: Sequence[str | None]) -> bytes:
    """One record as the CSV sink writes it (a CR is always quoted: csv.writer would leave a lone one bare)."""
    return encode_row(values).encode("utf-8")


class BatchWriter(Destination):
    """A row sink that cuts rows into parts at row boundaries (never inside a quoted field), on disk.

    Every row is validated as Vantage would; `close()` raises ConfigError listing the problems, so nothing is sent
    unless every row is acceptable. A row too large for a file on its own fails at once, naming the row.
    """

    def __init__(
        self, columns: Sequence[str] = VANTAGE, *, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES
    ) -> None:
        self.columns = tuple(columns)
        self._header = _encode(self.columns)
        if len(self._header) >= max_bytes:
            raise ConfigError("the CSV header alone exceeds Vantage's file size limit")
        self._max_rows, self._max_bytes = max_rows, max_bytes
        self._directory = tempfile.TemporaryDirectory(prefix="llm-cost-vantage-")
        self._parts: list[Part] = []
        self._handle: io.BufferedWriter | None = None
        self._problems: list[str] = []
        self._rows = 0
        self._cost = Decimal(0)
        self._first_day: date | None = None
        self._last_day: date | None = None

    def write(self, row: FocusRow) -> None:
        """Validate one row and append it to the current part, starting a new part when a limit would be passed."""
        self._rows += 1
        if found := vantage_row_problems(row):
            self._problems += [f"row {self._rows}: {p}" for p in found]
            return
        values = [row.get(c) for c in self.columns]
        try:
            encoded = _encode(values)
        except UnicodeEncodeError:
            self._problems.append(unencodable(self.columns, values, self._rows))
            return
        if len(self._header) + len(encoded) > self._max_bytes:
            self.abort()
            raise ConfigError(
                f"row {self._rows} ({row.get('ResourceId') or row.get('ServiceName')}) is {len(encoded)} bytes, too "
                f"large for one Vantage file ({self._max_bytes} bytes with the header); shorten its Tags or names"
            )
        current = self._parts[-1] if self._parts else None
        if current is None or current.rows >= self._max_rows or current.size + len(encoded) > self._max_bytes:
            if self._handle is not None:
                self._handle.close()
            path = Path(self._directory.name) / f"part{len(self._parts) + 1:03d}.csv"
            self._handle = path.open("wb")
            self._handle.write(self._header)
            current = Part(len(self._parts) + 1, path, 0, len(self._header), Decimal(0))
            self._parts.append(current)
        assert self._handle is not None
        self._handle.write(encoded)
        cost = Decimal(row.get("BilledCost") or "0")
        current.rows += 1
        current.size += len(encoded)
        current.cost = EXACT.add(current.cost, cost)  # exact whatever this thread's context
        self._cost = EXACT.add(self._cost, cost)
        # Validated above, so both parse; the UTC day, whatever the notation or offset.
        start = _utc_day(row["ChargePeriodStart"])
        end_text = row.get("ChargePeriodEnd")
        end = _utc_day(end_text) if end_text else start
        assert start is not None and end is not None
        self._first_day = start if self._first_day is None else min(self._first_day, start)
        self._last_day = end if self._last_day is None else max(self._last_day, end)

    def commit(self) -> Batches:
        """Finish the parts (staged on disk, ready to upload); raise if any row would be rejected."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._problems:
            count = len(self._problems)
            problems = _shorten(self._problems)
            self.abort()
            raise ConfigError(f"{count} problem(s) that Vantage would reject; nothing was sent", details=problems)
        return Batches(self._parts, self._rows, self._cost, self._first_day, self._last_day, self._directory)

    def abort(self) -> None:
        """Drop every part written so far."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self._directory.cleanup()


def build_batches(
    rows: Iterable[FocusRow], *, columns: Sequence[str] = VANTAGE, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES
) -> Batches:
    """Validate and cut a stream of rows into parts (see BatchWriter)."""
    writer = BatchWriter(columns, max_rows=max_rows, max_bytes=max_bytes)
    try:
        for row in rows:
            writer.write(row)
    except BaseException:
        writer.abort()
        raise
    return writer.commit()


def _shorten(lines: list[str]) -> list[str]:
    """The first MAX_SHOWN_ERRORS lines, then a count of the rest."""
    shown = lines[:MAX_SHOWN_ERRORS]
    if len(lines) > MAX_SHOWN_ERRORS:
        shown.append(f"... and {len(lines) - MAX_SHOWN_ERRORS} more")
    return shown


def period_prefix(start: date, end: date) -> str:
    """The file-name prefix shared by every llm-cost upload of one period: `llm-cost_<start>_<end>_`."""
    return f"{FILE_PREFIX}_{start.isoformat()}_{end.isoformat()}_"


def new_run_id(now: datetime | None = None) -> str:
    """A unique, sortable, traceable run id: UTC time plus random hex."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def part_filename(start: date, end: date, run_id: str, number: int) -> str:
    """`llm-cost_<period-start>_<period-end>_<run-id>_partNNN.csv`."""
    return f"{period_prefix(start, end)}{run_id}_part{number:03d}.csv"


# ------------------------------------------------------------------------------------------------------- client


class VantageClient(ApiClient):
    """The v2 Custom Provider API: upload a CSV, list uploads, delete one. Secrets are masked in every message."""

    def __init__(
        self,
        *,
        api_key: str,
        integration_token: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise ConfigError("no Vantage API key: set VANTAGE_API_KEY or pass --vantage-api-key")
        if not integration_token:
            raise ConfigError("no integration token: set VANTAGE_INTEGRATION_TOKEN or pass --integration-token")
        self.mask = Masker([api_key, integration_token])
        root = base_url.rstrip("/")
        root = root.removesuffix("/v2")
        if not root.startswith(("http://", "https://")):
            raise ConfigError(f"Vantage URL {self.mask(base_url)!r} must start with https:// (VANTAGE_BASE_URL)")
        self._token = integration_token

        def unreachable(exc: Exception, count: int) -> DestinationError:
            return DestinationError(
                self.mask(
                    f"Vantage at {root} could not be reached after {tries(count)} ({type(exc).__name__}: {exc}); "
                    "check VANTAGE_BASE_URL and the network"
                )
            )

        self._http = RetryingHttp(
            base_url=f"{root}/v2",
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": f"llm-cost/{__version__}",
            },
            masker=self.mask,
            unreachable=unreachable,
            retry_statuses=RETRY_STATUSES,
            reset_header="x-rate-limit-reset",
            timeout=timeout,
            policy=retry,
            sleep=sleep,
            transport=transport,
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._http.request(method, path, **kwargs)

    def _fail(self, response: httpx.Response, action: str) -> DestinationError:
        """A one-line error for a failed response, with Vantage's `errors` list as detail lines."""
        errors = _errors(response)
        status = response.status_code
        if status in (401, 403):
            message = (
                f"Vantage refused the API key while trying to {action} (HTTP {status}); check VANTAGE_API_KEY "
                "or --vantage-api-key (uploads need a key with the write scope)"
            )
        elif status == 404:
            message = (
                f"Vantage does not know this integration (HTTP 404 while trying to {action}); check "
                "VANTAGE_INTEGRATION_TOKEN or --integration-token (a Custom Provider token, accss_crdntl_...)"
            )
        elif status == 429:
            message = (
                f"Vantage kept rate-limiting the request to {action} (HTTP 429, {tries(attempts_of(response))})"
                f"; {_when_reset(response)}"
            )
        elif status >= 500:
            first = f": {errors[0]}" if errors else ""
            message = (
                f"Vantage failed on the request to {action} after {tries(attempts_of(response))} (HTTP {status}){first}"
            )
        else:
            first = f": {errors[0]}" if errors else ""
            message = f"Vantage rejected the request to {action} (HTTP {status}){first}"
        return DestinationError(self.mask(message), details=[self.mask(e) for e in _shorten(errors)])

    # -- endpoints

    def upload(self, filename: str, data: bytes) -> dict[str, Any]:
        """POST one CSV part; returns Vantage's UserCostsUpload."""
        response = self._request(
            "POST",
            f"/integrations/{self._token}/costs.csv",
            files={"csv": (filename, data, "text/csv")},
            data={"auto_transform": "false"},
        )
        if response.status_code not in (200, 201):
            raise self._fail(response, f"upload {filename}")
        return _json(response, self.mask)

    def list_uploads(self) -> list[dict[str, Any]]:
        """GET the integration's uploads, following `links.next` page by page (on this API's host only)."""
        uploads: list[dict[str, Any]] = []
        url: str | None = f"/integrations/{self._token}/costs"
        seen: set[str] = set()
        while url is not None:
            seen.add(url)
            response = self._request("GET", url)
            if response.status_code != 200:
                raise self._fail(response, "list the uploads")
            body = _json(response, self.mask)
            page = body.get("user_costs_uploads")
            if not isinstance(page, list):
                raise DestinationError(
                    "Vantage's upload list has no user_costs_uploads array; is VANTAGE_BASE_URL right?"
                )
            uploads += [u for u in page if isinstance(u, dict)]
            url = self._next_page(body, response.request.url, seen)
        return uploads

    def _next_page(self, body: dict[str, Any], current: httpx.URL, seen: set[str]) -> str | None:
        """The list's `links.next` (resolved against the page just read), when there is one to follow. It must
        stay on the API's own host (the API key goes with it), and a page already read (a loop) or too many pages
        is an error, not a silent stop."""
        links = body.get("links")
        target = links.get("next") if isinstance(links, dict) else None
        if not target:
            return None
        url = current.join(str(target))
        if (url.scheme, url.host, url.port) != (current.scheme, current.host, current.port):
            raise DestinationError(
                self.mask(
                    f"Vantage's upload list points its next page at another host "
                    f"({url.scheme}://{url.host}); refusing to send the API key there"
                )
            )
        next_url = str(url)
        if next_url in seen or len(seen) >= MAX_LIST_PAGES:
            raise DestinationError(
                self.mask(
                    f"Vantage's upload list does not end (page {len(seen) + 1}, next "
                    f"{next_url}); cannot tell which uploads to replace"
                )
            )
        return next_url

    def delete(self, upload_token: str) -> bool:
        """DELETE one upload; False when it was already gone (404)."""
        response = self._request("DELETE", f"/integrations/{self._token}/costs/{upload_token}")
        if response.status_code in (200, 202, 204):
            return True
        if response.status_code == 404:  # already gone (the list call proved the integration exists)
            return False
        raise self._fail(response, f"delete upload {upload_token}")


def _when_reset(response: httpx.Response) -> str:
    """When to try again after a 429: the reset time Vantage named (a Unix time), else after the hourly reset."""
    try:
        reset = datetime.fromtimestamp(float(response.headers.get("x-rate-limit-reset", "")), UTC)
    except (ValueError, OverflowError, OSError):
        return "try again after the hourly rate-limit reset (1,000 requests an hour)"
    return f"the rate limit resets at {reset:%Y-%m-%dT%H:%M:%SZ}; try again after that"


def _errors(response: httpx.Response) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return [text[:300]] if text else []
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list):
        return [str(e) for e in errors]
    return [str(errors)] if errors else []


def _json(response: httpx.Response, mask: Masker) -> dict[str, Any]:
    try:
        body = response.json(parse_float=Decimal)  # an amount sent as a JSON number keeps its digits
    except ValueError:
        raise DestinationError(
            mask(f"Vantage answered HTTP {response.status_code} with a body that is not JSON")
        ) from None
    if not isinstance(body, dict):
        raise DestinationError(f"Vantage answered HTTP {response.status_code} with unexpected JSON")
    return body


# ---------------------------------------------------------------------------------------------- replace upload


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


def upload_batches(
    client: VantageClient | None,
    batches: Batches,
    *,
    run_id: str,
    append: bool = False,
    dry_run: bool = False,
    period: tuple[date, date] | None = None,
    warn: Callable[[str], None] = lambda message: None,
) -> UploadResult:
    """Upload every part, then (replace mode) delete the earlier llm-cost uploads of the same period.

    `period` is the replaceable unit (a source's window); by default it is the span of the rows' charge periods.

    On a failed part the parts of this run that did upload are deleted again, the earlier uploads stay, and the
    error is raised (exit 5). A part that Vantage recorded twice (a retry after a lost response) is deleted, so
    the run's totals count once.

    When Vantage fails between the two steps (a rollback or an earlier upload cannot be deleted), the period holds
    two runs' costs: the error names the period and says so. Re-running the same command repairs it, since its
    list finds every llm-cost upload of the period, whichever run made it, and replaces them all.
    """
    start, end = period or (batches.period_start, batches.period_end)
    if start is None or end is None or not batches.parts:
        raise ConfigError("nothing to upload: there are no rows")
    prefix = period_prefix(start, end)
    for part in batches.parts:
        part.filename = part_filename(start, end, run_id, part.number)
    result = UploadResult(
        run_id,
        prefix,
        batches.parts,
        batches.rows,
        sum(p.size for p in batches.parts),
        batches.cost,
        dry_run=dry_run,
        append=append,
    )
    earlier: list[dict[str, Any]] = []
    if client is not None and not append:
        earlier = [u for u in client.list_uploads() if str(u.get("filename", "")).startswith(prefix)]
        result.replaced = earlier
    expected = estimated_requests(len(batches.parts), len(earlier), append)
    if expected >= LARGE_RUN_REQUESTS:
        warn(f"this run makes about {expected} Vantage API requests; the limit is {RATE_LIMIT_PER_HOUR} per hour")
    if dry_run or client is None:
        return result
    try:
        for part in batches.parts:
            result.uploaded.append(client.upload(part.filename, part.path.read_bytes()))
        if not append:
            _drop_duplicates(client, result, warn)
    except BaseException as failure:
        left = _roll_back(client, result, warn)
        if left:
            raise DestinationError(
                f"{_period_text(start, end)} is half-replaced: {failure}, and the rollback could not delete "
                f"{len(left)} uploaded part(s) of run {run_id} ({left[0]}), so Vantage counts them on top of the "
                "earlier uploads; re-run the same command to repair it (it replaces every llm-cost upload of the "
                "period)",
                details=getattr(failure, "details", []),
            ) from None
        raise
    if not append:
        for number, upload in enumerate(earlier):
            try:
                client.delete(str(upload.get("token")))
            except DestinationError as exc:
                raise DestinationError(
                    f"{_period_text(start, end)} is counted twice in Vantage: the new upload (run {run_id}, "
                    f"{len(result.uploaded)} part(s)) landed, but {len(earlier) - number} earlier upload(s) could not "
                    f"be deleted ({exc}); re-run the same command to repair it (it replaces every llm-cost upload "
                    "of the period)",
                    details=exc.details,
                ) from None
    _check_amount(result, warn)
    result.requests, result.retries = client.requests, client.retries
    return result


def _drop_duplicates(client: VantageClient, result: UploadResult, warn: Callable[[str], None]) -> None:
    """Keep exactly one upload per part of this run: delete any copy a retried POST created."""
    kept = {str(u.get("token")) for u in result.uploaded}
    for upload in client.list_uploads():
        name, token = str(upload.get("filename", "")), str(upload.get("token"))
        if name.startswith(result.prefix + result.run_id) and token not in kept:
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
        mine.update(
            {
                str(u.get("token")): str(u.get("filename"))
                for u in client.list_uploads()
                if str(u.get("filename", "")).startswith(result.prefix + result.run_id)
            }
        )
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


# ------------------------------------------------------------------------------------------------ reading files


def read_focus_csv(path: Path) -> Iterator[FocusRow]:
    """Rows of a FOCUS CSV (full or Vantage profile) for upload. Local problems are ConfigError (exit 3)."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise ConfigError(f"CSV not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not a readable CSV ({exc})") from None
        if not header or not any(h.strip() for h in header):
            raise ConfigError(f"{path} is empty: no header and no rows")
        known = [c for c in header if c in set(VANTAGE) | {"ProviderName", "ListCost", "EffectiveCost"}]
        if not known:
            raise ConfigError(f"{path} is not a FOCUS CSV: none of its columns ({', '.join(header[:5])}...) are FOCUS")
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ConfigError(f"{path} lacks the required column(s) {', '.join(missing)}")
        width = len(header)
        rows = 0
        try:
            for number, values in enumerate(reader, start=2):
                if not values:
                    continue
                if len(values) != width:
                    raise ConfigError(f"{path} line {number}: {len(values)} fields, the header has {width}")
                rows += 1
                yield {c: (v if v != "" else None) for c, v in zip(header, values, strict=True)}
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not a readable CSV ({exc})") from None
        if rows == 0:
            raise ConfigError(f"{path} has a header but no rows; nothing to upload")

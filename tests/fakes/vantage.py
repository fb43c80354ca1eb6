"""A loopback fake of the Vantage v2 Custom Provider API, for tests (stdlib only).

The contract it follows is ``/work/shared/docs/vantage-api.md`` (§1): upload a FOCUS CSV as the multipart
field ``csv``, list the uploads of an integration, delete one.  The fake serves on ``127.0.0.1`` on a free
port from a background thread::

    with FakeVantage(api_key="vk_test", integration_token="accss_crdntl_test") as fake:
        httpx.post(f"{fake.base_url}/v2/integrations/accss_crdntl_test/costs.csv", ...)
        assert fake.total_cost() == Decimal("12.34")

``base_url`` is the host root (``http://127.0.0.1:PORT``); every API path starts with ``/v2/``.

Routes (everything else is 404, or 405 for a known path with another method):

* ``GET /v2/ping`` → 200 ``{"status": "ok"}`` (needs a valid key, like any route).
* ``POST /v2/integrations/{token}/costs.csv`` → 201 ``UserCostsUpload`` / 400 / 401 / 403 / 404 / 422.
* ``GET /v2/integrations/{token}/costs`` → 200 ``{"links": {...}, "user_costs_uploads": [...]}``.
* ``DELETE /v2/integrations/{token}/costs/{upload_token}`` → 204, or 404 when unknown.

Every response carries ``x-rate-limit-limit``, ``x-rate-limit-remaining`` and ``x-rate-limit-reset`` (Unix
seconds).  Errors are ``{"errors": ["..."]}``.  Checks run in this order: injected fault, rate limit (429),
authentication (401), write scope (403), route / integration (404/405), request form (400), CSV (422).

Ground truth for tests: :attr:`FakeVantage.uploads`, :attr:`FakeVantage.deleted`,
:meth:`FakeVantage.total_cost`, :meth:`FakeVantage.total_by_day`, :meth:`FakeVantage.rows`,
:attr:`FakeVantage.limit_violations`, :attr:`FakeVantage.requests`.

Faults: :meth:`FakeVantage.fail_next`, :meth:`FakeVantage.fail_on_upload_number`,
:meth:`FakeVantage.drop_next`, :meth:`FakeVantage.drop_on_upload_number`, :meth:`FakeVantage.delay_next`;
for a connect error, :meth:`FakeVantage.stop` the server (its port then refuses connections).
"""

import csv
import io
import json
import math
import re
import secrets
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from email import policy as email_policy
from email.parser import BytesParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.server import LoopbackFake

__all__ = [
    "vantage_row",
    "CHARGE_CATEGORIES",
    "MAX_BYTES",
    "MAX_ROWS",
    "REQUIRED_COLUMNS",
    "FakeVantage",
    "LimitViolation",
    "RequestRecord",
    "Upload",
    "ValidationResult",
    "fake_vantage_fixture",
    "validate_costs_csv",
]

#: ChargeCategory values Vantage accepts (case-sensitive), in the order of its 422 message.
CHARGE_CATEGORIES: tuple[str, ...] = ("Credit", "Discount", "Fee", "Refund", "Tax", "Usage")
#: Columns every Vantage custom-provider CSV must have.
REQUIRED_COLUMNS: tuple[str, ...] = ("ChargeCategory", "ChargePeriodStart", "BilledCost", "ServiceName")
#: Documented per-file limits: 10,000 data rows and 2 MB (taken as 2,000,000 bytes).
MAX_ROWS = 10_000
MAX_BYTES = 2_000_000

CHARGE_CATEGORY_ERROR = "ChargeCategory must be one of the following: Credit, Discount, Fee, Refund, Tax, or Usage"

_UPLOAD_PATH = re.compile(r"^/v2/integrations/(?P<integration>[^/]+)/costs\.csv$")
_LIST_PATH = re.compile(r"^/v2/integrations/(?P<integration>[^/]+)/costs$")
_DELETE_PATH = re.compile(r"^/v2/integrations/(?P<integration>[^/]+)/costs/(?P<upload>[^/]+)$")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_BEARER = re.compile(r"Bearer[ \t]+(\S+)[ \t]*", re.IGNORECASE)


# --------------------------------------------------------------------------------------------------------------
# Records kept for tests
# --------------------------------------------------------------------------------------------------------------


@dataclass
class RequestRecord:
    """One request as the fake saw it. ``status`` is None when the connection was dropped without a response."""

    method: str
    path: str
    query: str
    status: int | None
    injected: bool = False
    dropped: bool = False
    upload_number: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body_size: int = 0
    at: float = 0.0


@dataclass
class LimitViolation:
    """An upload that broke a documented per-file limit. ``kind`` is ``"rows"`` or ``"bytes"``."""

    kind: str
    actual: int
    limit: int
    filename: str | None = None


@dataclass
class Upload:
    """A live upload: the UserCostsUpload fields plus the parsed CSV rows (every value the CSV's string)."""

    token: str
    integration_token: str
    filename: str
    rows: list[dict[str, str]]
    amount: Decimal
    start_date: str
    end_date: str
    import_status: str
    created_by_token: str
    created_at: str
    auto_transform: bool = False
    size_bytes: int = 0
    columns: list[str] = field(default_factory=list)
    list_calls: int = 0
    status_forced: bool = False

    def to_json(self) -> dict[str, str]:
        """The UserCostsUpload object as the API returns it (all fields strings)."""
        return {
            "token": self.token,
            "filename": self.filename,
            "amount": format_amount(self.amount),
            "start_date": self.start_date,
            "end_date": self.end_date,
            "import_status": self.import_status,
            "created_by_token": self.created_by_token,
            "created_at": self.created_at,
        }

    def total_cost(self) -> Decimal:
        return sum((parse_cost(row["BilledCost"]) for row in self.rows), Decimal(0))


@dataclass
class ValidationResult:
    """What :func:`validate_costs_csv` found. ``ok`` is True when there are no errors."""

    rows: list[dict[str, str]]
    columns: list[str]
    errors: list[str]
    violations: list[LimitViolation]
    amount: Decimal = Decimal(0)
    start_date: date | None = None
    end_date: date | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Fault:
    method: str  # upper-case, or "*"
    path_contains: str | None
    status: int | None
    retry_after: float | None
    errors: list[str] | None
    drop: bool
    reset: bool
    after_processing: bool
    delay: float
    remaining: int = 1  # fail_next/drop_next only
    upload_first: int | None = None  # fail_on_upload_number/drop_on_upload_number: attempts [first, last]
    upload_last: int | None = None

    def matches(self, method: str, path: str, upload_number: int | None) -> bool:
        if self.upload_first is not None:
            return upload_number is not None and self.upload_first <= upload_number <= (self.upload_last or 0)
        if self.remaining <= 0:
            return False
        if self.method != "*" and self.method != method:
            return False
        return self.path_contains is None or self.path_contains in path


# --------------------------------------------------------------------------------------------------------------
# CSV validation (module level so tests can check a file offline, too)
# --------------------------------------------------------------------------------------------------------------


def parse_cost(value: str) -> Decimal:
    """Parse a BilledCost the way the fake accepts it: a plain or scientific decimal, optionally with one ``$``.

    Raises ValueError for anything else (empty, ``1,000``, ``NaN``, ``Infinity``...).
    """
    text = value.strip().replace("$", "", 1)
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"not a number: {value!r}")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex already rules these out
        raise ValueError(f"not a number: {value!r}") from exc
    return number


def parse_day(value: str) -> date:
    """Parse ``YYYY-MM-DD`` or an ISO 8601 date-time into the (UTC) calendar day. Raises ValueError."""
    text = value.strip()
    if not text:
        raise ValueError("empty date")
    if len(text) == 10:
        return date.fromisoformat(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def format_amount(amount: Decimal) -> str:
    """Render a Decimal as Vantage does: always with a decimal point, never in exponent form (``1000.0``)."""
    if amount == 0:
        amount = abs(amount)
    text = format(amount, "f")
    return text if "." in text else text + ".0"


def validate_costs_csv(data: bytes, *, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES) -> ValidationResult:
    """Validate a Vantage custom-provider CSV the way the fake does before it accepts an upload.

    Row numbers in the messages count data records (``Row 1`` is the first record after the header); a quoted
    field that spans lines is one record.
    """
    errors: list[str] = []
    violations: list[LimitViolation] = []
    if len(data) > max_bytes:
        violations.append(LimitViolation("bytes", len(data), max_bytes))
        errors.append(
            f"File size of {len(data):,} bytes exceeds the maximum of {max_bytes:,} bytes (2 MB) per file; "
            "split the costs into several files"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"File must be UTF-8 encoded ({exc.reason} at byte {exc.start})"
        return ValidationResult([], [], errors + [message], violations)

    try:
        records = [record for record in csv.reader(io.StringIO(text, newline=""), strict=True) if record]
    except csv.Error as exc:
        return ValidationResult([], [], errors + [f"CSV file could not be parsed: {exc}"], violations)

    if not records:
        return ValidationResult([], [], errors + ["CSV file is empty: it has no header and no rows"], violations)
    header, body = records[0], records[1:]
    if len(body) > max_rows:
        violations.append(LimitViolation("rows", len(body), max_rows))
        errors.append(f"File has {len(body):,} rows, which exceeds the maximum of {max_rows:,} rows per file")
    if not body:
        return ValidationResult([], header, errors + ["CSV file has a header but no rows"], violations)

    seen: set[str] = set()
    for column in header:
        if column in seen:
            errors.append(f"Duplicate column: {column}")
        seen.add(column)
    missing = [column for column in REQUIRED_COLUMNS if column not in seen]
    for column in missing:
        errors.append(f"Missing required column: {column}")
    if missing:
        return ValidationResult([], header, errors, violations)

    rows: list[dict[str, str]] = []
    amount = Decimal(0)
    first: date | None = None
    last: date | None = None
    for number, record in enumerate(body, start=1):
        prefix = f"Row {number}: "
        if len(record) != len(header):
            errors.append(f"{prefix}has {len(record)} fields but the header has {len(header)}")
            continue
        row = dict(zip(header, record, strict=False))
        rows.append(row)
        if row["ChargeCategory"] not in CHARGE_CATEGORIES:
            errors.append(prefix + CHARGE_CATEGORY_ERROR)
        start = end = None
        try:
            start = parse_day(row["ChargePeriodStart"])
        except ValueError:
            errors.append(prefix + "ChargePeriodStart must be a valid date")
        if row.get("ChargePeriodEnd", "").strip():
            try:
                end = parse_day(row["ChargePeriodEnd"])
            except ValueError:
                errors.append(prefix + "ChargePeriodEnd must be a valid date")
        try:
            amount += parse_cost(row["BilledCost"])
        except ValueError:
            errors.append(prefix + "BilledCost must be a valid number")
        if not row["ServiceName"].strip():
            errors.append(prefix + "ServiceName can't be blank")
        tags = row.get("Tags", "")
        if tags.strip():
            try:
                parsed = json.loads(tags)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                errors.append(prefix + "Tags must be a valid JSON object")
        currency = row.get("BillingCurrency", "").strip()
        if currency and not _CURRENCY.fullmatch(currency):
            errors.append(prefix + "BillingCurrency must be a valid ISO 4217 currency code")
        quantity = row.get("ConsumedQuantity", "").strip()
        if quantity:
            if not _NUMBER.fullmatch(quantity):
                errors.append(prefix + "ConsumedQuantity must be a valid number")
            if not row.get("ConsumedUnit", "").strip():
                errors.append(prefix + "ConsumedUnit is required when ConsumedQuantity is present")
        if start is not None:
            first = start if first is None or start < first else first
        for day in (start, end):
            if day is not None:
                last = day if last is None or day > last else last
    return ValidationResult(rows, header, errors, violations, amount, first, last)


# --------------------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------------------


class _Dropped(Exception):
    """Raised inside the handler to abandon a request without writing a response."""


class _Server(ThreadingHTTPServer):
    # Handler threads are daemons (a fake never stopped cannot hold up interpreter exit), and server_close() still
    # joins them itself after shutting their sockets down, so stop() leaves no thread behind.
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: "FakeVantage") -> None:
        self.fake = fake
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        super().__init__((fake.host, 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Runs in the serving thread, so once shutdown() returns every accepted connection is registered here.
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), name="FakeVantage-conn", daemon=True
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(request, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Peers hanging up (or the fake dropping them) is normal here; anything else is a bug in the fake.
        error = sys.exc_info()[1]
        if isinstance(error, (OSError, _Dropped)):
            return
        self.fake._internal_errors.append(repr(error))
        super().handle_error(request, client_address)

    def server_close(self) -> None:
        super().server_close()
        with self._connections_lock:
            connections = list(self._connections.items())
        for connection, _ in connections:  # wake handlers blocked on idle keep-alive connections
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for _, thread in connections:
            thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API
    server_version = "FakeVantage/1.0"
    sys_version = ""
    timeout = 30  # never block a test run forever on a half-sent request
    disable_nagle_algorithm = True  # no 40 ms Nagle/delayed-ACK stalls between small writes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _dispatch(self) -> None:
        try:
            self.server.fake._handle(self)
        except _Dropped:
            self.close_connection = True

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    # helpers used by FakeVantage._handle
    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        body = b"" if payload is None else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        if status != 204 and status >= 200:
            self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers_and_body(body if self.command != "HEAD" else b"")

    def end_headers_and_body(self, body: bytes) -> None:
        """Like end_headers(), but the status line, headers and body leave in one write."""
        buffer = getattr(self, "_headers_buffer", [])
        self.wfile.write(b"".join(buffer) + b"\r\n" + body)
        buffer.clear()

    def drop(self, reset: bool) -> None:
        self.close_connection = True
        try:
            if reset:  # RST instead of FIN: the client sees "connection reset by peer"
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise _Dropped


class FakeVantage(LoopbackFake):
    """Loopback fake of the Vantage v2 Custom Provider API. Use as a context manager or call start()/stop().

    :param api_key: the key with read and write scope (``Authorization: Bearer <api_key>``).
    :param integration_token: the custom-provider integration that exists (more with ``extra_integration_tokens``
        or :meth:`add_integration`); any other token gets 404 ``Integration not found``.
    :param read_only_keys: keys with read scope only: GET works, POST/DELETE get 403.
    :param invalid_key_status: status for a missing or unknown key (401; the swagger documents 403 instead).
    :param rate_limit: requests allowed per window (all endpoints, all keys, error responses included).
    :param rate_window: window length in seconds; the window starts at the first request and is fixed.
    :param complete_after_lists: an upload's ``import_status`` is ``processing`` in its first N list responses and
        ``complete`` afterwards (0 → ``complete`` in the first list). The 201 response always says ``processing``.
    :param max_rows, max_bytes: the per-file limits (10,000 rows, 2,000,000 bytes).
    :param overwrite_same_filename: replace an earlier live upload of the same integration with the same file
        name (the console's documented behaviour; off, since the API's behaviour is unverified).
    :param end_date_from: ``"period_end"``: ``end_date`` is the latest ChargePeriodEnd (else ChargePeriodStart)
        day, like the docs example; ``"period_start"``: the latest ChargePeriodStart day (inclusive).
    :param clock: Unix-time source for the rate-limit window (inject one to test window resets).
    :param list_page_size: page the upload list this many at a time (``?page=N``), with an absolute ``links.next``
        to the next page (null on the last); None lists everything at once, as the spec documents.
    """

    def __init__(
        self,
        api_key: str = "vk_test",
        integration_token: str = "accss_crdntl_test",
        *,
        extra_integration_tokens: Iterable[str] = (),
        read_only_keys: Iterable[str] = (),
        invalid_key_status: int = 401,
        rate_limit: int = 1000,
        rate_window: float = 3600.0,
        complete_after_lists: int = 1,
        max_rows: int = MAX_ROWS,
        max_bytes: int = MAX_BYTES,
        overwrite_same_filename: bool = False,
        end_date_from: str = "period_end",
        created_by_token: str = "usr_9ad0e852b8c67db5",
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        list_page_size: int | None = None,
    ) -> None:
        if end_date_from not in ("period_end", "period_start"):
            raise ValueError("end_date_from must be 'period_end' or 'period_start'")
        self.api_key = api_key
        self.integration_token = integration_token
        self.integration_tokens: set[str] = {integration_token, *extra_integration_tokens}
        self.read_only_keys: set[str] = set(read_only_keys)
        self.invalid_key_status = invalid_key_status
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.complete_after_lists = complete_after_lists
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.overwrite_same_filename = overwrite_same_filename
        self.end_date_from = end_date_from
        self.created_by_token = created_by_token
        self.clock = clock
        self.host = host
        self.list_page_size = list_page_size

        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._uploads: dict[str, Upload] = {}  # insertion order = creation order
        self._deleted: list[str] = []
        self._overwritten: list[str] = []
        self._violations: list[LimitViolation] = []
        self._requests: list[RequestRecord] = []
        self._faults: list[_Fault] = []
        self._upload_attempts = 0
        self._window_reset: float | None = None
        self._window_count = 0
        self._internal_errors: list[str] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------------------------------------- lifecycle

    def _make_server(self) -> "_Server":
        return _Server(self)

    @property
    def api_url(self) -> str:
        """``base_url + "/v2"``."""
        return self.base_url + "/v2"

    def upload_url(self, integration_token: str | None = None) -> str:
        return f"{self.api_url}/integrations/{integration_token or self.integration_token}/costs.csv"

    def list_url(self, integration_token: str | None = None) -> str:
        return f"{self.api_url}/integrations/{integration_token or self.integration_token}/costs"

    def delete_url(self, upload_token: str, integration_token: str | None = None) -> str:
        return f"{self.list_url(integration_token)}/{upload_token}"

    def auth_headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.api_key}"}

    # ---------------------------------------------------------------------------------------------- configuration

    def add_integration(self, integration_token: str) -> None:
        with self._lock:
            self.integration_tokens.add(integration_token)

    def fail_next(
        self,
        method: str = "*",
        status: int = 503,
        *,
        times: int = 1,
        retry_after: float | None = None,
        errors: list[str] | None = None,
        path_contains: str | None = None,
        after_processing: bool = False,
        delay: float = 0.0,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and ``{"errors": [...]}``.

        ``method`` is an HTTP method or ``"*"``; ``path_contains`` narrows the match. ``retry_after`` adds a
        ``Retry-After`` header (seconds) and, with 429, sets ``x-rate-limit-remaining: 0`` and the reset header to
        now + retry_after. ``after_processing=True`` performs the request first (the upload is stored, the delete
        happens) and only then answers with the failure, like a gateway timing out on a request that succeeded.
        ``delay`` sleeps before answering (to trip a client's read timeout). Faults queue in order.
        """
        self._add_fault(
            method, status, times, retry_after, errors, path_contains, False, False, after_processing, delay
        )

    def drop_next(
        self,
        method: str = "*",
        *,
        times: int = 1,
        reset: bool = False,
        path_contains: str | None = None,
        after_processing: bool = False,
        delay: float = 0.0,
    ) -> None:
        """Close the connection of the next ``times`` matching requests without any response.

        The request body is read first, so the client sees a read error (httpx ``RemoteProtocolError: Server
        disconnected without sending a response``; with ``reset=True`` a connection reset, httpx ``ReadError``).
        ``after_processing=True`` stores/deletes first and drops afterwards (the client cannot know it worked).
        For a connect error, call :meth:`stop` (the port then refuses connections).
        """
        self._add_fault(method, None, times, None, None, path_contains, True, reset, after_processing, delay)

    def delay_next(
        self, method: str = "*", seconds: float = 1.0, *, times: int = 1, path_contains: str | None = None
    ) -> None:
        """Hold the next ``times`` matching requests for ``seconds``, then answer them normally (to trip a client's
        read timeout; the request still takes effect). :meth:`stop` cuts a pending delay short."""
        self._add_fault(method, None, times, None, None, path_contains, False, False, False, seconds)

    def fail_on_upload_number(
        self,
        number: int,
        status: int = 500,
        *,
        times: int = 1,
        retry_after: float | None = None,
        errors: list[str] | None = None,
        after_processing: bool = False,
        delay: float = 0.0,
    ) -> None:
        """Fail upload attempts ``number`` … ``number + times - 1`` (1-based; every POST to ``…/costs.csv``
        counts as an attempt, retries and rejected requests included)."""
        fault = _Fault("POST", None, status, retry_after, errors, False, False, after_processing, delay)
        fault.upload_first, fault.upload_last = number, number + times - 1
        with self._lock:
            self._faults.append(fault)

    def drop_on_upload_number(
        self, number: int, *, times: int = 1, reset: bool = False, after_processing: bool = False
    ) -> None:
        """Drop the connection of upload attempts ``number`` … ``number + times - 1`` (see :meth:`drop_next`)."""
        fault = _Fault("POST", None, None, None, None, True, reset, after_processing, 0.0)
        fault.upload_first, fault.upload_last = number, number + times - 1
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset_rate_limit(self) -> None:
        """Start a fresh rate-limit window at the next request."""
        with self._lock:
            self._window_reset = None
            self._window_count = 0

    def add_upload(
        self,
        csv_data: bytes | str,
        filename: str,
        *,
        integration_token: str | None = None,
        import_status: str = "complete",
        created_at: str | None = None,
    ) -> Upload:
        """Seed an existing upload without HTTP (not logged, no rate limit). Raises ValueError if the CSV is
        invalid. Useful for "earlier uploads of the same period" and "a user's own upload" scenarios."""
        data = csv_data.encode("utf-8") if isinstance(csv_data, str) else csv_data
        result = validate_costs_csv(data, max_rows=self.max_rows, max_bytes=self.max_bytes)
        if not result.ok:
            raise ValueError("; ".join(result.errors))
        with self._lock:
            upload = self._store(result, data, filename, integration_token or self.integration_token, False)
            upload.import_status = import_status
            upload.status_forced = import_status != "processing"
            if created_at is not None:
                upload.created_at = created_at
        return upload

    def set_import_status(self, upload_token: str, status: str) -> None:
        """Force an upload's import_status (e.g. ``"error"``); it then no longer changes on list calls."""
        with self._lock:
            upload = self._uploads[upload_token]
            upload.import_status = status
            upload.status_forced = True

    def complete_all(self) -> None:
        with self._lock:
            for upload in self._uploads.values():
                upload.import_status = "complete"

    # ---------------------------------------------------------------------------------------------- ground truth

    @property
    def uploads(self) -> list[Upload]:
        """Live uploads (all integrations) in creation order, each with its parsed ``rows``."""
        with self._lock:
            return list(self._uploads.values())

    def upload(self, token: str) -> Upload:
        with self._lock:
            return self._uploads[token]

    def uploads_for(self, integration_token: str | None = None) -> list[Upload]:
        token = integration_token or self.integration_token
        return [u for u in self.uploads if u.integration_token == token]

    @property
    def deleted(self) -> list[str]:
        """Tokens of uploads removed by DELETE, in order."""
        with self._lock:
            return list(self._deleted)

    @property
    def overwritten(self) -> list[str]:
        """Tokens replaced by a same-name upload (only with ``overwrite_same_filename=True``)."""
        with self._lock:
            return list(self._overwritten)

    @property
    def limit_violations(self) -> list[LimitViolation]:
        """Every upload attempt that broke the row or byte limit (each was answered 422)."""
        with self._lock:
            return list(self._violations)

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request, in arrival order, with the status answered (None when dropped)."""
        with self._lock:
            return list(self._requests)

    @property
    def upload_attempts(self) -> int:
        """How many POSTs to ``…/costs.csv`` arrived (accepted or not)."""
        with self._lock:
            return self._upload_attempts

    @property
    def internal_errors(self) -> list[str]:
        """Unexpected exceptions inside the fake (should stay empty)."""
        return list(self._internal_errors)

    def count(self, method: str | None = None, *, path_contains: str | None = None, status: int | None = None) -> int:
        """Count logged requests matching all given criteria."""
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (path_contains is None or path_contains in r.path)
            and (status is None or r.status == status)
        )

    def rows(self, integration_token: str | None = None) -> list[dict[str, str]]:
        """All rows of the live uploads (of one integration if given), as dicts of the CSV's strings."""
        uploads = self.uploads if integration_token is None else self.uploads_for(integration_token)
        return [dict(row) for upload in uploads for row in upload.rows]

    def total_cost(self, integration_token: str | None = None) -> Decimal:
        """Exact sum of BilledCost over the live uploads."""
        costs = (parse_cost(row["BilledCost"]) for row in self.rows(integration_token))
        return sum(costs, Decimal(0))

    def total_by_day(self, integration_token: str | None = None) -> dict[date, Decimal]:
        """BilledCost summed per UTC day of ChargePeriodStart (keys are ``datetime.date``), sorted by day."""
        totals: dict[date, Decimal] = {}
        for row in self.rows(integration_token):
            day = parse_day(row["ChargePeriodStart"])
            totals[day] = totals.get(day, Decimal(0)) + parse_cost(row["BilledCost"])
        return dict(sorted(totals.items()))

    # ---------------------------------------------------------------------------------------------- internals

    def _add_fault(
        self,
        method: str,
        status: int | None,
        times: int,
        retry_after: float | None,
        errors: list[str] | None,
        path_contains: str | None,
        drop: bool,
        reset: bool,
        after_processing: bool,
        delay: float,
    ) -> None:
        fault = _Fault(
            method.upper(), path_contains, status, retry_after, errors, drop, reset, after_processing, delay, times
        )
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, path: str, upload_number: int | None) -> _Fault | None:
        for fault in self._faults:
            if fault.matches(method, path, upload_number):
                if fault.upload_first is None:
                    fault.remaining -= 1
                return fault
        return None

    def _rate_tick(self) -> tuple[bool, dict[str, str]]:
        now = self.clock()
        if self._window_reset is None or now >= self._window_reset:
            self._window_reset = now + self.rate_window
            self._window_count = 0
        self._window_count += 1
        allowed = self._window_count <= self.rate_limit
        reset = math.ceil(self._window_reset)
        headers = {
            "x-rate-limit-limit": str(self.rate_limit),
            "x-rate-limit-remaining": str(max(0, self.rate_limit - self._window_count)),
            "x-rate-limit-reset": str(reset),
        }
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self._window_reset - now)))
        return allowed, headers

    def _log(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    def _handle(self, handler: _Handler) -> None:
        method = handler.command.upper()
        raw_path = handler.path
        path, _, query = raw_path.partition("?")
        body = handler.read_body()
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            upload_number = None
            if method == "POST" and _UPLOAD_PATH.match(path):
                self._upload_attempts += 1
                upload_number = self._upload_attempts
            fault = self._take_fault(method, path, upload_number)
            allowed, rate_headers = self._rate_tick()
        record = RequestRecord(
            method, path, query, None, upload_number=upload_number, headers=headers, body_size=len(body), at=time.time()
        )

        if fault is not None and fault.delay > 0:
            self._stopping.wait(fault.delay)

        # An injected fault beats the rate limit; an after_processing fault lets the request do its work first;
        # a delay-only fault (delay_next) answers normally once the delay is over.
        delay_only = fault is not None and fault.status is None and not fault.drop
        status, payload, extra = 429, {"errors": ["Rate limit exceeded. Retry after the x-rate-limit-reset time."]}, {}
        if allowed and (fault is None or fault.after_processing or delay_only):
            status, payload, extra = self._route(method, path, headers, body, query)
        if fault is not None and not delay_only:
            status, payload, extra = self._fault_response(fault, rate_headers)
            record.injected = True

        if fault is not None and fault.drop:
            record.dropped = True
            self._log(record)
            handler.drop(fault.reset)
        record.status = status
        self._log(record)
        handler.send(status, payload, {**rate_headers, **extra})

    def _fault_response(self, fault: _Fault, rate_headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        status = fault.status or 500
        extra: dict[str, str] = {}
        if fault.retry_after is not None:
            extra["Retry-After"] = f"{fault.retry_after:g}"
            if status == 429:
                rate_headers["x-rate-limit-remaining"] = "0"
                rate_headers["x-rate-limit-reset"] = str(math.ceil(self.clock() + fault.retry_after))
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        payload = None if status == 204 else {"errors": fault.errors or [f"{phrase} (injected by FakeVantage)"]}
        return status, payload, extra

    def _route(
        self, method: str, path: str, headers: dict[str, str], body: bytes, query: str = ""
    ) -> tuple[int, Any, dict[str, str]]:
        if not path.startswith("/v2/"):
            return 404, {"errors": ["Not Found"]}, {}
        match = _BEARER.fullmatch(headers.get("authorization", ""))
        key = match.group(1) if match else None
        if key is None or (key != self.api_key and key not in self.read_only_keys):
            message = "Invalid or missing API token (Authorization: Bearer <token>)"
            return self.invalid_key_status, {"errors": [message]}, {}
        writes = method in ("POST", "PUT", "PATCH", "DELETE")

        route: tuple[str, re.Match[str]] | None = None
        for allowed_method, pattern in (("POST", _UPLOAD_PATH), ("GET", _LIST_PATH), ("DELETE", _DELETE_PATH)):
            found = pattern.match(path)
            if found:
                route = (allowed_method, found)
                break
        if path == "/v2/ping":
            if method not in ("GET", "HEAD"):
                return 405, {"errors": ["405 Not Allowed"]}, {"Allow": "GET"}
            return 200, {"status": "ok"}, {}
        if route is None:
            return 404, {"errors": ["Not Found"]}, {}
        allowed_method, found = route
        if method != allowed_method:
            return 405, {"errors": ["405 Not Allowed"]}, {"Allow": allowed_method}
        if writes and key != self.api_key:
            return 403, {"errors": ["This API token does not have the write scope"]}, {}
        integration = found.group("integration")
        if integration not in self.integration_tokens:
            return 404, {"errors": ["Integration not found"]}, {}
        if method == "POST":
            return self._create_upload(integration, headers, body)
        if method == "GET":
            return self._list_uploads(integration, path, query)
        return self._delete_upload(integration, found.group("upload"))

    def _create_upload(self, integration: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        content_type = headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            return 400, {"errors": ["csv is missing"]}, {}
        try:
            parts = _parse_multipart(content_type, body)
        except ValueError as exc:
            return 400, {"errors": [f"Malformed multipart/form-data body: {exc}"]}, {}
        if "csv" not in parts:
            return 400, {"errors": ["csv is missing"]}, {}
        filename, data = parts["csv"]
        if not filename:
            return 400, {"errors": ["csv is invalid: send it as a file part with a filename"]}, {}
        auto_transform = False
        if "auto_transform" in parts:
            flag = parts["auto_transform"][1].decode("utf-8", "replace").strip().lower()
            if flag not in ("true", "false", "1", "0"):
                return 400, {"errors": ["auto_transform is invalid"]}, {}
            auto_transform = flag in ("true", "1")

        result = validate_costs_csv(data, max_rows=self.max_rows, max_bytes=self.max_bytes)
        with self._lock:
            for violation in result.violations:
                violation.filename = filename
                self._violations.append(violation)
            if not result.ok:
                return 422, {"errors": result.errors}, {}
            upload = self._store(result, data, filename, integration, auto_transform)
            return 201, upload.to_json(), {}

    def _store(
        self, result: ValidationResult, data: bytes, filename: str, integration: str, auto_transform: bool
    ) -> Upload:
        if self.overwrite_same_filename:
            for token, old in list(self._uploads.items()):
                if old.integration_token == integration and old.filename == filename:
                    del self._uploads[token]
                    self._overwritten.append(token)
        if self.end_date_from == "period_end":
            end = result.end_date
        else:
            end = max(parse_day(r["ChargePeriodStart"]) for r in result.rows)
        token = "usr_csts_upld_" + secrets.token_hex(8)
        while token in self._uploads:  # pragma: no cover - 64 random bits
            token = "usr_csts_upld_" + secrets.token_hex(8)
        upload = Upload(
            token=token,
            integration_token=integration,
            filename=filename,
            rows=result.rows,
            amount=result.amount,
            start_date=result.start_date.isoformat() if result.start_date else "",
            end_date=end.isoformat() if end else "",
            import_status="processing",
            created_by_token=self.created_by_token,
            created_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            auto_transform=auto_transform,
            size_bytes=len(data),
            columns=result.columns,
        )
        self._uploads[token] = upload
        return upload

    def _list_uploads(self, integration: str, path: str, query: str = "") -> tuple[int, Any, dict[str, str]]:
        """The uploads, oldest first; with ``list_page_size`` a page of them, with an absolute ``links.next``."""
        page = 1
        for name, _, value in (part.partition("=") for part in query.split("&")):
            if name == "page" and value.isdigit() and int(value) >= 1:
                page = int(value)
        with self._lock:
            listed = []
            for upload in self._uploads.values():
                if upload.integration_token != integration:
                    continue
                if not upload.status_forced:
                    upload.import_status = (
                        "complete" if upload.list_calls >= self.complete_after_lists else "processing"
                    )
                upload.list_calls += 1
                listed.append(upload.to_json())
        url = self.base_url + path
        links: dict[str, str | None] = {"self": url, "first": url, "next": None, "last": url, "prev": None}
        if self.list_page_size:
            size = self.list_page_size
            pages = max(1, math.ceil(len(listed) / size))
            listed = listed[(page - 1) * size : page * size]
            links.update(
                self=f"{url}?page={page}",
                last=f"{url}?page={pages}",
                next=f"{url}?page={page + 1}" if page < pages else None,
                prev=f"{url}?page={page - 1}" if page > 1 else None,
            )
        return 200, {"links": links, "user_costs_uploads": listed}, {}

    def _delete_upload(self, integration: str, upload_token: str) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            upload = self._uploads.get(upload_token)
            if upload is None or upload.integration_token != integration:
                return 404, {"errors": ["UserCostsUpload not found"]}, {}
            del self._uploads[upload_token]
            self._deleted.append(upload_token)
        return 204, None, {}


def _parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Parse a multipart/form-data body with the email package: field name → (filename or None, bytes)."""
    head = f"MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=email_policy.HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        problems = ", ".join(type(d).__name__ for d in message.defects) or "not multipart"
        raise ValueError(problems)
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = _fix_surrogates(part.get_param("name", header="content-disposition"))
        if not name:
            continue
        filename = _fix_surrogates(part.get_filename())
        payload = part.get_payload(decode=True)
        fields.setdefault(name, (filename, payload if isinstance(payload, bytes) else b""))
    return fields


def _fix_surrogates(value: Any) -> str | None:
    """Header values arrive as surrogate-escaped bytes; turn raw UTF-8 back into text."""
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        from email.utils import collapse_rfc2231_value

        return collapse_rfc2231_value(value)
    text = str(value)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        return text


# --------------------------------------------------------------------------------------------------------------
# pytest glue (no pytest import here: tests/fakes/conftest.py wraps this in a fixture)
# --------------------------------------------------------------------------------------------------------------


def fake_vantage_fixture(**options: Any) -> Iterator[FakeVantage]:
    """Generator behind the ``fake_vantage`` fixture: a running FakeVantage, stopped afterwards.

    Use it from any conftest::

        @pytest.fixture
        def fake_vantage():
            yield from fake_vantage_fixture()
    """
    fake = FakeVantage(**options).start()
    try:
        yield fake
    finally:
        fake.stop()


def vantage_row(n: int = 0, cost: str = "1.5", name: str = "svc") -> dict[str, str | None]:
    """A valid Vantage-profile row, with a hostile team name in Tags."""
    return {
        "ChargePeriodStart": "2026-10-05T00:00:00Z",
        "ChargePeriodEnd": "2026-10-06T00:00:00Z",
        "ChargeCategory": "Usage",
        "BilledCost": cost,
        "BillingCurrency": "USD",
        "ResourceId": f"r{n}",
        "ResourceType": "LLM",
        "RegionId": None,
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": name,
        "ConsumedQuantity": "10.0",
        "ConsumedUnit": "Tokens",
        "Tags": json.dumps({"team": f'Équipe, "{n}"\nx'}),
    }

"""HTTP plumbing shared by the LiteLLM and Vantage clients: bounded retries with backoff, and masked errors.

The retry policy (tenacity does the looping):

- A 429 waits what the server asks: `Retry-After` (seconds or an HTTP date), else the rate-limit reset time
  (`x-rate-limit-reset`, a Unix time) where the client names one. A 503 waits its `Retry-After` when it has one.
- Everything else that is retried (500, 502, 503 without `Retry-After`, 504, transport errors) backs off
  exponentially with jitter (about 1, 2, 4, 8 s). A reset time is never the wait for those: Vantage sends it on
  every response, up to an hour ahead.
- Each request has at most `attempts` tries and a retry budget: the waits between its tries add up to at most
  `budget` seconds. A wait the server asks for that does not fit in what is left of the budget is not waited:
  the request gives up at once and the caller explains the last answer (with the time the server named).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Self

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    wait_exponential_jitter,
)

from llm_cost.errors import LlmCostError
from llm_cost.secrets import Masker

DEFAULT_ATTEMPTS = 5
DEFAULT_RETRY_BUDGET = 60.0
MAX_CONNECTIONS = 16  # the most --concurrency allows; httpx would otherwise queue past 10
ATTEMPTS_EXTENSION = "llm_cost.attempts"  # how many tries a returned response took, in response.extensions
_backoff = wait_exponential_jitter(initial=1, max=30, jitter=1)


@dataclass(slots=True, frozen=True)
class RetryPolicy:
    """How hard one request is retried: at most `attempts` tries, whose waits add up to at most `budget` s."""

    attempts: int = DEFAULT_ATTEMPTS
    budget: float = DEFAULT_RETRY_BUDGET

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a request needs at least one try")
        if self.budget < 0:
            raise ValueError("the retry budget cannot be negative")


def tries(count: int) -> str:
    """`1 try`, `5 tries`."""
    return f"{count} {'try' if count == 1 else 'tries'}"


class RetryableStatus(Exception):
    """A response worth retrying; carries the wait the server asked for, if any."""

    def __init__(self, response: httpx.Response, wait: float | None) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.wait = wait


def _retry_after(response: httpx.Response, now: float) -> float | None:
    """Seconds from `Retry-After`: a number of seconds or an HTTP date; None when absent or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _reset_in(response: httpx.Response, now: float, reset_header: str | None) -> float | None:
    """Seconds until a rate-limit reset header's Unix time; None when absent or unreadable."""
    value = response.headers.get(reset_header, "").strip() if reset_header else ""
    try:
        return max(0.0, float(value) - now) if value else None
    except ValueError:
        return None


def server_wait(response: httpx.Response, now: float, reset_header: str | None = None) -> float | None:
    """The wait the server asks for before the next try, or None to back off: for a 429 its `Retry-After`, else
    its rate-limit reset; for a 503 its `Retry-After`; for any other status nothing."""
    if response.status_code == 429:
        wait = _retry_after(response, now)
        return wait if wait is not None else _reset_in(response, now, reset_header)
    if response.status_code == 503:
        return _retry_after(response, now)
    return None


def attempts_of(response: httpx.Response) -> int:
    """How many tries the request that got `response` made (1 for a response that was not retried)."""
    return int(response.extensions.get(ATTEMPTS_EXTENSION, 1))


class RetryingHttp:
    """An httpx.Client whose `request` retries by a RetryPolicy and counts requests and retries.

    A retryable status that persists is returned as the last response (the caller explains it; `attempts_of`
    tells how many tries it took); a transport error that persists raises `unreachable(exc, tries)`, whose
    message is masked.
    """

    def __init__(
        self,
        *,
        base_url: str,
        headers: dict[str, str],
        masker: Masker,
        unreachable: Callable[[Exception, int], LlmCostError],
        retry_statuses: Collection[int],
        reset_header: str | None = None,
        timeout: float = 60.0,
        policy: RetryPolicy | None = None,
        verify: bool | str = True,
        sleep: Callable[[float], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.mask = masker
        self.policy = policy or RetryPolicy()
        self.requests = 0
        self.retries = 0
        self._count = threading.Lock()  # windows are fetched from several threads
        self._unreachable = unreachable
        self._retry_statuses = frozenset(retry_statuses)
        self._reset_header = reset_header
        self._sleep = sleep or (lambda seconds: time.sleep(seconds))
        self._http = httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            verify=verify,
            transport=transport,
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS),
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    def close(self) -> None:
        self._http.close()

    def _wait(self, state: RetryCallState) -> float:
        """The server's wait where it asked for one (possibly more than the budget left: `_stop` then gives up),
        else exponential backoff with jitter, cut to what is left of the budget."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableStatus) and exc.wait is not None:
            return exc.wait
        return min(_backoff(state), max(0.0, self.policy.budget - state.idle_for))

    def _stop(self, state: RetryCallState) -> bool:
        """Stop after the last try, or when the next wait would not fit in the budget (or nothing is left)."""
        left = self.policy.budget - state.idle_for
        return state.attempt_number >= self.policy.attempts or left <= 0 or state.upcoming_sleep > left

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send with retries on transport errors and the retryable statuses; never on other statuses."""
        sent = 0

        def attempt() -> httpx.Response:
            nonlocal sent
            sent += 1
            with self._count:
                self.requests += 1
            response = self._http.request(method, path, **kwargs)
            # httpx binds a read response's stream back to the response (a reference cycle), so every response
            # and its body would wait for the cyclic GC: at 2.4 MB a spend-log page, dozens piled up. A plain
            # stream over the body breaks the cycle; the response is freed as soon as the caller drops it.
            response.stream = httpx.ByteStream(response.content)
            response.extensions = {**response.extensions, ATTEMPTS_EXTENSION: sent}
            if response.status_code in self._retry_statuses:
                raise RetryableStatus(response, server_wait(response, time.time(), self._reset_header))
            return response

        def count_retry(state: RetryCallState) -> None:
            with self._count:
                self.retries += 1

        retrying = Retrying(
            stop=self._stop,
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, RetryableStatus | httpx.TransportError)),
            sleep=self._sleep,
            before_sleep=count_retry,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except RetryableStatus as exc:
            return exc.response
        except httpx.TransportError as exc:
            raise self._unreachable(exc, sent) from None


class ApiClient:
    """Base of the service clients: request and retry counts, and closing, over one RetryingHttp."""

    _http: RetryingHttp

    @property
    def requests(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self._http.requests

    @property
    def retries(self) -> int:
        """Retries so far."""
        return self._http.retries

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

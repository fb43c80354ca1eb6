"""HTTP plumbing shared by the LiteLLM and Vantage clients: bounded retries with backoff, and masked errors.

Retries use tenacity: exponential backoff with jitter on transport errors and retryable statuses, and the
server's own wait (`Retry-After`, or a rate-limit reset time) on 429 and 503 when it gives one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from email.utils import parsedate_to_datetime
from typing import Any, Self

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from llm_cost.errors import LlmCostError
from llm_cost.secrets import Masker

MAX_RETRY_WAIT = 120.0
MAX_CONNECTIONS = 16  # the most --concurrency allows; httpx would otherwise queue past 10


class RetryableStatus(Exception):
    """A response worth retrying; carries the server's requested wait, if any."""

    def __init__(self, response: httpx.Response, wait: float | None) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.wait = wait


def retry_after(response: httpx.Response, now: float, reset_header: str | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date), else from a reset header (Unix time)."""
    value = response.headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = response.headers.get(reset_header) if reset_header else None
    if reset:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None


class RetryingHttp:
    """An httpx.Client whose `request` retries within bounds and counts requests and retries.

    A retryable status that persists is returned as the last response (the caller explains it); a transport
    error that persists raises `unreachable(exc)`, whose message is masked.
    """

    def __init__(
        self,
        *,
        base_url: str,
        headers: dict[str, str],
        masker: Masker,
        unreachable: Callable[[Exception], LlmCostError],
        retry_statuses: Collection[int],
        reset_header: str | None = None,
        timeout: float = 60.0,
        attempts: int = 5,
        verify: bool | str = True,
        sleep: Callable[[float], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.mask = masker
        self.requests = 0
        self.retries = 0
        self._count = threading.Lock()  # windows are fetched from several threads
        self._unreachable = unreachable
        self._retry_statuses = frozenset(retry_statuses)
        self._reset_header = reset_header
        self._attempts = attempts
        self._sleep = sleep or (lambda seconds: time.sleep(seconds))
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout, verify=verify, transport=transport,
                                  limits=httpx.Limits(max_connections=MAX_CONNECTIONS))  # fmt: skip

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    def close(self) -> None:
        self._http.close()

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableStatus) and exc.wait is not None:
            return min(exc.wait, MAX_RETRY_WAIT)
        return wait_exponential_jitter(initial=1, max=30)(state)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send with bounded retries on transport errors and the retryable statuses; never on other statuses."""

        def attempt() -> httpx.Response:
            with self._count:
                self.requests += 1
            response = self._http.request(method, path, **kwargs)
            # httpx binds a read response's stream back to the response (a reference cycle), so every response
            # and its body would wait for the cyclic GC: at 2.4 MB a spend-log page, dozens piled up. A plain
            # stream over the body breaks the cycle; the response is freed as soon as the caller drops it.
            response.stream = httpx.ByteStream(response.content)
            if response.status_code in self._retry_statuses:
                raise RetryableStatus(response, retry_after(response, time.time(), self._reset_header))
            return response

        def count_retry(state: RetryCallState) -> None:
            with self._count:
                self.retries += 1

        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
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
            raise self._unreachable(exc) from None


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

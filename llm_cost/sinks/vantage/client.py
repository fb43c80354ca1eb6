"""The Vantage v2 Custom Provider API client: upload, list and delete, with retries and masked errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from llm_cost import __version__
from llm_cost.errors import ConfigError, DestinationError
from llm_cost.http import ApiClient, RetryingHttp, RetryPolicy, attempts_of, tries
from llm_cost.secrets import Masker
from llm_cost.sinks.vantage.validation import _shorten

DEFAULT_BASE_URL = "https://api.vantage.sh"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_LIST_PAGES = 1000


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

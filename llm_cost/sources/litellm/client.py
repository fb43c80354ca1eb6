"""The LiteLLM proxy admin API client: auth, TLS, retries, the three error envelopes, version detection.

Every failure becomes a one-line SourceError (exit 4) that names the setting to fix; the API key is masked in
every message. See litellm-api.md §0, §0b, §4 and §7.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import msgspec

from llm_cost import __version__
from llm_cost.errors import ConfigError, SourceError
from llm_cost.http import ApiClient, RetryingHttp, RetryPolicy, attempts_of, tries
from llm_cost.secrets import Masker

# Any JSON, with every number that has a fraction or exponent as the exact Decimal of its text.
ANY_JSON: msgspec.json.Decoder[Any] = msgspec.json.Decoder(float_hook=Decimal)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BAD_CREDENTIAL_TYPES = frozenset({"auth_error", "token_not_found_in_db"})
NO_DB_MARKERS = ("prisma client is not initialized", "no connected db", "db not connected", "database not connected")
ROLE_DENIED = "not allowed to access this route"
KEY_HINT = "check LITELLM_API_KEY (or LITELLM_MASTER_KEY) / --litellm-key"
ADMIN_HINT = "use the master key or a proxy_admin / proxy_admin_viewer key"


class EndpointMissing(SourceError):
    """The proxy has no such endpoint (HTTP 404): an older version. Callers may fall back."""


@dataclass(slots=True, frozen=True)
class ProxyError:
    """One of LiteLLM's three error envelopes, parsed: the message, the type and the status it carries."""

    message: str
    type: str | None = None


def parse_error(response: httpx.Response) -> ProxyError:
    """`{"error": {...}}`, `{"detail": str | {"error": str} | [...]}` (422), or whatever text came back."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return ProxyError(text[:300] or f"HTTP {response.status_code} with an empty body")
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return ProxyError(str(error.get("message") or ""), str(error.get("type")) if error.get("type") else None)
        if isinstance(error, str):
            return ProxyError(error)
        detail = body.get("detail")
        if isinstance(detail, str):
            return ProxyError(detail)
        if isinstance(detail, dict):
            return ProxyError(str(detail.get("error") or detail.get("message") or detail))
        if isinstance(detail, list):
            parts = [
                f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}" for d in detail if isinstance(d, dict)
            ]
            return ProxyError("; ".join(parts) or str(detail), "validation_error")
    return ProxyError(str(body)[:300])


def version_tuple(version: str | None) -> tuple[int, ...] | None:
    """`1.80.8` -> (1, 80, 8); `1.74.15.post2` -> (1, 74, 15); None when unknown."""
    if not version:
        return None
    numbers = re.findall(r"\d+", version.split("-")[0].split("+")[0])[:3]
    return tuple(int(n) for n in numbers) if numbers else None


def _asked(response: httpx.Response) -> str:
    """`, which asked to wait 120 s` when the last answer named a wait (one too long for the retry budget)."""
    value = response.headers.get("retry-after", "").strip()
    return f", which asked to wait {value}{' s' if value.isdigit() else ''}" if value else ""


class LiteLLMClient(ApiClient):
    """GET-only client for the admin API. `stats` counts requests and retries for the completeness summary."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        ca_bundle: str | None = None,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url:
            raise ConfigError("no LiteLLM proxy URL: set LITELLM_BASE_URL or pass --litellm-url")
        if not api_key:
            raise ConfigError(
                f"no LiteLLM API key: set LITELLM_API_KEY (or LITELLM_MASTER_KEY) or pass --litellm-key; {ADMIN_HINT}"
            )
        self.mask = Masker([api_key])
        root = base_url.rstrip("/")
        if not root.startswith(("http://", "https://")):
            raise ConfigError(
                f"LiteLLM URL {self.mask(base_url)!r} must start with http:// or https:// (LITELLM_BASE_URL)"
            )
        self.base_url = root
        self.api_key = api_key
        self.retry = retry or RetryPolicy()

        def unreachable(exc: Exception, count: int) -> SourceError:
            return SourceError(
                self.mask(
                    f"cannot reach the LiteLLM proxy at {root} after {tries(count)} ({type(exc).__name__}: {exc}); "
                    "check LITELLM_BASE_URL / --litellm-url" + (" and --ca-bundle" if "SSL" in str(exc) else "")
                )
            )

        self._http = RetryingHttp(
            base_url=root,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": f"llm-cost/{__version__}",
            },
            masker=self.mask,
            unreachable=unreachable,
            retry_statuses=RETRY_STATUSES,
            timeout=timeout,
            policy=self.retry,
            verify=ca_bundle or True,
            sleep=sleep,
            transport=transport,
        )

    @property
    def key_hash(self) -> str:
        """The sha256 of the API key: how proxies before ~1.86 store the master key's own traffic."""
        return hashlib.sha256(self.api_key.encode()).hexdigest()

    def get_raw(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """GET with retries, whatever the status."""
        return self._http.request("GET", path, params=params)

    def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """GET with retries; a non-2xx answer raises the explained SourceError (EndpointMissing for 404)."""
        response = self.get_raw(path, params)
        if response.status_code >= 400:
            raise self.explain(response, path)
        return response

    def get_json(
        self, path: str, params: dict[str, Any] | None = None, decoder: msgspec.json.Decoder[Any] = ANY_JSON
    ) -> Any:
        """GET and decode JSON with exact decimals; a non-JSON or truncated body is a SourceError."""
        return self.decode(self.get(path, params), path, decoder)

    def decode(self, response: httpx.Response, path: str, decoder: msgspec.json.Decoder[Any] = ANY_JSON) -> Any:
        """Decode a body with `decoder` (by default: any JSON, floats as Decimal, the text as sent, so spend stays
        exact). A typed decoder that meets an unexpected shape raises a SourceError naming where."""
        try:
            return decoder.decode(response.content)
        except msgspec.ValidationError as exc:
            raise SourceError(self.mask(f"unexpected response from {path}: {exc}")) from None
        except msgspec.DecodeError as exc:
            kind = "truncated" if response.content.strip()[:1] in (b"{", b"[") else "not JSON"
            raise SourceError(
                self.mask(
                    f"LiteLLM answered {path} with a body that is {kind} ({exc}); is LITELLM_BASE_URL the proxy itself?"
                )
            ) from None

    def explain(self, response: httpx.Response, path: str) -> SourceError:
        """The one-line error for a failed response, naming the setting to fix."""
        error = parse_error(response)
        status = response.status_code
        message = error.message
        lowered = message.lower()
        if any(marker in lowered for marker in NO_DB_MARKERS) or error.type == "no_db_connection":
            text = (
                f"the LiteLLM proxy has no database connected ({path}: HTTP {status}: {message}); spend data "
                "needs a proxy with DATABASE_URL set"
            )
        elif status in (401, 403) and ROLE_DENIED in lowered:  # LiteLLM's route check: a valid key, the wrong role
            text = f"LiteLLM refused {path} to this key's role (HTTP {status}: {message}); {ADMIN_HINT}"
        elif status in (401, 403) and (
            error.type in BAD_CREDENTIAL_TYPES or message.startswith("Authentication Error")
        ):
            text = f"LiteLLM rejected the API key (HTTP {status}: {message}); {KEY_HINT}; {ADMIN_HINT}"
        elif status in (401, 403):
            text = f"LiteLLM refused {path} (HTTP {status}: {message}); {ADMIN_HINT}"
        elif status == 404:
            return EndpointMissing(self.mask(f"LiteLLM has no {path} (HTTP 404: {message}); the proxy may be too old"))
        elif status == 429:
            text = (
                f"LiteLLM kept rate-limiting {path} (HTTP 429) after {tries(attempts_of(response))}"
                f"{_asked(response)}; try again later, or raise --retry-budget / --max-tries"
            )
        elif status >= 500:
            text = f"LiteLLM failed on {path} after {tries(attempts_of(response))} (HTTP {status}: {message})"
        else:
            text = f"LiteLLM rejected {path} (HTTP {status}: {message})"
        return SourceError(self.mask(text))

    def version(self) -> str | None:
        """The proxy's LiteLLM version: `/health/readiness/details` (≥1.86, authenticated), else the public
        `/health/readiness` (≤1.83 includes it). None when the proxy does not say."""
        for path in ("/health/readiness/details", "/health/readiness"):
            response = self.get_raw(path)
            if response.status_code == 200:
                try:
                    body = response.json()
                except ValueError:
                    continue
                if isinstance(body, dict) and body.get("litellm_version"):
                    return str(body["litellm_version"])
                if isinstance(body, dict) and str(body.get("db", "")).lower() in ("not connected", "disconnected"):
                    raise SourceError(
                        f"the LiteLLM proxy at {self.base_url} has no database connected "
                        f"(readiness says db={body.get('db')!r}); spend data needs DATABASE_URL"
                    )
            elif response.status_code in (401, 403):
                error = parse_error(response)
                if error.type in BAD_CREDENTIAL_TYPES or error.message.startswith("Authentication Error"):
                    raise self.explain(response, path)
        return None

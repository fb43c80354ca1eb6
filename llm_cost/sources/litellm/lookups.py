"""Lookups: team_id -> team alias (`/v2/team/list`), model -> provider (`/model/info`, else genai-prices),
and the admin-scope check (a non-admin key silently narrows every spend query to its own user)."""

from __future__ import annotations

import threading
from typing import Any

from llm_cost.errors import SourceError
from llm_cost.pricing import PriceBook
from llm_cost.sources.litellm.client import EndpointMissing, LiteLLMClient, parse_error

TEAM_PAGE_SIZE = 100
MAX_TEAM_PAGES = 1000


class Lookups:
    """Lazy, cached lookups against the proxy."""

    def __init__(self, client: LiteLLMClient, prices: PriceBook) -> None:
        self.client = client
        self.prices = prices
        self._teams: dict[str, str] | None = None
        self._providers: dict[str, str] | None = None
        self._loading = threading.Lock()  # days are read from several threads; each table is loaded once

    def check_admin_scope(self) -> None:
        """Refuse a key that is not proxy_admin / proxy_admin_viewer: LiteLLM would return only that key's user's
        spend, without an error, and the export would silently under-count."""
        response = self.client.get_raw("/v2/team/list", {"page": 1, "page_size": 1})
        if response.status_code in (401, 403):
            error = parse_error(response)
            if "only admin" in error.message.lower() or "admin-only" in error.message.lower():
                raise SourceError(
                    self.client.mask(
                        "the LiteLLM key is not an admin key: the proxy would narrow every spend query to that key's "
                        "own "
                        f"user without an error ({error.message}); use the master key or a proxy_admin / "
                        "proxy_admin_viewer key in LITELLM_API_KEY"
                    )
                )
            raise self.client.explain(response, "/v2/team/list")
        if response.status_code >= 400 and response.status_code != 404:
            raise self.client.explain(response, "/v2/team/list")

    def team_alias(self, team_id: str) -> str | None:
        """The team's current alias, or None."""
        if self._teams is None:
            with self._loading:
                if self._teams is None:
                    self._teams = self._load_teams()
        return self._teams.get(team_id)

    def _load_teams(self) -> dict[str, str]:
        teams: dict[str, str] = {}
        page = 1
        while page <= MAX_TEAM_PAGES:
            try:
                body = self.client.get_json("/v2/team/list", {"page": page, "page_size": TEAM_PAGE_SIZE})
            except EndpointMissing:
                return self._load_teams_v1()
            items = body.get("teams") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise SourceError("unexpected response from /v2/team/list: no 'teams' list")
            teams.update(_aliases(items))
            total_pages = int(body.get("total_pages") or 1)
            if page >= total_pages or not items:
                return teams
            page += 1
        return teams

    def _load_teams_v1(self) -> dict[str, str]:
        body = self.client.get_json("/team/list")
        if not isinstance(body, list):
            raise SourceError("unexpected response from /team/list: expected a list")
        return _aliases(body)

    def provider(self, model: str) -> tuple[str, str]:
        """(provider id, display name) for a model: the proxy's /model/info, else genai-prices, else unknown."""
        if self._providers is None:
            with self._loading:
                if self._providers is None:
                    self._providers = self._load_providers()
        provider = self._providers.get(model)
        if provider is None and (match := self.prices.match(model)) is not None:
            return match.provider_id, match.provider_name
        provider = provider or "unknown"
        return provider, self.prices.provider_name(provider)

    def _load_providers(self) -> dict[str, str]:
        try:
            body = self.client.get_json("/model/info")
        except EndpointMissing:
            return {}
        data = body.get("data") if isinstance(body, dict) else None
        providers: dict[str, str] = {}
        for item in data if isinstance(data, list) else []:
            if not isinstance(item, dict):
                continue
            params: dict[str, Any] = item.get("litellm_params") or {}
            model_ref = str(params.get("model") or "")
            provider = params.get("custom_llm_provider") or (model_ref.split("/", 1)[0] if "/" in model_ref else None)
            if not provider:
                continue
            for name in (item.get("model_name"), model_ref, model_ref.split("/", 1)[-1]):
                if name:
                    providers.setdefault(str(name), str(provider))
        return providers


def _aliases(items: list[Any]) -> dict[str, str]:
    return {
        str(t["team_id"]): str(t["team_alias"])
        for t in items
        if isinstance(t, dict) and t.get("team_id") and t.get("team_alias")
    }

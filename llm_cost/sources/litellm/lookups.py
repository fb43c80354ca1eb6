"""Lookups against the proxy, each read once per run (lazily, and once even when days are read concurrently):

* teams (`/v2/team/list`, else `/team/list`): team_id -> current alias and organization;
* deployments (`/model/info`): model -> provider, and each deployment's own prices as a `Pricing` (source
  "litellm"), matched to spend-log rows by `model_id` (the deployment's `model_info.id`), else by model name;
* users (`/user/list`, else `/user/info` per user): user_id -> email and alias;
* keys (`/key/list?return_full_object=true`): key hash -> LiteLLM's masked key name, owner, team and org;
* organizations (`/organization/list`): org id -> alias;

plus the admin-scope check. Users, keys and organizations only decorate ids: a proxy that refuses one of them
(401/403) or lacks it (404) leaves the ids alone, with one warning for the run. Teams and deployments fail loudly
as before (a missing `/model/info` means no proxy prices).

Cache prices: a deployment without `cache_read_input_token_cost` / `cache_creation_input_token_cost` keeps None
there. LiteLLM does not bill such tokens at the input price: its generic cost path (`_get_token_base_cost` in
`litellm/litellm_core_utils/llm_cost_calc/utils.py`) prices a missing cache cost at 0.0, so the input price would
be a list price LiteLLM never charged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from llm_cost.errors import SourceError
from llm_cost.pricing import PriceBook
from llm_cost.records import EXACT, Pricing, UnitPrices, UsageRecord
from llm_cost.sources.litellm.client import EndpointMissing, LiteLLMClient, parse_error

Warn = Callable[[str], None]

TEAM_PAGE_SIZE = 100
MAX_TEAM_PAGES = 1000
USER_PAGE_SIZE = 100  # /user/list: le=100
KEY_PAGE_SIZE = 100  # /key/list: size le=100 in every version
MAX_PAGES = 10_000
PRICE_SOURCE = "litellm"
ONE_MILLION = Decimal(1_000_000)
# model_info field -> UnitPrices field; LiteLLM prices per token, llm-cost per million tokens.
PRICE_FIELDS = (
    ("input", "input_cost_per_token"),
    ("output", "output_cost_per_token"),
    ("cache_read", "cache_read_input_token_cost"),
    ("cache_write", "cache_creation_input_token_cost"),
)
WITHOUT_USERS = "with user ids only (no emails or aliases)"
_UNSET: Any = object()


@dataclass(slots=True, frozen=True)
class Team:
    """A team's current alias and organization."""

    alias: str | None
    org_id: str | None


@dataclass(slots=True, frozen=True)
class User:
    """A proxy user's email and alias."""

    email: str | None
    alias: str | None


@dataclass(slots=True, frozen=True)
class Key:
    """A virtual key as `/key/list` shows it (current owner, team and organization)."""

    name: str | None
    user_id: str | None
    team_id: str | None
    org_id: str | None


@dataclass(slots=True)
class Models:
    """What `/model/info` says: model name -> provider, and the prices per deployment id and per model name."""

    providers: dict[str, str]
    by_id: dict[str, Pricing | None]
    by_name: dict[str, list[tuple[str | None, Pricing | None]]]


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def plain(value: Decimal) -> Decimal:
    """`value` without trailing zeros or an exponent, so it prints as `2.5`, `10` or `0.075`."""
    normal = value.normalize(EXACT)
    if normal.is_zero():
        return Decimal(0)
    return normal.quantize(Decimal(1), context=EXACT) if normal.as_tuple().exponent > 0 else normal  # type: ignore[operator]


def per_million(value: Any, field: str, where: str) -> Decimal | None:
    """A per-token price from `/model/info` (the Decimal of its wire text; a string from a config file is read
    too) as USD per million tokens, exactly; None when absent. Anything else is a SourceError naming it."""
    if value is None:
        return None
    price: Decimal | None = None
    if isinstance(value, Decimal):
        price = value
    elif isinstance(value, int) and not isinstance(value, bool):
        price = Decimal(value)
    elif isinstance(value, str) and value.strip():
        try:
            price = Decimal(value.strip())
        except ArithmeticError:
            price = None
    if price is None or not price.is_finite() or price < 0:
        raise SourceError(
            f"unexpected response from /model/info: {field} of {where} is {str(value)[:40]!r}, not a price"
        )
    return plain(EXACT.multiply(price, ONE_MILLION))


def _page_count(value: Any, path: str) -> int:
    """A `total_pages` field: absent means one page; anything but a whole number is a SourceError."""
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value != int(value):
        raise SourceError(f"unexpected response from {path}: total_pages is {str(value)[:40]!r}")
    return int(value)


class Lookups:
    """Lazy, cached lookups against the proxy. `warn` receives the one warning of a refused or missing lookup."""

    def __init__(self, client: LiteLLMClient, prices: PriceBook, *, warn: Warn | None = None) -> None:
        self.client = client
        self.prices = prices
        self.warn: Warn = warn or (lambda message: None)
        self._tables: dict[str, Any] = {}
        self._loading = threading.Lock()  # days are read from several threads; each table is loaded once
        self._warned: set[str] = set()
        self._warn_lock = threading.Lock()
        self._user_info: dict[str, User | None] = {}
        self._user_info_lock = threading.Lock()
        self._users_declined = False
        self._interned: dict[UnitPrices, Pricing] = {}
        self._price_cache: dict[tuple[str | None, str, str | None], Pricing | None] = {}

    # ------------------------------------------------------------------------------------------ plumbing

    def _table(self, name: str, loader: Callable[[], Any]) -> Any:
        """The named table, loaded once by the first caller (the others wait for it)."""
        value = self._tables.get(name, _UNSET)
        if value is _UNSET:
            with self._loading:
                value = self._tables.get(name, _UNSET)
                if value is _UNSET:
                    value = self._tables[name] = loader()
        return value

    def _warn_once(self, kind: str, message: str) -> None:
        with self._warn_lock:
            if kind in self._warned:
                return
            self._warned.add(kind)
        self.warn(self.client.mask(message))

    def _declined(self, response: Any, path: str, kind: str, without: str) -> bool:
        """True (after one warning for `kind`) when the proxy refuses (401/403) or lacks (404) a decorating
        lookup: the run goes on `without` it."""
        status = response.status_code
        if status not in (401, 403, 404):
            return False
        error = parse_error(response)
        self._warn_once(
            kind,
            f"LiteLLM {'has no' if status == 404 else 'refused'} {path} (HTTP {status}: {error.message[:200]}); "
            f"the export goes on {without}" + ("" if status == 404 else "; a proxy_admin key can read it"),
        )
        return True

    def _optional(self, path: str, params: dict[str, Any], kind: str, without: str) -> Any:
        """The decoded body of a decorating lookup, or None when the proxy declines it (see `_declined`). Any
        other failure is the usual SourceError."""
        response = self.client.get_raw(path, params)
        if self._declined(response, path, kind, without):
            return None
        if response.status_code >= 400:
            raise self.client.explain(response, path)
        return self.client.decode(response, path)

    # ------------------------------------------------------------------------------------------ admin scope

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

    # ------------------------------------------------------------------------------------------ teams

    def team_alias(self, team_id: str) -> str | None:
        """The team's current alias, or None."""
        team = self.team(team_id)
        return team.alias if team else None

    def team(self, team_id: str) -> Team | None:
        """The team's current alias and organization, or None when the proxy does not know the team."""
        teams: dict[str, Team] = self._table("teams", self._load_teams)
        return teams.get(team_id)

    def _load_teams(self) -> dict[str, Team]:
        teams: dict[str, Team] = {}
        page = 1
        while page <= MAX_TEAM_PAGES:
            try:
                body = self.client.get_json("/v2/team/list", {"page": page, "page_size": TEAM_PAGE_SIZE})
            except EndpointMissing:
                return self._load_teams_v1()
            items = body.get("teams") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise SourceError("unexpected response from /v2/team/list: no 'teams' list")
            teams.update(_teams(items))
            if page >= _page_count(body.get("total_pages"), "/v2/team/list") or not items:
                return teams
            page += 1
        return teams

    def _load_teams_v1(self) -> dict[str, Team]:
        body = self.client.get_json("/team/list")
        if not isinstance(body, list):
            raise SourceError("unexpected response from /team/list: expected a list")
        return _teams(body)

    # ------------------------------------------------------------------------------------------ deployments

    def provider(self, model: str) -> tuple[str, str]:
        """(provider id, display name) for a model: the proxy's /model/info, else genai-prices, else unknown."""
        models: Models = self._table("models", self._load_models)
        provider = models.providers.get(model)
        if provider is None and (match := self.prices.match(model)) is not None:
            return match.provider_id, match.provider_name
        provider = provider or "unknown"
        return provider, self.prices.provider_name(provider)

    def providers_of(self, model: str) -> frozenset[str]:
        """Every provider /model/info lists a model name under (two for a name load-balanced over providers)."""
        models: Models = self._table("models", self._load_models)
        return frozenset(p for p, _ in models.by_name.get(model, ()) if p)

    def pricing(self, model_id: str | None, model: str, provider: str | None) -> Pricing | None:
        """The proxy's own prices for a row: its deployment's by `model_id`, else those of the deployments named
        `model` (at `provider` when known) if they all agree; None when the proxy has none (the pipeline then
        prices from genai-prices). Equal prices are one shared object, so they never split a group."""
        key = (model_id, model, provider)
        found = self._price_cache.get(key, _UNSET)
        if found is _UNSET:
            found = self._price_cache[key] = self._find_pricing(model_id, model, provider)
        return found

    def _find_pricing(self, model_id: str | None, model: str, provider: str | None) -> Pricing | None:
        models: Models = self._table("models", self._load_models)
        if model_id and model_id in models.by_id:
            return models.by_id[model_id]
        candidates = models.by_name.get(model, [])
        if provider and provider != "unknown":
            candidates = [c for c in candidates if c[0] == provider]
        distinct = {pricing for _, pricing in candidates}
        return distinct.pop() if len(distinct) == 1 else None

    def _load_models(self) -> Models:
        models = Models({}, {}, {})
        try:
            body = self.client.get_json("/model/info")
        except EndpointMissing:
            return models
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise SourceError(
                self.client.mask(f"unexpected response from /model/info: no 'data' list ({str(body)[:120]})")
            )
        for item in data:
            if not isinstance(item, dict):
                raise SourceError(f"unexpected response from /model/info: a deployment is {type(item).__name__}")
            params = item.get("litellm_params") or {}
            info = item.get("model_info") or {}
            if not isinstance(params, dict) or not isinstance(info, dict):
                raise SourceError(
                    f"unexpected response from /model/info: litellm_params or model_info of "
                    f"{str(item.get('model_name'))[:60]!r} is not an object"
                )
            model_ref = str(params.get("model") or "")
            provider = _text(params.get("custom_llm_provider")) or (
                model_ref.split("/", 1)[0] if "/" in model_ref else None
            )
            pricing = self._deployment_pricing(info, str(item.get("model_name") or model_ref or "a deployment"))
            if (model_id := _text(info.get("id"))) is not None:
                models.by_id[model_id] = pricing
            names = {str(n) for n in (item.get("model_name"), model_ref, model_ref.split("/", 1)[-1]) if n}
            for name in sorted(names):
                if "*" in name:  # a wildcard route names no model
                    continue
                models.by_name.setdefault(name, []).append((provider, pricing))
                if provider:
                    models.providers.setdefault(name, provider)
        return models

    def _deployment_pricing(self, info: dict[str, Any], where: str) -> Pricing | None:
        """One deployment's prices; None when it has neither an input nor an output price."""
        values = {name: per_million(info.get(field), field, where) for name, field in PRICE_FIELDS}
        if values["input"] is None and values["output"] is None:
            return None
        prices = UnitPrices(**values)
        pricing = self._interned.get(prices)
        if pricing is None:
            pricing = self._interned[prices] = Pricing(prices, prices, PRICE_SOURCE)
        return pricing

    # ------------------------------------------------------------------------------------------ users

    def user(self, user_id: str) -> User | None:
        """The user's email and alias, from `/user/list` (read once), else `/user/info` (once per user)."""
        users: dict[str, User] | None = self._table("users", self._load_users)
        if users is not None:
            return users.get(user_id)
        if user_id in self._user_info:
            return self._user_info[user_id]
        with self._user_info_lock:
            if user_id not in self._user_info:
                self._user_info[user_id] = self._load_user_info(user_id)
            return self._user_info[user_id]

    def _load_users(self) -> dict[str, User] | None:
        """Every user, or None when the proxy has no /user/list (then /user/info is asked per user)."""
        users: dict[str, User] = {}
        page = 1
        while page <= MAX_PAGES:
            params = {"page": page, "page_size": USER_PAGE_SIZE, "sort_by": "user_id", "sort_order": "asc"}
            response = self.client.get_raw("/user/list", params)
            if response.status_code == 404 and page == 1:
                return None
            if self._declined(response, "/user/list", "users", WITHOUT_USERS):
                self._users_declined = True
                return {}
            if response.status_code >= 400:
                raise self.client.explain(response, "/user/list")
            body = self.client.decode(response, "/user/list")
            if isinstance(body, list):  # older proxies: every user in one list
                items, pages = body, 1
            elif isinstance(body, dict) and isinstance(body.get("users"), list):
                items, pages = body["users"], _page_count(body.get("total_pages"), "/user/list")
            else:
                raise SourceError(
                    self.client.mask(f"unexpected response from /user/list: no 'users' list ({str(body)[:120]})")
                )
            for item in items:
                if not isinstance(item, dict) or not _text(item.get("user_id")):
                    raise SourceError("unexpected response from /user/list: a user without a user_id")
                users[str(item["user_id"])] = _user(item)
            if page >= pages or not items:
                return users
            page += 1
        return users

    def _load_user_info(self, user_id: str) -> User | None:
        if self._users_declined:
            return None
        response = self.client.get_raw("/user/info", {"user_id": user_id})
        if response.status_code == 404:  # "User … not found": an id the user table lacks
            return None
        if self._declined(response, "/user/info", "users", WITHOUT_USERS):
            self._users_declined = True
            return None
        if response.status_code >= 400:
            raise self.client.explain(response, "/user/info")
        body = self.client.decode(response, "/user/info")
        info = body.get("user_info") if isinstance(body, dict) else _UNSET
        if info is None:
            return None
        if not isinstance(info, dict):
            raise SourceError(self.client.mask(f"unexpected response from /user/info: {str(body)[:120]}"))
        return _user(info)

    # ------------------------------------------------------------------------------------------ keys, orgs

    def key(self, key_hash: str) -> Key | None:
        """The key's current name, owner, team and organization, from `/key/list` (read once)."""
        keys: dict[str, Key] = self._table("keys", self._load_keys)
        return keys.get(key_hash)

    def _load_keys(self) -> dict[str, Key]:
        """Every key, the live ones first, then the deleted ones from LiteLLM's archive (`status=deleted`, ~1.83+),
        so rows of a key deleted since keep its name. A live key's entry wins over an archived one."""
        keys = self._key_pages({}, optional=True)
        if keys is None:
            return {}
        for token, key in (self._key_pages({"status": "deleted"}, optional=False) or {}).items():
            keys.setdefault(token, key)
        return keys

    def _key_pages(self, extra: dict[str, str], *, optional: bool) -> dict[str, Key] | None:
        """The keys of every `/key/list` page with these extra parameters. The live listing is a decorating lookup
        (None, with one warning, when declined); the archive is read only where the proxy serves it: an older one
        that refuses the `status` value gives nothing, silently (the live listing already holds what it can)."""
        keys: dict[str, Key] = {}
        page = 1
        while page <= MAX_PAGES:
            params = {"page": page, "size": KEY_PAGE_SIZE, "return_full_object": "true", **extra}
            if optional:
                body = self._optional("/key/list", params, "keys", "without LiteLLM's key names")
                if body is None:
                    return None
            else:
                response = self.client.get_raw("/key/list", params)
                if response.status_code in (400, 401, 403, 404, 422):
                    return keys
                if response.status_code >= 400:
                    raise self.client.explain(response, "/key/list")
                body = self.client.decode(response, "/key/list")
            items = body.get("keys") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise SourceError(
                    self.client.mask(f"unexpected response from /key/list: no 'keys' list ({str(body)[:120]})")
                )
            for item in items:
                if isinstance(item, str):  # a bare hash: this proxy ignored return_full_object
                    continue
                if not isinstance(item, dict):
                    raise SourceError(f"unexpected response from /key/list: a key is {type(item).__name__}")
                if (token := _text(item.get("token"))) is not None:
                    keys[token] = Key(
                        _text(item.get("key_name")),
                        _text(item.get("user_id")),
                        _text(item.get("team_id")),
                        _text(item.get("org_id")) or _text(item.get("organization_id")),
                    )
            if page >= _page_count(body.get("total_pages"), "/key/list") or not items:
                return keys
            page += 1
        return keys

    def org_alias(self, org_id: str) -> str | None:
        """The organization's alias, from `/organization/list` (read once)."""
        orgs: dict[str, str] = self._table("orgs", self._load_orgs)
        return orgs.get(org_id)

    def _load_orgs(self) -> dict[str, str]:
        body = self._optional("/organization/list", {}, "orgs", "without organization aliases")
        if body is None:
            return {}
        items = body.get("organizations") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise SourceError(
                self.client.mask(f"unexpected response from /organization/list: expected a list ({str(body)[:120]})")
            )
        orgs: dict[str, str] = {}
        for item in items:
            if not isinstance(item, dict):
                raise SourceError(f"unexpected response from /organization/list: an entry is {type(item).__name__}")
            org_id, alias = _text(item.get("organization_id")), _text(item.get("organization_alias"))
            if org_id and alias:
                orgs[org_id] = alias
        return orgs

    # ------------------------------------------------------------------------------------------ records

    def enrich(self, record: UsageRecord) -> None:
        """Decorate a record's ids: the key's name, the user's email (when the row lacks it) and alias, the
        organization's alias. Each table is read on first need."""
        if record.api_key_hash and (key := self.key(record.api_key_hash)) is not None:
            record.key_name = record.key_name or key.name
        if record.user_id and (user := self.user(record.user_id)) is not None:
            record.user_email = record.user_email or user.email
            record.user_alias = record.user_alias or user.alias
        if record.org_id:
            record.org_alias = record.org_alias or self.org_alias(record.org_id)


def _teams(items: list[Any]) -> dict[str, Team]:
    return {
        str(t["team_id"]): Team(_text(t.get("team_alias")), _text(t.get("organization_id")))
        for t in items
        if isinstance(t, dict) and t.get("team_id")
    }


def _user(item: dict[str, Any]) -> User:
    return User(_text(item.get("user_email")), _text(item.get("user_alias")))

"""A loopback fake of the LiteLLM proxy admin API, for tests (stdlib only).

The contract it follows is ``/work/shared/docs/litellm-api.md`` (taken from LiteLLM's source, §0b checked against
the real 1.100.5 handlers, §7 version differences).  It reproduces the documented quirks on purpose, so that a
client that is correct against this fake is correct against real proxies::

    dataset = generate_dataset(7, days=3, requests=3000)
    with FakeLiteLLM(dataset, version="1.109.1") as fake:
        httpx.get(f"{fake.base_url}/spend/logs/v2", params={...}, headers=fake.auth_headers())
        assert client_total == dataset.truth.total()

Two halves:

* :func:`generate_dataset` builds a deterministic list of spend-log rows (``LiteLLM_SpendLogs`` shape, §1c) with
  exact ``Decimal`` spend and many ``startTime`` ties; ``dataset.truth`` (a :class:`Truth`) holds the exact sums.
  ``variety=True`` reshapes the rows into every field shape the doc documents (``dataset.shapes`` lists them);
  ``key_pool=N`` adds N synthetic keys, for days of thousands of daily-activity DB rows.
* :class:`FakeLiteLLM` serves them on ``127.0.0.1`` from a background thread (``ThreadingHTTPServer``), with the
  response shapes, error envelopes and version flavours of the doc (``version="1.74.0" | "1.86.7" | "1.109.1" |
  any other``; thresholds in :class:`Flavor`).

Routes (anything else is 404 ``{"detail":"Not Found"}``; a known path with another method is 405):

* ``GET /health/liveliness`` (``/health/liveness``), ``/health/readiness`` (public), ``/health/readiness/details``
  (≥1.86, needs a key).
* ``GET /spend/logs`` (legacy), ``GET /spend/logs/v2`` and ``/spend/logs/ui`` (≥1.80.8).
* ``GET /user/daily/activity``, ``/user/daily/activity/aggregated`` (≥1.77), ``/customer/daily/activity`` and
  ``/end_user/daily/activity`` (≥1.80, admin only).
* ``GET /team/list``, ``/v2/team/list``, ``/model/info`` (``/v1/model/info``), ``/key/list``, ``/key/info``,
  ``/user/list`` (admin and admin viewer only), ``/user/info``, ``/organization/list``.
* ``refuse_paths`` answers the given paths 403 (a role denial), ``missing_paths`` answers them 404 (an older proxy).

Quirks reproduced (see each handler): no tiebreaker in v2's ``ORDER BY startTime`` (ties are reshuffled on every
request, so multi-page reads of a tied window lose and repeat rows), ``total`` capped at 10,000, pages past
``total_pages`` still filled, inclusive v2 bounds with date-only ``end_date`` = midnight, legacy end-exclusive-in-
effect bounds and summarize padding, legacy 10,000-row cap with ``x-litellm-spend-logs-truncated``, daily activity
paged over DB rows with per-page aggregation in floats, unstable within-day order ≤1.90, the 1.83–1.86 ``timezone``
over-count, string ``metadata`` in v2 on 1.83–1.86, string ``request_tags`` in v2 (or on some rows only,
``v2_request_tags_as_string="mixed"``), SQL NULL ``metadata`` / ``request_tags`` served as null, numbers in their
own JSON spelling (:class:`JsonNumber`: ``1e-10``, ``0.0``), master-key rows as the hash of the master key before
1.86, role scoping that narrows silently, and the three error envelopes.

Ground truth: :attr:`SpendDataset.truth` / :attr:`FakeLiteLLM.truth` (exact Decimal sums, health checks apart),
:attr:`FakeLiteLLM.requests`, :meth:`FakeLiteLLM.count`, :meth:`FakeLiteLLM.daily_rows`.

Faults: ``fault_rate`` (random 429/500/503 on data endpoints, deterministic from ``seed``),
:meth:`FakeLiteLLM.fail_next`, :meth:`FakeLiteLLM.garble_next` (non-JSON, truncated JSON, short body, unexpected
schema), :meth:`FakeLiteLLM.drop_next`, :meth:`FakeLiteLLM.delay_next`; for a connect error, stop the server.
"""

import bisect
import contextlib
import decimal
import gc
import hashlib
import json
import math
import random
import re
import socket
import struct
import sys
import threading
import time as _time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, localcontext
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes.server import LoopbackFake

__all__ = [
    "DEPLOYMENTS",
    "HEALTH_CHECK_KEY",
    "HEALTH_CHECK_KEY_HASH",
    "KEYS",
    "MASTER_KEY_LITERAL",
    "PROXY_ADMIN_USER_ID",
    "SPEND_LOGS_CAP",
    "ORGS",
    "TEAMS",
    "USERS",
    "WILDCARD_DEPLOYMENTS",
    "DailyRow",
    "Deployment",
    "FakeLiteLLM",
    "Flavor",
    "JsonNumber",
    "KeySpec",
    "OrgSpec",
    "RequestRecord",
    "SpendDataset",
    "TeamSpec",
    "Truth",
    "UserSpec",
    "fake_litellm_fixture",
    "format_v1_datetime",
    "format_v2_datetime",
    "csv_sums",
    "generate_dataset",
    "spend_row",
    "hash_key",
    "is_health_check_row",
]

#: ``api_key`` of master-key traffic since ~1.86 (the sha256 of the master key before).
MASTER_KEY_LITERAL = "litellm_proxy_master_key"
#: ``api_key`` (and service-account name) of the proxy's own health-check calls.
HEALTH_CHECK_KEY = "litellm-internal-health-check"
#: ``user_id`` of the master key (``LITELLM_PROXY_ADMIN_NAME``).
PROXY_ADMIN_USER_ID = "default_user_id"
#: ``SPEND_LOGS_PAGINATION_COUNT_CAP``: v2 ``total`` cap (≥1.95) and legacy row cap (≥1.100).
SPEND_LOGS_CAP = 10_000

_DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def hash_key(raw_key: str) -> str:
    """``sha256(raw_key).hexdigest()``: how LiteLLM stores every virtual key (§0)."""
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


HEALTH_CHECK_KEY_HASH = hash_key(HEALTH_CHECK_KEY)
_HEALTH_KEYS = frozenset({HEALTH_CHECK_KEY, HEALTH_CHECK_KEY_HASH})


def is_health_check_row(row: Mapping[str, Any]) -> bool:
    """True for the proxy's internal health-check rows (``api_key`` is the literal or its hash)."""
    return row.get("api_key") in _HEALTH_KEYS


# --------------------------------------------------------------------------------------------------------------
# The catalogue the generator draws from (also what /model/info, /key/list and /team/list serve)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    """One model deployment: a ``model_group`` (public name) served by ``model`` at ``provider``."""

    model_group: str
    model: str
    provider: str
    litellm_model: str
    model_id: str
    api_base: str
    input_cost: Decimal
    output_cost: Decimal
    cache_read_cost: Decimal = Decimal(0)
    cache_creation_cost: Decimal = Decimal(0)
    mode: str = "chat"
    weight: int = 1

    @property
    def endpoint(self) -> str:
        return "/embeddings" if self.mode == "embedding" else "/chat/completions"

    @property
    def call_type(self) -> str:
        return "aembedding" if self.mode == "embedding" else "acompletion"


D = Decimal
#: The deployments. ``gpt-4o`` is load-balanced over OpenAI and Azure (same model name, two providers).
DEPLOYMENTS: tuple[Deployment, ...] = (
    Deployment(
        "gpt-4o",
        "gpt-4o",
        "openai",
        "openai/gpt-4o",
        "0b9c6a57-5c3e-4e1f-9d53-2f4b0a6e1c01",
        "https://api.openai.com/v1",
        D("0.0000025"),
        D("0.00001"),
        D("0.00000125"),
        weight=18,
    ),
    Deployment(
        "gpt-4o",
        "gpt-4o",
        "azure",
        "azure/gpt-4o-eastus",
        "7d3e2f10-8a41-4c55-b0e2-9c6d5f4a3b02",
        "https://acme-eastus.openai.azure.com/",
        D("0.0000025"),
        D("0.00001"),
        D("0.00000125"),
        weight=8,
    ),
    Deployment(
        "gpt-4o-mini",
        "gpt-4o-mini",
        "openai",
        "openai/gpt-4o-mini",
        "3a1f9e84-2b6c-4d7a-8e15-6f0c2d9b4a03",
        "https://api.openai.com/v1",
        D("0.00000015"),
        D("0.0000006"),
        D("0.000000075"),
        weight=28,
    ),
    Deployment(
        "claude-sonnet-4-0",
        "claude-sonnet-4-20250514",
        "anthropic",
        "anthropic/claude-sonnet-4-20250514",
        "c4e8b2d6-1f3a-4b9c-a7d5-0e2f6b8c1d04",
        "https://api.anthropic.com",
        D("0.000003"),
        D("0.000015"),
        D("0.0000003"),
        D("0.00000375"),
        weight=18,
    ),
    Deployment(
        "claude-3-5-haiku",
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "bedrock",
        "bedrock/anthropic.claude-3-5-haiku-20241022-v1:0",
        "e6a0c3f2-9d8b-4e7a-b1c4-5d2e7f9a0b05",
        "https://bedrock-runtime.us-east-1.amazonaws.com",
        D("0.0000008"),
        D("0.000004"),
        D("0.00000008"),
        D("0.000001"),
        weight=10,
    ),
    Deployment(
        "text-embedding-3-small",
        "text-embedding-3-small",
        "openai",
        "openai/text-embedding-3-small",
        "f1b7d9e3-6c2a-4f8d-9e0b-3a5c7e1d2f06",
        "https://api.openai.com/v1",
        D("0.00000002"),
        D(0),
        mode="embedding",
        weight=5,
    ),
)
#: Wildcard routes (``model_name: vertex_ai/*``): /model/info lists the route, not the models it serves, and has no
#: prices for it, so their rows match no priced deployment and no model name there. Used with ``wildcard_share``.
#: ``gemini-2.0-flash-001`` at ``vertex_ai`` is the case genai-prices gets wrong (it prices Google AI Studio);
#: ``acme-llm-7b`` at ``hosted_vllm`` is unknown to genai-prices.
WILDCARD_DEPLOYMENTS: tuple[Deployment, ...] = (
    Deployment(
        "vertex_ai/*",
        "gemini-2.0-flash-001",
        "vertex_ai",
        "vertex_ai/*",
        "5b2d8e61-3c4f-4a7b-9e10-7f3a2c6d9e07",
        "https://us-central1-aiplatform.googleapis.com",
        D("0.00000015"),
        D("0.0000006"),
        D("0.0000000375"),
        weight=3,
    ),
    Deployment(
        "hosted_vllm/*",
        "acme-llm-7b",
        "hosted_vllm",
        "hosted_vllm/*",
        "9e4f1a27-6b8c-4d3e-8f21-4c7b0e5a1f08",
        "http://vllm.internal:8000/v1",
        D("0.0000001"),
        D("0.0000002"),
        weight=1,
    ),
)
del D


@dataclass(frozen=True)
class UserSpec:
    user_id: str
    user_email: str | None
    user_role: str = "internal_user"
    user_alias: str | None = None


@dataclass(frozen=True)
class OrgSpec:
    organization_id: str
    organization_alias: str


@dataclass(frozen=True)
class TeamSpec:
    """A team. ``team_alias`` is the current alias; ``old_alias`` (if any) is what requests on the first day saw."""

    team_id: str
    team_alias: str
    organization_id: str | None = None
    members: tuple[tuple[str, str], ...] = ()  # (user_id, role)
    old_alias: str | None = None


@dataclass(frozen=True)
class KeySpec:
    """A virtual key. ``key_alias`` is current (``LiteLLM_VerificationToken``); ``old_alias`` is the alias at request
    time on the first day (the key was renamed since); a ``deleted`` key is used on the first day only and then
    deleted (absent from /key/list, ``key_exists: false`` in daily activity ≥1.104)."""

    raw_key: str
    key_alias: str
    team_id: str  # "" = no team
    user_id: str
    weight: int
    old_alias: str | None = None
    deleted: bool = False
    env: str = "prod"

    @property
    def token(self) -> str:
        return hash_key(self.raw_key)

    @property
    def key_name(self) -> str:
        return f"sk-...{self.raw_key[-4:]}"


#: Users; the aliases are hostile on purpose (commas, quotes, a newline, non-ASCII), as a CSV must carry them.
USERS: tuple[UserSpec, ...] = (
    UserSpec("user-alice", "alice@example.com", user_alias='Alice "Al" Martin, PhD'),
    UserSpec("user-bob", "bob@example.com", user_alias="Bob\nBuilder"),
    UserSpec("user-carol", "carol@example.com", user_alias="Carol Müller-Łukasiewicz 🚀"),
    UserSpec("user-dave", None, user_alias="dave; 'the admin'"),
    UserSpec("user-erin", "erin@example.com"),  # SSO user without a virtual key: the unattributed ("") traffic
    UserSpec(PROXY_ADMIN_USER_ID, None, "proxy_admin"),
    UserSpec(HEALTH_CHECK_KEY, None, "internal_user"),
)
_USER_EMAIL = {u.user_id: u.user_email for u in USERS}
_USER_BY_ID = {u.user_id: u for u in USERS}

#: Organizations (``org-acme`` owns two teams; its alias is hostile too).
ORGS: tuple[OrgSpec, ...] = (OrgSpec("org-acme", 'Acme, "Global"\nÜber-Org'), OrgSpec("org-empty", "Empty Org"))

TEAMS: tuple[TeamSpec, ...] = (
    TeamSpec(
        "8f14e45f-ceea-467f-a0e6-91d4c2b1a001",
        "Search & Discovery",
        "org-acme",
        (("user-alice", "admin"), ("user-dave", "user")),
        old_alias="Search",
    ),
    TeamSpec("c9f0f895-fb98-4b91-9f6d-5e2a7b3c4002", "Chat Platform", "org-acme", (("user-bob", "admin"),)),
    TeamSpec(
        "45c48cce-2e2d-4fbd-8c3a-6b7e9d1f0003",
        "Data Engineering",
        None,
        (("user-carol", "admin"), ("user-dave", "user")),
    ),
)
_TEAM_BY_ID = {t.team_id: t for t in TEAMS}
_TEAM_MEMBERS = {t.team_id: frozenset(t.members) for t in TEAMS}
_T_SEARCH, _T_CHAT, _T_DATA = (t.team_id for t in TEAMS)

KEYS: tuple[KeySpec, ...] = (
    KeySpec("sk-prod-search-9f2c41d7", "prod-search", _T_SEARCH, "user-alice", 24),
    KeySpec("sk-prod-chat-7d1e08b3", "prod-chat", _T_CHAT, "user-bob", 24, old_alias="chat-v1"),
    KeySpec("sk-staging-3b8a6c2f", "staging", _T_CHAT, "user-bob", 8, env="staging"),
    KeySpec("sk-batch-jobs-55e0a9d4", "batch-jobs", _T_DATA, "user-carol", 12),
    KeySpec("sk-alice-laptop-0c4d7e1a", "alice-laptop", "", "user-alice", 6, env="dev"),
    KeySpec("sk-ci-bot-a71f3e95", "ci-bot", _T_DATA, "user-dave", 6, env="ci"),
    KeySpec("sk-old-exporter-1e2b4f60", "old-exporter", _T_DATA, "user-carol", 5, deleted=True),
)
_KEY_BY_TOKEN = {k.token: k for k in KEYS}

_USER_AGENTS = (
    ("OpenAI/Python", "1.82.0"),
    ("OpenAI/Python", "1.99.3"),
    ("Anthropic/Python", "0.52.0"),
    ("litellm", "1.74.0"),
    ("curl", "8.5.0"),
)
_FEATURES = ("chat", "search", "summarize", "classify", "agent")


# --------------------------------------------------------------------------------------------------------------
# Dataset generator and ground truth
# --------------------------------------------------------------------------------------------------------------


def _exact() -> contextlib.AbstractContextManager[decimal.Context]:
    """A Decimal context wide enough that no sum of spends rounds (the default keeps 28 digits; a day of spends
    such as 1e-10 and 0.1234567890123456789 next to dollars needs more)."""
    return decimal.localcontext(prec=200)


class Truth:
    """Exact (Decimal) ground truth over a list of spend-log rows.

    Health-check rows (:func:`is_health_check_row`) are excluded by default, like the client does; master-key and
    unattributed rows are included.  Pass ``include_health_checks=True`` to count them too.  Days are the UTC
    calendar day of ``startTime``; every mapping is sorted by key.
    """

    def __init__(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self.all_rows: list[Mapping[str, Any]] = list(rows)
        self.rows: list[Mapping[str, Any]] = [r for r in self.all_rows if not is_health_check_row(r)]
        #: The health-check rows (api_key ``litellm-internal-health-check`` or its sha256).
        self.health_check_rows: list[Mapping[str, Any]] = [r for r in self.all_rows if is_health_check_row(r)]

    def _rows(self, include_health_checks: bool) -> list[Mapping[str, Any]]:
        return self.all_rows if include_health_checks else self.rows

    def _group(self, key: Callable[[Mapping[str, Any]], Any], include_health_checks: bool) -> dict[Any, Decimal]:
        out: dict[Any, Decimal] = {}
        with _exact():
            for row in self._rows(include_health_checks):
                k = key(row)
                out[k] = out.get(k, Decimal(0)) + row["spend"]
        return dict(sorted(out.items()))

    def total(self, *, include_health_checks: bool = False) -> Decimal:
        with _exact():
            return sum((r["spend"] for r in self._rows(include_health_checks)), Decimal(0))

    def by_day(self, *, include_health_checks: bool = False) -> dict[date, Decimal]:
        return self._group(lambda r: _utc_day(r["startTime"]), include_health_checks)

    def by_day_model(self, *, include_health_checks: bool = False) -> dict[tuple[date, str], Decimal]:
        return self._group(lambda r: (_utc_day(r["startTime"]), r["model"]), include_health_checks)

    def by_day_model_group(self, *, include_health_checks: bool = False) -> dict[tuple[date, str], Decimal]:
        return self._group(lambda r: (_utc_day(r["startTime"]), r["model_group"]), include_health_checks)

    def by_day_provider(self, *, include_health_checks: bool = False) -> dict[tuple[date, str], Decimal]:
        return self._group(lambda r: (_utc_day(r["startTime"]), r["custom_llm_provider"]), include_health_checks)

    def by_day_key(
        self, *, include_health_checks: bool = False, master_key_as: str | None = None
    ) -> dict[tuple[date, str], Decimal]:
        """Keyed by (day, api_key) as stored. ``master_key_as`` renames ``litellm_proxy_master_key`` (e.g. to
        ``hash_key(master_key)``, what proxies before 1.86 store)."""

        def key(r: Mapping[str, Any]) -> tuple[date, str]:
            api_key = r["api_key"]
            if master_key_as is not None and api_key == MASTER_KEY_LITERAL:
                api_key = master_key_as
            return _utc_day(r["startTime"]), api_key

        return self._group(key, include_health_checks)

    def requests_by_day(self, *, include_health_checks: bool = False) -> dict[date, int]:
        out: dict[date, int] = {}
        for row in self._rows(include_health_checks):
            day = _utc_day(row["startTime"])
            out[day] = out.get(day, 0) + 1
        return dict(sorted(out.items()))

    def request_ids(self, *, include_health_checks: bool = False) -> set[str]:
        return {r["request_id"] for r in self._rows(include_health_checks)}

    def health_check_total(self) -> Decimal:
        with _exact():
            return sum((r["spend"] for r in self.health_check_rows), Decimal(0))

    def rows_between(
        self, start: datetime, end: datetime, *, include_health_checks: bool = False, end_inclusive: bool = False
    ) -> list[Mapping[str, Any]]:
        """Rows with ``start <= startTime < end`` (``<= end`` with ``end_inclusive``); naive datetimes are UTC."""
        lo, hi = _aware(start), _aware(end)
        return [
            r
            for r in self._rows(include_health_checks)
            if lo <= r["startTime"] and (r["startTime"] <= hi if end_inclusive else r["startTime"] < hi)
        ]


class SpendDataset(list):
    """The generator's output: a ``list`` of spend-log row dicts (sorted by ``startTime``) plus its ground truth.

    Row values: ``spend`` is an exact ``Decimal`` (served as a JSON number with exactly that text),
    ``startTime`` / ``endTime`` / ``completionStartTime`` / ``created_at`` / ``updated_at`` are aware UTC datetimes
    with millisecond precision, ``metadata`` a dict, ``request_tags`` a list, ``cache_hit`` a string.
    """

    seed: int
    start_day: date
    days: int
    #: "field:shape" -> rows given that shape by ``variety=True`` (empty otherwise).
    shapes: dict[str, int] = {}

    @property
    def truth(self) -> Truth:
        cached = self.__dict__.get("_truth")
        if cached is None or cached[0] != len(self):
            cached = (len(self), Truth(self))
            self.__dict__["_truth"] = cached
        return cached[1]

    @property
    def day_list(self) -> list[date]:
        return [self.start_day + timedelta(days=i) for i in range(self.days)]

    @property
    def health_check_rows(self) -> list[dict[str, Any]]:
        return [r for r in self if is_health_check_row(r)]


def _utc_day(moment: datetime) -> date:
    tz = moment.tzinfo
    return moment.date() if tz is UTC or tz is None else moment.astimezone(UTC).date()


def _aware(moment: datetime) -> datetime:
    tz = moment.tzinfo
    if tz is UTC:
        return moment
    return moment.replace(tzinfo=UTC) if tz is None else moment.astimezone(UTC)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many small containers (it would rescan them all, again and again)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def generate_dataset(
    seed: int = 0,
    *,
    days: int = 3,
    requests: int = 3000,
    start_day: date = date(2025, 6, 1),
    burst_size: int = 300,
    crowded_second: int = 400,
    tie_groups: int = 20,
    midnight_rows: int = 3,
    last_second_rows: int = 2,
    master_key_share: float = 0.08,
    health_check_share: float = 0.02,
    unattributed_share: float = 0.01,
    failure_share: float = 0.02,
    cache_hit_share: float = 0.03,
    cost_breakdown_share: float = 0.6,
    variety: bool = False,
    key_pool: int = 0,
    key_pool_share: float = 0.9,
    wildcard_share: float = 0.0,
) -> SpendDataset:
    """Deterministic spend-log rows over ``days`` UTC days starting at ``start_day`` (``requests`` rows in all).

    Ties, on purpose: ``midnight_rows`` rows exactly at ``D 00:00:00.000`` of every day (and ``last_second_rows``
    inside ``D 23:59:59``, after its whole second, which ``end_date=D 23:59:59`` misses); one burst of
    ``burst_size`` rows sharing one millisecond (``12:00:00.250`` of the second day, or the only day); one crowded
    second of ``crowded_second`` rows over 40 distinct milliseconds (``15:30:07`` of the first day); ``tie_groups``
    small groups (2–8 rows) per day; the rest uniformly random milliseconds (a few whole seconds).  Sizes shrink to
    fit a small ``requests``.

    Traffic: the :data:`KEYS` (key alias / team at request time in ``metadata``; ``prod-chat`` was called
    ``chat-v1`` on the first day; ``old-exporter`` is only used on the first day), a ``master_key_share`` of
    master-key rows (``api_key`` ``litellm_proxy_master_key``, user ``default_user_id``), a ``health_check_share``
    of internal health checks (``litellm-internal-health-check``, a fifth of them stored as its sha256), an
    ``unattributed_share`` with ``api_key ""``, failures (spend 0, some with ``model ""``), response-cache hits
    (spend 0, ``cache_hit "True"``).  Cache read/creation tokens sit in ``metadata.additional_usage_values``;
    ``metadata.cost_breakdown`` (on ``cost_breakdown_share`` of the priced rows) sums exactly to ``spend``.

    ``variety=True`` then reshapes the rows into every field shape litellm-api.md documents (see
    :func:`_apply_variety` for the list; each shape occurs at least once when there are enough rows, and
    ``dataset.shapes`` counts them): ``metadata`` null / ``{}`` / sparse / all-null attribution / odd aliases,
    ``request_tags`` null / ``[]`` / plain / colon values / duplicate keys / odd characters, every kind of
    ``cost_breakdown`` (absent, null, exact, partial, zero components for used token types, tool-only, free tier,
    not adding up, strings, reasoning, additional costs), every ``additional_usage_values`` variant, odd numbers
    (``1e-10`` as JSON, 19 significant digits, integers, float reprs, huge token counts), null ``status`` /
    ``cache_hit``, ``unknown-model`` failures, and ties straddling page boundaries (positions 100, 200, 1000 and
    2000 of a day, from either end) plus tie groups of exactly 100 and 200 rows.  Rows whose breakdown shape
    matters carry a ``shape:bd-<name>`` request tag.  ``spend`` stays the exact truth.

    ``key_pool=N`` adds N synthetic virtual keys (``sk-pool-NNNNN``, each with its own user, unknown to the key
    catalogue), used by ``key_pool_share`` of the keyed traffic in turn per deployment, so a day has thousands of
    daily-activity DB rows (user x key x model x provider) and one model alone can need several pages.

    ``wildcard_share`` of the non-health traffic goes to the :data:`WILDCARD_DEPLOYMENTS` (models that /model/info
    does not list by name); at 0 (the default) the rows are exactly those of a dataset without it.
    """
    params = dict(locals())
    with _gc_paused():
        return _generate_rows(**params)


def _generate_rows(
    seed: int,
    days: int,
    requests: int,
    start_day: date,
    burst_size: int,
    crowded_second: int,
    tie_groups: int,
    midnight_rows: int,
    last_second_rows: int,
    master_key_share: float,
    health_check_share: float,
    unattributed_share: float,
    failure_share: float,
    cache_hit_share: float,
    cost_breakdown_share: float,
    variety: bool = False,
    key_pool: int = 0,
    key_pool_share: float = 0.9,
    wildcard_share: float = 0.0,
) -> SpendDataset:
    if days < 1 or requests < 0:
        raise ValueError("days must be >= 1 and requests >= 0")
    rng = random.Random(seed)
    base = datetime(start_day.year, start_day.month, start_day.day, tzinfo=UTC)

    # ---- timestamps (ms offsets from base), with the tie structure ----
    quotas = [requests // days + (1 if d < requests % days else 0) for d in range(days)]
    burst_day, crowded_day = min(1, days - 1), 0
    offsets: list[int] = []
    for d, quota in enumerate(quotas):
        day0 = d * _DAY_MS
        slots = [day0] * min(midnight_rows, quota)
        for _ in range(min(last_second_rows, quota - len(slots))):
            slots.append(day0 + _DAY_MS - 1000 + rng.randint(1, 999))  # inside 23:59:59, after its .000
        if d == burst_day:
            slots += [day0 + 12 * 3_600_000 + 250] * min(burst_size, max(0, quota - len(slots)) // 2)
        if d == crowded_day:
            count = min(crowded_second, max(0, quota - len(slots)) // 2)
            second = day0 + (15 * 3600 + 30 * 60 + 7) * 1000
            millis = rng.sample(range(1000), 40)
            slots += [second + rng.choice(millis) for _ in range(count)]
        for _ in range(tie_groups):
            size = rng.randint(2, 8)
            if quota - len(slots) < size * 4:
                break
            slots += [day0 + rng.randrange(1, _DAY_MS)] * size
        for _ in range(quota - len(slots)):
            t = day0 + rng.randrange(1, _DAY_MS)
            if rng.random() < 0.02:
                t -= t % 1000  # a whole second: served without a fraction
            slots.append(t or day0 + 1000)
        offsets += slots
    offsets.sort()

    # ---- weighted choices ----
    deployments = DEPLOYMENTS
    dep_cum = _cumulative([dep.weight for dep in deployments])
    chat_deps = [dep for dep in deployments if dep.mode == "chat"]
    keys_all = list(KEYS)
    keys_later = [k for k in KEYS if not k.deleted]
    cum_all = _cumulative([k.weight for k in keys_all])
    cum_later = _cumulative([k.weight for k in keys_later])
    t_master = health_check_share + master_key_share
    t_unattr = t_master + unattributed_share
    zero = Decimal(0)

    rnd = rng.random

    def randint(a: int, b: int) -> int:  # rng.randint's range, without its per-call overhead
        return a + int(rnd() * (b - a + 1))

    tokens = {k.raw_key: k.token for k in KEYS}
    pool = [
        KeySpec(f"sk-pool-{i:05d}", f"pool-{i:05d}", ("", *(t.team_id for t in TEAMS))[i % 4], f"user-pool-{i:05d}", 1)
        for i in range(key_pool)
    ]
    tokens.update((k.raw_key, k.token) for k in pool)
    pool_turn = [i * max(1, key_pool // len(deployments)) for i in range(len(deployments))]
    rows = SpendDataset()
    rows.seed, rows.start_day, rows.days = seed, start_day, days
    for off in offsets:
        day_index = off // _DAY_MS
        start = base + timedelta(milliseconds=off)
        u = rnd()
        key: KeySpec | None = None
        if u < health_check_share:
            kind = "health"
        elif u < t_master:
            kind = "master"
        elif u < t_unattr:
            kind = "unattributed"
        else:
            kind = "key"
            if key_pool and rnd() < key_pool_share:
                kind = "pool"
            elif day_index == 0:
                key = keys_all[bisect.bisect_right(cum_all, rnd() * cum_all[-1])]
            else:
                key = keys_later[bisect.bisect_right(cum_later, rnd() * cum_later[-1])]

        if kind == "health":
            dep = chat_deps[int(rnd() * len(chat_deps))]
        else:
            dep_index = bisect.bisect_right(dep_cum, rnd() * dep_cum[-1])
            dep = deployments[dep_index]
            if kind == "pool":  # the pool's keys in turn, per deployment: many distinct key x model rows a day
                key, kind = pool[pool_turn[dep_index] % key_pool], "key"
                pool_turn[dep_index] += 1
            if wildcard_share and rnd() < wildcard_share:  # no draw at all without wildcard traffic
                dep = WILDCARD_DEPLOYMENTS[0 if rnd() < 0.75 else 1]

        # identity at request time
        if kind == "key":
            assert key is not None
            api_key, user, team_id = tokens[key.raw_key], key.user_id, key.team_id
            alias = key.old_alias if (key.old_alias and day_index == 0) else key.key_alias
            team = _TEAM_BY_ID.get(team_id)
            team_alias = (team.old_alias if team.old_alias and day_index == 0 else team.team_alias) if team else None
            org_id = team.organization_id if team else None
            env = key.env
        elif kind == "master":
            api_key, user, team_id, alias, team_alias, org_id, env = (
                MASTER_KEY_LITERAL,
                PROXY_ADMIN_USER_ID,
                "",
                None,
                None,
                None,
                "prod",
            )
        elif kind == "unattributed":
            api_key, user, team_id, alias, team_alias, org_id, env = ("", "user-erin", "", None, None, None, "prod")
        else:
            api_key = HEALTH_CHECK_KEY_HASH if rnd() < 0.2 else HEALTH_CHECK_KEY
            user, team_id, alias, team_alias, org_id, env = (
                HEALTH_CHECK_KEY,
                HEALTH_CHECK_KEY,
                HEALTH_CHECK_KEY,
                None,
                None,
                "internal",
            )

        # usage
        r = rnd()
        failed = kind != "health" and r < failure_share
        cache_hit = not failed and kind != "health" and r < failure_share + cache_hit_share
        embedding = dep.mode == "embedding"
        if kind == "health":
            prompt, completion = randint(5, 12), 1
        elif embedding:
            prompt, completion = randint(8, 2000), 0
        else:
            prompt, completion = randint(40, 6000), randint(1, 1500)
        cache_read = cache_creation = 0
        if not embedding and kind != "health":
            if rnd() < 0.35:
                cache_read = randint(1, prompt // 2) if prompt >= 2 else 0
            if dep.provider in ("anthropic", "bedrock") and rnd() < 0.2:
                cache_creation = randint(0, (prompt - cache_read) // 2)
        model, model_id, provider, api_base = dep.model, dep.model_id, dep.provider, dep.api_base
        status = "success"
        error_information = None
        if failed:
            status = "failure"
            prompt = completion = cache_read = cache_creation = 0
            error_information = {
                "error_code": "429",
                "error_class": "RateLimitError",
                "llm_provider": provider,
                "error_message": "litellm.RateLimitError: rate limit reached",
                "traceback": "",
            }
            if rnd() < 0.3:  # rejected before routing: no resolved model
                model, model_id, provider, api_base = "", "", "", ""
                error_information["llm_provider"] = ""

        components: dict[str, Decimal] | None = None
        if failed or cache_hit:
            spend = zero
        else:
            input_cost = ((prompt - cache_read - cache_creation) * dep.input_cost).normalize()
            output_cost = (completion * dep.output_cost).normalize()
            cache_read_cost = (cache_read * dep.cache_read_cost).normalize()
            cache_creation_cost = (cache_creation * dep.cache_creation_cost).normalize()
            spend = (input_cost + output_cost + cache_read_cost + cache_creation_cost).normalize()
            if rnd() < cost_breakdown_share:
                components = {
                    "input_cost": input_cost,
                    "output_cost": output_cost,
                    "cache_read_cost": cache_read_cost,
                    "cache_creation_cost": cache_creation_cost,
                    "reasoning_cost": zero,
                    "tool_usage_cost": zero,
                    "total_cost": spend,
                    "discount_percent": zero,
                    "discount_amount": zero,
                    "margin_percent": zero,
                    "margin_total_amount": zero,
                    "additional_costs": {},
                }

        total_tokens = prompt + completion
        duration = randint(50, 600) if embedding else randint(180, 25_000)
        end = start + timedelta(milliseconds=duration)
        streamed = not embedding and rnd() < 0.5
        completion_start = start + timedelta(milliseconds=randint(80, max(81, duration // 3))) if streamed else end
        written = end + timedelta(milliseconds=randint(500, 8000))
        call_id = _uuid(rng)
        request_id = call_id if embedding else f"chatcmpl-{_uuid(rng)}"
        if cache_hit:
            request_id += f"_cache_hit{int(start.timestamp())}"

        ua_name, ua_version = _USER_AGENTS[int(rnd() * len(_USER_AGENTS))]
        tags: list[str] = []
        if kind == "health":
            tags.append(HEALTH_CHECK_KEY)
        else:
            if rnd() < 0.9:
                tags += [f"User-Agent: {ua_name}", f"User-Agent: {ua_name} {ua_version}"]
            tags.append(f"env:{env}")
            if rnd() < 0.7:
                tags.append(f"feature:{_FEATURES[int(rnd() * len(_FEATURES))]}")
            if rnd() < 0.1:
                tags.append("batch")
        ip = f"10.0.{int(rnd() * 4)}.{randint(2, 249)}"
        end_user = f"customer-{randint(1, 11):02d}" if kind == "key" and rnd() < 0.15 else ""
        session_id = f"sess-{rng.getrandbits(48):012x}" if rnd() < 0.3 else None

        usage_object: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": total_tokens,
        }
        additional: dict[str, Any] = {}
        if not embedding and not failed:
            additional = {
                "prompt_tokens_details": {"cached_tokens": cache_read, "audio_tokens": None},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": None},
                "cache_read_input_tokens": cache_read,
                "cache_creation_input_tokens": cache_creation,
            }
            usage_object.update(additional)
        metadata: dict[str, Any] = {
            "user_api_key": api_key,
            "user_api_key_alias": alias,
            "user_api_key_team_id": team_id or None,
            "user_api_key_team_alias": team_alias,
            "user_api_key_org_id": org_id,
            "user_api_key_user_id": user or None,
            "user_api_key_user_email": _USER_EMAIL.get(user),
            "user_api_key_end_user_id": end_user or None,
            "spend_logs_metadata": {"project": "apollo"} if rnd() < 0.05 else None,
            "requester_ip_address": ip,
            "user_agent": f"{ua_name} {ua_version}",
            "litellm_call_id": call_id,
            "status": status,
            "error_information": error_information,
            "additional_usage_values": additional,
            "usage_object": usage_object,
            "model_map_information": {"model_map_key": dep.model, "model_map_value": None},
        }
        if components is not None:
            metadata["cost_breakdown"] = components

        rows.append(
            {
                "request_id": request_id,
                "call_type": dep.call_type,
                "api_key": api_key,
                "spend": spend,
                "total_tokens": total_tokens,
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "startTime": start,
                "endTime": end,
                "completionStartTime": completion_start,
                "request_duration_ms": duration,
                "model": model,
                "model_id": model_id,
                # A wildcard route's model group is the name the client asked for (`vertex_ai/gemini-…`).
                "model_group": f"{dep.provider}/{dep.model}" if "*" in dep.model_group else dep.model_group,
                "custom_llm_provider": provider,
                "api_base": api_base,
                "user": user,
                "metadata": metadata,
                "cache_hit": "None" if kind == "health" else ("True" if cache_hit else "False"),
                "cache_key": f"{rng.getrandbits(256):064x}" if cache_hit else "Cache OFF",
                "request_tags": tags,
                "team_id": team_id,
                "organization_id": org_id or "",
                "end_user": end_user,
                "requester_ip_address": ip,
                "messages": {},
                "response": {},
                "proxy_server_request": {},
                "session_id": session_id,
                "status": status,
                "mcp_namespaced_tool_name": None,
                "agent_id": None,
                "billing_agent_id": None,
                "litellm_call_id": call_id,
                "created_at": written,
                "updated_at": written,
            }
        )
    if variety:
        _apply_variety(rows, random.Random(seed ^ _VARIETY_SALT))
    return rows


class JsonNumber(Decimal):
    """A Decimal that the fake serialises with a given JSON spelling (``1e-10``, ``6e-06``, ``0.0``), as the real
    proxy does with float reprs; it is still the exact Decimal of that text for every sum."""

    __slots__ = ("text",)

    def __new__(cls, text: str) -> "JsonNumber":
        number = super().__new__(cls, text)
        number.text = text
        return number


def _float_repr(value: Decimal) -> Decimal:
    """``value`` as the real proxy stores and serves it: the repr of the nearest float (exponent included)."""
    text = repr(float(value))
    return JsonNumber(text) if "e" in text else Decimal(text)


_VARIETY_SALT = 0xC0_57_7A9E
_DEP_BY_ID = {dep.model_id: dep for dep in DEPLOYMENTS + WILDCARD_DEPLOYMENTS}
_ATTRIBUTION_KEYS = (
    "user_api_key",
    "user_api_key_alias",
    "user_api_key_team_id",
    "user_api_key_team_alias",
    "user_api_key_org_id",
    "user_api_key_user_id",
    "user_api_key_user_email",
    "user_api_key_end_user_id",
    "spend_logs_metadata",
    "requester_ip_address",
    "user_agent",
)
_ODD_KEY_ALIAS = 'prod, "search" ✨\nkey; ü'
_ODD_TEAM_ALIAS = 'Équipe «Recherche», "R&D"\n🚀'
_BD_COLUMNS = (
    "input_cost",
    "output_cost",
    "cache_read_cost",
    "cache_creation_cost",
    "reasoning_cost",
    "tool_usage_cost",
)


def _shift(row: dict[str, Any], start: datetime) -> None:
    """Move a row to a new startTime, its other timestamps with it."""
    delta = start - row["startTime"]
    for column in _DATETIME_COLUMNS:
        if row.get(column) is not None:
            row[column] = row[column] + delta


def _usage(row: dict[str, Any]) -> tuple[int, int]:
    """(cache read, cache creation) tokens as the generator wrote them (before any usage shape)."""
    usage = (row.get("metadata") or {}).get("additional_usage_values") or {}
    return usage.get("cache_read_input_tokens") or 0, usage.get("cache_creation_input_tokens") or 0


def _exact_parts(row: dict[str, Any], dep: Deployment) -> dict[str, Decimal]:
    cache_read, cache_creation = _usage(row)
    prompt, completion = row["prompt_tokens"], row["completion_tokens"]
    return {
        "input_cost": ((prompt - cache_read - cache_creation) * dep.input_cost).normalize(),
        "output_cost": (completion * dep.output_cost).normalize(),
        "cache_read_cost": (cache_read * dep.cache_read_cost).normalize(),
        "cache_creation_cost": (cache_creation * dep.cache_creation_cost).normalize(),
    }


def _breakdown(parts: dict[str, Any], total: Decimal, **extra: Any) -> dict[str, Any]:
    zero = Decimal(0)
    out: dict[str, Any] = {name: parts.get(name, zero) for name in _BD_COLUMNS}
    out.update(
        total_cost=total,
        discount_percent=zero,
        discount_amount=zero,
        margin_percent=zero,
        margin_total_amount=zero,
        additional_costs={},
    )
    out.update(extra)
    return out


def _set_usage(row: dict[str, Any], cache_read: int, cache_creation: int = 0, reasoning: int = 0) -> None:
    meta = row["metadata"]
    meta["additional_usage_values"] = {
        "prompt_tokens_details": {"cached_tokens": cache_read, "audio_tokens": None},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": None},
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_creation,
    }


def _bd_shape(name: str, row: dict[str, Any], dep: Deployment, rng: random.Random) -> bool:
    """Give a priced row the cost_breakdown shape ``name`` (spend changes only where the shape's story needs it;
    ``spend`` stays the truth). False if the row cannot take the shape."""
    meta = row["metadata"]
    spend: Decimal = row["spend"]
    parts = _exact_parts(row, dep)
    zero = Decimal(0)
    chat = dep.mode == "chat"
    if name == "absent":
        meta.pop("cost_breakdown", None)
    elif name == "null":
        meta["cost_breakdown"] = None
    elif name == "exact":
        meta["cost_breakdown"] = _breakdown(parts, spend)
    elif name == "minimal":  # only the non-zero components, as in the doc's sample row
        meta["cost_breakdown"] = {**{k: v for k, v in parts.items() if v}, "total_cost": spend}
    elif name == "partial":  # output_cost and cache_read_cost missing although output (and cache) tokens exist
        if not (chat and row["completion_tokens"]):
            return False
        meta["cost_breakdown"] = {
            "input_cost": parts["input_cost"],
            "cache_creation_cost": parts["cache_creation_cost"],
            "total_cost": spend,
        }
    elif name == "output-zero":  # free output (a promotion): output tokens, output_cost 0, sums to spend
        if not (chat and row["completion_tokens"]):
            return False
        parts["output_cost"] = zero
        row["spend"] = sum(parts.values(), zero).normalize()
        meta["cost_breakdown"] = _breakdown(parts, row["spend"])
    elif name == "audio":  # a transcription: input seconds billed, a transcript without output cost
        seconds, words = rng.randint(30, 900), rng.randint(20, 2000)
        row.update(
            call_type="atranscription",
            model="whisper-1",
            model_group="whisper-1",
            model_id="",
            custom_llm_provider="openai",
            api_base="https://api.openai.com/v1",
            prompt_tokens=seconds,
            completion_tokens=words,
            total_tokens=seconds + words,
            spend=(seconds * Decimal("0.0001")).normalize(),
        )
        meta["additional_usage_values"] = {}
        meta["cost_breakdown"] = _breakdown({"input_cost": row["spend"], "output_cost": zero}, row["spend"])
    elif name == "cached-prompt":  # the whole prompt read from the provider's cache: input_cost 0
        if not chat:
            return False
        prompt = row["prompt_tokens"]
        _set_usage(row, prompt)
        parts = {
            "input_cost": zero,
            "output_cost": (row["completion_tokens"] * dep.output_cost).normalize(),
            "cache_read_cost": (prompt * dep.cache_read_cost).normalize(),
            "cache_creation_cost": zero,
        }
        row["spend"] = sum(parts.values(), zero).normalize()
        meta["cost_breakdown"] = _breakdown(parts, row["spend"])
    elif name == "input-free":  # uncached input tokens, input_cost 0 (the other components add up)
        parts["input_cost"] = zero
        rest = sum(parts.values(), zero).normalize()
        if not rest:
            return False
        row["spend"] = rest
        meta["cost_breakdown"] = _breakdown(parts, rest)
    elif name == "tool-only":  # a web-search call: only tool_usage_cost, tokens free
        meta["cost_breakdown"] = _breakdown({}, spend, tool_usage_cost=spend)
    elif name == "free-zero":  # free tier: nothing billed
        row["spend"] = Decimal(0)
        meta["cost_breakdown"] = _breakdown({}, Decimal(0))
    elif name == "free-paid":  # an all-zero breakdown, yet spend > 0
        meta["cost_breakdown"] = _breakdown({}, zero)
    elif name == "less":  # components add up to less than spend
        meta["cost_breakdown"] = _breakdown({k: v / 2 for k, v in parts.items()}, spend)
    elif name == "more":  # components add up to more than spend
        meta["cost_breakdown"] = _breakdown({k: v * 2 for k, v in parts.items()}, spend)
    elif name == "larger":  # one component larger than the whole cost (a discount applied after it)
        meta["cost_breakdown"] = _breakdown(
            {**parts, "input_cost": spend * 3}, spend, discount_percent=Decimal("0.5"), discount_amount=spend * 2
        )
    elif name == "strings":  # every number as a string
        meta["cost_breakdown"] = {
            k: (format(v, "f") if isinstance(v, Decimal) else v) for k, v in _breakdown(parts, spend).items()
        }
    elif name == "reasoning":  # reasoning tokens billed as reasoning_cost next to output_cost
        completion = row["completion_tokens"]
        if not (chat and completion >= 2):
            return False
        reasoning = completion // 2
        cache_read, cache_creation = _usage(row)
        _set_usage(row, cache_read, cache_creation, reasoning)
        parts["output_cost"] = ((completion - reasoning) * dep.output_cost).normalize()
        parts["reasoning_cost"] = (reasoning * dep.output_cost).normalize()
        meta["cost_breakdown"] = _breakdown(parts, spend)
    elif name == "additional":  # a fee in additional_costs on top of the token costs
        fee = Decimal("0.0005")
        row["spend"] = spend + fee
        meta["cost_breakdown"] = _breakdown(parts, row["spend"], additional_costs={"web_search_cost": fee})
    elif name == "unused-type":  # a cache_creation_cost for a row without cache-creation tokens
        if _usage(row)[1]:
            return False
        extra = Decimal("0.00001")
        row["spend"] = spend + extra
        meta["cost_breakdown"] = _breakdown({**parts, "cache_creation_cost": extra}, row["spend"])
    elif name == "exponents":  # spend and components spelled like float reprs (1.5e-05)
        row["spend"] = JsonNumber("1.5e-05")
        parts = (
            {"input_cost": JsonNumber("1e-05"), "output_cost": JsonNumber("5e-06")}
            if row["completion_tokens"]
            else {"input_cost": JsonNumber("1.5e-05")}
        )
        meta["cost_breakdown"] = _breakdown(parts, row["spend"])
    else:
        raise ValueError(f"unknown breakdown shape {name!r}")
    return True


_BD_SHAPES = (
    "absent",
    "null",
    "exact",
    "minimal",
    "partial",
    "output-zero",
    "audio",
    "cached-prompt",
    "input-free",
    "tool-only",
    "free-zero",
    "free-paid",
    "less",
    "more",
    "larger",
    "strings",
    "reasoning",
    "additional",
    "unused-type",
    "exponents",
)
_USAGE_SHAPES = (
    "both",
    "absent",
    "empty",
    "null",
    "cached-tokens-only",
    "cache-read-only",
    "creation",
    "reasoning",
    "nulls-inside",
)
_NUMBER_SHAPES = (
    "as-is",
    "float-repr",
    "tiny",
    "many-digits",
    "int-zero",
    "float-zero",
    "int-three",
    "huge-tokens",
    "float-repr",
    "float-repr",
)  # the proxy stores float8: most real spends are float reprs
_METADATA_SHAPES = ("object", "null", "empty", "sparse", "nulls", "odd-aliases", "extra-keys")
_TAG_SHAPES = (
    "list",
    "null",
    "empty",
    "plain",
    "user-agent-only",
    "colon-values",
    "duplicate-keys",
    "odd-values",
    "reserved-keys",
    "empty-parts",
)
_LIST_TAG_SHAPES = tuple(t for t in _TAG_SHAPES if t not in ("null", "empty"))


def _cycle(
    rows: Sequence[dict[str, Any]], shapes: Sequence[str], rng: random.Random, share: float
) -> list[tuple[dict[str, Any], str]]:
    """Each shape for one row at first (in a random order of the rows), then a random shape for ``share`` of the
    rest; the other rows keep the first (default) shape."""
    order = list(rows)
    rng.shuffle(order)
    out = []
    for i, row in enumerate(order):
        if i < len(shapes):
            out.append((row, shapes[i]))
        elif rng.random() < share:
            out.append((row, shapes[rng.randrange(len(shapes))]))
    return out


def _apply_variety(rows: SpendDataset, rng: random.Random) -> None:
    """Reshape generated rows into every field shape of litellm-api.md §1b/§1c/§7 (see :func:`generate_dataset`).
    Shapes are assigned so that each occurs at least once; ``rows.shapes`` counts them ("field:shape")."""
    shapes: dict[str, int] = {}

    def count(field_name: str, shape: str) -> None:
        key = f"{field_name}:{shape}"
        shapes[key] = shapes.get(key, 0) + 1

    # ---- time: tie groups of exactly a page, the last second of each day, then ties straddling page boundaries
    by_day: dict[date, list[dict[str, Any]]] = {}
    for row in rows:
        by_day.setdefault(_utc_day(row["startTime"]), []).append(row)
    for day, day_rows in by_day.items():
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        movable = [
            r
            for r in day_rows
            if timedelta(hours=1) < r["startTime"] - midnight < timedelta(hours=23)
            and r["startTime"].replace(microsecond=0) != midnight + timedelta(hours=15, minutes=30, seconds=7)
            and r["startTime"] != midnight + timedelta(hours=12, milliseconds=250)
        ]
        rng.shuffle(movable)
        for size, at in ((100, timedelta(hours=6, milliseconds=500)), (200, timedelta(hours=9))):
            if len(movable) < size * 3:
                continue
            for r in movable[:size]:
                _shift(r, midnight + at)
            del movable[:size]
            count("time", f"tie-group-{size}")
        if len(movable) >= 2:  # the last second: at its whole second and at its last millisecond
            _shift(movable[0], midnight + timedelta(hours=23, minutes=59, seconds=59))
            _shift(movable[1], midnight + timedelta(hours=23, minutes=59, seconds=59, milliseconds=999))
            count("time", "last-second-whole")
            count("time", "last-second-999")
        # Positions among the rows v2 serves (health checks excluded), in ascending and descending order (1.80.x
        # sorts DESC): the rows around each page boundary share one startTime, so the tie spans two pages.
        served = sorted((r for r in day_rows if not is_health_check_row(r)), key=lambda r: r["startTime"])
        n = len(served)
        for page in (100, 200, 1000, 2000):
            for position in (page, n - page):
                lo, hi = position - 6, position + 6
                if lo < 4 or hi > n - 4:  # keep clear of the midnight and last-second rows
                    continue
                moment = served[position]["startTime"]
                for r in served[lo:hi]:
                    _shift(r, moment)
                count("time", f"straddle-{page}")
    rows.sort(key=lambda r: r["startTime"])

    health = [r for r in rows if is_health_check_row(r)]
    normal = [r for r in rows if not is_health_check_row(r)]
    failed = [r for r in normal if r["status"] == "failure"]
    succeeded = [r for r in normal if r["status"] != "failure"]

    # ---- kinds of traffic the base generator lacks
    for r in rng.sample(failed, min(len(failed), max(1, len(failed) // 3))):
        r["model"] = "unknown-model"  # rejected before routing, on versions that write the placeholder
        count("kind", "failure-unknown-model")
    for i, r in enumerate(rng.sample(succeeded, min(len(succeeded), 12))):
        if i < 4:
            r["cache_hit"] = None
            count("kind", "cache-hit-null")
        elif i < 8:
            r["cache_hit"] = "None"
            count("kind", "cache-hit-None")
        else:  # an old row: no status column value, nor in metadata
            r["status"] = None
            r["metadata"]["status"] = None
            count("kind", "status-null")
    for r in rng.sample(normal, min(len(normal), 6)):
        r["completionStartTime"] = None
        count("kind", "completion-start-null")
    if health:
        count("kind", "health-check")

    # ---- cost_breakdown (priced rows), labelled with a shape:bd-<name> request tag; these rows keep the tokens
    # and usage their breakdown was computed from
    labelled: set[int] = set()
    priced = [r for r in succeeded if r["spend"] > 0 and r["model_id"] in _DEP_BY_ID and r["cache_hit"] == "False"]
    pending = list(_BD_SHAPES)
    rng.shuffle(priced)
    for r in priced:
        if pending:
            name = pending[0]
        elif rng.random() < 0.35:
            name = _BD_SHAPES[rng.randrange(len(_BD_SHAPES))]
        else:
            continue
        if _bd_shape(name, r, _DEP_BY_ID[r["model_id"]], rng):
            if pending and pending[0] == name:
                pending.pop(0)
            r["request_tags"] = [*r["request_tags"], f"shape:bd-{name}"]
            labelled.add(id(r))
            count("breakdown", name)

    # ---- additional_usage_values (unlabelled chat rows that succeeded)
    chat = [
        r
        for r in succeeded
        if id(r) not in labelled and r["call_type"] == "acompletion" and r["metadata"].get("additional_usage_values")
    ]
    for r, shape in _cycle(chat, _USAGE_SHAPES, rng, 0.4):
        meta = r["metadata"]
        cache_read, cache_creation = _usage(r)
        cache_read = cache_read or min(r["prompt_tokens"] // 3, 500)
        if shape == "absent":
            meta.pop("additional_usage_values", None)
        elif shape == "empty":
            meta["additional_usage_values"] = {}
        elif shape == "null":
            meta["additional_usage_values"] = None
        elif shape == "cached-tokens-only":
            meta["additional_usage_values"] = {"prompt_tokens_details": {"cached_tokens": cache_read}}
        elif shape == "cache-read-only":
            meta["additional_usage_values"] = {"cache_read_input_tokens": cache_read}
        elif shape == "creation":
            creation = cache_creation or min(r["prompt_tokens"] // 4, 300)
            _set_usage(r, min(cache_read, r["prompt_tokens"] - creation), creation)
        elif shape == "reasoning":
            _set_usage(r, cache_read, cache_creation, r["completion_tokens"] // 3)
        elif shape == "nulls-inside":
            meta["additional_usage_values"] = {
                "prompt_tokens_details": None,
                "completion_tokens_details": {"reasoning_tokens": None},
                "cache_read_input_tokens": None,
                "cache_creation_input_tokens": None,
            }
        count("usage", shape)

    # ---- numbers (unlabelled priced rows: their breakdown, if any, then no longer adds up, which is a shape too)
    for r, shape in _cycle([r for r in normal if id(r) not in labelled and r["spend"] > 0], _NUMBER_SHAPES, rng, 0.5):
        if shape == "float-repr":
            r["spend"] = _float_repr(r["spend"])
        elif shape == "tiny":
            r["spend"] = JsonNumber("1e-10")
        elif shape == "many-digits":
            r["spend"] = Decimal("0.1234567890123456789")
        elif shape == "int-zero":
            r["spend"] = Decimal(0)
        elif shape == "float-zero":
            r["spend"] = JsonNumber("0.0")
        elif shape == "int-three":
            r["spend"] = Decimal(3)
        elif shape == "huge-tokens":
            r["prompt_tokens"], r["completion_tokens"] = 2_000_000_000, 147_483_000
            r["total_tokens"] = r["prompt_tokens"] + r["completion_tokens"]
        count("number", shape)

    # ---- metadata (null / {} only where no breakdown shape is being tested)
    for r, shape in _cycle(normal, _METADATA_SHAPES, rng, 0.3):
        meta = r["metadata"]
        if shape in ("null", "empty"):
            if id(r) in labelled:
                continue
            r["metadata"] = None if shape == "null" else {}
        elif shape == "sparse":  # trimmed by spend_logs_metadata_fields: no attribution keys at all
            r["metadata"] = {k: v for k, v in meta.items() if k not in _ATTRIBUTION_KEYS}
        elif shape == "nulls":
            meta.update(dict.fromkeys(_ATTRIBUTION_KEYS))
        elif shape == "odd-aliases":
            meta["user_api_key_alias"] = _ODD_KEY_ALIAS
            meta["user_api_key_team_alias"] = _ODD_TEAM_ALIAS
        elif shape == "extra-keys":
            meta.update(
                applied_guardrails=["pii-mask"],
                mcp_tool_call_metadata=None,
                cold_storage_object_key=None,
                litellm_overhead_time_ms=Decimal("3.25"),
                routing_decision={"strategy": "simple-shuffle", "weights": [Decimal("0.5"), 1, None]},
                spend_logs_metadata={"nested": {"deep": [1, "two"]}},
            )
        count("metadata", shape)

    # ---- request_tags (labelled rows keep a list, with their label)
    for r, shape in _cycle(normal, _TAG_SHAPES, rng, 0.4):
        label = [t for t in r["request_tags"] if t.startswith("shape:bd-")]
        if label and shape not in _LIST_TAG_SHAPES:
            continue
        if shape == "null":
            r["request_tags"] = None
        elif shape == "empty":
            r["request_tags"] = []
        elif shape == "plain":
            r["request_tags"] = ["batch", "prod", "nightly-run", *label]
        elif shape == "user-agent-only":
            r["request_tags"] = ["User-Agent: OpenAI/Python", "User-Agent: OpenAI/Python 1.99.3", *label]
        elif shape == "colon-values":
            r["request_tags"] = ["url:https://api.example.com:8443/v1", "trace:a:b:c", "env:prod", *label]
        elif shape == "duplicate-keys":
            r["request_tags"] = ["env:prod", "env:staging", "feature:chat", "feature:search", *label]
        elif shape == "odd-values":
            r["request_tags"] = [
                "team:Søk & Oppdag ✨",
                'note:a,b "quoted"\nnext line',
                "emoji:🚀🔥",
                "env:prod",
                *label,
            ]
        elif shape == "reserved-keys":  # keys the export owns: dropped, never overriding its own
            r["request_tags"] = ["model:evil", "team_id:evil", "x-cost-allocation:evil", "provider:evil", *label]
        elif shape == "empty-parts":
            r["request_tags"] = ["env:", ":orphan", " spaced : value ", *label]
        count("tags", shape)
    rows.shapes = dict(sorted(shapes.items()))


def _cumulative(weights: Sequence[int]) -> list[int]:
    out, total = [], 0
    for w in weights:
        total += w
        out.append(total)
    return out


# --------------------------------------------------------------------------------------------------------------
# Version flavours
# --------------------------------------------------------------------------------------------------------------


def _parse_version(text: str) -> tuple[int, int, int]:
    numbers = [int(n) for n in re.findall(r"\d+", text)[:3]]
    numbers += [0] * (3 - len(numbers))
    return numbers[0], numbers[1], numbers[2]


_BASE_METRICS = (
    "spend",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "total_tokens",
    "successful_requests",
    "failed_requests",
    "api_requests",
)
_FLOAT_METRICS = frozenset(
    {
        "spend",
        "flat_cost",
        "ptu_hours",
        "compression_savings_spend",
        "prompt_caching_savings_spend",
        "gateway_injected_caching_savings_spend",
        "autorouter_savings_spend",
    }
)


@dataclass(frozen=True)
class Flavor:
    """What a LiteLLM version does, derived from §7's thresholds (any version string works).

    Undocumented gaps are filled by the nearest documented bound: "1.109" features start at 1.105 (the first
    version after the diffed 1.104.9), "≤1.90" behaviours end at 1.95 (where the fix is documented), "1.83–1.86"
    behaviours end at 1.90, and "≤1.83 / ≥1.86" switches at 1.86.
    """

    version: str
    v: tuple[int, int, int]

    def at_least(self, *bound: int) -> bool:
        return self.v >= bound

    # /spend/logs/v2
    @property
    def has_v2(self) -> bool:
        return self.at_least(1, 80, 8)

    @property
    def v2_raw_sql(self) -> bool:  # column subset, sort_by/sort_order, model_id/model_group filters
        return self.at_least(1, 83)

    @property
    def v2_page_size_max(self) -> int:
        return 1000 if self.at_least(1, 95) else 100

    @property
    def v2_total_capped(self) -> bool:
        return self.at_least(1, 95)

    @property
    def v2_metadata_string(self) -> bool:
        return self.at_least(1, 83) and not self.at_least(1, 90)

    # /spend/logs
    @property
    def legacy_summarize_param(self) -> bool:
        return self.at_least(1, 73)

    @property
    def legacy_exclusive_filters(self) -> bool:
        return not self.at_least(1, 81)

    @property
    def legacy_cap(self) -> bool:
        return self.at_least(1, 100)

    @property
    def request_id_matches_call_id(self) -> bool:
        return self.at_least(1, 104)

    # daily activity
    @property
    def daily_user_id_param(self) -> bool:
        return self.at_least(1, 83)

    @property
    def daily_timezone_bug(self) -> bool:
        return self.at_least(1, 83) and not self.at_least(1, 90)

    @property
    def daily_stable_order(self) -> bool:
        return self.at_least(1, 95)

    @property
    def daily_strict_dates(self) -> bool:
        return self.at_least(1, 105)

    @property
    def has_daily_aggregated(self) -> bool:
        return self.at_least(1, 77)

    @property
    def has_customer_daily(self) -> bool:
        return self.at_least(1, 80)

    @property
    def unattributed_key(self) -> bool:
        return self.at_least(1, 105)

    @property
    def unknown_model(self) -> bool:
        return self.at_least(1, 105)

    @property
    def key_metadata_extended(self) -> bool:  # user_id, user_email, key_exists
        return self.at_least(1, 104)

    @property
    def deleted_key_recovery(self) -> bool:
        return self.at_least(1, 83)

    @property
    def entity_metadata(self) -> bool:
        return self.at_least(1, 104)

    @property
    def breakdown_endpoints(self) -> bool:
        return self.at_least(1, 80)

    @property
    def breakdown_guardrails(self) -> bool:
        return self.at_least(1, 105)

    @property
    def metadata_api_key_limit(self) -> bool:
        return self.at_least(1, 105)

    @property
    def metrics(self) -> tuple[str, ...]:
        names = list(_BASE_METRICS)
        if self.at_least(1, 95):
            names += ["compression_saved_tokens", "compression_savings_spend", "prompt_caching_savings_spend"]
        if self.at_least(1, 100):
            names += ["flat_cost", "gateway_injected_caching_savings_spend", "autorouter_savings_spend"]
        if self.at_least(1, 104):
            names += ["total_response_time_ms", "timed_requests"]
        if self.at_least(1, 105):
            names += ["ptu_hours"]
        return tuple(names)

    # misc
    @property
    def readiness_minimal(self) -> bool:
        return self.at_least(1, 86)

    @property
    def master_key_literal(self) -> bool:
        return self.at_least(1, 86)

    @property
    def param_none_string(self) -> bool:  # "param": "None" (≤1.104) vs null (1.109)
        return not self.at_least(1, 105)

    @property
    def key_list_status(self) -> bool:
        return self.at_least(1, 83)

    @property
    def team_list_counts(self) -> bool:
        return self.at_least(1, 105)

    def spend_log_columns(self) -> tuple[str, ...]:
        """Columns of a full spend-log row (legacy rows; v2 rows before 1.83)."""
        cols = [
            "request_id",
            "call_type",
            "api_key",
            "spend",
            "total_tokens",
            "prompt_tokens",
            "completion_tokens",
            "startTime",
            "endTime",
            "completionStartTime",
            "model",
            "model_id",
            "model_group",
            "custom_llm_provider",
            "api_base",
            "user",
            "metadata",
            "cache_hit",
            "cache_key",
            "request_tags",
            "team_id",
            "end_user",
            "requester_ip_address",
            "messages",
            "response",
            "proxy_server_request",
            "session_id",
            "status",
            "mcp_namespaced_tool_name",
        ]
        if self.at_least(1, 80):
            cols += ["organization_id", "agent_id"]
        if self.at_least(1, 83):
            cols.append("request_duration_ms")
        if self.at_least(1, 100):
            cols += ["created_at", "updated_at"]
        if self.at_least(1, 104):
            cols += ["litellm_call_id", "billing_agent_id"]
        return tuple(cols)

    def v2_columns(self) -> tuple[str, ...]:
        """``_SPEND_LOG_LIST_COLUMNS`` of the raw-SQL v2 (≥1.83); the full row before."""
        if not self.v2_raw_sql:
            return self.spend_log_columns()
        cols = [
            "request_id",
            "call_type",
            "api_key",
            "spend",
            "total_tokens",
            "prompt_tokens",
            "completion_tokens",
            "startTime",
            "endTime",
            "completionStartTime",
            "model",
            "model_id",
            "model_group",
            "custom_llm_provider",
            "api_base",
            "user",
            "metadata",
            "cache_hit",
            "cache_key",
            "request_tags",
            "team_id",
            "organization_id",
            "end_user",
            "requester_ip_address",
            "session_id",
            "status",
            "mcp_namespaced_tool_name",
            "agent_id",
        ]
        if self.at_least(1, 104):
            cols.append("litellm_call_id")
        cols.append("request_duration_ms")
        return tuple(cols)


# --------------------------------------------------------------------------------------------------------------
# Serialisation helpers
# --------------------------------------------------------------------------------------------------------------

_DEC_MARK = "\x00dec:"
_DEC_QUOTED = '"\\u0000dec:'


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _DEC_MARK + (value.text if isinstance(value, JsonNumber) else format(value, "f"))
    if isinstance(value, datetime):
        return format_v1_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _dumps(payload: Any, *, compact: bool = True) -> str:
    """JSON like FastAPI's JSONResponse (compact, UTF-8); a Decimal becomes a number with exactly its text."""
    separators = (",", ":") if compact else (", ", ": ")
    text = json.dumps(payload, default=_json_default, ensure_ascii=False, allow_nan=False, separators=separators)
    if _DEC_QUOTED not in text:
        return text
    head, *rest = text.split(_DEC_QUOTED)  # '"\u0000dec:0.0123"' -> '0.0123'
    return head + "".join(part.replace('"', "", 1) for part in rest)


def format_v2_datetime(moment: datetime) -> str:
    """v2 raw-SQL spelling: ``2025-06-01T00:01:29.928+00:00``, no fraction on a whole second."""
    if moment.tzinfo is not UTC:
        moment = _aware(moment)
    return moment.isoformat(timespec="milliseconds") if moment.microsecond else moment.isoformat()


def format_v1_datetime(moment: datetime) -> str:
    """Legacy (find_many) spelling: ``2025-06-01T00:01:29.928000Z``, or ``…T00:00:00Z`` on a whole second."""
    if moment.tzinfo is not UTC:
        moment = _aware(moment)
    return moment.isoformat()[:-6] + "Z"


_DATETIME_COLUMNS = frozenset({"startTime", "endTime", "completionStartTime", "created_at", "updated_at"})


_ONE_MS = timedelta(milliseconds=1)


def _ms(moment: datetime) -> int:
    return (_aware(moment) - _EPOCH) // _ONE_MS


# --------------------------------------------------------------------------------------------------------------
# Records kept for tests
# --------------------------------------------------------------------------------------------------------------


@dataclass
class RequestRecord:
    """One request as the fake saw it. ``status`` is None when the connection was dropped without a response."""

    method: str
    path: str
    query: str
    params: dict[str, str]
    status: int | None = None
    role: str | None = None
    injected: str | None = None  # "random", "fail", "garble:<kind>", "drop", "delay"
    dropped: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    at: float = 0.0


@dataclass
class DailyRow:
    """One ``LiteLLM_DailyUserSpend`` (or ``…DailyEndUserSpend``) row, as the fake stores it (spend a float)."""

    id: str
    entity_id: str | None
    date: str
    api_key: str
    model: str | None
    model_group: str | None
    custom_llm_provider: str | None
    mcp_namespaced_tool_name: str | None
    endpoint: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    spend: float = 0.0
    api_requests: int = 0
    successful_requests: int = 0
    failed_requests: int = 0
    total_response_time_ms: int = 0
    timed_requests: int = 0

    @property
    def user_id(self) -> str | None:
        return self.entity_id


@dataclass
class _Fault:
    path_contains: str | None
    kind: str  # "status", "non_json", "truncated", "short_body", "schema", "drop", "reset", "delay"
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    remaining: int = 1
    delay: float = 0.0

    def matches(self, path: str) -> bool:
        return self.remaining > 0 and (self.path_contains is None or self.path_contains in path)


@dataclass
class _Caller:
    key: str | None
    role: str
    user_id: str | None

    @property
    def is_admin(self) -> bool:
        return self.role in ("proxy_admin", "proxy_admin_viewer")


@dataclass
class _Resp:
    status: int
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"


class _Entry:
    """A served spend-log row with its sort key (ms since epoch of startTime)."""

    __slots__ = ("ms", "row")

    def __init__(self, ms: int, row: dict[str, Any]) -> None:
        self.ms = ms
        self.row = row


# --------------------------------------------------------------------------------------------------------------
# HTTP plumbing (same structure as tests/fakes/vantage.py)
# --------------------------------------------------------------------------------------------------------------


class _Dropped(Exception):
    """Raised inside the handler to abandon a request without writing a response."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: "FakeLiteLLM") -> None:
        self.fake = fake
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        super().__init__((fake.host, 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), name="FakeLiteLLM-conn", daemon=True
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
        error = sys.exc_info()[1]
        if isinstance(error, (OSError, _Dropped)):
            return
        self.fake._internal_errors.append(repr(error))
        super().handle_error(request, client_address)

    def server_close(self) -> None:
        super().server_close()
        with self._connections_lock:
            connections = list(self._connections.items())
        for connection, _ in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for _, thread in connections:
            thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "uvicorn"
    sys_version = ""
    timeout = 30
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _dispatch(self) -> None:
        try:
            self.server.fake._handle(self)
        except _Dropped:
            self.close_connection = True
        except ConnectionError:  # the client hung up (a read timeout while a delayed answer was written): not a bug
            self.close_connection = True
        except Exception as exc:  # a bug in the fake: record it and answer 500 so the test sees it
            self.server.fake._internal_errors.append(repr(exc))
            try:
                self.write_response(500, b'{"detail":"FakeLiteLLM internal error"}', "application/json", {})
            except OSError:
                pass

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def write_response(
        self, status: int, body: bytes, content_type: str, headers: Mapping[str, str], *, length: int | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for name, value in headers.items():
            self.send_header(name, value)
        buffer = getattr(self, "_headers_buffer", [])
        self.wfile.write(b"".join(buffer) + b"\r\n" + (body if self.command != "HEAD" else b""))
        buffer.clear()
        if length is not None and length != len(body):
            self.wfile.flush()
            self.drop(reset=False)

    def drop(self, reset: bool) -> None:
        self.close_connection = True
        try:
            if reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise _Dropped


# --------------------------------------------------------------------------------------------------------------
# Query-parameter validation (FastAPI / pydantic v2 422 shapes)
# --------------------------------------------------------------------------------------------------------------

_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


class _Params:
    def __init__(self, params: dict[str, str]) -> None:
        self.raw = params
        self.errors: list[dict[str, Any]] = []

    def get(self, name: str) -> str | None:
        return self.raw.get(name)

    def int(self, name: str, default: int | None, *, ge: int | None = None, le: int | None = None) -> int | None:
        text = self.raw.get(name)
        if text is None:
            return default
        try:
            value = int(text.strip())
        except ValueError:
            self.errors.append(
                {
                    "type": "int_parsing",
                    "loc": ["query", name],
                    "msg": "Input should be a valid integer, unable to parse string as an integer",
                    "input": text,
                }
            )
            return default
        if ge is not None and value < ge:
            self.errors.append(
                {
                    "type": "greater_than_equal",
                    "loc": ["query", name],
                    "msg": f"Input should be greater than or equal to {ge}",
                    "input": text,
                    "ctx": {"ge": ge},
                }
            )
        elif le is not None and value > le:
            self.errors.append(
                {
                    "type": "less_than_equal",
                    "loc": ["query", name],
                    "msg": f"Input should be less than or equal to {le}",
                    "input": text,
                    "ctx": {"le": le},
                }
            )
        return value

    def bool(self, name: str, default: bool | None) -> bool | None:
        text = self.raw.get(name)
        if text is None:
            return default
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        self.errors.append(
            {
                "type": "bool_parsing",
                "loc": ["query", name],
                "msg": "Input should be a valid boolean, unable to interpret input",
                "input": text,
            }
        )
        return default

    def float(self, name: str) -> float | None:
        text = self.raw.get(name)
        if text is None:
            return None
        try:
            value = float(text)
            if math.isnan(value) or math.isinf(value):
                raise ValueError
            return value
        except ValueError:
            self.errors.append(
                {
                    "type": "float_parsing",
                    "loc": ["query", name],
                    "msg": "Input should be a valid number, unable to parse string as a number",
                    "input": text,
                }
            )
            return None


# --------------------------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------------------------

_V2_SORT_COLUMNS = ("startTime", "endTime", "spend", "total_tokens", "request_duration_ms", "model", "ttft_ms")
_DAILY_ORDER_SALT = 0x5EED


class FakeLiteLLM(LoopbackFake):
    """Loopback fake of the LiteLLM proxy admin API. Use as a context manager or call start()/stop().

    :param dataset: spend-log rows (a :class:`SpendDataset` from :func:`generate_dataset`, or any list of row
        dicts of that shape; the fake keeps its own copies).
    :param version: the LiteLLM version to imitate; behaviour follows :class:`Flavor`.
    :param master_key: the proxy admin key (``None``: no master key configured, every request passes as an
        internal user without a user id, so narrowing has no effect but admin-only routes refuse).
    :param extra_keys: raw key → role (``proxy_admin``, ``proxy_admin_viewer``, ``internal_user``,
        ``internal_user_viewer``) or a dict ``{"role": ..., "user_id": ...}``; an internal key without a user id
        gets ``internal_user_id``.
    :param internal_user_id: user id of internal keys given only a role (``user-alice``, who owns two keys).
    :param db: False imitates a proxy without a database (§0, §6).
    :param fault_rate: share of data-endpoint requests answered with a random 429 (``Retry-After: 0``), 500 or 503
        (an HTML body, like a load balancer), deterministic from ``seed`` for a sequential client.
    :param seed: seeds the random faults and the per-request order of tied rows.
    :param daily_activity_skew: added (as a float) to one daily row of ``skew_day`` (default: the first day), so
        /user/daily/activity disagrees with the spend logs by that amount on that day.
    :param v2_request_tags_as_string: v2 ``request_tags`` as a JSON string (the doc's §1b/§7); False sends a list
        (what §0b saw on 1.100.5); ``"mixed"`` sends a string on about half the rows and a list on the others.
    :param unknown_key_type: ``"alternate"`` (auth_error and token_not_found_in_db by turns, §0b), or one of them.
    :param refuse_paths: paths answered 403 to every key (as LiteLLM refuses a route to a role), e.g.
        ``{"/user/list"}``.
    :param missing_paths: paths answered 404 ``{"detail":"Not Found"}`` (an older proxy without them).
    """

    def __init__(
        self,
        dataset: Iterable[Mapping[str, Any]] = (),
        *,
        version: str = "1.109.1",
        master_key: str | None = "sk-master-1234",
        extra_keys: Mapping[str, str | Mapping[str, Any]] | None = None,
        internal_user_id: str = "user-alice",
        db: bool = True,
        fault_rate: float = 0.0,
        fault_statuses: Sequence[int] = (429, 500, 503),
        seed: int = 0,
        daily_activity_skew: Decimal | None = None,
        skew_day: date | None = None,
        v2_request_tags_as_string: bool | str = True,
        unknown_key_type: str = "alternate",
        refuse_paths: Iterable[str] = (),
        missing_paths: Iterable[str] = (),
        host: str = "127.0.0.1",
    ) -> None:
        if unknown_key_type not in ("alternate", "auth_error", "token_not_found_in_db"):
            raise ValueError("unknown_key_type must be 'alternate', 'auth_error' or 'token_not_found_in_db'")
        self.version = version
        self.flavor = Flavor(version, _parse_version(version))
        self.master_key = master_key
        if extra_keys is None:
            extra_keys = {"sk-viewer": "proxy_admin_viewer", "sk-internal": "internal_user"}
        self.keys: dict[str, _Caller] = {}
        for raw, spec in extra_keys.items():
            if isinstance(spec, str):
                role, user_id = spec, None
            else:
                role, user_id = str(spec["role"]), spec.get("user_id")
            if user_id is None and role.startswith("internal_user"):
                user_id = internal_user_id
            self.keys[raw] = _Caller(raw, role, user_id)
        self.db = db
        self.fault_rate = fault_rate
        self.fault_statuses = tuple(fault_statuses)
        self.seed = seed
        self.daily_activity_skew = daily_activity_skew
        self.v2_request_tags_as_string = v2_request_tags_as_string
        self.unknown_key_type = unknown_key_type
        self.refuse_paths = frozenset(refuse_paths)
        self.missing_paths = frozenset(missing_paths)
        self.host = host
        v1_columns, v2_columns = self.flavor.spend_log_columns(), self.flavor.v2_columns()
        self._v1_plan = (v1_columns, tuple(c for c in v1_columns if c in _DATETIME_COLUMNS))
        self._v2_plan = (v2_columns, tuple(c for c in v2_columns if c in _DATETIME_COLUMNS))
        self._route_table = self._routes()

        self._lock = threading.RLock()
        self._fault_rng = random.Random(seed)
        self._order_rng = random.Random(seed ^ _DAILY_ORDER_SALT)
        self._unknown_key_turn = 0
        self._faults: list[_Fault] = []
        self._requests: list[RequestRecord] = []
        self._internal_errors: list[str] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

        # Served rows: copies, with master-key traffic stored as the hash of the master key before 1.86.
        master_hash = hash_key(master_key) if master_key else hash_key("sk-1234")
        with _gc_paused():
            self._load(dataset, master_hash, skew_day)

    def _load(self, dataset: Iterable[Mapping[str, Any]], master_hash: str, skew_day: date | None) -> None:
        rows: list[dict[str, Any]] = []
        for source in dataset:
            row = dict(source)
            for column in _DATETIME_COLUMNS:
                if isinstance(row.get(column), str):
                    row[column] = datetime.fromisoformat(row[column].replace("Z", "+00:00"))
            if not isinstance(row.get("spend"), Decimal):
                row["spend"] = Decimal(str(row.get("spend") or 0))
            if not self.flavor.master_key_literal and row.get("api_key") == MASTER_KEY_LITERAL:
                row["api_key"] = master_hash
                meta = row.get("metadata")
                if isinstance(meta, dict):
                    row["metadata"] = {**meta, "user_api_key": master_hash}
            rows.append(row)
        entries = [_Entry(_ms(r["startTime"]), r) for r in rows]
        entries.sort(key=lambda e: e.ms)  # stable: equal startTimes keep the dataset order
        self._entries = entries
        self._keys_ms = [e.ms for e in entries]
        self.master_key_api_key = MASTER_KEY_LITERAL if self.flavor.master_key_literal else master_hash
        #: Ground truth over the rows as served (master-key rows under :attr:`master_key_api_key`).
        self.truth = Truth(rows)
        days = sorted({_utc_day(r["startTime"]) for r in rows})
        self.skew_day = skew_day or (days[0] if days else None)
        self._daily_cache: dict[str, list[DailyRow]] = {}
        self._daily_index_cache: dict[str, dict[tuple[str, str | None, str | None], list[DailyRow]]] = {}
        self._daily_lock = threading.Lock()
        self._key_spend: dict[str, float] = {}
        for row in rows:
            self._key_spend[row["api_key"]] = self._key_spend.get(row["api_key"], 0.0) + float(row["spend"])

    # ---------------------------------------------------------------------------------------------- lifecycle

    def _make_server(self) -> "_Server":
        return _Server(self)

    def url(self, path: str) -> str:
        return self.base_url + path

    def auth_headers(self, key: str | None = None) -> dict[str, str]:
        """``Authorization: Bearer <key>`` (the master key by default)."""
        return {"Authorization": f"Bearer {key or self.master_key}"}

    # ---------------------------------------------------------------------------------------------- faults

    def fail_next(
        self,
        path_contains: str | None = None,
        status: int = 500,
        times: int = 1,
        body: Any = None,
        *,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests whose path contains ``path_contains`` with ``status``.

        ``body`` None → LiteLLM's ``{"error": {...}}`` envelope; a dict/list is sent as JSON, ``str``/``bytes`` as
        is (text/plain). A 429 gets ``Retry-After: 0`` unless ``retry_after`` says otherwise.
        """
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = f"{retry_after:g}"
        elif status == 429:
            extra.setdefault("Retry-After", "0")
        self._add(_Fault(path_contains, "status", status, body, extra, times))

    def garble_next(self, path_contains: str | None = None, kind: str = "non_json", times: int = 1) -> None:
        """Serve the next ``times`` matching requests with a broken body (status 200 unless the real answer failed).

        ``kind``: ``"non_json"`` (an HTML page), ``"truncated"`` (the real JSON cut in half, consistent
        Content-Length), ``"short_body"`` (Content-Length of the full body, half of it sent, connection closed),
        ``"schema"`` (valid JSON of an unexpected shape).
        """
        if kind not in ("non_json", "truncated", "short_body", "schema"):
            raise ValueError("kind must be non_json, truncated, short_body or schema")
        self._add(_Fault(path_contains, kind, 200, None, {}, times))

    def non_json_next(self, path_contains: str | None = None, times: int = 1) -> None:
        self.garble_next(path_contains, "non_json", times)

    def truncate_next(self, path_contains: str | None = None, times: int = 1) -> None:
        self.garble_next(path_contains, "truncated", times)

    def unexpected_schema_next(self, path_contains: str | None = None, times: int = 1) -> None:
        self.garble_next(path_contains, "schema", times)

    def drop_next(self, path_contains: str | None = None, times: int = 1, *, reset: bool = False) -> None:
        """Close the connection of the next ``times`` matching requests without a response (``reset``: RST)."""
        self._add(_Fault(path_contains, "reset" if reset else "drop", 0, None, {}, times))

    def delay_next(self, path_contains: str | None = None, seconds: float = 1.0, times: int = 1) -> None:
        """Hold the next ``times`` matching requests for ``seconds``, then answer normally."""
        self._add(_Fault(path_contains, "delay", 0, None, {}, times, seconds))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    # ---------------------------------------------------------------------------------------------- ground truth

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    def count(self, path_contains: str | None = None, *, status: int | None = None) -> int:
        """Requests seen whose path contains ``path_contains`` (all if None), optionally with that status."""
        with self._lock:
            return sum(
                1
                for r in self._requests
                if (path_contains is None or path_contains in r.path) and (status is None or r.status == status)
            )

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def internal_errors(self) -> list[str]:
        return list(self._internal_errors)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The served spend-log rows, sorted by startTime."""
        return [e.row for e in self._entries]

    def daily_rows(self, table: str = "user") -> list[DailyRow]:
        """The ``LiteLLM_DailyUserSpend`` rows (``table="end_user"``: ``…DailyEndUserSpend``), ordered
        ``date DESC, id ASC``; the skew (if any) is already applied."""
        return list(self._daily(table))

    # ---------------------------------------------------------------------------------------------- dispatch

    def _handle(self, handler: _Handler) -> None:
        method = handler.command.upper()
        path, _, query = handler.path.partition("?")
        handler.read_body()
        params = dict(parse_qsl(query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        record = RequestRecord(method, path, query, params, headers=headers, at=_time.time())
        with self._lock:
            fault = next((f for f in self._faults if f.matches(path)), None)
            if fault is not None:
                fault.remaining -= 1
            self._faults = [f for f in self._faults if f.remaining > 0]

        if fault is not None and fault.kind == "delay":
            record.injected = "delay"
            self._stopping.wait(fault.delay)
            fault = None
        if fault is not None and fault.kind in ("drop", "reset"):
            record.injected, record.dropped = "drop", True
            self._log(record)
            handler.drop(fault.kind == "reset")

        if fault is not None and fault.kind == "status":
            record.injected = "fail"
            resp = self._fault_response(fault.status, fault.body, fault.headers)
        else:
            resp = self._route(method, path, params, headers, record)
            if fault is not None:  # garble the real answer
                record.injected = f"garble:{fault.kind}"
                resp = self._garble(resp, fault.kind)

        record.status = resp.status
        self._log(record)
        if resp.raw is not None:
            body = resp.raw
        else:
            body = _dumps(resp.payload).encode("utf-8")
        if fault is not None and fault.kind == "short_body":
            handler.write_response(
                resp.status, body[: len(body) // 2], resp.content_type, resp.headers, length=len(body)
            )
            return
        handler.write_response(resp.status, body, resp.content_type, resp.headers)

    def _log(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    def _garble(self, resp: _Resp, kind: str) -> _Resp:
        if kind == "non_json":
            html = b"<html><head><title>Welcome</title></head><body><h1>It works!</h1></body></html>"
            return _Resp(resp.status, raw=html, headers=resp.headers, content_type="text/html; charset=utf-8")
        if kind == "schema":
            return _Resp(
                resp.status, {"object": "list", "items": {"unexpected": True}, "next": None}, headers=resp.headers
            )
        if kind == "truncated":
            body = resp.raw if resp.raw is not None else _dumps(resp.payload).encode("utf-8")
            cut = body[: max(1, len(body) // 2)]
            if cut == body:  # a one-byte body cannot be cut in half
                cut = b"{"
            return _Resp(resp.status, raw=cut, headers=resp.headers, content_type=resp.content_type)
        return resp  # short_body: handled at write time

    def _fault_response(self, status: int, body: Any, headers: dict[str, str]) -> _Resp:
        if body is None:
            kind = {429: "rate_limit_error", 401: "auth_error", 404: "not_found_error"}.get(
                status, "internal_error" if status >= 500 else "bad_request_error"
            )
            return self._error(f"Injected failure (FakeLiteLLM): HTTP {status}", kind, status, headers=dict(headers))
        if isinstance(body, bytes):
            return _Resp(status, raw=body, headers=dict(headers), content_type="text/plain; charset=utf-8")
        if isinstance(body, str):
            return _Resp(
                status, raw=body.encode("utf-8"), headers=dict(headers), content_type="text/plain; charset=utf-8"
            )
        return _Resp(status, body, headers=dict(headers))

    def _random_fault(self, record: RequestRecord) -> _Resp | None:
        if self.fault_rate <= 0:
            return None
        with self._lock:
            if self._fault_rng.random() >= self.fault_rate:
                return None
            status = self._fault_statuses_choice()
        record.injected = "random"
        if status == 429:
            return self._error(
                "Rate limit exceeded. Try again later.", "rate_limit_error", 429, headers={"Retry-After": "0"}
            )
        if status == 503:
            html = (
                b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
                b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n"
            )
            return _Resp(503, raw=html, content_type="text/html")
        return self._error("Internal Server Error", "internal_error", status)

    def _fault_statuses_choice(self) -> int:
        return self.fault_statuses[self._fault_rng.randrange(len(self.fault_statuses))]

    def _routes(self) -> dict[str, tuple[Callable[..., _Resp], bool, bool]]:
        """path → (handler, needs auth, is a data endpoint) for this version."""
        f = self.flavor
        routes: dict[str, tuple[Callable[..., _Resp], bool, bool]] = {
            "/health/liveliness": (self._liveliness, False, False),
            "/health/liveness": (self._liveliness, False, False),
            "/health/readiness": (self._readiness, False, False),
            "/spend/logs": (self._spend_logs, True, True),
            "/user/daily/activity": (self._user_daily, True, True),
            "/tag/daily/activity": (self._tag_daily, True, True),
            "/team/list": (self._team_list, True, True),
            "/v2/team/list": (self._team_list_v2, True, True),
            "/model/info": (self._model_info, True, True),
            "/v1/model/info": (self._model_info, True, True),
            "/key/list": (self._key_list, True, True),
            "/key/info": (self._key_info, True, True),
            "/user/list": (self._user_list, True, True),
            "/user/info": (self._user_info, True, True),
            "/organization/list": (self._organization_list, True, True),
        }
        if f.readiness_minimal:
            routes["/health/readiness/details"] = (self._readiness_details, True, False)
        if f.has_v2:
            routes["/spend/logs/v2"] = (self._spend_logs_v2, True, True)
            routes["/spend/logs/ui"] = (self._spend_logs_v2, True, True)
        if f.has_daily_aggregated:
            routes["/user/daily/activity/aggregated"] = (self._user_daily_aggregated, True, True)
        if f.has_customer_daily:
            routes["/customer/daily/activity"] = (self._customer_daily, True, True)
            routes["/end_user/daily/activity"] = (self._customer_daily, True, True)
        return routes

    def _route(
        self, method: str, path: str, params: dict[str, str], headers: dict[str, str], record: RequestRecord
    ) -> _Resp:
        route = self._route_table.get(path.rstrip("/") or "/")
        if route is None or path.rstrip("/") in self.missing_paths:
            return _Resp(404, {"detail": "Not Found"})
        if method not in ("GET", "HEAD"):
            return _Resp(405, {"detail": "Method Not Allowed"}, headers={"Allow": "GET"})
        func, needs_auth, is_data = route
        if is_data:
            injected = self._random_fault(record)
            if injected is not None:
                return injected
        caller: _Caller | None = None
        if needs_auth:
            authenticated = self._authenticate(headers)
            if isinstance(authenticated, _Resp):
                return authenticated
            caller = authenticated
            record.role = caller.role
        if path.rstrip("/") in self.refuse_paths:
            role = caller.role if caller else "internal_user"
            return self._error(
                f"user not allowed to access this route, role= {role}. Trying to access: {path}", "auth_error", 403
            )
        return func(_Params(params), caller)

    # ---------------------------------------------------------------------------------------------- errors & auth

    def _error(
        self, message: str, type_: str, status: int, *, param: Any = "default", headers: dict[str, str] | None = None
    ) -> _Resp:
        """LiteLLM's ProxyException envelope; ``param`` is "None" (≤1.104) or null (1.109) unless given."""
        if param == "default":
            param = "None" if self.flavor.param_none_string else None
        body = {"error": {"message": message, "type": type_, "param": param, "code": str(status)}}
        return _Resp(status, body, headers=headers or {})

    def _no_db(self) -> _Resp:
        return self._error("No connected db.", "no_db_connection", 400, param=None)

    @staticmethod
    def _detail(status: int, detail: Any) -> _Resp:
        return _Resp(status, {"detail": detail})

    def _authenticate(self, headers: dict[str, str]) -> "_Caller | _Resp":
        if self.master_key is None:
            return _Caller(None, "internal_user", None)
        custom = headers.get("x-litellm-api-key")
        authorization = headers.get("authorization")
        key: str | None
        if custom is not None and custom.strip():
            key = custom.strip()
            if key.startswith("Bearer "):
                key = key[len("Bearer ") :].strip()
        elif authorization is not None and authorization.strip():
            value = authorization.strip()
            if not value.startswith("Bearer "):
                return self._error(
                    "Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.",
                    "auth_error",
                    401,
                )
            key = value[len("Bearer ") :].strip()
        else:
            key = None
        if not key:
            return self._error("Authentication Error, No api key passed in.", "auth_error", 401)
        if key == self.master_key:
            return _Caller(key, "proxy_admin", PROXY_ADMIN_USER_ID)
        if not self.db:
            return self._no_db()
        caller = self.keys.get(key)
        if caller is not None:
            return caller
        token = hash_key(key)
        message = (
            f"Authentication Error, Invalid proxy server token passed. Received API Key = "
            f"{key[:5]}...{key[-4:]}, Key Hash (Token) ={token}. Unable to find token in cache or "
            f"`LiteLLM_VerificationTokenTable`"
        )
        with self._lock:
            turn = self._unknown_key_turn
            self._unknown_key_turn += 1
        kind = self.unknown_key_type
        if kind == "alternate":
            kind = "auth_error" if turn % 2 == 0 else "token_not_found_in_db"
        if kind == "token_not_found_in_db":
            return self._error(message, "token_not_found_in_db", 401, param="key")
        return self._error(message, "auth_error", 401)

    # ---------------------------------------------------------------------------------------------- health

    def _liveliness(self, params: _Params, caller: _Caller | None) -> _Resp:
        return _Resp(200, "I'm alive!")

    def _readiness_payload(self) -> dict[str, Any]:
        return {
            "status": "healthy",
            "db": "connected" if self.db else "Not connected",
            "cache": None,
            "litellm_version": self.version,
            "success_callbacks": [
                "_PROXY_VirtualKeyModelMaxBudgetLimiter",
                "_PROXY_MaxBudgetLimiter",
                "_PROXY_MaxParallelRequestsHandler",
                "_PROXY_CacheControlCheck",
                "ServiceLogging",
            ],
            "use_aiohttp_transport": True,
            "log_level": "WARNING",
            "is_detailed_debug": False,
            "last_updated": "2025-06-01T00:00:00",
        }

    def _readiness(self, params: _Params, caller: _Caller | None) -> _Resp:
        if self.flavor.readiness_minimal:
            return _Resp(200, {"status": "healthy", "db": "connected" if self.db else "Not connected"})
        return _Resp(200, self._readiness_payload())

    def _readiness_details(self, params: _Params, caller: _Caller | None) -> _Resp:
        return _Resp(200, self._readiness_payload())

    # ---------------------------------------------------------------------------------------------- spend logs v2

    def _spend_logs_v2(self, params: _Params, caller: _Caller | None) -> _Resp:
        assert caller is not None
        f = self.flavor
        page = params.int("page", 1, ge=1)
        page_size = params.int("page_size", 50, ge=1, le=f.v2_page_size_max)
        exclude_hc = params.bool("exclude_internal_health_checks", False)
        min_spend, max_spend = params.float("min_spend"), params.float("max_spend")
        if params.errors:
            return self._detail(422, params.errors)
        assert page is not None and page_size is not None
        if not self.db:
            return self._error("Prisma Client is not initialized", "internal_error", 401)
        start_text, end_text = params.get("start_date"), params.get("end_date")
        if start_text is None or end_text is None:
            return self._error("Start date and end date are required", "bad_request", 400)
        bounds = []
        for text in (start_text, end_text):
            moment = _parse_v2_date(text)
            if moment is None:
                return self._error(
                    f"Invalid date format: {text}. Expected: 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'",
                    "internal_server_error",
                    400,
                )
            bounds.append(moment)
        sort_by, descending = "startTime", True
        if f.v2_raw_sql:
            sort_by = params.get("sort_by") or "startTime"
            if sort_by not in _V2_SORT_COLUMNS:
                return self._error(
                    f"Invalid sort_by: {sort_by}. Must be one of {list(_V2_SORT_COLUMNS)}", "bad_request", 400
                )
            order = (params.get("sort_order") or "desc").lower()
            if order not in ("asc", "desc"):
                return self._error(f"Invalid sort_order: {order}. Must be 'asc' or 'desc'", "bad_request", 400)
            descending = order == "desc"

        user_id = params.get("user_id")
        if not caller.is_admin and caller.user_id is not None:
            if user_id is not None and user_id != caller.user_id:
                return self._error(
                    f"User={caller.user_id} is not allowed to view spend logs of user_id={user_id}", "auth_error", 403
                )
            user_id = caller.user_id
            team_id = params.get("team_id")
            if team_id is not None and (caller.user_id, "admin") not in _TEAM_MEMBERS.get(team_id, ()):
                return self._error(  # an HTTPException(403) converted to the error envelope (§1b)
                    f"User={caller.user_id} is not a team admin of team_id={team_id}", "auth_error", 403
                )

        predicates = self._v2_predicates(params, user_id, exclude_hc, min_spend, max_spend)
        lo = bisect.bisect_left(self._keys_ms, _ms(bounds[0]))
        hi = bisect.bisect_right(self._keys_ms, _ms(bounds[1]))
        window = self._entries[lo:hi]
        if predicates:
            window = [e for e in window if all(p(e.row) for p in predicates)]
        count = len(window)
        if sort_by == "startTime":
            items, keys = window, [e.ms for e in window]
        else:
            keyed = sorted(((self._sort_value(e, sort_by), e) for e in window), key=lambda pair: pair[0])
            items, keys = [e for _, e in keyed], [k for k, _ in keyed]
        page_entries = self._page_with_ties(items, keys, descending, (page - 1) * page_size, page_size)

        total = min(count, SPEND_LOGS_CAP) if f.v2_total_capped else count  # COUNT over a LIMIT 10000 subquery
        body: dict[str, Any] = {
            "data": [self._v2_row(e.row) for e in page_entries],
            "total": total,
            "page": page,
            "page_size": page_size,
            "total_pages": (total + page_size - 1) // page_size,
        }
        if f.v2_total_capped:
            body["total_is_capped"] = count > SPEND_LOGS_CAP
        return _Resp(200, body)

    def _v2_predicates(
        self,
        params: _Params,
        user_id: str | None,
        exclude_hc: bool | None,
        min_spend: float | None,
        max_spend: float | None,
    ) -> list[Callable[[dict[str, Any]], bool]]:
        f = self.flavor
        preds: list[Callable[[dict[str, Any]], bool]] = []

        def equals(column: str, value: str) -> Callable[[dict[str, Any]], bool]:
            return lambda row: row.get(column) == value

        if exclude_hc:
            preds.append(lambda row: row.get("api_key") not in _HEALTH_KEYS)
        if user_id is not None:
            preds.append(equals("user", user_id))
        for name, column in (
            ("api_key", "api_key"),
            ("team_id", "team_id"),
            ("model", "model"),
            ("end_user", "end_user"),
        ):
            value = params.get(name)
            if value is not None:
                preds.append(equals(column, value))
        if f.v2_raw_sql:
            for name in ("model_id", "model_group"):
                value = params.get(name)
                if value is not None:
                    preds.append(equals(name, value))
        request_id = params.get("request_id")
        if request_id is not None:
            if f.request_id_matches_call_id:
                preds.append(lambda row: request_id in (row.get("request_id"), row.get("litellm_call_id")))
            else:
                preds.append(equals("request_id", request_id))
        session_id = params.get("session_id")
        if session_id is not None:
            preds.append(lambda row: session_id in (row.get("session_id") or ""))
        key_alias = params.get("key_alias")
        if key_alias is not None:
            preds.append(lambda row: key_alias in (_metadata_of(row).get("user_api_key_alias") or ""))
        status_filter = params.get("status_filter")
        if status_filter == "success":
            preds.append(lambda row: row.get("status") in ("success", None))
        elif status_filter == "failure":
            preds.append(lambda row: row.get("status") == "failure")
        cache_filter = params.get("cache_hit_filter")
        if cache_filter == "hit":
            preds.append(lambda row: row.get("cache_hit") == "True")
        elif cache_filter == "miss":
            preds.append(lambda row: row.get("cache_hit") != "True")
        if min_spend is not None:
            preds.append(lambda row: row["spend"] >= Decimal(repr(min_spend)))
        if max_spend is not None:
            preds.append(lambda row: row["spend"] <= Decimal(repr(max_spend)))
        return preds

    @staticmethod
    def _sort_value(entry: _Entry, sort_by: str) -> Any:
        row = entry.row
        if sort_by == "endTime":
            return _ms(row["endTime"])
        if sort_by == "ttft_ms":
            return _ms(row.get("completionStartTime") or row["endTime"]) - entry.ms
        if sort_by == "request_duration_ms":
            value = row.get("request_duration_ms")
            return value if value is not None else _ms(row["endTime"]) - entry.ms
        if sort_by == "model":
            return row.get("model") or ""
        return row.get(sort_by) or 0

    def _page_with_ties(
        self, items: Sequence[_Entry], keys: Sequence[Any], descending: bool, offset: int, limit: int
    ) -> list[_Entry]:
        """``ORDER BY key [DESC] LIMIT limit OFFSET offset`` with no tiebreaker: the rows of every tie group that
        the page touches come in a fresh random order on each call (only those groups are shuffled)."""
        n = len(items)
        if offset >= n or limit <= 0:
            return []
        if descending:
            lo, hi = max(0, n - offset - limit), n - offset
        else:
            lo, hi = offset, min(n, offset + limit)
        glo = bisect.bisect_left(keys, keys[lo])
        ghi = bisect.bisect_right(keys, keys[hi - 1])
        with self._lock:
            rng = random.Random(self._order_rng.getrandbits(64))
        segment: list[_Entry] = []
        i = glo
        while i < ghi:
            j = bisect.bisect_right(keys, keys[i], i, ghi)
            group = list(items[i:j])
            if len(group) > 1:
                rng.shuffle(group)
            segment.extend(group)
            i = j
        if descending:
            # The reversed segment covers descending positions [n - ghi, n - glo); we want [offset, offset + count).
            segment.reverse()
            first = offset - (n - ghi)
            return segment[first : first + (hi - lo)]
        return segment[lo - glo : hi - glo]

    def _v2_row(self, row: dict[str, Any]) -> dict[str, Any]:
        columns, datetimes = self._v2_plan
        out = {column: row.get(column) for column in columns}
        fmt = format_v2_datetime if self.flavor.v2_raw_sql else format_v1_datetime
        for column in datetimes:
            value = out[column]
            out[column] = fmt(value) if value else None
        # The JSON columns default to {} / []; a row that holds SQL NULL there is served as null in every spelling.
        if "metadata" not in row:
            out["metadata"] = {}
        if self.flavor.v2_metadata_string and out["metadata"] is not None:  # 1.83-1.86: not re-parsed
            out["metadata"] = _dumps(out["metadata"], compact=False)
        if "request_tags" not in row:
            out["request_tags"] = []
        tags_as_string = self.v2_request_tags_as_string
        if tags_as_string == "mixed":  # some rows one way, some the other (deterministic per request id)
            tags_as_string = zlib.crc32(str(row.get("request_id")).encode()) % 2 == 0
        if tags_as_string and out["request_tags"] is not None:  # never re-parsed in v2
            out["request_tags"] = _dumps(out["request_tags"], compact=False)
        if "request_duration_ms" in out and out["request_duration_ms"] is None:
            out["request_duration_ms"] = _ms(row["endTime"]) - _ms(row["startTime"])
        return out

    def _v1_row(self, row: dict[str, Any]) -> dict[str, Any]:
        columns, datetimes = self._v1_plan
        out = {column: row.get(column) for column in columns}
        for column in datetimes:
            value = out[column]
            out[column] = format_v1_datetime(value) if value else None
        if "request_duration_ms" in out and out["request_duration_ms"] is None:
            out["request_duration_ms"] = _ms(row["endTime"]) - _ms(row["startTime"])
        return out

    # ---------------------------------------------------------------------------------------------- legacy

    def _spend_logs(self, params: _Params, caller: _Caller | None) -> _Resp:
        assert caller is not None
        f = self.flavor
        summarize = params.bool("summarize", True) if f.legacy_summarize_param else True
        if params.errors:
            return self._detail(422, params.errors)
        if not self.db:
            return self._no_db()
        api_key, user_id, request_id = params.get("api_key"), params.get("user_id"), params.get("request_id")
        if not caller.is_admin and caller.user_id is not None:
            user_id = caller.user_id  # overwritten silently (§1a)
        start_text, end_text = params.get("start_date"), params.get("end_date")

        if start_text is not None and end_text is not None:
            try:
                start = datetime.strptime(start_text, "%Y-%m-%d").replace(tzinfo=UTC)
                end = datetime.strptime(end_text, "%Y-%m-%d").replace(tzinfo=UTC)
            except ValueError as exc:
                return self._error(f"/spend/logs Error{exc}", "internal_error", 500)
            lo = bisect.bisect_left(self._keys_ms, _ms(start))
            hi = bisect.bisect_right(self._keys_ms, _ms(end))  # startTime <= end 00:00:00
            window = self._entries[lo:hi]
            if f.legacy_exclusive_filters:  # api_key beats request_id beats user_id; api_key not hashed
                if api_key is not None:
                    window = [e for e in window if e.row.get("api_key") == api_key]
                elif request_id is not None:
                    window = [e for e in window if e.row.get("request_id") == request_id]
                elif user_id is not None:
                    window = [e for e in window if e.row.get("user") == user_id]
            else:
                window = self._legacy_and_filter(window, api_key, request_id, user_id)
            if not summarize:
                return self._legacy_raw(window)
            return _Resp(200, self._legacy_summary(window, end.date()))

        # No date range: raw rows, newest first.
        window = self._entries
        if f.legacy_exclusive_filters:
            if api_key is not None:
                hashed = hash_key(api_key) if api_key.startswith("sk-") else api_key
                window = [e for e in window if e.row.get("api_key") == hashed]
            elif request_id is not None:
                found = next((e for e in window if e.row.get("request_id") == request_id), None)
                return _Resp(200, [self._v1_row(found.row) if found else None])
            elif user_id is not None:
                window = [e for e in window if e.row.get("user") == user_id]
        else:
            window = self._legacy_and_filter(window, api_key, request_id, user_id)
        return self._legacy_raw(window)

    def _legacy_and_filter(
        self, window: Sequence[_Entry], api_key: str | None, request_id: str | None, user_id: str | None
    ) -> list[_Entry]:
        hashed = (hash_key(api_key) if api_key.startswith("sk-") else api_key) if api_key is not None else None
        call_id = self.flavor.request_id_matches_call_id
        out = []
        for e in window:
            row = e.row
            if hashed is not None and row.get("api_key") != hashed:
                continue
            if (
                request_id is not None
                and request_id != row.get("request_id")
                and not (call_id and request_id == row.get("litellm_call_id"))
            ):
                continue
            if user_id is not None and row.get("user") != user_id:
                continue
            out.append(e)
        return out

    def _legacy_raw(self, window: Sequence[_Entry]) -> _Resp:
        headers: dict[str, str] = {}
        limit = len(window)
        if self.flavor.legacy_cap and len(window) > SPEND_LOGS_CAP:
            limit = SPEND_LOGS_CAP
            headers["x-litellm-spend-logs-truncated"] = "true"
        keys = [e.ms for e in window]
        page = self._page_with_ties(window, keys, True, 0, limit)
        return _Resp(200, [self._v1_row(e.row) for e in page], headers=headers)

    @staticmethod
    def _legacy_summary(window: Sequence[_Entry], end_day: date) -> list[dict[str, Any]]:
        result: dict[date, dict[str, Any]] = {}
        for e in window:
            row = e.row
            day = _utc_day(row["startTime"])
            bucket = result.get(day)
            if bucket is None:
                bucket = result[day] = {"users": {}, "models": {}}
            spend = float(row["spend"])
            api_key, user, model = row.get("api_key"), row.get("user"), row.get("model")
            bucket["spend"] = bucket.get("spend", 0) + spend
            bucket[api_key] = bucket.get(api_key, 0) + spend
            bucket["users"][user] = bucket["users"].get(user, 0) + spend
            bucket["models"][model] = bucket["models"].get(model, 0) + spend
        if not result:
            return []
        out = [{**value, "startTime": day.isoformat()} for day, value in sorted(result.items())]
        final = max(result)
        current = final + timedelta(days=1)
        while current <= end_day:  # pad after the last data day, through the end day
            out.append({"startTime": current.isoformat(), "spend": 0, "users": {}, "models": {}})
            current += timedelta(days=1)
        return out

    # ---------------------------------------------------------------------------------------------- daily activity

    def _daily(self, table: str) -> list[DailyRow]:
        with self._daily_lock:
            cached = self._daily_cache.get(table)
            if cached is None:
                cached = self._daily_cache[table] = self._build_daily(table)
            return cached

    def _daily_entities(self, table: str) -> Iterator[tuple[_Entry, str]]:
        """(row, entity) of a daily table's transactions: per user or end user (a transaction without one is
        skipped), or once per request tag, as LiteLLM's tag writer loops over them (a repeated tag counts twice)."""
        for e in self._entries:
            if table == "tag":
                tags = e.row.get("request_tags")
                tags = json.loads(tags) if isinstance(tags, str) else tags
                for tag in tags or ():
                    yield e, str(tag)
                continue
            entity = e.row.get("user" if table == "user" else "end_user")
            if entity:  # update_daily_user_spend skips a transaction without a user_id
                yield e, entity

    def _build_daily(self, table: str) -> list[DailyRow]:
        rows: dict[tuple[Any, ...], DailyRow] = {}
        for e, entity in self._daily_entities(table):
            row = e.row
            day = _utc_day(row["startTime"]).isoformat()
            model = row.get("model") or None
            provider = row.get("custom_llm_provider") or None
            endpoint = "/embeddings" if row.get("call_type") == "aembedding" else "/chat/completions"
            key = (
                entity,
                day,
                row.get("api_key") or "",
                model,
                provider,
                row.get("mcp_namespaced_tool_name"),
                endpoint,
            )
            daily = rows.get(key)
            if daily is None:
                ident = hashlib.sha256(repr((table,) + key).encode()).hexdigest()
                daily = rows[key] = DailyRow(
                    id=f"{ident[:8]}-{ident[8:12]}-{ident[12:16]}-{ident[16:20]}-{ident[20:32]}",
                    entity_id=entity,
                    date=day,
                    api_key=key[2],
                    model=model,
                    model_group=row.get("model_group") or None,
                    custom_llm_provider=provider,
                    mcp_namespaced_tool_name=key[5],
                    endpoint=endpoint,
                )
            usage = _metadata_of(row).get("additional_usage_values") or {}
            daily.prompt_tokens += row.get("prompt_tokens") or 0
            daily.completion_tokens += row.get("completion_tokens") or 0
            daily.cache_read_input_tokens += usage.get("cache_read_input_tokens") or 0
            daily.cache_creation_input_tokens += usage.get("cache_creation_input_tokens") or 0
            daily.spend += float(row["spend"])
            daily.api_requests += 1
            if row.get("status") in ("success", None):
                daily.successful_requests += 1
            else:
                daily.failed_requests += 1
            duration = row.get("request_duration_ms")
            if duration is not None:
                daily.total_response_time_ms += duration
                daily.timed_requests += 1
        ordered = sorted(rows.values(), key=lambda d: d.id)
        ordered.sort(key=lambda d: d.date, reverse=True)  # date DESC, id ASC
        if table == "user" and self.daily_activity_skew and self.skew_day is not None:
            target = next((d for d in ordered if d.date == self.skew_day.isoformat()), None)
            if target is not None:
                target.spend += float(self.daily_activity_skew)
        return ordered

    def _key_metadata(self, api_key: str) -> dict[str, Any]:
        f = self.flavor
        spec = _KEY_BY_TOKEN.get(api_key)
        meta: dict[str, Any] = {"key_alias": None, "team_id": None}
        exists = False
        user_id = None
        if spec is not None and (not spec.deleted or f.deleted_key_recovery):
            meta = {"key_alias": spec.key_alias, "team_id": spec.team_id or None}
            exists = not spec.deleted
            user_id = spec.user_id
        if api_key == "" and f.unattributed_key:
            meta = {"key_alias": "Unattributed", "team_id": None}
        if f.key_metadata_extended:
            meta.update(
                {"user_id": user_id, "user_email": _USER_EMAIL.get(user_id) if user_id else None, "key_exists": exists}
            )
        return meta

    def _daily_params(self, params: _Params, *, paginated: bool, default_page_size: int) -> tuple[int, int, int | None]:
        page = params.int("page", 1, ge=1) if paginated else 1
        page_size = params.int("page_size", default_page_size, ge=1, le=1000) if paginated else 0
        tz = params.int("timezone", None) if self.flavor.daily_user_id_param else None
        if self.flavor.at_least(1, 100):
            params.bool("include_current_utc_day", False)  # validated, then ignored: the dataset is history
        return page or 1, page_size or 0, tz

    def _daily_dates(self, params: _Params, tz: int | None) -> "tuple[str, str] | _Resp":
        start, end = params.get("start_date"), params.get("end_date")
        if start is None or end is None:
            return self._detail(400, {"error": "Please provide start_date and end_date"})
        if self.flavor.daily_strict_dates:
            for name, text in (("start_date", start), ("end_date", end)):
                if not _is_canonical_date(text):
                    return self._detail(400, {"error": f"Invalid {name}: '{text}'. Expected format YYYY-MM-DD."})
        if tz and self.flavor.daily_timezone_bug:  # widened by a whole UTC day on the offset's side (§7.3)
            try:
                if tz > 0:
                    end = (date.fromisoformat(end) + timedelta(days=1)).isoformat()
                else:
                    start = (date.fromisoformat(start) - timedelta(days=1)).isoformat()
            except ValueError:
                pass
        return start, end

    def _user_daily(self, params: _Params, caller: _Caller | None, *, paginated: bool = True) -> _Resp:
        assert caller is not None
        f = self.flavor
        page, page_size, tz = self._daily_params(params, paginated=paginated, default_page_size=50)
        if params.errors:
            return self._detail(422, params.errors)
        if not self.db:
            return self._no_db()
        dates = self._daily_dates(params, tz)
        if isinstance(dates, _Resp):
            return dates
        start, end = dates
        user_id = params.get("user_id") if f.daily_user_id_param else None
        if not caller.is_admin and caller.user_id is not None:
            if user_id is not None and user_id != caller.user_id:
                return self._detail(403, {"error": "Non-admin users can only view their own spend data."})
            user_id = caller.user_id
        rows = self._filter_daily(self._daily("user"), params, start, end, "user")
        if user_id is not None:
            rows = [r for r in rows if r.entity_id == user_id]
        return self._daily_response(rows, page, page_size, paginated, "user")

    def _user_daily_aggregated(self, params: _Params, caller: _Caller | None) -> _Resp:
        return self._user_daily(params, caller, paginated=False)

    def _customer_daily(self, params: _Params, caller: _Caller | None) -> _Resp:
        assert caller is not None
        page, page_size, _ = self._daily_params(params, paginated=True, default_page_size=10)
        if params.errors:
            return self._detail(422, params.errors)
        if not caller.is_admin:
            return self._detail(401, {"error": f"Admin-only endpoint. Your user role={caller.role}"})
        if not self.db:
            return self._no_db()
        dates = self._daily_dates(params, None)
        if isinstance(dates, _Resp):
            return dates
        rows = self._filter_daily(self._daily("end_user"), params, *dates, "end_user")
        wanted = params.get("end_user_ids")
        if wanted:
            ids = {part.strip() for part in wanted.split(",") if part.strip()}
            rows = [r for r in rows if r.entity_id in ids]
        return self._daily_response(rows, page, page_size, True, "end_user")

    def _tag_daily(self, params: _Params, caller: _Caller | None) -> _Resp:
        """``/tag/daily/activity``: LiteLLM_DailyTagSpend, entities keyed by tag; ``tags`` is split at commas,
        unstripped, as the server does. Internal users see the tags of their own keys only."""
        assert caller is not None
        page, page_size, _ = self._daily_params(params, paginated=True, default_page_size=10)
        if params.errors:
            return self._detail(422, params.errors)
        if not self.db:
            return self._no_db()
        dates = self._daily_dates(params, None)
        if isinstance(dates, _Resp):
            return dates
        rows = self._filter_daily(self._daily("tag"), params, *dates, "tag")
        wanted = params.get("tags")
        if wanted:
            names = set(wanted.split(","))
            rows = [r for r in rows if r.entity_id in names]
        if not caller.is_admin:
            own = {k.token for k in KEYS if k.user_id == caller.user_id}
            rows = [r for r in rows if r.api_key in own]
        return self._daily_response(rows, page, page_size, True, "tag")

    def _daily_index(self, table: str) -> dict[tuple[str, str | None, str | None], list[DailyRow]]:
        """The rows of a table by (date, model, api_key), with None for "any": the lists keep the table's order.
        The model is as the filter matches it ("unknown-model" also holds null and empty models)."""
        with self._daily_lock:
            cached = self._daily_index_cache.get(table)
        if cached is None:
            cached = {}
            for r in self._daily(table):
                model = r.model if r.model and r.model != "unknown-model" else "unknown-model"
                for key in (
                    (r.date, None, None),
                    (r.date, model, None),
                    (r.date, None, r.api_key),
                    (r.date, model, r.api_key),
                ):
                    cached.setdefault(key, []).append(r)
            with self._daily_lock:
                self._daily_index_cache[table] = cached
        return cached

    def _filter_daily(
        self, rows: Sequence[DailyRow], params: _Params, start: str, end: str, table: str | None = None
    ) -> list[DailyRow]:
        """The rows of ``[start, end]`` matching the ``model`` / ``api_key`` filters, in table order. With ``table``
        (whose rows ``rows`` are) a one-day query is answered from :meth:`_daily_index`."""
        f = self.flavor
        model = params.get("model") or None
        api_key = params.get("api_key") or None
        if api_key is not None and f.unattributed_key:
            if api_key == "unattributed":
                api_key = ""
            elif api_key.startswith("raw:"):
                api_key = api_key[4:]
        if table is not None and start == end:
            return list(self._daily_index(table).get((start, model, api_key), ()))
        # The date column is TEXT: older versions compare the raw strings (a bad spelling matches nothing).
        out = [r for r in rows if start <= r.date <= end]
        if model:
            if model == "unknown-model":
                out = [r for r in out if not r.model or r.model == "unknown-model"]
            else:
                out = [r for r in out if r.model == model]
        if api_key is not None:
            out = [r for r in out if r.api_key == api_key]
        return out

    def _daily_response(self, rows: list[DailyRow], page: int, page_size: int, paginated: bool, table: str) -> _Resp:
        f = self.flavor
        total_count = len(rows)
        if paginated:
            if not f.daily_stable_order:  # ORDER BY date DESC only: rows of a day come in any order
                with self._lock:
                    rng = random.Random(self._order_rng.getrandbits(64))
                shuffled: list[DailyRow] = []
                i = 0
                while i < len(rows):
                    j = i
                    while j < len(rows) and rows[j].date == rows[i].date:
                        j += 1
                    group = rows[i:j]
                    rng.shuffle(group)
                    shuffled += group
                    i = j
                rows = shuffled
            page_rows = rows[(page - 1) * page_size : page * page_size]
            total_pages = (total_count + page_size - 1) // page_size
            has_more = page * page_size < total_count
        else:
            page_rows, total_pages, has_more = rows, 1, False
        return _Resp(200, self._aggregate(page_rows, page, total_pages, has_more, table))

    def _aggregate(
        self, rows: Sequence[DailyRow], page: int, total_pages: int, has_more: bool, table: str
    ) -> dict[str, Any]:
        """One page of SpendAnalyticsPaginatedResponse, accumulated in floats like the real server."""
        f = self.flavor
        names = f.metrics
        zero = [0.0 if n in _FLOAT_METRICS else 0 for n in names]
        index = {n: i for i, n in enumerate(names)}

        def vector(r: DailyRow) -> list[Any]:
            v = list(zero)
            v[index["spend"]] = r.spend
            v[index["prompt_tokens"]] = r.prompt_tokens
            v[index["completion_tokens"]] = r.completion_tokens
            v[index["cache_read_input_tokens"]] = r.cache_read_input_tokens
            v[index["cache_creation_input_tokens"]] = r.cache_creation_input_tokens
            v[index["total_tokens"]] = r.prompt_tokens + r.completion_tokens
            v[index["successful_requests"]] = r.successful_requests
            v[index["failed_requests"]] = r.failed_requests
            v[index["api_requests"]] = r.api_requests
            if "total_response_time_ms" in index:
                v[index["total_response_time_ms"]] = r.total_response_time_ms
                v[index["timed_requests"]] = r.timed_requests
            return v

        def add(acc: list[Any], v: list[Any]) -> None:
            for i, value in enumerate(v):
                acc[i] += value

        def bucket(mapping: dict[str, Any], key: str, metadata: dict[str, Any], with_keys: bool = True) -> dict:
            entry = mapping.get(key)
            if entry is None:
                entry = mapping[key] = {"metrics": list(zero), "metadata": metadata}
                if with_keys:
                    entry["api_key_breakdown"] = {}
            return entry

        def key_bucket(mapping: dict[str, Any], api_key: str) -> dict:
            entry = mapping.get(api_key)
            if entry is None:
                entry = mapping[api_key] = {"metrics": list(zero), "metadata": key_meta(api_key)}
            return entry

        meta_cache: dict[str, dict[str, Any]] = {}

        def key_meta(api_key: str) -> dict[str, Any]:
            cached = meta_cache.get(api_key)
            if cached is None:
                cached = meta_cache[api_key] = self._key_metadata("" if api_key == "unattributed" else api_key)
            return dict(cached)

        def entity_meta(entity: str) -> dict[str, Any]:
            if table == "user" and f.entity_metadata:
                user = _USER_BY_ID.get(entity)
                return {
                    "user_email": user.user_email if user else None,
                    "user_alias": user.user_alias if user else None,
                }
            return {}

        totals = list(zero)
        results: dict[str, dict[str, Any]] = {}
        for r in rows:
            v = vector(r)
            add(totals, v)
            day = results.get(r.date)
            if day is None:
                breakdown: dict[str, Any] = {"models": {}, "model_groups": {}, "mcp_servers": {}, "providers": {}}
                if f.breakdown_endpoints:
                    breakdown["endpoints"] = {}
                breakdown["api_keys"] = {}
                breakdown["entities"] = {}
                if f.breakdown_guardrails:
                    breakdown["guardrails"] = {}
                day = results[r.date] = {"date": r.date, "metrics": list(zero), "breakdown": breakdown}
            add(day["metrics"], v)
            bd = day["breakdown"]
            api_key = r.api_key
            if api_key == "" and f.unattributed_key:
                api_key = "unattributed"
            model = r.model or ("unknown-model" if f.unknown_model else None)
            if model:
                entry = bucket(bd["models"], model, {})
                add(entry["metrics"], v)
                add(key_bucket(entry["api_key_breakdown"], api_key)["metrics"], v)
            group = r.model_group or r.model
            if group:
                entry = bucket(bd["model_groups"], group, {})
                add(entry["metrics"], v)
                add(key_bucket(entry["api_key_breakdown"], api_key)["metrics"], v)
            if r.mcp_namespaced_tool_name:
                entry = bucket(bd["mcp_servers"], r.mcp_namespaced_tool_name, {})
                add(entry["metrics"], v)
                add(key_bucket(entry["api_key_breakdown"], api_key)["metrics"], v)
            entry = bucket(bd["providers"], r.custom_llm_provider or "unknown", {})
            add(entry["metrics"], v)
            add(key_bucket(entry["api_key_breakdown"], api_key)["metrics"], v)
            if f.breakdown_endpoints and r.endpoint:
                entry = bucket(bd["endpoints"], r.endpoint, {})
                add(entry["metrics"], v)
                add(key_bucket(entry["api_key_breakdown"], api_key)["metrics"], v)
            add(key_bucket(bd["api_keys"], api_key)["metrics"], v)
            entity = r.entity_id or "Unassigned"
            entry = bucket(bd["entities"], entity, entity_meta(entity))
            add(entry["metrics"], v)
            add(key_bucket(entry["api_key_breakdown"], api_key)["metrics"], v)

        def as_dict(vec: list[Any]) -> dict[str, Any]:
            return dict(zip(names, vec, strict=False))

        def convert(node: Any) -> Any:
            if isinstance(node, dict):
                return {
                    k: (as_dict(v) if k == "metrics" and isinstance(v, list) else convert(v)) for k, v in node.items()
                }
            return node

        out_results = [convert(day) for day in results.values()]
        metadata: dict[str, Any] = {}
        for name, value in zip(names, totals, strict=False):
            metadata[name if name.startswith("total_") else f"total_{name}"] = value
        metadata.update({"page": page, "total_pages": total_pages, "has_more": has_more})
        if f.metadata_api_key_limit:
            metadata.update({"api_key_limit": None, "total_api_keys": None, "entity_total_api_keys": None})
        return {"results": out_results, "metadata": metadata}

    # ---------------------------------------------------------------------------------------------- lookups

    def _team_objects(self, full: bool) -> list[dict[str, Any]]:
        teams = []
        for team in sorted(TEAMS, key=lambda t: t.team_alias):
            keys = [k for k in KEYS if k.team_id == team.team_id and not k.deleted]
            item: dict[str, Any] = {
                "team_id": team.team_id,
                "team_alias": team.team_alias,
                "organization_id": team.organization_id,
                "admins": [u for u, role in team.members if role == "admin"],
                "members": [u for u, role in team.members if role != "admin"],
                "members_with_roles": [
                    {"role": role, "user_id": u, "user_email": _USER_EMAIL.get(u)} for u, role in team.members
                ],
                "metadata": {},
                "tpm_limit": None,
                "rpm_limit": None,
                "max_budget": None,
                "budget_duration": None,
                "models": [],
                "blocked": False,
                "spend": sum(self._key_spend.get(k.token, 0.0) for k in keys),
                "max_parallel_requests": None,
                "budget_reset_at": None,
                "model_spend": {},
                "model_max_budget": {},
                "created_at": "2025-01-01T00:00:00Z",
                "updated_at": "2025-06-01T00:00:00Z",
            }
            if full:
                item["team_memberships"] = [
                    {
                        "user_id": u,
                        "team_id": team.team_id,
                        "budget_id": None,
                        "spend": 0.0,
                        "litellm_budget_table": None,
                    }
                    for u, _ in team.members
                ]
                item["keys"] = [self._key_object(k) for k in keys]
            elif self.flavor.team_list_counts:
                item["members_count"] = len(team.members)
                item["keys_count"] = len(keys)
            teams.append(item)
        return teams

    def _team_refusal(self, params: _Params, caller: _Caller) -> _Resp | None:
        """Non-admins may only list their own teams, and must say so with ``user_id`` (§0b)."""
        user_id = params.get("user_id")
        if caller.is_admin or (user_id is not None and user_id == caller.user_id):
            return None
        return self._detail(
            401, {"error": "Only admin users can query all teams/other teams. Your user role=" + caller.role}
        )

    def _team_list(self, params: _Params, caller: _Caller | None) -> _Resp:
        assert caller is not None
        if not self.db:
            return self._no_db()
        refused = self._team_refusal(params, caller)
        if refused is not None:
            return refused
        return _Resp(200, self._filter_teams(self._team_objects(True), params))

    def _team_list_v2(self, params: _Params, caller: _Caller | None) -> _Resp:
        assert caller is not None
        page = params.int("page", 1, ge=1)
        page_size = params.int("page_size", 10, ge=1, le=100)
        if params.errors:
            return self._detail(422, params.errors)
        assert page is not None and page_size is not None
        if not self.db:
            return self._no_db()
        refused = self._team_refusal(params, caller)
        if refused is not None:
            return refused
        teams = self._filter_teams(self._team_objects(False), params)
        for name in ("team_id", "team_alias"):
            value = params.get(name)
            if value:
                teams = [t for t in teams if value in (t.get(name) or "")]
        total = len(teams)
        return _Resp(
            200,
            {
                "teams": teams[(page - 1) * page_size : page * page_size],
                "total": total,
                "page": page,
                "page_size": page_size,
                "total_pages": (total + page_size - 1) // page_size,
            },
        )

    @staticmethod
    def _filter_teams(teams: list[dict[str, Any]], params: _Params) -> list[dict[str, Any]]:
        user_id = params.get("user_id")
        if user_id:
            teams = [t for t in teams if any(m["user_id"] == user_id for m in t["members_with_roles"])]
        org = params.get("organization_id")
        if org:
            teams = [t for t in teams if t["organization_id"] == (None if org == "default_organization" else org)]
        return teams

    def _model_info(self, params: _Params, caller: _Caller | None) -> _Resp:
        data = []
        wanted = params.get("litellm_model_id")
        for dep in DEPLOYMENTS + WILDCARD_DEPLOYMENTS:
            if wanted and dep.model_id != wanted:
                continue
            if "*" in dep.model_group:  # a wildcard route: the cost map knows no prices for it
                data.append(
                    {
                        "model_name": dep.model_group,
                        "litellm_params": {"model": dep.litellm_model, "custom_llm_provider": dep.provider},
                        "model_info": {"id": dep.model_id, "db_model": False, "key": dep.litellm_model},
                    }
                )
                continue
            data.append(
                {
                    "model_name": dep.model_group,
                    "litellm_params": {
                        "model": dep.litellm_model,
                        "custom_llm_provider": dep.provider,
                        "api_base": dep.api_base,
                        "use_in_pass_through": False,
                        "merge_reasoning_content_in_choices": False,
                    },
                    "model_info": {
                        "id": dep.model_id,
                        "db_model": False,
                        "key": dep.model,
                        "mode": dep.mode,
                        "litellm_provider": dep.provider,
                        "input_cost_per_token": float(dep.input_cost),
                        "output_cost_per_token": float(dep.output_cost),
                        "cache_read_input_token_cost": float(dep.cache_read_cost) or None,
                        "cache_creation_input_token_cost": float(dep.cache_creation_cost) or None,
                        "max_input_tokens": 8191 if dep.mode == "embedding" else 128000,
                        "supports_function_calling": dep.mode == "chat",
                    },
                }
            )
        return _Resp(200, {"data": data})

    def _key_object(self, key: KeySpec) -> dict[str, Any]:
        team = _TEAM_BY_ID.get(key.team_id)
        return {
            "token": key.token,
            "key_name": key.key_name,
            "key_alias": key.key_alias,
            "spend": self._key_spend.get(key.token, 0.0),
            "max_budget": None,
            "expires": None,
            "models": [],
            "aliases": {},
            "config": {},
            "user_id": key.user_id,
            "team_id": key.team_id or None,
            "org_id": team.organization_id if team else None,
            "organization_id": team.organization_id if team else None,
            "permissions": {},
            "max_parallel_requests": None,
            "metadata": {},
            "blocked": None,
            "tpm_limit": None,
            "rpm_limit": None,
            "budget_duration": None,
            "budget_reset_at": None,
            "created_at": "2025-05-06T01:00:00Z",
            "updated_at": "2025-05-06T01:00:00Z",
        }

    def _key_list(self, params: _Params, caller: _Caller | None) -> _Resp:
        assert caller is not None
        page = params.int("page", 1, ge=1)
        size = params.int("size", 10, ge=1, le=100)
        full = params.bool("return_full_object", False)
        params.bool("include_team_keys", False)
        if params.errors:
            return self._detail(422, params.errors)
        assert page is not None and size is not None
        if not self.db:
            return self._no_db()
        status = params.get("status") if self.flavor.key_list_status else None
        if status is not None and status not in ("active", "expired", "revoked", "deleted"):
            return self._detail(400, {"error": f"Invalid status value: {status}"})
        keys = [k for k in KEYS if k.deleted == (status == "deleted")]
        user_id = params.get("user_id")
        if not caller.is_admin and caller.user_id is not None:
            user_id = caller.user_id
        for name, value in (
            ("user_id", user_id),
            ("team_id", params.get("team_id")),
            ("key_alias", params.get("key_alias")),
            ("key_hash", params.get("key_hash")),
        ):
            if value:
                attr = "token" if name == "key_hash" else name
                keys = [k for k in keys if getattr(k, attr) == value]
        total = len(keys)
        chosen = keys[(page - 1) * size : page * size]
        return _Resp(
            200,
            {
                "keys": [self._key_object(k) if full else k.token for k in chosen],
                "total_count": total,
                "current_page": page,
                "total_pages": (total + size - 1) // size,
            },
        )

    def _key_info(self, params: _Params, caller: _Caller | None) -> _Resp:
        assert caller is not None
        if not self.db:
            return self._no_db()
        key = params.get("key")
        if not key:
            return self._error("Key not found in database", "not_found_error", 404)
        token = hash_key(key) if key.startswith("sk-") else key
        spec = _KEY_BY_TOKEN.get(token)
        if spec is None or (spec.deleted and not self.flavor.unattributed_key):
            return self._error("Key not found in database", "not_found_error", 404)
        if not caller.is_admin and caller.user_id is not None and spec.user_id != caller.user_id:
            return self._error("You are not allowed to access this key's info.", "auth_error", 403)
        info = self._key_object(spec)
        info.pop("token")
        info["status"] = "deleted" if spec.deleted else "active"
        return _Resp(200, {"key": key, "info": info})

    def _user_object(self, user: UserSpec) -> dict[str, Any]:
        """A ``LiteLLM_UserTable`` row (``/user/list`` adds ``key_count``)."""
        teams = [t.team_id for t in TEAMS if any(u == user.user_id for u, _ in t.members)]
        return {
            "user_id": user.user_id,
            "user_email": user.user_email,
            "user_alias": user.user_alias,
            "user_role": user.user_role,
            "teams": teams,
            "models": [],
            "max_budget": None,
            "spend": sum(self._key_spend.get(k.token, 0.0) for k in KEYS if k.user_id == user.user_id),
            "model_max_budget": {},
            "model_spend": {},
            "tpm_limit": None,
            "rpm_limit": None,
            "budget_duration": None,
            "budget_reset_at": None,
            "metadata": {},
            "sso_user_id": None,
            "organization_memberships": [],
            "created_at": "2025-01-01T00:00:00Z",
            "updated_at": "2025-05-06T01:00:00Z",
        }

    def _user_list(self, params: _Params, caller: _Caller | None) -> _Resp:
        """``GET /user/list``: paginated (``page_size`` ≤100, default 25), admins and admin viewers only (403
        ``{"detail": {"error": ...}}`` otherwise); ``sort_by`` is one of LiteLLM's columns, default created_at desc
        (all equal here, so the catalogue order)."""
        assert caller is not None
        page = params.int("page", 1, ge=1)
        page_size = params.int("page_size", 25, ge=1, le=100)
        if params.errors:
            return self._detail(422, params.errors)
        assert page is not None and page_size is not None
        if not self.db:
            return self._no_db()
        if not (caller.is_admin or caller.role == "proxy_admin_viewer"):
            return self._detail(403, {"error": "Only proxy admins and organization admins can list users."})
        users = list(USERS)
        sort_by = params.get("sort_by")
        if sort_by is not None:
            if sort_by not in ("user_id", "user_email", "created_at", "spend", "user_alias", "user_role"):
                return self._detail(400, {"error": "Invalid sort column."})
            users.sort(key=lambda u: str(getattr(u, sort_by, "") or ""), reverse=params.get("sort_order") == "desc")
        total = len(users)
        chosen = users[(page - 1) * page_size : page * page_size]
        return _Resp(
            200,
            {
                "users": [
                    {**self._user_object(u), "key_count": sum(1 for k in KEYS if k.user_id == u.user_id)}
                    for u in chosen
                ],
                "total": total,
                "page": page,
                "page_size": page_size,
                "total_pages": -(-total // page_size),
            },
        )

    def _user_info(self, params: _Params, caller: _Caller | None) -> _Resp:
        """``GET /user/info?user_id=``: the user row, its keys and teams; 404 for an unknown user."""
        assert caller is not None
        if not self.db:
            return self._no_db()
        user_id = params.get("user_id") or caller.user_id
        if not caller.is_admin and caller.role != "proxy_admin_viewer" and user_id != caller.user_id:
            return self._error("User not allowed to access other users' info.", "auth_error", 403)
        user = _USER_BY_ID.get(user_id or "")
        if user is None:
            return self._error(f"User {user_id} not found", "not_found_error", 404)
        keys = [self._key_object(k) for k in KEYS if k.user_id == user.user_id and not k.deleted]
        teams = [
            t for t in self._team_objects(False) if any(m["user_id"] == user.user_id for m in t["members_with_roles"])
        ]
        return _Resp(200, {"user_id": user.user_id, "user_info": self._user_object(user), "keys": keys, "teams": teams})

    def _organization_list(self, params: _Params, caller: _Caller | None) -> _Resp:
        """``GET /organization/list``: a bare list with members and teams; admins see every organization, others
        those they are members of (none here)."""
        assert caller is not None
        if not self.db:
            return self._no_db()
        if not caller.is_admin:
            return _Resp(200, [])
        orgs = []
        for org in ORGS:
            orgs.append(
                {
                    "organization_id": org.organization_id,
                    "organization_alias": org.organization_alias,
                    "budget_id": f"budget-{org.organization_id}",
                    "metadata": {},
                    "models": [],
                    "spend": 0.0,
                    "model_spend": {},
                    "created_at": "2025-01-01T00:00:00Z",
                    "created_by": PROXY_ADMIN_USER_ID,
                    "updated_at": "2025-01-01T00:00:00Z",
                    "updated_by": PROXY_ADMIN_USER_ID,
                    "members": [],
                    "teams": [
                        {"team_id": t.team_id, "team_alias": t.team_alias}
                        for t in TEAMS
                        if t.organization_id == org.organization_id
                    ],
                }
            )
        return _Resp(200, orgs)


def _metadata_of(row: Mapping[str, Any]) -> dict[str, Any]:
    meta = row.get("metadata")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            return {}
    return meta if isinstance(meta, dict) else {}


_CANONICAL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _is_canonical_date(text: str) -> bool:
    if not _CANONICAL_DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _parse_v2_date(text: str) -> datetime | None:
    """v2's accepted spellings: ``YYYY-MM-DD`` (midnight) or ``YYYY-MM-DD HH:MM:SS``, read as UTC."""
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


# --------------------------------------------------------------------------------------------------------------
# pytest glue (no pytest import here)
# --------------------------------------------------------------------------------------------------------------


def fake_litellm_fixture(dataset: Iterable[Mapping[str, Any]] | None = None, **options: Any) -> Iterator[FakeLiteLLM]:
    """Generator behind a ``fake_litellm`` fixture: a running FakeLiteLLM (default dataset
    ``generate_dataset(0)``), stopped afterwards::

        @pytest.fixture
        def fake_litellm():
            yield from fake_litellm_fixture(version="1.86.7")
    """
    fake = FakeLiteLLM(generate_dataset(0) if dataset is None else dataset, **options).start()
    try:
        yield fake
    finally:
        fake.stop()


CsvSums = tuple[Decimal, dict[date, Decimal], dict[tuple[date, str], Decimal], dict[tuple[date, str], Decimal]]


def csv_sums(rows: Iterable[Mapping[str, str]]) -> CsvSums:
    """Total, per day, per (day, model) and per (day, key hash) of an export's BilledCost, summed exactly: what a
    test compares with :class:`Truth` (rows without an API key count in the totals only)."""
    total = Decimal(0)
    by_day: dict[date, Decimal] = defaultdict(Decimal)
    by_model: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    by_key: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    with localcontext(prec=200):
        for row in rows:
            cost = Decimal(row["BilledCost"])
            day = date.fromisoformat(row["ChargePeriodStart"][:10])
            total += cost
            by_day[day] += cost
            by_model[(day, row["x_Model"])] += cost
            if row["BillingAccountType"] == "API Key":
                by_key[(day, row["BillingAccountId"])] += cost
    return total, dict(by_day), dict(by_model), dict(by_key)


def spend_row(i: int, start: str, **extra: Any) -> dict[str, Any]:
    """A v2 spend-log row as the wire sends it (metadata and request_tags as JSON strings)."""
    return {
        "request_id": f"req-{i}",
        "startTime": start,
        "endTime": start,
        "spend": 0.000675,
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "api_key": "a" * 64,
        "model": "gpt-4o-mini",
        "model_group": "gpt-4o-mini",
        "custom_llm_provider": "openai",
        "user": "user-1",
        "team_id": "team-a",
        "cache_hit": "False",
        "request_tags": '["env:prod", "User-Agent: OpenAI/Python 1.82.0", "plain"]',
        "metadata": json.dumps(
            {
                "user_api_key_alias": "prod-key",
                "user_api_key_team_alias": "Team A",
                "additional_usage_values": {"cache_read_input_tokens": 100},
                "cost_breakdown": {"input_cost": 0.000165, "cache_read_cost": 0.0000075, "output_cost": 0.00018},
            }
        ),
        **extra,
    }

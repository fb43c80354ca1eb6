"""`--mode daily-activity`: pre-aggregated day x model x key rows from `/user/daily/activity`.

It pages over database rows, not days, and aggregates each page on its own, so the same date appears on several
pages and `metadata.total_*` covers one page only. We ask for one day at a time with page_size=1000, loop while
`has_more`, and sum `breakdown.models[m].api_key_breakdown[k]` ourselves. We never send `timezone` (it
double-counted in 1.83–1.86). On ≤1.90 the order inside a day is unstable, so there a day must fit one page: a
bigger day is read from the non-paginated `/user/daily/activity/aggregated` (≥1.77), which holds every row of the
day in one response; before 1.77 it is split by model, then by key. See litellm-api.md §2a and §7.3.

A cell's provider comes from the response (`breakdown.providers[p].api_key_breakdown`, see `resolve_providers`),
and only else from /model/info or genai-prices; its prices are the proxy's own where /model/info has them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import partial
from itertools import product
from typing import Any

from llm_cost.errors import SourceError
from llm_cost.records import TokenCounts, UsageRecord
from llm_cost.sources.litellm.client import EndpointMissing, LiteLLMClient, version_tuple
from llm_cost.sources.litellm.lookups import Lookups
from llm_cost.sources.litellm.stats import PullStats
from llm_cost.sources.litellm.wire import HEALTH_CHECK_KEYS, MASTER_KEY_LITERAL, token_counts
from llm_cost.window import Window

PAGE_SIZE = 1000
PATH = "/user/daily/activity"
AGGREGATED_PATH = "/user/daily/activity/aggregated"
UNATTRIBUTED = ("", "unattributed")
# Before 1.77 (no /aggregated) a day over one page is split; the values to split by are collected from this many
# further reads of its unstable pages, since one read can miss every row of a model or key.
ENUMERATION_READS = 8


@dataclass(slots=True)
class Cell:
    """Sums for one day x model x key."""

    spend: Decimal = Decimal(0)
    prompt: int = 0
    completion: int = 0
    cache_read: int = 0
    cache_write: int = 0
    requests: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    # The providers its key's traffic appears under (`breakdown.providers[p].api_key_breakdown`) in the results
    # it was read from: of the key's whole day, or of this model alone when the read was filtered by model.
    providers: set[str] = field(default_factory=set)

    def tally(self) -> Tally:
        """Its exact counts, as the provider accounting compares them."""
        return (self.requests, self.prompt, self.completion, self.cache_read)

    def add(self, metrics: dict[str, Any], metadata: dict[str, Any]) -> None:
        """Add one key entry's metrics; a metric that is not a number is a SourceError naming it."""
        try:
            spend = metrics.get("spend") or 0
            self.spend += spend if isinstance(spend, Decimal) else Decimal(str(spend))
            self.prompt += _count_of(metrics, "prompt_tokens")
            self.completion += _count_of(metrics, "completion_tokens")
            self.cache_read += _count_of(metrics, "cache_read_input_tokens")
            self.cache_write += _count_of(metrics, "cache_creation_input_tokens")
            self.requests += _count_of(metrics, "api_requests")
        except (ArithmeticError, TypeError, ValueError):
            raise SourceError(
                f"unexpected response from {PATH}: a metric of {str(metrics)[:160]} is not a number"
            ) from None
        if not self.spend.is_finite():
            raise SourceError(f"unexpected response from {PATH}: spend {metrics.get('spend')!r} is not a finite number")
        self.metadata.update({k: v for k, v in metadata.items() if v not in (None, "")})


def _count_of(metrics: dict[str, Any], name: str) -> int:
    """A token or request count: an integer (or an integral float, as JSON may spell one)."""
    value = metrics.get(name) or 0
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float) or value != int(value):
        raise ValueError(name)
    return int(value)


Tally = tuple[int, int, int, int]  # requests, prompt, completion and cache-read tokens: exact integers
NO_TALLY: Tally = (0, 0, 0, 0)


def _tally(metrics: Any) -> Tally:
    """The exact counts of one metrics object (a count that is not a whole number is a SourceError)."""
    if not isinstance(metrics, dict):
        raise SourceError(f"unexpected response from {PATH}: metrics {str(metrics)[:80]} is not an object")
    try:
        return (
            _count_of(metrics, "api_requests"),
            _count_of(metrics, "prompt_tokens"),
            _count_of(metrics, "completion_tokens"),
            _count_of(metrics, "cache_read_input_tokens"),
        )
    except (ArithmeticError, TypeError, ValueError):
        raise SourceError(
            f"unexpected response from {PATH}: a count of {str(metrics)[:160]} is not a whole number"
        ) from None


def _plus(a: Tally, b: Tally) -> Tally:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3])


def _minus(a: Tally, b: Tally) -> Tally:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3])


def _key_providers(result: dict[str, Any]) -> dict[str, dict[str, Tally]]:
    """key -> provider -> counts, from one result's `breakdown.providers[p].api_key_breakdown` (there is no joint
    model x provider x key breakdown). Absent in a result: nothing is known."""
    out: dict[str, dict[str, Tally]] = {}
    for provider, key, metrics, _ in _api_key_breakdown(result, "providers"):
        out.setdefault(key, {})[provider] = _tally(metrics)
    return out


def _entries(result: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(model, key, metrics, metadata) of every `breakdown.models[m].api_key_breakdown[k]` of one result."""
    return _api_key_breakdown(result, "models")


def _api_key_breakdown(
    result: dict[str, Any], section: str
) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(name, key, metrics, metadata) of every `breakdown.<section>[name].api_key_breakdown[key]` of one result; a
    shape other than the documented objects is a SourceError, not a silently skipped part of the day."""
    noun = section.removesuffix("s")
    breakdown = result.get("breakdown") or {}
    entries = breakdown.get(section) if isinstance(breakdown, dict) else breakdown
    if not isinstance(entries or {}, dict):
        raise SourceError(f"unexpected response from {PATH}: breakdown.{section} is not an object")
    for name, entry in (entries or {}).items():
        keys = entry.get("api_key_breakdown") if isinstance(entry, dict) else entry
        if not isinstance(keys or {}, dict):
            raise SourceError(
                f"unexpected response from {PATH}: breakdown.{section}[{str(name)[:60]!r}] has no "
                "api_key_breakdown object"
            )
        for key, key_entry in (keys or {}).items():
            if not isinstance(key_entry, dict):
                raise SourceError(
                    f"unexpected response from {PATH}: the api_key_breakdown entry of {noun} "
                    f"{str(name)[:60]!r} is not an object"
                )
            metrics, metadata = key_entry.get("metrics") or {}, key_entry.get("metadata") or {}
            if not isinstance(metrics, dict) or not isinstance(metadata, dict):
                raise SourceError(
                    f"unexpected response from {PATH}: metrics or metadata of {noun} {str(name)[:60]!r} is not an "
                    "object"
                )
            yield str(name), str(key), metrics, metadata


class DailyActivityReader:
    """Reads `/user/daily/activity` one day at a time and merges the pages."""

    def __init__(
        self,
        client: LiteLLMClient,
        stats: PullStats,
        *,
        version: str | None,
        path: str = PATH,
        aggregated_path: str | None = AGGREGATED_PATH,
    ) -> None:
        self.client = client
        self.stats = stats
        self.path = path
        self.aggregated_path = aggregated_path
        parsed = version_tuple(version)
        self.stable_order = parsed is None or parsed >= (1, 95)
        self.has_aggregated = aggregated_path is not None and (parsed is None or parsed >= (1, 77))
        # (provider, key) -> counts over the whole day, for the provider accounting of `_records`; None once a
        # day was read in parts (each part's providers are then that part's own, in its cells).
        self.tallies: dict[tuple[str, str], Tally] | None = {}

    def _body(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        body = self.client.get_json(path, params)
        self.stats.pages += 1
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise SourceError(
                self.client.mask(
                    f"unexpected response from {path}: expected an object with a 'results' "
                    f"list, got {type(body).__name__} {str(body)[:120]}"
                )
            )
        return body

    def pages(
        self, day: date, filters: dict[str, str], *, first_only: bool = False
    ) -> tuple[list[dict[str, Any]], int]:
        """Every page for one day (and filters); returns the results and the number of pages. With `first_only`,
        a first page that has more after it is returned alone, as 2 pages."""
        results: list[dict[str, Any]] = []
        page = 1
        while True:
            params = {
                "start_date": day.isoformat(),
                "end_date": day.isoformat(),
                "page": page,
                "page_size": PAGE_SIZE,
                **filters,
            }
            body = self._body(self.path, params)
            results += [r for r in body["results"] if isinstance(r, dict)]
            metadata = body.get("metadata")
            if not (isinstance(metadata, dict) and metadata.get("has_more")):
                return results, page
            if first_only:
                return results, page + 1
            page += 1

    def row_count(self, day: date, filters: dict[str, str]) -> int | None:
        """The exact number of DB rows of the day (and filters): `total_pages` at page_size=1 (§2a), 0 for no
        results (whatever `total_pages` says then), or None when the proxy does not say."""
        params = {"start_date": day.isoformat(), "end_date": day.isoformat(), "page": 1, "page_size": 1, **filters}
        body = self._body(self.path, params)
        if not body["results"]:
            return 0
        metadata = body.get("metadata")
        total = metadata.get("total_pages") if isinstance(metadata, dict) else None
        return total if isinstance(total, int) and not isinstance(total, bool) else None

    def _aggregated(self, day: date, filters: dict[str, str]) -> list[dict[str, Any]] | None:
        """The whole day in one response from the non-paginated endpoint (≥1.77; never truncated before 1.105),
        or None when the proxy has none."""
        if not self.has_aggregated or self.aggregated_path is None:
            return None
        params = {"start_date": day.isoformat(), "end_date": day.isoformat(), **filters}
        try:
            body = self._body(self.aggregated_path, params)
        except EndpointMissing:
            self.has_aggregated = False
            return None
        self.stats.notes.append(
            f"days over one page were read from {self.aggregated_path} (this proxy pages {self.path} in an "
            "unstable order)"
        )
        return [r for r in body["results"] if isinstance(r, dict)]

    def cells(self, day: date, filters: dict[str, str] | None = None) -> dict[tuple[str, str], Cell]:
        """(model, key) -> sums for one day, read so that no row is lost or counted twice."""
        filters = filters or {}
        self.stats.windows += 1
        unstable = not self.stable_order
        first_only = unstable and self.has_aggregated  # /aggregated will hold the day if it needs more pages
        results, pages = self.pages(day, filters, first_only=first_only)
        if pages > 1 and unstable:
            whole = self._aggregated(day, filters)
            if whole is None:
                self.tallies = None
                return self._split(day, filters, self.pages(day, filters)[0] if first_only else results)
            results = whole
        cells: dict[tuple[str, str], Cell] = {}
        for result in results:
            if str(result.get("date")) != day.isoformat():
                continue
            key_providers = _key_providers(result)
            if self.tallies is not None and not filters:
                for key, by_provider in key_providers.items():
                    for provider, tally in by_provider.items():
                        self.tallies[(provider, key)] = _plus(self.tallies.get((provider, key), NO_TALLY), tally)
            for model, key, metrics, metadata in _entries(result):
                cell = cells.setdefault((model, key), Cell())
                cell.add(metrics, metadata)
                cell.providers |= set(key_providers.get(key, ()))
                self.stats.rows_read += 1
        return cells

    def _split(self, day: date, filters: dict[str, str], results: list[dict[str, Any]]) -> dict[tuple[str, str], Cell]:
        """Before 1.77 a multi-page day may lose or repeat rows: re-read it per model, then per model and key.

        The pages that name the models (or keys) to split by are themselves unstable, so a model or key whose rows
        all fell between pages would never be read: the day's pages are read again ENUMERATION_READS times and the
        values of every read are united, and the parts' exact row counts must add up to the whole's (else the
        split fails loudly, rather than dropping a part)."""
        if "api_key" in filters:
            raise SourceError(
                f"{self.path} for {day} needs more than one page even for model {filters['model']} and one "
                "key, and this proxy pages in an unstable order without /aggregated (<1.77); upgrade it "
                "or use --mode spend-logs"
            )
        self.stats.splits += 1
        dimension = "model" if "model" not in filters else "api_key"
        values = _values(results, dimension)
        for _ in range(ENUMERATION_READS):
            values |= _values(self.pages(day, filters)[0], dimension)
            self.stats.requeries += 1
        if dimension == "api_key" and "" in values:  # an empty api_key filter is no filter at all
            raise SourceError(
                f"{self.path} for {day} needs more than one page for model {filters['model']}, and its "
                'unattributed requests (api_key "") cannot be read on their own on this proxy '
                "(unstable page order, no /aggregated: <1.77); upgrade it or use --mode spend-logs"
            )
        self._check_parts(day, filters, dimension, values)
        merged: dict[tuple[str, str], Cell] = {}
        for value in sorted(values):
            for cell_key, cell in self.cells(day, {**filters, dimension: value}).items():
                merged[cell_key] = cell
        return merged

    def _check_parts(self, day: date, filters: dict[str, str], dimension: str, values: set[str]) -> None:
        """The parts of a split must hold every DB row of the whole. Rows without a model are never named in
        `breakdown.models` (their spend is not served either); the filter `unknown-model` counts them too."""
        whole = self.row_count(day, filters)
        if whole is None:
            self.stats.notes.append(f"{self.path} gives no row count: a split day's parts could not be checked")
            return
        parts = {value: self.row_count(day, {**filters, dimension: value}) or 0 for value in sorted(values)}
        counted = sum(parts.values())
        if dimension == "model" and counted < whole and "unknown-model" not in parts:
            counted += self.row_count(day, {**filters, "model": "unknown-model"}) or 0
        if counted != whole:
            within = f" for model {filters['model']}" if "model" in filters else ""
            raise SourceError(
                f"{self.path} for {day}{within} has {whole} rows, but its {len(parts)} {dimension}s found "
                f"over {ENUMERATION_READS + 1} reads hold {counted}: this proxy pages in an unstable "
                "order and has no /aggregated (<1.77), so the day cannot be read exactly; upgrade it or "
                "use --mode spend-logs"
            )


def _values(results: list[dict[str, Any]], dimension: str) -> set[str]:
    """The models (dimension "model") or keys ("api_key") named in `breakdown.models` of some results."""
    return {model if dimension == "model" else key for result in results for model, key, _, _ in _entries(result)}


CellKey = tuple[str, str]  # model, key
PieceKey = tuple[str, str, str | None]  # model, key, the chargeback tag's value (None: none)
# Splits one day's cells by the chargeback tag (`--sub-account tag:KEY`, see tag_activity.py).
TagSplit = Callable[[date, dict[CellKey, Cell], PullStats], dict[PieceKey, Cell]]


def daily_activity_partitions(
    client: LiteLLMClient,
    window: Window,
    stats: PullStats,
    lookups: Lookups,
    *,
    version: str | None,
    include_health_checks: bool = False,
    tag_split: tuple[str, TagSplit] | None = None,
) -> Iterator[Callable[[], Iterator[UsageRecord]]]:
    """The window's records as one partition per UTC day, each counted into `stats` when done, so the days can
    be fetched concurrently. A partial day is refused before anything is read. With `tag_split` (the tag key and
    its splitter) each record carries its value of the chargeback tag, or none."""
    stats.endpoint = PATH
    days = list(window.days())
    for day in days:
        if not day.is_whole_day():
            raise SourceError(f"{PATH} has whole UTC days only; {day} is a partial day (use --mode spend-logs)")
    for day in days:
        yield partial(_day_records, client, day, stats, lookups, version, include_health_checks, tag_split)


def _day_records(
    client: LiteLLMClient,
    day: Window,
    stats: PullStats,
    lookups: Lookups,
    version: str | None,
    include_health_checks: bool,
    tag_split: tuple[str, TagSplit] | None,
) -> Iterator[UsageRecord]:
    part = PullStats(endpoint=PATH, version=stats.version)
    try:
        yield from _records(
            DailyActivityReader(client, part, version=version), day, part, lookups, include_health_checks, tag_split
        )
    finally:
        stats.absorb(part)


def _records(
    reader: DailyActivityReader,
    day: Window,
    stats: PullStats,
    lookups: Lookups,
    include_health_checks: bool,
    tag_split: tuple[str, TagSplit] | None = None,
) -> Iterator[UsageRecord]:
    # Master-key traffic is stored as the literal since ~1.86 and as the sha256 of the master key before (as in
    # spend logs, whose reader knows both).
    master_keys = {MASTER_KEY_LITERAL, reader.client.key_hash}
    cells = reader.cells(day.start.date())
    resolved = resolve_providers(cells, reader.tallies, lookups)
    if tag_split is None:
        pieces: dict[PieceKey, Cell] = {(model, key, None): cell for (model, key), cell in cells.items()}
    else:
        pieces = tag_split[1](day.start.date(), cells, stats)
    for (model, key, tag), cell in sorted(pieces.items(), key=lambda item: (item[0][:2], item[0][2] or "")):
        if key in HEALTH_CHECK_KEYS and not include_health_checks:
            stats.health_checks += cell.requests
            continue
        master = key in master_keys
        stats.requests += cell.requests
        if master:
            stats.master_key_requests += cell.requests
        provider = resolved.get((model, key))
        if provider is None:
            provider, provider_name = lookups.provider(model)
        else:
            provider_name = lookups.prices.provider_name(provider)
        api_key_hash = None if key in UNATTRIBUTED else key
        known = lookups.key(api_key_hash) if api_key_hash else None
        team_id = _text(cell.metadata.get("team_id")) or (known.team_id if known else None)
        team = lookups.team(team_id) if team_id else None
        record = UsageRecord(
            period_start=day.start,
            period_end=day.end,
            provider=provider,
            provider_name=provider_name,
            model=model,
            cost=cell.spend,
            tokens=_tokens(cell),
            requests=cell.requests,
            api_key_hash=api_key_hash,
            key_alias=str(cell.metadata.get("key_alias") or ("master key" if master else "")) or None,
            team_id=team_id,
            team_alias=team.alias if team else None,
            user_id=_text(cell.metadata.get("user_id")) or (known.user_id if known else None),
            user_email=_text(cell.metadata.get("user_email")),
            # The key's team's organization (as LiteLLM's own export joins it), else the key's own.
            org_id=(team.org_id if team else None) or (known.org_id if known else None),
            tags={tag_split[0]: tag} if tag_split and tag else {},
            system_tags={"x-master-key": "true"} if master else {},
            cost_source="reported",
            source=f"litellm:{PATH}",
            pricing=lookups.pricing(None, model, provider),
        )
        lookups.enrich(record)
        yield record


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _candidates(model: str, providers: set[str]) -> set[str]:
    """The providers a cell's rows may be at. `unknown` (rows without a provider: requests rejected before
    routing, which have no model either) is left out for a named model when a real provider is there."""
    if model != "unknown-model" and len(providers) > 1:
        return providers - {"unknown"}
    return providers


MAX_ASSIGNMENTS = 4096  # the accounting tries at most this many ways to place one key's unknown models


def resolve_providers(
    cells: dict[tuple[str, str], Cell], tallies: dict[tuple[str, str], Tally] | None, lookups: Lookups
) -> dict[tuple[str, str], str]:
    """(model, key) -> provider, where the response itself determines it (the rest falls back to /model/info
    and genai-prices). In order, each sound on its own:

    1. the key's traffic is under one provider only (`breakdown.providers[p].api_key_breakdown`);
    2. accounting, per key: the key's exact counts (requests, prompt, completion and cache-read tokens) under
       each provider, minus those of its models whose provider is known (by 1, or /model/info naming one), leave
       residuals; the models /model/info names at several providers must explain the residuals at theirs, and
       the remaining models, each wholly at one provider, must match the other residuals exactly in one way only;
    3. the model's keys share exactly one provider, /model/info does not serve that name at several, and (when
       the day's tallies are known) that provider holds at least the cell's counts under the key. This one
       assumes what the others do not: that a name /model/info does not list (a wildcard route) is served by
       one provider.
    """
    resolved: dict[tuple[str, str], str] = {}
    listed = {model: lookups.providers_of(model) for model, _ in cells}
    for (model, key), cell in cells.items():
        own = _candidates(model, cell.providers)
        if len(own) == 1:
            resolved[(model, key)] = next(iter(own))
    if tallies is not None:
        by_key: dict[str, list[str]] = {}
        for model, key in cells:
            by_key.setdefault(key, []).append(model)
        for key, models in by_key.items():
            resolved.update(_account(key, models, cells, tallies, listed, resolved))
    shared: dict[str, set[str]] = {}
    for (model, _), cell in cells.items():
        candidates = _candidates(model, cell.providers)
        shared[model] = candidates if model not in shared else shared[model] & candidates
    for model, key in cells:
        common = shared[model]
        if (model, key) in resolved or len(common) != 1 or len(listed[model]) >= 2:
            continue
        provider = next(iter(common))
        if tallies is not None:
            room = _minus(tallies.get((provider, key), NO_TALLY), cells[(model, key)].tally())
            if min(room) < 0:
                continue
        resolved[(model, key)] = provider
    return resolved


def _account(
    key: str,
    models: list[str],
    cells: dict[tuple[str, str], Cell],
    tallies: dict[tuple[str, str], Tally],
    listed: dict[str, frozenset[str]],
    resolved: dict[tuple[str, str], str],
) -> dict[tuple[str, str], str]:
    """Rule 2 of `resolve_providers` for one key: the providers of its unknown models, or nothing."""
    residual = {p: t for (p, k), t in tallies.items() if k == key}
    known: dict[str, str] = {}
    mixed: list[str] = []
    unknown: list[str] = []
    for model in models:
        if (model, key) in resolved:
            known[model] = resolved[(model, key)]
        elif model == "unknown-model" and "unknown" in residual:
            known[model] = "unknown"  # rejected before routing: no model and no provider
        elif len(listed[model]) == 1:
            known[model] = next(iter(listed[model]))
        elif listed[model]:
            mixed.append(model)
        else:
            unknown.append(model)
    if not unknown:
        return {}
    for model, provider in known.items():
        residual[provider] = _minus(residual.get(provider, NO_TALLY), cells[(model, key)].tally())
    at_mixed = {p for model in mixed for p in listed[model]}
    explained = NO_TALLY
    for model in mixed:
        explained = _plus(explained, cells[(model, key)].tally())
    left = NO_TALLY
    for provider in at_mixed:
        left = _plus(left, residual.get(provider, NO_TALLY))
    # "unknown" also holds model-less rows, which ≤1.104 leaves out of breakdown.models: never a target.
    targets = {p: t for p, t in residual.items() if p not in at_mixed and p != "unknown" and t != NO_TALLY}
    if left != explained or any(min(t) < 0 for t in residual.values()) or not targets:
        return {}
    if len(targets) ** len(unknown) > MAX_ASSIGNMENTS:
        return {}
    names = sorted(targets)
    found: dict[str, str] | None = None
    for choice in product(names, repeat=len(unknown)):
        sums = dict.fromkeys(names, NO_TALLY)
        for model, provider in zip(unknown, choice, strict=True):
            sums[provider] = _plus(sums[provider], cells[(model, key)].tally())
        if sums == targets:
            if found is not None:
                return {}  # two ways to place them: not determined
            found = dict(zip(unknown, choice, strict=True))
    return {(model, key): provider for model, provider in (found or {}).items()}


def _tokens(cell: Cell) -> TokenCounts:
    return token_counts(
        cell.prompt,
        cell.completion,
        {"cache_read_input_tokens": cell.cache_read, "cache_creation_input_tokens": cell.cache_write},
    )

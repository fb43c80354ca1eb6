"""The `/spend/logs` wire format: the row and page structs and their decoders (a typed one for the shapes LiteLLM
sends, a tolerant one for every shape the contract allows), and how a row's raw values (one row's, or those shared
by many rows folded together: fold.py) become a UsageRecord; plus what both LiteLLM readers share (health-check keys,
the master-key literal, `token_counts`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from sys import intern
from typing import Any

import msgspec

from llm_cost.errors import SourceError
from llm_cost.records import Pricing, TokenCounts, TokenType, UsageRecord

HEALTH_CHECK_KEY = "litellm-internal-health-check"
HEALTH_CHECK_KEYS = frozenset({HEALTH_CHECK_KEY, hashlib.sha256(HEALTH_CHECK_KEY.encode()).hexdigest()})
MASTER_KEY_LITERAL = "litellm_proxy_master_key"
USER_AGENT_PREFIX = "user-agent"
TOTAL_CAP = 10_000
ONE_SECOND = timedelta(seconds=1)
ZERO = timedelta()


def parse_time(value: Any) -> datetime:
    """LiteLLM's datetime spellings (`…928+00:00`, `…928000Z`, `… 12:00:00`) as aware UTC."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"missing or malformed timestamp {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = datetime.fromisoformat(value.strip().replace(" ", "T", 1).replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def started(row: SpendRow | TypedRow) -> datetime:
    """A row's startTime; a row without a readable one is a SourceError naming it (the readers filter and order
    rows by it before they are parsed)."""
    try:
        return parse_time(row.startTime)
    except (ValueError, TypeError, OverflowError):
        raise SourceError(
            f"unexpected spend-log row from LiteLLM (missing or malformed startTime "
            f"{str(row.startTime)[:40]!r}); request_id={str(row.request_id)[:60]!r}"
        ) from None


class Metadata(msgspec.Struct):
    """The parts of a spend-log row's `metadata` that llm-cost reads; every other key is skipped unparsed."""

    user_api_key_alias: Any = None
    user_api_key_team_id: Any = None
    user_api_key_team_alias: Any = None
    user_api_key_user_id: Any = None
    user_api_key_user_email: Any = None
    user_api_key_org_id: Any = None
    additional_usage_values: Any = None
    cost_breakdown: Any = None
    spend_logs_metadata: Any = None


class SpendRow(msgspec.Struct):
    """One spend-log row as the tolerant decoder reads it (any value of any type): only the columns llm-cost reads
    are decoded (numbers with a fraction as exact Decimals), `metadata` is kept as raw JSON until the row is parsed,
    the rest is skipped."""

    request_id: Any = None
    startTime: Any = None  # LiteLLM's column names
    endTime: Any = None
    spend: Any = None
    api_key: Any = None
    prompt_tokens: Any = None
    completion_tokens: Any = None
    model: Any = None
    model_id: Any = None  # the deployment's `model_info.id` in /model/info ("" when none)
    model_group: Any = None
    custom_llm_provider: Any = None
    user: Any = None
    team_id: Any = None
    organization_id: Any = None
    end_user: Any = None
    cache_hit: Any = None
    request_tags: Any = None
    metadata: msgspec.Raw = msgspec.Raw(b"null")


class SpendPage(msgspec.Struct):
    """A `/spend/logs/v2` page."""

    data: list[SpendRow]
    total: Any = None
    total_is_capped: Any = None

    def counted(self) -> tuple[int | None, bool]:
        """The server's row count for the window (None when absent) and whether it is capped."""
        return _counted(self.total, self.total_is_capped)


def _counted(total: Any, capped: Any) -> tuple[int | None, bool]:
    exact = total if isinstance(total, int) and not isinstance(total, bool) else None
    return exact, capped is True or (exact is not None and exact >= TOTAL_CAP)


PAGE_DECODER = msgspec.json.Decoder(SpendPage, float_hook=Decimal)
LIST_DECODER = msgspec.json.Decoder(list[SpendRow], float_hook=Decimal)
_METADATA_DECODER = msgspec.json.Decoder(Metadata | str | None, float_hook=Decimal)
_NO_METADATA = Metadata()
_EMPTY_METADATA = ("", "None", "null")


class PromptDetails(msgspec.Struct, gc=False):
    """`additional_usage_values.prompt_tokens_details`: the cached tokens (where `cache_read_input_tokens` lacks)."""

    cached_tokens: int | None = None


class CompletionDetails(msgspec.Struct, gc=False):
    """`additional_usage_values.completion_tokens_details`: the reasoning tokens."""

    reasoning_tokens: int | None = None


class Usage(msgspec.Struct, gc=False):
    """The token counts of `metadata.additional_usage_values` that llm-cost reads."""

    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    prompt_tokens_details: PromptDetails | None = None
    completion_tokens_details: CompletionDetails | None = None


class Breakdown(msgspec.Struct, gc=False):
    """The per-token-type costs of `metadata.cost_breakdown` (≥~1.80) that llm-cost reads."""

    input_cost: Decimal | None = None
    output_cost: Decimal | None = None
    reasoning_cost: Decimal | None = None
    cache_read_cost: Decimal | None = None
    cache_creation_cost: Decimal | None = None


class TypedMetadata(msgspec.Struct, gc=False):
    """`Metadata` in the types LiteLLM writes, decoded with its row (so the metadata JSON is parsed once)."""

    user_api_key_alias: str | None = None
    user_api_key_team_id: str | None = None
    user_api_key_team_alias: str | None = None
    user_api_key_user_id: str | None = None
    user_api_key_user_email: str | None = None
    user_api_key_org_id: str | None = None
    additional_usage_values: Usage | None = None
    cost_breakdown: Breakdown | None = None
    spend_logs_metadata: Any = None  # the caller's own JSON; only the chargeback tag's key is read


class TypedRow(msgspec.Struct, gc=False):
    """A spend-log row in the types LiteLLM writes, metadata included: the shape fold.py sums. A value of another
    type makes the typed decoder (or `decode_typed`) refuse the page, which the reader then decodes into tolerant
    `SpendRow`s: the records are the same either way. `metadata` is a str only until `decode_typed` has decoded it
    (1.83–1.86 send it as a string)."""

    request_id: Any = None
    startTime: Any = None  # LiteLLM's column names
    endTime: Any = None
    spend: Decimal | None = None
    api_key: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None
    model_id: str | None = None
    model_group: str | None = None
    custom_llm_provider: str | None = None
    user: str | None = None
    team_id: str | None = None
    organization_id: str | None = None
    end_user: str | None = None
    cache_hit: str | bool | None = None
    request_tags: str | list[str] | None = None
    metadata: TypedMetadata | str | None = None


class TypedPage(msgspec.Struct, gc=False):
    """A `/spend/logs/v2` page of typed rows."""

    data: list[TypedRow]
    total: Any = None
    total_is_capped: Any = None

    def counted(self) -> tuple[int | None, bool]:
        """The server's row count for the window (None when absent) and whether it is capped."""
        return _counted(self.total, self.total_is_capped)


TYPED_PAGE_DECODER = msgspec.json.Decoder(TypedPage, float_hook=Decimal)
TYPED_LIST_DECODER = msgspec.json.Decoder(list[TypedRow], float_hook=Decimal)
_TYPED_METADATA_DECODER = msgspec.json.Decoder(TypedMetadata | None, float_hook=Decimal)


def decode_typed(rows: list[TypedRow]) -> list[TypedRow]:
    """The rows with metadata sent as a JSON string decoded in place. Raises msgspec.DecodeError where that string
    is no typed metadata object, for the caller to read the page with the tolerant decoder instead."""
    for row in rows:
        metadata = row.metadata
        if isinstance(metadata, str):
            empty = metadata.strip() in _EMPTY_METADATA
            row.metadata = None if empty else _TYPED_METADATA_DECODER.decode(metadata)
    return rows


def read_metadata(raw: msgspec.Raw | bytes | str) -> Metadata:
    """`metadata` is an object, or (older versions) that object as a JSON string; anything else is empty."""
    try:
        value = _METADATA_DECODER.decode(raw)
        if isinstance(value, str):
            value = _METADATA_DECODER.decode(value) if value.strip() not in _EMPTY_METADATA else None
    except msgspec.MsgspecError:
        return _NO_METADATA
    return value if isinstance(value, Metadata) else _NO_METADATA


def _json_list(value: Any) -> Any:
    """`request_tags` arrive as a list or as a JSON string of one, depending on the version."""
    if isinstance(value, str):
        try:
            return msgspec.json.decode(value)
        except msgspec.DecodeError:
            return None
    return value


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError, ArithmeticError):
        return 0


def _text(value: Any) -> str | None:
    """A dimension's text, interned: the same few providers, models, keys and teams repeat on every row, and
    thousands of groups would otherwise each keep their own copies."""
    if value.__class__ is str:
        return intern(value) if value and value != "None" else None
    return intern(str(value)) if value not in (None, "", "None") else None


def parse_tags(raw: Any, tag_keys: frozenset[str] | None, keep_user_agent: bool) -> dict[str, str]:
    """Request tags of the form `key:value` become tags. `User-Agent:` tags are dropped unless asked for;
    with `tag_keys`, only those keys are kept (they split rows, so this bounds the cardinality)."""
    tags_list = _json_list(raw)
    if not isinstance(tags_list, list):
        return {}
    tags: dict[str, str] = {}
    for item in tags_list:
        if not isinstance(item, str) or ":" not in item:
            continue
        key, _, value = item.partition(":")
        key, value = key.strip(), value.strip()
        if not key:
            continue
        if key.lower() == USER_AGENT_PREFIX and not keep_user_agent and not (tag_keys and key in tag_keys):
            continue
        if tag_keys is not None and key not in tag_keys:
            continue
        tags[intern(key)] = intern(value)
    return tags


_COMPONENTS = (
    ("input_cost", TokenType.INPUT),
    ("output_cost", TokenType.OUTPUT),
    ("reasoning_cost", TokenType.OUTPUT),
    ("cache_read_cost", TokenType.CACHE_READ),
    ("cache_creation_cost", TokenType.CACHE_WRITE),
)


def _cost_components(breakdown: Any) -> dict[TokenType, Decimal] | None:
    if not isinstance(breakdown, dict):
        return None
    components: dict[TokenType, Decimal] = {}
    for name, token_type in _COMPONENTS:
        value = breakdown.get(name)
        if value is None:
            continue
        try:
            amount = value if isinstance(value, Decimal) else Decimal(str(value))
        except ArithmeticError:
            continue
        components[token_type] = components[token_type] + amount if token_type in components else amount
    return components or None


def token_counts(prompt: int, completion: int, usage: dict[str, Any]) -> TokenCounts:
    """Split LiteLLM's prompt tokens (which include cached tokens) into uncached input, cache reads and writes."""
    if not usage:
        return TokenCounts(input=max(prompt, 0), output=completion)
    details = usage.get("prompt_tokens_details") if isinstance(usage.get("prompt_tokens_details"), dict) else {}
    cache_read = _int(usage.get("cache_read_input_tokens")) or _int((details or {}).get("cached_tokens"))
    cache_write = _int(usage.get("cache_creation_input_tokens"))
    completion_details = usage.get("completion_tokens_details")
    reasoning = _int(completion_details.get("reasoning_tokens")) if isinstance(completion_details, dict) else 0
    return TokenCounts(
        input=max(prompt - cache_read - cache_write, 0),
        output=completion,
        cache_read=cache_read,
        cache_write=cache_write,
        reasoning=reasoning,
    )


@dataclass(slots=True, frozen=True)
class RowOptions:
    """How rows become records."""

    tag_keys: frozenset[str] | None = None
    keep_user_agent: bool = False
    # The chargeback tag (`--sub-account tag:KEY`): also read from the caller's `metadata.spend_logs_metadata`
    # when the request tags lack it. Only this key is read there, so metadata never splits rows by itself.
    metadata_tag: str | None = None
    include_health_checks: bool = False
    master_key_hash: str | None = None
    # The proxy's own prices of a row's deployment: (model_id, model, provider) -> Pricing, or None for none.
    pricing: Callable[[str | None, str, str], Pricing | None] | None = None


Tags = tuple[tuple[str, str], ...]

# The raw values of a row that decide its record's dimensions, in this order: api_key, custom_llm_provider, model,
# model_id, model_group, user, team_id, organization_id, end_user, cache_hit, the request tags (`tag_pairs`), then
# metadata's user_api_key_alias, user_api_key_team_id, user_api_key_team_alias, user_api_key_user_id,
# user_api_key_user_email, user_api_key_org_id, and the chargeback tag's value in `spend_logs_metadata` (None
# without a metadata tag). Rows with equal values make equal records: fold.py sums rows by them.
RawDimensions = tuple[Any, ...]


def raw_dimensions(
    row: SpendRow | TypedRow, metadata: Metadata | TypedMetadata, tags: Tags, tag_value: object
) -> RawDimensions:
    """The raw values that decide a record's dimensions, in the order `spend_record` reads them: the row's columns,
    its parsed request tags, the key's metadata and the chargeback tag's value from `spend_logs_metadata`."""
    return (
        row.api_key,
        row.custom_llm_provider,
        row.model,
        row.model_id,
        row.model_group,
        row.user,
        row.team_id,
        row.organization_id,
        row.end_user,
        row.cache_hit,
        tags,
        metadata.user_api_key_alias,
        metadata.user_api_key_team_id,
        metadata.user_api_key_team_alias,
        metadata.user_api_key_user_id,
        metadata.user_api_key_user_email,
        metadata.user_api_key_org_id,
        tag_value,
    )


def tag_pairs(raw: Any, options: RowOptions) -> Tags:
    """A row's request tags (`parse_tags`) as sorted (key, value) pairs."""
    return tuple(sorted(parse_tags(raw, options.tag_keys, options.keep_user_agent).items()))


def _tags(pairs: Tags, value: Any, key: str | None) -> dict[str, str]:
    """A record's tags: its `key:value` request tags, and the chargeback tag `key` from the caller's
    `spend_logs_metadata` (its `value`) where the request tags lack it (a text or number value; nested values are
    not tags)."""
    tags = dict(pairs)
    if key is not None and key not in tags:
        text = str(value).strip() if isinstance(value, str | int | Decimal | float) else ""
        if text and not isinstance(value, bool):
            tags[intern(key)] = intern(text)
    return tags


def api_key_text(raw: Any) -> str:
    """A row's `api_key` as text, "" when it has none."""
    return intern(str(raw or ""))


def excluded(api_key: str, options: RowOptions) -> bool:
    """Whether a row of this key is health-check traffic to leave out."""
    return api_key in HEALTH_CHECK_KEYS and not options.include_health_checks


def row_error(row: SpendRow | TypedRow, exc: Exception) -> SourceError:
    """The error for a row without the fields every version has."""
    return SourceError(
        f"unexpected spend-log row from LiteLLM ({type(exc).__name__}: {exc}); request_id={str(row.request_id)[:60]!r}"
    )


def request_period(row: SpendRow | TypedRow, start: datetime) -> tuple[datetime, datetime]:
    """A request's own period in whole seconds, from its start to its end (an unreadable end is its start), at
    least one second long."""
    try:
        end = max(parse_time(row.endTime or row.startTime), start)
    except (ValueError, TypeError, OverflowError):
        end = start
    second = start.replace(microsecond=0)
    return second, max(end.replace(microsecond=0) + (ONE_SECOND if end.microsecond else ZERO), second + ONE_SECOND)


def spend_record(
    dims: RawDimensions,
    *,
    period: tuple[datetime, datetime],
    cost: Decimal,
    tokens: TokenCounts,
    requests: int,
    components: dict[TokenType, Decimal] | None,
    options: RowOptions,
    source: str,
    request_id: str | None = None,
) -> UsageRecord:
    """The record of `requests` rows that share `dims` (`RawDimensions`), with their summed metrics: the values
    normalised (text interned, the master key's alias and system tags, the cache-hit tag, the chargeback tag from
    metadata, the proxy's own prices)."""
    (
        raw_key,
        provider,
        model,
        model_id,
        model_group,
        user,
        team_id,
        org_id,
        end_user,
        cache_hit,
        tags,
        key_alias,
        key_team_id,
        team_alias,
        key_user_id,
        user_email,
        key_org_id,
        tag_value,
    ) = dims
    api_key = api_key_text(raw_key)
    master = api_key == MASTER_KEY_LITERAL or (
        options.master_key_hash is not None and api_key == options.master_key_hash
    )
    system_tags = {"x-master-key": "true"} if master else {}
    if str(cache_hit) == "True":
        system_tags["x-cache-hit"] = "true"
    provider = _text(provider) or "unknown"
    model = _text(model) or "unknown-model"
    return UsageRecord(
        period_start=period[0],
        period_end=period[1],
        provider=provider,
        model=model,
        cost=cost,
        tokens=tokens,
        requests=requests,
        records=requests,
        model_group=_text(model_group),
        api_key_hash=api_key or None,
        key_alias=_text(key_alias) or ("master key" if master else None),
        team_id=_text(team_id) or _text(key_team_id),
        team_alias=_text(team_alias),
        user_id=_text(user) or _text(key_user_id),
        user_email=_text(user_email),
        end_user=_text(end_user),
        org_id=_text(org_id) or _text(key_org_id),
        cost_components=components,
        tags=_tags(tags, tag_value, options.metadata_tag),
        system_tags=system_tags,
        cost_source="reported",
        source=source,
        request_id=request_id,
        pricing=None if options.pricing is None else options.pricing(_text(model_id), model, provider),
    )


def parse_spend_row(row: SpendRow, options: RowOptions, source: str) -> UsageRecord | None:
    """One tolerantly decoded spend-log row as its own record (the rows of a page the typed decoder refused);
    None for excluded health-check traffic. Raises SourceError on a row without the fields every version has."""
    try:
        if row.request_id is None:
            raise ValueError("no request_id")
        request_id = str(row.request_id)
        start = started(row)
        spend = row.spend
        cost = Decimal(0) if spend is None else spend if isinstance(spend, Decimal) else Decimal(str(spend))
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise row_error(row, exc) from None
    if excluded(api_key_text(row.api_key), options):
        return None
    metadata = read_metadata(row.metadata)
    usage = metadata.additional_usage_values
    callers = metadata.spend_logs_metadata
    tag_value = (
        callers.get(options.metadata_tag) if options.metadata_tag is not None and isinstance(callers, dict) else None
    )
    dims = raw_dimensions(row, metadata, tag_pairs(row.request_tags, options), tag_value)
    return spend_record(
        dims,
        period=request_period(row, start),
        cost=cost,
        tokens=token_counts(
            _int(row.prompt_tokens), _int(row.completion_tokens), usage if isinstance(usage, dict) else {}
        ),
        requests=1,
        components=_cost_components(metadata.cost_breakdown),
        options=options,
        source=source,
        request_id=request_id,
    )

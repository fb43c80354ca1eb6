"""The `/spend/logs` wire format: the row and page structs, their decoders, and how one row becomes a
UsageRecord; plus what both LiteLLM readers share (health-check keys, the master-key literal, `token_counts`)."""

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


def started(row: SpendRow) -> datetime:
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
    """One spend-log row as it comes off the wire: only the columns llm-cost reads are decoded (numbers with a
    fraction as exact Decimals), `metadata` is kept as raw JSON until the row is parsed, the rest is skipped."""

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
        total = self.total if isinstance(self.total, int) and not isinstance(self.total, bool) else None
        return total, self.total_is_capped is True or (total is not None and total >= TOTAL_CAP)


PAGE_DECODER = msgspec.json.Decoder(SpendPage, float_hook=Decimal)
LIST_DECODER = msgspec.json.Decoder(list[SpendRow], float_hook=Decimal)
_METADATA_DECODER = msgspec.json.Decoder(Metadata | str | None, float_hook=Decimal)
_NO_METADATA = Metadata()


def read_metadata(raw: msgspec.Raw | bytes | str) -> Metadata:
    """`metadata` is an object, or (older versions) that object as a JSON string; anything else is empty."""
    try:
        value = _METADATA_DECODER.decode(raw)
        if isinstance(value, str):
            value = _METADATA_DECODER.decode(value) if value.strip() not in ("", "None", "null") else None
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


def _tags(row: SpendRow, metadata: Metadata, options: RowOptions) -> dict[str, str]:
    """A row's tags: its `key:value` request tags, and the chargeback tag from `spend_logs_metadata` where the
    request tags lack it (a text or number value; nested values are not tags)."""
    tags = parse_tags(row.request_tags, options.tag_keys, options.keep_user_agent)
    key = options.metadata_tag
    if key is not None and key not in tags and isinstance(metadata.spend_logs_metadata, dict):
        value = metadata.spend_logs_metadata.get(key)
        text = str(value).strip() if isinstance(value, str | int | Decimal | float) else ""
        if text and not isinstance(value, bool):
            tags[intern(key)] = intern(text)
    return tags


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


def parse_spend_row(row: SpendRow, options: RowOptions, source: str) -> UsageRecord | None:
    """One spend-log row as a UsageRecord; None for excluded health-check traffic. Raises SourceError on a row
    without the fields every version has."""
    try:
        if row.request_id is None:
            raise ValueError("no request_id")
        request_id = str(row.request_id)
        start = started(row)
        spend = row.spend
        cost = Decimal(0) if spend is None else spend if isinstance(spend, Decimal) else Decimal(str(spend))
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise SourceError(
            f"unexpected spend-log row from LiteLLM ({type(exc).__name__}: {exc}); "
            f"request_id={str(row.request_id)[:60]!r}"
        ) from None
    api_key = intern(str(row.api_key or ""))
    if api_key in HEALTH_CHECK_KEYS and not options.include_health_checks:
        return None
    metadata = read_metadata(row.metadata)
    usage = metadata.additional_usage_values
    tokens = token_counts(
        _int(row.prompt_tokens), _int(row.completion_tokens), usage if isinstance(usage, dict) else {}
    )
    master = api_key == MASTER_KEY_LITERAL or (
        options.master_key_hash is not None and api_key == options.master_key_hash
    )
    system_tags = {"x-master-key": "true"} if master else {}
    if str(row.cache_hit) == "True":
        system_tags["x-cache-hit"] = "true"
    try:
        end = max(parse_time(row.endTime or row.startTime), start)
    except (ValueError, TypeError, OverflowError):
        end = start
    second = start.replace(microsecond=0)
    provider = _text(row.custom_llm_provider) or "unknown"
    model = _text(row.model) or "unknown-model"
    return UsageRecord(
        period_start=second,
        period_end=max(end.replace(microsecond=0) + (ONE_SECOND if end.microsecond else ZERO), second + ONE_SECOND),
        provider=provider,
        model=model,
        cost=cost,
        tokens=tokens,
        requests=1,
        model_group=_text(row.model_group),
        api_key_hash=api_key or None,
        key_alias=_text(metadata.user_api_key_alias) or ("master key" if master else None),
        team_id=_text(row.team_id) or _text(metadata.user_api_key_team_id),
        team_alias=_text(metadata.user_api_key_team_alias),
        user_id=_text(row.user) or _text(metadata.user_api_key_user_id),
        user_email=_text(metadata.user_api_key_user_email),
        end_user=_text(row.end_user),
        org_id=_text(row.organization_id) or _text(metadata.user_api_key_org_id),
        cost_components=_cost_components(metadata.cost_breakdown),
        tags=_tags(row, metadata, options),
        system_tags=system_tags,
        cost_source="reported",
        source=source,
        request_id=request_id,
        pricing=None if options.pricing is None else options.pricing(_text(row.model_id), model, provider),
    )

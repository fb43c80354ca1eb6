"""Grouping usage records to a grain (day | hour | request). Memory is bounded by the number of groups."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, cast

from llm_cost.records import GroupKey, TokenCounts, TokenType, UsageGroup, UsageRecord

Granularity = Literal["day", "hour", "request"]  # --granularity: the grain rows are grouped at

# The record fields that identify a group (besides the period); every other field is a metric.
DIMENSIONS = (
    "provider",
    "provider_name",
    "model",
    "model_group",
    "service_name",
    "api_key_hash",
    "key_alias",
    "key_name",
    "team_id",
    "team_alias",
    "user_id",
    "user_email",
    "user_alias",
    "end_user",
    "org_id",
    "org_alias",
    "cost_source",
    "source",
    "resource_id",
    "resource_name",
    "pricing",
)
_dimensions = operator.attrgetter(*DIMENSIONS)
_BUCKETS = {"day": timedelta(days=1), "hour": timedelta(hours=1)}
TAG_TUPLES_MEMO = 16384  # distinct tag tuples an aggregator shares between its groups' keys (cleared when full)


@dataclass(slots=True)
class _Running:
    """A group being summed: the running metrics (the dimensions are in its key)."""

    start: datetime
    end: datetime
    cost: Decimal
    input: int
    output: int
    cache_read: int
    cache_write: int
    reasoning: int
    requests: int
    records: int
    components: dict[TokenType, Decimal] | None


def add_components(
    total: dict[TokenType, Decimal], part: dict[TokenType, Decimal] | None
) -> dict[TokenType, Decimal] | None:
    """Running per-token-type costs with one more part added (in place); None once a part has none, since a partial
    breakdown must not skew the allocation. The aggregator and the spend-log fold sum components this way."""
    if part is None:
        return None
    for token_type, amount in part.items():
        total[token_type] = total.get(token_type, Decimal(0)) + amount
    return total


class Aggregator:
    """Folds records into groups keyed by period and every dimension, summing cost, tokens and requests."""

    def __init__(self, grain: Granularity = "day") -> None:
        self.grain = grain
        self._step = _BUCKETS.get(grain)
        self._buckets: dict[datetime, tuple[datetime, datetime]] = {}
        self._groups: dict[GroupKey, _Running] = {}
        self._tag_tuples: dict[object, object] = {}
        self.records = 0
        self.records_cost = Decimal(0)  # summed as records arrive, independently of the groups

    def _period(self, record: UsageRecord) -> tuple[datetime, datetime]:
        """The group's period: at day and hour grain the bucket where the record starts, whatever its end (a
        request that runs past midnight is charged to the day it started, so every row of a day ends at that
        day's end); at request grain the record's own period."""
        if self._step is None:
            return record.period_start, record.period_end
        moment = record.period_start
        if moment.tzinfo is not UTC:
            moment = moment.astimezone(UTC)
        if self.grain == "hour":
            start = moment.replace(minute=0, second=0, microsecond=0)
        else:
            start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        bucket = self._buckets.get(start)
        if bucket is None:  # one pair of objects per bucket, shared by its groups' keys
            bucket = self._buckets[start] = (start, start + self._step)
        return bucket

    def add(self, record: UsageRecord) -> None:
        """Fold one record into its group."""
        self.records += record.records
        self.records_cost += record.cost
        start, end = self._period(record)
        key: GroupKey = (
            start,
            end,
            _dimensions(record),
            tuple(sorted(record.tags.items())) if record.tags else (),
            tuple(sorted(record.system_tags.items())) if record.system_tags else (),
        )
        if self._step is None:
            key += (record.request_id or str(self.records),)
        tokens = record.tokens
        running = self._groups.get(key)
        if running is None:
            components = dict(record.cost_components) if record.cost_components is not None else None
            self._groups[self._shared(key)] = _Running(
                start,
                end,
                record.cost,
                tokens.input,
                tokens.output,
                tokens.cache_read,
                tokens.cache_write,
                tokens.reasoning,
                record.requests,
                1,
                components,
            )
            return
        running.cost += record.cost
        running.input += tokens.input
        running.output += tokens.output
        running.cache_read += tokens.cache_read
        running.cache_write += tokens.cache_write
        running.reasoning += tokens.reasoning
        running.requests += record.requests
        running.records += 1
        if running.components is not None:
            running.components = add_components(running.components, record.cost_components)

    def _shared(self, key: GroupKey) -> GroupKey:
        """A new group's key with its tag tuples shared with the other groups' (a day's groups repeat a few)."""
        tags = self._tag_tuples
        if len(tags) >= TAG_TUPLES_MEMO:
            tags.clear()
        start, end, dimensions, user_tags, system_tags, *rest = key
        return (
            start,
            end,
            dimensions,
            tags.setdefault(user_tags, user_tags),
            tags.setdefault(system_tags, system_tags),
            *rest,
        )

    def extend(self, records: Iterable[UsageRecord]) -> Aggregator:
        """Fold many records; returns self for chaining."""
        for record in records:
            self.add(record)
        return self

    def drain(self) -> Iterator[UsageGroup]:
        """The groups in a deterministic order (by period, then by every dimension), each removed as it is
        handed out, so the memory of a large aggregation is given back while its rows are written."""
        for key in sorted(self._groups, key=_sort_key):
            yield _group(key, self._groups.pop(key))


# UsageGroup's fields in order: the period, the dimensions before Tags, Tags and system tags, the dimensions after.
_GROUP_FIELDS = [f.name for f in fields(UsageGroup)]
_BEFORE_TAGS = operator.itemgetter(*(DIMENSIONS.index(f) for f in _GROUP_FIELDS[2 : _GROUP_FIELDS.index("tags")]))
_AFTER_TAGS = operator.itemgetter(
    *(DIMENSIONS.index(f) for f in _GROUP_FIELDS[_GROUP_FIELDS.index("system_tags") + 1 : _GROUP_FIELDS.index("cost")])
)
assert sorted(_GROUP_FIELDS[2 : _GROUP_FIELDS.index("cost")]) == sorted((*DIMENSIONS, "tags", "system_tags"))


def _group(key: GroupKey, running: _Running) -> UsageGroup:
    dimensions = cast(tuple[Any, ...], key[2])
    tags, system_tags = cast(tuple[tuple[str, str], ...], key[3]), cast(tuple[tuple[str, str], ...], key[4])
    return UsageGroup(  # type: ignore[call-arg]  # positional: mypy cannot count the starred dimensions
        running.start,
        running.end,
        *_BEFORE_TAGS(dimensions),
        dict(tags),
        dict(system_tags),
        *_AFTER_TAGS(dimensions),
        running.cost,
        TokenCounts(running.input, running.output, running.cache_read, running.cache_write, running.reasoning),
        running.requests,
        running.components,
        running.records,
    )


def _sort_key(key: GroupKey) -> tuple[object, ...]:
    """A key that sorts against its peers: None as "", a Pricing as its (deterministic) repr."""
    start, end, dimensions, tags, system_tags, *rest = key
    sortable = ["" if v is None else v if v.__class__ is str else repr(v) for v in cast(tuple[Any, ...], dimensions)]
    return (start, end, *sortable, tags, system_tags, *rest)

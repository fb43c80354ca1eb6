"""Grouping usage records to a grain (day | hour | request). Memory is bounded by the number of groups."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, cast

from llm_cost.records import TOKEN_TYPES, GroupKey, TokenCounts, TokenType, UsageGroup, UsageRecord

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
class Sums:
    """Running metrics of usage being summed (the spend-log fold's keys, the aggregator's groups).

    The cost components by token type are fields of their own, not a dict: a dict would take 200 bytes more per key,
    and a busy day holds tens of thousands of keys at once. A component is None while no summed part had it;
    `broken_down` turns False for good once a part without any joins, since a partial breakdown must not skew the
    allocation."""

    cost: Decimal
    input: int
    output: int
    cache_read: int
    cache_write: int
    reasoning: int
    requests: int
    broken_down: bool = True
    input_cost: Decimal | None = None
    output_cost: Decimal | None = None
    cache_read_cost: Decimal | None = None
    cache_write_cost: Decimal | None = None

    def add_components(self, part: dict[TokenType, Decimal] | None) -> None:
        """Add one part's costs by token type (a record's `cost_components`); None ends the breakdown."""
        if part is None:
            self.end_breakdown()
            return
        get = part.get
        if (amount := get(_INPUT)) is not None:
            self.input_cost = amount if (held := self.input_cost) is None else held + amount
        if (amount := get(_OUTPUT)) is not None:
            self.output_cost = amount if (held := self.output_cost) is None else held + amount
        if (amount := get(_CACHE_READ)) is not None:
            self.cache_read_cost = amount if (held := self.cache_read_cost) is None else held + amount
        if (amount := get(_CACHE_WRITE)) is not None:
            self.cache_write_cost = amount if (held := self.cache_write_cost) is None else held + amount

    def end_breakdown(self) -> None:
        """A part without a breakdown joined: the components are let go for good."""
        self.broken_down = False
        self.input_cost = self.output_cost = self.cache_read_cost = self.cache_write_cost = None

    def components(self) -> dict[TokenType, Decimal] | None:
        """The summed costs by token type; None without a breakdown (or with an empty one, which allocates alike)."""
        if not self.broken_down:
            return None
        found: dict[TokenType, Decimal] = {}
        if self.input_cost is not None:
            found[_INPUT] = self.input_cost
        if self.output_cost is not None:
            found[_OUTPUT] = self.output_cost
        if self.cache_read_cost is not None:
            found[_CACHE_READ] = self.cache_read_cost
        if self.cache_write_cost is not None:
            found[_CACHE_WRITE] = self.cache_write_cost
        return found or None


_INPUT, _OUTPUT, _CACHE_READ, _CACHE_WRITE = TOKEN_TYPES


@dataclass(slots=True)
class _Running(Sums):
    """A group being summed: the running metrics and how many records it folds (the period and the dimensions are in
    its key)."""

    records: int = 1


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
        # One flat tuple per group (the period, every dimension, the tag tuples), not a tuple of tuples: a busy day
        # holds tens of thousands of keys.
        key: GroupKey = (
            start,
            end,
            *_dimensions(record),
            tuple(sorted(record.tags.items())) if record.tags else (),
            tuple(sorted(record.system_tags.items())) if record.system_tags else (),
        )
        if self._step is None:
            key += (record.request_id or str(self.records),)
        tokens = record.tokens
        running = self._groups.get(key)
        if running is None:
            running = self._groups[self._shared(key)] = _Running(
                record.cost,
                tokens.input,
                tokens.output,
                tokens.cache_read,
                tokens.cache_write,
                tokens.reasoning,
                record.requests,
            )
            running.add_components(record.cost_components)
            return
        running.cost += record.cost
        running.input += tokens.input
        running.output += tokens.output
        running.cache_read += tokens.cache_read
        running.cache_write += tokens.cache_write
        running.reasoning += tokens.reasoning
        running.requests += record.requests
        running.records += 1
        if running.broken_down:
            running.add_components(record.cost_components)

    def _shared(self, key: GroupKey) -> GroupKey:
        """A new group's key with its tag tuples shared with the other groups' (a day's groups repeat a few)."""
        tags = self._tag_tuples
        if len(tags) >= TAG_TUPLES_MEMO:
            tags.clear()
        user_tags, system_tags = key[_TAGS_AT], key[_TAGS_AT + 1]
        return (
            *key[:_TAGS_AT],
            tags.setdefault(user_tags, user_tags),
            tags.setdefault(system_tags, system_tags),
            *key[_TAGS_AT + 2 :],
        )

    def extend(self, records: Iterable[UsageRecord]) -> Aggregator:
        """Fold many records; returns self for chaining."""
        for record in records:
            self.add(record)
        return self

    def drain(self) -> Iterator[UsageGroup]:
        """The groups in a deterministic order (by period, then by every dimension), each removed as it is
        handed out, so the memory of a large aggregation is given back while its rows are written."""
        for keys in self._in_order():
            for key in keys:
                yield _group(key, self._groups.pop(key))

    def _in_order(self) -> Iterator[list[GroupKey]]:
        """The group keys in order, at day and hour grain one model's at a time: the sort keys of a whole busy day
        would be its largest transient (5 MB for 18k groups). The models come in the order of the key fields that
        lead every sort key, so the order is the one a single sort gives, ties included (both sorts are stable). At
        request grain, where every group has a period of its own, in one sort."""
        if self._step is None:
            yield sorted(self._groups, key=_sort_key)
            return
        models: dict[tuple[object, ...], list[GroupKey]] = {}
        for key in self._groups:
            models.setdefault(_sort_key(key[:_MODEL_END]), []).append(key)
        for model in sorted(models):
            keys = models.pop(model)
            keys.sort(key=_sort_key)
            yield keys


# A group's key: its period (start, end), DIMENSIONS, then the user and system tag tuples (and a request id).
_TAGS_AT = 2 + len(DIMENSIONS)
_MODEL_END = 2 + DIMENSIONS.index("model") + 1  # the key's fields up to the model: what the drain sorts by first
# UsageGroup's fields in order: the period, the dimensions before Tags, Tags and system tags, the dimensions after.
_GROUP_FIELDS = [f.name for f in fields(UsageGroup)]
_BEFORE_TAGS = operator.itemgetter(*(2 + DIMENSIONS.index(f) for f in _GROUP_FIELDS[2 : _GROUP_FIELDS.index("tags")]))
_AFTER_TAGS = operator.itemgetter(
    *(
        2 + DIMENSIONS.index(f)
        for f in _GROUP_FIELDS[_GROUP_FIELDS.index("system_tags") + 1 : _GROUP_FIELDS.index("cost")]
    )
)
assert sorted(_GROUP_FIELDS[2 : _GROUP_FIELDS.index("cost")]) == sorted((*DIMENSIONS, "tags", "system_tags"))


def _group(key: GroupKey, running: _Running) -> UsageGroup:
    tags = cast(tuple[tuple[str, str], ...], key[_TAGS_AT])
    system_tags = cast(tuple[tuple[str, str], ...], key[_TAGS_AT + 1])
    return UsageGroup(  # type: ignore[call-arg]  # positional: mypy cannot count the starred dimensions
        cast(datetime, key[0]),
        cast(datetime, key[1]),
        *_BEFORE_TAGS(key),
        dict(tags),
        dict(system_tags),
        *_AFTER_TAGS(key),
        running.cost,
        TokenCounts(running.input, running.output, running.cache_read, running.cache_write, running.reasoning),
        running.requests,
        running.components(),
        running.records,
    )


# A dimension that is neither text nor None (a Pricing) sorts as its deterministic repr: one text per distinct value,
# which the groups of a model share (a repr takes 2.6 us and about 300 bytes).
_sortable_text = lru_cache(maxsize=256)(repr)


def _sort_key(key: GroupKey) -> tuple[object, ...]:
    """A key that sorts against its peers: None as "", a Pricing as its (deterministic) repr."""
    dimensions = cast(tuple[Any, ...], key[2:_TAGS_AT])  # all of them, or those of a leading part of a key
    sortable = ["" if v is None else v if v.__class__ is str else _sortable_text(v) for v in dimensions]
    return (key[0], key[1], *sortable, *key[_TAGS_AT:])

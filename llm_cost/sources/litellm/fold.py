"""Spend-log rows summed where they are read: one record per distinct set of raw values, not one per request.

At day and hour grain the pipeline sums requests into groups anyway. A partition sums its typed rows first, keyed
on the raw wire values that decide a record's dimensions (`RawDimensions`) and the grain's bucket of startTime,
and hands over one record per key with the summed cost, tokens, components and `requests`. The normalisation that
makes a record (interning, tag parsing, the pricing callback, system tags, lookups downstream) then runs once per
key instead of once per request. Per request there is only the key and the sums; the result is what
`parse_spend_row` and the aggregator make of the same rows, to the digit.

At request grain every request stays its own record (the key holds its request id and period).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from llm_cost.aggregate import Granularity, Sums
from llm_cost.records import TokenCounts, UsageRecord
from llm_cost.sources.litellm.stats import PullStats
from llm_cost.sources.litellm.wire import (
    Breakdown,
    RowOptions,
    SpendRow,
    Tags,
    TypedMetadata,
    TypedRow,
    api_key_text,
    excluded,
    parse_spend_row,
    raw_dimensions,
    request_period,
    row_error,
    spend_record,
    started,
    tag_pairs,
)
from llm_cost.window import Window

ZERO = Decimal(0)
_NO_METADATA = TypedMetadata()
_TAG_VALUE_TYPES = frozenset({str, int, Decimal})  # the chargeback tag values metadata can give (a bool is none)
_STEPS = {"day": timedelta(days=1), "hour": timedelta(hours=1)}
# Bounds of the fold's memos (cleared when full): distinct raw request-tag texts, and distinct raw values of keys.
TAGS_MEMO = 8192
VALUE_MEMO = 65536

# The period part of a key: the start of the grain's bucket, or per request its (start, end, request id).
Bucket = datetime | tuple[datetime, datetime, str]


class SpendFold:
    """Sums the spend-log rows of one day (or hour) of a window by key, and hands out their records.

    Rows must come from `SpendLogsReader.rows(window)`: unique, and inside `window` (so their startTime is valid,
    and when the window lies in one bucket of the grain that is every row's bucket). Counts requests, excluded
    health checks and master-key requests into `stats` as records are handed out."""

    def __init__(self, options: RowOptions, grain: Granularity, window: Window, stats: PullStats) -> None:
        self.options = options
        self.grain = grain
        self.stats = stats
        self._bucket = _only_bucket(window, grain)
        self._metadata_tag = options.metadata_tag
        self._sums: dict[tuple[Any, ...], Sums] = {}
        self._tags: dict[str | tuple[str, ...], Tags] = {}
        self._values: dict[object, object] = {}  # one copy of each raw value the keys hold
        # At request grain each key leaves with its row (the reader asks for the records after every row).
        self._sharing = grain != "request"

    def add(self, row: TypedRow) -> None:
        """Sum one row into its key. Raises SourceError on a row without a request id."""
        if row.request_id is None:
            raise row_error(row, ValueError("no request_id"))
        metadata = row.metadata
        if not isinstance(metadata, TypedMetadata):
            metadata = _NO_METADATA  # None: `decode_typed` has decoded every string
        raw_tags = row.request_tags
        if raw_tags is None:
            tags: Tags = ()
        else:
            hashable = tuple(raw_tags) if isinstance(raw_tags, list) else raw_tags
            found = self._tags.get(hashable)
            tags = self._tags_of(hashable) if found is None else found
        tag_value = None
        if self._metadata_tag is not None:
            callers = metadata.spend_logs_metadata
            tag_value = callers.get(self._metadata_tag) if callers.__class__ is dict else None
            if tag_value.__class__ not in _TAG_VALUE_TYPES:
                tag_value = None  # what is no tag value (a nested one) must not be a key: it may be unhashable
        # One flat tuple per key, the bucket and then the raw values (a busy day holds tens of thousands of keys).
        key = (self._bucket or self._bucket_of(row), *raw_dimensions(row, metadata, tags, tag_value))
        prompt = row.prompt_tokens or 0
        completion = row.completion_tokens or 0
        usage = metadata.additional_usage_values
        if usage is None:
            cache_read = cache_write = reasoning = 0
        else:
            cache_read = usage.cache_read_input_tokens or 0
            if not cache_read and usage.prompt_tokens_details is not None:
                cache_read = usage.prompt_tokens_details.cached_tokens or 0
            cache_write = usage.cache_creation_input_tokens or 0
            details = usage.completion_tokens_details
            reasoning = 0 if details is None else details.reasoning_tokens or 0
        uncached = prompt - cache_read - cache_write
        cost = ZERO if row.spend is None else row.spend
        sums = self._sums.get(key)
        if sums is None:
            sums = self._sums[self._own(key) if self._sharing else key] = Sums(
                cost, uncached if uncached > 0 else 0, completion, cache_read, cache_write, reasoning, 1
            )
            _add_breakdown(sums, metadata.cost_breakdown)
            return
        sums.cost += cost
        if uncached > 0:
            sums.input += uncached
        sums.output += completion
        sums.cache_read += cache_read
        sums.cache_write += cache_write
        sums.reasoning += reasoning
        sums.requests += 1
        if sums.broken_down:
            _add_breakdown(sums, metadata.cost_breakdown)

    def parsed(self, row: SpendRow, source: str) -> Iterator[UsageRecord]:
        """A row of a page the typed decoder refused, read tolerantly as its own record (the aggregator sums it with
        the others all the same)."""
        record = parse_spend_row(row, self.options, source)
        if record is None:
            self.stats.health_checks += 1
            return
        self._count(record)
        yield record

    def records(self, source: str) -> Iterator[UsageRecord]:
        """The records of the keys summed so far, each handed out once (health checks excluded unless asked for)."""
        sums, self._sums = self._sums, {}
        # Each key leaves the fold as its record is made, so the fold shrinks while the aggregator fills: taken from
        # the end of a reversed list (in the order they came) so that no list holds the keys handed out.
        keys = list(sums)
        keys.reverse()
        while keys:
            key = keys.pop()
            summed = sums.pop(key)
            dims = key[1:]
            if excluded(api_key_text(dims[0]), self.options):
                self.stats.health_checks += summed.requests
                continue
            period, request_id = self._period(key[0])
            record = spend_record(
                dims,
                period=period,
                cost=summed.cost,
                tokens=TokenCounts(
                    summed.input, summed.output, summed.cache_read, summed.cache_write, summed.reasoning
                ),
                requests=summed.requests,
                components=summed.components(),
                options=self.options,
                source=source,
                request_id=request_id,
            )
            self._count(record)
            yield record

    def _count(self, record: UsageRecord) -> None:
        self.stats.requests += record.requests
        if record.system_tags.get("x-master-key"):
            self.stats.master_key_requests += record.requests

    def _own(self, key: tuple[Any, ...]) -> tuple[Any, ...]:
        """A new key with its raw values shared with the other keys: a decoded page's strings are new objects on
        every row, and a day's keys repeat the same few models, API keys and users."""
        values = self._values
        if len(values) >= VALUE_MEMO:
            values.clear()
        # Typed rows give str, bool or None, and the tags a tuple of str pairs: values that equal only their own
        # kind. The last, the chargeback tag's value in metadata, may be any number (1 == True == Decimal(1)): kept.
        head = key[1:-1]
        return key[0], *map(values.setdefault, head, head), key[-1]

    def _tags_of(self, raw: str | tuple[str, ...]) -> Tags:
        """A raw `request_tags` value's tags, parsed once per distinct text (remembered up to TAGS_MEMO texts:
        User-Agent tags make nearly every request's text its own)."""
        if len(self._tags) >= TAGS_MEMO:
            self._tags.clear()
        tags = self._tags[raw] = tag_pairs(list(raw) if isinstance(raw, tuple) else raw, self.options)
        return tags

    def _bucket_of(self, row: TypedRow) -> Bucket:
        moment = started(row)
        if self.grain == "request":
            second, end = request_period(row, moment)
            return second, end, str(row.request_id)
        return _floor(moment, self.grain)

    def _period(self, bucket: Bucket) -> tuple[tuple[datetime, datetime], str | None]:
        """A key's period and request id (None at day and hour grain)."""
        if isinstance(bucket, datetime):
            return (bucket, bucket + _STEPS[self.grain]), None
        second, end, request_id = bucket
        return (second, end), request_id


def _floor(moment: datetime, grain: Granularity) -> datetime:
    """The start of the day or hour that holds `moment` (UTC)."""
    start = moment.replace(minute=0, second=0, microsecond=0)
    return start.replace(hour=0) if grain == "day" else start


def _only_bucket(window: Window, grain: Granularity) -> datetime | None:
    """The one bucket of the grain that holds all of `window`, None when it spans several (or per request)."""
    if grain == "request":
        return None
    start = _floor(window.start, grain)
    return start if window.end <= start + _STEPS[grain] else None


def _add_breakdown(sums: Sums, breakdown: Breakdown | None) -> None:
    """Add one row's costs by token type (as `_cost_components` reads them) to a key's, in place: no dict per row.
    A row without any ends the key's breakdown."""
    found = False
    if breakdown is not None:
        if (amount := breakdown.input_cost) is not None:
            sums.input_cost = amount if (held := sums.input_cost) is None else held + amount
            found = True
        if (amount := _output(breakdown)) is not None:
            sums.output_cost = amount if (held := sums.output_cost) is None else held + amount
            found = True
        if (amount := breakdown.cache_read_cost) is not None:
            sums.cache_read_cost = amount if (held := sums.cache_read_cost) is None else held + amount
            found = True
        if (amount := breakdown.cache_creation_cost) is not None:
            sums.cache_write_cost = amount if (held := sums.cache_write_cost) is None else held + amount
            found = True
    if not found:
        sums.end_breakdown()


def _output(breakdown: Breakdown) -> Decimal | None:
    """The output cost: LiteLLM's output and reasoning costs, summed in that order (a zero reasoning cost, the common
    case, adds nothing and makes no new Decimal)."""
    output, reasoning = breakdown.output_cost, breakdown.reasoning_cost
    if output is None:
        return reasoning
    return output if not reasoning else output + reasoning

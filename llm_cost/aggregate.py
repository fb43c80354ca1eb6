"""Grouping usage records to a grain (day | hour | request). Memory is bounded by the number of groups."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Literal

from llm_cost.records import GroupKey, UsageGroup, UsageRecord
from llm_cost.window import floor_to

Grain = Literal["day", "hour", "request"]

# The record fields that identify a group (besides the period); every other field is a metric.
DIMENSIONS = (
    "provider", "provider_name", "model", "model_group", "service_name", "api_key_hash", "key_alias", "team_id",
    "team_alias", "user_id", "user_email", "end_user", "org_id", "cost_source", "source", "resource_id",
    "resource_name", "pricing",
)  # fmt: skip


class Aggregator:
    """Folds records into groups keyed by period and every dimension, summing cost, tokens and requests."""

    def __init__(self, grain: Grain = "day") -> None:
        self.grain = grain
        self._groups: dict[GroupKey, UsageGroup] = {}
        self.records = 0
        self.records_cost = Decimal(0)  # summed as records arrive, independently of the groups

    def _period(self, record: UsageRecord) -> tuple[datetime, datetime]:
        """The group's period: the grain's bucket, widened to the record's own period if that is longer."""
        if self.grain == "request":
            return record.period_start, record.period_end
        start, end = floor_to(record.period_start, self.grain)
        return start, max(end, record.period_end)

    def add(self, record: UsageRecord) -> None:
        """Fold one record into its group."""
        self.records += 1
        self.records_cost += record.cost
        start, end = self._period(record)
        key: GroupKey = (
            start,
            end,
            *(_sortable(getattr(record, name)) for name in DIMENSIONS),
            tuple(sorted(record.tags.items())),
            tuple(sorted(record.system_tags.items())),
        )
        if self.grain == "request":
            key += (record.request_id or str(self.records),)
        group = self._groups.get(key)
        if group is None:
            group = UsageGroup(
                period_start=start,
                period_end=end,
                **{name: getattr(record, name) for name in DIMENSIONS},
                tags=dict(record.tags),
                system_tags=dict(record.system_tags),
                cost_components=dict(record.cost_components) if record.cost_components is not None else None,
            )
            self._groups[key] = group
        elif group.cost_components is not None:
            if record.cost_components is None:
                group.cost_components = None
            else:
                for token_type, amount in record.cost_components.items():
                    group.cost_components[token_type] = group.cost_components.get(token_type, Decimal(0)) + amount
        group.cost += record.cost
        group.tokens += record.tokens
        group.requests += record.requests
        group.records += 1

    def extend(self, records: Iterable[UsageRecord]) -> Aggregator:
        """Fold many records; returns self for chaining."""
        for record in records:
            self.add(record)
        return self

    def groups(self) -> list[UsageGroup]:
        """The groups in a deterministic order: by period, then by every dimension."""
        return [self._groups[key] for key in sorted(self._groups)]


def _sortable(value: object) -> object:
    """A key part that sorts against its peers: None as "", a Pricing as its (deterministic) repr."""
    if value is None:
        return ""
    return value if isinstance(value, str) else repr(value)

"""The ledger (a destination): FOCUS rows folded into per-day spend for every scope `check` judges, and the models
each day used. It reads FOCUS columns and Tags only, so it works for every source.

Where each scope's value comes from (a row without it counts toward no value of that scope, only the total):

| Scope | Id | Name |
|---|---|---|
| total | `` | `` |
| team | Tags `x-team-id` (estimates: `team_id`), else `SubAccountId` when `SubAccountType` is Team | the alias |
| key | `BillingAccountId` when `BillingAccountType` is API Key | `BillingAccountName` |
| user | Tags `x-user-id` (estimates: `user_id`), else `SubAccountId` when it is a User | e-mail, else alias |
| model | `x_Model`, else `SkuId` | the same |
| provider | `ProviderName` | the same |
| tag:KEY | Tags `KEY`, else `SubAccountId` when `SubAccountType` is `Tag KEY` | the same |
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec

from llm_cost.focus.mapping import FocusRow
from llm_cost.guard.rules import ACTUAL, ESTIMATE
from llm_cost.records import EXACT
from llm_cost.sinks.interface import Destination

ZERO = Decimal(0)
_decode_tags = msgspec.json.Decoder(dict[str, Any]).decode


@dataclass(frozen=True, slots=True, order=True)
class Series:
    """One line of spend: a cost kind (actual or estimate), a scope and one of its values (by id)."""

    cost: str
    scope: str
    id: str


@dataclass(slots=True)
class ModelDay:
    """A model on one day: its spend, whether it was used (spend, or tokens), and whether a used row of it had no
    list price (an unknown model)."""

    spend: Decimal = ZERO
    used: bool = False
    unknown: bool = False


@dataclass(frozen=True, slots=True)
class ModelUse:
    """A model used on some of the judged days, for the policy: its model groups too, and whether it was unknown."""

    cost: str
    model: str
    groups: tuple[str, ...]
    spend: Decimal
    unknown: bool
    first: date
    last: date


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """The exact sum of amounts, whatever the thread's Decimal context."""
    total = ZERO
    for value in values:
        total = EXACT.add(total, value)
    return total


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


@dataclass(slots=True)
class Ledger(Destination):
    """Per-day spend by cost kind, scope and value; the display names of the values (the latest day's); the
    models used per day. `tag_keys` are the `tag:KEY` scopes to keep."""

    tag_keys: tuple[str, ...] = ()
    spend: dict[Series, dict[date, Decimal]] = field(default_factory=dict)
    names: dict[Series, tuple[date, str]] = field(default_factory=dict)
    models: dict[tuple[str, str, date], ModelDay] = field(default_factory=dict)
    groups: dict[str, set[str]] = field(default_factory=dict)
    rows: int = 0

    def write(self, row: FocusRow) -> None:
        """Fold one row in."""
        cost = Decimal(row.get("BilledCost") or "0")
        day = date.fromisoformat((row.get("ChargePeriodStart") or "")[:10])
        kind = ESTIMATE if row.get("x_CostSource") == "estimated" else ACTUAL
        text = row.get("Tags")
        tags = _decode_tags(text) if text else {}
        self.rows += 1
        for scope, value_id, name in self._values(row, tags, kind):
            self._add(Series(kind, scope, value_id), day, cost, name)
        model = row.get("x_Model") or row.get("SkuId") or ""
        quantity = Decimal(row.get("ConsumedQuantity") or "0") if row.get("ConsumedUnit") == "Tokens" else ZERO
        used = cost != 0 or quantity > 0
        unknown = (
            tags.get("x-price-source") == "override" if kind == ESTIMATE else tags.get("x-list-price") == "unknown"
        )
        entry = self.models.setdefault((kind, model, day), ModelDay())
        entry.spend = EXACT.add(entry.spend, cost)
        entry.used = entry.used or used
        entry.unknown = entry.unknown or (used and unknown)
        group = _text(tags.get("model_group" if kind == ESTIMATE else "x-model-group"))
        if group and group != model:
            self.groups.setdefault(model, set()).add(group)

    def _values(self, row: FocusRow, tags: dict[str, Any], kind: str) -> Iterator[tuple[str, str, str]]:
        """(scope, id, name) of every scope the row has a value of."""
        estimate = kind == ESTIMATE
        sub_type, sub_id, sub_name = row.get("SubAccountType"), row.get("SubAccountId"), row.get("SubAccountName")
        yield "total", "", ""
        team = _text(tags.get("team_id" if estimate else "x-team-id"))
        team_name = _text(tags.get("team_alias" if estimate else "x-team-alias"))
        if not team and sub_type == "Team" and sub_id:
            team, team_name = sub_id, sub_name
        if team:
            yield "team", team, team_name or team
        if row.get("BillingAccountType") == "API Key" and (key := row.get("BillingAccountId")):
            yield "key", key, row.get("BillingAccountName") or key
        user = _text(tags.get("user_id" if estimate else "x-user-id"))
        user_name = _text(tags.get("user_email" if estimate else "x-user-email")) or _text(
            tags.get("user_alias" if estimate else "x-user-alias")
        )
        if not user and sub_type == "User" and sub_id:
            user, user_name = sub_id, sub_name
        if user:
            yield "user", user, user_name or user
        if model := row.get("x_Model") or row.get("SkuId"):
            yield "model", model, model
        if provider := row.get("ProviderName"):
            yield "provider", provider, provider
        for key in self.tag_keys:
            value = _text(tags.get(key))
            if value is None and sub_type == f"Tag {key}" and sub_id:
                value = sub_id
            if value is not None:
                yield f"tag:{key}", value, value

    def _add(self, series: Series, day: date, cost: Decimal, name: str) -> None:
        days = self.spend.setdefault(series, {})
        days[day] = EXACT.add(days.get(day, ZERO), cost)
        known = self.names.get(series)
        if known is None or (day, name) > known:  # the latest day's name; on a tie the greatest, whatever the order
            self.names[series] = (day, name)

    def merge(self, other: Ledger) -> Ledger:
        """Add another ledger (a source of a labelled run) to this one; returns self."""
        self.rows += other.rows
        for series, days in other.spend.items():
            mine = self.spend.setdefault(series, {})
            for day, cost in days.items():
                mine[day] = EXACT.add(mine.get(day, ZERO), cost)
        for series, (day, name) in other.names.items():
            known = self.names.get(series)
            if known is None or (day, name) > known:
                self.names[series] = (day, name)
        for key, entry in other.models.items():
            mine_entry = self.models.setdefault(key, ModelDay())
            mine_entry.spend = EXACT.add(mine_entry.spend, entry.spend)
            mine_entry.used = mine_entry.used or entry.used
            mine_entry.unknown = mine_entry.unknown or entry.unknown
        for model, groups in other.groups.items():
            self.groups.setdefault(model, set()).update(groups)
        return self

    def commit(self) -> Ledger:
        return self

    def display_names(self) -> dict[Series, str]:
        """Each value's name (as the latest day with it had it)."""
        return {series: name for series, (_, name) in self.names.items()}

    def model_uses(self, days: Iterable[date]) -> list[ModelUse]:
        """The models used on the given days (spend, or tokens), per cost kind, in name order."""
        wanted = set(days)
        found: dict[tuple[str, str], list[tuple[date, ModelDay]]] = {}
        for (kind, model, day), entry in self.models.items():
            if day in wanted and entry.used:
                found.setdefault((kind, model), []).append((day, entry))
        uses = []
        for (kind, model), entries in sorted(found.items()):
            used_days = [day for day, _ in entries]
            uses.append(
                ModelUse(
                    kind,
                    model,
                    tuple(sorted(self.groups.get(model, ()))),
                    exact_sum(entry.spend for _, entry in entries),
                    any(entry.unknown for _, entry in entries),
                    min(used_days),
                    max(used_days),
                )
            )
        return uses

    def totals(self, days: Iterable[date]) -> dict[str, Decimal]:
        """The total spend of the given days per cost kind (the kinds with rows)."""
        wanted = set(days)
        return {
            series.cost: exact_sum(cost for day, cost in spend.items() if day in wanted)
            for series, spend in sorted(self.spend.items())
            if series.scope == "total"
        }

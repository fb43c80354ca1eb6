"""The LiteLLM source: `--mode spend-logs` (per request) and `--mode daily-activity` (per day), behind the
source interface. It opens the client, checks the key's scope, and hands out one partition per UTC day (per hour
for spend-logs at hour and request grain); with `--reconcile` it verifies the run by pulling the other endpoint."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from functools import partial

from llm_cost.errors import ConfigError
from llm_cost.focus.dimensions import sub_account_tag
from llm_cost.pricing import PriceBook
from llm_cost.records import UsageRecord
from llm_cost.reports import Table
from llm_cost.sources.interface import Partition, Source, Verification, Warn
from llm_cost.sources.litellm.client import LiteLLMClient
from llm_cost.sources.litellm.daily_activity import daily_activity_partitions
from llm_cost.sources.litellm.lookups import Lookups
from llm_cost.sources.litellm.reconcile import SpendTap, compare, differences_table
from llm_cost.sources.litellm.settings import LiteLLMSettings

__all__ = ["LiteLLMSettings", "LiteLLMSource", "upload_periods"]
from llm_cost.sources.litellm.spend_logs import spend_log_partitions
from llm_cost.sources.litellm.stats import PullStats
from llm_cost.sources.litellm.tag_activity import tag_splitter
from llm_cost.sources.litellm.wire import RowOptions
from llm_cost.window import resolve_window


class LiteLLMSource(Source):
    """Usage pulled from a LiteLLM proxy's admin API over a closed UTC window."""

    def __init__(self, settings: LiteLLMSettings, warn: Warn, *, now: datetime | None = None) -> None:
        if settings.mode == "daily-activity" and settings.granularity != "day":
            raise ConfigError(
                f"--mode daily-activity is per day; --granularity {settings.granularity} needs --mode spend-logs"
            )
        self.settings = settings
        self.window = resolve_window(
            start=settings.start,
            end=settings.end,
            day=settings.day,
            month=settings.month,
            now=now or datetime.now(UTC),
            include_partial=settings.include_partial,
        )
        key = settings.litellm_key.get_secret_value() if settings.litellm_key else None
        self.client = LiteLLMClient(
            base_url=settings.litellm_url, api_key=key, ca_bundle=settings.ca_bundle, retry=settings.retry
        )
        try:
            self.prices = PriceBook()
            self.stats = PullStats(version=self.client.version())
            self.lookups = Lookups(self.client, self.prices, warn=warn)
            self.lookups.check_admin_scope()
        except BaseException:
            self.client.close()
            raise
        self.grain = settings.granularity
        self.label = f"LiteLLM {settings.mode}"
        self._tap = SpendTap()
        self._parts: list[Partition] | None = None

    def partitions(self) -> Iterator[Partition]:
        parts = self._planned()
        return iter([self._tap.tapped(p) for p in parts] if self.settings.reconcile else parts)

    def partition_count(self) -> int:
        return len(self._planned())

    def _planned(self) -> list[Partition]:
        """The partitions of the configured endpoint, planned once (thunks: nothing is read yet)."""
        if self._parts is None:
            self._parts = list(self._partitions(self.settings.mode, self.stats))
        return self._parts

    def _partitions(self, mode: str, stats: PullStats) -> Iterator[Partition]:
        """One partition per UTC day of the window (per hour at finer grains of spend-logs), from one endpoint."""
        chargeback = sub_account_tag(self.settings.sub_account)
        if mode == "daily-activity":
            # /user/daily/activity has no tags: the chargeback tag's values come from /tag/daily/activity. The
            # other endpoint of --reconcile compares spend only, so it skips those reads.
            split = chargeback if mode == self.settings.mode else None
            return daily_activity_partitions(
                self.client,
                self.window,
                stats,
                self.lookups,
                version=stats.version,
                include_health_checks=self.settings.include_health_checks,
                tag_split=((split, tag_splitter(self.client, version=stats.version, key=split)) if split else None),
            )
        tag_keys = set(self.settings.tag_keys or ())
        if tag_keys and chargeback:
            tag_keys.add(chargeback)  # --tag-key bounds the tags kept; the chargeback tag is always among them
        options = RowOptions(
            metadata_tag=chargeback,
            tag_keys=frozenset(tag_keys) if tag_keys else None,
            include_health_checks=self.settings.include_health_checks,
            master_key_hash=self.client.key_hash,
            pricing=self.lookups.pricing,
        )
        names: dict[str, str] = {}
        enrich = self.lookups.enrich

        def named(records: Iterable[UsageRecord]) -> Iterator[UsageRecord]:
            """The provider's display name, and the key name, user email and alias and org alias of the ids."""
            for record in records:
                name = names.get(record.provider)
                if name is None:
                    name = names[record.provider] = self.lookups.prices.provider_name(record.provider)
                record.provider_name = name
                enrich(record)
                yield record

        return (
            partial(lambda part: named(part()), part)
            for part in spend_log_partitions(
                self.client, self.window, stats, options, version=stats.version, grain=self.grain
            )
        )

    def report(self) -> list[str]:
        self.stats.http_requests, self.stats.retries = self.client.requests, self.client.retries
        return self.stats.lines()

    def verify(self) -> Verification | None:
        """With --reconcile: pull the other endpoint for the same window and compare spend per day and per day x
        model, within the tolerances."""
        if not self.settings.reconcile:
            return None
        other = "daily-activity" if self.settings.mode == "spend-logs" else "spend-logs"
        other_tap = SpendTap()
        for part in self._partitions(other, PullStats(version=self.stats.version)):
            for record in part():
                other_tap.add(record)
        spend_logs, daily = (self._tap, other_tap) if self.settings.mode == "spend-logs" else (other_tap, self._tap)
        differences = compare(
            spend_logs, daily, tolerance=self.settings.tolerance, tolerance_pct=self.settings.tolerance_pct
        )
        table: Table = differences_table(differences)
        bad = [d for d in differences if not d.within]
        failure = (
            (
                f"--reconcile: {len(bad)} difference(s) beyond the tolerance between /spend/logs and "
                "/user/daily/activity; nothing was written"
            )
            if bad
            else None
        )
        return Verification(table, failure)

    def close(self) -> None:
        self.client.close()


def upload_periods(
    settings: LiteLLMSettings, now: datetime | None = None
) -> list[tuple[dict[str, object], tuple[date, date]]]:
    """The replaceable periods of an upload: every UTC day of the window, each pulled on its own (a backfill re-run
    replaces day by day), with the settings that select it. A window that cuts a day is refused."""
    window = resolve_window(
        start=settings.start,
        end=settings.end,
        day=settings.day,
        month=settings.month,
        now=now or datetime.now(UTC),
        include_partial=settings.include_partial,
    )
    days = list(window.days())
    if not all(d.is_whole_day() for d in days):
        raise ConfigError(f"upload replaces whole UTC days, but {window} cuts a day; give --start/--end at midnight")
    selector = {"start": None, "end": None, "month": None}
    return [({**selector, "day": d.start.date().isoformat()}, (d.start.date(), d.end.date())) for d in days]

"""`--sub-account tag:KEY` in `--mode daily-activity`: split each day x model x key of `/user/daily/activity` by
the value of one request tag, read from `/tag/daily/activity` (litellm-api.md §2c).

The tag table holds one row per tag of a request, so a day's totals there count a request once per tag: it cannot
replace the user table, only apportion it. For one day we list the day's tags (`breakdown.entities` of the
unfiltered read), keep those of the form `KEY:value`, read each one on its own (`tags=KEY:value`, where its
`models[m].api_key_breakdown[k]` is tag x model x key), and take those parts out of the user table's cells. What
is left of a cell has no value of KEY: an empty sub-account. The user table stays the authority for every total,
so the day reconciles with it exactly; a tagged part larger than its cell (a request carrying two values of KEY,
or a tagged request the user table lacks) fails loudly instead of inventing money.

Only request tags are in the tag table: a chargeback value given in `metadata.spend_logs_metadata` is read by
`--mode spend-logs` alone.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from llm_cost.errors import SourceError
from llm_cost.sources.litellm.client import LiteLLMClient
from llm_cost.sources.litellm.daily_activity import (
    ENUMERATION_READS,
    PATH,
    Cell,
    CellKey,
    DailyActivityReader,
    PieceKey,
    TagSplit,
)
from llm_cost.sources.litellm.stats import PullStats
from llm_cost.sources.litellm.wire import parse_tags

TAG_PATH = "/tag/daily/activity"
# A tagged part's spend may exceed its cell by the float rounding of the proxy's two sums, never by more.
SPEND_NOISE = Decimal("1e-9")
# The tags of one row-count request, joined with commas, stay under this many characters (a URL's safe length).
COUNT_QUERY_CHARS = 2000


def tag_splitter(client: LiteLLMClient, *, version: str | None, key: str) -> TagSplit:
    """The splitter `daily_activity_partitions` calls per day for `--sub-account tag:KEY`."""

    def split(day: date, cells: dict[CellKey, Cell], stats: PullStats) -> dict[PieceKey, Cell]:
        parts = TagActivityReader(client, stats, version=version, key=key).parts(day)
        return split_cells(cells, parts, key=key, day=day)

    return split


def tag_value(tag: str, key: str) -> str | None:
    """The value of `key` in one raw request tag (`cost-center:eng`, ` cost-center : eng `), as the spend-logs
    reader parses it; None for another key or an empty value."""
    return parse_tags([tag], frozenset({key}), keep_user_agent=True).get(key) or None


class TagActivityReader:
    """Reads one day of `/tag/daily/activity` for the values of one tag key, with the paging protections of the
    user endpoint's reader (the same server code pages both)."""

    def __init__(self, client: LiteLLMClient, stats: PullStats, *, version: str | None, key: str) -> None:
        self.key = key
        self.stats = stats
        # The tag endpoint has no /aggregated we can rely on: an unstable multi-page read is split instead.
        self.reader = DailyActivityReader(client, stats, version=version, path=TAG_PATH, aggregated_path=None)

    def tags(self, day: date) -> set[str]:
        """Every tag of the day, from `breakdown.entities`. On a proxy that pages in an unstable order (<1.95) a
        multi-page day is read ENUMERATION_READS more times, and the tags found must hold every row of the day."""
        reader = self.reader
        results, pages = reader.pages(day, {})
        tags = _entity_names(results)
        if pages > 1 and not reader.stable_order:
            for _ in range(ENUMERATION_READS):
                tags |= _entity_names(reader.pages(day, {})[0])
                self.stats.requeries += 1
            self._check_tags(day, tags)
        return tags

    def _check_tags(self, day: date, tags: set[str]) -> None:
        whole = self.reader.row_count(day, {})
        if whole is None or any("," in tag for tag in tags):
            self.stats.notes.append(
                f"{TAG_PATH} for {day}: the tags found over several unstable reads were not counted"
            )
            return
        counted = 0
        for chunk in _chunks(sorted(tags)):
            counted += self.reader.row_count(day, {"tags": ",".join(chunk)}) or 0
        if counted != whole:
            raise SourceError(
                f"{TAG_PATH} for {day} has {whole} rows, but the {len(tags)} tags found over {ENUMERATION_READS + 1} "
                f"reads hold {counted}: this proxy pages in an unstable order (<1.95), so the day's tags cannot be "
                "listed exactly; upgrade it or use --mode spend-logs"
            )

    def parts(self, day: date) -> dict[CellKey, dict[str, Cell]]:
        """(model, key) -> value of the tag key -> the sums of the requests that carry it, for one day."""
        by_value: dict[str, list[str]] = {}
        for tag in sorted(self.tags(day)):
            value = tag_value(tag, self.key)
            if value is not None:
                by_value.setdefault(value, []).append(tag)
        parts: dict[CellKey, dict[str, Cell]] = {}
        for value, spellings in sorted(by_value.items()):
            for tag in spellings:
                if "," in tag:
                    raise SourceError(
                        f"tag {tag[:80]!r} of {day} holds a comma, which {TAG_PATH} cannot filter by (it splits "
                        "its tags parameter at commas); use --mode spend-logs for --sub-account "
                        f"tag:{self.key}"
                    )
                for cell_key, cell in self.reader.cells(day, {"tags": tag}).items():
                    part = parts.setdefault(cell_key, {}).setdefault(value, Cell())
                    _subtract(part, cell, sign=-1)
        self.stats.notes.append(f"sub-account tag:{self.key} on {day}: {len(by_value)} values read from {TAG_PATH}")
        return parts


def _entity_names(results: list[dict[str, Any]]) -> set[str]:
    names: set[str] = set()
    for result in results:
        breakdown = result.get("breakdown")
        entities = breakdown.get("entities") if isinstance(breakdown, dict) else None
        if entities is None:
            continue
        if not isinstance(entities, dict):
            raise SourceError(f"unexpected response from {TAG_PATH}: breakdown.entities is not an object")
        names.update(str(name) for name in entities)
    return names


def _chunks(tags: list[str]) -> list[list[str]]:
    """The tags in groups whose comma-joined length stays under COUNT_QUERY_CHARS."""
    chunks: list[list[str]] = [[]]
    size = 0
    for tag in tags:
        if chunks[-1] and size + len(tag) + 1 > COUNT_QUERY_CHARS:
            chunks.append([])
            size = 0
        chunks[-1].append(tag)
        size += len(tag) + 1
    return chunks


def _deficits(rest: Cell) -> list[str]:
    """The counts of a cell's untagged rest that came out negative."""
    counts = {
        "requests": rest.requests,
        "prompt tokens": rest.prompt,
        "completion tokens": rest.completion,
        "cache-read tokens": rest.cache_read,
        "cache-write tokens": rest.cache_write,
    }
    return [name for name, value in counts.items() if value < 0]


def _no_counts(cell: Cell) -> bool:
    return not (cell.requests or cell.prompt or cell.completion or cell.cache_read or cell.cache_write)


def split_cells(
    cells: dict[CellKey, Cell], parts: dict[CellKey, dict[str, Cell]], *, key: str, day: date
) -> dict[PieceKey, Cell]:
    """PURE: each user-table cell split into its tagged parts and its untagged rest, which sum to the cell exactly
    (counts and Decimal spend). The rest's spend is the exact difference, except where it is float rounding only
    (within SPEND_NOISE): the parts hold every request of the cell, or the rest would come out below zero. Then the
    rounding goes to the largest part, so no row of a few attodollars (or of minus a few) appears. A part larger than
    its cell is a SourceError. Pieces keep their cell's key metadata and providers."""
    for model, api_key in sorted(parts.keys() - cells.keys()):
        raise SourceError(
            f"{TAG_PATH} has requests tagged {key} on {day} for model {model}, key {api_key[:16] or '(none)'}, "
            f"that {PATH} lacks; the tags cannot be apportioned (use --mode spend-logs)"
        )
    pieces: dict[PieceKey, Cell] = {}
    for (model, api_key), cell in cells.items():
        tagged = {
            value: replace(part, metadata=cell.metadata, providers=cell.providers)
            for value, part in parts.get((model, api_key), {}).items()
        }
        rest = replace(cell)
        for part in tagged.values():
            _subtract(rest, part)
        noise = SPEND_NOISE * max(abs(cell.spend), Decimal(1))
        over = _deficits(rest) or (["spend"] if rest.spend < -noise else [])
        if over:
            raise SourceError(
                f"{TAG_PATH} gives more {', '.join(over)} for tag key {key} on {day}, model {model}, key "
                f"{api_key[:16] or '(none)'}, than {PATH} has: a request carries two values of {key}, or the "
                "two tables disagree; use --mode spend-logs for this chargeback"
            )
        if tagged and (rest.spend < 0 or (_no_counts(rest) and abs(rest.spend) <= noise)):
            largest = max(tagged, key=lambda value: (tagged[value].spend, value))
            tagged[largest].spend += rest.spend
            rest.spend = Decimal(0)
        for value, part in tagged.items():
            pieces[(model, api_key, value)] = part
        if not tagged or rest.spend or not _no_counts(rest):
            pieces[(model, api_key, None)] = rest
    return pieces


def _subtract(rest: Cell, part: Cell, *, sign: int = 1) -> None:
    """rest -= part (sign -1: rest += part), on spend and every count."""
    rest.spend -= sign * part.spend
    rest.prompt -= sign * part.prompt
    rest.completion -= sign * part.completion
    rest.cache_read -= sign * part.cache_read
    rest.cache_write -= sign * part.cache_write
    rest.requests -= sign * part.requests

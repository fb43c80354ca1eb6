"""Spend per UTC day as pictures: a bar chart for the terminal (stderr) and a Mermaid `xychart-beta` block for
GitHub markdown. Pure: totals in, a renderable or text out; nothing here knows a source, a destination or FOCUS.

    series = day_series(totals, top=5)  # {(day, key): Decimal} -> the top keys by spend, the rest as "other"
    if (chart := rich_chart(series, "spend per day by model")) is not None:
        console.print(chart)
    markdown += mermaid(series, "spend per day by model")  # "" for fewer than two days

Money stays Decimal: the terminal shows each day's exact total; Mermaid gets values rounded to cents (the picture
needs no more). Names are sanitised for both, so a hostile model or team name cannot break out of either."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from llm_cost.formats import format_decimal

TOP = 5  # series shown by name; the rest are summed into OTHER
OTHER = "other"
NAME_LIMIT, TITLE_LIMIT = 40, 100  # characters shown of a series name and of a chart's title
CENT = Decimal("0.01")

# One glyph per series besides its colour, so the chart reads without colour (NO_COLOR, logs); "other" is dotted.
# Six of each: the TOP series and a single leftover key that keeps its name.
GLYPHS = ("█", "▒", "▓", "░", "▞", "▪")
ASCII_GLYPHS = ("#", "=", "+", "~", "*", ":")
OTHER_GLYPH, ASCII_OTHER_GLYPH = "·", "."
COLOURS = ("cyan", "magenta", "yellow", "green", "blue", "red")
OTHER_COLOUR = "bright_black"
MIN_BAR = 10  # cells of the widest bar on the narrowest console
MERMAID_UNSAFE = frozenset('"`%#;<>[]{}\\&')  # quotes end a string; %% starts a directive; backticks end the fence


@dataclass(frozen=True, slots=True)
class DaySeries:
    """Spend per UTC day (`YYYY-MM-DD`, ascending, no gaps), split into named series: the top keys by spend over
    all the days, largest first, then OTHER with the rest (`folded` keys; 0 when nothing was folded).
    `values[i][d]` is series i on day d."""

    days: tuple[str, ...]
    names: tuple[str, ...]
    values: tuple[tuple[Decimal, ...], ...]
    folded: int = 0
    currency: str = "USD"

    @property
    def totals(self) -> tuple[Decimal, ...]:
        """Each day's total over every series."""
        return tuple(sum((series[d] for series in self.values), Decimal(0)) for d in range(len(self.days)))

    @property
    def chartable(self) -> bool:
        """A chart needs more than one day (a single day is what the tables already say)."""
        return len(self.days) > 1 and bool(self.names)


def day_series(
    totals: Mapping[tuple[str, str], Decimal],
    top: int = TOP,
    *,
    days: Iterable[str] | None = None,
    currency: str = "USD",
) -> DaySeries:
    """Per-day series from amounts keyed by (day, key): the `top` keys with the largest spend over all the days
    (ties by name) by name, the others summed into one OTHER series (a single leftover key keeps its name). The
    days are `days` if given, else every day from the first to the last that has an amount (missing days are 0)."""
    if top < 1:
        raise ValueError("top must be at least 1")
    day_list = tuple(sorted(set(days))) if days is not None else _span(day for day, _ in totals)
    index = {day: number for number, day in enumerate(day_list)}
    charted = {(day, key): amount for (day, key), amount in totals.items() if day in index}
    by_key: dict[str, Decimal] = defaultdict(Decimal)
    for (_, key), amount in charted.items():
        by_key[key] += amount
    ranked = sorted(by_key, key=lambda key: (-by_key[key], key))
    kept = ranked if len(ranked) <= top + 1 else ranked[:top]
    folded = len(ranked) - len(kept)
    names = (*kept, _unique(OTHER, kept)) if folded else tuple(kept)
    row_of = {name: number for number, name in enumerate(kept)}
    values = [[Decimal(0)] * len(day_list) for _ in names]
    for (day, key), amount in charted.items():
        values[row_of.get(key, len(kept))][index[day]] += amount
    return DaySeries(day_list, names, tuple(tuple(v) for v in values), folded, currency)


def _unique(name: str, taken: Iterable[str]) -> str:
    """OTHER, or `(other)`, `((other))`… when a real key already has that name."""
    names = set(taken)
    while name in names:
        name = f"({name})"
    return name


def _span(days: Iterable[str]) -> tuple[str, ...]:
    """Every day from the first to the last given, so a day without spend shows as 0 rather than vanishing."""
    present = sorted(set(days))
    if len(present) < 2:
        return tuple(present)
    try:
        first, last = date.fromisoformat(present[0]), date.fromisoformat(present[-1])
    except ValueError:  # not ISO days: chart the days there are
        return tuple(present)
    return tuple((first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1))


def _terminal_text(name: str, limit: int = NAME_LIMIT) -> str:
    """A name as one printable line (no escape sequences or newlines reach the terminal), shortened."""
    text = " ".join("".join(c if c.isprintable() else " " for c in name).split()) or "(none)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _mermaid_text(name: str, limit: int = NAME_LIMIT) -> str:
    """A name safe inside a quoted Mermaid string and a markdown fence: no quotes, backticks, `%%` directives,
    entity `#…;` codes, brackets or newlines; printable, one line, shortened."""
    kept = "".join(
        " " if c.isspace() or unicodedata.category(c).startswith("C") else "_" if c in MERMAID_UNSAFE else c
        for c in name
    )
    return _terminal_text(kept, limit)


def cents(value: Decimal) -> str:
    """A Mermaid number: rounded to cents, fixed-point (`12.38`, `0.00`, `-3.50`; never `1E+2`)."""
    rounded = value.quantize(CENT, rounding=ROUND_HALF_UP)
    return format(rounded if rounded else abs(rounded), "f")


def mermaid(series: DaySeries, title: str) -> str:
    """Markdown: a fenced Mermaid `xychart-beta` block (GitHub draws it) with the days on the x axis, a bar per day
    for its total and, with more than one series, a line per series; then a one-line key of the lines. Values are
    rounded to cents. Empty for fewer than two days."""
    if not series.chartable:
        return ""
    totals = series.totals
    lines = series.values if len(series.names) > 1 else ()
    plotted = [*totals, *(v for s in lines for v in s)]
    low = min(Decimal(0), min(plotted).quantize(CENT, rounding=ROUND_FLOOR))
    high = max(CENT, max(plotted).quantize(CENT, rounding=ROUND_CEILING))
    same_year = len({day[:4] for day in series.days}) == 1
    labels = ", ".join(f'"{_mermaid_text(day[5:] if same_year else day)}"' for day in series.days)
    currency = _mermaid_text(series.currency)
    body = [
        "```mermaid",
        "xychart-beta",
        f'    title "{_mermaid_text(title, TITLE_LIMIT)}"',
        f"    x-axis [{labels}]",
        f'    y-axis "{currency}" {cents(low)} --> {cents(high)}',
        f'    bar "total" [{", ".join(cents(v) for v in totals)}]',
    ]
    body += [
        f'    line "{_mermaid_text(name)}" [{", ".join(cents(v) for v in values)}]'
        for name, values in zip(series.names, lines, strict=False)
    ]
    body.append("```")
    key = f"Bars: each day's total ({currency}), {_mermaid_text(series.days[0])} to {_mermaid_text(series.days[-1])}"
    if lines:
        key += "; lines, in order: " + ", ".join(f"`{_legend_name(series, n)}`" for n in range(len(series.names)))
    return "\n".join(body) + "\n\n" + key + ".\n"


def _legend_name(series: DaySeries, number: int) -> str:
    name = _mermaid_text(series.names[number])
    return f"{name} ({series.folded} more)" if series.folded and number == len(series.names) - 1 else name


def rich_chart(series: DaySeries, title: str) -> DayChart | None:
    """A rich renderable for the terminal: a row per day, a bar scaled to the largest day, segmented by series
    (a colour and a glyph each, so it reads without colour), the day's exact total, and a legend. None for fewer
    than two days."""
    return DayChart(series, title) if series.chartable else None


@dataclass(frozen=True, slots=True)
class DayChart:
    """The terminal chart of a DaySeries (see `rich_chart`); fits the console width, ASCII where it must."""

    series: DaySeries
    title: str

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        series = self.series
        glyphs, other_glyph = (ASCII_GLYPHS, ASCII_OTHER_GLYPH) if options.ascii_only else (GLYPHS, OTHER_GLYPH)
        styles = [self._style(n, glyphs, other_glyph) for n in range(len(series.names))]
        labels = [format_decimal(total) for total in series.totals]
        label_width = max(len(label) for label in labels)
        days = [_terminal_text(day) for day in series.days]
        day_width = max(len(day) for day in days)
        width = max(MIN_BAR, options.max_width - day_width - label_width - 2)
        yield Text(f"{_terminal_text(self.title, TITLE_LIMIT)} ({_terminal_text(series.currency)})", style="bold")
        for day, cells, label in zip(days, bar_cells(series, width), labels, strict=True):
            line = Text(f"{day:<{day_width}} ")
            for (glyph, style), count in zip(styles, cells, strict=True):
                line.append(glyph * count, style=style)
            line.append(" " * (width - sum(cells)) + " " + label.rjust(label_width))
            yield line
        legend = Text()
        for number, (glyph, style) in enumerate(styles):
            legend.append("  " if number else "")
            legend.append(glyph * 2, style=style)
            legend.append(" " + _terminal_text(series.names[number]))
            if series.folded and number == len(styles) - 1:
                legend.append(f" ({series.folded} more)")
        yield legend

    def _style(self, number: int, glyphs: tuple[str, ...], other_glyph: str) -> tuple[str, str]:
        if self.series.folded and number == len(self.series.names) - 1:
            return other_glyph, OTHER_COLOUR
        return glyphs[number % len(glyphs)], COLOURS[number % len(COLOURS)]


def bar_cells(series: DaySeries, width: int) -> list[list[int]]:
    """Cells per series per day: the largest day fills `width`, each bar is its day's share of that, cut at the
    running sums so the segments add up to the bar exactly. Negative amounts (credits) are not drawn."""
    drawn = [[max(series.values[s][d], Decimal(0)) for s in range(len(series.names))] for d in range(len(series.days))]
    scale = max((sum(parts, Decimal(0)) for parts in drawn), default=Decimal(0))
    result = []
    for parts in drawn:
        cells, edge, running = [], 0, Decimal(0)
        for part in parts:
            running += part
            end = int((running * width / scale).to_integral_value(ROUND_HALF_UP)) if scale else 0
            cells.append(end - edge)
            edge = end
        result.append(cells)
    return result

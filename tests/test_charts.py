"""The per-day charts: top-N folding into "other", bars scaled to the largest day, exact Decimal totals in the
terminal labels, cents in Mermaid, hostile names made harmless, and no chart for a single day."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from rich.console import Console

from llm_cost import charts
from llm_cost.charts import DaySeries, bar_cells, day_series, mermaid, rich_chart

D = Decimal
HOSTILE = 'evil"]\n```\n%%{init: {"theme":"dark"}}%%\x1b[2J <img src=x> #9829; `x`;bar [1]'


def _render(series: DaySeries, width: int = 60, **console: bool) -> str:
    chart = rich_chart(series, "spend per day by model")
    assert chart is not None
    stream = io.StringIO()
    Console(file=stream, width=width, **console).print(chart)
    return stream.getvalue()


def test_the_top_keys_by_spend_keep_their_names_and_the_rest_fold_into_other() -> None:
    totals = {
        ("2025-06-01", "a"): D("5"),
        ("2025-06-01", "b"): D("3"),
        ("2025-06-02", "c"): D("1"),
        ("2025-06-02", "d"): D("0.5"),
        ("2025-06-02", "b"): D("3"),
    }
    series = day_series(totals, top=2)
    assert series.names == ("b", "a", "other") and series.folded == 2  # b: 6 over both days, a: 5
    assert series.values == ((D(3), D(3)), (D(5), D(0)), (D(0), D("1.5")))
    assert series.totals == (D(8), D("4.5"))
    assert sum(series.totals) == sum(totals.values())  # folding loses nothing
    one_left = day_series(totals, top=3)  # a single leftover keeps its name: "other" would only hide it
    assert one_left.names == ("b", "a", "c", "d") and one_left.folded == 0


def test_a_key_named_other_is_not_mixed_with_the_folded_rest() -> None:
    totals = {("2025-06-01", "other"): D(9), ("2025-06-01", "x"): D(1), ("2025-06-02", "y"): D(1)}
    assert day_series(totals, top=1).names == ("other", "(other)")


def test_days_without_spend_between_the_first_and_last_count_as_zero() -> None:
    series = day_series({("2025-06-30", "m"): D(1), ("2025-07-02", "m"): D(2)})
    assert series.days == ("2025-06-30", "2025-07-01", "2025-07-02")
    assert series.totals == (D(1), D(0), D(2))
    given = day_series({("2025-06-30", "m"): D(1), ("2025-07-01", "x"): D(5)}, days=["2025-06-29", "2025-06-30"])
    assert given.days == ("2025-06-29", "2025-06-30") and given.totals == (D(0), D(1))
    assert given.names == ("m",)  # ranked over the days charted only
    with pytest.raises(ValueError):
        day_series({}, top=0)


def test_bars_are_scaled_to_the_largest_day_and_segments_add_up() -> None:
    series = day_series(
        {
            ("2025-06-01", "a"): D(2),
            ("2025-06-01", "b"): D(2),
            ("2025-06-02", "a"): D(1),
            ("2025-06-02", "b"): D(1),
            ("2025-06-03", "a"): D("-1"),  # a credit: counted in the total, not drawn
            ("2025-06-03", "b"): D(1),
        }
    )
    assert series.names == ("b", "a")  # b: 4 over the days, a: 2
    assert bar_cells(series, 40) == [[20, 20], [10, 10], [10, 0]]
    thirds = day_series({("2025-06-01", k): D(1) for k in "abc"} | {("2025-06-02", "a"): D(1)})
    assert [sum(cells) for cells in bar_cells(thirds, 10)] == [10, 3]  # running sums: no cell lost to rounding
    assert bar_cells(day_series({("2025-06-01", "a"): D(0), ("2025-06-02", "a"): D(0)}), 10) == [[0], [0]]


def test_the_terminal_chart_shows_exact_decimal_totals_and_reads_without_colour() -> None:
    series = day_series(
        {
            ("2025-06-01", "gpt-4o"): D("0.1"),
            ("2025-06-01", "claude"): D("0.2"),  # 0.30000000000000004 as floats
            ("2025-06-02", "gpt-4o"): D("1.000000000000000001"),
        }
    )
    text = _render(series, width=60, no_color=True)
    lines = text.splitlines()
    assert lines[0] == "spend per day by model (USD)"
    assert lines[1].startswith("2025-06-01 ") and lines[1].endswith(" 0.3")
    assert lines[2].startswith("2025-06-02 ") and lines[2].endswith(" 1.000000000000000001")
    assert all(len(line) == 60 for line in lines[1:3])
    assert lines[2].count("█") == 60 - 11 - 1 - len("1.000000000000000001")  # the largest day fills the width
    assert "\x1b[" not in text  # NO_COLOR: the glyphs tell the series apart
    assert lines[3] == "██ gpt-4o  ▒▒ claude"


def test_an_ascii_console_gets_ascii_glyphs() -> None:
    series = day_series({("2025-06-01", "a"): D(2), ("2025-06-02", "b"): D(1)})
    chart = rich_chart(series, "t")
    assert chart is not None
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")  # a log that cannot take block characters
    Console(file=stream, width=40, no_color=True).print(chart)
    stream.seek(0)
    assert stream.read().splitlines()[1:] == [
        "2025-06-01 " + "#" * 25 + " 2.0",  # 40 columns: 11 for the day, 25 for the bar, 4 for the total
        "2025-06-02 " + "=" * 13 + " " * 12 + " 1.0",  # half of 25, rounded half up
        "## a  == b",
    ]


def test_hostile_names_cannot_break_the_terminal_or_the_mermaid_block() -> None:
    series = day_series({("2025-06-01", "gpt-4o"): D(1), ("2025-06-02", HOSTILE): D("0.1")})
    terminal = _render(series, width=100, force_terminal=True)
    assert "\x1b[2J" not in terminal and "\n```" not in terminal
    block = mermaid(series, 'title"\n```')
    fence, body = block.split("\n```\n", 1)
    assert fence.startswith("```mermaid\n") and "```" not in fence[3:] and "%" not in fence
    assert all(line.startswith(("```", "xychart-beta", "    ")) for line in fence.splitlines())
    assert all(line.count('"') % 2 == 0 for line in fence.splitlines())
    assert "#9829;" not in fence and "<img" not in fence and "\x1b" not in fence
    assert body.count("`") % 2 == 0 and "\n" not in body.strip()  # the key: names in inline code, one line


def test_mermaid_golden() -> None:
    """Checked by eye once: GitHub draws this as three bars (the totals) and a line per series."""
    series = day_series(
        {
            ("2025-06-01", "gpt-4o"): D("1.005"),
            ("2025-06-01", "claude"): D("0.5"),
            ("2025-06-03", "gpt-4o"): D("2"),
            ("2025-06-03", "gemini"): D("0.25"),
            ("2025-06-02", "mistral"): D("0.01"),
            ("2025-06-02", "llama"): D("0.1"),
        },
        top=2,
    )
    assert mermaid(series, "llm-cost dry-run: spend per day by model") == (
        "```mermaid\n"
        "xychart-beta\n"
        '    title "llm-cost dry-run: spend per day by model"\n'
        '    x-axis ["06-01", "06-02", "06-03"]\n'
        '    y-axis "USD" 0.00 --> 2.25\n'
        '    bar "total" [1.51, 0.11, 2.25]\n'
        '    line "gpt-4o" [1.01, 0.00, 2.00]\n'
        '    line "claude" [0.50, 0.00, 0.00]\n'
        '    line "other" [0.00, 0.11, 0.25]\n'
        "```\n"
        "\n"
        "Bars: each day's total (USD), 2025-06-01 to 2025-06-03; lines, in order: `gpt-4o`, `claude`, "
        "`other (3 more)`.\n"
    )


def test_mermaid_numbers_are_plain_decimals_and_one_series_needs_no_lines() -> None:
    series = day_series(
        {("2024-12-31", "m"): D("1E+3"), ("2025-01-01", "m"): D("-0.004"), ("2025-01-02", "m"): D("-2.5")}
    )
    block = mermaid(series, "t")
    assert '    x-axis ["2024-12-31", "2025-01-01", "2025-01-02"]' in block  # several years: whole dates
    assert '    y-axis "USD" -2.50 --> 1000.00' in block
    assert '    bar "total" [1000.00, 0.00, -2.50]' in block  # never 1E+3 or -0.00
    assert "line" not in block and "lines, in order" not in block
    assert charts.cents(D("0.005")) == "0.01" and charts.cents(D("-0.001")) == "0.00"


def test_one_day_makes_no_chart() -> None:
    one_day = day_series({("2025-06-01", "a"): D(1), ("2025-06-01", "b"): D(2)})
    assert not one_day.chartable
    assert rich_chart(one_day, "t") is None and mermaid(one_day, "t") == ""
    nothing = day_series({})
    assert nothing.days == () and rich_chart(nothing, "t") is None and mermaid(nothing, "t") == ""

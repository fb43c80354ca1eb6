"""Generic tables on the terminal: names from the data are shown as they are, never read as rich markup, and never
allowed to drive the terminal."""

from __future__ import annotations

import io

from rich.console import Console

from llm_cost.reports import Table, printable, render_table


def _rendered(table: Table) -> str:
    stream = io.StringIO()
    render_table(table, Console(file=stream, width=200, force_terminal=True, color_system=None))
    return stream.getvalue()


def test_markup_in_a_name_is_shown_not_interpreted() -> None:
    text = _rendered(Table("by team", ("Team", "Cost"), [("[/oops] [bold]loud[/bold]", "1.0")], ["[red]line[/red]"]))
    assert "[/oops] [bold]loud[/bold]" in text and "[red]line[/red]" in text


def test_control_characters_never_reach_the_terminal() -> None:
    hostile = "evil\x1b[2J\rmodel\x07"
    text = _rendered(Table(f"by model {hostile}", ("Model",), [(hostile,)], [hostile]))
    assert "\x1b[2J" not in text and "\r" not in text and "\x07" not in text
    assert text.count("evil\\x1b[2J\\rmodel\\x07") == 3


def test_printable_keeps_ordinary_text_and_unicode() -> None:
    assert printable("Zürich team, 東京 — ok") == "Zürich team, 東京 — ok"
    assert printable("a\tb\nc") == "a\\tb\\nc"

"""Reading what a step wrote for the GitHub Actions runner, as the runner does."""

from __future__ import annotations

from pathlib import Path


def read_outputs(path: Path) -> dict[str, str]:
    """The step outputs in a $GITHUB_OUTPUT file: `name<<DELIMITER`, the value's lines, then the delimiter."""
    lines = path.read_text(encoding="utf-8").splitlines()
    values, i = {}, 0
    while i < len(lines):
        name, _, delimiter = lines[i].partition("<<")
        end = lines.index(delimiter, i + 1)
        values[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return values

"""llm-cost.toml: reading the file (its [settings] table and its manifest), and the values both of them hold."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

from llm_cost.errors import ConfigError


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file with exact decimals; a ConfigError names the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"manifest not found: {path} (create one with `llm-cost init`, or pass --manifest)") from None
    except IsADirectoryError:
        raise ConfigError(f"manifest {path} is a directory, not a TOML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read manifest {path}: {exc}") from None
    return parse_toml(text, str(path))


def parse_toml(text: str, where: str) -> dict[str, Any]:
    """Parse TOML text with exact decimals; a ConfigError names `where` (a file, or `REF:path` in git)."""
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"malformed TOML in {where}: {exc}") from None


def check_ratio(value: Decimal | None) -> Decimal | None:
    """A cache-hit ratio is a share: 0 to 1 inclusive."""
    if value is not None and not (value.is_finite() and Decimal(0) <= value <= Decimal(1)):
        raise ValueError(f"cache_hit_ratio must be between 0 and 1, got {value}")
    return value

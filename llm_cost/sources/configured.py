"""The `[[sources]]` tables of llm-cost.toml: the labelled sources one run reads (several proxies, a manifest beside
them). Parsing and checking only; `settings.py` turns each entry into the settings of one source.

A key is never written in the file: an entry names the environment variable that holds it (`litellm_key_env`), and
an entry that holds a key, or a key in place of a variable name, is refused (exit 3) without echoing it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, StrictBool, ValidationError

from llm_cost.aggregate import Granularity
from llm_cost.config import check_ratio
from llm_cost.errors import ConfigError
from llm_cost.sources.registry import Mode

LABEL = re.compile(r"[a-z0-9-]+")
DATE_SHAPED = re.compile(r"\d{4}-\d{2}-\d{2}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Keys that would hold a secret: refused by name, and their values never shown.
SECRET_KEYS = frozenset(
    {"litellm_key", "litellm_api_key", "api_key", "key", "master_key", "vantage_api_key", "integration_token"}
)
LITELLM_ONLY = ("litellm_url", "litellm_key_env", "ca_bundle", "granularity", "tag_keys", "include_health_checks")
MANIFEST_ONLY = ("manifest", "cache_hit_ratio")
PATHS = ("manifest", "ca_bundle")


class SourceEntry(BaseModel):
    """One `[[sources]]` entry: a label, a mode, where to read, and the per-source overrides of common settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str
    mode: Mode
    litellm_url: str | None = None
    litellm_key_env: str | None = None
    ca_bundle: str | None = None
    manifest: str | None = None  # default: the config file itself
    cache_hit_ratio: Decimal | None = None
    granularity: Granularity | None = None
    tag_keys: tuple[str, ...] | None = None
    include_health_checks: StrictBool | None = None

    @property
    def is_litellm(self) -> bool:
        return self.mode != "manifest"

    def overrides(self) -> dict[str, Any]:
        """The common settings this entry sets for its source (its own values win over the run's)."""
        values = self.model_dump(exclude={"label", "litellm_key_env"}, exclude_none=True)
        if self.tag_keys is not None:
            values["tag_keys"] = self.tag_keys or None
        return values


def parse_sources(table: object, config: Path) -> tuple[SourceEntry, ...]:
    """The `[[sources]]` entries of a config file, checked: unique labels of `[a-z0-9-]+` (not shaped like a date,
    which a Vantage file name would confuse with a period), the keys each mode needs and no others, no key written
    in the file. Relative paths are resolved against the config file's folder."""
    if table is None:
        return ()
    if not isinstance(table, list) or not all(isinstance(item, dict) for item in table):
        raise ConfigError(f"{config}: sources must be an array of tables ([[sources]])")
    entries: list[SourceEntry] = []
    for number, item in enumerate(table, start=1):
        entry = _entry(item, f"{config}: [[sources]] #{number}", config)
        if entry.label in {e.label for e in entries}:
            raise ConfigError(f"{config}: [[sources]] label {entry.label!r} is used twice; labels must be unique")
        entries.append(entry)
    if not entries:
        raise ConfigError(f"{config}: sources is empty; add [[sources]] tables or remove the key")
    return tuple(entries)


def _entry(item: dict[str, Any], where: str, config: Path) -> SourceEntry:
    secrets = sorted(SECRET_KEYS & set(item))
    if secrets:
        raise ConfigError(
            f"{where}: {secrets[0]} holds a key, which the config file must not; put the key in an environment "
            "variable and name it with litellm_key_env"
        )
    label = item.get("label")
    if not isinstance(label, str) or not LABEL.fullmatch(label) or DATE_SHAPED.fullmatch(label):
        raise ConfigError(
            f"{where}: label must be lower-case letters, digits and '-' (e.g. prod), not a date; got {label!r}"
        )
    where = f"{where} ({label})"
    env_name = item.get("litellm_key_env")
    if env_name is not None and not (isinstance(env_name, str) and ENV_NAME.fullmatch(env_name)):
        raise ConfigError(
            f"{where}: litellm_key_env must name an environment variable (letters, digits and _), not hold the key"
        )
    unknown = sorted(set(item) - set(SourceEntry.model_fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    mode = item.get("mode")
    if mode not in get_args(Mode):
        raise ConfigError(f"{where}: mode must be one of {', '.join(get_args(Mode))}; got {mode!r}")
    wrong = [k for k in (MANIFEST_ONLY if mode != "manifest" else LITELLM_ONLY) if k in item]
    if wrong:
        raise ConfigError(f"{where}: {', '.join(wrong)} does not apply to mode {mode}")
    if mode != "manifest":
        missing = [k for k in ("litellm_url", "litellm_key_env") if not item.get(k)]
        if missing:
            raise ConfigError(f"{where}: mode {mode} needs {' and '.join(missing)}")
    values = dict(item)
    for key in PATHS:
        if key in values:
            if not isinstance(values[key], str) or not values[key]:
                raise ConfigError(f"{where}: {key} must be a path (a non-empty string)")
            values[key] = str(config.parent / values[key])
    try:
        entry = SourceEntry.model_validate(values)
        check_ratio(entry.cache_hit_ratio)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{where}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return entry

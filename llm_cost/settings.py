"""Settings: flags > environment (`LLM_COST_*`) > the `[settings]` table of llm-cost.toml > defaults.

Typer resolves flags and environment variables (each option names its variable); this module fills what is
still unset from the config file, then from the defaults, and validates the result into one frozen model.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError, field_validator

from llm_cost.aggregate import Granularity
from llm_cost.config import check_ratio, read_toml
from llm_cost.errors import ConfigError
from llm_cost.focus.adjustments import Adjustments, parse_adjustments
from llm_cost.focus.columns import FocusVersion, Format
from llm_cost.focus.dimensions import parse_sub_account
from llm_cost.focus.mapping import MappingOptions
from llm_cost.http import DEFAULT_ATTEMPTS, DEFAULT_RETRY_BUDGET, RetryPolicy
from llm_cost.sinks.registry import SETTINGS_MODELS as DESTINATION_SETTINGS
from llm_cost.sources.configured import SourceEntry, parse_sources
from llm_cost.sources.registry import SETTINGS_MODELS as SOURCE_SETTINGS
from llm_cost.sources.registry import Mode
from llm_cost.window import parse_day, resolve_window

DEFAULT_CONFIG = Path("llm-cost.toml")
CONVENTIONAL_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
MAX_CONCURRENCY = 16
MAX_TRIES = 20
MAX_RETRY_BUDGET = 3600.0


class CommonSettings(BaseModel):
    """The settings every run shares: the output (format, version, file), the source (mode) and its window, the
    grain, and how hard the run works (concurrency, retries). Each source and destination has its own model too."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    format: Format = "focus"
    focus_version: FocusVersion = "1.2"
    output: str | None = None
    split_tokens: bool = True
    config: Path | None = None
    mode: Mode = "manifest"
    start: str | None = None
    end: str | None = None
    day: str | None = None
    month: str | None = None
    include_partial: bool = False
    granularity: Granularity = "day"
    # Slices of a LiteLLM pull fetched at once (UTC days; hours at spend-logs hour/request grain).
    concurrency: int = Field(default=4, ge=1, le=MAX_CONCURRENCY)
    # Retries of one HTTP request to LiteLLM or Vantage: at most this many tries, waiting at most this long in all.
    max_tries: int = Field(default=DEFAULT_ATTEMPTS, ge=1, le=MAX_TRIES)
    retry_budget: float = Field(default=DEFAULT_RETRY_BUDGET, ge=0, le=MAX_RETRY_BUDGET)
    # What fills SubAccountId/Name/Type: team, user, org or tag:KEY.
    sub_account: str = "team"
    # What ServiceName means: the provider's service offering (`Azure OpenAI`), or LiteLLM's model group.
    service_name: Literal["offering", "model-group"] = "offering"
    # The `[adjustments.NAME]` tables of the config file (never a [settings] key, flag or variable).
    adjustments: Adjustments = Adjustments()
    # The `[[sources]]` tables of the config file, the labels `--source` picks from them, whether a failing source
    # stops the run (the default) or the others are still written (`--keep-going`), and the label of this source
    # in a labelled run (set per source, never by the user).
    sources: tuple[SourceEntry, ...] = ()
    only_sources: tuple[str, ...] | None = None
    keep_going: bool = False
    source_label: str | None = None

    @field_validator("sub_account")
    @classmethod
    def _sub_account(cls, value: str) -> str:
        return parse_sub_account(value)

    @property
    def mapping(self) -> MappingOptions:
        """The row choices of the run, for the FOCUS mapping."""
        return MappingOptions(
            self.split_tokens, self.sub_account, self.service_name, self.adjustments, self.source_label
        )

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of every HTTP request of the run."""
        return RetryPolicy(self.max_tries, self.retry_budget)


# Every part's own settings model: the sources' (by --mode) and the destinations'. A part's fields are its flags,
# environment variables and [settings] keys; a field may be read by several parts (the window, the retries).
PART_MODELS: tuple[type[BaseModel], ...] = (*SOURCE_SETTINGS, *DESTINATION_SETTINGS)
P = TypeVar("P", bound=BaseModel)


class ExportSettings(CommonSettings):
    """A run's settings, after precedence: the common ones, and each part's own model, validated from the same
    merged values (so a bad value of any part is a configuration error before any work)."""

    _values: dict[str, Any] = PrivateAttr(default_factory=dict)
    _parts: dict[type[BaseModel], BaseModel] = PrivateAttr(default_factory=dict)

    def part(self, model: type[P]) -> P:
        """The settings of one part (a source's or a destination's model)."""
        found = self._parts[model]
        assert isinstance(found, model)
        return found

    def given(self, name: str) -> Any:
        """The merged value of any setting (None when unset): for checks that span parts."""
        return self._values.get(name)

    def replace(self, **updates: Any) -> ExportSettings:
        """The same settings with some values replaced (an upload's period), every part validated again."""
        return _build({**self._values, **updates})

    @property
    def labelled(self) -> bool:
        """Whether the run reads `[[sources]]` (labelled sources), rather than one source from the flags."""
        return bool(self.sources)

    def source_runs(self) -> list[SourceRun]:
        """The sources this run reads, each with its own settings: the one unlabelled source of the flags, or the
        `[[sources]]` entries that `--source` picks (all by default), in the file's order.

        In a labelled run that reads a LiteLLM proxy, a manifest estimates every UTC day of the proxies' window, so
        estimates and actuals cover the same days; with manifests alone it estimates the charge day (`--date`)."""
        if not self.sources:
            return [SourceRun(None, self, complete=True)]
        known = [entry.label for entry in self.sources]
        wanted = self.only_sources or tuple(known)
        unknown = [label for label in wanted if label not in known]
        if unknown:
            raise ConfigError(f"--source {unknown[0]}: no such label in [[sources]] (known: {', '.join(known)})")
        chosen = [entry for entry in self.sources if entry.label in wanted]
        mixed = any(entry.is_litellm for entry in chosen) and not all(entry.is_litellm for entry in chosen)
        days = self._window_days() if mixed else None
        complete = len(chosen) == len(self.sources)
        return [SourceRun(entry.label, self._for_entry(entry, days), complete) for entry in chosen]

    def _window_days(self) -> tuple[date, ...]:
        """The whole UTC days of the run's window, which manifests beside a proxy estimate; a --date is refused
        there, since the window chooses the days."""
        if self._values.get("date_given"):
            raise ConfigError(
                "--date (or [settings] date) is the charge day of manifest estimates; in a run with LiteLLM sources "
                "the manifests estimate the window's days (--day, --start/--end or --month)"
            )
        window = resolve_window(
            start=self.start,
            end=self.end,
            day=self.day,
            month=self.month,
            now=self._values.get("now") or datetime.now(UTC),
            include_partial=self.include_partial,
        )
        days = list(window.days())
        if not all(day.is_whole_day() for day in days):
            raise ConfigError(f"a manifest estimates whole UTC days, but the window {window} cuts a day")
        return tuple(day.start.date() for day in days)

    def _for_entry(self, entry: SourceEntry, days: tuple[date, ...] | None) -> ExportSettings:
        updates: dict[str, Any] = {**entry.overrides(), "source_label": entry.label}
        if entry.is_litellm:
            name = entry.litellm_key_env or ""
            key = os.environ.get(name, "").strip()
            if not key:
                # A name that is not upper-case may be a key written in the wrong place: it is not shown.
                shown = name if CONVENTIONAL_ENV_NAME.fullmatch(name) else "named by its litellm_key_env"
                raise ConfigError(f"source {entry.label}: the environment variable {shown} is not set or empty")
            updates["litellm_key"] = key
        else:
            updates["reconcile"] = False  # --reconcile compares a proxy's two endpoints; a manifest has none
            if days is not None:
                updates["manifest_days"] = days
        return self.replace(**updates)

    def secrets(self) -> list[str]:
        """Every key the run may use (the flags' and each labelled source's), for masking in every message."""
        values = [self._values.get("litellm_key")]
        for entry in self.sources:
            name = entry.litellm_key_env or ""
            values.append(os.environ.get(name, "").strip())  # the key as it is sent
            if not CONVENTIONAL_ENV_NAME.fullmatch(name):
                values.append(name)  # perhaps a key written where its variable's name belongs
        return [str(v.get_secret_value() if isinstance(v, SecretStr) else v) for v in values if v]


@dataclass(frozen=True, slots=True)
class SourceRun:
    """One source of a run: its label (None: the unlabelled source of the flags) and its settings; `complete` says
    whether the run reads every configured source (an upload then may replace what an unlabelled one left)."""

    label: str | None
    settings: ExportSettings
    complete: bool


def _fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(model.model_fields)


# Every setting's name, and those the [settings] table may hold: secrets never come from the file (flags or the
# environment only), nor does the path of the file itself.
ALL_MODELS: tuple[type[BaseModel], ...] = (CommonSettings, *PART_MODELS)
SETTING_NAMES = frozenset().union(*map(_fields, ALL_MODELS))
SECRETS = frozenset(
    name
    for model in ALL_MODELS
    for name, info in model.model_fields.items()
    if SecretStr in (info.annotation, *get_args(info.annotation))
)
# Set by the run itself, never by a user: the config's own tables, the --source picks, a labelled source's label and
# the days a manifest beside a proxy estimates.
INTERNAL = frozenset({"config", "adjustments", "sources", "only_sources", "source_label", "manifest_days"})
FILE_KEYS = SETTING_NAMES - SECRETS - INTERNAL
# What a `[[sources]]` entry says for itself: with [[sources]], these may not also come from a flag, a variable or
# [settings] (which of them would win is a guess no one should have to make).
SOURCE_IDENTITY = {
    "mode": "--mode / LLM_COST_MODE",
    "litellm_url": "--litellm-url / LITELLM_BASE_URL",
    "ca_bundle": "--ca-bundle / LLM_COST_CA_BUNDLE",
    "manifest": "--manifest / LLM_COST_MANIFEST",
}
PATH_KEYS = frozenset({"manifest", "output", "vocab_dir", "ca_bundle"})


def _config_path(flag: str | None) -> Path | None:
    """The config file: the flag/env value (which must exist), else ./llm-cost.toml when present."""
    if flag:
        path = Path(flag)
        if not path.is_file():
            raise ConfigError(f"config file not found: {flag} (from --config or LLM_COST_CONFIG)")
        return path
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def _file_settings(config: Path | None) -> dict[str, Any]:
    """The `[settings]` table, with relative paths resolved against the config file's folder, and the
    `[adjustments]` tables."""
    if config is None:
        return {}
    document = read_toml(config)
    try:
        adjustments = parse_adjustments(document.get("adjustments"), str(config))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    table = document.get("settings", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{config}: [settings] must be a table")
    unknown = sorted(set(table) - FILE_KEYS)
    if unknown:
        raise ConfigError(f"{config}: unknown key(s) in [settings]: {', '.join(unknown)}")
    resolved = dict(table)
    for key in PATH_KEYS & set(table):
        value = str(table[key])
        resolved[key] = value if value == "-" else str(config.parent / value)
    if adjustments:
        resolved["adjustments"] = adjustments
    sources = parse_sources(document.get("sources"), config)
    if sources:
        resolved["sources"] = sources
    return resolved


def parse_ratio(value: object, source: str) -> Decimal | None:
    """A cache-hit ratio from a flag, env var or file: a number from 0 to 1."""
    if value is None:
        return None
    try:
        ratio = Decimal(str(value).strip())
    except InvalidOperation:
        raise ConfigError(f"{source}: {value!r} is not a number; use a share from 0 to 1, e.g. 0.6") from None
    try:
        return check_ratio(ratio)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _non_negative(value: object, option: str) -> Decimal:
    try:
        number = Decimal(str(value).strip().rstrip("%"))
    except InvalidOperation:
        raise ConfigError(f"{option}: {value!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise ConfigError(f"{option}: {value!r} must be a number of zero or more")
    return number


def resolve_export_settings(cli: dict[str, Any], *, now: datetime | None = None) -> ExportSettings:
    """Merge the CLI values (None = unset) over the config file and the defaults."""
    now = now or datetime.now(UTC)
    config = _config_path(cli.get("config"))
    from_file = _file_settings(config)
    given = {k: v for k, v in cli.items() if v is not None and k != "config"}
    merged = {**from_file, **given}
    if merged.get("only_sources") is not None:
        merged["only_sources"] = tuple(merged["only_sources"]) or None
    if from_file.get("sources"):
        clashes = [where for key, where in SOURCE_IDENTITY.items() if merged.get(key) is not None]
        if clashes:
            raise ConfigError(
                f"{config}: [[sources]] names each source, so {', '.join(clashes)} cannot also be set (by a flag, "
                "its environment variable or [settings]); unset it, and choose sources with --source LABEL"
            )
    elif merged.get("only_sources"):
        raise ConfigError("--source picks labelled sources from [[sources]] in llm-cost.toml, and it has none")
    merged.setdefault("manifest", str(config) if config else str(DEFAULT_CONFIG))
    source = "--cache-hit-ratio" if "cache_hit_ratio" in given else "[settings] cache_hit_ratio"
    merged["cache_hit_ratio"] = parse_ratio(merged.get("cache_hit_ratio"), source)
    for key in ("tolerance", "tolerance_pct"):
        if key in merged:
            merged[key] = _non_negative(merged[key], f"--{key.replace('_', '-')}")
    if merged.get("tag_keys") is not None:
        merged["tag_keys"] = tuple(merged["tag_keys"]) or None
    date_source = "--date" if "date" in given else "[settings] date"
    merged["date_given"] = "date" in merged
    merged["date"] = (
        parse_day(str(merged["date"]), option=date_source, today=now.date()) if "date" in merged else now.date()
    )
    merged["now"] = now
    return _build({**merged, "config": config})


def _build(values: dict[str, Any]) -> ExportSettings:
    """Validate the merged values into the common settings and every part's own model."""
    try:
        settings = ExportSettings(**{k: v for k, v in values.items() if k in CommonSettings.model_fields})
        parts = {
            model: model.model_validate({k: v for k, v in values.items() if k in model.model_fields})
            for model in PART_MODELS
        }
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"setting {where}: {first['msg']}") from None
    settings._values = dict(values)
    settings._parts = parts
    return settings

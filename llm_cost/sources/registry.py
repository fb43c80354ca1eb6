"""The sources llm-cost knows, by `--mode`: the one place, with the CLI, that names the concrete sources.

Each entry builds its source from its own settings model, taken from the run's settings by field name; a new
source is a new package plus one entry here (and its flags in the CLI).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel

from llm_cost.errors import ConfigError
from llm_cost.sources import manifest
from llm_cost.sources.interface import Source, Warn
from llm_cost.sources.litellm import source as litellm

if TYPE_CHECKING:
    from llm_cost.settings import ExportSettings

Mode = Literal["manifest", "spend-logs", "daily-activity"]  # --mode: the keys of SOURCES

Periods = list[tuple[dict[str, object], tuple[date, date]]]


@dataclass(slots=True, frozen=True)
class SourceSpec:
    """How to build one kind of source: its settings model, its constructor, and its upload periods."""

    settings: type[BaseModel]
    build: Callable[[Any, Warn], Source]
    upload_periods: Callable[[Any], Periods]
    verifies: bool = False  # whether it can --reconcile


SOURCES: dict[Mode, SourceSpec] = {
    "manifest": SourceSpec(manifest.ManifestSettings, manifest.ManifestSource, manifest.upload_periods),
    "spend-logs": SourceSpec(litellm.LiteLLMSettings, litellm.LiteLLMSource, litellm.upload_periods, verifies=True),
    "daily-activity": SourceSpec(litellm.LiteLLMSettings, litellm.LiteLLMSource, litellm.upload_periods, verifies=True),
}


assert set(SOURCES) == set(get_args(Mode)), "every --mode has a source, and every source a --mode"
# The sources' settings models: their fields are the sources' own flags, environment variables and [settings] keys.
SETTINGS_MODELS: tuple[type[BaseModel], ...] = tuple(dict.fromkeys(spec.settings for spec in SOURCES.values()))


def _spec(settings: ExportSettings) -> tuple[SourceSpec, Any]:
    """The source's spec and its own settings (validated with the run's, from the same flags, env and file)."""
    spec = SOURCES[settings.mode]
    if settings.given("reconcile") and not spec.verifies:
        raise ConfigError(
            "--reconcile compares the two LiteLLM endpoints; use it with --mode spend-logs or daily-activity"
        )
    own = settings.part(spec.settings)
    return spec, own


def open_source(settings: ExportSettings, warn: Warn) -> Source:
    """The configured source, opened (a LiteLLM source has checked its proxy and key by then)."""
    spec, own = _spec(settings)
    return spec.build(own, warn)


def upload_periods(settings: ExportSettings) -> Periods:
    """The replaceable periods of an upload from this source, each with the settings updates that select it."""
    spec, own = _spec(settings)
    return spec.upload_periods(own)

"""The destinations llm-cost knows, with their own settings models: with the CLI and runs.py, the one place that
names the concrete destinations' settings."""

from __future__ import annotations

from pydantic import BaseModel

from llm_cost.sinks.vantage.settings import VantageSettings

# The settings models of the destinations (the CSV file and the preview need only the common settings).
SETTINGS_MODELS: tuple[type[BaseModel], ...] = (VantageSettings,)

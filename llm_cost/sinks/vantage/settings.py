"""The Vantage destination's own settings: where to upload, and with which credentials."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr

from llm_cost.sinks.vantage.client import DEFAULT_BASE_URL


class VantageSettings(BaseModel):
    """`upload`'s destination. The API key and the integration token come from flags or the environment only."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    vantage_api_key: SecretStr | None = None
    integration_token: SecretStr | None = None
    vantage_url: str = DEFAULT_BASE_URL

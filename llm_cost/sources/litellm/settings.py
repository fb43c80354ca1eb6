"""The LiteLLM source's own settings: the proxy, the window, what to keep, and how to verify."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, SecretStr

from llm_cost.aggregate import Granularity
from llm_cost.http import DEFAULT_ATTEMPTS, DEFAULT_RETRY_BUDGET, RetryPolicy


class LiteLLMSettings(BaseModel):
    """What `--mode spend-logs | daily-activity` reads (validated already, as part of the run's settings)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    mode: str = "spend-logs"  # spend-logs or daily-activity: the registry builds this source for those modes
    litellm_url: str | None = None
    litellm_key: SecretStr | None = None
    ca_bundle: str | None = None
    start: str | None = None
    end: str | None = None
    day: str | None = None
    month: str | None = None
    include_partial: bool = False
    granularity: Granularity = "day"
    tag_keys: tuple[str, ...] | None = None
    sub_account: str = "team"  # validated by the common settings; `tag:KEY` makes the source keep that tag
    include_health_checks: bool = False
    reconcile: bool = False
    tolerance: Decimal = Decimal("0.01")
    tolerance_pct: Decimal = Decimal("0.1")
    max_tries: int = DEFAULT_ATTEMPTS
    retry_budget: float = DEFAULT_RETRY_BUDGET

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(self.max_tries, self.retry_budget)

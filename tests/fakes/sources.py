"""A `[[sources]]` config for tests of labelled runs: two LiteLLM proxies (prod, staging) whose keys are in
LITELLM_PROD_KEY and LITELLM_STAGING_KEY, and optionally a manifest source (plan) with one prompt."""

from __future__ import annotations

from pathlib import Path

PROMPT = "Classify this support ticket by urgency. " * 20


def write_sources_config(
    folder: Path, prod_url: str, staging_url: str, *, staging_mode: str = "daily-activity", manifest: bool = False
) -> Path:
    """Write `llm-cost.toml` (and, with `manifest`, its prompt file `triage.txt`) in `folder`; returns its path."""
    text = f"""
[[sources]]
label = "prod"
mode = "spend-logs"
litellm_url = "{prod_url}"
litellm_key_env = "LITELLM_PROD_KEY"

[[sources]]
label = "staging"
mode = "{staging_mode}"
litellm_url = "{staging_url}"
litellm_key_env = "LITELLM_STAGING_KEY"
"""
    if manifest:
        (folder / "triage.txt").write_text(PROMPT, encoding="utf-8")
        text += """
[[sources]]
label = "plan"
mode = "manifest"

[defaults]
model = "gpt-4o"

[[prompts]]
path = "triage.txt"
prompt_id = "triage"
model = "gpt-4o"
expected_output_tokens = 50
calls = 1000
tags = { team = "support" }
"""
    path = folder / "llm-cost.toml"
    path.write_text(text, encoding="utf-8")
    return path

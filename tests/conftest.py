"""Shared fixtures: a clean environment for every test, and offline tiktoken vocabularies when available."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
VOCAB_DIR = ROOT.parent / "shared" / "vocab"
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


# Hypothesis profiles. `ci` (the default) is reproducible and quick: the same examples on every run (derandomize,
# no example database), no per-example deadline on a shared 2-core machine, and the failing example's reproduction
# blob printed. `dev` and `thorough` search more, randomly, with the example database: HYPOTHESIS_PROFILE=thorough.
_COMMON = {"deadline": None, "print_blob": True, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", derandomize=True, database=None, max_examples=40, **_COMMON)
settings.register_profile("dev", max_examples=300, **_COMMON)
settings.register_profile("thorough", max_examples=3000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# Test-harness switches, not llm-cost settings: they must survive the clean environment.
HARNESS_VARS = frozenset(
    {"LLM_COST_REQUIRE_VALIDATOR", "LLM_COST_PYTHON312", "LLM_COST_FV_VENV", "LLM_COST_UPDATE_GOLDEN"}
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No LLM_COST_*, LiteLLM or Vantage settings leak in from the machine; tiktoken never downloads."""
    for name in list(os.environ):
        if name in HARNESS_VARS:
            continue
        if name.startswith(("LLM_COST_", "LITELLM_", "VANTAGE_", "GITHUB_")) or name == "TIKTOKEN_CACHE_DIR":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken-cache-empty"))
    if VOCAB_DIR.is_dir():
        monkeypatch.setenv("LLM_COST_VOCAB_DIR", str(VOCAB_DIR))


@pytest.fixture
def vocab_dir() -> Path:
    """The shared tiktoken vocabularies; tests that need exact counts skip without them."""
    if not (VOCAB_DIR / "o200k_base.tiktoken").is_file():
        pytest.skip(f"no tiktoken vocabulary at {VOCAB_DIR} (../shared/vocab is absent in this clone)")
    return VOCAB_DIR

"""llm-cost: turn LLM usage into FinOps FOCUS cost data."""

__version__ = "0.1.0"

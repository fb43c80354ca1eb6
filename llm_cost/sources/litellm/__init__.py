"""The LiteLLM proxy source: complete, exact pulls from `/spend/logs` and `/user/daily/activity`."""

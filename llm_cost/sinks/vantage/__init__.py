"""Upload to a Vantage Custom Provider: local validation, row-level batching, retries, replace semantics.

Vantage does not deduplicate by period: every upload is its own dataset. So a run uploads all its parts first,
and only when every part succeeded deletes the earlier llm-cost uploads of the same period (matched by file name).
A failed part rolls back the parts just uploaded and keeps the old ones. See vantage-api.md §1.5.
"""

"""`llm-cost check`: a CI and cron gate over the rows of any source. `rules` reads `[budget]` and `[policy]`,
`ledger` folds FOCUS rows into per-day spend (a destination), `judge` turns per-day spend into findings (pure, no
I/O), `report` shows them (stderr table, JSON, GitHub step summary and annotations), and `run` wires them to the
pipeline."""

"""The leaderboard page's prose: what the data shows, written after reading the tables and the
sample grids, and what was not run. Update it whenever the stored results change."""

FINDINGS = "(in progress)"
NOT_RUN = "(in progress)"

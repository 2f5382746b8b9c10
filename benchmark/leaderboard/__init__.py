"""Leaderboards: the results store, reported rows and generated tables (issue 14)."""

"""Metrics, scoring, suites and leaderboards."""

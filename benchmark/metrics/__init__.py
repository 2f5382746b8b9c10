"""Exact, batch-first metrics for separation, extraction, SELD, spatial cues and complexity."""

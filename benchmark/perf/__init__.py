"""Speed benchmarks against peer implementations (run as scripts, never as timed tests)."""

"""Shared test helpers: hand-made benchmarks and run directories, CLI invocation."""

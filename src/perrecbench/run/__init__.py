"""Running recommenders over a benchmark: ranking strategies, the runner, run directories."""

"""Running recommenders over a benchmark: the runner, run directories, call logs, re-asking."""

"""From raw reviews to a benchmark: dedupe, leak-free user averages, groups, splits, manifest."""

"""Scoring, one job per module:

    metrics.py       per-question metrics as pure functions (tau-b, the released evaluator, ...)
    stats.py         bootstrap intervals, cluster-weighted pooled statistics, paired tests
    runs.py          loading run directories: manifest, benchmark, answers, questions scored
    outcomes.py      each scored question with the run's answer (ok / failed / missing)
    metric_table.py  every metric with its failure policy: add a metric here
    scoring.py       score rows from runs
    averages.py      the 9-cell "Avg."
    compare.py       paired comparison of two runs
"""

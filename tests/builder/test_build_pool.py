"""The fork pool: ordered results, an inherited payload, and a producer that cannot run ahead."""

from __future__ import annotations

import os
import threading

from perrecbench.builder.pool import WorkerPool


def _scaled(payload, task):
    return payload["scale"](task), os.getpid()


def test_results_in_order_from_workers_with_an_inherited_payload():
    lock = threading.Lock()  # cannot be pickled: it reaches the workers by fork, as it is
    payload = {"scale": lambda x: 3 * x, "lock": lock}
    with WorkerPool(payload, workers=2) as pool:
        got = list(pool.map(_scaled, range(40)))
    assert [v for v, _ in got] == [3 * x for x in range(40)]
    assert os.getpid() not in {pid for _, pid in got}
    with WorkerPool(payload, workers=2) as pool:  # or here, when told so
        assert {pid for _, pid in pool.map(_scaled, range(5), parallel=False)} == {os.getpid()}


def test_the_producer_stays_within_the_window():
    made = []

    def tasks():
        for k in range(50):
            made.append(k)
            yield k

    with WorkerPool({"scale": lambda x: x}, workers=2, window_per_worker=2) as pool:
        for k, (value, _) in enumerate(pool.map(_scaled, tasks())):
            assert value == k
            assert len(made) <= k + 1 + pool.window  # never more than `window` tasks ahead

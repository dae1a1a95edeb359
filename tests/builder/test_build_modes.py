"""Most common ratings computed while the context streams by, in batches of any size."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from perrecbench.builder.context import _Modes, run_modes


class _Sink:
    """Stands in for the connection: collects what would be inserted into `modes`."""

    def __init__(self):
        self.rows: dict[int, float | None] = {}
        self.table = None

    def register(self, name, table):
        self.table = table

    def execute(self, query):
        self.rows.update(zip(self.table.column(0).to_pylist(), self.table.column(1).to_pylist()))

    def unregister(self, name):
        pass


@pytest.mark.parametrize(("rating_batch", "member_batch"), [(10**6, 10**6), (7, 5), (1, 1), (50, 3)])
def test_streamed_modes_match_the_whole_context_at_once(rating_batch, member_batch):
    rng = np.random.default_rng(0)
    lens = rng.integers(1, 12, 200)  # users' runs in the sorted context
    starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
    ratings = rng.integers(1, 6, int(lens.sum())).astype(float)
    members = [(mid, int(starts[u]), int(lens[u]), int(rng.integers(0, lens[u] + 1)))
               for mid, u in enumerate(sorted(rng.integers(0, 200, 300).tolist()))]

    def batches():
        for i in range(0, len(members), member_batch):
            part = members[i:i + member_batch]
            yield pa.record_batch([pa.array([m[j] for m in part], pa.int64()) for j in range(4)],
                                  names=["member_id", "start", "n", "k"])

    sink = _Sink()
    modes = _Modes(sink, batches())
    for i in range(0, len(ratings), rating_batch):
        modes.add(ratings[i:i + rating_batch])
    modes.finish()
    want = run_modes(ratings, np.array([m[1] for m in members]), np.array([m[3] for m in members]))
    assert len(sink.rows) == len(members)
    for (mid, *_), w in zip(members, want.tolist(), strict=True):
        assert sink.rows[mid] == (None if np.isnan(w) else w)

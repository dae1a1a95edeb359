"""What a long build shows: its stages in order, and in logs plain lines with the time left."""

from __future__ import annotations

from perrecbench.builder.params import BuildParams
from perrecbench.builder.pipeline import build_from_source
from perrecbench.terminal.progress import PlainProgress


def test_the_build_reports_its_stages_in_order(tmp_path):
    seen: list[tuple[str, int, int]] = []
    result = build_from_source("synthetic", [], [], tmp_path / "b", BuildParams(n_items=5, n_heldout=2),
                               {"n_users": 300, "n_items": 120}, progress=lambda *a: seen.append(a))
    stages = list(dict.fromkeys(s for s, _, _ in seen))
    assert stages[0] == "reading synthetic data" and stages[-1] == "done"
    for expected in ("grouping items", "writing questions"):
        assert expected in stages
    for stage in stages:  # within a stage, progress never goes back
        done = [d / t for s, d, t in seen if s == stage]
        assert done == sorted(done)
    assert result.spilled_bytes == 0 and result.manifest.counts.questions["test"]["easy"] == 5


def test_plain_lines_say_how_far_and_how_long(capsys):
    now = [0.0]
    show = PlainProgress(every_s=10, clock=lambda: now[0])
    show("grouping items", 0, 1000)
    for t, done in ((5, 100), (12, 250), (15, 300), (25, 500)):
        now[0] = t
        show("grouping items", done, 1000)
    show("writing questions", 0, 10)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert lines == ["… grouping items", "… grouping items: 25% (about 0:00:36 left)",
                     "… grouping items: 50% (about 0:00:25 left)", "… writing questions"]

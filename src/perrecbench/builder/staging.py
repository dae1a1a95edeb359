"""Write a directory atomically: build it beside its destination, rename it into place.

Why: a build or an import runs for minutes; a crash, a kill or Ctrl-C in the middle
must never leave a half-written benchmark where a finished one is expected, nor
destroy the previous one. Everything is written into `<out>.building`; only a
complete directory is renamed to `<out>`.

    with staged_directory(out) as tmp:     # <out>.building, empty
        ...write files into tmp...
    # here <out> is the new directory; on an exception <out> is untouched and
    # <out>.building is gone

Rules:
* `out` may be missing, empty, or something `replaceable(out)` accepts (by default
  a directory holding `manifest.json`: an earlier benchmark); anything else is
  refused with a ConfigError before any work is done.
* A `<out>.building` left by a crashed run carries a marker file and is removed;
  a folder of that name without the marker is not ours and is refused.
* Replacing is two renames (`<out>` -> `<out>.replaced`, `<out>.building` -> `<out>`)
  then the old copy is deleted; a crash between the renames leaves the old
  directory at `<out>.replaced`, put back by the next run.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ConfigError
from ..locking import output_lock

MARKER = ".perrecbench-staging"  # inside <out>.building: "this folder is ours to delete"


def looks_like_benchmark(path: Path) -> bool:
    """A directory written by this tool (it has a manifest)."""
    return (path / "manifest.json").is_file()


def staging_path(out: Path) -> Path:
    """Where the directory for `out` is built."""
    return out.parent / (out.name + ".building")


def _replaced_path(out: Path) -> Path:
    return out.parent / (out.name + ".replaced")


def check_target(out: Path, replaceable: Callable[[Path], bool] = looks_like_benchmark) -> None:
    """ConfigError unless `out` is missing, an empty directory, or replaceable."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(f"{out} exists and is not a directory; choose another --out")
    if any(out.iterdir()) and not replaceable(out):
        raise ConfigError(f"{out} exists and is not a benchmark directory; choose another --out")


def _recover(out: Path) -> None:
    """Undo what a crashed run left: a stale staging folder, an old copy mid-replace."""
    old = _replaced_path(out)
    if old.exists() and (old / MARKER).exists():
        if out.exists():
            shutil.rmtree(old)
        else:
            (old / MARKER).unlink()
            old.rename(out)
    tmp = staging_path(out)
    if tmp.exists():
        if not (tmp / MARKER).exists() and (not tmp.is_dir() or any(tmp.iterdir())):
            raise ConfigError(f"{tmp} exists and was not made by perrecbench; move it away first")
        shutil.rmtree(tmp)


@contextmanager
def staged_directory(
    out: Path | str, replaceable: Callable[[Path], bool] = looks_like_benchmark
) -> Iterator[Path]:
    """Yield an empty `<out>.building`; on normal exit it becomes `out` (replacing an
    earlier one), on any exception (Ctrl-C included) it is deleted and `out` is left as it was.
    Holds `out`'s lock throughout: a second writer of `out` waits or is refused (`locking`)."""
    out = Path(out)
    with output_lock(out):
        check_target(out, replaceable)
        _recover(out)
        tmp = staging_path(out)
        tmp.mkdir(parents=True)
        (tmp / MARKER).touch()
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        commit(tmp, out)


def commit(tmp: Path, out: Path) -> None:
    """Rename the finished staging folder to `out`, keeping the old `out` until it is in place."""
    old = _replaced_path(out)
    if out.exists():
        (out / MARKER).touch()  # so a crash right after the rename below is recoverable
        out.rename(old)
    (tmp / MARKER).unlink()
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old)

"""The authors' released data layout (SPEC 2.2): file names, locating folders, reading JSON.

    <data>/<cat>/<cat>-processed/
      parentasin2item.json                     {parent_asin: item}; title, author.name
      userid2history.json                      {user_id: [review, ...]} in time order
      item2group_avg_diff_sample-{level}.json  {query_asin: [group, ...]}, group = [member]
      held_out-{level}.json                    same shape: the few-shot pool
      userid2profile.json                      {user_id: profile text}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...errors import InputDataError

ITEM_FILE = "parentasin2item.json"
HISTORY_FILE = "userid2history.json"
PROFILE_FILE = "userid2profile.json"
GROUP_FILE = "item2group_avg_diff_sample-{level}.json"
HELDOUT_FILE = "held_out-{level}.json"
PROFILES_OUT = "profiles/release.json"  # where an imported benchmark keeps the release's profiles
FAILED_MARK = "format_not_correct"  # the authors' mark of an answer their parser could not read
SYNTH_START_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
SYNTH_STEP_MS = 86_400_000  # one day between synthetic history entries


def read_json(path: Path, kind: type = dict) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise InputDataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{path}: cannot read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise InputDataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(data, kind):
        raise InputDataError(
            f"{path}: expected a JSON {'object' if kind is dict else kind.__name__}"
        )
    return data


def find_release_folders(
    data_dir: Path | str, categories: Iterable[str] | None = None
) -> dict[str, Path]:
    """Category name -> its `<cat>-processed` folder.

    `data_dir` may be the unzipped root (holding `data/`), the `data/` folder, one
    `<cat>` folder, or a `<cat>-processed` folder itself.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise InputDataError(f"{root}: not a directory")
    if (root / ITEM_FILE).exists():
        found = {root.name.removesuffix("-processed"): root}
    else:
        found = {}
        for pattern in ("*-processed", "*/*-processed", "data/*/*-processed"):
            for p in sorted(root.glob(pattern)):
                if (p / ITEM_FILE).exists():
                    found.setdefault(p.name.removesuffix("-processed"), p)
    if categories:
        wanted = list(categories)
        unknown = [c for c in wanted if c not in found]
        if unknown:
            raise InputDataError(f"{root}: no release folder for {unknown} (found {sorted(found)})")
        found = {c: found[c] for c in wanted}
    if not found:
        raise InputDataError(
            f"{root}: no <cat>-processed folder with {ITEM_FILE} (see SPEC 2.2 for the layout)"
        )
    return found

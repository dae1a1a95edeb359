"""PerRecBench: rank a group of users by how much each *personally* likes one item.

The pipeline mirrors the package layout: data -> build -> run -> score -> report -> train.
"""

__version__ = "0.1.0"
LEVELS = ("easy", "medium", "hard")
GROUP_SIZE = {"easy": 2, "medium": 3, "hard": 4}
METHODS = ("point", "pair", "list")
SPLITS = ("test", "heldout", "train")

"""PerRecBench: rank a group of users by how much each *personally* likes one item.

The pipeline mirrors the package layout: data -> build -> run -> score -> report -> train.
"""

__version__ = "0.1.0"
LEVELS = ("easy", "medium", "hard")
GROUP_SIZE = {"easy": 2, "medium": 3, "hard": 4}
METHODS = ("point", "pair", "list")
#: the classic task the paper argues against: predict one user's absolute 1-5 rating of one
#: item. A fourth method, asked on one-member questions of a level of its own (`tasks`).
RATING = "rating"
SPLITS = ("test", "heldout", "train")

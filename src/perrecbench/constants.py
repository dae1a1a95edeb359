"""The benchmark's fixed vocabulary: levels and their group sizes, methods, splits, the
package version. A base module every stage imports, so that no stage imports the package
root (which is the public API, above every stage)."""

__version__ = "0.1.0"
LEVELS = ("easy", "medium", "hard")
GROUP_SIZE = {"easy": 2, "medium": 3, "hard": 4}
METHODS = ("point", "pair", "list")
#: the classic task the paper argues against: predict one user's absolute 1-5 rating of one
#: item. A fourth method, asked on one-member questions of a level of its own (`tasks`).
RATING = "rating"
SPLITS = ("test", "heldout", "train")
#: questions (a model that computes) or requests (an LLM) in flight when the caller does not
#: say: `--max-concurrency`'s default, the LLM option's and every provider's
DEFAULT_CONCURRENCY = 8

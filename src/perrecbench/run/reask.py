"""Which failed questions of an earlier run a new run into the same directory asks again.

* `transient` (the default): the questions whose failure says asking again can help
  (`failures.Failure.reask`: transport failures -- the server was down, slow, out of
  quota, or the key was wrong and has been fixed). Answers that did not parse stay
  failed: their replies are cached, and asking again would replay them.
* `all`: every failed question (after a parser fix, say: the replies come from the
  cache; or after fixing a bug that failed questions as `internal`).
* `none`: keep every recorded answer.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError
from ..failures import lookup
from ..records import Prediction

POLICIES = ("transient", "all", "none")
ReaskPolicy = str | Callable[[Prediction], bool]


def should_reask(pred: Prediction, policy: ReaskPolicy) -> bool:
    """Whether a recorded answer is asked again under `policy` (a name or a predicate)."""
    if pred.ok:
        return False
    if callable(policy):
        return policy(pred)
    if policy == "all":
        return True
    if policy == "none":
        return False
    if policy == "transient":
        return lookup(pred.failure).reask
    raise ConfigError(f"re-ask policy {policy!r}: choose from {', '.join(POLICIES)}")


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise ConfigError(f"--reask {policy!r}: choose from {', '.join(POLICIES)}")
    return policy

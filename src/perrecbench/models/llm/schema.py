"""JSON schemas of answers, for servers that constrain output to a schema (`--json-mode schema`)."""

from __future__ import annotations

from typing import Any


def answer_schema(method: str, cot: bool, n: int | None = None, rel_rating: bool = False) -> dict[str, Any]:
    """JSON schema of an answer.

    With the group size `n` known, the schema also bounds the answer (ranking length and
    user numbers, rating range), so grammar-constrained servers cannot produce an
    answer of the wrong shape; uniqueness of ranked users is still checked by parsing.
    """
    props: dict[str, Any] = {"reasoning": {"type": "string"}} if cot else {}
    if method == "point":
        lo, hi = (-4, 4) if rel_rating else (1, 5)
        props["predicted_rating"] = {"type": "number", "minimum": lo, "maximum": hi}
        required = ["predicted_rating"]
    elif method == "list":
        items: dict[str, Any] = {"type": "integer", "minimum": 1}
        ranking: dict[str, Any] = {"type": "array", "items": items}
        if n is not None:
            items["maximum"] = n
            ranking.update(minItems=n, maxItems=n)
        props["predicted_ranking"] = ranking
        required = ["predicted_ranking"]
    else:
        props["answer"] = {"type": "string", "enum": ["[User A]", "[User B]"]}
        required = ["answer"]
    return {"type": "object", "properties": props, "required": required}

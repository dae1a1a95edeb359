"""A system outside PerRecBench: read `perrecbench export-questions` output, write a
predictions file for `perrecbench import-predictions`. Plain Python; it does not import
perrecbench (any language can do the same with a JSON parser).

    perrecbench export-questions --bench BENCH --split test --out questions.jsonl
    python examples/predictions_from_questions.py questions.jsonl predictions.jsonl --k 5
    perrecbench import-predictions --bench BENCH --method list --model recent-taste \\
        --file predictions.jsonl --out runs/recent-imported

Each input line is one question: `question_id`, `level`, the query `item`, and its
`members` (`user_id`, `timestamp` of their review of the item, `avg_rating`,
`most_common_rating`, `history`: their reviews strictly before that time, oldest first).
Each output line answers one question: `{"question_id": ..., "order": [user_id, ...]}`
(best first; for --method pair and list) or, with `--ratings` (for --method point and
for the rating task, whose question ids come from `export-questions --method rating`),
`{"question_id": ..., "ratings": {user_id: rating}}`.
"""

from __future__ import annotations

import argparse
import json
import sys


def recent_taste(member: dict, k: int) -> float:
    """Mean of the member's `k` latest ratings minus their average rating."""
    history = member.get("history") or []
    recent = [h["rating"] for h in history[-k:]] if k else []
    if not recent:
        return 0.0
    return sum(recent) / len(recent) - member["avg_rating"]


def answer(question: dict, k: int, ratings: bool) -> dict:
    members = question["members"]
    scores = {m["user_id"]: recent_taste(m, k) for m in members}
    if ratings:
        return {"question_id": question["question_id"],
                "ratings": {m["user_id"]: round(m["avg_rating"] + scores[m["user_id"]], 4) for m in members}}
    order = sorted(scores, key=lambda uid: -scores[uid])  # stable: ties keep the file's order
    return {"question_id": question["question_id"], "order": order}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", help="export-questions output (JSON lines)")
    parser.add_argument("out", help="predictions file to write (JSON lines)")
    parser.add_argument("--k", type=int, default=5, help="latest ratings per member (default 5)")
    parser.add_argument("--ratings", action="store_true", help="write ratings (point, rating task)")
    args = parser.parse_args(argv)
    written = 0
    with open(args.questions, encoding="utf-8") as src, open(args.out, "w", encoding="utf-8") as dst:
        for n, line in enumerate(src, 1):
            if not line.strip():
                continue
            try:
                question = json.loads(line)
                dst.write(json.dumps(answer(question, args.k, args.ratings)) + "\n")
            except (ValueError, KeyError, TypeError) as exc:
                print(f"{args.questions}:{n}: not a question line ({type(exc).__name__}: {exc})", file=sys.stderr)
                return 1
            written += 1
    print(f"wrote {written} predictions to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

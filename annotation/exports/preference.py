"""Preference records for comparison tasks, in the layout preference-training libraries read
(TRL's DPO trainer, among others): ``{"prompt", "chosen", "rejected"}``, all strings.

- pairwise (``{"choice": id, …}``): one record; ``chosen`` is the chosen response's text,
  ``rejected`` the other's. A choice that names no response of the task gives no record.
- ranking (``{"ranking": [ids best → worst]}``): with ``ranking_pairs="adjacent"`` (default) one
  record per adjacent pair (1st > 2nd, 2nd > 3rd, …: n−1 records, each comparison stated once);
  with ``"all"`` one per ordered pair i < j (n(n−1)/2 records, what a Bradley-Terry style loss over
  the full ranking uses). Ids not among the task's responses are ignored.

Records come from the task's aggregated response; a task without one (not completed, or answers
not reduced to one) gives none.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from annotation.exports.common import json_line, single_answer

EXTENSION = "jsonl"
CONTENT_TYPE = "application/x-ndjson"
SUPPORTED_TYPES = {"comparison"}


def pairs(params: dict, response: Any, *, ranking_pairs: str = "adjacent") -> list[dict]:
    answer = single_answer(response)
    if not answer:
        return []
    texts = {
        str(r.get("id")): r.get("text", "") for r in params.get("responses") or [] if isinstance(r, dict)
    }
    prompt = params.get("prompt", "")
    if "ranking" in answer and isinstance(answer["ranking"], list):
        order = [str(i) for i in answer["ranking"] if str(i) in texts]
        if ranking_pairs == "all":
            ordered = list(combinations(order, 2))
        else:
            ordered = list(zip(order, order[1:], strict=False))
        return [{"prompt": prompt, "chosen": texts[a], "rejected": texts[b]} for a, b in ordered]
    choice = answer.get("choice")
    if choice is None or str(choice) not in texts or len(texts) != 2:
        return []
    (other,) = [i for i in texts if i != str(choice)]
    return [{"prompt": prompt, "chosen": texts[str(choice)], "rejected": texts[other]}]


def write(ctx, tasks, out, workdir) -> int:
    n = 0
    ranking_pairs = ctx.options.get("ranking_pairs", "adjacent")
    for task in tasks:
        n += 1
        records = pairs(task["params"], task["response"], ranking_pairs=ranking_pairs)
        if not records:
            ctx.count("tasks_without_preference")
        for record in records:
            out.write(json_line(record))
        ctx.count("records", len(records))
    return n

"""The store's labelled pairs: every `pairs` row as an Item with its prompt, both responses and each machine judge's
verdict, and the human labels on them (written by the viewer, interfaces/labeling.py).

An item is one row of `pairs` (the loop's `best_worst` pairs and the reward model's `annotator` training pairs).
Every judge gives a verdict on an item in the pair's own terms: +1 = prefers the pair's `chosen_id`, −1 = prefers
its `rejected_id`, 0 = tie, None = has no opinion here.

    human      the labels in the store (`labels` table)
    rm         the Bradley-Terry reward model's raw scores (no length penalty); absent on the annotator pairs,
               which were labelled before the RM existed
    annotator  on annotator pairs, the label it actually drew; on loop pairs, its most likely label
               (P(chosen ≻ rejected) > 0.5 under the run's annotator config): a noise-free simulated annotator
    gold       the toy world's gold utility
    (any other scorer in `scores`, e.g. a preference model's, joins as a judge of its own name)

Human labels flow back into training as preference rows in the toy layout (`human_pairs`, `export_trl`).
"""

from __future__ import annotations

import enum
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from workbench.config import AnnotatorConfig, from_dict
from workbench.data.layout import toy_row
from workbench.store import connect, query, store_version
from workbench.world.annotator import preference_probability


class Choice(str, enum.Enum):
    """What the labeler clicked; A is the left response, B the right one."""

    A = "A"
    B = "B"
    TIE = "tie"
    SKIP = "skip"


@dataclass
class Item:
    """One pair as the viewer shows it, with every machine judge's verdict."""

    run_id: str
    pair_id: str
    iteration: int  # 0 = reward-model training pairs
    rule: str  # best_worst or annotator
    section: str
    prompt: str
    chosen_id: str
    rejected_id: str
    chosen_text: str
    rejected_text: str
    verdicts: dict[str, int | None] = field(default_factory=dict)  # judge → +1 / −1 / 0 / None
    rm_margin: float | None = None  # rm(chosen) − rm(rejected), raw scores

    def text(self, generation_id: str) -> str:
        if generation_id == self.chosen_id:
            return self.chosen_text
        if generation_id == self.rejected_id:
            return self.rejected_text
        raise KeyError(f"generation {generation_id!r} is not in pair {self.pair_id!r}")


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def machine_verdicts(
    rule: str, scores: Mapping[str, tuple[float, float]], chars: tuple[int, int], annotator_cfg=None
) -> dict[str, int | None]:
    """Verdicts of the non-human judges on a pair. `scores` maps scorer → (chosen value, rejected value); `chars`
    is (chosen, rejected) length in characters; `annotator_cfg` the run's AnnotatorConfig (None: unknown)."""
    out: dict[str, int | None] = {name: _sign(c - r) for name, (c, r) in scores.items()}
    if rule == "annotator":
        out["annotator"] = 1  # the pair is stored as the annotator labelled it
    elif annotator_cfg is not None and "gold" in scores:
        (gc, gr) = scores["gold"]
        out["annotator"] = _sign(preference_probability(gc, gr, chars[0], chars[1], annotator_cfg) - 0.5)
    else:
        out["annotator"] = None
    return out


_ITEMS_SQL = """
SELECT p.pair_id, p.iteration, p.rule, pr.section, pr.text,
       p.chosen_id, c.text, c.n_chars, p.rejected_id, r.text, r.n_chars
FROM pairs p
JOIN prompts pr ON pr.run_id = p.run_id AND pr.prompt_id = p.prompt_id
JOIN generations c ON c.run_id = p.run_id AND c.generation_id = p.chosen_id
JOIN generations r ON r.run_id = p.run_id AND r.generation_id = p.rejected_id
WHERE p.run_id = ?
ORDER BY p.iteration, p.pair_id
"""


_SCORES_SQL = """
SELECT s.generation_id, s.scorer, s.value FROM scores s
WHERE s.run_id = ? AND s.generation_id IN (SELECT chosen_id FROM pairs WHERE run_id = ?
                                          UNION SELECT rejected_id FROM pairs WHERE run_id = ?)
"""


_items_cache: dict[tuple[str, str], tuple[tuple, list[Item]]] = {}


_cache_lock = threading.Lock()


def run_annotator_config(root: str | Path, run_id: str):
    """The run's AnnotatorConfig from its stored config, or None when the run row is missing."""
    con = connect(root, run_id)
    try:
        row = con.execute("SELECT config FROM runs WHERE run_id = ?", [run_id]).fetchone()
    finally:
        con.close()
    if row is None:
        return None
    return from_dict(AnnotatorConfig, json.loads(row[0]).get("annotator", {}), "annotator.")


def load_items(root: str | Path, run_id: str) -> list[Item]:
    """Every pair of a run as an Item, in (iteration, pair_id) order. Cached until a segment changes."""
    root = Path(root)
    key = store_version(root, run_id, ("runs", "prompts", "generations", "scores", "pairs"))
    with _cache_lock:
        hit = _items_cache.get((str(root), run_id))
    if hit and hit[0] == key:
        return hit[1]
    con = connect(root, run_id)
    try:
        rows = con.execute(_ITEMS_SQL, [run_id]).fetchall()
        scores: dict[str, dict[str, float]] = {}
        for gid, scorer, value in con.execute(_SCORES_SQL, [run_id] * 3).fetchall():
            scores.setdefault(gid, {})[scorer] = value
    finally:
        con.close()
    annotator_cfg = run_annotator_config(root, run_id)
    items = []
    for pair_id, it, rule, section, prompt, cid, ctext, cchars, rid, rtext, rchars in rows:
        sc, sr = scores.get(cid, {}), scores.get(rid, {})
        both = {name: (sc[name], sr[name]) for name in sc if name in sr}
        items.append(
            Item(
                run_id, pair_id, it, rule, section, prompt, cid, rid, ctext, rtext,
                verdicts=machine_verdicts(rule, both, (cchars, rchars), annotator_cfg),
                rm_margin=both["rm"][0] - both["rm"][1] if "rm" in both else None,
            )
        )
    with _cache_lock:
        _items_cache[(str(root), run_id)] = (key, items)
    return items


def list_runs(root: str | Path) -> list[str]:
    """Run ids under `root` that have pairs, newest first."""
    con = connect(root)
    try:
        rows = con.execute(
            "SELECT p.run_id, max(r.created_at) AS t FROM pairs p LEFT JOIN runs r USING (run_id) "
            "GROUP BY p.run_id ORDER BY t DESC NULLS LAST, p.run_id DESC"
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def human_verdict(preferred_id: str, item: Item) -> int | None:
    """+1 / −1 in the pair's terms; 0 for a tie (preferred_id "" and choice tie); None for a skip."""
    if preferred_id == item.chosen_id:
        return 1
    if preferred_id == item.rejected_id:
        return -1
    return None


def stored_labels(root: str | Path, run_id: str | None, labeler: str | None = None) -> list[tuple]:
    sql = "SELECT run_id, pair_id, labeler, choice, preferred_id, created_at FROM labels WHERE true"
    params: list = []
    if run_id:
        sql += " AND run_id = ?"
        params.append(run_id)
    if labeler:
        sql += " AND labeler = ?"
        params.append(labeler)
    con = connect(root)
    try:
        return con.execute(sql + " ORDER BY created_at, run_id, pair_id", params).fetchall()
    finally:
        con.close()


def label_counts(root: str | Path, run_id: str | None = None) -> list[tuple[str, str, int]]:
    """(labeler, choice, count) over the store's labels."""
    con = connect(root)
    try:
        sql = "SELECT labeler, choice, count(*) FROM labels"
        params = []
        if run_id:
            sql += " WHERE run_id = ?"
            params.append(run_id)
        return con.execute(sql + " GROUP BY ALL ORDER BY ALL", params).fetchall()
    finally:
        con.close()


def human_pairs(root: str | Path, run_id: str | None = None) -> list[dict]:
    """Human labels as preference rows {"prompt", "chosen", "rejected"}, formatted exactly as the reward model's
    training rows (world.format_prompt, response after a space); ties and skips dropped. Two people who labelled
    the same pair give two rows, even if they disagree: Bradley-Terry training takes such pairs as they are."""
    labels = stored_labels(root, run_id)
    items: dict[str, dict[str, Item]] = {}
    rows = []
    for rid, pid, _, choice, preferred, _ in labels:
        if choice not in (Choice.A.value, Choice.B.value):
            continue
        if rid not in items:
            items[rid] = {i.pair_id: i for i in load_items(root, rid)}
        item = items[rid].get(pid)
        if item is None or human_verdict(preferred, item) is None:
            continue  # a label whose pair is gone from the store (a stage run again with new pairs)
        other = item.rejected_id if preferred == item.chosen_id else item.chosen_id
        rows.append(
            toy_row(item.prompt, item.text(preferred), item.text(other))
        )
    return rows


def export_trl(root: str | Path, out: str | Path, run_id: str | None = None) -> int:
    """Write the human pairs as JSON lines (prompt / chosen / rejected: TRL's explicit-prompt preference format,
    what RewardTrainer and DPOTrainer read). Written to a temporary name and renamed. Returns the row count."""
    rows = human_pairs(root, run_id)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(out)
    return len(rows)


def pair_rows(root: Path, run_id: str, where: str, params: list, order: str = "x.pair_id", row=None) -> list[dict]:
    """Stored `pairs` rows of one run (alias x) matching `where`, as preference rows (prompt, chosen, rejected):
    `row(prompt text, chosen, rejected)`, toy_row by default."""
    _, rows = query(
        root,
        f"""select p.text, c.text, r.text from pairs x
            join prompts p on p.run_id = x.run_id and p.prompt_id = x.prompt_id
            join generations c on c.run_id = x.run_id and c.generation_id = x.chosen_id
            join generations r on r.run_id = x.run_id and r.generation_id = x.rejected_id
            where x.run_id = ? and ({where}) order by {order}""",
        [run_id, *params],
    )
    return [(row or toy_row)(p, c, r) for p, c, r in rows]

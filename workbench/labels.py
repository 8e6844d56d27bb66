"""Human spot-check labels: what the viewer shows next, how a label is stored, how often the judges agree, and
the way labels flow back into training. The Gradio viewer (app/labeler.py, `workbench label`) is a thin UI over
these functions; the dashboard calls `store_agreement`.

An item is one row of `pairs` (the loop's `best_worst` pairs and the reward model's `annotator` training pairs)
with its prompt, its two generations and their scores. Every judge gives a verdict on an item in the pair's own
terms: +1 = prefers the pair's `chosen_id`, −1 = prefers its `rejected_id`, 0 = tie, None = has no opinion here.

    human      the labels in the store (`labels` table)
    rm         the Bradley-Terry reward model's raw scores (no length penalty); absent on the annotator pairs,
               which were labelled before the RM existed
    annotator  on annotator pairs, the label it actually drew; on loop pairs, its most likely label
               (P(chosen ≻ rejected) > 0.5 under the run's annotator config): a noise-free simulated annotator
    gold       the toy world's gold utility
    (any other scorer in `scores`, e.g. a preference model's, joins as a judge of its own name)

Labels are written while a run may be writing the same store and while other people label: each label is its own
Parquet segment of its own group in the run's store (see store.py), named by a hash of (labeler, pair), written atomically by
`RunStore.write`. Two labels never share a file, so none is lost; the same labeler labelling the same pair twice
(a second tab, a retried request) replaces the file, so none is duplicated. No database file is held, so the
DuckDB lock never bites.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from itertools import combinations
from pathlib import Path
from typing import Mapping, Sequence

from workbench.records import Label
from workbench.store import RunStore, connect

AUDIT_PER_ITERATION = 10  # pairs per iteration in the fixed audit sample, the same for every labeler
MAX_LABELER_CHARS = 80
MAX_COMMENT_CHARS = 2000


class Queue(str, enum.Enum):
    """How the viewer picks the next pair."""

    RANDOM = "random"
    UNCERTAIN = "uncertain"
    DISAGREE = "disagree"
    AUDIT = "audit"

    @property
    def description(self) -> str:
        return {
            Queue.RANDOM: "random pairs, in an order of your own",
            Queue.UNCERTAIN: "pairs the reward model is least sure of (smallest |reward margin|) first",
            Queue.DISAGREE: "pairs where the reward model, the annotator and gold do not all agree",
            Queue.AUDIT: f"a fixed sample of {AUDIT_PER_ITERATION} pairs per iteration, the same for every labeler",
        }[self]


class Choice(str, enum.Enum):
    """What the labeler clicked; A is the left response, B the right one."""

    A = "A"
    B = "B"
    TIE = "tie"
    SKIP = "skip"


class LabelError(ValueError):
    """Bad labeler input; the message says which field."""


# ---------------------------------------------------------------------------------------------------------------
# Items


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
    from workbench.annotator import preference_probability

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


def _segments_key(root: Path, run_id: str) -> tuple:
    """Changes whenever a segment the items depend on is added or replaced (a run still writing)."""
    files = []
    store = RunStore(root, run_id)
    for table in ("runs", "prompts", "generations", "scores", "pairs"):
        for f in store.segment_files(table):
            st = f.stat()
            files.append((str(f), st.st_mtime_ns, st.st_size))
    return tuple(files)


def run_annotator_config(root: str | Path, run_id: str):
    """The run's AnnotatorConfig from its stored config, or None when the run row is missing."""
    from workbench.config import AnnotatorConfig, from_dict

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
    key = _segments_key(root, run_id)
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


# ---------------------------------------------------------------------------------------------------------------
# Queues


def _hash(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()


def _disagree(v: Mapping[str, int | None]) -> bool:
    strict = [v.get(j) for j in ("rm", "annotator", "gold")]
    strict = [x for x in strict if x in (1, -1)]
    return len(set(strict)) > 1


def order_queue(items: Sequence[Item], queue: Queue | str, seed: str = "") -> list[Item]:
    """The items of `queue` in the order the viewer offers them. Pure: same input, same order.

    random: a shuffle seeded by `seed` (the viewer passes the labeler, so two people cover different pairs first);
    uncertain: pairs the RM scored, by |rm margin| ascending; disagree: pairs where two of rm / annotator / gold
    prefer different responses, seeded shuffle; audit: per iteration the AUDIT_PER_ITERATION pairs with the
    smallest hash of (run, pair), the same for every labeler and seed.
    """
    queue = Queue(queue)
    if queue is Queue.RANDOM:
        out = sorted(items, key=lambda i: (i.run_id, i.pair_id))
        random.Random(_hash("random", seed)).shuffle(out)
        return out
    if queue is Queue.UNCERTAIN:
        scored = [i for i in items if i.rm_margin is not None]
        return sorted(scored, key=lambda i: (abs(i.rm_margin), i.run_id, i.pair_id))
    if queue is Queue.DISAGREE:
        out = sorted((i for i in items if _disagree(i.verdicts)), key=lambda i: (i.run_id, i.pair_id))
        random.Random(_hash("disagree", seed)).shuffle(out)
        return out
    by_iteration: dict[int, list[Item]] = {}
    for i in items:
        by_iteration.setdefault(i.iteration, []).append(i)
    out = []
    for it in sorted(by_iteration):
        out += sorted(by_iteration[it], key=lambda i: _hash(i.run_id, i.pair_id))[:AUDIT_PER_ITERATION]
    return out


class Claims:
    """Pairs currently on someone's screen, so two sessions of the same labeler (two tabs, two clients) are not
    handed the same pair. In-process and forgetful: a claim lapses after `ttl_s` or when its session moves on."""

    def __init__(self, ttl_s: float = 900.0):
        self.ttl_s = ttl_s
        self._held: dict[tuple[str, str, str], tuple[str, float]] = {}  # (labeler, run, pair) → (session, since)
        self.lock = threading.Lock()

    def free_for(self, labeler: str, run_id: str, pair_id: str, session: str) -> bool:
        held = self._held.get((labeler, run_id, pair_id))
        return held is None or held[0] == session or time.monotonic() - held[1] > self.ttl_s

    def take(self, labeler: str, run_id: str, pair_id: str, session: str) -> None:
        self.release(session)
        self._held[(labeler, run_id, pair_id)] = (session, time.monotonic())

    def release(self, session: str) -> None:
        for k in [k for k, (s, _) in self._held.items() if s == session]:
            del self._held[k]


def labeled_pairs(root: str | Path, run_id: str, labeler: str) -> set[str]:
    """Pair ids this labeler has already labelled (skips included) in `run_id`."""
    con = connect(root, run_id)
    try:
        rows = con.execute("SELECT DISTINCT pair_id FROM labels WHERE run_id = ? AND labeler = ?", [run_id, labeler])
        return {r[0] for r in rows.fetchall()}
    finally:
        con.close()


@dataclass
class Shown:
    """An item on screen: which response is A (left), and when it appeared."""

    item: Item
    queue: str
    left_id: str
    right_id: str
    shown_at: float  # time.monotonic()
    remaining: int  # items of the queue left for this labeler, this one included


def next_item(
    root: str | Path,
    run_id: str,
    queue: Queue | str,
    labeler: str,
    claims: Claims | None = None,
    session: str = "",
    rng: random.Random | None = None,
) -> Shown | None:
    """The next pair of `queue` this labeler has not labelled (and no other session of theirs holds), with a fresh
    random left/right order; None when the queue is done."""
    labeler = check_labeler(labeler)
    queue = Queue(queue)
    items = order_queue(load_items(root, run_id), queue, seed=f"{run_id}/{labeler}")
    done = labeled_pairs(root, run_id, labeler)
    todo = [i for i in items if i.pair_id not in done]
    claims = claims or Claims()
    with claims.lock:
        pick = next((i for i in todo if claims.free_for(labeler, run_id, i.pair_id, session)), None)
        if pick is None:
            claims.release(session)
            return None
        claims.take(labeler, run_id, pick.pair_id, session)
    rng = rng or random.Random()
    left, right = (pick.chosen_id, pick.rejected_id) if rng.random() < 0.5 else (pick.rejected_id, pick.chosen_id)
    return Shown(pick, queue.value, left, right, time.monotonic(), len(todo))


# ---------------------------------------------------------------------------------------------------------------
# Writing labels


def check_labeler(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise LabelError("labeler: type your name first (it is stored with each label)")
    if len(name) > MAX_LABELER_CHARS:
        raise LabelError(f"labeler: at most {MAX_LABELER_CHARS} characters, got {len(name)}")
    return name


def make_label(shown: Shown, labeler: str, choice: Choice | str, comment: str = "", now: float | None = None) -> Label:
    """The Label record for a click on `shown`. Labeler input is kept as data: checked for length, never parsed."""
    labeler = check_labeler(labeler)
    try:
        choice = Choice(choice)
    except ValueError:
        raise LabelError(f"choice: expected one of {[c.value for c in Choice]}, got {choice!r}") from None
    comment = comment or ""
    if len(comment) > MAX_COMMENT_CHARS:
        raise LabelError(f"comment: at most {MAX_COMMENT_CHARS} characters, got {len(comment)}")
    preferred = {Choice.A: shown.left_id, Choice.B: shown.right_id}.get(choice, "")
    seconds = (time.monotonic() if now is None else now) - shown.shown_at
    item = shown.item
    return Label(
        run_id=item.run_id,
        label_id=uuid.uuid4().hex,
        pair_id=item.pair_id,
        labeler=labeler,
        created_at=datetime.now(),
        queue=shown.queue,
        displayed_left=shown.left_id,
        displayed_right=shown.right_id,
        choice=choice.value,
        preferred_id=preferred,
        comment=comment,
        seconds_spent=round(max(seconds, 0.0), 3),
    )


_write_lock = threading.Lock()  # RunStore's temporary name is per process: one writer thread at a time


def label_segment(label: Label) -> str:
    """One segment per (labeler, pair): a second label of the same pair by the same person replaces the first."""
    return f"label-{_hash(label.labeler, label.pair_id)[:24]}"


def write_label(root: str | Path, label: Label) -> Path:
    with _write_lock:
        return RunStore(root, label.run_id).write([label], label_segment(label))


# ---------------------------------------------------------------------------------------------------------------
# Agreement


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n (95% for z = 1.96); (nan, nan) when n = 0.

    Unlike the normal interval it stays inside [0, 1] and is sensible at k = 0 or k = n and for small n."""
    if n <= 0:
        return (math.nan, math.nan)
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Judged:
    """One labelled pair: the machine judges' verdicts and the verdict of each human label on it."""

    section: str
    verdicts: Mapping[str, int | None]  # rm, annotator, gold, ...: +1 / −1 / 0 / None
    human: Sequence[int | None] = ()  # one per label: +1 / −1 / 0 (tie) / None (skip)


@dataclass
class AgreementRow:
    section: str  # a section name, or "all"
    judge_a: str
    judge_b: str
    n: int  # items where both judges state a strict preference (ties and skips left out)
    agree: int
    rate: float
    ci_low: float  # Wilson 95%
    ci_high: float


JUDGE_ORDER = ("human", "rm", "pm", "annotator", "gold")


def _judge_rank(name: str) -> tuple[int, str]:
    return (JUDGE_ORDER.index(name) if name in JUDGE_ORDER else len(JUDGE_ORDER), name)


def agreement(items: Sequence[Judged]) -> list[AgreementRow]:
    """Pairwise agreement between judges, per section and over all ("all"), with Wilson 95% intervals.

    A comparison counts only where both judges prefer one response (a tie, a skip or no opinion is left out).
    Human vs a machine judge counts each label; machine vs machine counts each pair once; human vs human compares
    every two labels of the same pair (inter-labeler agreement). Rows with n = 0 are left out.
    """
    counts: dict[tuple[str, str, str], list[int]] = {}

    def add(section: str, a: str, b: str, va, vb) -> None:
        if va not in (1, -1) or vb not in (1, -1):
            return
        if _judge_rank(b) < _judge_rank(a):
            a, b = b, a
        for s in (section, "all"):
            c = counts.setdefault((s, a, b), [0, 0])
            c[0] += 1
            c[1] += va == vb

    for it in items:
        machines = sorted(it.verdicts, key=_judge_rank)
        for a, b in combinations(machines, 2):
            add(it.section, a, b, it.verdicts[a], it.verdicts[b])
        for h in it.human:
            for m in machines:
                add(it.section, "human", m, h, it.verdicts[m])
        for h1, h2 in combinations(it.human, 2):
            add(it.section, "human", "human", h1, h2)

    rows = []
    for (section, a, b), (n, k) in counts.items():
        lo, hi = wilson_interval(k, n)
        rows.append(AgreementRow(section, a, b, n, k, k / n, lo, hi))
    rows.sort(key=lambda r: (r.section == "all", r.section, _judge_rank(r.judge_a), _judge_rank(r.judge_b)))
    return rows


def human_verdict(preferred_id: str, item: Item) -> int | None:
    """+1 / −1 in the pair's terms; 0 for a tie (preferred_id "" and choice tie); None for a skip."""
    if preferred_id == item.chosen_id:
        return 1
    if preferred_id == item.rejected_id:
        return -1
    return None


def _labels(root: str | Path, run_id: str | None, labeler: str | None = None) -> list[tuple]:
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


def store_agreement(root: str | Path, run_id: str | None = None, labeler: str | None = None) -> list[AgreementRow]:
    """Agreement between humans, the RM, the annotator and gold on the pairs people labelled in the store (one run
    or all under `root`; one labeler or all). What the viewer's and the dashboard's agreement panels show."""
    labels = _labels(root, run_id, labeler)
    by_pair: dict[tuple[str, str], list[int | None]] = {}
    for rid, pid, _, choice, preferred, _ in labels:
        v = 0 if choice == Choice.TIE.value else None if choice == Choice.SKIP.value else preferred
        by_pair.setdefault((rid, pid), []).append(v)
    judged = []
    for rid in sorted({rid for rid, _ in by_pair}):
        for item in load_items(root, rid):
            hs = by_pair.get((rid, item.pair_id))
            if hs is None:
                continue
            human = [v if v in (0, None) else human_verdict(v, item) for v in hs]
            judged.append(Judged(item.section, item.verdicts, human))
    return agreement(judged)


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


# ---------------------------------------------------------------------------------------------------------------
# Flow back into training


def human_pairs(root: str | Path, run_id: str | None = None) -> list[dict]:
    """Human labels as preference rows {"prompt", "chosen", "rejected"}, formatted exactly as the reward model's
    training rows (world.format_prompt, response after a space); ties and skips dropped. Two people who labelled
    the same pair give two rows, even if they disagree: Bradley-Terry training takes such pairs as they are."""
    from workbench.world import format_prompt

    labels = _labels(root, run_id)
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
            {"prompt": format_prompt(item.prompt), "chosen": " " + item.text(preferred), "rejected": " " + item.text(other)}
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


def extra_reward_rows(sources: Sequence[str], root: str | Path, run_id: str = "") -> tuple[list[dict], list]:
    """Reward-model training rows from `reward.extra_pairs`, and `data_filter` rows saying what each file lost.

    "human" = every human label under `root`; "FORMAT:PATH" = a preference file of that format (datasets.py), or
    "FORMAT:owner/name" a hub dataset, through the format's default filters (filters.py), each pair's conversation
    rendered as a toy prompt."""
    from workbench.config import is_hub_id
    from workbench.datasets import load_pairs
    from workbench.filters import apply_filters, default_filters
    from workbench.records import DataFilter
    from workbench.world import format_prompt

    rows: list[dict] = []
    report: list = []
    for source in sources:
        if source == "human":
            rows += human_pairs(root)
            continue
        fmt, sep, path = source.partition(":")
        if not sep:
            raise ValueError(f"reward.extra_pairs: unknown source {source!r}")
        hub = is_hub_id(path)  # reward.dataset may name a hub dataset
        kept, dropped = apply_filters(load_pairs(fmt, path, hub=hub).pairs, default_filters(fmt))
        rows += [{"prompt": format_prompt(p.prompt_text), "chosen": " " + p.chosen.strip(),
                  "rejected": " " + p.rejected.strip()} for p in kept]
        name = Path(path).name
        report += [DataFilter(run_id, "run", name, fmt, reason, n) for reason, n in sorted(dropped.items())]
        report.append(DataFilter(run_id, "run", name, fmt, "kept", len(kept)))
    return rows, report

"""The human spot-check session behind the Gradio viewer (app/labeler.py, `workbench label`): which pair a labeler
sees next (the queues), and how a click becomes a stored label. The items and their machine verdicts are
data/labels.py; agreement between judges is evaluation/agreement.py.

Labels are written while a run may be writing the same store and while other people label: each label is its own
Parquet segment of its own group in the run's store (see store.py), named by a hash of (labeler, pair), written
atomically by `RunStore.write`. Two labels never share a file, so none is lost; the same labeler labelling the same
pair twice (a second tab, a retried request) replaces the file, so none is duplicated. No database file is held,
so the DuckDB lock never bites.
"""

from __future__ import annotations

import enum
import hashlib
import math
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Mapping, Sequence

from workbench.data.labels import Choice, Item, load_items
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
    REFRESH = "refresh"

    @property
    def description(self) -> str:
        return {
            Queue.RANDOM: "random pairs, in an order of your own",
            Queue.UNCERTAIN: "pairs the reward model is least sure of (smallest |reward margin|) first",
            Queue.DISAGREE: "pairs where the reward model, the annotator and gold do not all agree",
            Queue.AUDIT: f"a fixed sample of {AUDIT_PER_ITERATION} pairs per iteration, the same for every labeler",
            Queue.REFRESH: "pairs picked to refresh the reward model (loop.rm_refresh), the newest iteration first: "
                           "a run with loop.refresh_source=human waits for these",
        }[self]


class LabelError(ValueError):
    """Bad labeler input; the message says which field."""


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
    smallest hash of (run, pair), the same for every labeler and seed; refresh: the RM refresh's pairs (rule
    `refresh`), the newest iteration first, then by |rm margin| ascending (the order the loop picked them in).
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
    if queue is Queue.REFRESH:
        out = [i for i in items if i.rule == "refresh"]
        return sorted(out, key=lambda i: (-i.iteration, abs(i.rm_margin) if i.rm_margin is not None else math.inf,
                                          i.run_id, i.pair_id))
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

"""How often two judges prefer the same response: human labelers, the RM, the PM, the annotator and gold, per
section, with Wilson 95% intervals. What the viewer's and the dashboard's agreement panels show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Mapping, Sequence

from workbench.data.labels import Choice, human_verdict, load_items, stored_labels


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


def store_agreement(root: str | Path, run_id: str | None = None, labeler: str | None = None) -> list[AgreementRow]:
    """Agreement between humans, the RM, the annotator and gold on the pairs people labelled in the store (one run
    or all under `root`; one labeler or all). What the viewer's and the dashboard's agreement panels show."""
    labels = stored_labels(root, run_id, labeler)
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

"""Pair selection for the loop: rejection sampling, best-of-n vs worst-of-n after a length penalty.

Pure functions, no model: the easiest code in the pipeline to test exactly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Selected:
    chosen: int  # index into the n samples
    rejected: int
    chosen_score: float  # adjusted score r − λ·len
    rejected_score: float

    @property
    def margin(self) -> float:
        return self.chosen_score - self.rejected_score


def adjusted_scores(scores: list[float], lengths: list[int], length_penalty: float) -> list[float]:
    """r − λ·len for each sample; `lengths` in characters (the paper's unit), λ ≥ 0."""
    return [s - length_penalty * n for s, n in zip(scores, lengths, strict=True)]


def best_worst(scores: list[float], lengths: list[int], length_penalty: float = 0.0) -> Selected | None:
    """Chosen = the highest r − λ·len, rejected = the lowest (first index on equal scores).

    None when every adjusted score is equal: the pair would carry no preference (the paper drops such pairs).
    """
    if len(scores) < 2:
        raise ValueError(f"best-vs-worst needs at least 2 samples, got {len(scores)}")
    adj = adjusted_scores(scores, lengths, length_penalty)
    hi = max(range(len(adj)), key=lambda i: (adj[i], -i))
    lo = min(range(len(adj)), key=lambda i: (adj[i], i))
    if adj[hi] == adj[lo]:
        return None
    return Selected(hi, lo, adj[hi], adj[lo])


def refresh_pairs(rm: list[float], adjusted: list[float], texts: list[str], n: int, rule: str, budget: int,
                  rng) -> list[tuple[int, int, int]]:
    """The rollout's pairs the annotator labels to refresh the RM: (prompt index, sample a, sample b), sample
    indices into the rollout's flat (prompt, sample) order, at most `budget` of them, never two identical texts.

    `uncertain`: the smallest |RM difference| first (the pairs the RM separates least). `random`: drawn with `rng`.
    `disagree`: pairs whose order under the RM and under the length-penalised score `adjusted` differ (strongest
    penalised disagreement first), then the uncertain ones to fill the budget (with λ = 0 the two never differ, so
    the loop passes loop.refresh_length_penalty's λ here, not loop.length_penalty's).
    Ties keep the rollout's order, so a rule picks the same pairs on a resumed run."""
    pairs = [(i // n, a, b) for i in range(0, len(texts), n) for a in range(i, i + n) for b in range(a + 1, i + n)
             if texts[a] != texts[b]]
    if rule == "random":
        return sorted(rng.sample(pairs, min(budget, len(pairs))))
    uncertain = sorted(pairs, key=lambda p: abs(rm[p[1]] - rm[p[2]]))
    if rule == "uncertain":
        return uncertain[:budget]
    if rule != "disagree":
        raise ValueError(f"unknown refresh rule {rule!r} (uncertain, random, disagree)")

    def sign(x: float) -> int:
        return (x > 0) - (x < 0)

    disagree = [p for p in pairs if sign(rm[p[1]] - rm[p[2]]) != sign(adjusted[p[1]] - adjusted[p[2]])]
    disagree.sort(key=lambda p: -abs(adjusted[p[1]] - adjusted[p[2]]))
    picked = set(disagree[:budget])
    return disagree[:budget] + [p for p in uncertain if p not in picked][: budget - len(picked)]

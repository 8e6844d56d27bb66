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

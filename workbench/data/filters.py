"""Filters on preference pairs, after the paper (App. B.1) and RLHFlow's recipes. Pure functions, no model.

    kept, dropped = apply_filters(pairs, FilterConfig(min_score_ratio=2.0, max_pairs_per_prompt=5))
    dropped  # Counter({"low_score_ratio": 812, "empty_turn": 3, ...}): every pair removed, counted by reason

Reasons, checked in this order (a pair is counted once, under the first reason that drops it):

- `empty_turn`: the chosen or rejected response, or a turn of the prompt, is empty or whitespace;
- `identical`: chosen == rejected (after stripping whitespace): the pair carries no preference;
- `tie`: both absolute scores exist and are equal (UltraFeedback, HelpSteer, Capybara ratings; Orca's "tie");
- `small_margin`: a margin exists and is below `min_margin` (margin thresholds where absolute scores exist);
- `low_score_ratio`: score_chosen / score_rejected ≤ `min_score_ratio` (SHP's upvote ratio; the paper keeps > 2);
- `per_prompt_cap`: more than `max_pairs_per_prompt` pairs share a prompt_id (SHP: ≤ 5 per post); the pairs
  with the largest score ratio (else margin) are kept.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from workbench.data.formats import PreferencePair

REASONS = ("empty_turn", "identical", "tie", "small_margin", "low_score_ratio", "per_prompt_cap")


@dataclass
class FilterConfig:
    min_margin: float | None = None  # drop pairs whose margin is below this (only pairs that have a margin)
    min_score_ratio: float | None = None  # keep score_chosen / score_rejected > this (only pairs with scores)
    max_pairs_per_prompt: int | None = None  # at most this many pairs per prompt_id

    def __post_init__(self):
        if self.max_pairs_per_prompt is not None and self.max_pairs_per_prompt < 1:
            raise ValueError(f"max_pairs_per_prompt must be >= 1, got {self.max_pairs_per_prompt}")
        if self.min_score_ratio is not None and self.min_score_ratio < 1:
            raise ValueError(f"min_score_ratio must be >= 1 (a ratio of chosen to rejected), "
                             f"got {self.min_score_ratio}")


# The paper's per-dataset choices; every format also gets the three universal filters.
FORMAT_FILTERS: dict[str, FilterConfig] = {"shp": FilterConfig(min_score_ratio=2.0, max_pairs_per_prompt=5)}


def default_filters(fmt: str) -> FilterConfig:
    return FORMAT_FILTERS.get(fmt, FilterConfig())


def score_ratio(p: PreferencePair) -> float | None:
    """score_chosen / score_rejected; +inf when the rejected score is ≤ 0 (a positive score beats it outright)."""
    if p.score_chosen is None or p.score_rejected is None:
        return None
    if p.score_rejected <= 0:
        return math.inf if p.score_chosen > p.score_rejected else 0.0
    return p.score_chosen / p.score_rejected


def drop_reason(p: PreferencePair, cfg: FilterConfig) -> str | None:
    """Why one pair is dropped on its own (every reason but the per-prompt cap), or None to keep it."""
    if not p.chosen.strip() or not p.rejected.strip() or any(not m["content"].strip() for m in p.prompt):
        return "empty_turn"
    if p.chosen.strip() == p.rejected.strip():
        return "identical"
    if p.score_chosen is not None and p.score_rejected is not None and p.score_chosen == p.score_rejected:
        return "tie"
    if cfg.min_margin is not None and p.margin is not None and p.margin < cfg.min_margin:
        return "small_margin"
    ratio = score_ratio(p)
    if cfg.min_score_ratio is not None and ratio is not None and ratio <= cfg.min_score_ratio:
        return "low_score_ratio"
    return None


def apply_filters(pairs: list[PreferencePair], cfg: FilterConfig) -> tuple[list[PreferencePair], Counter]:
    """(kept pairs in input order, Counter of dropped pairs by reason)."""
    dropped: Counter = Counter()
    kept = []
    for p in pairs:
        reason = drop_reason(p, cfg)
        if reason:
            dropped[reason] += 1
        else:
            kept.append(p)
    if cfg.max_pairs_per_prompt is not None:
        groups: dict[str, list[int]] = defaultdict(list)
        for i, p in enumerate(kept):
            if p.prompt_id is not None:
                groups[p.prompt_id].append(i)
        cut = set()
        for idx in groups.values():
            if len(idx) > cfg.max_pairs_per_prompt:
                strength = lambda i: score_ratio(kept[i]) or kept[i].margin or 0.0  # noqa: E731
                ranked = sorted(idx, key=lambda i: -strength(i))  # stable: ties keep file order
                cut.update(ranked[cfg.max_pairs_per_prompt:])
        if cut:
            dropped["per_prompt_cap"] += len(cut)
            kept = [p for i, p in enumerate(kept) if i not in cut]
    return kept, dropped

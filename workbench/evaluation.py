"""Evaluation of a policy on the held-out prompts against π0, judged by the gold oracle.

Metrics (one value per iteration; per section as "<name>.<section>"):
- gold_win_rate: share of eval prompts where π_t's response has higher gold utility than π0's, ties half.
- gold_utility: mean gold utility of π_t's responses (what we really want up).
- rm_reward: mean reward-model score of the same responses (the proxy: up while gold_utility falls = over-optimization).
- mean_length_tokens, mean_length_chars: mean response length.
Iteration 0 is π0 itself: its gold_win_rate against its own samples is 0.5 by construction.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import fmean


def win_rate(policy: list[float], baseline: list[float]) -> float:
    """P(policy > baseline) over paired items, ties counted as half a win. Values are gold utilities."""
    if len(policy) != len(baseline) or not policy:
        raise ValueError(f"win rate needs two equal, non-empty lists, got {len(policy)} and {len(baseline)}")
    wins = sum(1.0 if p > b else 0.5 if p == b else 0.0 for p, b in zip(policy, baseline))
    return wins / len(policy)


def eval_metrics(
    sections: list[str],
    gold: list[float],
    baseline_gold: list[float],
    rm: list[float],
    n_tokens: list[int],
    n_chars: list[int],
) -> dict[str, float]:
    """All metrics for one policy's eval responses (one per prompt), overall and per section."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(sections):
        groups[s].append(i)
    out: dict[str, float] = {}
    for suffix, idx in [("", list(range(len(sections))))] + [(f".{s}", groups[s]) for s in sorted(groups)]:
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        out[f"gold_win_rate{suffix}"] = win_rate(pick(gold), pick(baseline_gold))
        out[f"gold_utility{suffix}"] = fmean(pick(gold))
        out[f"rm_reward{suffix}"] = fmean(pick(rm))
        out[f"mean_length_tokens{suffix}"] = fmean(pick(n_tokens))
        out[f"mean_length_chars{suffix}"] = fmean(pick(n_chars))
    return out

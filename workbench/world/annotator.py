"""The simulated annotator: the proxy "human" whose labels train the reward model (as in AlpacaFarm).

Bradley-Terry on gold utility with a temperature, plus a length bias and a label-flip rate:

    logit = ((u_a − u_b) + length_bias · (chars_a − chars_b) / 100 + position_bias) / temperature
    P(a ≻ b) = (1 − flip) · σ(logit) + flip · (1 − σ(logit))

With the defaults (length_bias 1.0 per 100 characters against a gold penalty of 0.5 per 100 characters) the
annotator prefers the longer of two equally good answers, as GPT-4 judges do, so a reward model trained on its
labels learns a length bias that the gold oracle does not share.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from workbench.config import AnnotatorConfig


def preference_probability(u_a: float, u_b: float, chars_a: int, chars_b: int, cfg: AnnotatorConfig) -> float:
    """P(the annotator prefers a over b), a being shown first. Utilities in gold units, lengths in characters."""
    logit = ((u_a - u_b) + cfg.length_bias * (chars_a - chars_b) / 100.0 + cfg.position_bias) / cfg.temperature
    p = 0.5 * (1.0 + math.tanh(0.5 * logit))  # σ(logit) without overflow
    return (1.0 - cfg.flip_rate) * p + cfg.flip_rate * (1.0 - p)


def prefers_a(rng: random.Random, u_a: float, u_b: float, chars_a: int, chars_b: int, cfg: AnnotatorConfig) -> bool:
    """One sampled label: True when the annotator picks a."""
    return rng.random() < preference_probability(u_a, u_b, chars_a, chars_b, cfg)


@dataclass
class Labelled:
    """The annotator's labels of disjoint pairs of samples: (prompt index, pair index, chosen, rejected) per label,
    and how the labels relate to gold and to length (the `annotator_*` metrics)."""

    labels: list[tuple[int, int, int, int]] = field(default_factory=list)  # sample indices of chosen and rejected
    identical: int = 0  # pairs skipped because both responses are the same text
    gold_decided: int = 0  # labels whose two gold utilities differ ...
    gold_agree: int = 0  # ... of which the chosen one has the higher gold utility
    length_decided: int = 0  # labels whose two responses differ in length ...
    chose_longer: int = 0  # ... of which the chosen one is longer

    @property
    def gold_agreement(self) -> float:
        return self.gold_agree / self.gold_decided if self.gold_decided else float("nan")

    @property
    def prefers_longer(self) -> float:
        return self.chose_longer / self.length_decided if self.length_decided else float("nan")


def label_pairs(rng: random.Random, texts: list[str], chars: list[int], gold: list[float], pairs,
                cfg: AnnotatorConfig) -> Labelled:
    """One sampled label per pair (i, j, a, b) of sample indices (loop.sampling.disjoint_pairs), a shown first.
    `texts`, `chars` (lengths in characters) and `gold` are indexed by sample; a pair of identical texts carries no
    preference and is skipped (no random number drawn)."""
    out = Labelled()
    for i, j, a, b in pairs:
        if texts[a] == texts[b]:
            out.identical += 1
            continue
        c, r = (a, b) if prefers_a(rng, gold[a], gold[b], chars[a], chars[b], cfg) else (b, a)
        if gold[a] != gold[b]:
            out.gold_decided += 1
            out.gold_agree += gold[c] > gold[r]
        if chars[a] != chars[b]:
            out.length_decided += 1
            out.chose_longer += chars[c] > chars[r]
        out.labels.append((i, j, c, r))
    return out

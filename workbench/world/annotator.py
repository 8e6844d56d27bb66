"""The simulated annotator, the GPT-4-like judge: it labels the chat pairs of the reward data in UltraFeedback's role
(world/judges.py; every pair with reward.labels=single) and judges lc_win_rate (as in AlpacaFarm). The human judge
and the safety labeller of judges.py are the same model with their own knobs.

Bradley-Terry on gold utility with a temperature, plus a length bias and a label-flip rate:

    logit = ((u_a − u_b) + length_bias · (chars_a − chars_b) / 100 + position_bias) / temperature
    P(a ≻ b) = (1 − flip) · σ(logit) + flip · (1 − σ(logit))

With the defaults (length_bias 1.58 per 100 characters against a gold penalty of 0.5 per 100 characters, set with
the temperature by benchmarks/calibrate_judges.py to a GPT-4 judge's published figures) the annotator prefers the
longer of two equally good answers, as GPT-4 judges do, so a reward model trained on its labels alone learns a
length bias that the gold oracle does not share.
"""

from __future__ import annotations

import math
import random

from workbench.config import AnnotatorConfig


def preference_probability(u_a: float, u_b: float, chars_a: int, chars_b: int, cfg: AnnotatorConfig) -> float:
    """P(the annotator prefers a over b), a being shown first. Utilities in gold units, lengths in characters."""
    logit = ((u_a - u_b) + cfg.length_bias * (chars_a - chars_b) / 100.0 + cfg.position_bias) / cfg.temperature
    p = 0.5 * (1.0 + math.tanh(0.5 * logit))  # σ(logit) without overflow
    return (1.0 - cfg.flip_rate) * p + cfg.flip_rate * (1.0 - p)


def prefers_a(rng: random.Random, u_a: float, u_b: float, chars_a: int, chars_b: int, cfg: AnnotatorConfig) -> bool:
    """One sampled label: True when the annotator picks a."""
    return rng.random() < preference_probability(u_a, u_b, chars_a, chars_b, cfg)

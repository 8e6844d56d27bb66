"""The reward data's labellers (world/judges.py): who labels which section, how each one labels, the published
figures they are set from, and the expected figures the judge card reports."""

import dataclasses
import math
import random

import pytest
from scipy.stats import spearmanr

from workbench.config import load_config
from workbench.pipeline.experiment import spearman
from workbench.world import judges
from workbench.world.annotator import prefers_a


def _cfg(*overrides):
    return load_config(preset="quick", overrides=list(overrides))


def _pairs(n_prompts, k):
    return [(i, j, i * 2 * k + 2 * j, i * 2 * k + 2 * j + 1) for i in range(n_prompts) for j in range(k)]


def _world(n_prompts=200, k=2, seed=0):
    """Random samples: texts, lengths, gold utilities and reasoning correctness, indexed by sample."""
    rng = random.Random(seed)
    n = n_prompts * 2 * k
    texts = [f"answer {x}" for x in range(n)]
    chars = [rng.randint(5, 60) for _ in range(n)]
    gold = [round(rng.uniform(-1, 1), 2) for _ in range(n)]
    correct = [rng.random() < 0.5 for _ in range(n)]
    sections = [("chat", "chat-hard", "safety", "reasoning")[i % 4] for i in range(n_prompts)]
    return sections, texts, chars, gold, correct


def test_single_labels_are_the_annotators_draw_for_draw():
    """reward.labels=single is the one-annotator recipe: the same random draws give the same labels as the
    annotator's `prefers_a` on every pair, in every section."""
    cfg = _cfg("reward.labels=single")
    sections, texts, chars, gold, correct = _world()
    got = judges.label_reward_pairs(random.Random(7), sections, texts, chars, gold, correct, _pairs(200, 2), cfg)
    rng = random.Random(7)
    want = [(i, j, *((a, b) if prefers_a(rng, gold[a], gold[b], chars[a], chars[b], cfg.annotator) else (b, a)),
             "annotator") for i, j, a, b in _pairs(200, 2)]
    assert got.labels == want and got.abstained == {}


def test_mixture_labels_each_section_as_its_sources_were():
    cfg = _cfg()
    sections, texts, chars, gold, correct = _world(n_prompts=800)
    got = judges.label_reward_pairs(random.Random(3), sections, texts, chars, gold, correct, _pairs(800, 2), cfg)
    by = {}
    for i, _, c, r, who in got.labels:
        by.setdefault(who, []).append((sections[i], c, r))
    assert {s for s, _, _ in by["verifier"]} == {"reasoning"}
    assert {s for s, _, _ in by["safety"]} == {"safety"}
    assert {s for s, _, _ in by["annotator"]} == {s for s, _, _ in by["human"]} == {"chat", "chat-hard"}
    # the human share of the chat pairs is Table 5's, drawn per pair
    share = len(by["human"]) / (len(by["human"]) + len(by["annotator"]))
    assert share == pytest.approx(cfg.judges.human_share, abs=0.04)
    # the verifier labels right over wrong (flips aside) and abstains where both are right or both wrong
    right = [correct[c] and not correct[r] for _, c, r in by["verifier"]]
    assert sum(right) / len(right) == pytest.approx(1 - cfg.judges.verifier_flip_rate, abs=0.05)
    assert all(correct[c] != correct[r] for _, c, r in by["verifier"])
    ties = sum(correct[a] == correct[b] for i, _, a, b in _pairs(800, 2) if sections[i] == "reasoning")
    assert got.abstained == {"verifier": ties} and ties > 0


def test_identical_texts_are_skipped_before_any_draw():
    cfg = _cfg()
    sections, texts, chars, gold, correct = _world(n_prompts=4, k=1)
    texts[1] = texts[0]
    got = judges.label_reward_pairs(random.Random(0), sections, texts, chars, gold, correct, _pairs(4, 1), cfg)
    assert got.identical == 1 and [label[0] for label in got.labels] + list(got.abstained.values()) != []
    assert 0 not in [label[0] for label in got.labels]


def test_published_figures_solve_their_equations():
    p, q = judges.human_accuracy(), judges.gpt4_accuracy()
    m = p ** 3 + 3 * p ** 2 * (1 - p)  # the majority of three people right
    assert p * m + (1 - p) * (1 - m) == pytest.approx(judges.HUMAN_VS_OTHERS, abs=1e-9)
    assert q * m + (1 - q) * (1 - m) == pytest.approx(judges.GPT4_VS_HUMANS, abs=1e-9)
    assert 0.73 < p < q < 0.78
    # Table 5's pooled length ratios: chosen shorter for the verifier's and the safety data, longer for chat's
    assert judges.paper_length_ratio("safety") == pytest.approx(70 / 75)
    assert judges.paper_length_ratio("verifier") < 1 < judges.paper_length_ratio("annotator")
    assert judges.paper_human_share() == pytest.approx((115_396 + 93_301 + 37_131) / (
        115_396 + 93_301 + 37_131 + 340_025 + 14_811 + 6_926))


def test_expected_figures_on_hand_built_pairs():
    cfg = _cfg()
    cfg = dataclasses.replace(cfg, annotator=dataclasses.replace(cfg.annotator, temperature=0.1, flip_rate=0.0,
                                                                 length_bias=1.0, position_bias=0.3))
    # a: better by 0.5 and 30 characters shorter (30 ≥ 0.3 · 70); b: equal gold, lengths within 30% of each other
    pairs = [(1.0, 0.5, 70, 100, None, None), (0.2, 0.2, 50, 60, None, None)]
    fig = judges.expected_figures("annotator", cfg, pairs)
    # the gold gap minus 30 characters' worth of length bias, the position bias for a shown first and then for b
    sigmoid = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    p_better = 0.5 * (sigmoid((0.5 - 0.3 + 0.3) / 0.1) + sigmoid((0.5 - 0.3 - 0.3) / 0.1))
    assert fig.gold_agreement == pytest.approx(p_better) and fig.decided == 1
    assert fig.prefers_longer == pytest.approx(1 - p_better) and fig.long_pairs == 1
    # the verifier abstains on pairs it cannot tell apart and is right 1 − flip of the time on the others
    fig = judges.expected_figures("verifier", cfg, [(1.0, 0.0, 3, 3, True, False), (1.0, 0.9, 3, 9, True, True)])
    assert fig.gold_agreement == pytest.approx(1 - cfg.judges.verifier_flip_rate) and fig.decided == 1


@pytest.mark.parametrize("xs,ys,rho", [
    ([0.5, 0.52, 0.51, 0.6, 0.7], [10.2, 20.7, 22.5, 31.3, 38.1], 0.9),  # one swap: 1 − 6·2 / (5·24)
    # ties at their mean rank: ranks 2.5, 2.5, 1, 4.5, 4.5 against 1..5, Pearson 6 / √(9 · 10)
    ([0.5, 0.5, 0.4, 0.6, 0.6], [1, 2, 3, 4, 5], 6 / math.sqrt(90)),
    ([3, 2, 1], [1, 2, 3], -1.0),
])
def test_spearman_on_hand_ranked_cases(xs, ys, rho):
    assert spearman(xs, ys) == pytest.approx(rho)
    assert spearman(xs, ys) == pytest.approx(spearmanr(xs, ys).statistic)
    assert math.isnan(spearman([0.5] * len(ys), ys))  # a constant side

"""Evaluation metrics on hand-built cases."""

import math

import pytest

from workbench.evaluation.metrics import correlation, eval_metrics, kl_estimate, length_controlled_win_rate, win_rate


def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


def test_lc_win_rate_removes_a_pure_length_preference():
    # The judge prefers whichever answer is longer and nothing else; the policy is longer on most items.
    deltas = [30, 50, 10, 80, -20, 40, 60, -10, 25, 70] * 4
    base = [100] * len(deltas)
    pol = [b + d for b, d in zip(base, deltas)]
    std = (sum((d - sum(deltas) / len(deltas)) ** 2 for d in deltas) / (len(deltas) - 1)) ** 0.5
    prefs = [_sigmoid(3.0 * math.tanh(d / std)) for d in deltas]
    raw = sum(prefs) / len(prefs)
    lc = length_controlled_win_rate(prefs, pol, base)
    assert raw > 0.75
    assert lc == pytest.approx(0.5, abs=0.05)


def test_lc_win_rate_keeps_a_real_quality_difference():
    # Same lengths, judge prefers the policy 80% of the time: nothing to control for.
    prefs = [0.8] * 20
    lc = length_controlled_win_rate(prefs, [50] * 20, [50] * 20)
    assert lc == pytest.approx(0.8, abs=0.02)


def test_lc_win_rate_of_a_policy_against_itself():
    assert length_controlled_win_rate([0.5] * 10, list(range(10)), list(range(10))) == pytest.approx(0.5, abs=1e-3)
    assert length_controlled_win_rate([1.0] * 5, [1] * 5, [2] * 5) == 1.0


def test_kl_estimate():
    assert kl_estimate([-3.0, -4.0], [-3.0, -4.0]) == 0.0
    assert kl_estimate([-1.0, -2.0], [-3.0, -2.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        kl_estimate([], [])


def test_correlation():
    assert correlation([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert correlation([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(correlation([1, 1, 1], [1, 2, 3]))


def test_win_rate_counts_ties_half():
    assert win_rate([1, 0, 0.5, 0.2], [0, 1, 0.5, 0.1]) == pytest.approx((1 + 0 + 0.5 + 1) / 4)
    assert win_rate([0.3] * 5, [0.3] * 5) == 0.5
    with pytest.raises(ValueError):
        win_rate([], [])


def test_eval_metrics_per_section():
    m = eval_metrics(
        sections=["chat", "reasoning", "reasoning"],
        gold=[1.0, 1.0, 0.0],
        baseline_gold=[0.0, 0.0, 0.0],
        rm=[0.5, 0.1, 0.3],
        n_tokens=[4, 2, 6],
        n_chars=[10, 4, 16],
        baseline_chars=[10, 4, 16],
        annotator=[0.9, 0.8, 0.4],
    )
    assert m["gold_win_rate"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert m["gold_win_rate.chat"] == 1.0
    assert m["gold_win_rate.reasoning"] == 0.75
    assert m["mean_length_chars.reasoning"] == 10.0
    assert m["rm_reward"] == pytest.approx(0.3)
    assert m["annotator_win_rate"] == pytest.approx(0.7)
    assert m["reward_length_corr.reasoning"] == pytest.approx(1.0)

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
    # k3 per sample: (r − 1) − log r with log r = ref − policy; one sample at log r = −2, one at 0
    assert kl_estimate([-1.0, -2.0], [-3.0, -2.0]) == pytest.approx(((math.exp(-2) - 1) + 2) / 2)
    # never negative, where the plain log-ratio mean (k1) is: here k1 = (−0.3 + 0.1) / 2 < 0
    assert kl_estimate([-2.0, -2.0], [-1.7, -2.1]) > 0
    # unbiased: over samples y ~ π of a two-outcome π and π_ref, the mean of k3 is the exact KL(π ‖ π_ref)
    pi, ref = [0.8, 0.2], [0.5, 0.5]
    exact = sum(p * math.log(p / q) for p, q in zip(pi, ref))
    weighted = sum(p * kl_estimate([math.log(p)], [math.log(q)]) for p, q in zip(pi, ref))
    assert weighted == pytest.approx(exact, abs=1e-12)
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


def _alpaca_eval_lc(preferences, policy_chars, baseline_chars) -> float:
    """alpaca_eval's own length-controlled GLM (`length_controlled_minimal`: its formula without the instruction
    difficulty, which needs the package's hub files), built and fitted by the package's functions."""
    import alpaca_eval.metrics.glm_winrate as glm
    import numpy as np
    import pandas as pd
    delta = np.asarray(baseline_chars, dtype=float) - np.asarray(policy_chars, dtype=float)  # output_1 − output_2
    train = pd.DataFrame({"preference": np.asarray(preferences, dtype=float),
                          "std_delta_len": delta / delta.std(ddof=1),
                          "not_gamed_baseline": True})
    test = train[["not_gamed_baseline"]].copy()
    test["std_delta_len"] = 0
    xy, x_test = glm.make_dmatrix_for_model(train, test, formula=glm.GLM_INFO["length_controlled_minimal"]["formula"])
    model = glm.fit_LogisticRegressionCV(xy, "preference", is_ytrue_proba=True,
                                         **glm.GLM_INFO["length_controlled_minimal"]["kwargs"])
    return float(model.predict_proba(x_test)[:, 1].mean())


@pytest.mark.parametrize("shift", [-2.0, -0.7, 0.0, 0.4, 1.5])
def test_lc_win_rate_equals_alpaca_evals_on_synthetic_tables(shift):
    import random

    rng = random.Random(f"lc/{shift}")
    n = rng.randint(30, 150)
    pol, base = [rng.randint(10, 60) for _ in range(n)], [rng.randint(10, 60) for _ in range(n)]
    prefs = [min(1.0, max(0.0, _sigmoid(shift + 0.05 * (p - b)) + rng.gauss(0, 0.1))) for p, b in zip(pol, base)]
    assert length_controlled_win_rate(prefs, pol, base) == pytest.approx(_alpaca_eval_lc(prefs, pol, base), abs=1e-9)


def test_lc_win_rate_equals_alpaca_evals_on_a_runs_evals(quick_cli_run):
    """The stored `lc_win_rate` of each iteration of a quick run, and overall on its `evals` rows, equal the
    package's."""
    from workbench.store import query

    root, run_id = quick_cli_run
    _, rows = query(root, "select iteration, annotator_preference, policy_chars, baseline_chars from evals "
                          "where run_id = ? and iteration > 0 order by iteration, prompt_id", [run_id])
    _, stored = query(root, "select iteration, value from metrics where run_id = ? and name = 'lc_win_rate' "
                            "and iteration > 0", [run_id])
    assert len(stored) == 2
    for t, value in stored:
        table = [r[1:] for r in rows if r[0] == t]
        prefs, pol, base = (list(col) for col in zip(*table))
        expected = _alpaca_eval_lc(prefs, pol, base)
        assert value == pytest.approx(expected, abs=1e-9)
        assert length_controlled_win_rate(prefs, pol, base) == pytest.approx(expected, abs=1e-9)


def test_rm_policy_accuracy_counts_gold_unequal_pairs_of_one_prompt():
    from workbench.evaluation.metrics import rm_policy_accuracy

    # prompt a (chat): gold 1 > 0 > 0; the RM orders (1 vs 0) right once, wrong once; the gold tie is no pair.
    # prompt b (reasoning): gold 1 vs 0 with an RM tie: one half. Prompt c (reasoning): all gold-equal, no pair.
    out = rm_policy_accuracy(["chat"] * 3 + ["reasoning"] * 4, ["a", "a", "a", "b", "b", "c", "c"],
                             [1.0, 0.0, 0.0, 1.0, 0.0, 0.5, 0.5], [0.9, 0.1, 2.0, 0.3, 0.3, 0.0, 1.0])
    assert out == {"rm_policy_accuracy": pytest.approx(1.5 / 3), "rm_policy_accuracy.chat": 0.5,
                   "rm_policy_accuracy.reasoning": 0.5}
    assert math.isnan(rm_policy_accuracy(["chat"] * 2, ["a", "a"], [1.0, 1.0], [0.0, 1.0])["rm_policy_accuracy"])

"""Evaluation of a policy on the held-out prompts against π0, judged by the gold oracle and the simulated annotator.

Metrics (one value per iteration; per section as "<name>.<section>"):
- gold_win_rate: share of eval prompts where π_t's response has a higher gold utility than π0's, ties half.
- lc_win_rate: AlpacaEval 2's length-controlled win rate with the simulated annotator as the judge (see
  `length_controlled_win_rate`); annotator_win_rate is the same judge's raw win rate.
- kl_to_ref: KL(π_t ‖ π0) estimated on π_t's eval responses, both policies at the eval temperature, with Schulman's
  k3 estimator (non-negative per sample; see `kl_estimate`); kl_to_ref_k1 is the plain mean log-ratio (k1), also
  unbiased, which can go below 0 but has no heavy tail where π_t has moved far from π0.
- lc_model_term_zero: 1 when the length-controlled fit's model term is exactly 0 (L1 zeroed it: lc_win_rate is then
  0.5 whatever the judge said), else 0; lc_degenerate_fits counts such fits over iterations 1..t.
- gold_utility / rm_reward: mean gold utility and mean reward-model score of π_t's responses (rm_reward up while
  gold_utility goes down = over-optimization); reward_length_corr: Pearson correlation of RM reward and length.
- mean_length_tokens, mean_length_chars: mean response length.
- capability / alignment_tax: accuracy on the held-out capability prompts, and how much of it π_t lost vs π0.
Iteration 0 is π0 itself: its win rates against its own responses are 0.5 by construction.
"""

from __future__ import annotations

import math
from collections import defaultdict
from statistics import fmean


def win_rate(policy: list[float], baseline: list[float]) -> float:
    """P(policy > baseline) over paired items, ties counted as half a win. Values are gold utilities."""
    if len(policy) != len(baseline) or not policy:
        raise ValueError(f"win rate needs two equal, non-empty lists, got {len(policy)} and {len(baseline)}")
    wins = sum(1.0 if p > b else 0.5 if p == b else 0.0 for p, b in zip(policy, baseline))
    return wins / len(policy)


def gold_preference(policy: float, baseline: float) -> float:
    """1 when the policy's response is better by the gold utility, 0 when worse, 0.5 on a tie."""
    return 1.0 if policy > baseline else 0.5 if policy == baseline else 0.0


LC_SPLITS = 5  # alpaca_eval's length-controlled GLMs: n_splits=5, C picked by cross-validated log loss


def length_controlled_win_rate(preferences: list[float], policy_chars: list[int], baseline_chars: list[int]) -> float:
    """AlpacaEval 2's length-controlled win rate (`length_controlled_fit`'s first value)."""
    return length_controlled_fit(preferences, policy_chars, baseline_chars)[0]


def length_controlled_fit(preferences: list[float], policy_chars: list[int],
                          baseline_chars: list[int]) -> tuple[float, float]:
    """(win rate, θ_model): AlpacaEval 2's length-controlled win rate for one policy against one baseline, as
    alpaca_eval 0.6.6 computes it (`metrics/glm_winrate.py`, the `length_controlled_minimal` GLM: there is no bank
    of other models here for its instruction-difficulty term).

    A logistic regression of the judge's soft preference p_i ∈ [0, 1] for the policy on tanh(Δlen_i / std(Δlen))
    (Δlen = baseline − policy characters, std with ddof 1) and a model term, no intercept, L1 penalty, liblinear;
    soft labels as sample weights (each item once with label 1, weight p_i, and once with label 0, weight 1 − p_i).
    C is not fixed: `LogisticRegressionCV` picks it from its default grid by the log loss against the soft labels
    over a 5-fold `GroupKFold` that keeps both copies of an item in one fold (fewer folds when there are fewer than 5
    items). The win rate is then predicted with the length term at zero, σ(θ_model) for every item. θ_model = 0
    exactly means the L1 penalty zeroed the model term (a degenerate fit: too few items for the judge's signal).
    """
    import numpy as np
    import sklearn
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import GroupKFold

    p = np.asarray(preferences, dtype=float)
    if len(p) == 0 or len(p) != len(policy_chars) or len(p) != len(baseline_chars):
        raise ValueError("length-controlled win rate needs equal, non-empty lists")
    if len(p) == 1 or (np.all(p == p[0]) and p[0] in (0.0, 1.0)):
        return float(p[0]), math.nan  # one item, or one class only: no GLM to fit, and the answer is unambiguous
    delta = np.asarray(baseline_chars, dtype=float) - np.asarray(policy_chars, dtype=float)
    std = delta.std(ddof=1)
    length_term = np.tanh(delta / std) if std > 0 else np.zeros_like(delta)
    X = np.column_stack([length_term, np.ones_like(length_term)])  # patsy's column order in alpaca_eval
    # each item twice: label 1 weighted by p, label 0 weighted by 1 − p; both copies in one fold (grouped by item)
    X2, y2 = np.vstack([X, X]), np.r_[np.ones(len(p)), np.zeros(len(p))]
    prob, groups = np.r_[p, 1 - p], np.r_[np.arange(len(p)), np.arange(len(p))]
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_scorer(_soft_log_loss, response_method="predict_proba", greater_is_better=False)
        model = LogisticRegressionCV(cv=GroupKFold(n_splits=min(LC_SPLITS, len(p))),
                                     scoring=scorer.set_score_request(true_prob=True), l1_ratios=(1.0,),
                                     solver="liblinear", fit_intercept=False, random_state=123,
                                     use_legacy_attributes=False)
        model.set_fit_request(sample_weight=True)
        model.fit(X2, y2, sample_weight=prob, groups=groups, true_prob=prob)
    theta = float(model.coef_[0][1])
    return float(1.0 / (1.0 + math.exp(-theta))), theta


def _soft_log_loss(y_true, y_pred, true_prob) -> float:
    """Log loss against soft labels (alpaca_eval's `logloss_continuous`): `true_prob` is the soft label of each
    duplicated row, whose 0/1 `y_true` says which side of the item it stands for."""
    import numpy as np

    target = np.where(y_true == 1, true_prob, 1 - true_prob)
    y_pred = np.clip(y_pred, 1e-15, 1 - 1e-15)
    return float(-np.mean(target * np.log(y_pred) + (1 - target) * np.log(1 - y_pred)))


def kl_estimate(policy_logprobs: list[float], ref_logprobs: list[float]) -> float:
    """Monte-Carlo KL(π ‖ π_ref) from responses y sampled from π: the mean of Schulman's k3 estimator
    (r − 1) − log r with r = π_ref(y|x) / π(y|x). Each term is ≥ 0 (x − 1 ≥ log x), and its mean is unbiased, as
    the plain log-ratio's (k1) is, with a lower variance when π is near π_ref; TRL's GRPOTrainer logs the same. No
    clamping. Log-probs are summed over tokens."""
    if len(policy_logprobs) != len(ref_logprobs) or not policy_logprobs:
        raise ValueError("KL estimate needs equal, non-empty lists of log-probabilities")
    return fmean(_k3(ref - pol) for pol, ref in zip(policy_logprobs, ref_logprobs))


def _k3(log_ratio: float) -> float:
    """(r − 1) − log r for log r = `log_ratio`; expm1 keeps it exact near r = 1, inf past exp's range."""
    try:
        return math.expm1(log_ratio) - log_ratio
    except OverflowError:
        return math.inf


def correlation(xs: list[float], ys: list[float]) -> float:
    """Pearson correlation; NaN when either side is constant."""
    if len(xs) < 2 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return float("nan")
    mx, my = fmean(xs), fmean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy)


def eval_metrics(
    sections: list[str],
    gold: list[float],
    baseline_gold: list[float],
    rm: list[float],
    n_tokens: list[int],
    n_chars: list[int],
    baseline_chars: list[int] | None = None,
    annotator: list[float] | None = None,
) -> dict[str, float]:
    """Metrics for one policy's eval responses (one per prompt), overall and per section.

    `annotator`: the simulated annotator's P(policy ≻ baseline) per prompt; with `baseline_chars` it gives
    annotator_win_rate and lc_win_rate.
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(sections):
        groups[s].append(i)
    out: dict[str, float] = {}
    for suffix, idx in [("", list(range(len(sections))))] + [(f".{s}", groups[s]) for s in sorted(groups)]:
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        out[f"gold_win_rate{suffix}"] = win_rate(pick(gold), pick(baseline_gold))
        out[f"gold_utility{suffix}"] = fmean(pick(gold))
        if rm:
            out[f"rm_reward{suffix}"] = fmean(pick(rm))
            out[f"reward_length_corr{suffix}"] = correlation(pick(rm), [float(c) for c in pick(n_chars)])
        out[f"mean_length_tokens{suffix}"] = fmean(pick(n_tokens))
        out[f"mean_length_chars{suffix}"] = fmean(pick(n_chars))
        if annotator is not None and baseline_chars is not None:
            out[f"annotator_win_rate{suffix}"] = fmean(pick(annotator))
            lc, theta = length_controlled_fit(pick(annotator), pick(n_chars), pick(baseline_chars))
            out[f"lc_win_rate{suffix}"] = lc
            if not suffix:
                out["lc_model_term_zero"] = float(theta == 0.0)
    return out



def rm_policy_accuracy(sections: list[str], prompt_ids: list[str], gold: list[float],
                       rm: list[float]) -> dict[str, float]:
    """The reward model's accuracy on the policy's own samples: over every pair of two samples of one prompt whose
    gold utilities differ, the share the RM orders as gold does (an RM tie counts one half), overall and per
    section (`rm_policy_accuracy`, `rm_policy_accuracy.SECTION`; NaN where a section has no such pair)."""
    by_prompt: dict[str, list[int]] = defaultdict(list)
    for i, pid in enumerate(prompt_ids):
        by_prompt[pid].append(i)
    hits: dict[str, list[float]] = defaultdict(list)
    for idx in by_prompt.values():
        for a, i in enumerate(idx):
            for j in idx[a + 1:]:
                if gold[i] == gold[j]:
                    continue
                hit = 0.5 if rm[i] == rm[j] else float((rm[i] > rm[j]) == (gold[i] > gold[j]))
                hits[""].append(hit)
                hits[f".{sections[i]}"].append(hit)
    return {f"rm_policy_accuracy{suffix}": fmean(hits[suffix]) if hits[suffix] else float("nan")
            for suffix in [""] + [f".{s}" for s in sorted(set(sections))]}


def annotator_win_probability(gold: list[float], baseline_gold: list[float], chars: list[int],
                              baseline_chars: list[int], cfg) -> list[float]:
    """The simulated annotator's P(policy ≻ baseline) per prompt, averaged over both display orders (so its
    position bias cancels), as AlpacaEval's judge is asked in both orders. `cfg`: the run's AnnotatorConfig."""
    from workbench.world.annotator import preference_probability

    return [0.5 * (preference_probability(u, ub, c, cb, cfg) + 1.0 - preference_probability(ub, u, cb, c, cfg))
            for u, ub, c, cb in zip(gold, baseline_gold, chars, baseline_chars, strict=True)]


def policy_metrics(prompts, scored, baseline, baseline_gold: list[float], policy_logprobs: list[float],
                   ref_logprobs: list[float], capability_gold: list[float], annotator_cfg,
                   capability_at_pi0: float | None = None) -> tuple[dict[str, float], list[float]]:
    """Every metric of one evaluation of π_t against π0 (the `metrics` rows of an `evaluate` stage), and the
    annotator's win probability per prompt (for the `evals` rows).

    `scored`: π_t's eval responses (records.Scored), `baseline`: π0's (Generations) in the same prompt order;
    `capability_gold`: gold utilities of π_t's answers to the capability prompts; `capability_at_pi0`: π0's
    capability, None when π_t is π0 (alignment tax 0)."""
    gens = scored.generations
    chars, base_chars = [g.n_chars for g in gens], [b.n_chars for b in baseline]
    annot = annotator_win_probability(scored.gold, baseline_gold, chars, base_chars, annotator_cfg)
    metrics = eval_metrics(sections=[p.section for p in prompts], gold=scored.gold, baseline_gold=baseline_gold,
                           rm=scored.rm, n_tokens=[g.n_tokens for g in gens], n_chars=chars,
                           baseline_chars=base_chars, annotator=annot)
    metrics["kl_to_ref"] = kl_estimate(policy_logprobs, ref_logprobs)
    metrics["kl_to_ref_k1"] = fmean(p - r for p, r in zip(policy_logprobs, ref_logprobs))  # the plain log-ratio
    metrics["capability"] = sum(u >= 1.0 - 1e-9 for u in capability_gold) / len(capability_gold)
    metrics["alignment_tax"] = 0.0 if capability_at_pi0 is None else capability_at_pi0 - metrics["capability"]
    return metrics, annot


# the metrics `workbench run` prints per iteration and the dashboard's Runs page shows (latest iteration)
HEADLINE = (
    "gold_win_rate", "lc_win_rate", "gold_utility", "rm_reward", "kl_to_ref", "mean_length_chars", "alignment_tax"
)


def metrics_table(root: str, run_id: str) -> tuple[list[str], list[tuple]]:
    """One row per iteration with the headline metrics, as `workbench run` prints it."""
    from workbench.store import query

    cols = ", ".join(f"max(value) FILTER (WHERE name = '{m}') AS {m}" for m in HEADLINE)
    return query(
        root,
        f"SELECT iteration, {cols} FROM metrics WHERE run_id = ? AND name IN {HEADLINE} "
        "GROUP BY iteration ORDER BY iteration",
        [run_id],
    )

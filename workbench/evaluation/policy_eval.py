"""The evaluate stage: π_t on the held-out eval and capability prompts, against π0's eval responses.

    evaluate_policy(cfg, store, world, t, tokenizer, rm_dir)   # what Pipeline.evaluate runs inside its stage record

One sample per eval prompt at `eval.temperature`, drawn with the same seed for every policy (common random numbers),
scored by gold, the RM in use and the annotator; π0's own responses (stored by t = 0) are the baseline every later
policy is compared with. The metrics (metrics.py): gold and length-controlled win rate, gold utility, RM reward,
KL to π0 on π_t's samples, length, capability and the alignment tax; with `eval.drift_samples`, the RM's accuracy
on pairs of π_t's own samples (`rm_policy_accuracy`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from workbench.config import RunConfig
from workbench.data.layout import PolicyFormat
from workbench.evaluation.metrics import gold_preference, policy_metrics, rm_policy_accuracy
from workbench.records import EvalRow, Generation, Metric, Prompt, Scored
from workbench.store import RunStore, query

EVAL_SEED = 99_991  # the same sampling seed for every policy's eval responses (common random numbers)
DRIFT_SEED = 77_773  # the RM-drift samples' seed: a stream of its own, so the measure changes no other sample


def evaluate_policy(cfg: RunConfig, store: RunStore, world, t: int, tokenizer, rm_dir: Path) -> None:
    """Sample, score and measure π_t (`store.policy_dir(t)`) with the RM at `rm_dir`, the one in use once iteration
    t is done (loop/schedule.py); writes the generations, scores, `evals` rows and metrics of iteration t."""
    from workbench.loop import iteration as loop
    from workbench.loop.generation import response_logprobs
    from workbench.models import lm as model
    from workbench.models.reward import load_reward_model

    run_id, policy_dir = store.run_id, store.policy_dir(t)
    policy = model.load_policy(policy_dir)
    prompts = world.split("eval")
    rm = load_reward_model(rm_dir, tokenizer)
    sample = dict(n=1, temperatures=[cfg.eval.temperature], max_new_tokens=cfg.eval.max_new_tokens, seed=EVAL_SEED)
    scored = loop.sample_and_score(cfg, policy_dir, tokenizer, rm, prompts, iteration=t, purpose="eval", **sample)
    capability = loop.sample_and_score(cfg, policy_dir, tokenizer, None, world.split("capability"), iteration=t,
                                       purpose="capability", **sample)
    if t == 0:
        base_gens, base_gold = scored.generations, scored.gold
    else:
        base_gens, base_gold = pi0_eval_responses(store, prompts)
    policy_format = PolicyFormat.of(tokenizer)
    texts = [policy_format.prompt(p.text) for p in prompts]
    responses = [g.text for g in scored.generations]
    pol_lp = response_logprobs(policy, tokenizer, texts, responses, cfg.eval.temperature)
    ref_lp = pol_lp if t == 0 else response_logprobs(
        model.load_policy(store.policy_dir(0)), tokenizer, texts, responses, cfg.eval.temperature
    )
    pi0_capability = None  # the alignment tax is measured against π0's capability
    if t:
        _, rows = query(store.root, "select value from metrics where run_id = ? and iteration = 0 and "
                                    "name = 'capability'", [run_id])
        pi0_capability = rows[0][0]
    metrics, annot = policy_metrics(prompts, scored, base_gens, base_gold, pol_lp, ref_lp, capability.gold,
                                    cfg.annotator, capability_at_pi0=pi0_capability)
    zero = metrics.pop("lc_model_term_zero", 0.0)  # π0 against itself: every preference 0.5, a zero term by design
    if t:
        metrics["lc_model_term_zero"] = zero
    metrics["lc_degenerate_fits"] = _degenerate_fits(store, t, zero)
    evals = [
        EvalRow(run_id, t, p.prompt_id, p.section, f"pi_{t}", "pi_0", g.generation_id, b.generation_id,
                g.n_chars, b.n_chars, u, ub, gold_preference(u, ub), a, lp, rp)
        for p, g, b, u, ub, a, lp, rp in zip(prompts, scored.generations, base_gens, scored.gold, base_gold,
                                              annot, pol_lp, ref_lp)
    ]
    drift = drift_samples(cfg, store, t, tokenizer, rm, prompts)
    if drift is not None:
        section = {p.prompt_id: p.section for p in prompts}
        ids = [g.prompt_id for g in drift.generations]
        metrics.update(rm_policy_accuracy([section[i] for i in ids], ids, drift.gold, drift.rm))
    seg = f"eval-{t:03d}"
    extra = [] if drift is None else drift.generations
    store.write(scored.generations + capability.generations + extra, seg)
    store.write(scored.score_rows(run_id) + capability.score_rows(run_id)
                + ([] if drift is None else drift.score_rows(run_id)), seg)
    store.write(evals, seg)
    store.write([Metric(run_id, t, k, v) for k, v in metrics.items()], seg)


def _degenerate_fits(store: RunStore, t: int, now: float) -> float:
    """How many of iterations 1..t had a length-controlled fit with its model term at zero: the stored count at t − 1
    plus `now` (1 when iteration t's is). π0's own fit (t = 0, every preference 0.5) does not count."""
    if t == 0:
        return 0.0
    _, rows = query(store.root, "select value from metrics where run_id = ? and iteration = ? and "
                                "name = 'lc_degenerate_fits'", [store.run_id, t - 1])
    return (rows[0][0] if rows else 0.0) + now


def drift_samples(cfg: RunConfig, store: RunStore, t: int, tokenizer, rm, prompts: list[Prompt]) -> Scored | None:
    """π_t's `eval.drift_samples` samples per eval prompt at the rollout's temperatures (purpose `drift`), scored
    by the RM in use and the gold oracle: the pairs `rm_policy_accuracy` is measured on. None when off."""
    from workbench.loop import iteration as loop

    if not cfg.eval.drift_samples:
        return None
    return loop.sample_and_score(
        cfg, store.policy_dir(t), tokenizer, rm, prompts, iteration=t, purpose="drift",
        n=cfg.eval.drift_samples, temperatures=cfg.generation.temperatures,
        max_new_tokens=cfg.generation.max_new_tokens, seed=DRIFT_SEED + t,
    )


def pi0_eval_responses(store: RunStore, prompts: list[Prompt]) -> tuple[list[Generation], list[float]]:
    """π0's stored eval responses and their gold utilities, in the order of `prompts`."""
    cols = [f"g.{f.name}" for f in dataclasses.fields(Generation)]
    _, rows = query(
        store.root,
        f"select {', '.join(cols)}, s.value from generations g join scores s using (run_id, generation_id) "
        "where g.run_id = ? and g.purpose = 'eval' and g.iteration = 0 and s.scorer = 'gold'",
        [store.run_id],
    )
    by_prompt = {r[2]: (Generation(*r[:-1]), r[-1]) for r in rows}
    missing = [p.prompt_id for p in prompts if p.prompt_id not in by_prompt]
    if missing:
        raise RuntimeError(f"run {store.run_id}: π0's eval responses are missing ({len(missing)} prompts); "
                           "run evaluate(0) first")
    return [by_prompt[p.prompt_id][0] for p in prompts], [by_prompt[p.prompt_id][1] for p in prompts]

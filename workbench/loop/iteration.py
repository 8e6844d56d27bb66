"""One iteration of online iterative DPO (the paper's Algorithm 1, RLHFlow's recipe):

    rollout:    prompts_t ─► n samples from π_{t−1} ─► score (RM, or the gold oracle as a ceiling)
                ─► pair = best vs worst of n after r − λ·len (equal scores dropped) ─► store
    iteration:  pairs from the store ─► DPO (TRL DPOTrainer) from π_{t−1} against the reference (π0 by
                default) ─► π_t
Two stages, so the pairs are in the store (and on the dashboard) while DPO trains.
"""

from __future__ import annotations

import random
from pathlib import Path

from workbench.config import Oracle, Reference, RunConfig
from workbench.data.labels import pair_rows
from workbench.data.layout import PolicyFormat
from workbench.distributed import rank_log_callback
from workbench.loop.generation import get_generator
from workbench.loop.schedule import RMStep
from workbench.loop.selection import best_worst
from workbench.models.lm import load_policy, peft_config, train_and_save, training_args
from workbench.models.reward import score
from workbench.records import Generation, Iteration, Pair, Prompt, Score, Scored
from workbench.store import RunStore
from workbench.world.annotator import prefers_a
from workbench.world.toy import format_prompt, gold_utility


def sample_and_score(
    cfg: RunConfig,
    policy,
    tokenizer,
    reward_model,
    prompts: list[Prompt],
    *,
    iteration: int,
    purpose: str,
    n: int,
    temperatures: list[float],
    max_new_tokens: int,
    seed: int,
) -> Scored:
    """Sample n responses per prompt and score each with the gold oracle and (when given) the reward model.

    `policy` is a `save_pretrained` folder or a model loaded from one; the configured backend samples from it, in
    the policy's own format (layout.PolicyFormat: its chat template when it has one)."""
    g = cfg.generation
    policy_format = PolicyFormat.of(tokenizer)
    samples = get_generator(g).generate(
        policy,
        tokenizer,
        [policy_format.prompt(p.text) for p in prompts],
        n=n,
        temperatures=temperatures,
        top_p=g.top_p,
        max_new_tokens=max_new_tokens,
        seed=seed,
        desc=f"{purpose} π{iteration}",
    )
    gens = [
        Generation(
            run_id=prompts[0].run_id,
            generation_id=f"{purpose}{iteration}-{prompts[s.prompt_index].prompt_id}-{s.sample_index}",
            prompt_id=prompts[s.prompt_index].prompt_id,
            iteration=iteration,
            purpose=purpose,
            sample_index=s.sample_index,
            temperature=s.temperature,
            top_p=g.top_p,
            max_new_tokens=max_new_tokens,
            text=s.text,
            n_tokens=s.n_tokens,
            n_chars=len(s.text),
        )
        for s in samples
    ]
    gold = [gold_utility(prompts[s.prompt_index], s.text) for s in samples]
    rm = []
    if reward_model is not None:
        rm = score(reward_model, tokenizer, [format_prompt(prompts[s.prompt_index].text) for s in samples],
                   [s.text for s in samples])
    return Scored(gens, gold, rm)


def train_dpo(cfg: RunConfig, rows: list[dict], policy_dir: Path, ref_dir: Path, tokenizer, out: Path,
              seed: int) -> dict:
    """TRL DPOTrainer on {"prompt", "chosen", "rejected"} rows, from `policy_dir` against `ref_dir`; saves to `out`."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    d = cfg.dpo
    args = DPOConfig(
        **training_args(seed, out / "trainer", d.epochs, d.learning_rate, d.batch_size, cfg.report_to,
                         d.gradient_accumulation_steps),
        beta=d.beta,
        loss_type=list(d.loss_type),
        max_length=cfg.model.max_length,
    )
    lora = peft_config(cfg, "dpo")
    # with LoRA on π_{t−1} the adapters disabled are π_{t−1} itself: no second copy when that is the reference
    same = lora is not None and Path(ref_dir).resolve() == Path(policy_dir).resolve()
    trainer = DPOTrainer(
        model=load_policy(policy_dir),
        ref_model=None if same else load_policy(ref_dir),
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=[rank_log_callback(out / "trainer")],
        peft_config=lora,
    )
    return train_and_save(trainer, tokenizer, out)


def rollout(cfg: RunConfig, store: RunStore, prompts: list[Prompt], t: int, tokenizer, reward_model,
            preference_model, rm: RMStep) -> int:
    """Sample n responses per prompt from π_{t−1}, score them, keep best vs worst; writes generations, scores and
    pairs. Returns the number of prompts whose samples all tied (dropped). With `loop.oracle=pm` each sample's
    score is its round-robin mean win probability under the preference model (preference_model.py). `reward_model`
    is the RM `rm.serving` (schedule.py); when `rm` refreshes, that RM is first trained on labels of this rollout
    into `rm.refreshed`, and its scores rank the samples (refresh.py)."""
    g = cfg.generation
    scored = sample_and_score(
        cfg, store.policy_dir(t - 1), tokenizer, reward_model, prompts,
        iteration=t, purpose="rollout", n=g.n, temperatures=g.temperatures, max_new_tokens=g.max_new_tokens,
        seed=cfg.seed * 1000 + t,
    )
    if rm.refreshes:
        from workbench.loop.refresh import refresh

        scored.rm, labels = refresh(cfg, store, prompts, rm, tokenizer, scored)
        store.write(labels, f"refresh-{t:03d}")
    if cfg.loop.oracle is Oracle.RM:
        by_oracle = scored.rm
    elif cfg.loop.oracle is Oracle.GOLD:
        by_oracle = scored.gold
    elif cfg.loop.oracle.needs_pm:
        by_oracle = _pm_scores(preference_model, tokenizer, prompts, scored, g.n)
        store.write([Score(store.run_id, x.generation_id, "pm", v) for x, v in zip(scored.generations, by_oracle)],
                    f"rollout-pm-{t:03d}")
    else:
        by_oracle = annotator_wins(cfg, scored, g.n, random.Random(cfg.seed * 1000 + 700 + t))
    pairs, ties = [], 0
    for i, p in enumerate(prompts):
        gens = scored.generations[i * g.n : (i + 1) * g.n]
        sel = best_worst(by_oracle[i * g.n : (i + 1) * g.n], [x.n_chars for x in gens], cfg.loop.length_penalty)
        if sel is None:
            ties += 1
            continue
        pairs.append(
            Pair(store.run_id, f"dpo{t}-{p.prompt_id}", t, p.prompt_id, gens[sel.chosen].generation_id,
                 gens[sel.rejected].generation_id, sel.chosen_score, sel.rejected_score, sel.margin, "best_worst",
                 cfg.loop.oracle.value)
        )
    store.write(scored.generations, f"rollout-{t:03d}")
    store.write(scored.score_rows(store.run_id), f"rollout-{t:03d}")
    store.write(pairs, f"dpo-{t:03d}")
    return ties


def annotator_wins(cfg: RunConfig, scored: Scored, n: int, rng: random.Random) -> list[float]:
    """Score each of a prompt's n samples by its wins in sampled annotator labels over all n·(n−1)/2 pairs, the
    display order drawn at random per pair: the simulated annotator as the loop's oracle (noise, length bias and
    position bias included)."""
    wins = [0.0] * len(scored.generations)
    for start in range(0, len(wins), n):
        for i in range(start, start + n):
            for j in range(i + 1, start + n):
                a, b = (i, j) if rng.random() < 0.5 else (j, i)
                ga, gb = scored.generations[a], scored.generations[b]
                a_wins = prefers_a(rng, scored.gold[a], scored.gold[b], ga.n_chars, gb.n_chars, cfg.annotator)
                wins[a if a_wins else b] += 1.0
    return wins


def dpo_rows(root: Path, run_id: str, t: int, tokenizer) -> list[dict]:
    """Iteration t's selected pairs, read back from the store as DPO rows (prompt, chosen, rejected), in the
    policy's format (layout.PolicyFormat)."""
    return pair_rows(root, run_id, "x.iteration = ? and x.rule = 'best_worst'", [t], row=PolicyFormat.of(tokenizer).row)


def train_iteration(cfg: RunConfig, store: RunStore, t: int, tokenizer, n_prompts: int) -> Iteration:
    """DPO from π_{t−1} on iteration t's pairs against the reference; saves π_t."""
    rows = dpo_rows(store.root, store.run_id, t, tokenizer)
    if not rows:
        raise RuntimeError(f"iteration {t}: every prompt's samples scored equal; no DPO pairs to train on")
    prev = store.policy_dir(t - 1)
    ref = store.policy_dir(0) if cfg.loop.reference is Reference.INITIAL else prev
    out = store.policy_dir(t)
    train_dpo(cfg, rows, prev, ref, tokenizer, out, seed=cfg.seed * 1000 + t)
    return Iteration(
        run_id=store.run_id,
        iteration=t,
        policy_path=str(out.relative_to(store.dir)),
        reference=cfg.loop.reference.value,
        n_prompts=n_prompts,
        n_generations=n_prompts * cfg.generation.n,
        n_pairs=len(rows),
        n_ties_dropped=n_prompts - len(rows),
    )


def _pm_scores(preference_model, tokenizer, prompts: list[Prompt], scored: Scored, n: int) -> list[float]:
    from workbench.models.preference import rank_groups

    if preference_model is None:
        raise RuntimeError("loop.oracle=pm needs a trained preference model (models/pm)")
    groups = [[x.text for x in scored.generations[i * n : (i + 1) * n]] for i in range(len(prompts))]
    ranked = rank_groups(preference_model, tokenizer, [format_prompt(p.text) for p in prompts], groups)
    return [s for group in ranked for s in group]

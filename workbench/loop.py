"""One iteration of online iterative DPO (the paper's Algorithm 1, RLHFlow's recipe):

    prompts_t ─► n samples from π_{t−1} ─► score (RM, or the gold oracle as a ceiling)
              ─► pair = best vs worst of n after r − λ·len (equal scores dropped)
              ─► DPO (TRL DPOTrainer) from π_{t−1} against the reference (π0 by default) ─► π_t
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.config import Oracle, Reference, RunConfig
from workbench.distributed import broadcast_object, is_main_process, rank_log_callback
from workbench.generation import get_generator
from workbench.model import load_policy, training_args
from workbench.records import Generation, Iteration, Pair, Prompt, Score
from workbench.reward import score
from workbench.selection import best_worst
from workbench.store import RunStore
from workbench.world import format_prompt, gold_utility


@dataclass
class Scored:
    """Generations of one policy on some prompts, with their scores, in (prompt, sample) order."""

    generations: list[Generation]
    gold: list[float]
    rm: list[float]

    def score_rows(self, run_id: str) -> list[Score]:
        return [Score(run_id, g.generation_id, "gold", u) for g, u in zip(self.generations, self.gold)] + [
            Score(run_id, g.generation_id, "rm", r) for g, r in zip(self.generations, self.rm)
        ]


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

    `policy` is a `save_pretrained` folder or a model loaded from one; the configured backend samples from it."""
    g = cfg.generation
    samples = get_generator(g).generate(
        policy,
        tokenizer,
        [format_prompt(p.text) for p in prompts],
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
        rm = score(reward_model, tokenizer, [format_prompt(prompts[s.prompt_index].text) for s in samples], [s.text for s in samples])
    return Scored(gens, gold, rm)


def train_dpo(cfg: RunConfig, rows: list[dict], policy_dir: Path, ref_dir: Path, tokenizer, out: Path, seed: int) -> dict:
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
    trainer = DPOTrainer(
        model=load_policy(policy_dir),
        ref_model=load_policy(ref_dir),
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=[rank_log_callback(out / "trainer")],
    )
    result = trainer.train()
    trainer.save_model(str(out))  # rank 0 only, the full (gathered) weights under ZeRO-3 / FSDP
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(out)
    return dict(result.metrics)


def run_iteration(cfg: RunConfig, store: RunStore, prompts: list[Prompt], t: int, tokenizer, reward_model) -> Iteration:
    """Iteration t: sample from π_{t−1}, pick pairs, train π_t. Writes generations, scores and pairs first (so a
    dashboard sees them while DPO trains), then the iteration row.

    Under a multi-process launch (distributed.py) rank 0 samples and writes; every rank trains on its pairs."""
    g = cfg.generation
    prev = store.model_dir("sft" if t == 1 else f"policy_{t - 1}")
    ref = store.model_dir("sft") if cfg.loop.reference is Reference.INITIAL else prev
    if is_main_process():
        rows, counts = _sample_and_pair(cfg, store, prompts, t, tokenizer, reward_model, prev)
    else:
        rows, counts = None, None
    rows, counts = broadcast_object((rows, counts))
    if not rows:
        raise RuntimeError(f"iteration {t}: every prompt's {g.n} samples scored equal; no DPO pairs to train on")
    out = store.model_dir(f"policy_{t}")
    train_dpo(cfg, rows, prev, ref, tokenizer, out, seed=cfg.seed * 1000 + t)
    return Iteration(
        run_id=store.run_id,
        iteration=t,
        policy_path=str(out.relative_to(store.dir)),
        reference=cfg.loop.reference.value,
        n_prompts=len(prompts),
        **counts,
    )


def _sample_and_pair(cfg: RunConfig, store: RunStore, prompts: list[Prompt], t: int, tokenizer, reward_model, prev):
    """Samples of π_{t−1}, scored and paired best vs worst; writes them; returns the DPO rows and the counts."""
    g = cfg.generation
    scored = sample_and_score(
        cfg, prev, tokenizer, reward_model, prompts,
        iteration=t, purpose="rollout", n=g.n, temperatures=g.temperatures, max_new_tokens=g.max_new_tokens,
        seed=cfg.seed * 1000 + t,
    )
    by_oracle = scored.rm if cfg.loop.oracle is Oracle.RM else scored.gold
    pairs, rows, ties = [], [], 0
    for i, p in enumerate(prompts):
        lo, hi = i * g.n, (i + 1) * g.n
        gens = scored.generations[lo:hi]
        sel = best_worst(by_oracle[lo:hi], [x.n_chars for x in gens], cfg.loop.length_penalty)
        if sel is None:
            ties += 1
            continue
        chosen, rejected = gens[sel.chosen], gens[sel.rejected]
        pairs.append(
            Pair(store.run_id, f"dpo{t}-{p.prompt_id}", t, p.prompt_id, chosen.generation_id, rejected.generation_id,
                 sel.chosen_score, sel.rejected_score, sel.margin, "best_worst", cfg.loop.oracle.value)
        )
        rows.append({"prompt": format_prompt(p.text), "chosen": " " + chosen.text, "rejected": " " + rejected.text})
    store.write(scored.generations, f"rollout-{t:03d}")
    store.write(scored.score_rows(store.run_id), f"rollout-{t:03d}")
    store.write(pairs, f"dpo-{t:03d}")
    return rows, dict(n_generations=len(scored.generations), n_pairs=len(pairs), n_ties_dropped=ties)

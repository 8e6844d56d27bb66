"""The peer baselines, trained by TRL instead of our loop, each from π0 with our reward model as the reward:

- `loop.algorithm=trl_online_dpo`: TRL's OnlineDPOTrainer (trl.experimental.online_dpo) samples 2 responses per
  prompt from the current policy at every step, scores both with the RM and takes a DPO step on the pair.
- `loop.algorithm=trl_rloo`: TRL's RLOOTrainer, the deep-RL arm (REINFORCE with a leave-one-out baseline over
  `generation.n` samples per prompt, a KL penalty to π0 in the reward): the PPO-style method the paper argues from.

The reward function formats prompt and response exactly as the loop does. With `loop.time_budget_s` training stops
after that many seconds, so a peer can be compared with our loop at equal wall-clock.
"""

from __future__ import annotations

import time
from pathlib import Path

from workbench.config import Algorithm, Reference, RunConfig
from workbench.models.lm import load_policy, train_and_save, training_args
from workbench.models.reward import score
from workbench.records import Iteration, Prompt
from workbench.store import RunStore


def _stop_at_budget(budget_s: float):
    """A callback that stops training once `budget_s` seconds have passed (0: never)."""
    from transformers import TrainerCallback

    class StopAtBudget(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if budget_s and time.perf_counter() - self.start > budget_s:
                control.should_training_stop = True

    return StopAtBudget()


def _rm_reward(reward_model, tokenizer):
    def rm_reward(prompts, completions, **_):
        return score(reward_model, tokenizer, list(prompts), [c.strip() for c in completions])

    return rm_reward


def train_online_dpo(cfg: RunConfig, prompts: list[str], policy_dir: Path, ref_dir: Path, reward_model, tokenizer,
                     out: Path, seed: int) -> dict:
    """Train from `policy_dir` on `prompts` (formatted prompt strings) against `ref_dir`; save to `out`."""
    from trl.experimental.online_dpo import OnlineDPOConfig, OnlineDPOTrainer

    d, g = cfg.dpo, cfg.generation
    args = OnlineDPOConfig(
        **training_args(seed, out / "trainer", d.epochs, d.learning_rate, d.batch_size, cfg.report_to),
        beta=[d.beta],
        max_new_tokens=g.max_new_tokens,
        max_length=cfg.model.max_length,
        temperature=g.temperatures[0],
        top_p=g.top_p,
    )
    return _train(OnlineDPOTrainer, args, cfg, prompts, policy_dir, reward_model, tokenizer, out, d.batch_size,
                  ref_model=load_policy(ref_dir))


def train_rloo(cfg: RunConfig, prompts: list[str], policy_dir: Path, reward_model, tokenizer, out: Path,
               seed: int) -> dict:
    """RLOO from `policy_dir` (also the KL reference) on `prompts`; save to `out`.

    Each generation round samples `generation.n` completions for each of `dpo.batch_size` prompts and takes n
    optimizer steps of `dpo.batch_size` completions on them (TRL's steps_per_generation); learning rate, epochs
    and batch size are the DPO stage's, the KL coefficient is TRL's default.
    """
    from trl import RLOOConfig, RLOOTrainer

    d, g = cfg.dpo, cfg.generation
    args = RLOOConfig(
        **training_args(seed, out / "trainer", d.epochs, d.learning_rate, d.batch_size, cfg.report_to),
        num_generations=g.n,
        steps_per_generation=g.n,
        max_completion_length=g.max_new_tokens,
        temperature=g.temperatures[0],
        top_p=g.top_p,
    )
    # every optimizer step trains on batch_size completions, n of them per prompt
    return _train(RLOOTrainer, args, cfg, prompts, policy_dir, reward_model, tokenizer, out, d.batch_size / g.n)


def _train(trainer_cls, args, cfg: RunConfig, prompts: list[str], policy_dir: Path, reward_model, tokenizer, out: Path,
           prompts_per_step: float, **kwargs) -> dict:
    """Train a TRL online trainer from `policy_dir` on `prompts` with the RM as reward until the budget; save."""
    from datasets import Dataset

    trainer = trainer_cls(
        model=load_policy(policy_dir),
        reward_funcs=_rm_reward(reward_model, tokenizer),
        args=args,
        train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
        processing_class=tokenizer,
        callbacks=[_stop_at_budget(cfg.loop.time_budget_s)],
        **kwargs,
    )
    metrics = train_and_save(trainer, tokenizer, out)
    steps = trainer.state.global_step
    return metrics | {"steps": steps, "prompts_seen": int(steps * prompts_per_step)}


def train_peer(cfg: RunConfig, store: RunStore, prompts: list[Prompt], tokenizer, reward_model) -> Iteration:
    """The configured peer (`loop.algorithm`) from π0 on the iteration-1 prompts with `reward_model` as its reward;
    saves π1 and returns its `iterations` row (the prompts it reached within the budget; RLOO makes no pairs)."""
    from workbench.world.toy import format_prompt

    out, pi0, seed = store.policy_dir(1), store.policy_dir(0), cfg.seed * 1000 + 1
    texts = [format_prompt(p.text) for p in prompts]
    rloo = cfg.loop.algorithm is Algorithm.TRL_RLOO
    if rloo:
        metrics = train_rloo(cfg, texts, pi0, reward_model, tokenizer, out, seed=seed)
    else:
        metrics = train_online_dpo(cfg, texts, pi0, pi0, reward_model, tokenizer, out, seed=seed)
    n = min(len(prompts), int(metrics["prompts_seen"]))  # prompts it reached within the budget
    samples, pairs = (n * cfg.generation.n, 0) if rloo else (2 * n, n)  # RLOO scores samples, makes no pairs
    return Iteration(store.run_id, 1, str(out.relative_to(store.dir)), Reference.INITIAL.value, n, samples, pairs, 0)

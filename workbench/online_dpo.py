"""The peer baseline: TRL's OnlineDPOTrainer (trl.experimental.online_dpo), as `loop.algorithm=trl_online_dpo`.

It samples 2 responses per prompt from the current policy at every step, scores both with our reward model
(through a reward function that formats them exactly as the loop does) and takes a DPO step on the pair. With
`loop.time_budget_s` it stops after that many seconds, so it can be compared with our loop at equal wall-clock.
"""

from __future__ import annotations

import time
from pathlib import Path

from workbench.config import RunConfig
from workbench.model import load_policy, train_and_save, training_args
from workbench.reward import score


def train_online_dpo(cfg: RunConfig, prompts: list[str], policy_dir: Path, ref_dir: Path, reward_model, tokenizer,
                     out: Path, seed: int) -> dict:
    """Train from `policy_dir` on `prompts` (formatted prompt strings) against `ref_dir`; save to `out`."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl.experimental.online_dpo import OnlineDPOConfig, OnlineDPOTrainer

    budget = cfg.loop.time_budget_s

    class StopAtBudget(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if budget and time.perf_counter() - self.start > budget:
                control.should_training_stop = True

    def rm_reward(prompts, completions, **_):
        return score(reward_model, tokenizer, list(prompts), [c.strip() for c in completions])

    d, g = cfg.dpo, cfg.generation
    args = OnlineDPOConfig(
        **training_args(seed, out / "trainer", d.epochs, d.learning_rate, d.batch_size, cfg.report_to),
        beta=[d.beta],
        max_new_tokens=g.max_new_tokens,
        max_length=cfg.model.max_length,
        temperature=g.temperatures[0],
        top_p=g.top_p,
    )
    trainer = OnlineDPOTrainer(
        model=load_policy(policy_dir),
        ref_model=load_policy(ref_dir),
        reward_funcs=rm_reward,
        args=args,
        train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
        processing_class=tokenizer,
        callbacks=[StopAtBudget()],
    )
    return train_and_save(trainer, tokenizer, out) | {"steps": trainer.state.global_step}

"""Supervised fine-tuning of π0 on the world's imperfect demonstrations, with TRL's SFTTrainer.

Prompt-completion rows, so the loss covers the response only (TRL's `completion_only_loss`).
"""

from __future__ import annotations

from pathlib import Path

from workbench.config import RunConfig
from workbench.models.lm import load_policy, train_and_save, training_args


def train_sft(cfg: RunConfig, rows: list[dict], init_dir: Path, tokenizer, out: Path) -> dict:
    """Train from `init_dir` on `rows` ({"prompt", "completion"}); save π0 to `out`; return the last logged metrics."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        **training_args(cfg.seed, out / "trainer", cfg.sft.epochs, cfg.sft.learning_rate, cfg.sft.batch_size,
                        cfg.report_to),
        max_length=cfg.model.max_length,
        completion_only_loss=True,
    )
    trainer = SFTTrainer(
        model=load_policy(init_dir), args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer
    )
    return train_and_save(trainer, tokenizer, out)

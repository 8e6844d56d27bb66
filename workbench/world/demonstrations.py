"""What the world writes itself: its imperfect demonstrations, as SFT rows or shaped like a policy's samples.

Each family's `demonstration` is right most of the time and sometimes wrong, padded or off-topic
(`world.demo_error_rate`, `world.demo_verbose_rate`), so π0 learns the world with headroom left for the loop.
"""

from __future__ import annotations

import json
import random

from workbench.config import WorldConfig
from workbench.records import Generation, Prompt, Scored
from workbench.world.toy import FAMILIES, format_prompt, gold_utility


def demonstrations(prompts: list[Prompt], cfg: WorldConfig, seed: int) -> list[dict]:
    """Imperfect SFT data as TRL prompt-completion rows."""
    rng = random.Random(seed)
    rows = []
    for p in prompts:
        response = FAMILIES[p.family].demonstration(json.loads(p.meta), rng, cfg)
        rows.append({"prompt": format_prompt(p.text), "completion": " " + response})
    return rows


def demonstration_samples(cfg, prompts, n: int, tokenizer, seed: int, purpose: str = "pref"):
    """n of the world's imperfect demonstrations per prompt, shaped like π0's samples (records.Scored), so the
    reward stage can train on the toy world's own preference set (`reward.source=toy`) instead of π0's samples."""
    rng = random.Random(seed)
    gens, gold = [], []
    for p in prompts:
        family, meta = FAMILIES[p.family], json.loads(p.meta)
        for i in range(n):
            text = family.demonstration(meta, rng, cfg.world)
            n_tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
            gens.append(Generation(p.run_id, f"{purpose}0-{p.prompt_id}-{i}", p.prompt_id, 0, purpose, i, 0.0, 1.0, 0,
                                   text, n_tokens, len(text)))
            gold.append(gold_utility(p, text))
    return Scored(gens, gold, [])

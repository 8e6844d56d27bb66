"""The reward stage's candidate responses: what the simulated annotator labels to train the BT RM and the PM.

The paper's reward models train on a large, diverse, off-policy preference mixture (responses of many models, good
and bad, on prompts of many sets). `reward.source` picks the toy world's version:

- `mix`: per preference prompt, 2·pairs_per_prompt candidates in the shares of `reward.mix` — π0's samples (split
  evenly over `reward.temperatures`), the world's imperfect demonstrations (`world/demonstrations.py`), and the
  reference answer perturbed (`world/perturbations.py`: wrong number, other topic, one item too many, padded,
  refused or complied, ...). Each perturbed answer is made in the framing of one of the other candidates and paired
  with it (a minimal pair when that one is right, as UltraInteract pairs a correct and an incorrect step of one
  problem); the remaining candidates are paired at random, so pairs also mix the sources;
- `pi0`: π0's samples only (on-policy, the loop's first rollout distribution);
- `toy`: the world's demonstrations only.

Each candidate is a `generations` row of purpose `pref` with its `source` (pi0, demo, perturbed:<kind>), so the
dashboard's pair browser and the viewer show where each side of a pair came from. The preference prompts are their
own split, disjoint by prompt from the eval prompts the held-out accuracy is measured on.
"""

from __future__ import annotations

import json
import random

from workbench.config import RunConfig
from workbench.records import Generation, Prompt, Scored
from workbench.world.toy import FAMILIES, gold_utility


def reward_candidates(cfg: RunConfig, prompts: list[Prompt], policy_dir, tokenizer, seed: int) -> Scored:
    """2·pairs_per_prompt candidates per prompt, in (prompt, candidate) order, scored by gold (no RM yet)."""
    from workbench.loop import iteration as loop

    counts = cfg.reward.candidate_counts()
    per_prompt: list[list[tuple[Generation, float]]] = [[] for _ in prompts]
    if counts["pi0"]:
        scored = loop.sample_and_score(cfg, policy_dir, tokenizer, None, prompts, iteration=0, purpose="pref",
                                       n=counts["pi0"], temperatures=cfg.reward.temperatures,
                                       max_new_tokens=cfg.generation.max_new_tokens, seed=seed)
        for k, (g, u) in enumerate(zip(scored.generations, scored.gold, strict=True)):
            g.source = "pi0"
            per_prompt[k // counts["pi0"]].append((g, u))
    rng = random.Random(seed)
    gens, gold = [], []
    for i, p in enumerate(prompts):
        family, meta = FAMILIES[p.family], json.loads(p.meta)
        for _ in range(counts["demo"]):
            per_prompt[i].append(_candidate(p, "demo", family.demonstration(meta, rng, cfg.world), tokenizer))
        if cfg.reward.source == "mix":
            per_prompt[i] = _mix(p, meta, per_prompt[i], counts["perturbed"], rng, tokenizer)
        for j, (g, u) in enumerate(per_prompt[i]):
            g.generation_id, g.sample_index = f"pref0-{p.prompt_id}-{j}", j
            gens.append(g)
            gold.append(u)
    return Scored(gens, gold, [])


def _candidate(p: Prompt, source: str, text: str, tokenizer) -> tuple[Generation, float]:
    n_tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    return Generation(p.run_id, "", p.prompt_id, 0, "pref", 0, 0.0, 1.0, 0, text, n_tokens, len(text), source), \
        gold_utility(p, text)


def _mix(p: Prompt, meta: dict, originals: list, n_perturbed: int, rng: random.Random, tokenizer) -> list:
    """One prompt's candidates in pair order: each perturbed answer, made in the framing of an original (π0's sample
    or a demonstration), next to that original — a minimal pair when the original is right — and the other
    candidates shuffled; each pair's display order and the order of the pairs drawn at random."""
    from workbench.world.perturbations import perturb

    rng.shuffle(originals)
    perturbed = []
    for j in range(n_perturbed):
        like = originals[j % len(originals)][0].text if originals else ""
        kind, text = perturb(p.family, meta, p.reference, rng, like=like)
        perturbed.append(_candidate(p, f"perturbed:{kind}", text, tokenizer))
    matched = min(n_perturbed, len(originals))
    pairs = [[originals[j], perturbed[j]] for j in range(matched)]
    rest = originals[matched:] + perturbed[matched:]
    pairs += [rest[j:j + 2] for j in range(0, len(rest), 2)]
    for pair in pairs:
        rng.shuffle(pair)
    rng.shuffle(pairs)
    return [c for pair in pairs for c in pair]

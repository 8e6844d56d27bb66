"""Online RM refresh (`loop.rm_refresh`): the annotator labels a budget of the rollout's own pairs each iteration
and the reward model continues training on every label so far, so the proxy follows the policy.

Iteration t: π_{t−1}'s rollout, scored by RM_{t−1} → `loop.refresh_pairs` of its same-prompt pairs picked by
`loop.refresh_rule` (selection.refresh_pairs) → one annotator label each (display order drawn at random, so the
annotator's position bias does not pick a side) → RM_{t−1} trains `loop.refresh_epochs` passes over the reward
stage's annotator labels plus every refresh label of iterations 1..t → saved as models/rm_<t> → it rescores the
rollout, whose best-vs-worst pairs then train π_t. The labels are `pairs` rows of iteration t, rule `refresh`,
scorer `annotator`. Everything happens inside the rollout stage, so a killed stage leaves no model and no labels,
and its rerun repeats it exactly (fixed seeds).
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from workbench.config import RunConfig
from workbench.data.labels import pair_rows
from workbench.data.layout import toy_row
from workbench.loop.selection import adjusted_scores, refresh_pairs
from workbench.records import Pair, Prompt, Scored
from workbench.store import RunStore
from workbench.world.annotator import prefers_a
from workbench.world.toy import format_prompt


def stored_labels(root: Path, run_id: str, t: int, with_reward_stage: bool) -> list[dict]:
    """The annotator labels an RM refresh at iteration t trains on besides its own: the reward stage's (iteration
    0, rule `annotator`; left out when reward.dataset replaced them) and the refreshes of iterations 1..t−1."""
    return pair_rows(root, run_id, "(x.rule = 'annotator' and x.iteration = 0 and ?) "
                                   "or (x.rule = 'refresh' and x.iteration between 1 and ?)",
                     [with_reward_stage, t - 1], order="x.iteration, x.pair_id")


def refresh(cfg: RunConfig, store: RunStore, prompts: list[Prompt], t: int, tokenizer, scored: Scored,
            rm_in: Path, rm_out: Path) -> tuple[list[float], list[Pair]]:
    """Label the iteration's budget, train RM_{t−1} (at `rm_in`) into RM_t (at `rm_out`) and return the rollout's
    scores under RM_t, with the new label rows (not yet written)."""
    from workbench.models import reward

    loop, n = cfg.loop, cfg.generation.n
    gens = scored.generations
    if any(math.isnan(u) for u in scored.gold):
        raise ValueError("loop.rm_refresh: the simulated annotator labels by the world's gold utility, and these loop "
                         "prompts come from outside the world (world.prompt_dataset); turn the refresh off for them")
    chars = [g.n_chars for g in gens]
    rng = random.Random(cfg.seed * 1000 + 800 + t)
    picks = refresh_pairs(scored.rm, adjusted_scores(scored.rm, chars, loop.refresh_length_penalty), [g.text for g in gens],
                          n, loop.refresh_rule.value, loop.refresh_budget(t), rng)
    labels, rows = [], []
    for k, (i, a, b) in enumerate(picks):
        if rng.random() < 0.5:
            a, b = b, a  # shown first: a
        c, r = (a, b) if prefers_a(rng, scored.gold[a], scored.gold[b], chars[a], chars[b], cfg.annotator) else (b, a)
        labels.append(Pair(store.run_id, f"refresh{t}-{prompts[i].prompt_id}-{k}", t, prompts[i].prompt_id,
                           gens[c].generation_id, gens[r].generation_id, 1.0, 0.0, 1.0, "refresh", "annotator"))
        rows.append(toy_row(prompts[i].text, gens[c].text, gens[r].text))
    train = stored_labels(store.root, store.run_id, t, not cfg.reward.dataset) + rows
    reward.train_reward(cfg, train, rm_in, tokenizer, rm_out, epochs=loop.refresh_epochs,
                        learning_rate=loop.refresh_learning_rate, seed=cfg.seed * 1000 + 800 + t)
    rm = reward.load_reward_model(rm_out, tokenizer)
    texts = [format_prompt(prompts[i // n].text) for i in range(len(gens))]
    return reward.score(rm, tokenizer, texts, [g.text for g in gens]), labels

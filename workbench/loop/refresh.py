"""Online RM refresh (`loop.rm_refresh`): the annotator labels a budget of the rollout's own pairs each iteration
and the reward model continues training on every label so far, so the proxy follows the policy.

Iteration t: π_{t−1}'s rollout, scored by RM_{t−1} → `loop.refresh_pairs` of its same-prompt pairs picked by
`loop.refresh_rule` (selection.refresh_pairs) → one annotator label each (display order drawn at random, so the
annotator's position bias does not pick a side) → RM_{t−1} trains `loop.refresh_epochs` passes over the reward
stage's annotator labels plus every refresh label of iterations 1..t → saved as models/rm_<t> → it rescores the
rollout, whose best-vs-worst pairs then train π_t. The labels are `pairs` rows of iteration t, rule `refresh`,
scorer `annotator`. Everything happens inside the rollout stage, so a killed stage leaves no model and no labels,
and its rerun repeats it exactly (fixed seeds).

With `loop.refresh_source=human` people label instead: the picked pairs are published at once into the running
stage's group (`RunStore.publish`: their generations, RM_{t−1} scores and `pairs` rows, rule `refresh`, scorer
`human`), where the viewer's `refresh` queue offers them; the rollout polls the `labels` table until every pair has
an A/B label or `loop.refresh_wait_s` has passed, and trains on what it has (per pair the earliest A/B label of any
labeler; ties and skips count as unlabelled). The stage commits the labelled pairs, oriented as labelled; pairs
nobody labelled in time are dropped from the store (their later labels stay in `labels`, unused). A rerun of the
stage publishes the same queue and takes the labels stored since, so it waits only for what is still missing.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

from workbench.config import RefreshSource, RunConfig
from workbench.data.labels import Choice, pair_rows
from workbench.data.labels import stored_labels as human_labels
from workbench.data.layout import toy_row
from workbench.loop.schedule import RMStep
from workbench.loop.selection import adjusted_scores, refresh_pairs
from workbench.records import Pair, Prompt, Score, Scored
from workbench.store import RunStore
from workbench.world.annotator import prefers_a
from workbench.world.toy import format_prompt


def labels_so_far(root: Path, run_id: str, t: int, with_reward_stage: bool) -> list[dict]:
    """The labels an RM refresh at iteration t trains on besides its own: the reward stage's annotator labels
    (iteration 0, rule `annotator`; left out when reward.dataset replaced them) and the refreshes of iterations
    1..t−1 (the annotator's or people's)."""
    return pair_rows(root, run_id, "(x.rule = 'annotator' and x.iteration = 0 and ?) "
                                   "or (x.rule = 'refresh' and x.iteration between 1 and ?)",
                     [with_reward_stage, t - 1], order="x.iteration, x.pair_id")


def refresh(cfg: RunConfig, store: RunStore, prompts: list[Prompt], rm: RMStep, tokenizer,
            scored: Scored) -> tuple[list[float], list[Pair]]:
    """Label iteration t's budget (`rm.labels`, schedule.py), train RM_{t−1} (`rm.serving`) into RM_t
    (`rm.refreshed`) and return the rollout's scores under RM_t, with the new label rows (not yet written)."""
    from workbench.models import reward

    loop, n, t = cfg.loop, cfg.generation.n, rm.t
    gens = scored.generations
    human = loop.refresh_source is RefreshSource.HUMAN
    if not human and any(math.isnan(u) for u in scored.gold):
        raise ValueError("loop.rm_refresh: the simulated annotator labels by the world's gold utility, and these loop "
                         "prompts come from outside the world (world.prompt_dataset); label them yourself "
                         "(loop.refresh_source=human) or turn the refresh off")
    chars = [g.n_chars for g in gens]
    rng = random.Random(cfg.seed * 1000 + 800 + t)
    picks = refresh_pairs(scored.rm, adjusted_scores(scored.rm, chars, loop.refresh_length_penalty),
                          [g.text for g in gens], n, loop.refresh_rule.value, rm.labels, rng)
    if human:
        labels = _human_labels(cfg, store, prompts, t, scored, picks)
    else:
        labels = _annotator_labels(cfg, store, prompts, t, scored, picks, rng)
    text = {g.generation_id: g.text for g in gens}
    prompt = {p.prompt_id: p.text for p in prompts}
    rows = [toy_row(prompt[x.prompt_id], text[x.chosen_id], text[x.rejected_id]) for x in labels]
    train = labels_so_far(store.root, store.run_id, t, not cfg.reward.dataset) + rows
    rm_out = store.model_dir(rm.refreshed)
    reward.continue_reward(cfg, train, store.model_dir(rm.serving), rm_out, tokenizer, epochs=loop.refresh_epochs,
                           learning_rate=loop.refresh_learning_rate, seed=cfg.seed * 1000 + 800 + t)
    model = reward.load_reward_model(rm_out, tokenizer)
    texts = [format_prompt(prompts[i // n].text) for i in range(len(gens))]
    return reward.score(model, tokenizer, texts, [g.text for g in gens]), labels


def _annotator_labels(cfg: RunConfig, store: RunStore, prompts: list[Prompt], t: int, scored: Scored,
                      picks: list[tuple[int, int, int]], rng: random.Random) -> list[Pair]:
    gens, chars = scored.generations, [g.n_chars for g in scored.generations]
    labels = []
    for k, (i, a, b) in enumerate(picks):
        if rng.random() < 0.5:
            a, b = b, a  # shown first: a
        c, r = (a, b) if prefers_a(rng, scored.gold[a], scored.gold[b], chars[a], chars[b], cfg.annotator) else (b, a)
        labels.append(Pair(store.run_id, f"refresh{t}-{prompts[i].prompt_id}-{k}", t, prompts[i].prompt_id,
                           gens[c].generation_id, gens[r].generation_id, 1.0, 0.0, 1.0, "refresh", "annotator"))
    return labels


def _human_labels(cfg: RunConfig, store: RunStore, prompts: list[Prompt], t: int, scored: Scored,
                  picks: list[tuple[int, int, int]]) -> list[Pair]:
    """Publish the picked pairs for the viewer, wait for people's labels, return the labelled pairs as labelled."""
    gens, rm, run_id = scored.generations, scored.rm, store.run_id
    queue = []
    for k, (i, a, b) in enumerate(picks):
        c, r = (a, b) if rm[a] >= rm[b] else (b, a)  # in the RM's order until someone says otherwise
        queue.append(Pair(run_id, f"refresh{t}-{prompts[i].prompt_id}-{k}", t, prompts[i].prompt_id,
                          gens[c].generation_id, gens[r].generation_id, rm[c], rm[r], rm[c] - rm[r], "refresh",
                          "human"))
    shown = sorted({j for _, a, b in picks for j in (a, b)})
    store.publish([gens[j] for j in shown], "refresh-queue")
    store.publish([Score(run_id, gens[j].generation_id, "rm", rm[j]) for j in shown], "refresh-queue")
    store.publish(queue, "refresh-queue")
    preferred = wait_for_labels(store.root, run_id, queue, cfg.loop.refresh_wait_s, t)
    out = []
    for x in queue:
        if x.pair_id in preferred:
            c = preferred[x.pair_id]
            r = x.rejected_id if c == x.chosen_id else x.chosen_id
            out.append(Pair(run_id, x.pair_id, t, x.prompt_id, c, r, 1.0, 0.0, 1.0, "refresh", "human"))
    return out


def wait_for_labels(root: Path, run_id: str, queue: list[Pair], wait_s: float, t: int,
                    poll_s: float = 2.0) -> dict[str, str]:
    """pair_id → the preferred generation id, from the earliest A/B label of each queued pair; polls the `labels`
    table until every pair has one or `wait_s` has passed (0: look once)."""
    from tqdm.auto import tqdm

    pairs = {x.pair_id: x for x in queue}
    deadline = time.monotonic() + wait_s
    with tqdm(total=len(pairs), desc=f"refresh {t}: labels in the viewer's refresh queue", unit="label",
              leave=False) as bar:
        while True:
            got: dict[str, str] = {}
            for _, pair_id, _, choice, preferred_id, _ in human_labels(root, run_id):  # oldest first
                x = pairs.get(pair_id)
                if x is not None and pair_id not in got and choice in (Choice.A.value, Choice.B.value) \
                        and preferred_id in (x.chosen_id, x.rejected_id):
                    got[pair_id] = preferred_id
            bar.update(len(got) - bar.n)
            if len(got) == len(pairs) or time.monotonic() >= deadline:
                return got
            time.sleep(min(poll_s, max(deadline - time.monotonic(), 0.0)))

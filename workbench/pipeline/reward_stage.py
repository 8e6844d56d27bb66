"""The reward stage: candidate responses for the preference prompts, the simulated annotator's labels of pairs of
them, and the BT RM (and the PM) trained on those labels, each measured by section on held-out pairs.

    reward_stage(cfg, store, world, tokenizer)   # what Pipeline.reward runs inside its stage record

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
own split, disjoint by prompt from the eval prompts the held-out accuracy is measured on. Human labels from the
viewer and preference files (`reward.extra_pairs`) join the annotator's; `reward.dataset` replaces them.
"""

from __future__ import annotations

import json
import math
import random

from workbench.config import RunConfig
from workbench.data.layout import toy_row
from workbench.data.reward_sources import extra_reward_rows
from workbench.loop.sampling import disjoint_pairs
from workbench.records import DataFilter, Generation, JudgeCard, Metric, Pair, Prompt, Scored
from workbench.store import RunStore
from workbench.world import judges, toy
from workbench.world.toy import FAMILIES, gold_utility


def reward_stage(cfg: RunConfig, store: RunStore, world, tokenizer, log=print) -> None:
    """2k candidate responses per preference prompt, k pairs of them labelled by the annotator, the BT RM (and the
    PM) trained on those labels from π0, both evaluated on held-out pairs of the eval prompts (the `rm_eval` table);
    writes the candidates, their gold scores, the label pairs, the data filters and the stage's metrics."""
    from workbench.evaluation import rm_eval
    from workbench.models import reward

    run_id, pi0 = store.run_id, store.policy_dir(0)
    if cfg.reward.pretrained:  # a trained RM instead of one trained here (loaded before any sampling);
        # the annotator's labels below still train the PM and feed the viewer
        layout = reward.copy_pretrained_rm(cfg.reward.pretrained, store.model_dir("rm"))
        log(f"[workbench] reward model: {cfg.reward.pretrained} ({layout.value} layout)")
    prompts = world.split("pref")
    k = cfg.reward.pairs_per_prompt
    scored = reward_candidates(cfg, prompts, pi0, tokenizer, seed=cfg.seed * 1000 + 500)
    g = scored.generations
    correct = [toy.correct(prompts[x // (2 * k)], c.text) for x, c in enumerate(g)]
    labelled = judges.label_reward_pairs(random.Random(cfg.seed * 1000 + 7), [p.section for p in prompts],
                                         [x.text for x in g], [x.n_chars for x in g], scored.gold, correct,
                                         disjoint_pairs(len(prompts), k), cfg)
    pairs = [Pair(run_id, f"rm-{prompts[i].prompt_id}-{j}", 0, prompts[i].prompt_id, g[c].generation_id,
                  g[r].generation_id, 1.0, 0.0, 1.0, "annotator", who)
             for i, j, c, r, who in labelled.labels]
    rows = [toy_row(prompts[i].text, g[c].text, g[r].text) for i, _, c, r, _ in labelled.labels]
    store.write(scored.generations, "pref")
    store.write(scored.score_rows(run_id), "pref")
    store.write(pairs, "rm-train")
    # human labels from the viewer, preference files (reward.extra_pairs), a dataset in place of the labels
    dataset = [cfg.reward.dataset] if cfg.reward.dataset else []
    extra, report = extra_reward_rows(cfg.reward.extra_pairs + dataset, store.root, run_id)
    annotator = [DataFilter(run_id, "run", "toy-labels", "toy", "identical", labelled.identical),
                 DataFilter(run_id, "run", "toy-labels", "toy", "kept", len(rows))]
    for who in judges.LABELLERS:
        kept = sum(label[4] == who for label in labelled.labels)
        if kept or who in labelled.abstained:
            annotator.append(DataFilter(run_id, "run", f"toy-{who}", "toy", "kept", kept))
        if who in labelled.abstained:
            annotator.append(DataFilter(run_id, "run", f"toy-{who}", "toy", "abstained", labelled.abstained[who]))
    if dataset:  # drawn and stored (viewer, agreement), not trained on
        annotator.append(DataFilter(run_id, "run", "toy-labels", "toy", "replaced_by_dataset", len(rows)))
        rows = []
    store.write([*annotator, *report], "rm-train")
    rows += extra
    if not rows:
        why = ("reward.dataset and reward.extra_pairs kept no pairs" if dataset
               else "π0's samples for the preference prompts are all identical in pairs")
        raise RuntimeError(f"no reward-model data: {why}")
    chars, gold = [x.n_chars for x in g], scored.gold
    decided = [gold[c] > gold[r] for *_, c, r, _ in labelled.labels if gold[c] != gold[r]]
    by_length = [chars[c] > chars[r] for *_, c, r, _ in labelled.labels if chars[c] != chars[r]]
    out = {"annotator_gold_agreement": sum(decided) / len(decided) if decided else float("nan"),
           "annotator_prefers_longer": sum(by_length) / len(by_length) if by_length else float("nan")}
    if not cfg.reward.pretrained:  # laid out as π0 reads: its chat template when it has one (models/reward.py)
        metrics = reward.train_reward(cfg, rows, pi0, tokenizer, store.model_dir("rm"))
        out["rm_train_pairs"] = float(len(rows))
        if "train_accuracy" in metrics:
            out["rm_train_accuracy"] = float(metrics["train_accuracy"])
    pm = None
    if cfg.reward.train_pm or cfg.loop.oracle.needs_pm:
        from workbench.models.preference import load_pm, train_pm

        train_pm(cfg, rows, pi0, tokenizer, store.model_dir("pm"))
        pm = load_pm(store.model_dir("pm"))
    bt = reward.load_reward_model(store.model_dir("rm"), tokenizer)
    card, card_metrics = judge_card(cfg, run_id, prompts, scored, labelled)
    out.update(card_metrics)
    out.update(rm_length_corr_pi0(cfg, world, pi0, tokenizer, bt))
    store.write(card, "judge-card")
    held_out = rm_eval.toy_pairs_for_run(cfg, world.split("eval"), pi0, tokenizer)
    store.write(rm_eval.evaluate_heldout(run_id, held_out, tokenizer, bt, pm), "rm-eval-" + rm_eval.HELDOUT)
    store.write([Metric(run_id, 0, name, v) for name, v in out.items()], "reward-metrics")


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


def judge_card(cfg: RunConfig, run_id: str, prompts: list[Prompt], scored: Scored,
               labelled: judges.MixtureLabels) -> tuple[list[JudgeCard], dict[str, float]]:
    """Each labeller measured on this run: the pairs it labelled and their chosen / rejected length ratio (beside
    the paper's for its datasets), and its expected agreement with gold and preference for the longer response on
    every pair of π0's own samples of its sections (the candidates of source pi0). With the annotator's figures over
    all sections as the `annotator_pi0_gold_agreement` / `annotator_pi0_prefers_longer` metrics."""
    g, chars = scored.generations, [x.n_chars for x in scored.generations]
    by_section = judges.pi0_pairs(prompts, g, scored.gold)
    rows = []
    for who in judges.LABELLERS:
        mine = [(c, r) for *_, c, r, w in labelled.labels if w == who]
        if not mine and who not in labelled.abstained:
            continue
        figures = judges.expected_figures(who, cfg, judges.section_pairs(by_section, judges.SECTIONS[who]))
        chosen, rejected = sum(chars[c] for c, _ in mine), sum(chars[r] for _, r in mine)
        published = judges.PUBLISHED[who]
        rows.append(JudgeCard(run_id, who, ",".join(judges.SECTIONS[who]), judges.describe(who), len(mine),
                              labelled.abstained.get(who, 0), chosen / rejected if rejected else float("nan"),
                              judges.paper_length_ratio(who), figures.gold_agreement, figures.prefers_longer,
                              figures.decided, figures.long_pairs, published.agreement, published.prefers_longer,
                              published.source))
    overall = judges.expected_figures("annotator", cfg, [p for pairs in by_section.values() for p in pairs])
    return rows, {"annotator_pi0_gold_agreement": overall.gold_agreement,
                  "annotator_pi0_prefers_longer": overall.prefers_longer}


RM_LENGTH_SEED = 31_337  # π0's samples for rm_length_corr_pi0: a stream of their own


def rm_length_corr_pi0(cfg: RunConfig, world, pi0, tokenizer, rm) -> dict[str, float]:
    """The reward model's length bias the paper's way: Pearson correlation of reward and length over π0's
    generation.n samples of one prompt (at the rollout's temperatures, on iteration 1's loop prompts), averaged over
    prompts; prompts whose samples all have one length or one reward are left out and counted
    (`rm_length_corr_pi0_skipped`). With `rm_length_slope_pi0`: the reward per character within a prompt (the
    pooled least-squares slope over the same samples), the `paper` experiment's length-penalty λ."""
    from workbench.evaluation.metrics import correlation
    from workbench.loop import iteration as loop

    prompts = world.split("iter", 1)
    scored = loop.sample_and_score(cfg, pi0, tokenizer, rm, prompts, iteration=0, purpose="judge",
                                   n=cfg.generation.n, temperatures=cfg.generation.temperatures,
                                   max_new_tokens=cfg.generation.max_new_tokens, seed=RM_LENGTH_SEED)
    n, corrs, skipped, sxy, sxx = cfg.generation.n, [], 0, 0.0, 0.0
    for i in range(len(prompts)):
        rewards = scored.rm[i * n:(i + 1) * n]
        lengths = [float(x.n_chars) for x in scored.generations[i * n:(i + 1) * n]]
        r = correlation(rewards, lengths)
        if math.isnan(r):
            skipped += 1
        else:
            corrs.append(r)
        mr, ml = sum(rewards) / n, sum(lengths) / n
        sxy += sum((a - mr) * (b - ml) for a, b in zip(rewards, lengths))
        sxx += sum((b - ml) ** 2 for b in lengths)
    return {"rm_length_corr_pi0": sum(corrs) / len(corrs) if corrs else float("nan"),
            "rm_length_corr_pi0_skipped": float(skipped),
            "rm_length_slope_pi0": sxy / sxx if sxx else float("nan")}

"""Reward-model evaluation by section: pairwise accuracy of the Bradley-Terry RM (bt) and the preference model (pm).

    workbench rm eval --run RUN                       # the toy world's held-out pairs (computed once, then read)
    workbench rm eval --run RUN --file rb.jsonl       # any RewardBench-format file

Two gold-labelled pair sets on the toy world's *eval* prompts (never trained on by either model):
- `toy-heldout`: π0's samples, 2k per prompt, paired (0, 1), (2, 3), ...: the responses the loop's oracle will
  have to rank (on-policy). With a weak π0 (the quick preset) few of them differ in content.
- `toy-bench`: the world's imperfect demonstrations, paired the same way: fixed by the world seed whatever the run
  (as RewardBench is a fixed set), with many right-vs-wrong and on-vs-off-topic pairs.
In both the chosen response is the one with the higher **gold** utility and gold ties are left out, so accuracy is
agreement with the truth, not with the annotator whose labels (and length bias) the models learned from.
Sections: `chat` and `reasoning` hold the pairs whose content differs (the number, the topic and its attributes);
`length` holds the pairs with the same content at different lengths, where gold prefers the shorter: the toy
world's verbosity trap (the role LLMBar's adversarial pairs play in RewardBench's chat-hard). A model that learned
the annotator's length bias scores below 0.5 there, by the design of the world.

Accuracy: share of pairs ranked right, ties counting half. For the PM, P(chosen ≻ rejected) averages both orders;
`accuracy_chosen_a` / `accuracy_chosen_b` are its accuracy from one order alone, with the chosen response in slot A
or slot B: a gap between them is position bias. Per section and "all" (every pair). RewardBench's own leaderboard
weighs its reasoning subsets differently (math-prm against the code subsets); here every pair counts once.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from workbench.data.formats import PreferencePair
from workbench.records import RMEval

HELDOUT = "toy-heldout"  # gold-labelled pairs of π0's samples on the eval prompts (on-policy)
BENCH = "toy-bench"  # gold-labelled pairs of the world's demonstrations on the eval prompts (fixed, like RewardBench)
LENGTH = "length"  # section of the pairs whose content is equal: gold prefers the shorter response


def pairwise_accuracy(p_chosen_wins: list[float]) -> float:
    """Share of pairs where P(chosen ≻ rejected) > 0.5, ties (exactly 0.5) counting half."""
    if not p_chosen_wins:
        return math.nan
    return sum(1.0 if p > 0.5 else 0.5 if p == 0.5 else 0.0 for p in p_chosen_wins) / len(p_chosen_wins)


def bt_win_probability(chosen: list[float], rejected: list[float]) -> list[float]:
    """Bradley-Terry P(chosen ≻ rejected) = σ(r_c − r_r) from the RM's rewards."""
    return [0.5 * (1.0 + math.tanh(0.5 * (c - r))) if c != r else 0.5 for c, r in zip(chosen, rejected, strict=True)]


def section_rows(run_id: str, model: str, dataset: str, sections: list[str], p_win: list[float],
                 p_a: list[float] | None = None, p_b: list[float] | None = None) -> list[RMEval]:
    """One RMEval row per section and one for "all". `p_a`: p_A with chosen in slot A; `p_b`: with chosen in B."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(sections):
        groups[s].append(i)
    rows = []
    for section, idx in [*sorted(groups.items()), ("all", list(range(len(sections))))]:
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        acc_a = pairwise_accuracy(pick(p_a)) if p_a is not None else math.nan
        acc_b = pairwise_accuracy([1.0 - p for p in pick(p_b)]) if p_b is not None else math.nan
        rows.append(RMEval(run_id, model, dataset, section, len(idx), pairwise_accuracy(pick(p_win)), acc_a, acc_b))
    return rows


def _labelled(p, a: str, b: str, ua: float, ub: float, dataset: str) -> PreferencePair | None:
    """The gold-preferred response as chosen; None for gold ties and identical texts. Section: the prompt's
    section when the content differs, "length" when only the length does."""
    if ua == ub or a.strip() == b.strip():
        return None
    (c, uc), (r, ur) = ((a, ua), (b, ub)) if ua > ub else ((b, ub), (a, ua))
    section = p.section if content_utility(p, c) != content_utility(p, r) else LENGTH
    return PreferencePair([{"role": "user", "content": p.text}], c, r, dataset, section, uc, ur, uc - ur, p.prompt_id)


def heldout_pairs(cfg, prompts, pi0, tokenizer, pairs_per_prompt: int = 4,
                  seed: int | None = None) -> list[PreferencePair]:
    """`toy-heldout`: gold-labelled pairs of π0's samples on `prompts` (the eval split)."""
    from workbench.loop import iteration as loop

    k = pairs_per_prompt
    scored = loop.sample_and_score(
        cfg, pi0, tokenizer, None, prompts,
        iteration=0, purpose="heldout", n=2 * k, temperatures=[1.0], max_new_tokens=cfg.generation.max_new_tokens,
        seed=cfg.seed * 1000 + 900 if seed is None else seed,
    )
    return _pairs_of(prompts, scored, k, HELDOUT)


def bench_pairs(cfg, prompts, tokenizer, pairs_per_prompt: int = 4) -> list[PreferencePair]:
    """`toy-bench`: gold-labelled pairs of the world's demonstrations on `prompts`: fixed by the world seed, the
    same for every run and model (as RewardBench is), and rich in content differences."""
    from workbench.world.demonstrations import demonstration_samples

    k = pairs_per_prompt
    scored = demonstration_samples(cfg, prompts, 2 * k, tokenizer, seed=cfg.world.seed * 1000 + 901, purpose="bench")
    return _pairs_of(prompts, scored, k, BENCH)


def _pairs_of(prompts, scored, k: int, dataset: str) -> list[PreferencePair]:
    from workbench.loop.sampling import disjoint_pairs

    out = []
    for i, _, ia, ib in disjoint_pairs(len(prompts), k):
        g = scored.generations
        pair = _labelled(prompts[i], g[ia].text, g[ib].text, scored.gold[ia], scored.gold[ib], dataset)
        if pair is not None:
            out.append(pair)
    return out


def content_utility(prompt, response: str) -> float:
    """Gold utility without its verbosity penalty: what the response says, not how long it is."""
    from workbench.world.toy import VERBOSITY_PENALTY, gold_utility

    return gold_utility(prompt, response) + VERBOSITY_PENALTY * max(0, len(response.strip()) - len(prompt.reference))


def evaluate_heldout(run_id: str, pairs: list[PreferencePair], tokenizer, bt=None, pm=None) -> list[RMEval]:
    """Rows for each toy dataset among `pairs` (by their source: toy-heldout, toy-bench)."""
    rows = []
    for dataset in (HELDOUT, BENCH):
        rows += evaluate(run_id, dataset, [p for p in pairs if p.source == dataset], tokenizer, bt, pm)
    return rows


def toy_pairs_for_run(cfg, prompts, pi0, tokenizer) -> list[PreferencePair]:
    """Both toy evaluation sets on the eval prompts."""
    return heldout_pairs(cfg, prompts, pi0, tokenizer) + bench_pairs(cfg, prompts, tokenizer)


WinProbabilities = tuple[list[float], list[float] | None, list[float] | None]  # both orders, chosen in A, in B


def win_probabilities(pairs: list[PreferencePair], tokenizer, bt=None, pm=None,
                      max_part_chars: int | None = None, layout=None) -> dict[str, WinProbabilities]:
    """{model: (P(chosen ≻ rejected), p_A with chosen in slot A, p_A with chosen in slot B)} for whichever of the
    two models is given (the slot columns are None for the BT RM), on `pairs` laid out as the models were trained:
    by default as a toy run's models, "Q: {prompt}\\nA:"; `layout` (data.layout.Layout) for models `workbench rm
    train` made, which may use the tokenizer's chat template."""
    from workbench.world.toy import format_prompt

    if layout is not None:
        contexts = [layout.pm_row(p)["prompt"] for p in pairs]
    else:
        contexts = [format_prompt(p.prompt_text) for p in pairs]
    out = {}
    if bt is not None:
        from workbench.models.reward import score, score_texts

        clip = (lambda s: s[:max_part_chars]) if max_part_chars else (lambda s: s)  # noqa: E731
        if layout is not None:
            rc = score_texts(bt, tokenizer, [layout.reward_text(tokenizer, p, clip(p.chosen.strip())) for p in pairs])
            rr = score_texts(bt, tokenizer, [layout.reward_text(tokenizer, p, clip(p.rejected.strip())) for p in pairs])
        else:
            ctx = [c[-max_part_chars:] for c in contexts] if max_part_chars else contexts
            rc = score(bt, tokenizer, ctx, [clip(p.chosen.strip()) for p in pairs])
            rr = score(bt, tokenizer, ctx, [clip(p.rejected.strip()) for p in pairs])
        out["bt"] = (bt_win_probability(rc, rr), None, None)
    if pm is not None:
        from workbench.models.preference import prefer

        out["pm"] = prefer(pm, tokenizer, contexts, [p.chosen for p in pairs], [p.rejected for p in pairs],
                           max_part_chars=max_part_chars)
    return out


def evaluate(run_id: str, dataset: str, pairs: list[PreferencePair], tokenizer, bt=None, pm=None,
             max_part_chars: int | None = None, layout=None) -> list[RMEval]:
    """RMEval rows for whichever of the two models is given, on `pairs`."""
    if not pairs:
        return []
    sections = [p.section or "unknown" for p in pairs]
    rows = []
    for model, (both, ab, ba) in win_probabilities(pairs, tokenizer, bt, pm, max_part_chars, layout).items():
        rows += section_rows(run_id, model, dataset, sections, both, ab, ba)
    return rows


def by_length_direction(pairs: list[PreferencePair], p_win: list[float]) -> dict[tuple[str, str, str], list[float]]:
    """Accuracy split by which response is longer, for the pairs whose content differs (every section but
    `length`): {(dataset, section, "chosen shorter" | "chosen longer"): [ranked right (ties half), pairs]}; equal
    lengths count as "chosen longer". A model that judges by length alone scores near 1 on one side and near 0 on
    the other whatever the content; one that judges content scores alike on both."""
    out: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    for pair, p in zip(pairs, p_win, strict=True):
        if pair.section == LENGTH:
            continue
        side = "chosen shorter" if len(pair.chosen.strip()) < len(pair.rejected.strip()) else "chosen longer"
        cell = out[(pair.source, pair.section or "unknown", side)]
        cell[0] += pairwise_accuracy([p])
        cell[1] += 1
    return dict(out)


def load_run_models(root: str | Path, run_id: str):
    """(store, config, tokenizer, BT RM or None, PM or None) of a stored run; raises when it has neither model."""
    import yaml

    from workbench.config import RunConfig, from_dict
    from workbench.models.lm import load_tokenizer
    from workbench.models.preference import load_pm
    from workbench.models.reward import load_reward_model
    from workbench.store import RunStore

    store = RunStore(root, run_id)
    if not (store.dir / "config.yaml").is_file():
        raise FileNotFoundError(f"no run {run_id!r} under {root}")
    cfg = from_dict(RunConfig, yaml.safe_load((store.dir / "config.yaml").read_text()))
    tokenizer = load_tokenizer(store.model_dir("tokenizer"))
    bt = load_reward_model(store.model_dir("rm"), tokenizer) if store.model_dir("rm").exists() else None
    pm = load_pm(store.model_dir("pm")) if store.model_dir("pm").exists() else None
    if bt is None and pm is None:
        raise FileNotFoundError(f"run {run_id} has neither a reward model (models/rm) nor a preference model "
                                "(models/pm)")
    return store, cfg, tokenizer, bt, pm


def stored_run_toy_pairs(store, cfg, tokenizer) -> list[PreferencePair]:
    """Both toy evaluation sets of a stored run, rebuilt from its world and π0 (the same seeds as its reward
    stage, so the same pairs)."""
    from workbench.models.lm import load_policy
    from workbench.world.toy import build_world

    world = build_world(cfg.world, cfg.loop.iterations, store.run_id)
    return toy_pairs_for_run(cfg, world.split("eval"), load_policy(store.model_dir("sft")), tokenizer)


def evaluate_run(root: str | Path, run_id: str, file: str | Path | None = None, log=print) -> list[RMEval]:
    """Evaluate a stored run's RM and PM (whichever exist) on its held-out pairs, or on a RewardBench file;
    writes the rows to the run's `rm_eval` table and returns them."""
    import re

    from workbench import console
    from workbench.data.sources import load_pairs

    console.apply()  # quiet unless --verbose (console.py)
    store, cfg, tokenizer, bt, pm = load_run_models(root, run_id)
    if file is not None:
        pairs = load_pairs("reward-bench", file).pairs
        dataset = Path(file).stem
        max_chars = 4 * cfg.model.max_length  # the tiny models have seen short texts only
    else:
        pairs = stored_run_toy_pairs(store, cfg, tokenizer)
        log(f"[workbench] rm eval: {len(pairs)} held-out pairs")
        rows = evaluate_heldout(run_id, pairs, tokenizer, bt, pm)
        # the reward stage stored the same evaluation already (same seeds, same models): store it only once
        from workbench.store import query

        if not query(root, "select count(*) from rm_eval where run_id = ? and dataset = ?", [run_id, HELDOUT])[1][0][0]:
            store.write(rows, "rm-eval-" + HELDOUT)
        return rows
    log(f"[workbench] rm eval: {len(pairs)} pairs from {dataset}")
    rows = evaluate(run_id, dataset, pairs, tokenizer, bt, pm, max_part_chars=max_chars)
    store.write(rows, "rm-eval-" + re.sub(r"[^A-Za-z0-9_.-]", "_", dataset))
    return rows


# One row per dataset and section, BT and PM side by side, over the runs in the list parameter: with several runs
# (seeds) `n` is their pairs together and each accuracy is pooled (weighted by n), as if one run had them all.
TABLE_SQL = """
SELECT dataset, section, max(n) AS n,
       max(acc) FILTER (WHERE model = 'bt') AS bt,
       max(acc) FILTER (WHERE model = 'pm') AS pm,
       max(acc_a) FILTER (WHERE model = 'pm') AS pm_chosen_a,
       max(acc_b) FILTER (WHERE model = 'pm') AS pm_chosen_b
FROM (SELECT model, dataset, section, sum(n) AS n, sum(accuracy * n) / sum(n) AS acc,
             sum(accuracy_chosen_a * n) / sum(n) AS acc_a, sum(accuracy_chosen_b * n) / sum(n) AS acc_b
      FROM rm_eval WHERE list_contains(?, run_id) GROUP BY model, dataset, section)
GROUP BY dataset, section
ORDER BY dataset, CASE section WHEN 'all' THEN 2 WHEN 'length' THEN 1 ELSE 0 END, section
"""

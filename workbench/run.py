"""The whole pipeline on one config: world → SFT → reward model → T iterations of DPO, each evaluated.

    workbench run --preset quick            # or, from Python: workbench.run.main(load_config(preset="quick"))

Everything lands under <root>/<run_id>/ (see store.py); each finished stage writes a row to the `stages` table
and prints one line with its wall time.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import yaml

from workbench.annotator import prefers_a
from workbench.config import RunConfig, to_dict
from workbench.evaluation import eval_metrics
from workbench.records import DataFilter, Metric, Pair, Run, Stage
from workbench.store import RunStore

EVAL_SEED = 99_991  # the same sampling seed for every policy's eval responses (common random numbers)


def new_run_id(name: str) -> str:
    return f"{datetime.now():%Y%m%d-%H%M%S}-{name}-{uuid.uuid4().hex[:6]}"


@contextmanager
def stage(store: RunStore, name: str, iteration: int = 0, log=print):
    start = time.perf_counter()
    yield
    wall = time.perf_counter() - start
    store.write([Stage(store.run_id, name, iteration, wall, datetime.now())], f"{name}-{iteration:03d}")
    label = f"{name} {iteration}" if name in ("iteration", "evaluate") else name
    log(f"[workbench] stage {label} done in {wall:.1f}s")


def _seed_everything(seed: int, threads: int) -> None:
    import numpy as np
    import torch
    from transformers import set_seed

    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    set_seed(seed)


def main(cfg: RunConfig, root: str | Path = "runs", run_id: str | None = None, log=print) -> str:
    """Run the pipeline; returns the run id."""
    from workbench import loop, model, reward, sft, world

    _seed_everything(cfg.seed, cfg.threads)
    run_id = run_id or new_run_id(cfg.name)
    store = RunStore(root, run_id)
    store.dir.mkdir(parents=True, exist_ok=True)
    (store.dir / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    store.write(
        [Run(run_id, datetime.now(), cfg.name, cfg.seed, cfg.world.seed, cfg.loop.iterations, json.dumps(to_dict(cfg)))],
        "run",
    )
    log(f"[workbench] run {run_id} → {store.dir}")

    with stage(store, "world", log=log):
        w = world.build_world(cfg.world, cfg.loop.iterations, run_id)
        tokenizer = model.train_tokenizer(world.corpus(cfg.world), cfg.model, store.model_dir("tokenizer"))
        model.init_model(tokenizer, cfg.model, cfg.seed, store.model_dir("init"))
        store.write(w.prompts, "world")

    with stage(store, "sft", log=log):
        demos = world.demonstrations(w.split("sft"), cfg.world, cfg.seed)
        sft.train_sft(cfg, demos, store.model_dir("init"), tokenizer, store.model_dir("sft"))

    with stage(store, "reward", log=log):
        pi0 = model.load_policy(store.model_dir("sft"))
        rm_metrics = _train_reward_model(cfg, store, w.split("pref"), pi0, tokenizer)
        reward_model = reward.load_reward_model(store.model_dir("rm"), tokenizer)
        preference_model = _load_pm_and_evaluate(cfg, store, w.split("eval"), pi0, tokenizer, reward_model)
        store.write([Metric(run_id, 0, k, v) for k, v in rm_metrics.items()], "reward-metrics")

    eval_prompts = w.split("eval")
    with stage(store, "evaluate", 0, log=log):
        baseline = _evaluate(cfg, store, 0, pi0, tokenizer, reward_model, eval_prompts, baseline_gold=None)

    for t in range(1, cfg.loop.iterations + 1):
        with stage(store, "iteration", t, log=log):
            it = loop.run_iteration(cfg, store, w.split("iter", t), t, tokenizer, reward_model, preference_model)
            store.write([it], f"iteration-{t:03d}")
        with stage(store, "evaluate", t, log=log):
            policy = model.load_policy(store.model_dir(f"policy_{t}"))
            _evaluate(cfg, store, t, policy, tokenizer, reward_model, eval_prompts, baseline_gold=baseline)

    store.write([Stage(run_id, "done", cfg.loop.iterations, 0.0, datetime.now())], "done")
    return run_id


def _train_reward_model(cfg: RunConfig, store: RunStore, prompts, pi0, tokenizer) -> dict[str, float]:
    """Sample 2k responses per preference prompt from π0 (or, with reward.source=toy, take 2k of the world's
    demonstrations), let the annotator label k pairs, train the RM."""
    from workbench import loop, reward, world

    k = cfg.reward.pairs_per_prompt
    if cfg.reward.source == "toy":
        from workbench.mixtures import demonstration_samples

        scored = demonstration_samples(cfg, prompts, 2 * k, tokenizer, seed=cfg.seed * 1000 + 500)
    else:
        scored = loop.sample_and_score(
            cfg, pi0, tokenizer, None, prompts,
            iteration=0, purpose="pref", n=2 * k, temperatures=[1.0], max_new_tokens=cfg.generation.max_new_tokens,
            seed=cfg.seed * 1000 + 500,
        )
    rng = random.Random(cfg.seed * 1000 + 7)
    pairs, rows = [], []
    agree = gold_decided = longer = length_decided = identical = 0
    for i, p in enumerate(prompts):
        for j in range(k):
            ia, ib = i * 2 * k + 2 * j, i * 2 * k + 2 * j + 1
            a, b = scored.generations[ia], scored.generations[ib]
            if a.text == b.text:  # the same response twice carries no preference
                identical += 1
                continue
            ua, ub = scored.gold[ia], scored.gold[ib]
            a_wins = prefers_a(rng, ua, ub, a.n_chars, b.n_chars, cfg.annotator)
            (c, uc), (r, ur) = ((a, ua), (b, ub)) if a_wins else ((b, ub), (a, ua))
            if ua != ub:
                gold_decided += 1
                agree += uc > ur
            if a.n_chars != b.n_chars:
                length_decided += 1
                longer += c.n_chars > r.n_chars
            pairs.append(
                Pair(store.run_id, f"rm-{p.prompt_id}-{j}", 0, p.prompt_id, c.generation_id, r.generation_id,
                     1.0, 0.0, 1.0, "annotator", "annotator")
            )
            rows.append({"prompt": world.format_prompt(p.text), "chosen": " " + c.text, "rejected": " " + r.text})
    store.write(scored.generations, "pref")
    store.write(scored.score_rows(store.run_id), "pref")
    store.write(pairs, "rm-train")
    if not rows:
        raise RuntimeError("π0's samples for the preference prompts are all identical in pairs; no reward-model data")
    store.write(
        [DataFilter(store.run_id, "run", "toy-annotator", "toy", "identical", identical),
         DataFilter(store.run_id, "run", "toy-annotator", "toy", "kept", len(rows))],
        "rm-train",
    )
    metrics = reward.train_reward(cfg, rows, store.model_dir("sft"), tokenizer, store.model_dir("rm"))
    if cfg.reward.train_pm or cfg.loop.oracle.needs_pm:
        from workbench.preference_model import train_pm

        train_pm(cfg, rows, store.model_dir("sft"), tokenizer, store.model_dir("pm"))
    out = {
        "rm_train_pairs": float(len(rows)),
        "annotator_gold_agreement": agree / gold_decided if gold_decided else float("nan"),
        "annotator_prefers_longer": longer / length_decided if length_decided else float("nan"),
    }
    if "train_accuracy" in metrics:
        out["rm_train_accuracy"] = float(metrics["train_accuracy"])
    return out


def _load_pm_and_evaluate(cfg, store, eval_prompts, pi0, tokenizer, reward_model):
    """The preference model when one was trained (else None), and both models' accuracy by section on
    gold-labelled pairs of π0's samples on the eval prompts (the `rm_eval` table)."""
    from workbench import rm_eval
    from workbench.preference_model import load_pm

    pm = load_pm(store.model_dir("pm")) if store.model_dir("pm").exists() else None
    pairs = rm_eval.toy_pairs_for_run(cfg, eval_prompts, pi0, tokenizer)
    store.write(rm_eval.evaluate_heldout(store.run_id, pairs, tokenizer, reward_model, pm), "rm-eval-" + rm_eval.HELDOUT)
    return pm


def _evaluate(cfg, store, t, policy, tokenizer, reward_model, prompts, baseline_gold):
    """One response per eval prompt from π_t; metrics against π0's responses. Returns the gold utilities."""
    from workbench import loop

    scored = loop.sample_and_score(
        cfg, policy, tokenizer, reward_model, prompts,
        iteration=t, purpose="eval", n=1, temperatures=[cfg.eval.temperature], max_new_tokens=cfg.eval.max_new_tokens,
        seed=EVAL_SEED,
    )
    metrics = eval_metrics(
        sections=[p.section for p in prompts],
        gold=scored.gold,
        baseline_gold=baseline_gold if baseline_gold is not None else scored.gold,
        rm=scored.rm,
        n_tokens=[g.n_tokens for g in scored.generations],
        n_chars=[g.n_chars for g in scored.generations],
    )
    store.write(scored.generations, f"eval-{t:03d}")
    store.write(scored.score_rows(store.run_id), f"eval-{t:03d}")
    store.write([Metric(store.run_id, t, k, v) for k, v in metrics.items()], f"eval-{t:03d}")
    return scored.gold

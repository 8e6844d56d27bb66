"""BT RM vs pairwise preference model: accuracy by section on the toy world's gold-labelled held-out pairs, over seeds.

    python benchmarks/rm_sections.py [--preset default] [--seeds 0,1,2] [--root DIR] [--set key=value ...]
                                     [--length-split] [--annotator-agreement]
    python benchmarks/rm_sections.py --root DIR --runs RUN,RUN,... [--length-split] [--annotator-agreement]
                                                                         # stored runs, no training

For each seed s (seed = world.seed = s, as `workbench experiment` does) it runs the stages up to π0's evaluation
with the preference model trained (`reward.train_pm=true`), then prints the `rm_eval` rows of those runs: per
dataset and section, the pairs over all seeds, each model's accuracy pooled over the seeds (ties count half) with
its 95% Wilson interval, and the PM's accuracy from one order alone (chosen in slot A / in slot B). A section
"beats chance" (`*`) when the interval's lower end is above 0.5.

Then what the two models start from: π0's samples on the preference prompts (the responses the annotator
labelled), per section, with the share whose gold utility is at least 0.5 — for `reasoning`, the sums π0 gets
right. Both models are initialized from π0, so a section π0 cannot do is one neither learns to judge.

`--length-split` also loads each run's two models and splits every content section's pairs by which response is
longer (`rm_eval.by_length_direction`): a model judging by length alone is right when the chosen response is the
longer and wrong when it is the shorter, whatever the content. The annotator prefers the longer of two answers;
gold does not. `--annotator-agreement` scores the same predictions against the annotator's more likely label
instead of gold: whether a model that misses gold learned the labels or failed to learn them.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from workbench.config import load_config
from workbench.evaluation.agreement import wilson_interval
from workbench.evaluation.rm_eval import (
    TABLE_SQL,
    by_length_direction,
    load_run_models,
    pairwise_accuracy,
    stored_run_toy_pairs,
    win_probabilities,
)
from workbench.pipeline.run import Pipeline
from workbench.store import query


def run_seed(preset: str, seed: int, root: str, overrides: list[str]) -> tuple[str, float]:
    cfg = load_config(preset=preset,
                      overrides=[f"seed={seed}", f"world.seed={seed}", "reward.train_pm=true", *overrides])
    cfg.name = "rm-sections"
    p = Pipeline(cfg, root, log=lambda *_: None)
    for stage, _ in p.plan()[: [s for s, _ in p.plan()].index("reward")]:  # world, [pretrain,] sft
        getattr(p, stage)()
    start = time.perf_counter()
    p.reward()
    wall = time.perf_counter() - start
    p.evaluate(0)  # π0's evaluation too: a finished prefix, which `workbench experiment --root` arms can fork
    return p.run_id, wall


def table(root: str, run_ids: list[str]) -> list[dict]:
    """`workbench rm eval`'s table pooled over the runs, with a Wilson interval for each model's accuracy."""
    names, rows = query(root, TABLE_SQL, [run_ids])
    out = []
    for values in rows:
        row = dict(zip(names, values, strict=True))
        for model in ("bt", "pm"):
            if row[model] is not None:
                lo, hi = wilson_interval(round(row[model] * row["n"]), row["n"])
                row[f"{model}_ci"] = f"{lo:.2f}–{hi:.2f}" + ("*" if lo > 0.5 else "")
        out.append(row)
    return out


PI0_SQL = """
select p.section, count(*) as samples, avg(s.value) as gold_mean,
       avg(case when s.value >= 0.5 then 1 else 0 end) as gold_at_least_half
from generations g
join prompts p on p.run_id = g.run_id and p.prompt_id = g.prompt_id
join scores s on s.run_id = g.run_id and s.generation_id = g.generation_id and s.scorer = 'gold'
where list_contains(?, g.run_id) and p.split = 'pref'
group by p.section order by p.section
"""


def pi0_skill(root: str, run_ids: list[str]) -> list[dict]:
    """Per section, over the runs: π0's samples on the preference prompts, their mean gold utility, and the share
    with gold utility >= 0.5."""
    names, rows = query(root, PI0_SQL, [run_ids])
    return [dict(zip(names, values, strict=True)) for values in rows]


def predictions(root: str, run_ids: list[str]):
    """(config, held-out pairs, {model: P(chosen ≻ rejected)}) for each stored run, its two models loaded again."""
    for run_id in run_ids:
        store, cfg, tokenizer, bt, pm = load_run_models(root, run_id)
        pairs = stored_run_toy_pairs(store, cfg, tokenizer)
        yield cfg, pairs, {m: p_win for m, (p_win, _, _) in win_probabilities(pairs, tokenizer, bt, pm).items()}


def _add(cells: dict, key: tuple, model: str, right: float, n: int) -> None:
    cell = cells.setdefault(key, {}).setdefault(model, [0.0, 0])
    cell[0] += right
    cell[1] += n


def _rows(cells: dict, names: tuple[str, ...], sort_key=None) -> list[dict]:
    """One row per key: its fields under `names`, the pairs (n) and each model's pooled share."""
    out = []
    for key, models in sorted(cells.items(), key=sort_key):
        row = {**dict(zip(names, key, strict=True)), "n": next(iter(models.values()))[1]}
        row.update({model: right / n for model, (right, n) in models.items()})
        out.append(row)
    return out


def length_split(runs) -> list[dict]:
    """Per dataset, content section and length direction, pooled over the runs: pairs and each model's accuracy."""
    cells: dict = {}
    for _, pairs, p_wins in runs:
        for model, p_win in p_wins.items():
            for key, (right, n) in by_length_direction(pairs, p_win).items():
                _add(cells, key, model, right, n)
    return _rows(cells, ("dataset", "section", "length"))


def annotator_agreement(runs) -> list[dict]:
    """Per dataset and section (and all), pooled over the runs: how often each model picks the response the
    simulated annotator would pick more often than not (from the gold utilities and lengths, as it labels), ties
    counting half; `annotator_vs_gold`: how often that response is also gold's. A model that learned the labels
    well scores near the annotator's own agreement with itself, 1; the gap to `accuracy` is what the labels cost."""
    from workbench.world.annotator import preference_probability

    cells: dict = {}
    for cfg, pairs, p_wins in runs:
        for i, pair in enumerate(pairs):
            a = preference_probability(pair.score_chosen, pair.score_rejected, len(pair.chosen.strip()),
                                       len(pair.rejected.strip()), cfg.annotator)
            agree = {"annotator_vs_gold": pairwise_accuracy([a])}
            agree.update({m: 0.5 if 0.5 in (p[i], a) else float((p[i] > 0.5) == (a > 0.5)) for m, p in p_wins.items()})
            for key in ((pair.source, pair.section or "unknown"), (pair.source, "all")):
                for model, value in agree.items():
                    _add(cells, key, model, value, 1)
    order = {"all": 2, "length": 1}  # as TABLE_SQL: the content sections, then length, then all
    return _rows(cells, ("dataset", "section"), sort_key=lambda kv: (kv[0][0], order.get(kv[0][1], 0), kv[0]))


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="default")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--root", default=None, help="where to write the runs (default: a temporary folder)")
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--runs", default=None, help="comma-separated run ids under --root to report on instead of training")
    p.add_argument("--length-split", action="store_true", help="also split each section by which response is longer")
    p.add_argument("--annotator-agreement", action="store_true",
                   help="also report how often each model picks what the annotator would (rather than gold)")
    args = p.parse_args()
    if args.runs:
        if not args.root:
            p.error("--runs needs the --root they are stored under")
        root, run_ids = args.root, args.runs.split(",")
        print(f"stored runs {args.runs} (root {root})")
    else:
        root = args.root or tempfile.mkdtemp(prefix="wb-rm-sections-")
        run_ids = []
        for seed in [int(s) for s in args.seeds.split(",")]:
            run_id, wall = run_seed(args.preset, seed, root, args.set)
            run_ids.append(run_id)
            print(f"seed {seed}: run {run_id}, reward stage {wall:.0f} s", flush=True)
        print(f"\n{args.preset} preset, seeds {args.seeds}, overrides {args.set or 'none'} (root {root})")
    cols = ["dataset", "section", "n", "bt", "bt_ci", "pm", "pm_ci", "pm_chosen_a", "pm_chosen_b"]
    print_csv(cols, table(root, run_ids))
    print("\nπ0's samples on the preference prompts (what both models start from)")
    print_csv(["section", "samples", "gold_mean", "gold_at_least_half"], pi0_skill(root, run_ids))
    if args.length_split or args.annotator_agreement:
        runs = list(predictions(root, run_ids))
    if args.length_split:
        print("\nAccuracy by which response is longer (pairs whose content differs)")
        print_csv(["dataset", "section", "length", "n", "bt", "pm"], length_split(runs))
    if args.annotator_agreement:
        print("\nAgreement with the annotator's more likely label (not gold)")
        print_csv(["dataset", "section", "n", "annotator_vs_gold", "bt", "pm"], annotator_agreement(runs))


def print_csv(cols: list[str], rows: list[dict]) -> None:
    print(",".join(cols))
    for row in rows:
        print(",".join(f"{row[c]:.2f}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in cols))


if __name__ == "__main__":
    cli()

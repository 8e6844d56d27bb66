"""Wall time of each stage of a preset run, against the preset's time budget.

    python benchmarks/stage_times.py [--preset default] [--root /tmp/wb-bench] [--fresh-base] [--set key=value ...]
    python benchmarks/stage_times.py --preset smollm2 --set reward.train_pm=true   # the real-model run

Runs the preset through the same `workbench.pipeline.run.main` as the CLI and prints the `stages` table of that run
and its headline metrics per iteration,
whether its base model came from the cache or was built, and the budget that applies: the default preset within
10 minutes with its base cached and 15 minutes on a fresh machine (pretraining included), the quick preset within
60 s with its base cached. `--fresh-base` builds the base into an empty cache folder, as a fresh machine would.
Measure on an idle machine: torch runs 2 threads on 2 cores, and a second busy process slows a run several-fold.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from workbench.config import load_config
from workbench.pipeline.run import main
from workbench.store import query

BUDGETS_S = {("default", True): 600, ("default", False): 900, ("quick", True): 60}  # (preset, base cached) → s


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="default")
    p.add_argument("--root", default=None, help="where to write the run (default: a temporary folder)")
    p.add_argument("--fresh-base", action="store_true", help="build the base model into an empty cache folder")
    p.add_argument("--set", action="append", default=[])
    args = p.parse_args()
    root = args.root or tempfile.mkdtemp(prefix="wb-bench-")
    overrides = list(args.set)
    if args.fresh_base:
        overrides.append(f"pretrain.cache_dir={tempfile.mkdtemp(prefix='wb-bench-base-')}")
    cfg = load_config(preset=args.preset, overrides=overrides)
    start = time.perf_counter()
    run_id = main(cfg, root=root, log=lambda *_: None)
    total = time.perf_counter() - start
    _, rows = query(root, "select stage, iteration, wall_s from stages where run_id = ? and stage <> 'done' "
                          "order by finished_at", [run_id])
    print(f"\npreset {args.preset}, run {run_id}")
    print(f"{'stage':<12}{'iteration':>10}{'wall_s':>10}")
    for stage, iteration, wall in rows:
        print(f"{stage:<12}{iteration:>10}{wall:>10.1f}")
    print(f"{'total':<12}{'':>10}{total:>10.1f}")
    names = ("gold_win_rate", "lc_win_rate", "gold_utility", "rm_reward", "mean_length_chars")
    _, metrics = query(root, f"select iteration, name, value from metrics where run_id = ? and name in "
                             f"({', '.join('?' * len(names))})", [run_id, *names])
    by = {(t, n): v for t, n, v in metrics}
    print(f"\n{'iteration':<10}" + "".join(f"{n:>19}" for n in names))
    for t in sorted({t for t, _, _ in metrics}):
        print(f"{t:<10}" + "".join(f"{by.get((t, n), float('nan')):>19.4f}" for n in names))
    record = Path(root) / run_id / "models" / "base.json"
    if record.is_file():
        cached = not json.loads(record.read_text())["built"]
        print(f"base model: {'from the cache' if cached else 'built in this run'}")
        budget = BUDGETS_S.get((args.preset, cached))
        if budget:
            verdict = "within" if total <= budget else f"OVER by {total - budget:.0f} s"
            print(f"budget: {budget} s ({args.preset}, base {'cached' if cached else 'built'}): {verdict}")
    else:
        print("base model: none (pretrain.enabled is false or model.pretrained is set)")


if __name__ == "__main__":
    cli()

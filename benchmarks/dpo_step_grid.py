"""The loop's DPO step, chosen with gold labels only: online (T iterations of fresh pairs) and offline (one DPO run on
as many pairs of π0's samples) each try one small grid of learning rates and prompts per iteration, forked from one
finished run per seed, with `loop.oracle=gold` (perfect best-vs-worst labels: no reward model, no judge).

    python benchmarks/dpo_step_grid.py --root runs/grid --seeds 0,1,2 [--preset default] [--set key=value ...]

A seed's parent is a run under --root whose stages before the loop are finished and were made from the preset and
overrides (`experiment.shared_prefix_run`), else a whole run of them. Prints one row per (setting, arm, seed) as it
goes, then each arm's mean over seeds per setting, each arm's best setting by that mean, and online(best) −
offline(best) per seed; the criterion is ≥ +0.05 gold win rate on every seed. About 12 minutes per seed on 2 idle
CPU cores (default preset).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import fmean

from workbench.config import load_config
from workbench.interfaces.api import Workbench
from workbench.pipeline.experiment import shared_prefix_run
from workbench.store import query

GRID = [  # (learning rate, prompts per iteration): both arms try each
    (2e-5, 300), (1e-4, 300), (2e-5, 600), (1e-4, 600),
]
METRICS = ("gold_win_rate", "gold_utility", "kl_to_ref", "mean_length_chars")


def arm_overrides(arm: str, lr: float, n: int, iterations: int) -> list[str]:
    gold = ["loop.oracle=gold", f"dpo.learning_rate={lr}"]
    if arm == "online":
        return gold + [f"world.n_iter={n}"]
    return gold + ["loop.iterations=1", f"world.n_iter={iterations * n}"]


def last_metrics(root: Path, run_id: str) -> dict[str, float]:
    _, rows = query(root, "select name, value from metrics where run_id = ? and iteration = (select max(iteration) "
                          "from metrics where run_id = ?) and list_contains(?, name)", [run_id, run_id, list(METRICS)])
    return dict(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default="runs/grid")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--preset", default="default")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    root, seeds = Path(args.root), [int(s) for s in args.seeds.split(",")]
    wb = Workbench(root)
    results = root / "dpo_step_grid.jsonl"
    done = {}
    if results.is_file():
        for line in results.read_text().splitlines():
            r = json.loads(line)
            done[(r["lr"], r["n_iter"], r["arm"], r["seed"])] = r
    for seed in seeds:
        base = [f"seed={seed}", f"world.seed={seed}", *args.overrides]
        cfg = load_config(preset=args.preset, overrides=base)
        donor = shared_prefix_run(root, cfg, log=lambda *a: None)
        parent = donor.run_id if donor else wb.run(args.preset, base)
        for lr, n in GRID:
            for arm in ("online", "offline"):
                key = (lr, n, arm, seed)
                if key not in done:
                    run = wb.fork(parent, arm_overrides(arm, lr, n, cfg.loop.iterations))
                    run_id = run.run()
                    done[key] = {"lr": lr, "n_iter": n, "arm": arm, "seed": seed, "run_id": run_id,
                                 **last_metrics(root, run_id)}
                    with results.open("a") as f:
                        f.write(json.dumps(done[key]) + "\n")
                r = done[key]
                print(f"lr={lr:g} n_iter={n} {arm:7s} seed {seed}: " +
                      " ".join(f"{m}={r[m]:.3f}" for m in METRICS), flush=True)
    print(f"\n| lr | prompts/iteration | arm | gold_win_rate (seeds {args.seeds}) | mean gold_win_rate | "
          "mean kl_to_ref | mean length |")
    print("|---|---|---|---|---|---|---|")
    best = {}
    for lr, n in GRID:
        for arm in ("online", "offline"):
            rows = [done[(lr, n, arm, s)] for s in seeds]
            mean = fmean(r["gold_win_rate"] for r in rows)
            per_seed = " / ".join(f"{r['gold_win_rate']:.3f}" for r in rows)
            print(f"| {lr:g} | {n} | {arm} | {per_seed} | {mean:.3f} | "
                  f"{fmean(r['kl_to_ref'] for r in rows):.2f} | {fmean(r['mean_length_chars'] for r in rows):.1f} |")
            if arm not in best or mean > best[arm][0]:
                best[arm] = (mean, lr, n)
    for arm, (mean, lr, n) in best.items():
        print(f"{arm} best: lr={lr:g}, {n} prompts per iteration (mean gold_win_rate {mean:.3f})")
    on, off = best["online"], best["offline"]
    gaps = [done[(on[1], on[2], "online", s)]["gold_win_rate"] - done[(off[1], off[2], "offline", s)]["gold_win_rate"]
            for s in seeds]
    print("online(best) − offline(best) by seed: " + " / ".join(f"{g:+.3f}" for g in gaps)
          + f" (criterion ≥ +0.05 on every seed: {'met' if min(gaps) >= 0.05 else 'missed'})")


if __name__ == "__main__":
    main()

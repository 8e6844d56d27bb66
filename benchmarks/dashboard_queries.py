"""How fast the dashboard's panels are on a large store.

    python benchmarks/dashboard_queries.py [--generations 1000000] [--iterations 4] [--n 8] [--root DIR] [--repeat 5]

Builds a synthetic run with `--generations` rollouts (iterations × prompts × n samples, with RM and gold scores,
best-vs-worst pairs, prompts, metrics and stages), written through `RunStore.write` one segment per iteration and
table exactly as a run writes them, and prints the ingest rate per table. Then it runs every panel's query from
`workbench.interfaces.dashboard_data` with the arguments the app uses and prints the median and the slowest of
`--repeat`
timed calls (after one warm-up call), per panel and per page. The goal is ≤ 200 ms per panel at 1M generations.
The single-run pages first build an in-memory cache of the run (`run_cache.run_cache`), once per store
version; its build time is printed separately.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from workbench.interfaces import dashboard_data as dd
from workbench.interfaces.run_cache import run_cache
from workbench.records import Generation, Iteration, Metric, Pair, Prompt, Run, Score, Stage
from workbench.store import RunStore, connect, store_version

RUN = "bench-1m"
WORDS = ("the answer is", "tea is hot", "and calm", "great question!", "I hope this helps.", "12.", "coffee",
         "is dark", "bitter", "surely", "seven plus five", "indeed")


def build(root: Path, generations: int, iterations: int, n: int, seed: int = 0) -> dict[str, tuple[int, float]]:
    """Write the synthetic run; returns table → (rows, seconds spent in RunStore.write)."""
    rng = np.random.default_rng(seed)
    store = RunStore(root, RUN)
    ingest: dict[str, list[float]] = {}

    def write(rows, segment):
        t = time.perf_counter()
        store.write(rows, segment)
        rows_s = ingest.setdefault(rows[0].TABLE, [0, 0.0])
        rows_s[0] += len(rows)
        rows_s[1] += time.perf_counter() - t

    t0 = datetime(2026, 1, 1)
    cfg = {"name": "bench", "loop": {"iterations": iterations}, "generation": {"n": n}}
    write([Run(RUN, t0, "bench", seed, seed, iterations, json.dumps(cfg))], "run")
    per_iter = generations // (iterations * n)
    sections = ("chat", "chat-hard", "safety", "reasoning")
    for t in range(1, iterations + 1):
        pids = [f"iter{t}-{i:06d}" for i in range(per_iter)]
        write([Prompt(RUN, pid, "iter", t, sections[i % 4], "f", f"prompt {pid}", "{}", "ref")
               for i, pid in enumerate(pids)], f"world-{t:03d}")
        lengths = rng.integers(2, 12, size=(per_iter, n))  # words per response; longer as t grows
        lengths += t
        rm = 0.02 * lengths + rng.normal(0, 0.3, size=lengths.shape)
        gold = rng.normal(0.5, 0.3, size=lengths.shape) - 0.01 * lengths
        word_idx = rng.integers(0, len(WORDS), size=(per_iter, n, 20))
        gens, scores, pairs = [], [], []
        for i, pid in enumerate(pids):
            for k in range(n):
                text = " ".join(WORDS[w] for w in word_idx[i, k, : lengths[i, k]])
                gid = f"rollout{t}-{pid}-{k}"
                gens.append(Generation(RUN, gid, pid, t, "rollout", k, 1.0, 1.0, 32, text, int(lengths[i, k]) * 2,
                                       len(text)))
            best, worst = int(rm[i].argmax()), int(rm[i].argmin())
            pairs.append(Pair(RUN, f"dpo{t}-{pid}", t, pid, f"rollout{t}-{pid}-{best}", f"rollout{t}-{pid}-{worst}",
                              float(rm[i, best]), float(rm[i, worst]), float(rm[i, best] - rm[i, worst]),
                              "best_worst", "rm"))
        for scorer, values in (("rm", rm), ("gold", gold)):
            scores += [Score(RUN, g.generation_id, scorer, float(v)) for g, v in zip(gens, values.ravel())]
        write(gens, f"rollout-{t:03d}")
        write(scores, f"rollout-{t:03d}")
        write(pairs, f"rollout-{t:03d}")
        write([Iteration(RUN, t, f"models/policy_{t}", "initial", per_iter, per_iter * n, per_iter, 0)],
              f"iteration-{t:03d}")
        del gens, scores, pairs
    write([Metric(RUN, t, name, float(rng.random())) for t in range(iterations + 1)
           for name in ("gold_win_rate", "gold_utility", "rm_reward", "mean_length_chars",
                        "gold_win_rate.chat", "gold_win_rate.reasoning")], "metrics")
    write([Stage(RUN, "iteration", t, 1.0, t0 + timedelta(minutes=t)) for t in range(1, iterations + 1)]
          + [Stage(RUN, "done", iterations, 0.0, t0 + timedelta(hours=1))], "stages")
    return {k: (int(v[0]), v[1]) for k, v in ingest.items()}


def panels(con, root: Path, iterations: int) -> list[tuple[str, str, callable]]:
    """(page, panel, call) for every query the app makes, with the app's default arguments."""
    runs, its = [RUN], list(range(1, iterations + 1))
    return [
        ("all", "store_version", lambda: store_version(root)),
        ("all", "connect", lambda: connect(root).close()),
        ("Runs", "runs", lambda: dd.runs(con)),
        ("Runs", "run_configs", lambda: dd.run_configs(con, runs)),
        ("Runs", "stages", lambda: dd.stages(con, runs)),
        ("Curves", "metric_sections", lambda: dd.metric_sections(con, runs)),
        ("Curves", "metric_curves", lambda: dd.metric_curves(con, runs)),
        ("Reward distributions", "scorers", lambda: dd.scorers(con, RUN)),
        ("Reward distributions", "purposes", lambda: dd.purposes(con, RUN)),
        ("Reward distributions", "score_histogram", lambda: dd.score_histogram(con, RUN, "rm", "rollout")),
        ("Reward distributions", "score_summary", lambda: dd.score_summary(con, RUN, "rm", "rollout")),
        ("Reward distributions", "chosen_rejected_histogram", lambda: dd.chosen_rejected_histogram(con, RUN, "rm")),
        ("Reward distributions", "chosen_rejected_summary", lambda: dd.chosen_rejected_summary(con, RUN, "rm")),
        ("Reward distributions", "margin_histogram", lambda: dd.margin_histogram(con, RUN)),
        ("Length bias", "length_reward_fit", lambda: dd.length_reward_fit(con, RUN, "rm", "rollout")),
        ("Length bias", "length_reward_sample", lambda: dd.length_reward_sample(con, RUN, "rm", "rollout")),
        ("Length bias", "mean_length", lambda: dd.mean_length(con, runs, "rollout")),
        ("Pairs", "pair_iterations", lambda: dd.pair_iterations(con, RUN)),
        ("Pairs", "prompt_sections", lambda: dd.prompt_sections(con, RUN)),
        ("Pairs", "pair_ranges", lambda: dd.pair_ranges(con, RUN)),
        ("Pairs", "browse_pairs (all)", lambda: dd.browse_pairs(con, RUN, its)),
        ("Pairs", "browse_pairs (filtered)", lambda: dd.browse_pairs(con, RUN, its[-1:], section="reasoning",
                                                                     margin=(0.5, 10.0), agreement="gold disagrees")),
        ("Reward model", "pair_gold_agreement", lambda: dd.pair_gold_agreement(con, runs)),
        ("Reward model", "rm_eval / labels (absent)", lambda: (dd.optional(con, "rm_eval", dd.rm_eval, runs),
                                                               dd.optional(con, "labels", dd.labels_summary, runs))),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--generations", type=int, default=1_000_000)
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--n", type=int, default=8, help="samples per prompt")
    ap.add_argument("--root", help="where to write the store (default: a temporary folder, removed afterwards)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    tmp = None if args.root else tempfile.TemporaryDirectory(prefix="dash-bench-")
    root = Path(args.root or tmp.name)
    t = time.perf_counter()
    ingest = build(root, args.generations, args.iterations, args.n)
    total = time.perf_counter() - t
    size = sum(p.stat().st_size for p in root.rglob("*.parquet"))
    print(f"store: {root}  ({size / 2**20:.0f} MiB of Parquet, built in {total:.1f}s)")
    print(f"{'table':<12} {'rows':>10} {'write s':>8} {'rows/s':>10}")
    for table, (rows, secs) in ingest.items():
        if rows >= 100:
            print(f"{table:<12} {rows:>10,} {secs:>8.2f} {rows / secs:>10,.0f}")

    builds = []
    for _ in range(2):
        fresh = connect(root)
        t = time.perf_counter()
        run_cache(fresh, RUN)
        builds.append(time.perf_counter() - t)
        fresh.close()
    print(f"\nper-run cache (built once per store version by the first single-run panel): "
          f"{min(builds) * 1000:.0f} ms (best of 2)")

    con = connect(root)
    run_cache(con, RUN)
    print(f"\n{'page':<22} {'panel':<28} {'median ms':>9} {'max ms':>8}")
    by_page: dict[str, float] = {}
    for page, name, call in panels(con, root, args.iterations):
        call()  # warm-up: first read of the files
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            call()
            times.append((time.perf_counter() - t) * 1000)
        med = statistics.median(times)
        by_page[page] = by_page.get(page, 0.0) + med
        flag = "  > 200 ms" if med > 200 else ""
        print(f"{page:<22} {name:<28} {med:>9.1f} {max(times):>8.1f}{flag}")
    print("\nper page (sum of medians, before the app's result cache):")
    for page, ms in by_page.items():
        print(f"  {page:<22} {ms:>7.0f} ms")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()

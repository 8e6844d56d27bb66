"""The `workbench` command.

    workbench run [--preset NAME | --config FILE] [--set key=value ...] [--root DIR]
    workbench runs [--root DIR]
    workbench sql [--root DIR] [--json] "SELECT ..."
    workbench data prepare --format NAME --file PATH [--json] [--skip-invalid] [--out FILE]
    workbench data mix NAME [--source NAME=PATH ...] [--out FILE] [--json] [--root DIR]
    workbench rm eval [--root DIR] [--run RUN] [--file PATH]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys

from workbench.config import ConfigError, load_config


def _print_table(names: list[str], rows: list[tuple], out=sys.stdout) -> None:
    def fmt(v):
        if isinstance(v, float):
            return "nan" if math.isnan(v) else f"{v:.4f}"
        return "" if v is None else str(v)

    cells = [[fmt(v) for v in r] for r in rows]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    print("  ".join(n.ljust(w) for n, w in zip(names, widths)), file=out)
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)), file=out)


HEADLINE = ("gold_win_rate", "gold_utility", "rm_reward", "mean_length_tokens", "mean_length_chars")


def metrics_table(root: str, run_id: str) -> tuple[list[str], list[tuple]]:
    """One row per iteration with the headline metrics, as `workbench run` prints it."""
    from workbench.store import query

    cols = ", ".join(f"max(value) FILTER (WHERE name = '{m}') AS {m}" for m in HEADLINE)
    return query(
        root,
        f"SELECT iteration, {cols} FROM metrics WHERE run_id = ? AND name IN {HEADLINE} GROUP BY iteration ORDER BY iteration",
        [run_id],
    )


def cmd_run(args) -> int:
    cfg = load_config(preset=args.preset if not args.config else None, path=args.config, overrides=args.set)
    from workbench.run import main

    run_id = main(cfg, root=args.root)
    print(f"\nrun {run_id} finished")
    _print_table(*metrics_table(args.root, run_id))
    print(f"\nresults: {args.root}/{run_id}  (query with: workbench sql --root {args.root} \"select * from metrics\")")
    return 0


def cmd_runs(args) -> int:
    from workbench.store import RUNS_STATUS_SQL, query

    _print_table(*query(args.root, RUNS_STATUS_SQL))
    return 0


def cmd_sql(args) -> int:
    from workbench.store import query

    names, rows = query(args.root, args.query)
    if args.json:
        print(json.dumps([dict(zip(names, r)) for r in rows], default=str, indent=1))
    else:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(names)
        w.writerows(rows)
    return 0


def cmd_data_prepare(args) -> int:
    from workbench.datasets import load_pairs, write_pairs
    from workbench.filters import FilterConfig, apply_filters, default_filters

    res = load_pairs(args.format, args.file, skip_invalid=args.skip_invalid, hub=args.hub, split=args.split)
    filters = default_filters(args.format)
    if args.min_margin is not None:
        filters = FilterConfig(args.min_margin, filters.min_score_ratio, filters.max_pairs_per_prompt)
    kept, dropped = apply_filters(res.pairs, filters)
    dropped.update(res.invalid)
    if args.out:
        write_pairs(kept, args.out)
    sections: dict[str, int] = {}
    for p in kept:
        sections[p.section or "unknown"] = sections.get(p.section or "unknown", 0) + 1
    report = {"format": args.format, "file": str(args.file), "rows": res.rows, "pairs": len(res.pairs),
              "kept": len(kept), "dropped": dict(sorted(dropped.items())), "sections": dict(sorted(sections.items()))}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.file} ({args.format}): {res.rows} rows → {len(res.pairs)} pairs → kept {len(kept)}")
        _print_table(["reason", "dropped"], sorted(dropped.items()) or [("(none)", 0)])
        if args.out:
            print(f"wrote {len(kept)} pairs to {args.out}")
    return 0


def cmd_data_mix(args) -> int:
    from datetime import datetime

    from workbench.datasets import DataError, write_pairs
    from workbench.mixtures import build_mixture, filter_records
    from workbench.store import RunStore

    files = {}
    for item in args.source:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise DataError(f"--source {item!r}: expected NAME=PATH")
        files[name] = path
    run_cfg = load_config(preset=args.preset) if args.preset else None
    mix = build_mixture(args.name, files, seed=args.seed, skip_invalid=args.skip_invalid, run_config=run_cfg)
    if args.out:
        write_pairs(mix.pairs, args.out)
    if args.root:
        run_id = f"data-{args.name}-{datetime.now():%Y%m%d-%H%M%S}"
        RunStore(args.root, run_id).write(filter_records(run_id, args.name, mix.reports), "data-filter")
    if args.json:
        print(json.dumps({"mixture": mix.recipe, "pairs": len(mix.pairs), "sources": [
            {"source": r.name, "format": r.format, "file": r.file, "status": r.status, "rows": r.rows,
             "pairs": r.loaded, "kept": r.kept, "used": r.used, "dropped": dict(sorted(r.dropped.items()))}
            for r in mix.reports]}))
    else:
        rows = [(r.name, r.format, r.status, r.rows, r.loaded, r.kept, r.used,
                 ", ".join(f"{k} {v}" for k, v in sorted(r.dropped.items()))) for r in mix.reports]
        _print_table(["source", "format", "status", "rows", "pairs", "kept", "used", "dropped"], rows)
        print(f"\n{mix.recipe}: {len(mix.pairs)} pairs" + (f" → {args.out}" if args.out else ""))
    return 0


def _latest_run(root: str) -> str:
    from workbench.store import query

    _, rows = query(root, "SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 1")
    if not rows:
        raise FileNotFoundError(f"no runs under {root}")
    return rows[0][0]


def cmd_rm_eval(args) -> int:
    from workbench.rm_eval import HELDOUT, TABLE_SQL, evaluate_run
    from workbench.store import query

    run_id = args.run or _latest_run(args.root)
    if args.file:
        evaluate_run(args.root, run_id, args.file)
    else:
        _, have = query(args.root, "SELECT count(*) FROM rm_eval WHERE run_id = ? AND dataset = ?", [run_id, HELDOUT])
        if not have[0][0]:
            evaluate_run(args.root, run_id)
    print(f"run {run_id}: pairwise accuracy (pm: both orders averaged; pm_chosen_a/b: one order, chosen in slot A/B)")
    _print_table(*query(args.root, TABLE_SQL, [run_id]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workbench", description="Online iterative RLHF workbench.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run the whole pipeline: world → SFT → RM → iterative DPO, evaluated")
    src = r.add_mutually_exclusive_group()
    src.add_argument("--preset", default="default", help="a preset in configs/ (quick, default)")
    src.add_argument("--config", help="a YAML config file")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one field, e.g. loop.iterations=2")
    r.add_argument("--root", default="runs", help="where runs are written (default ./runs)")
    r.set_defaults(fn=cmd_run)

    s = sub.add_parser("runs", help="list runs with status and headline metrics")
    s.add_argument("--root", default="runs")
    s.set_defaults(fn=cmd_runs)

    q = sub.add_parser("sql", help="read-only SQL over every run's tables; CSV out")
    q.add_argument("query")
    q.add_argument("--root", default="runs")
    q.add_argument("--json", action="store_true", help="JSON records instead of CSV")
    q.set_defaults(fn=cmd_sql)

    from workbench.datasets import FORMATS
    from workbench.mixtures import RECIPES

    d = sub.add_parser("data", help="preference datasets: load and filter one file, or build a mixture")
    dsub = d.add_subparsers(dest="data_command", required=True)
    dp = dsub.add_parser("prepare", help="load one file in a public dataset's schema; print kept pairs and drops by reason")
    dp.add_argument("--format", required=True, choices=list(FORMATS))
    dp.add_argument("--file", required=True, help="a .jsonl or .parquet file (or a hub id with --hub)")
    dp.add_argument("--json", action="store_true", help='one JSON object: {"kept": N, "dropped": {reason: count}, ...}')
    dp.add_argument("--skip-invalid", action="store_true", help="count malformed rows by reason instead of stopping")
    dp.add_argument("--min-margin", type=float, help="also drop pairs whose score margin is below this")
    dp.add_argument("--out", help="write the kept pairs here in the `pairs` schema (jsonl)")
    dp.add_argument("--hub", action="store_true", help="--file is a hub dataset id (datasets.load_dataset)")
    dp.add_argument("--split", default="train", help="hub split (with --hub)")
    dp.set_defaults(fn=cmd_data_prepare)
    dm = dsub.add_parser("mix", help="build a named mixture (mix1, mix2, toy) from local files")
    dm.add_argument("name", choices=list(RECIPES))
    dm.add_argument("--source", action="append", default=[], metavar="NAME=PATH", help="a file for one of the recipe's sources")
    dm.add_argument("--out", help="write the mixture here in the `pairs` schema (jsonl)")
    dm.add_argument("--json", action="store_true")
    dm.add_argument("--seed", type=int, default=0, help="sampling seed")
    dm.add_argument("--preset", help="world preset for the toy source (default: the default world)")
    dm.add_argument("--skip-invalid", action="store_true")
    dm.add_argument("--root", help="also store the per-source drop counts (table data_filter) under this root")
    dm.set_defaults(fn=cmd_data_mix)

    m = sub.add_parser("rm", help="reward models")
    msub = m.add_subparsers(dest="rm_command", required=True)
    me = msub.add_parser("eval", help="accuracy by section of a run's BT reward model and preference model")
    me.add_argument("--root", default="runs")
    me.add_argument("--run", help="run id (default: the latest run under --root)")
    me.add_argument("--file", help="a RewardBench-format file (.jsonl/.parquet) to evaluate on")
    me.set_defaults(fn=cmd_rm_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except ConfigError as e:
        print(f"workbench: config error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        from workbench.datasets import DataError

        if isinstance(e, DataError):
            print(f"workbench {args.command}: {e}", file=sys.stderr)
            return 2
        if args.command != "sql":
            raise
        print(f"workbench sql: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        if args.command not in ("rm", "data"):
            raise
        print(f"workbench {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

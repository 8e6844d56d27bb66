"""The `workbench` command.

    workbench run [--preset NAME | --config FILE] [--set key=value ...] [--root DIR]
    workbench runs [--root DIR]
    workbench sql [--root DIR] [--json] "SELECT ..."
    workbench dashboard [--root DIR] [--port N] [--host ADDR]
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


def cmd_dashboard(args) -> int:
    """Start the Streamlit dashboard (app/dashboard.py) on the store; replaces this process with Streamlit's."""
    import os
    from pathlib import Path

    from workbench.import_utils import require

    require("streamlit", "workbench dashboard")
    app = Path(__file__).resolve().parent.parent / "app" / "dashboard.py"
    if not app.is_file():
        print(f"workbench dashboard: {app} not found; the dashboard runs from a source checkout "
              '(pip install -e ".[app]")', file=sys.stderr)
        return 2
    root = Path(args.root).resolve()
    cmd = [sys.executable, "-m", "streamlit", "run", str(app),
           "--server.address", args.host, "--server.port", str(args.port), "--server.headless", "true",
           "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer"]
    print(f"workbench dashboard: http://{args.host}:{args.port}  (store: {root}; Ctrl-C stops it)", flush=True)
    os.execve(sys.executable, cmd, dict(os.environ, WORKBENCH_ROOT=str(root)))
    return 0  # not reached


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

    d = sub.add_parser("dashboard", help="the Streamlit dashboard: runs, curves, reward distributions, length bias, pairs")
    d.add_argument("--root", default="runs")
    d.add_argument("--port", type=int, default=8501)
    d.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 shares it on the network)")
    d.set_defaults(fn=cmd_dashboard)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except ConfigError as e:
        print(f"workbench: config error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        if args.command != "sql":
            raise
        print(f"workbench sql: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

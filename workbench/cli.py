"""The `workbench` command.

    workbench run [--preset NAME | --config FILE] [--set key=value ...] [--root DIR]
    workbench runs [--root DIR]
    workbench sql [--root DIR] [--json] "SELECT ..."
    workbench label [--root DIR] [--run RUN] [--port N] [--public]
    workbench label export --format trl --out FILE [--root DIR] [--run RUN]
    workbench stage NAME --run RUN [--iteration T] [--root DIR]     # one stage; `iteration` runs under accelerate
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


HEADLINE = (
    "gold_win_rate", "lc_win_rate", "gold_utility", "rm_reward", "kl_to_ref", "mean_length_chars", "alignment_tax"
)


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
    from workbench.run import Pipeline

    if args.resume:
        if args.config or args.set or args.preset_given:
            raise ConfigError("--resume continues a run with its stored config: drop --preset, --config and --set")
        pipeline = Pipeline.resume(args.root, args.resume)
    else:
        preset = args.preset or "default"
        cfg = load_config(preset=preset if not args.config else None, path=args.config, overrides=args.set)
        pipeline = Pipeline(cfg, root=args.root)
    run_id = pipeline.run()
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


def cmd_export_outputs(args) -> int:
    from workbench.export import export_outputs

    paths = export_outputs(args.root, args.run, args.iteration, args.prompts, args.out)
    for path in paths:
        print(path)
def _load_app(name: str):
    """A module of the top-level app/ folder, loaded by path (app/ sits beside workbench/ in the source tree)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "app" / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the apps run from a source checkout (pip install -e '.[app]')")
    spec = importlib.util.spec_from_file_location(f"workbench_app_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cmd_label(args) -> int:
    if args.label_command == "export":
        from workbench.labels import export_trl

        n = export_trl(args.root, args.out, run_id=args.run)
        print(f"wrote {n} pairs (prompt/chosen/rejected, ties and skips dropped) to {args.out}")
        return 0
    labeler = _load_app("labeler")
    try:
        labeler.launch(args.root, args.run, port=args.port, public=args.public)
    except ValueError as e:
        print(f"workbench label: {e}", file=sys.stderr)
        return 2
    return 0


def cmd_stage(args) -> int:
    from workbench.run import Pipeline

    pipeline = Pipeline.resume(args.root, args.run)
    method = getattr(pipeline, args.name)
    method(args.iteration) if args.name in ("iteration", "evaluate") else method()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workbench", description="Online iterative RLHF workbench.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run the whole pipeline: world → SFT → RM → iterative DPO, evaluated")
    src = r.add_mutually_exclusive_group()
    src.add_argument("--preset", help="a preset in configs/ (quick, default); default: default")
    src.add_argument("--config", help="a YAML config file")
    src.add_argument("--resume", metavar="RUN", help="continue RUN from its first unfinished stage")
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
    e = sub.add_parser("export", help="export generations for external evaluators")
    esub = e.add_subparsers(dest="what", required=True)
    eo = esub.add_parser("outputs", help="a policy's answers in AlpacaEval and MT-Bench form")
    eo.add_argument("--run", required=True)
    eo.add_argument("--iteration", type=int, required=True, help="which π_t (0 = the SFT model)")
    eo.add_argument("--prompts", required=True, help="AlpacaEval eval set (JSON/JSONL) or MT-Bench question.jsonl")
    eo.add_argument("--root", default="runs")
    eo.add_argument("--out", help="output folder (default <root>/<run>/exports/iteration_<K>)")
    eo.set_defaults(fn=cmd_export_outputs)

    lab = sub.add_parser("label", help="the side-by-side viewer: label pairs by hand (127.0.0.1 unless --public)")
    lab.add_argument("--root", default="runs")
    lab.add_argument("--run", help="run to label first (default: the newest run with pairs)")
    lab.add_argument("--port", type=int, default=7860)
    lab.add_argument("--public", action="store_true",
                     help="listen on every interface; needs a password in $WORKBENCH_LABEL_PASSWORD")
    lab.set_defaults(fn=cmd_label, label_command=None)
    lab_sub = lab.add_subparsers(dest="label_command")
    ex = lab_sub.add_parser("export", help="write human labels as a prompt/chosen/rejected dataset")
    ex.add_argument("--format", choices=["trl"], required=True, help="trl: JSON lines with prompt, chosen, rejected")
    ex.add_argument("--out", required=True, help="output file (.jsonl)")
    # SUPPRESS: given after `export` they set the value, otherwise the one given before `export` stays.
    ex.add_argument("--root", default=argparse.SUPPRESS)
    ex.add_argument("--run", default=argparse.SUPPRESS, help="one run's labels (default: every run under --root)")

    st = sub.add_parser("stage", help="run one stage of an existing run (the iteration stage runs multi-process "
                                      "under accelerate launch / torchrun)")
    st.add_argument("name", choices=["world", "sft", "reward", "iteration", "evaluate"])
    st.add_argument("--run", required=True)
    st.add_argument("--iteration", type=int, default=1, help="for iteration and evaluate (default 1)")
    st.add_argument("--root", default="runs")
    st.set_defaults(fn=cmd_stage)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        args.preset_given = args.preset is not None
    try:
        return args.fn(args)
    except ConfigError as e:
        print(f"workbench: config error: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"workbench: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        if args.command == "export":
            print(f"workbench export: {e}", file=sys.stderr)
            return 2
        if args.command != "sql":
            raise
        print(f"workbench sql: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # DuckDB's own errors for a bad query: a message, not a traceback
        if args.command != "sql" or type(e).__module__.split(".")[0] != "duckdb":
            raise
        print(f"workbench sql: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The `workbench` command.

    workbench run [--preset NAME | --config FILE] [--set key=value ...] [--root DIR]
    workbench runs [--root DIR]
    workbench sql [--root DIR] [--json] "SELECT ..."
    workbench label [--root DIR] [--run RUN] [--port N] [--public]
    workbench label export --format trl --out FILE [--root DIR] [--run RUN]
    workbench dashboard [--root DIR] [--port N] [--host ADDR]
    workbench data prepare --format NAME --file PATH [--json] [--skip-invalid] [--out FILE]
    workbench data mix NAME [--source NAME=PATH ...] [--out FILE] [--json] [--root DIR]
    workbench rm eval [--root DIR] [--run RUN] [--file PATH]  |  workbench rm eval --models DIR --file PATH
    workbench rm train --model MODEL --data FORMAT:PATH [--data ...] --out DIR [--pm] [--config FILE] [--set ...]
    workbench model import --gguf FILE|NAME --out DIR
    workbench notebook NAME [--root DIR]  |  workbench notebook --strip
    workbench stage NAME --run RUN [--iteration T] [--root DIR]     # one stage; `iteration` runs under accelerate

Each command's flags are declared by its `add_<command>` function, just above its `cmd_<command>` handler;
`build_parser` calls them in the order `workbench --help` lists the commands.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import duckdb

from workbench.config import SOURCE_DIR, ConfigError, load_config
from workbench.data.formats import DataError
from workbench.evaluation.metrics import metrics_table
from workbench.models.gguf import GGUFError
from workbench.pipeline.experiment import EXPERIMENTS
from workbench.store import StoreError


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


def add_run(sub) -> None:
    r = sub.add_parser("run", help="run the whole pipeline: world → SFT → RM → iterative DPO, evaluated")
    src = r.add_mutually_exclusive_group()
    src.add_argument("--preset", help="a preset in configs/ (quick, default, smollm2); default: default")
    src.add_argument("--config", help="a YAML config file")
    src.add_argument("--resume", metavar="RUN", help="continue RUN from its first unfinished stage")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one field, e.g. loop.iterations=2")
    r.add_argument("--root", default="runs", help="where runs are written (default ./runs)")
    r.set_defaults(fn=cmd_run)


def cmd_run(args) -> int:
    from workbench.pipeline.run import Pipeline

    if args.resume:
        if args.config or args.set or args.preset_given:
            raise ConfigError("--resume continues a run with its stored config: drop --preset, --config and --set")
        pipeline = Pipeline.resume(args.root, args.resume)
    else:
        preset = args.preset or "default"
        cfg = load_config(preset=preset if not args.config else None, path=args.config, overrides=args.set)
        pipeline = Pipeline(cfg, root=args.root)
    try:
        run_id = pipeline.run()
    except KeyboardInterrupt:
        print(f"\nworkbench: interrupted; the finished stages are kept. Continue with:\n"
              f"  workbench run --resume {pipeline.run_id} --root {args.root}", file=sys.stderr)
        return 130
    print(f"\nrun {run_id} finished")
    _print_table(*metrics_table(args.root, run_id))
    print(f"\nresults: {args.root}/{run_id}  (query with: workbench sql --root {args.root} \"select * from metrics\")")
    return 0


def add_runs(sub) -> None:
    s = sub.add_parser("runs", help="list runs with status and headline metrics")
    s.add_argument("--root", default="runs")
    s.set_defaults(fn=cmd_runs)


def cmd_runs(args) -> int:
    from workbench.store import RUNS_STATUS_SQL, query

    _print_table(*query(args.root, RUNS_STATUS_SQL))
    return 0


def add_judges(sub) -> None:
    j = sub.add_parser("judges", help="a run's judge card: its reward data's labellers beside the published figures")
    j.add_argument("run", nargs="?", help="run id (default: the latest run under --root)")
    j.add_argument("--root", default="runs")
    j.set_defaults(fn=cmd_judges)


def cmd_judges(args) -> int:
    from workbench.evaluation.judge_card import render

    print(render(args.root, args.run or _latest_run(args.root)))
    return 0


def add_sql(sub) -> None:
    q = sub.add_parser("sql", help="read-only SQL over every run's tables; CSV out")
    q.add_argument("query")
    q.add_argument("--root", default="runs")
    q.add_argument("--json", action="store_true", help="JSON records instead of CSV")
    q.set_defaults(fn=cmd_sql)


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


def add_export(sub) -> None:
    e = sub.add_parser("export", help="export generations for external evaluators")
    esub = e.add_subparsers(dest="what", required=True)
    eo = esub.add_parser("outputs", help="a policy's answers in AlpacaEval and MT-Bench form")
    eo.add_argument("--run", required=True)
    eo.add_argument("--iteration", type=int, required=True, help="which π_t (0 = the SFT model)")
    eo.add_argument("--prompts", required=True, help="AlpacaEval eval set (JSON/JSONL) or MT-Bench question.jsonl")
    eo.add_argument("--root", default="runs")
    eo.add_argument("--out", help="output folder (default <root>/<run>/exports/iteration_<K>)")
    eo.set_defaults(fn=cmd_export_outputs)


def cmd_export_outputs(args) -> int:
    from workbench.pipeline.export import export_outputs

    paths = export_outputs(args.root, args.run, args.iteration, args.prompts, args.out)
    for path in paths:
        print(path)
    return 0


def _load_app(name: str):
    """A module of the top-level app/ folder, loaded by path (app/ sits beside workbench/ in the source tree)."""
    import importlib.util

    path = SOURCE_DIR / "app" / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the apps run from a source checkout (pip install -e '.[app]')")
    spec = importlib.util.spec_from_file_location(f"workbench_app_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def add_label(sub) -> None:
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


def cmd_label(args) -> int:
    if args.label_command == "export":
        from workbench.data.labels import export_trl

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


def add_experiment(sub) -> None:
    x = sub.add_parser("experiment", help="a named comparison over seeds: " + ", ".join(EXPERIMENTS))
    x.add_argument("name", choices=EXPERIMENTS)
    x.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    x.add_argument("--preset", default="default")
    x.add_argument("--root", default="runs")
    x.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one field in every arm")
    x.add_argument("--fresh", action="store_true", help="recompute every arm even when a run under --root already "
                   "has its stages: by default an arm some finished run made from the same config is taken as it is "
                   "(not in the peer comparisons), and a seed's first arm forks a run with the same stages before "
                   "the loop")
    x.set_defaults(fn=cmd_experiment)


def cmd_experiment(args) -> int:
    from workbench.pipeline.experiment import report, run_experiment

    try:
        seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--seeds: expected comma-separated integers, got {args.seeds!r}") from None
    experiment_id = run_experiment(args.name, seeds, preset=args.preset, root=args.root, overrides=args.set,
                                   reuse=not args.fresh)
    print(f"\nexperiment {experiment_id} finished (mean ± sd over seeds, each arm's last iteration)\n")
    print(report(args.root, experiment_id))
    print(f"\nruns: workbench sql --root {args.root} "
          f"\"select * from experiments where experiment_id = '{experiment_id}'\"")
    return 0


def add_dashboard(sub) -> None:
    d = sub.add_parser("dashboard",
                       help="the Streamlit dashboard: runs, curves, reward distributions, length bias, pairs")
    d.add_argument("--root", default="runs")
    d.add_argument("--port", type=int, default=8501)
    d.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 shares it on the network)")
    d.set_defaults(fn=cmd_dashboard)


def cmd_dashboard(args) -> int:
    """Start the Streamlit dashboard (app/dashboard.py) on the store; replaces this process with Streamlit's."""
    import os
    from pathlib import Path

    from workbench.import_utils import require

    require("streamlit", "workbench dashboard")
    app = SOURCE_DIR / "app" / "dashboard.py"
    if not app.is_file():
        print(f"workbench dashboard: {app} not found; the dashboard runs from a source checkout "
              '(pip install -e ".[app]")', file=sys.stderr)
        return 2
    root = Path(args.root).absolute()  # not resolve(): the page shows it relative to the folder it started in
    cmd = [sys.executable, "-m", "streamlit", "run", str(app),
           "--server.address", args.host, "--server.port", str(args.port), "--server.headless", "true",
           "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer"]
    print(f"workbench dashboard: http://{args.host}:{args.port}  (store: {root}; Ctrl-C stops it)", flush=True)
    os.execve(sys.executable, cmd, dict(os.environ, WORKBENCH_ROOT=str(root)))
    return 0  # not reached


def add_data(sub) -> None:
    d = sub.add_parser("data", help="preference datasets: load and filter one file, or build a mixture")
    dsub = d.add_subparsers(dest="data_command", required=True)
    add_data_prepare(dsub)
    add_data_mix(dsub)


def add_data_prepare(dsub) -> None:
    from workbench.data.formats import FORMATS

    dp = dsub.add_parser("prepare",
                         help="load one file in a public dataset's schema; print kept pairs and drops by reason")
    dp.add_argument("--format", required=True, choices=list(FORMATS))
    dp.add_argument("--file", required=True, help="a .jsonl or .parquet file (or a hub id with --hub)")
    dp.add_argument("--json", action="store_true", help='one JSON object: {"kept": N, "dropped": {reason: count}, ...}')
    dp.add_argument("--skip-invalid", action="store_true", help="count malformed rows by reason instead of stopping")
    dp.add_argument("--min-margin", type=float, help="also drop pairs whose score margin is below this")
    dp.add_argument("--out", help="write the kept pairs here in the `pairs` schema (jsonl)")
    dp.add_argument("--hub", action="store_true", help="--file is a hub dataset id (datasets.load_dataset)")
    dp.add_argument("--split", default="train", help="hub split (with --hub)")
    dp.set_defaults(fn=cmd_data_prepare)


def cmd_data_prepare(args) -> int:
    from workbench.data.filters import FilterConfig, apply_filters, default_filters
    from workbench.data.sources import load_pairs, write_pairs

    res = load_pairs(args.format, args.file, skip_invalid=args.skip_invalid, hub=args.hub, split=args.split)
    filters = default_filters(args.format)
    if args.min_margin is not None:
        filters = FilterConfig(args.min_margin, filters.min_score_ratio, filters.max_pairs_per_prompt)
    kept, dropped = apply_filters(res.pairs, filters)
    dropped.update(res.dropped())  # rows that made no pair, and (--skip-invalid) malformed rows
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


def add_data_mix(dsub) -> None:
    from workbench.data.mixtures import RECIPES

    dm = dsub.add_parser("mix", help="build a named mixture (mix1, mix2, toy) from local files")
    dm.add_argument("name", choices=list(RECIPES))
    dm.add_argument("--source", action="append", default=[], metavar="NAME=PATH",
                    help="a file for one of the recipe's sources")
    dm.add_argument("--out", help="write the mixture here in the `pairs` schema (jsonl)")
    dm.add_argument("--json", action="store_true")
    dm.add_argument("--seed", type=int, default=0, help="sampling seed")
    dm.add_argument("--preset", help="world preset for the toy source (default: the default world)")
    dm.add_argument("--skip-invalid", action="store_true")
    dm.add_argument("--root", help="also store the per-source drop counts (table data_filter) under this root")
    dm.set_defaults(fn=cmd_data_mix)


def cmd_data_mix(args) -> int:
    from datetime import datetime

    from workbench.data.formats import DataError
    from workbench.data.mixtures import build_mixture, filter_records
    from workbench.data.sources import write_pairs
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


def add_rm(sub) -> None:
    m = sub.add_parser("rm", help="reward models")
    msub = m.add_subparsers(dest="rm_command", required=True)
    add_rm_eval(msub)
    add_rm_train(msub)


def add_rm_eval(msub) -> None:
    me = msub.add_parser("eval", help="accuracy by section of a run's BT reward model and preference model")
    me.add_argument("--root", default="runs")
    me.add_argument("--run", help="run id (default: the latest run under --root)")
    me.add_argument("--file", help="a RewardBench-format file (.jsonl/.parquet) to evaluate on")
    me.add_argument("--models", metavar="DIR",
                    help="evaluate the models `workbench rm train` saved in DIR (needs --file)")
    me.set_defaults(fn=cmd_rm_eval)


def cmd_rm_eval(args) -> int:
    from workbench.evaluation.rm_eval import HELDOUT, TABLE_SQL, evaluate_run
    from workbench.store import query

    if args.models:
        from workbench.pipeline.rm_train import evaluate_models

        if not args.file or args.run:
            raise ValueError("--models evaluates a folder of `workbench rm train` on a --file; drop --run")
        rows = evaluate_models(args.models, args.file)
        by = {(r.section, r.model): r for r in rows}
        sections = list(dict.fromkeys(r.section for r in rows))

        def cell(s, m, f):
            return getattr(by[(s, m)], f) if (s, m) in by else None

        print(f"{args.models}: pairwise accuracy (pm: both orders averaged; pm_chosen_a/b: one order, chosen in "
              "slot A/B)")
        _print_table(["section", "n", "bt", "pm", "pm_chosen_a", "pm_chosen_b"],
                     [(s, cell(s, "bt", "n"), cell(s, "bt", "accuracy"), cell(s, "pm", "accuracy"),
                       cell(s, "pm", "accuracy_chosen_a"), cell(s, "pm", "accuracy_chosen_b")) for s in sections])
        return 0

    run_id = args.run or _latest_run(args.root)
    if args.file:
        evaluate_run(args.root, run_id, args.file)
    else:
        _, have = query(args.root, "SELECT count(*) FROM rm_eval WHERE run_id = ? AND dataset = ?", [run_id, HELDOUT])
        if not have[0][0]:
            evaluate_run(args.root, run_id)
    print(f"run {run_id}: pairwise accuracy (pm: both orders averaged; pm_chosen_a/b: one order, chosen in slot A/B)")
    _print_table(*query(args.root, TABLE_SQL, [[run_id]]))
    return 0


def add_rm_train(msub) -> None:
    mt = msub.add_parser("train", help="train the BT reward model (and the preference model) from any causal LM on "
                                       "preference files, outside a toy run")
    mt.add_argument("--model", required=True, help="base model: a save_pretrained folder, a hub id, a .gguf file or "
                                                   "a GGUF short name (smollm2-135m-instruct)")
    mt.add_argument("--data", action="append", required=True, metavar="FORMAT:PATH",
                    help="a preference file of any `data prepare` format (a `data mix --out` file is pairs:PATH); "
                    "repeat")
    mt.add_argument("--out", required=True, help="a new folder: rm/, pm/ and rm_train.json go there")
    mt.add_argument("--pm", action="store_true", help="also train the pairwise preference model")
    mt.add_argument("--skip-invalid", action="store_true", help="count malformed rows by reason instead of stopping")
    cfg_src = mt.add_mutually_exclusive_group()
    cfg_src.add_argument("--preset", default="default",
                         help="whose reward.* and model.max_length to use (default: default)")
    cfg_src.add_argument("--config", help="a YAML config file (e.g. configs/llama3-8b-rlhflow.yaml)")
    mt.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override one field, e.g. reward.epochs=1")
    mt.set_defaults(fn=cmd_rm_train)


def cmd_rm_train(args) -> int:
    from workbench.pipeline.rm_train import main

    cfg = load_config(preset=args.preset if not args.config else None, path=args.config, overrides=args.set)
    main(cfg, args.model, args.data, args.out, train_pm=args.pm, skip_invalid=args.skip_invalid)
    print(f"\nnext: workbench rm eval --models {args.out} --file REWARD_BENCH_FILE")
    return 0


def add_model(sub) -> None:
    mo = sub.add_parser("model", help="model checkpoints")
    mosub = mo.add_subparsers(dest="model_command", required=True)
    mi = mosub.add_parser("import", help="dequantize a GGUF checkpoint into a save_pretrained folder, once")
    mi.add_argument("--gguf", required=True, metavar="FILE|NAME",
                    help="a .gguf file, or a short name of a file an installed package ships (smollm2-135m-instruct)")
    mi.add_argument("--out", required=True, help="the folder to write (kept as it is if it is already this import)")
    mi.set_defaults(fn=cmd_model_import)


def cmd_model_import(args) -> int:
    from workbench.models.gguf import gguf_file, import_gguf

    file = gguf_file(args.gguf)
    print(f"[workbench] importing {file} ({file.stat().st_size / 2**20:.0f} MiB) → {args.out}")
    out = import_gguf(file, Path(args.out))
    print(f"[workbench] {out}: a save_pretrained folder; name it as model.pretrained, reward.pretrained or "
          "rm train --model")
    return 0


def add_notebook(sub) -> None:
    nb = sub.add_parser("notebook", help="open a notebook of notebooks/ in JupyterLab, or --strip their outputs")
    nb.add_argument("name", nargs="?", help="01_quickstart, 02_length_bias, ... (a unique prefix such as 01 works)")
    nb.add_argument("--root", default="runs",
                    help="the store the notebook uses, passed as $WORKBENCH_ROOT (default ./runs)")
    nb.add_argument("--strip", action="store_true", help="remove outputs and execution counts from every notebook")
    nb.set_defaults(fn=cmd_notebook)


def cmd_notebook(args) -> int:
    """Open a notebook of notebooks/ in JupyterLab, or strip the outputs of all of them."""
    from workbench.interfaces import notebooks

    if args.strip:
        if args.name:
            raise ConfigError("--strip strips every notebook: give no NAME")
        for path in notebooks.notebooks():
            print(f"{'stripped' if notebooks.strip(path) else 'clean   '}  {path.name}")
        return 0
    if not args.name:
        names = ", ".join(p.stem for p in notebooks.notebooks())
        print(f"workbench notebook: give a NAME ({names}) or --strip", file=sys.stderr)
        return 2
    return notebooks.open_in_lab(notebooks.find(args.name), args.root)


def add_stage(sub) -> None:
    st = sub.add_parser("stage", help="run one stage of an existing run (the iteration stage runs multi-process "
                                      "under accelerate launch / torchrun)")
    st.add_argument("name", choices=["world", "pretrain", "sft", "reward", "rollout", "iteration", "evaluate"])
    st.add_argument("--run", required=True)
    st.add_argument("--iteration", type=int, default=1, help="for rollout, iteration and evaluate (default 1)")
    st.add_argument("--root", default="runs")
    st.set_defaults(fn=cmd_stage)


def cmd_stage(args) -> int:
    from workbench.distributed import shut_down
    from workbench.pipeline.run import PER_ITERATION, Pipeline

    pipeline = Pipeline.resume(args.root, args.run)
    method = getattr(pipeline, args.name)
    method(args.iteration) if args.name in PER_ITERATION else method()
    shut_down()  # under `accelerate launch` / `torchrun`: leave the process group before the interpreter exits
    return 0


def _subparsers(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every (nested) subcommand's parser by its full name, e.g. "rm train"."""
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[prefix + name] = sub
                out.update(_subparsers(sub, prefix + name + " "))
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workbench", description="Online iterative RLHF workbench.")
    sub = p.add_subparsers(dest="command", required=True)
    for add in (add_run, add_runs, add_judges, add_sql, add_export, add_label, add_experiment, add_dashboard, add_data,
                add_rm, add_model, add_notebook, add_stage):
        add(sub)
    for name, parser in _subparsers(p).items():
        if name in VERBOSE_COMMANDS:
            parser.add_argument("--verbose", action="store_true",
                                help="show the libraries' own output (trainer logs, loading bars, warnings)")
    return p


# Commands whose ValueErrors are the user's input (a bad file, query, seed list), reported as one line.
INPUT_ERRORS_FROM = ("sql", "export", "experiment", "data", "rm", "label", "notebook", "model")


# Commands that train or sample: quiet by default (one bar at a time, stage lines); --verbose restores the libraries'
# own output (console.py)
VERBOSE_COMMANDS = ("run", "experiment", "stage", "rm train", "rm eval", "export outputs", "notebook")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "verbose", False):
        from workbench.console import set_verbose

        set_verbose(True)
    if args.command == "run":
        args.preset_given = args.preset is not None
    try:
        return args.fn(args)
    except ConfigError as e:
        print(f"workbench: config error: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, FileExistsError, StoreError, DataError, GGUFError) as e:  # a bad input names itself
        print(f"workbench {args.command}: {e}", file=sys.stderr)
        return 2
    except (ValueError, duckdb.Error) as e:  # DataError and PromptFileError are ValueErrors
        if args.command not in INPUT_ERRORS_FROM:
            raise
        print(f"workbench {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

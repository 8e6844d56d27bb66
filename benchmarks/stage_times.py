"""Wall time of each stage of a preset run.

    python benchmarks/stage_times.py [--preset default] [--root /tmp/wb-bench] [--set key=value ...]

Runs the preset through the same `workbench.pipeline.run.main` as the CLI and prints the `stages` table of that run.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from workbench.config import load_config
from workbench.pipeline.run import main
from workbench.store import query


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="default")
    p.add_argument("--root", default=None, help="where to write the run (default: a temporary folder)")
    p.add_argument("--set", action="append", default=[])
    args = p.parse_args()
    root = args.root or tempfile.mkdtemp(prefix="wb-bench-")
    cfg = load_config(preset=args.preset, overrides=args.set)
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


if __name__ == "__main__":
    cli()

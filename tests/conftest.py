import os
import subprocess
import sys
import time

import pytest
from testing_utils import SMALL

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_configure(config):
    """One base-model cache per test run (models/pretrain.py): the quick base is built once, by the first run that
    needs it, and every later run, subprocess and notebook of the session reuses it; the user's cache is not touched."""
    import tempfile

    if not os.environ.get("WORKBENCH_BASE_CACHE"):
        config._workbench_base_cache = tempfile.mkdtemp(prefix="wb-test-base-")
        os.environ["WORKBENCH_BASE_CACHE"] = config._workbench_base_cache


def pytest_unconfigure(config):
    import shutil

    folder = getattr(config, "_workbench_base_cache", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("WORKBENCH_BASE_CACHE", None)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A tokenizer and a 2-layer Llama on the quick preset's world, saved like hub models."""
    import torch

    from workbench.config import load_config
    from workbench.models.lm import init_model, train_tokenizer
    from workbench.world.toy import build_world, corpus

    torch.set_num_threads(2)
    cfg = load_config(preset="quick")
    root = tmp_path_factory.mktemp("tiny")
    tokenizer = train_tokenizer(corpus(cfg.world), cfg.model, root / "tokenizer")
    init_model(tokenizer, cfg.model, seed=0, out=root / "init")
    world = build_world(cfg.world, cfg.loop.iterations, "tiny")
    return cfg, root, tokenizer, world


@pytest.fixture(scope="session")
def quick_cli_live(tmp_path_factory):
    """`workbench run --preset quick` through the CLI, read from this process while it writes.

    Returns (root, run_id, console output, [(generations visible, done stages) at each poll]).
    """
    from workbench.store import query

    root = tmp_path_factory.mktemp("runs")
    log = tmp_path_factory.mktemp("log") / "run.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbench", "run", "--preset", "quick", "--root", str(root)],
            stdout=out, stderr=subprocess.STDOUT, text=True, env=env,
        )
    live = []  # no lock errors, and rows appear before the end
    while proc.poll() is None:
        names, rows = query(root, "select count(*) as n, count(distinct run_id) from generations")
        status = query(root, "select count(*) from stages where stage = 'done'")[1][0][0]
        live.append((rows[0][0], status))
        time.sleep(0.5)
    with open(log, newline="") as f:  # keep the carriage returns progress bars redraw with
        output = f.read()
    assert proc.returncode == 0, output[-4000:]
    (run_id,) = [d for d in os.listdir(root)]
    return root, run_id, output, live


@pytest.fixture(scope="session")
def quick_cli_run(quick_cli_live):
    """(root, run_id) of one uninterrupted `workbench run --preset quick` through the CLI: the test session's one quick
    run, shared read-only. A test that writes to a store (labels, new runs) takes `quick_copy` instead."""
    root, run_id, _, _ = quick_cli_live
    return root, run_id


@pytest.fixture(scope="module")
def quick_copy(quick_cli_run, tmp_path_factory):
    """(root, run_id) of a copy of the session's quick run that this module may write to."""
    import shutil

    root, run_id = quick_cli_run
    copy = tmp_path_factory.mktemp("quick-copy") / "runs"
    shutil.copytree(root, copy)
    return copy, run_id


@pytest.fixture(scope="session")
def quick_experiment(tmp_path_factory):
    """`workbench experiment online-vs-offline` on the quick preset cut to `SMALL` over seeds 0 and 1, shared
    read-only: (root, experiment_id, seeds)."""
    from workbench.pipeline.experiment import run_experiment

    root = tmp_path_factory.mktemp("experiment") / "runs"
    seeds = [0, 1]
    experiment_id = run_experiment("online-vs-offline", seeds, preset="quick", root=root, overrides=list(SMALL),
                                   log=lambda *_: None)
    return root, experiment_id, seeds

"""One DPO iteration in two real processes (accelerate launch, gloo on CPU): both ranks train, each half the steps."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import torch

from workbench.config import load_config
from workbench.models.lm import load_policy
from workbench.pipeline.run import Pipeline
from workbench.store import query

REPO = Path(__file__).resolve().parent.parent


def test_dpo_iteration_runs_in_two_processes(tmp_path):
    cfg = load_config(preset="quick", overrides=[
        "world.n_sft=200", "world.n_pref=24", "world.n_iter=32", "sft.epochs=1", "loop.iterations=1",
        "dpo.batch_size=4", "dpo.epochs=1", "generation.backend=hf",
    ])
    p = Pipeline(cfg, root=tmp_path, log=lambda *_: None)
    for stage in (p.world, p.pretrain, p.sft, p.reward):
        stage()
    p.rollout(1)  # one process samples; the DPO stage runs in two

    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(REPO / "configs/accelerate/cpu_2proc.yaml"), "--main_process_port", "0", "-m", "workbench",
           "stage", "iteration", "--iteration", "1", "--run", p.run_id, "--root", str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]

    ranks = sorted((p.store.model_dir("policy_1") / "trainer" / "ranks").glob("rank*.json"))
    records = [json.loads(r.read_text()) for r in ranks]
    assert [r["rank"] for r in records] == [0, 1]
    assert all(r["world_size"] == 2 for r in records)
    _, [(n_pairs,)] = query(tmp_path, "select n_pairs from iterations where run_id = ?", [p.run_id])
    alone = math.ceil(n_pairs / 4)  # optimizer steps one process would take over the pairs at batch 4
    together = math.ceil(n_pairs / (2 * 4))  # each of 2 ranks takes every other batch
    assert n_pairs > 8 and together < alone
    assert [r["steps"] for r in records] == [together, together]

    _, stages = query(tmp_path, "select stage, iteration from stages where run_id = ? and stage = 'iteration'",
                      [p.run_id])
    assert stages == [("iteration", 1)]  # recorded once, by rank 0
    trained, start = load_policy(p.store.model_dir("policy_1")), load_policy(p.store.model_dir("sft"))
    moved = [not torch.equal(a, b) for a, b in zip(trained.parameters(), start.parameters())]
    assert all(moved)

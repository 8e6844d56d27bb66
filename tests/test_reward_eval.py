"""The quick preset with the preference model as the loop's oracle: BT and PM train, are evaluated by section on
gold-labelled held-out pairs, the loop picks its pairs with the PM, and `workbench rm eval` prints and extends it."""

import math
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.config import load_config
from workbench.store import query
from workbench.world.toy import SECTIONS

CLI = [sys.executable, "-m", "workbench"]
FIX = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def pm_run(quick_cli_run, tmp_path_factory):
    """The quick preset with the PM as oracle for one iteration, from the session quick run's π0 (the π0 this config
    trains, without training it again)."""
    from workbench.pipeline.run import main

    root = tmp_path_factory.mktemp("pm-runs")
    src, src_id = quick_cli_run
    cfg = load_config(preset="quick", overrides=["loop.oracle=pm", "loop.iterations=1",
                                                 f"model.pretrained={src / src_id / 'models' / 'sft'}"])
    run_id = main(cfg, root=root, log=lambda *_: None)
    return root, run_id, cfg


def _eval(root, run_id):
    _, rows = query(root, "select model, dataset, section, n, accuracy, accuracy_chosen_a, accuracy_chosen_b "
                          "from rm_eval where run_id = ?", [run_id])
    return {(m, d, s): (n, acc, a, b) for m, d, s, n, acc, a, b in rows}


def test_bt_and_pm_are_evaluated_by_section_on_both_toy_sets(pm_run):
    root, run_id, _ = pm_run
    ev = _eval(root, run_id)
    for model in ("bt", "pm"):
        for dataset in ("toy-heldout", "toy-bench"):
            n_all, acc, a, b = ev[(model, dataset, "all")]
            sections = [s for (m, d, s) in ev if m == model and d == dataset and s != "all"]
            assert sum(ev[(model, dataset, s)][0] for s in sections) == n_all > 0
            assert 0.0 <= acc <= 1.0
            if model == "pm":
                assert 0.0 <= a <= 1.0 and 0.0 <= b <= 1.0  # position-bias columns: chosen in slot A / in slot B
            else:
                assert math.isnan(a) and math.isnan(b)
        assert {s for (m, d, s) in ev if m == model and d == "toy-bench"} == set(SECTIONS) | {"length", "all"}


def test_bt_learned_the_annotators_length_bias(pm_run):
    """On pairs of equal content the gold utility prefers the shorter response and the annotator the longer one:
    a reward model trained on the annotator's labels ranks them below chance (the world's verbosity trap)."""
    root, run_id, _ = pm_run
    n, acc, _, _ = _eval(root, run_id)[("bt", "toy-bench", "length")]
    assert n >= 20 and acc < 0.5, (n, acc)


def test_loop_picked_its_pairs_with_the_preference_model(pm_run):
    root, run_id, cfg = pm_run
    _, pairs = query(root, "select scorer, count(*) from pairs where run_id = ? and iteration = 1 group by scorer",
                     [run_id])
    assert pairs[0][0] == "pm" and 0 < pairs[0][1] <= cfg.world.n_iter
    _, scores = query(root, "select count(*), min(value), max(value) from scores where run_id = ? and scorer = 'pm'",
                      [run_id])
    n, lo, hi = scores[0]
    assert n == cfg.world.n_iter * cfg.generation.n and 0.0 <= lo < hi <= 1.0  # mean win probabilities
    # each prompt's n round-robin scores hand out (n choose 2) wins in total: mean exactly 1/2
    _, means = query(root, "select avg(value) from scores s join generations g using (run_id, generation_id) "
                           "where s.run_id = ? and scorer = 'pm' group by g.prompt_id", [run_id])
    assert all(abs(m - 0.5) < 1e-6 for (m,) in means)
    assert (root / run_id / "models" / "pm").is_dir() and (root / run_id / "models" / "policy_1").is_dir()


def test_cli_rm_eval_prints_the_table_and_adds_a_reward_bench_file(pm_run):
    root, run_id, _ = pm_run
    out = subprocess.run(CLI + ["rm", "eval", "--root", str(root), "--file", str(FIX / "reward_bench.jsonl")],
                         capture_output=True, text=True, check=True).stdout
    assert f"run {run_id}" in out and "pm_chosen_a" in out
    ev = _eval(root, run_id)
    for section in ("chat", "chat-hard", "safety", "reasoning"):
        assert ev[("bt", "reward_bench", section)][0] == 2 and ev[("pm", "reward_bench", section)][0] == 2
    lines = [line.split() for line in out.splitlines()]
    assert ["reward_bench", "chat-hard", "2"] in [line[:3] for line in lines]
    assert ["toy-heldout", "all"] in [line[:2] for line in lines]


def test_rm_eval_on_a_missing_run_says_so(tmp_path):
    r = subprocess.run(CLI + ["rm", "eval", "--root", str(tmp_path), "--run", "nope"], capture_output=True, text=True)
    assert r.returncode == 2 and "no run 'nope'" in r.stderr

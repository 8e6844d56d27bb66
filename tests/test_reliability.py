"""Crash safety: stage transactions, kill-and-resume, store versions, interrupts."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from testing_utils import SMALL_CLI

from workbench.config import load_config
from workbench.records import Metric
from workbench.store import RunStore, StoreError, connect, query

CLI = [sys.executable, "-m", "workbench"]


def _count(root, table="metrics"):
    return query(root, f"select count(*) from {table}")[1][0][0]


def test_a_transaction_is_invisible_until_it_commits(tmp_path):
    store = RunStore(tmp_path, "r")
    with store.transaction("stage-001"):
        store.write([Metric("r", 1, "a", 1.0)], "one")
        store.write([Metric("r", 1, "b", 2.0)], "two")
        assert _count(tmp_path) == 0
    assert _count(tmp_path) == 2


def test_a_failed_transaction_leaves_nothing(tmp_path):
    store = RunStore(tmp_path, "r")
    with pytest.raises(RuntimeError):
        with store.transaction("stage-001"):
            store.write([Metric("r", 1, "a", 1.0)], "one")
            raise RuntimeError("killed")
    assert _count(tmp_path) == 0
    assert not any((tmp_path / "r" / "staging").iterdir())


def test_running_a_stage_again_replaces_its_rows(tmp_path):
    store = RunStore(tmp_path, "r")
    for value in (1.0, 2.0):
        with store.transaction("stage-001"):
            store.write([Metric("r", 1, "a", value)], "one")
    assert query(tmp_path, "select value from metrics")[1] == [(2.0,)]


def test_a_newer_or_broken_store_is_refused_with_its_path(tmp_path):
    RunStore(tmp_path, "r").write([Metric("r", 1, "a", 1.0)], "one")
    marker = tmp_path / "r" / "store.json"
    marker.write_text(json.dumps({"store_version": 99}))
    with pytest.raises(StoreError, match=r"store version 99.*upgrade"):
        connect(tmp_path)
    marker.write_text("{not json")
    with pytest.raises(StoreError, match=str(marker)):
        connect(tmp_path)
    res = subprocess.run(CLI + ["sql", "--root", str(tmp_path), "select 1"], capture_output=True, text=True)
    assert res.returncode == 2 and str(marker) in res.stderr


def _counts(root, run_id):
    sql = """select 'gen' as k, purpose || ':' || iteration as g, count(*) as n, count(distinct generation_id) as d
             from generations where run_id = ? group by all
             union all select 'pair', cast(iteration as varchar), count(*), count(distinct pair_id)
             from pairs where run_id = ? group by all
             union all select 'metric', cast(iteration as varchar), count(*), count(distinct name)
             from metrics where run_id = ? group by all
             union all select 'stage', stage || ':' || iteration, count(*), count(*) from stages where run_id = ?
             group by all order by 1, 2"""
    return query(root, sql, [run_id] * 4)[1]


def test_kill_and_resume_ten_times(quick_cli_run, tmp_path):
    """SIGKILL the quick preset at 10 random moments, resume each time: the end state equals an uninterrupted run.

    The moments are drawn along the uninterrupted run's timeline of stage work (its `stages` wall times), so they
    fall in every kind of stage (generation, scoring, training, store writes) whatever the machine's speed: each
    attempt is killed that far into the work not yet committed, counted from the attempt's start-up line.
    """
    ref_root, ref_id = quick_cli_run
    cfg = load_config(preset="quick")
    rng = random.Random(1234)
    # the base model comes from the session's cache in every attempt, whether or not the reference run built it
    walls = query(ref_root, "select wall_s from stages where run_id = ? and stage <> 'pretrain' order by finished_at",
                  [ref_id])[1]
    total = sum(w for (w,) in walls)
    moments = sorted(rng.uniform(0.02, 0.9) * total for _ in range(10))
    root = tmp_path / "runs"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    run_id, kills = None, 0
    log = tmp_path / "attempt.log"
    while True:
        cmd = CLI + (["run", "--resume", run_id] if run_id else ["run", "--preset", "quick"]) + ["--root", str(root)]
        with open(log, "w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
        if kills < 10:
            while proc.poll() is None and "[workbench] run " not in log.read_text():
                time.sleep(0.05)  # start-up (imports) is not stage work
            done = 0.0
            if run_id:
                done = query(root, "select coalesce(sum(wall_s), 0) from stages "
                                   "where run_id = ? and stage <> 'pretrain'", [run_id])[1][0][0]
            deadline = time.time() + max(0.2, moments[kills] - done)
            while time.time() < deadline and proc.poll() is None:
                time.sleep(0.05)
        if proc.poll() is None and kills < 10:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        else:
            proc.wait(timeout=900)
            assert proc.returncode == 0, log.read_text()[-3000:]
            break
        if run_id is None and root.exists() and any(root.iterdir()):
            (run_id,) = os.listdir(root)
        if run_id:
            # never a half-written stage: every visible (purpose, iteration) group of generations is complete
            expected = {"pref": cfg.world.n_pref * 2 * cfg.reward.pairs_per_prompt, "eval": cfg.world.n_eval,
                        "rollout": cfg.world.n_iter * cfg.generation.n, "capability": cfg.world.n_capability,
                        "drift": cfg.world.n_eval * cfg.eval.drift_samples}
            for purpose, iteration, n in query(root, "select purpose, iteration, count(*) from generations "
                                                     "group by all")[1]:
                assert n == expected[purpose], (purpose, iteration, n, kills)
    assert kills == 10, f"the run finished after {kills} kills"
    mine, theirs = _counts(root, run_id), _counts(ref_root, ref_id)
    assert mine == theirs
    assert all(n == d for _, _, n, d in mine if _ != "stage")  # no duplicate ids
    sql = "select iteration, name, value from metrics where run_id = ? order by iteration, name"
    a, b = query(root, sql, [run_id])[1], query(ref_root, sql, [ref_id])[1]
    assert [(i, n) for i, n, _ in a] == [(i, n) for i, n, _ in b]
    assert [v for *_, v in a] == pytest.approx([v for *_, v in b], nan_ok=True, abs=1e-9)


def test_ctrl_c_stops_cleanly_and_the_run_resumes(tmp_path):
    root = tmp_path / "runs"
    proc = subprocess.Popen(CLI + ["run", "--preset", "quick", "--root", str(root), *SMALL_CLI], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    for line in proc.stdout:  # interrupt once the first stage is done
        if "stage world done" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-2000:]
    assert "--resume" in err
    (run_id,) = os.listdir(root)
    done = {s for (s,) in query(root, "select stage from stages")[1]}
    assert "world" in done and "done" not in done
    res = subprocess.run(CLI + ["run", "--resume", run_id, "--root", str(root)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert query(root, "select count(*) from stages where stage = 'done'")[1] == [(1,)]
    assert query(root, "select count(*) from stages where stage = 'world'")[1] == [(1,)]


def test_resuming_a_missing_run_or_model_says_which_path(tmp_path):
    res = subprocess.run(CLI + ["run", "--resume", "no-such-run", "--root", str(tmp_path)],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "no run 'no-such-run'" in res.stderr and "Traceback" not in res.stderr
    from workbench.models.lm import load_policy

    with pytest.raises(FileNotFoundError, match=str(tmp_path / "missing")):
        load_policy(tmp_path / "missing")

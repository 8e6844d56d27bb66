"""loop.rm_refresh on the quick preset, forked from the session's quick run (same π0 and RM): the annotator labels
the rollout's own pairs each iteration, the RM continues training, and the refreshed RM ranks the samples."""

import random
import shutil

import pytest

from workbench.config import load_config
from workbench.loop.selection import adjusted_scores, refresh_pairs
from workbench.models.reward import load_reward_model, score
from workbench.pipeline.run import Pipeline
from workbench.store import query
from workbench.world.toy import format_prompt

BUDGET = 20
ROLLOUT = """select g.generation_id, g.prompt_id, p.text as prompt, g.text, g.n_chars, s.value as rm
             from generations g join prompts p on p.run_id = g.run_id and p.prompt_id = g.prompt_id
             join scores s on s.run_id = g.run_id and s.generation_id = g.generation_id and s.scorer = 'rm'
             where g.run_id = ? and g.purpose = 'rollout' and g.iteration = ? order by g.prompt_id, g.sample_index"""


@pytest.fixture(scope="module")
def refreshed(quick_cli_run, tmp_path_factory):
    src, donor_id = quick_cli_run
    root = tmp_path_factory.mktemp("refresh") / "runs"
    shutil.copytree(src, root)  # the session's run is shared read-only; the fork writes next to it
    cfg = load_config(preset="quick", overrides=["loop.rm_refresh=true", f"loop.refresh_pairs={BUDGET}"])
    p = Pipeline.fork(Pipeline.resume(root, donor_id, log=lambda *_: None), cfg, log=lambda *_: None)
    p.run()
    return root, p, donor_id


def _rollout(root, run_id, t):
    names, rows = query(root, ROLLOUT, [run_id, t])
    return [dict(zip(names, r)) for r in rows]


def test_each_iteration_labels_its_budget_of_its_own_pairs(refreshed):
    root, p, donor = refreshed
    for t in (1, 2):
        assert (p.rm_dir(t) / "config.json").is_file()
        names, rows = query(root, """select x.scorer, x.prompt_id, c.prompt_id, r.prompt_id, c.purpose, r.purpose,
                                     c.iteration, r.iteration from pairs x
                                     join generations c on c.run_id = x.run_id and c.generation_id = x.chosen_id
                                     join generations r on r.run_id = x.run_id and r.generation_id = x.rejected_id
                                     where x.run_id = ? and x.rule = 'refresh' and x.iteration = ?""", [p.run_id, t])
        assert len(rows) == BUDGET
        for scorer, pid, cp, rp, cpur, rpur, cit, rit in rows:
            assert scorer == "annotator" and pid == cp == rp and cpur == rpur == "rollout" and cit == rit == t
    # the run it forked trains nothing after the reward stage
    assert query(root, "select count(*) from pairs where run_id = ? and rule = 'refresh'", [donor])[1] == [(0,)]
    assert not (root / donor / "models" / "rm_1").exists()


def test_the_refreshed_rm_ranks_the_rollout_and_the_budget_is_the_least_certain_pairs(refreshed):
    """Iteration 2's stored RM scores are RM_2's; its labelled pairs are the ones RM_1 (the RM before the refresh)
    separated least, recomputed here; RM_2 differs from RM_1."""
    root, p, _ = refreshed
    tok, t = p.tokenizer(), 2
    rows = _rollout(root, p.run_id, t)
    prompts, texts = [format_prompt(r["prompt"]) for r in rows], [r["text"] for r in rows]
    after = score(load_reward_model(p.rm_dir(t), tok), tok, prompts, texts)
    before = score(load_reward_model(p.rm_dir(t - 1), tok), tok, prompts, texts)
    assert [r["rm"] for r in rows] == pytest.approx(after, abs=1e-5)
    assert max(abs(a - b) for a, b in zip(after, before)) > 1e-3
    n = p.cfg.generation.n
    picks = refresh_pairs(before, adjusted_scores(before, [r["n_chars"] for r in rows], 0.0), texts, n, "uncertain",
                          BUDGET, random.Random(0))
    expected = sorted((rows[a]["prompt_id"], *sorted((rows[a]["generation_id"], rows[b]["generation_id"])))
                      for _, a, b in picks)
    stored = query(root, "select prompt_id, least(chosen_id, rejected_id), greatest(chosen_id, rejected_id) from pairs "
                         "where run_id = ? and rule = 'refresh' and iteration = ? order by all", [p.run_id, t])[1]
    assert [tuple(s) for s in stored] == expected


def test_evaluation_uses_the_rm_in_use_and_measures_its_drift(refreshed):
    root, p, _ = refreshed
    tok = p.tokenizer()
    names, rows = query(root, """select p.text, g.text, s.value from generations g
                                 join prompts p on p.run_id = g.run_id and p.prompt_id = g.prompt_id
                                 join scores s on s.run_id = g.run_id and s.generation_id = g.generation_id
                                 where g.run_id = ? and g.purpose = 'eval' and g.iteration = 2 and s.scorer = 'rm'
                                 order by g.generation_id limit 8""", [p.run_id])
    rescored = score(load_reward_model(p.rm_dir(2), tok), tok, [format_prompt(a) for a, _, _ in rows],
                     [b for _, b, _ in rows])
    assert [v for *_, v in rows] == pytest.approx(rescored, abs=1e-5)
    # the drift: rm_policy_accuracy at iteration t is RM_t's accuracy on π_t's own samples (purpose `drift`)
    names, rows = query(root, """select g.iteration, g.prompt_id, g.generation_id, p.text as prompt, g.text,
                                        max(s.value) filter (where s.scorer = 'gold') as gold,
                                        max(s.value) filter (where s.scorer = 'rm') as rm
                                 from generations g join prompts p on p.run_id = g.run_id and p.prompt_id = g.prompt_id
                                 join scores s on s.run_id = g.run_id and s.generation_id = g.generation_id
                                 where g.run_id = ? and g.purpose = 'drift' group by all
                                 order by g.iteration, g.generation_id""", [p.run_id])
    drift = {t: [dict(zip(names, r)) for r in rows if r[0] == t] for t in (0, 1, 2)}
    for t in (1, 2):  # scored by the RM in use at t (refreshed), not the reward stage's
        some = drift[t][:8]
        rescored = score(load_reward_model(p.rm_dir(t), tok), tok, [format_prompt(r["prompt"]) for r in some],
                         [r["text"] for r in some])
        assert [r["rm"] for r in some] == pytest.approx(rescored, abs=1e-5)
    expected = {}
    for t, at in drift.items():  # every gold-unequal pair of one prompt's samples; an RM tie counts one half
        pairs = [(a, b) for i, a in enumerate(at) for b in at[i + 1:]
                 if a["prompt_id"] == b["prompt_id"] and a["gold"] != b["gold"]]
        hits = [0.5 if a["rm"] == b["rm"] else float((a["rm"] > b["rm"]) == (a["gold"] > b["gold"])) for a, b in pairs]
        assert len(hits) > 20, t  # enough pairs to mean something
        expected[t] = sum(hits) / len(hits)
    acc = query(root, "select iteration, value from metrics where run_id = ? and name = 'rm_policy_accuracy' "
                      "order by iteration", [p.run_id])[1]
    assert dict(acc) == pytest.approx(expected)


def test_a_rerun_rollout_replays_the_refresh_exactly(refreshed):
    root, p, _ = refreshed
    sql = "select pair_id, chosen_id, rejected_id from pairs where run_id = ? and iteration = 2 order by pair_id"
    before_pairs, before_scores = query(root, sql, [p.run_id])[1], [r["rm"] for r in _rollout(root, p.run_id, 2)]
    p.rollout(2)  # as a resume after a kill inside the stage would
    assert query(root, sql, [p.run_id])[1] == before_pairs
    assert [r["rm"] for r in _rollout(root, p.run_id, 2)] == pytest.approx(before_scores, abs=1e-6)


HUMAN_BUDGET, WAIT_S = 6, 15.0


def _label_refresh_queue(root, run_id, stop, log):
    """A person in the viewer: takes the `refresh` queue's pairs as they appear and labels them through
    workbench.interfaces.labeling. Iteration 1: every pair (A, B alternately, so some labels go against the RM's
    order); iteration 2: two pairs and a skip, then nothing more (the loop waits out loop.refresh_wait_s)."""
    from workbench.interfaces.labeling import Claims, make_label, next_item, write_label

    claims, done2 = Claims(), 0
    while not stop.is_set():
        shown = next_item(root, run_id, "refresh", "alice", claims, "s1", random.Random(len(log)))
        if shown is None or (shown.item.iteration == 2 and done2 >= 3):
            stop.wait(0.2)
            continue
        choice = "skip" if shown.item.iteration == 2 and done2 == 2 else "AB"[len(log) % 2]
        write_label(root, make_label(shown, "alice", choice))
        log.append((shown.item.iteration, shown.item.pair_id, shown.item.rm_margin, shown, choice))
        done2 += shown.item.iteration == 2


@pytest.fixture(scope="module")
def human_refreshed(quick_cli_run, tmp_path_factory):
    import threading

    src, donor_id = quick_cli_run
    root = tmp_path_factory.mktemp("refresh-human") / "runs"
    shutil.copytree(src, root)
    cfg = load_config(preset="quick", overrides=["loop.rm_refresh=true", "loop.refresh_source=human",
                                                 f"loop.refresh_pairs={HUMAN_BUDGET}", f"loop.refresh_wait_s={WAIT_S}"])
    p = Pipeline.fork(Pipeline.resume(root, donor_id, log=lambda *_: None), cfg, log=lambda *_: None)
    stop, log = threading.Event(), []
    person = threading.Thread(target=_label_refresh_queue, args=(root, p.run_id, stop, log), daemon=True)
    person.start()
    try:
        p.run()
    finally:
        stop.set()
        person.join()
    return root, p, log


def test_human_refresh_waits_for_the_viewer_and_trains_on_what_people_said(human_refreshed):
    root, p, log = human_refreshed
    # the viewer offered each iteration's queue while its rollout stage was still running: the least certain first
    first = [x for x in log if x[0] == 1]
    assert len(first) == HUMAN_BUDGET and len([x for x in log if x[0] == 2]) == 3
    margins = [abs(m) for _, _, m, _, _ in first]
    assert all(m is not None for m in margins) and margins == sorted(margins)
    stored = query(root, """select x.iteration, x.pair_id, x.chosen_id, x.rejected_id, x.scorer from pairs x
                            where x.run_id = ? and x.rule = 'refresh' order by all""", [p.run_id])[1]
    # committed: the labelled pairs, oriented as labelled; the skipped and the never-labelled ones are gone
    want = []
    for it, pair_id, _, shown, choice in log:
        if choice == "skip":
            continue
        chosen = shown.left_id if choice == "A" else shown.right_id
        rejected = shown.right_id if choice == "A" else shown.left_id
        want.append((it, pair_id, chosen, rejected, "human"))
    assert stored == sorted(want) and len(stored) == HUMAN_BUDGET + 2
    # the refresh ran at both iterations and iteration 2 waited out loop.refresh_wait_s for the rest
    assert (p.rm_dir(1) / "config.json").is_file() and (p.rm_dir(2) / "config.json").is_file()
    wall = dict(query(root, "select iteration, wall_s from stages where run_id = ? and stage = 'rollout'",
                      [p.run_id])[1])
    assert wall[2] >= WAIT_S
    # no published row survives twice: one generation row per id after the commit
    assert query(root, "select count(*) - count(distinct generation_id) from generations where run_id = ?",
                 [p.run_id])[1] == [(0,)]


def test_human_refresh_without_labels_does_not_wait_when_told_not_to(quick_cli_run, tmp_path):
    src, donor_id = quick_cli_run
    root = tmp_path / "runs"
    shutil.copytree(src, root)
    cfg = load_config(preset="quick", overrides=["loop.rm_refresh=true", "loop.refresh_source=human",
                                                 "loop.refresh_wait_s=0", "loop.iterations=1"])
    p = Pipeline.fork(Pipeline.resume(root, donor_id, log=lambda *_: None), cfg, log=lambda *_: None)
    p.run()
    assert query(root, "select count(*) from pairs where run_id = ? and rule = 'refresh'", [p.run_id])[1] == [(0,)]
    assert (p.rm_dir(1) / "config.json").is_file()  # trained on the labels it had: the reward stage's

"""The quick preset end to end, through the real CLI, with a second process reading the store while it runs."""

import json
import subprocess
import sys

import pytest
from testing_utils import SMALL, SMALL_CLI

from workbench.config import load_config
from workbench.store import query
from workbench.world.toy import SECTIONS

CLI = [sys.executable, "-m", "workbench"]


def _sql(root, sql):
    out = subprocess.run(CLI + ["sql", "--root", str(root), "--json", sql], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def quick_run(quick_cli_live):
    return quick_cli_live


LIBRARY_NOISE = ("{'loss'", "'train_runtime'", "Loading weights", "Tokenizing", "Truncating", "Building labels",
                 "Map", "Warning", "warn(")


def test_console_is_quiet_by_default(quick_run):
    """What `workbench run` leaves on screen: its own lines and the table; every other line was a progress bar
    (redrawn in place with carriage returns), and none of the libraries' log dicts, loading bars or warnings."""
    _, run_id, output, _ = quick_run
    assert not [n for n in LIBRARY_NOISE if n in output], output[:3000]
    kept = [line.rsplit("\r", 1)[-1] for line in output.split("\n")]  # what a terminal shows after the redraws
    kept = [line for line in kept if line.strip()]
    ours = ("[workbench] run ", "[workbench] stage ", "[workbench] base model ", f"run {run_id} finished",
            "iteration  ", "results: ")
    table = [line for line in kept if line.split()[0].isdigit()]
    assert [line for line in kept if not line.startswith(ours) and line not in table] == []
    assert len([line for line in kept if line.startswith("[workbench] stage ")]) == 11  # quick: 5 + 3 per iteration × 2
    assert len([line for line in kept if line.startswith("[workbench] base model ")]) == 1
    assert len(table) == 3


def test_cli_prints_run_id_and_metrics_table(quick_run):
    root, run_id, output, _ = quick_run
    assert f"run {run_id} finished" in output
    assert "iteration  gold_win_rate" in output
    assert "[workbench] stage sft done in" in output


def test_store_was_readable_while_the_run_wrote(quick_run):
    _, _, _, live = quick_run
    during = [n for n, done in live if done == 0]
    assert len(during) >= 3
    assert any(n > 0 for n in during), "the reader never saw a generation before the run finished"


def test_counts_agree(quick_run):
    root, run_id, _, _ = quick_run
    cfg = load_config(preset="quick")
    g, T = cfg.generation, cfg.loop.iterations
    rollouts = _sql(root, "select iteration, count(*) as n, count(distinct prompt_id) as prompts from generations "
                          "where purpose = 'rollout' group by iteration order by iteration")
    assert rollouts == [{"iteration": t, "n": cfg.world.n_iter * g.n, "prompts": cfg.world.n_iter}
                        for t in range(1, T + 1)]
    evals = _sql(root, "select iteration, count(*) as n from generations where purpose = 'eval' group by 1 order by 1")
    assert evals == [{"iteration": t, "n": cfg.world.n_eval} for t in range(T + 1)]
    its = _sql(root, "select iteration, n_prompts, n_pairs, n_ties_dropped, n_generations from iterations order by 1")
    assert [i["iteration"] for i in its] == list(range(1, T + 1))
    for it in its:
        assert it["n_pairs"] + it["n_ties_dropped"] == it["n_prompts"] == cfg.world.n_iter
        assert it["n_generations"] == cfg.world.n_iter * g.n
    pairs = _sql(root, "select iteration, count(*) as n from pairs where rule = 'best_worst' group by 1 order by 1")
    assert [p["n"] for p in pairs] == [it["n_pairs"] for it in its]
    # every rollout is scored by the RM and the gold oracle
    unscored = _sql(root, "select count(*) as n from generations g where purpose = 'rollout' and "
                          "(select count(distinct scorer) from scores s where s.generation_id = g.generation_id) <> 2")
    assert unscored == [{"n": 0}]


def test_reward_data_mixes_its_sources(quick_run):
    """The reward stage's candidates come from π0, the demonstrations and the perturbations in the shares of
    reward.mix, each stored with its source; the annotator's pairs mix the sources, and the pair browser shows them."""
    from collections import Counter

    from workbench.interfaces import dashboard_data as dd
    from workbench.store import connect

    root, run_id, _, _ = quick_run
    cfg = load_config(preset="quick")
    assert cfg.reward.source == "mix"
    counts = cfg.reward.candidate_counts()
    assert all(counts.values()) and sum(counts.values()) == 2 * cfg.reward.pairs_per_prompt
    rows = _sql(root, "select prompt_id, source, temperature from generations where purpose = 'pref'")
    by_prompt: dict = {}
    for r in rows:
        by_prompt.setdefault(r["prompt_id"], Counter())[r["source"].split(":")[0]] += 1
    assert len(by_prompt) == cfg.world.n_pref
    assert all(c == Counter(counts) for c in by_prompt.values())
    assert {r["temperature"] for r in rows if r["source"] == "pi0"} == set(cfg.reward.temperatures)
    kinds = {r["source"] for r in rows if r["source"].startswith("perturbed:")}
    assert len(kinds) >= 8, kinds  # the families' kinds: wrong_number, other_topic, one_more, complied, padded, ...
    sides = _sql(root, "select c.source as chosen, r.source as rejected from pairs p "
                       "join generations c on c.generation_id = p.chosen_id join generations r on r.generation_id = "
                       "p.rejected_id where p.iteration = 0 and p.rule = 'annotator'")
    mixed = Counter(frozenset(s.split(":")[0] for s in side.values()) for side in sides)
    assert mixed[frozenset({"pi0", "perturbed"})] and mixed[frozenset({"pi0", "demo"})] and mixed[frozenset({"demo"})]
    con = connect(root)
    total, page = dd.browse_pairs(con, run_id, [0], limit=20)
    assert total == len(sides) and (page.chosen_source != "").all() and (page.rejected_source != "").all()


def test_judge_card_recomputes_from_the_store(quick_run):
    """The reward data's labellers as stored: each section's pairs by its own labeller, the card's pair counts and
    length ratios those of the `pairs` table, and its π0 figures (and the annotator_pi0_* metrics) the expected
    figures of the stored π0 candidates; `workbench judges` prints the card."""
    import dataclasses

    from workbench.records import Generation, Prompt
    from workbench.world import judges

    root, run_id, _, _ = quick_run
    cfg = load_config(preset="quick")
    labelled = _sql(root, "select pr.section, p.scorer, c.n_chars as c, r.n_chars as r from pairs p "
                          "join prompts pr using (run_id, prompt_id) "
                          "join generations c on c.generation_id = p.chosen_id "
                          "join generations r on r.generation_id = p.rejected_id where p.iteration = 0")
    assert {(x["section"], x["scorer"]) for x in labelled} == {
        ("reasoning", "verifier"), ("safety", "safety"), ("chat", "annotator"), ("chat", "human"),
        ("chat-hard", "annotator"), ("chat-hard", "human")}
    card = {r["labeller"]: r for r in _sql(root, "select * from judge_card")}
    assert set(card) == set(judges.LABELLERS)
    for who, row in card.items():
        mine = [x for x in labelled if x["scorer"] == who]
        assert row["pairs"] == len(mine)
        assert row["length_ratio"] == pytest.approx(sum(x["c"] for x in mine) / sum(x["r"] for x in mine))
        assert row["paper_length_ratio"] == pytest.approx(judges.paper_length_ratio(who))
    cols = ", ".join(f"g.{f.name}" for f in dataclasses.fields(Generation))
    _, gens = query(root, f"select {cols}, s.value from generations g join scores s using (run_id, generation_id) "
                          "where g.purpose = 'pref' and s.scorer = 'gold'")
    _, prompts = query(root, f"select {', '.join(f.name for f in dataclasses.fields(Prompt))} from prompts "
                             "where split = 'pref'")
    by_section = judges.pi0_pairs([Prompt(*p) for p in prompts], [Generation(*g[:-1]) for g in gens],
                                  [g[-1] for g in gens])
    for who, row in card.items():
        fig = judges.expected_figures(who, cfg, judges.section_pairs(by_section, judges.SECTIONS[who]))
        assert (row["pi0_gold_agreement"], row["pi0_pairs_decided"]) == (pytest.approx(fig.gold_agreement),
                                                                         fig.decided)
    every = judges.expected_figures("annotator", cfg, [p for ps in by_section.values() for p in ps])
    metrics = {r["name"]: r["value"] for r in _sql(root, "select name, value from metrics where iteration = 0")}
    assert metrics["annotator_pi0_gold_agreement"] == pytest.approx(every.gold_agreement)
    assert metrics["annotator_pi0_prefers_longer"] == pytest.approx(every.prefers_longer)
    assert -1 <= metrics["rm_length_corr_pi0"] <= 1 and metrics["rm_length_corr_pi0_skipped"] >= 0
    from workbench.interfaces import dashboard_data as dd
    from workbench.store import connect

    shown = dd.judge_card(connect(root), [run_id])  # the dashboard's Reward model page
    assert shown.labeller.tolist() == list(judges.LABELLERS) and shown.pairs.tolist() == [
        card[w]["pairs"] for w in judges.LABELLERS]
    out = subprocess.run(CLI + ["judges", run_id, "--root", str(root)], capture_output=True, text=True, check=True)
    assert "annotator_pi0_gold_agreement" in out.stdout and "UltraInteract (161,927)" in out.stdout


def test_kl_is_never_negative_and_degenerate_lc_fits_are_counted(quick_run):
    root, _, _, _ = quick_run
    rows = _sql(root, "select iteration, name, value from metrics where name in "
                      "('kl_to_ref', 'lc_model_term_zero', 'lc_degenerate_fits', 'lc_win_rate') order by iteration")
    by = {}
    for r in rows:
        by.setdefault(r["name"], {})[r["iteration"]] = r["value"]
    assert all(v >= 0 for v in by["kl_to_ref"].values()) and by["kl_to_ref"][0] == 0
    assert 0 not in by["lc_model_term_zero"]  # π0 against itself is no fit
    running = 0.0
    for t, zero in sorted(by["lc_model_term_zero"].items()):
        running += zero
        assert by["lc_degenerate_fits"][t] == running
        if zero:
            assert by["lc_win_rate"][t] == 0.5  # a zeroed model term is σ(0)


def test_pairs_are_best_and_worst_of_their_prompt(quick_run):
    root, _, _, _ = quick_run
    rows = _sql(root, """
        select p.pair_id, p.margin, c.prompt_id = p.prompt_id and r.prompt_id = p.prompt_id as same_prompt,
               sc.value as rc, sr.value as rr,
               (select max(s.value) from scores s join generations g using (generation_id)
                 where g.prompt_id = p.prompt_id and g.iteration = p.iteration and g.purpose = 'rollout'
                   and s.scorer = 'rm') as best,
               (select min(s.value) from scores s join generations g using (generation_id)
                 where g.prompt_id = p.prompt_id and g.iteration = p.iteration and g.purpose = 'rollout'
                   and s.scorer = 'rm') as worst
        from pairs p
        join generations c on c.generation_id = p.chosen_id
        join generations r on r.generation_id = p.rejected_id
        join scores sc on sc.generation_id = p.chosen_id and sc.scorer = 'rm'
        join scores sr on sr.generation_id = p.rejected_id and sr.scorer = 'rm'
        where p.rule = 'best_worst'
    """)
    assert rows
    for r in rows:  # λ = 0 in the quick preset: chosen is the max RM score, rejected the min
        assert r["same_prompt"]
        assert r["margin"] > 0
        assert r["rc"] == pytest.approx(r["best"]) and r["rr"] == pytest.approx(r["worst"])


def test_one_gold_win_rate_per_iteration(quick_run):
    root, _, _, _ = quick_run
    rows = _sql(root, "select iteration, value from metrics where name = 'gold_win_rate' order by iteration")
    T = load_config(preset="quick").loop.iterations
    assert [r["iteration"] for r in rows] == list(range(T + 1))
    assert rows[0]["value"] == 0.5  # π0 against itself
    assert all(0.0 <= r["value"] <= 1.0 for r in rows)
    per_section = _sql(root, "select distinct name from metrics where name like 'gold_win_rate.%' order by 1")
    assert [r["name"] for r in per_section] == [f"gold_win_rate.{s}" for s in sorted(SECTIONS)]


def test_win_rate_recomputes_from_the_store(quick_run):
    """The metric on the dashboard equals what SQL over the eval generations gives."""
    root, _, _, _ = quick_run
    rows = _sql(root, """
        with u as (select g.iteration, g.prompt_id, s.value from generations g join scores s using (generation_id)
                   where g.purpose = 'eval' and s.scorer = 'gold')
        select a.iteration, avg(case when a.value > b.value then 1.0 when a.value = b.value then 0.5 else 0.0 end) as wr
        from u a join u b on a.prompt_id = b.prompt_id and b.iteration = 0
        group by a.iteration order by a.iteration
    """)
    stored = _sql(root, "select iteration, value from metrics where name = 'gold_win_rate' order by iteration")
    assert [r["wr"] for r in rows] == pytest.approx([r["value"] for r in stored])


def test_runs_lists_the_finished_run(quick_run):
    root, run_id, _, _ = quick_run
    out = subprocess.run(CLI + ["runs", "--root", str(root)], capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith(run_id))
    assert "finished" in line


def test_artifacts_are_loadable_models(quick_run):
    root, run_id, _, _ = quick_run
    models = root / run_id / "models"
    for name in ("tokenizer", "sft", "rm", "policy_1", "policy_2"):
        assert (models / name).is_dir(), name
    assert (models / "policy_2" / "config.json").is_file()
    assert (root / run_id / "config.yaml").is_file()


def test_evals_table_recomputes_the_metrics(quick_run):
    root, _, _, _ = quick_run
    cfg = load_config(preset="quick")
    rows = _sql(root, """
        select e.iteration, count(*) as n, avg(e.gold_preference) as gold_wr, avg(e.annotator_preference) as ann_wr,
               avg(exp(e.ref_logprob - e.policy_logprob) - 1 - (e.ref_logprob - e.policy_logprob)) as kl,
               avg(e.policy_logprob - e.ref_logprob) as k1,
               (select value from metrics m where m.name = 'gold_win_rate' and m.iteration = e.iteration) as m_gold,
               (select value from metrics m where m.name = 'annotator_win_rate' and m.iteration = e.iteration) as m_ann,
               (select value from metrics m where m.name = 'kl_to_ref' and m.iteration = e.iteration) as m_kl,
               (select value from metrics m where m.name = 'kl_to_ref_k1' and m.iteration = e.iteration) as m_k1
        from evals e group by e.iteration order by e.iteration
    """)
    assert [r["iteration"] for r in rows] == list(range(cfg.loop.iterations + 1))
    for r in rows:
        assert r["n"] == cfg.world.n_eval
        assert r["gold_wr"] == pytest.approx(r["m_gold"])
        assert r["ann_wr"] == pytest.approx(r["m_ann"])
        assert r["kl"] == pytest.approx(r["m_kl"]) and r["k1"] == pytest.approx(r["m_k1"])
    assert rows[0]["m_kl"] == 0.0  # π0 against itself
    names = {r["name"] for r in _sql(root, "select distinct name from metrics where iteration = 1")}
    for name in ("lc_win_rate", "kl_to_ref", "reward_length_corr", "capability", "alignment_tax",
                 "lc_win_rate.safety", "gold_win_rate.chat-hard"):
        assert name in names
    cap = _sql(root, "select iteration, value from metrics where name = 'capability' order by iteration")
    tax = _sql(root, "select iteration, value from metrics where name = 'alignment_tax' order by iteration")
    assert [t["value"] for t in tax] == pytest.approx([cap[0]["value"] - c["value"] for c in cap])
    n_cap = _sql(root, "select count(*) as n from generations where purpose = 'capability' and iteration = 1")
    assert n_cap == [{"n": cfg.world.n_capability}]


def test_rm_policy_accuracy_recomputes_from_the_drift_samples(quick_run):
    """Every evaluation measures the RM on π_t's own samples: `eval.drift_samples` per eval prompt (purpose
    `drift`), and `rm_policy_accuracy` (overall and per section) equals the share of their gold-unequal same-prompt
    pairs the stored RM scores order as gold does, recomputed here in SQL."""
    root, _, _, _ = quick_run
    cfg = load_config(preset="quick")
    n = _sql(root, "select iteration, count(*) as n from generations where purpose = 'drift' group by 1 order by 1")
    assert n == [{"iteration": t, "n": cfg.world.n_eval * cfg.eval.drift_samples}
                 for t in range(cfg.loop.iterations + 1)]
    rows = _sql(root, """
        with s as (select g.iteration, g.prompt_id, g.generation_id, p.section,
                          max(v.value) filter (where v.scorer = 'gold') as gold,
                          max(v.value) filter (where v.scorer = 'rm') as rm
                   from generations g join scores v on v.run_id = g.run_id and v.generation_id = g.generation_id
                   join prompts p on p.run_id = g.run_id and p.prompt_id = g.prompt_id
                   where g.purpose = 'drift' group by all),
             pairs as (select a.iteration, a.section,
                              case when a.rm = b.rm then 0.5 when (a.rm > b.rm) = (a.gold > b.gold) then 1 else 0 end
                              as hit
                       from s a join s b on a.iteration = b.iteration and a.prompt_id = b.prompt_id
                       and a.generation_id < b.generation_id where a.gold <> b.gold)
        select iteration, name, avg(hit) as acc, count(*) as n,
               (select value from metrics m where m.name = x.name and m.iteration = x.iteration) as stored
        from (select iteration, 'rm_policy_accuracy' as name, hit from pairs
              union all select iteration, 'rm_policy_accuracy.' || section, hit from pairs) x
        group by all order by all""")
    assert {r["iteration"] for r in rows} == set(range(cfg.loop.iterations + 1))
    assert sum(r["n"] for r in rows if r["name"] == "rm_policy_accuracy") > 100  # enough pairs to mean something
    for r in rows:
        assert r["acc"] == pytest.approx(r["stored"]), r


def test_stage_by_stage_equals_the_one_shot_run(quick_run, tmp_path):
    """Determinism: the same config and seed, run one stage at a time in this process, gives the same metrics."""
    from workbench.pipeline.run import Pipeline

    root, run_id, _, _ = quick_run
    p = Pipeline(load_config(preset="quick"), root=tmp_path, log=lambda *_: None)
    p.world()
    p.pretrain()  # the base: from the test session's cache, built by the CLI run
    p.sft()
    p.reward()
    p.evaluate(0)
    p.rollout(1)
    p.iteration(1)
    p.evaluate(1)
    p.run()  # resumes: only iteration 2, evaluate 2 and done are left
    stages = query(tmp_path, "select stage, iteration from stages order by finished_at")[1]
    assert len(stages) == len(set(stages))  # nothing ran twice
    sql = "select iteration, name, value from metrics where run_id = ? order by iteration, name"
    mine = query(tmp_path, sql, [p.run_id])[1]
    theirs = query(root, sql, [run_id])[1]
    assert [(i, n) for i, n, _ in mine] == [(i, n) for i, n, _ in theirs]
    assert [v for *_, v in mine] == pytest.approx([v for *_, v in theirs], nan_ok=True)


def test_a_run_from_another_runs_pi0_reproduces_it(quick_run, tmp_path):
    """`model.pretrained`: π0 is the given model as it is, no SFT. Started from the quick run's own π0 folder, the
    same config gives the same metrics, iteration by iteration, without training a tokenizer or an initial model."""
    root, run_id, _, _ = quick_run
    pi0 = root / run_id / "models" / "sft"
    res = subprocess.run(CLI + ["run", "--preset", "quick", "--root", str(tmp_path),
                                "--set", f"model.pretrained={pi0}"], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    (new_id,) = [d.name for d in tmp_path.iterdir() if d.is_dir()]
    models = tmp_path / new_id / "models"
    assert not (models / "init").exists()
    assert (models / "sft" / "model.safetensors").read_bytes() == (pi0 / "model.safetensors").read_bytes()
    sql = "select iteration, name, value from metrics where run_id = ? order by iteration, name"
    mine, theirs = query(tmp_path, sql, [new_id])[1], query(root, sql, [run_id])[1]
    assert [(i, n) for i, n, _ in mine] == [(i, n) for i, n, _ in theirs]
    assert [v for *_, v in mine] == pytest.approx([v for *_, v in theirs], nan_ok=True)


def test_export_outputs(quick_run, tmp_path):
    root, run_id, _, _ = quick_run
    mt = tmp_path / "question.jsonl"
    mt.write_text('{"question_id": 81, "category": "math", "turns": ["What is 3 plus 4?", "And 5 plus 1?"]}\n'
                  '{"question_id": 82, "category": "writing", "turns": ["List 2 fruits."]}\n')
    out = tmp_path / "out"
    res = subprocess.run(CLI + ["export", "outputs", "--run", run_id, "--iteration", "2", "--prompts", str(mt),
                                "--root", str(root), "--out", str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    alpaca = json.loads((out / "model_outputs.json").read_text())
    assert [a["instruction"] for a in alpaca] == ["What is 3 plus 4?", "List 2 fruits."]
    assert all(a["generator"] == f"{run_id}-pi2" and isinstance(a["output"], str) for a in alpaca)
    answers = [json.loads(x) for x in (out / "mt_bench_answers.jsonl").read_text().splitlines()]
    assert [a["question_id"] for a in answers] == [81, 82]
    assert [len(a["choices"][0]["turns"]) for a in answers] == [2, 1]

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "fine"}\n{"question": "no instruction field"}\n')
    res = subprocess.run(CLI + ["export", "outputs", "--run", run_id, "--iteration", "2", "--prompts", str(bad),
                                "--root", str(root), "--out", str(tmp_path / "bad-out")],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert f"{bad}: row 2: missing field 'instruction'" in res.stderr
    assert not (tmp_path / "bad-out").exists()


def test_bad_config_fails_before_any_work(tmp_path):
    out = subprocess.run(CLI + ["run", "--preset", "quick", "--root", str(tmp_path), "--set", "loop.iteratons=2"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "unknown config key loop.iteratons" in out.stderr
    assert not any(tmp_path.iterdir())  # nothing written


def test_loop_prompts_from_a_prompt_set(tmp_path):
    """`world.prompt_dataset` with "{t}": iteration t samples the t-th file's prompts (RLHFlow's iterative-prompt
    schema, `context_messages`), which have no gold, while SFT, the RM and the evaluation keep the world's prompts."""
    files = {}
    for t in (1, 2):
        files[t] = [f"Iteration {t}, question {i}: what is {i} plus {t}?" for i in range(48)]
        (tmp_path / f"prompts-iter{t}.jsonl").write_text("".join(
            json.dumps({"context_messages": [{"content": text, "role": "user"}]}) + "\n" for text in files[t]))
    root = tmp_path / "runs"
    res = subprocess.run(CLI + ["run", "--preset", "quick", "--root", str(root),
                                "--set", f"world.prompt_dataset={tmp_path}/prompts-iter{{t}}.jsonl",
                                *SMALL_CLI],  # the loop's 48 prompts × 4 stay
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    (run_id,) = [d.name for d in root.iterdir() if d.is_dir()]
    for t in (1, 2):
        rows = query(root, "select p.family, p.text, count(*) "
                           "from generations g join prompts p using (run_id, prompt_id) "
                           "where g.run_id = ? and g.purpose = 'rollout' and g.iteration = ? "
                           "group by p.prompt_id, p.family, p.text order by p.prompt_id", [run_id, t])[1]
        assert [(f, text) for f, text, _ in rows] == [("external", text) for text in files[t]]
        assert {n for *_, n in rows} == {4}  # generation.n samples each
    scorers = query(root, "select distinct s.scorer from scores s join generations g using (run_id, generation_id) "
                          "where g.purpose = 'rollout' order by 1")[1]
    assert scorers == [("rm",)]  # no gold outside the world
    # the evaluation stays on the world's eval prompts, which have gold: gold_win_rate recomputes from their utilities
    evals = query(root, """select e.iteration, count(*), count(distinct p.prompt_id),
                                  bool_and(p.split = 'eval' and p.family <> 'external'),
                                  avg(case when e.policy_gold > e.baseline_gold then 1
                                           when e.policy_gold = e.baseline_gold then 0.5 else 0 end), any_value(m.value)
                           from evals e join prompts p using (run_id, prompt_id)
                           join metrics m on m.run_id = e.run_id and m.iteration = e.iteration
                           and m.name = 'gold_win_rate' group by 1 order by 1""")[1]
    n_eval = load_config(preset="quick", overrides=list(SMALL)).world.n_eval  # as the run was configured
    assert [tuple(r[:4]) for r in evals] == [(t, n_eval, n_eval, True) for t in (0, 1, 2)]
    for *_, recomputed, stored in evals:
        assert stored == pytest.approx(recomputed)
    # the RM's training candidates stay on the world's preference prompts
    rm = query(root, "select distinct p.split, p.family = 'external' from generations g "
                     "join prompts p using (run_id, prompt_id) where g.purpose = 'pref'")[1]
    assert rm == [("pref", False)]
    assert query(root, "select count(*) from prompts where split = 'eval' and family = 'external'")[1] == [(0,)]


def test_a_bad_prompt_set_row_names_file_row_and_field(tmp_path):
    bad = tmp_path / "prompts.jsonl"
    bad.write_text(json.dumps({"context_messages": [{"content": "hi", "role": "user"}]}) + "\n"
                   + json.dumps({"context_messages": [{"content": "ok", "role": "assistant"}]}) + "\n")
    res = subprocess.run(CLI + ["run", "--preset", "quick", "--root", str(tmp_path / "runs"),
                                "--set", f"world.prompt_dataset={bad}"], capture_output=True, text=True, check=False)
    assert res.returncode == 2
    assert f"{bad}: row 2: field 'context_messages': the last turn must be the user's" in res.stderr
    assert query(tmp_path / "runs", "select count(*) from stages")[1] == [(0,)]

"""Each named experiment on the quick preset: the table has every arm with its metrics."""

import subprocess
import sys

import pytest
from testing_utils import SMALL

from workbench.pipeline.experiment import (
    EXPERIMENTS,
    PAPER_LC,
    SUMMARY_METRICS,
    paper_spearman,
    run_experiment,
    summary,
    to_markdown,
)
from workbench.store import query

EXPECTED_ARMS = {
    "online-vs-offline": ["online", "offline"],
    "length-penalty": ["lambda=0", "lambda=0.005", "lambda=0.02"],
    "oracle": ["rm", "pm", "annotator", "gold"],
    "trl-online-dpo": ["ours", "trl-online-dpo"],
    "rl-baseline": ["ours", "trl-rloo"],
    "dpo-settings": ["default", "beta=0.3", "lr=5e-6", "rpo", "reference=previous"],
    "rm-refresh": ["fixed", "uncertain", "random", "disagree"],
    "paper": ["iterative", "offline", "single-judge", "length-penalty"],
}
PEER_ARMS = {"trl-online-dpo": "trl-online-dpo", "rl-baseline": "trl-rloo"}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("experiments")


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_table_has_every_arm(name, root, quick_experiment):
    if name == "online-vs-offline":  # the session's two-seed experiment (conftest.py), also the dashboard's
        root, experiment_id, seeds = quick_experiment
    else:
        seeds = [0]
        # the oracle arms' ceiling_share needs a gold arm off 0.5: the small config's 16 eval prompts give none
        overrides = [] if name == "oracle" else list(SMALL)
        experiment_id = run_experiment(name, seeds, preset="quick", root=root, overrides=overrides,
                                       log=lambda *_: None)
    table = summary(root, experiment_id)
    assert [r["arm"] for r in table] == ["pi0 (SFT)"] + EXPECTED_ARMS[name]
    for row in table:
        for metric in ("gold_win_rate", "gold_utility", "mean_length_chars", "kl_to_ref"):
            mean, sd, n = row[metric]
            assert n == len(seeds) and 0 <= sd and mean == mean, (row["arm"], metric)
    assert table[0]["gold_win_rate"][0] == 0.5  # π0 against itself
    assert (root / "experiments" / f"{experiment_id}.md").read_text().count("\n| ") == len(table) + 1
    tagged = query(root, "select run_id, arm, seed from experiments where experiment_id = ?", [experiment_id])[1]
    assert sorted((a, s) for _, a, s in tagged) == sorted((a, s) for s in seeds for a in EXPECTED_ARMS[name])
    # the arms' own runs were made in the plan's order; two arms may stand on one finished run (paper's
    # length-penalty at λ = 0 is its iterative arm's run)
    own = {}
    for run_id, arm, seed in sorted(tagged):
        own.setdefault(run_id, (seed, EXPECTED_ARMS[name].index(arm)))
    assert list(own.values()) == sorted(own.values())
    # forks share π0: every arm's iteration-0 metrics are the first arm's, seed by seed
    pi0 = query(root, """select count(distinct value) from metrics m join experiments e using (run_id)
                         where e.experiment_id = ? and m.iteration = 0 and m.name = 'gold_utility'
                         group by e.seed""", [experiment_id])[1]
    assert pi0 == [(1,)] * len(seeds)
    if name == "oracle":  # ceiling_share = (WR_arm − 0.5) / (WR_gold − 0.5) per seed, recomputed from the store
        last = query(root, """select e.arm, e.seed, m.value from metrics m join experiments e using (run_id)
                              where e.experiment_id = ? and m.name = 'gold_win_rate' and m.iteration =
                                    (select max(x.iteration) from metrics x where x.run_id = m.run_id)""",
                     [experiment_id])[1]
        wr = {(arm, seed): v for arm, seed, v in last}
        assert all(wr[("gold", s)] != 0.5 for s in seeds)  # else there is no ceiling to share and nothing to check
        for row in table[1:]:
            shares = [(wr[(row["arm"], s)] - 0.5) / (wr[("gold", s)] - 0.5) for s in seeds]
            assert row["ceiling_share"][0] == pytest.approx(sum(shares) / len(shares)), row["arm"]
            assert row["ceiling_share"][2] == len(seeds)
        assert table[-1]["ceiling_share"][0] == pytest.approx(1.0)  # the gold arm is its own ceiling
        assert len({row["ceiling_share"][0] for row in table[1:]}) > 1  # the other arms' shares are not all 1
    if name == "rm-refresh":  # every arm got the same number of annotator labels, on the schedule of its arm
        from workbench.config import load_config

        loop = load_config(preset="quick").loop
        labels = query(root, """select e.arm, x.iteration, count(*) from pairs x join experiments e using (run_id)
                                where e.experiment_id = ? and x.rule = 'refresh' group by all order by all""",
                       [experiment_id])[1]
        per_arm = {arm: {it: n for a, it, n in labels if a == arm} for arm in EXPECTED_ARMS[name]}
        assert per_arm["fixed"] == {1: loop.iterations * loop.refresh_pairs}
        for arm in ("uncertain", "random", "disagree"):
            assert per_arm[arm] == {t: loop.refresh_pairs for t in range(1, loop.iterations + 1)}
        # iteration 1 samples the same rollout from the shared π0 in every arm; disagree picks by the RM against
        # r − refresh_length_penalty·len, not the RM's margins alone, so its pairs are not the uncertain arm's
        rows = query(root, """select e.arm, least(x.chosen_id, x.rejected_id), greatest(x.chosen_id, x.rejected_id)
                              from pairs x join experiments e using (run_id)
                              where e.experiment_id = ? and x.rule = 'refresh' and x.iteration = 1""",
                     [experiment_id])[1]
        picked = {arm: {(a, b) for r, a, b in rows if r == arm} for arm in ("uncertain", "disagree")}
        assert picked["disagree"] != picked["uncertain"]
    if name == "paper":
        _check_paper(root, experiment_id)
    if name in PEER_ARMS:
        budget = query(root, """select json_extract_string(r.config, '$.loop.time_budget_s') from runs r
                               join experiments e using (run_id) where e.experiment_id = ? and e.arm = ?""",
                       [experiment_id, PEER_ARMS[name]])[1][0][0]
        ours = query(root, """select sum(wall_s) from stages s join experiments e using (run_id)
                             where e.experiment_id = ? and e.arm = 'ours' and s.stage in ('rollout', 'iteration')""",
                     [experiment_id])[1][0][0]
        assert float(budget) == pytest.approx(ours, abs=0.1)
        trl_wall, trained = query(root, """select s.wall_s, i.n_prompts from stages s join experiments e using (run_id)
                                           join iterations i using (run_id)
                                           where e.experiment_id = ? and e.arm = ? and s.stage = 'iteration'""",
                                  [experiment_id, PEER_ARMS[name]])[1][0]
        assert trl_wall < float(budget) + 60  # stopped at the budget (plus one step and the save)
        assert trained > 0  # it took optimizer steps on some of the prompts


def _check_paper(root, experiment_id):
    """single-judge keeps the shared π0 (its SFT rows are the first arm's) and trains its own RM on the annotator's
    labels of every pair; length-penalty's λ is the first arm's RM slope; the Spearman row recomputes with scipy."""
    from scipy.stats import spearmanr

    scorers = query(root, """select e.arm, list(distinct p.scorer order by p.scorer) from pairs p
                             join experiments e using (run_id) where e.experiment_id = ? and p.iteration = 0
                             and e.arm in ('iterative', 'single-judge') group by e.arm""", [experiment_id])[1]
    assert dict(scorers) == {"iterative": ["annotator", "human", "safety", "verifier"], "single-judge": ["annotator"]}
    sft = query(root, """select count(distinct s.finished_at), count(*) from stages s join experiments e using (run_id)
                         where e.experiment_id = ? and s.stage = 'sft'""", [experiment_id])[1]
    assert sft == [(1, 4)]
    rms = query(root, """select e.arm, m.value from metrics m join experiments e using (run_id)
                         where e.experiment_id = ? and m.iteration = 0 and m.name = 'rm_length_slope_pi0'""",
                [experiment_id])[1]
    slope = dict(rms)
    assert slope["iterative"] != slope["single-judge"]  # its own RM
    lam = query(root, """select json_extract(r.config, '$.loop.length_penalty')::double from runs r
                         join experiments e using (run_id) where e.experiment_id = ? and e.arm = 'length-penalty'""",
                [experiment_id])[1][0][0]
    assert lam == pytest.approx(max(0.0, slope["iterative"]), rel=1e-5)
    lc = dict(query(root, """select e.arm, m.value from metrics m join experiments e using (run_id)
                             where e.experiment_id = ? and m.name = 'lc_win_rate' and m.iteration =
                                   (select max(x.iteration) from metrics x where x.run_id = m.run_id)""",
                    [experiment_id])[1])
    lc["pi0 (SFT)"] = 0.5
    want = spearmanr([lc[a] for a in PAPER_LC], list(PAPER_LC.values())).statistic
    (rho,) = paper_spearman(root, experiment_id).values()
    assert rho == pytest.approx(want) or (rho != rho and want != want)
    assert "Spearman correlation of lc_win_rate" in (root / "experiments" / f"{experiment_id}.md").read_text()


def test_later_experiments_fork_an_earlier_runs_stages_before_the_loop(root):
    """The experiments above ran one after another in one root on seed 0: `length-penalty` computed π0 and the RM,
    the two peer experiments' first arms forked its run (their stage rows are its rows, finish times included), and
    `oracle`, whose reward stage also trains the PM, computed its own."""
    rows = query(root, """select e.experiment, s.finished_at from experiments e join stages s using (run_id)
                          where s.stage = 'reward' and e.arm in ('lambda=0', 'rm', 'ours')""", [])[1]
    finished = {experiment: at for experiment, at in rows}
    assert set(finished) == {"length-penalty", "oracle", "trl-online-dpo", "rl-baseline"}
    assert finished["trl-online-dpo"] == finished["rl-baseline"] == finished["length-penalty"]
    assert finished["oracle"] != finished["length-penalty"]


def test_an_arm_a_finished_run_already_made_is_taken_as_it_is(root):
    """`dpo-settings`' `default` arm is `length-penalty`'s `lambda=0` (λ = 0 is the default): the later experiment
    tags that finished run instead of running it again, and the earlier experiment keeps its tag. The peer
    experiments' `ours` arms, the same config too, ran again: their budgets are this invocation's wall-clock."""
    rows = query(root, "select experiment, arm, run_id from experiments "
                       "where arm in ('lambda=0', 'default', 'ours')")[1]
    runs = {(experiment, arm): run_id for experiment, arm, run_id in rows}
    assert runs[("dpo-settings", "default")] == runs[("length-penalty", "lambda=0")]
    assert runs[("trl-online-dpo", "ours")] != runs[("length-penalty", "lambda=0")]
    assert runs[("rl-baseline", "ours")] not in (runs[("length-penalty", "lambda=0")], runs[("trl-online-dpo", "ours")])


def test_which_runs_can_share_the_stages_before_the_loop():
    from workbench.config import load_config
    from workbench.pipeline.reuse import prefix_differences

    def cfg(*overrides):
        return load_config(preset="quick", overrides=list(overrides))

    assert prefix_differences(cfg("loop.length_penalty=0.02", "world.n_iter=96", "generation.n=2"), cfg()) == []
    assert prefix_differences(cfg("seed=1"), cfg()) == ["seed"]
    assert prefix_differences(cfg("reward.epochs=2"), cfg()) == ["reward"]
    # a base with the preference model serves a run that does not need it, not the other way round
    assert prefix_differences(cfg(), cfg("reward.train_pm=true")) == []
    assert prefix_differences(cfg("loop.oracle=pm"), cfg("reward.train_pm=true")) == []
    assert prefix_differences(cfg("reward.train_pm=true"), cfg()) == ["reward"]
    assert prefix_differences(cfg("loop.oracle=pm"), cfg()) == ["reward"]
    assert prefix_differences(cfg("reward.labels=single", "judges.human_share=0.5"), cfg()) == ["judges", "reward"]


def test_a_fork_may_train_its_own_reward_model_but_not_its_own_policy(tmp_path):
    """Pipeline.fork refuses a change that SFT reads, naming the section; with a change only the reward stage reads
    it needs the base's stages up to SFT alone (it runs the reward stage and π0's evaluation itself). The paper
    experiment's single-judge arm above is such a fork, run through."""
    from workbench.config import load_config
    from workbench.pipeline.run import Pipeline

    base = Pipeline(load_config(preset="quick", overrides=list(SMALL)), tmp_path, log=lambda *_: None)
    with pytest.raises(ValueError, match="differs in sft"):
        Pipeline.fork(base, load_config(preset="quick", overrides=[*SMALL, "sft.epochs=2"]))
    with pytest.raises(ValueError, match="have not finished") as unfinished:
        Pipeline.fork(base, load_config(preset="quick", overrides=[*SMALL, "reward.labels=single"]))
    assert "'sft'" in str(unfinished.value) and "'reward'" not in str(unfinished.value)
    with pytest.raises(ValueError, match="'reward'"):  # the same base serves a plain fork only with its RM
        Pipeline.fork(base, load_config(preset="quick", overrides=[*SMALL, "loop.length_penalty=0.01"]))


def test_markdown_has_a_row_per_arm():
    table = [{"arm": "a", **{m: (0.5, 0.1, 3) for m in SUMMARY_METRICS}},
             {"arm": "b", **{m: (0.6, 0.0, 1) for m in SUMMARY_METRICS}}]
    md = to_markdown(table).splitlines()
    assert md[0].startswith("| arm | gold_win_rate")
    assert md[2].startswith("| a | 0.500 ± 0.100")
    assert md[3].startswith("| b | 0.600 |")


def test_unknown_experiment_and_bad_seeds_fail_cleanly(tmp_path):
    with pytest.raises(ValueError, match="unknown experiment"):
        run_experiment("nope", [0], root=tmp_path)
    res = subprocess.run([sys.executable, "-m", "workbench", "experiment", "oracle", "--seeds", "a,b",
                          "--root", str(tmp_path)], capture_output=True, text=True)
    assert res.returncode == 2 and "--seeds" in res.stderr
    assert not any(tmp_path.iterdir())


def test_experiments_page_data_match_the_printed_table(quick_experiment):
    """The dashboard's Experiments queries on the session's two-seed experiment: the arms table is the markdown
    table cell for cell, and each cell's mean and sd come back from the per-seed values behind it."""
    import math
    from statistics import fmean, stdev

    from workbench.interfaces.api import Workbench

    root, experiment_id, seeds = quick_experiment
    wb = Workbench(root)
    listed = wb.experiments()
    assert listed.experiment_id.tolist() == [experiment_id] and listed.seeds[0] == len(seeds) and listed.runs[0] == 4
    assert listed.arms[0] == "online, offline"  # in the order they ran
    shown = wb.experiment_table(experiment_id)
    md = (root / "experiments" / f"{experiment_id}.md").read_text().splitlines()[2:]
    assert [line.strip("| ").split(" | ")[0] for line in md if line.startswith("|")][2:] == list(shown.arm)
    assert ["| " + " | ".join(row) + " |" for row in shown.astype(str).values.tolist()] == md[-len(shown):]
    per_seed = wb.experiment_seed_values(experiment_id)
    assert list(per_seed.arm) == ["pi0 (SFT)"] * 2 + ["online"] * 2 + ["offline"] * 2
    for arm, metric in [("online", "gold_win_rate"), ("offline", "kl_to_ref"), ("pi0 (SFT)", "gold_utility")]:
        values = per_seed[per_seed.arm == arm][metric].tolist()
        cell = shown.set_index("arm").loc[arm, metric]
        assert cell == f"{fmean(values):.3f} ± {stdev(values):.3f}", (arm, metric)
    fig = wb.plot_experiment(experiment_id, "gold_win_rate")
    means = [t for t in fig.data if t.mode == "lines+markers"]
    assert [t.name for t in means] == ["online", "offline"]
    assert math.isclose(means[0].y[-1], fmean(per_seed[per_seed.arm == "online"].gold_win_rate.tolist()))
    assert len([t for t in fig.data if t.fill == "toself"]) == 2  # the seeds' range around each arm

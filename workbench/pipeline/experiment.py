"""Named comparisons that answer the paper's questions, each a set of runs over seeds, with a summary table.

    workbench experiment NAME [--seeds 0,1,2] [--preset default] [--root DIR] [--set key=value ...]

For each seed the first arm runs the whole pipeline; the other arms fork it (`Pipeline.fork`), sharing its π0,
reward model and π0 evaluation, so arms differ only in what the comparison is about. When a run under the root
already has those stages for the same config and seed (another experiment's arm, say), the first arm forks that
run instead of recomputing them (`--fresh` recomputes). Every arm's run is tagged in
the `experiments` table; the summary (mean ± sd over seeds of each arm's last iteration) is printed, written as
`<root>/experiments/<experiment_id>.md`, and can be recomputed from the store with `summary(root, id)`.

Experiments:
- online-vs-offline: our loop (T iterations of fresh on-policy pairs) vs offline DPO trained once on the same
  number of RM-labelled best-vs-worst pairs drawn from π0's samples (the paper's DPO baseline); π0 is the
  iteration-0 row.
- length-penalty: λ ∈ {0, 0.005, 0.02} (per character) against the length-biased RM.
- oracle: the loop's scorer: the BT RM, the pairwise preference model (round-robin win probability), the
  simulated annotator (sampled pairwise labels), the gold utility (the ceiling: best-vs-worst DPO with perfect
  labels). `ceiling_share` = (WR_arm − 0.5) / (WR_gold − 0.5).
- trl-online-dpo: our loop vs TRL's OnlineDPOTrainer with the same RM as its reward, given the wall-clock time
  our loop's rollout and DPO stages took on the same seed, on the same prompts.
- rl-baseline: our loop vs TRL's RLOOTrainer (the deep-RL arm: n samples per prompt, leave-one-out baseline,
  KL penalty to π0) with the same RM as its reward, at the same wall-clock, on the same prompts.
- dpo-settings: the loop's own knobs against over-optimizing the RM: the default vs DPO β = 0.3, a learning rate
  of 5e-6, RPO (DPO plus the NLL of the chosen response, TRL's ["sigmoid", "sft"]) and π_{t−1} as the reference.
- paper: the paper's ranking of methods (its AlpacaEval-2 LC table). `iterative` (the default loop), `offline`
  (DPO once on as many pairs of π0's samples, at offline's own best step: `OFFLINE_STEP`), `single-judge`
  (iterative with the RM trained on the annotator's labels of every pair, `reward.labels=single`: UltraRM's role;
  it shares π0 and trains its own RM) and `length-penalty` (iterative with λ fixed before the loop by a rule: the
  RM's reward per character on π0's samples, `rm_length_slope_pi0`, so that the penalty cancels the RM's length
  slope). The report adds each seed's Spearman correlation of lc_win_rate (π0 first) with the paper's LC values
  (`PAPER_LC`).
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from statistics import fmean, stdev

from workbench.config import RunConfig, load_config
from workbench.records import ExperimentArm
from workbench.store import query

SUMMARY_METRICS = (
    "gold_win_rate", "lc_win_rate", "gold_utility", "rm_reward", "mean_length_chars", "kl_to_ref", "kl_to_ref_k1",
    "reward_length_corr", "alignment_tax", "rm_policy_accuracy", "lc_degenerate_fits",
)
# iteration-0 metrics of an arm's own reward model (an arm that trains its own RM differs from π0's row in them)
ARM_RM_METRICS = ("rm_length_corr_pi0",)
# the paper's AlpacaEval-2 LC win rates (RLHF Workflow): SFT, iterative DPO with UltraRM-13B, offline DPO, iterative
# DPO, iterative DPO with the length penalty; the paper experiment's arms in that order
PAPER_LC = {"pi0 (SFT)": 10.2, "single-judge": 20.7, "offline": 22.5, "iterative": 31.3, "length-penalty": 38.1}
# offline DPO's own step (learning rate, prompts per iteration × iterations), the best of the gold-label grid
# (benchmarks/dpo_step_grid.py) by its mean over seeds 0–2; the loop's own is the default config's
OFFLINE_STEP = (2e-5, 600)


@dataclass(frozen=True)
class Arm:
    name: str
    overrides: tuple[str, ...] = ()


def arms(experiment: str, cfg: RunConfig) -> list[Arm]:
    """The arms of `experiment` for a base config; the first is run in full, the rest fork it."""
    T, n = cfg.loop.iterations, cfg.world.n_iter
    offline = ("loop.iterations=1", f"world.n_iter={T * OFFLINE_STEP[1]}", f"dpo.learning_rate={OFFLINE_STEP[0]:g}")
    if experiment == "online-vs-offline":
        return [Arm("online"), Arm("offline", offline)]
    if experiment == "paper":
        # the length-penalty arm's λ is filled in per seed from the first arm's RM (see `run_experiment`)
        return [Arm("iterative"), Arm("offline", offline), Arm("single-judge", ("reward.labels=single",)),
                Arm("length-penalty")]
    if experiment == "length-penalty":
        return [Arm(f"lambda={x:g}", (f"loop.length_penalty={x}",)) for x in (0.0, 0.005, 0.02)]
    if experiment == "oracle":
        # every arm trains the PM in the shared reward stage, so the pm arm can fork the first
        return [Arm(o, (f"loop.oracle={o}", "reward.train_pm=true")) for o in ("rm", "pm", "annotator", "gold")]
    if experiment == "dpo-settings":
        return [Arm(name, tuple(o)) for name, o in DPO_SETTINGS]
    if experiment == "rm-refresh":
        # the same number of annotator labels in every arm: the fixed arm spends T·refresh_pairs of them on π0's
        # samples at iteration 1 (random pairs of its rollout) and keeps that RM; the others refresh every iteration
        on = "loop.rm_refresh=true"
        return [Arm("fixed", (on, "loop.refresh_at=first", "loop.refresh_rule=random"))] + [
            Arm(rule, (on, f"loop.refresh_rule={rule}")) for rule in ("uncertain", "random", "disagree")]
    if experiment in PEERS:
        # the peer trains once on all T·n loop prompts until the budget, which is filled in per seed from the first
        # arm's wall time (see `run_experiment`)
        return [Arm("ours"), Arm(PEERS[experiment][0], (f"loop.algorithm={PEERS[experiment][1]}", "loop.iterations=1",
                                                        f"world.n_iter={T * n}", "dpo.epochs=1000"))]
    raise ValueError(f"unknown experiment {experiment!r} (known: {', '.join(EXPERIMENTS)})")


PEERS = {"trl-online-dpo": ("trl-online-dpo", "trl_online_dpo"), "rl-baseline": ("trl-rloo", "trl_rloo")}
# the loop's own knobs against over-optimization: a stronger pull to the reference, a smaller step, RPO's NLL term on
# the chosen response, the previous policy as the reference
DPO_SETTINGS = (("default", ()), ("beta=0.3", ("dpo.beta=0.3",)), ("lr=5e-6", ("dpo.learning_rate=5e-6",)),
                ("rpo", ("dpo.loss_type=[sigmoid,sft]",)), ("reference=previous", ("loop.reference=previous",)))
EXPERIMENTS = ("online-vs-offline", "length-penalty", "oracle", "trl-online-dpo", "rl-baseline", "dpo-settings",
               "rm-refresh", "paper")


def _loop_wall_s(root: Path, run_id: str) -> float:
    _, rows = query(root, "select coalesce(sum(wall_s), 0) from stages where run_id = ? and stage in "
                          "('rollout', 'iteration')", [run_id])
    return float(rows[0][0])


def _length_rule(root: Path, run_id: str) -> float:
    """The paper experiment's λ: the RM's reward per character on π0's samples (rm_length_slope_pi0), 0 if none."""
    _, rows = query(root, "select value from metrics where run_id = ? and iteration = 0 and "
                          "name = 'rm_length_slope_pi0'", [run_id])
    slope = rows[0][0] if rows else float("nan")
    return 0.0 if math.isnan(slope) or slope < 0 else slope


def shared_prefix_run(root: Path, cfg: RunConfig, log=print, policy_only: bool = False):
    """A run under `root` whose stages before the loop are finished and were made from the same config as `cfg`'s
    (`reuse.prefix_differences`): its Pipeline, which an experiment's first arm forks instead of recomputing them
    (the stages are seeded, so the result is the same); None when there is none. With `policy_only`, a run that
    differs in `reuse.REWARD_KEYS` alone also serves (the fork keeps its π0 and trains its own RM) when no run
    matches in full."""
    from workbench.config import ConfigError, from_dict
    from workbench.pipeline.reuse import blocking_differences, prefix_differences, shared_stages
    from workbench.pipeline.run import Pipeline

    if not root.is_dir():
        return None
    _, rows = query(root, "select run_id, config from runs where seed = ? and world_seed = ? order by created_at",
                    [cfg.seed, cfg.world.seed])
    partial = None
    for run_id, config in rows:
        try:
            other = from_dict(RunConfig, json.loads(config))
        except (ConfigError, ValueError):  # a run from another version of the config: not comparable
            continue
        differ = prefix_differences(cfg, other)
        if differ and (not policy_only or blocking_differences(differ)):
            continue
        donor = Pipeline.resume(root, run_id, log=log)
        if {(stage, 0) for stage in shared_stages([s for s, t in donor.plan() if t == 0], differ)} <= donor.done():
            if not differ:
                return donor
            partial = partial or donor
    return partial


def run_experiment(experiment: str, seeds: list[int], preset: str = "default", root: str | Path = "runs",
                   overrides: list[str] = (), log=print, reuse: bool = True) -> str:
    """Run every arm for every seed; returns the experiment id. With `reuse`, a seed's first arm forks a run already
    under `root` whose stages before the loop match (`shared_prefix_run`), e.g. another experiment's arm."""
    from workbench.pipeline.reuse import finished_run
    from workbench.pipeline.run import Pipeline
    from workbench.store import RunStore

    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r} (known: {', '.join(EXPERIMENTS)})")
    if not seeds:
        raise ValueError("--seeds: give at least one seed")
    root = Path(root)
    experiment_id = f"{datetime.now():%Y%m%d-%H%M%S}-{experiment}-{uuid.uuid4().hex[:6]}"
    for seed in seeds:
        base_overrides = [f"seed={seed}", f"world.seed={seed}", *overrides]
        base_cfg = load_config(preset=preset, overrides=base_overrides)
        plan = arms(experiment, base_cfg)
        first = None
        for index, arm in enumerate(plan):
            arm_overrides = list(arm.overrides)
            if experiment in PEERS and arm is not plan[0]:
                arm_overrides.append(f"loop.time_budget_s={_loop_wall_s(root, first.run_id):.1f}")
            if experiment == "paper" and arm.name == "length-penalty":
                arm_overrides.append(f"loop.length_penalty={_length_rule(root, first.run_id):.6g}")
            cfg = load_config(preset=preset, overrides=base_overrides + arm_overrides)
            cfg.name = f"{experiment}.{arm.name}"

            def tag(run_id: str) -> None:  # one segment per arm: a run may stand for two
                RunStore(root, run_id).write(
                    [ExperimentArm(run_id, experiment_id, experiment, arm.name, seed, json.dumps(arm_overrides))],
                    f"experiment-{experiment_id}-arm{index}")

            # a finished run of this very arm stands for it, except in the peer comparisons, whose arms must share
            # the machine's conditions (the peer's budget is the wall-clock our arm took in this invocation)
            done = finished_run(root, cfg, match_name=False) if reuse and experiment not in PEERS else None
            if done:
                log(f"[workbench] experiment {experiment}: seed {seed}, arm {arm.name} from finished run {done} "
                    "(same config)")
                tag(done)
                first = first or Pipeline.resume(root, done, log=log)
                continue
            donor = first or (shared_prefix_run(root, cfg, log, policy_only=True) if reuse else None)
            shared = f" (π0, reward model and π0 evaluation from run {donor.run_id})" if donor and not first else ""
            log(f"[workbench] experiment {experiment}: seed {seed}, arm {arm.name}{shared}")
            pipeline = Pipeline(cfg, root, log=log) if donor is None else Pipeline.fork(donor, cfg, log=log)
            tag(pipeline.run_id)
            pipeline.run()
            first = first or pipeline
    out = root / "experiments" / f"{experiment_id}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"### {experiment} ({preset} preset, seeds {', '.join(map(str, seeds))})\n\n"
                   f"{report(root, experiment_id)}\n")
    return experiment_id


def report(source, experiment_id: str) -> str:
    """The summary as markdown, as `workbench experiment` prints it; for `paper`, with each seed's Spearman
    correlation of lc_win_rate with the paper's LC values."""
    text = to_markdown(summary(source, experiment_id))
    rhos = paper_spearman(source, experiment_id)
    if rhos:
        arms = ", ".join(f"{arm} {lc:g}" for arm, lc in PAPER_LC.items())
        text += ("\n\nSpearman correlation of lc_win_rate with the paper's LC win rates (" + arms + "), by seed: "
                 + ", ".join(f"seed {seed} {rho:+.2f}" for seed, rho in rhos.items()) + ".")
    return text


def paper_spearman(source, experiment_id: str) -> dict[int, float]:
    """Per seed of a `paper` experiment, Spearman's ρ between the arms' last lc_win_rate (π0's, 0.5, first) and
    the paper's LC values (`PAPER_LC`); ties get their mean rank. {} for another experiment or a seed missing
    an arm."""
    rows = _rows(source, """with last as (select e.experiment, e.arm, e.seed, e.run_id, max(m.iteration) as it
                                          from experiments e join metrics m using (run_id)
                                          where e.experiment_id = ? group by all)
                            select l.experiment, l.arm, l.seed, m.value from last l join metrics m
                              on m.run_id = l.run_id and m.iteration = l.it and m.name = 'lc_win_rate'""",
                 [experiment_id])
    if not rows or rows[0][0] != "paper":
        return {}
    by_seed: dict[int, dict[str, float]] = {}
    for _, arm, seed, value in rows:
        by_seed.setdefault(seed, {"pi0 (SFT)": 0.5})[arm] = value
    return {seed: spearman([lc[a] for a in PAPER_LC], list(PAPER_LC.values()))
            for seed, lc in sorted(by_seed.items()) if set(PAPER_LC) <= set(lc)}


def spearman(xs: list[float], ys: list[float]) -> float:
    """Spearman's rank correlation (scipy's: ties at their mean rank); NaN when a side is constant."""
    import warnings

    from scipy.stats import ConstantInputWarning, spearmanr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)  # a constant side: NaN, as documented
        return float(spearmanr(xs, ys).statistic)


def _rows(source, sql: str, params: list) -> list[tuple]:
    """Rows of a read-only query on a store root (a path) or an open connection (the dashboard's)."""
    if isinstance(source, (str, Path)):
        return query(source, sql, params)[1]
    return source.execute(sql, params).fetchall()


def summary(source, experiment_id: str) -> list[dict]:
    """One row per arm (plus π0): each metric's mean and sd over seeds at the arm's last iteration. `source`: the
    store root, or a connection from `workbench.store.connect`."""
    detailed = _rows(
        source,
        """with last as (select e.arm, e.seed, e.run_id, max(m.iteration) as it
                         from experiments e join metrics m using (run_id)
                         where e.experiment_id = ? group by all)
           select l.arm, l.seed, m.name, m.value, m.iteration = l.it as is_last from last l join metrics m
             on m.run_id = l.run_id and (m.iteration = l.it or m.iteration = 0)
           where list_contains(?, m.name) order by l.arm, l.seed""",
        [experiment_id, list(SUMMARY_METRICS + ARM_RM_METRICS)],
    )
    if not detailed:
        raise ValueError(f"no finished arms for experiment {experiment_id!r}")
    order = _rows(source, "select arm, min(run_id), any_value(experiment) from experiments where experiment_id = ? "
                          "group by arm order by 2", [experiment_id])
    if order and order[0][2] in EXPERIMENTS:  # the plan's order: two arms may share one finished run
        names = [a.name for a in arms(order[0][2], RunConfig())]
        order.sort(key=lambda row: names.index(row[0]) if row[0] in names else len(names))
    pi0: dict[str, dict[int, float]] = {}
    values: dict[str, dict[str, list[float]]] = {}
    for arm, seed, name, value, is_last in detailed:
        if is_last or name in ARM_RM_METRICS:
            values.setdefault(arm, {}).setdefault(name, []).append(value)
        elif arm == order[0][0]:  # every arm shares π0 per seed; the first arm's RM scores it (rm_reward)
            pi0.setdefault(name, {})[seed] = value
    shown = SUMMARY_METRICS + ARM_RM_METRICS
    table = [{"arm": "pi0 (SFT)", **{m: _mean_sd(list(pi0.get(m, {}).values())) for m in shown}}]
    for arm, *_ in order:
        table.append({"arm": arm, **{m: _mean_sd(values.get(arm, {}).get(m, [])) for m in shown}})
    gold = values.get("gold", {}).get("gold_win_rate")
    if gold:
        for row in table[1:]:
            wr = values[row["arm"]].get("gold_win_rate", [])
            shares = [(w - 0.5) / (g - 0.5) for w, g in zip(wr, gold) if g != 0.5]
            row["ceiling_share"] = _mean_sd(shares)
    return table


def _mean_sd(xs: list[float]) -> tuple[float, float, int]:
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    if not xs:
        return (float("nan"), float("nan"), 0)
    return (fmean(xs), stdev(xs) if len(xs) > 1 else 0.0, len(xs))


def cells(table: list[dict]) -> tuple[list[str], list[list[str]]]:
    """The summary as text, the way `workbench experiment` prints it and the dashboard shows it: (columns, one row
    of cells per arm), a cell "mean ± sd" over seeds, "mean" for one seed, "–" for none."""
    cols = [c for c in table[0] if c != "arm"] + (["ceiling_share"] if "ceiling_share" in table[-1] and
                                                    "ceiling_share" not in table[0] else [])
    rows = []
    for row in table:
        out = [row["arm"]]
        for c in cols:
            mean, sd, n = row.get(c, (float("nan"), float("nan"), 0))
            out.append("–" if n == 0 else f"{mean:.3f}" if n == 1 else f"{mean:.3f} ± {sd:.3f}")
        rows.append(out)
    return ["arm", *cols], rows


def to_markdown(table: list[dict]) -> str:
    cols, rows = cells(table)
    lines = ["| " + " | ".join(cols) + " |", "|---|" + "---|" * (len(cols) - 1)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])

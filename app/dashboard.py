"""The workbench dashboard (Streamlit): runs, curves, reward distributions, length bias, pairs, reward model.

    workbench dashboard [--root DIR] [--port N] [--host ADDR]
    streamlit run app/dashboard.py -- --root DIR          # the same page, started by hand

The page only lays things out: every number comes from a query in `workbench.interfaces.dashboard_data` and every
chart from `workbench.interfaces.figures`, which notebooks can call too. The store is read through
`workbench.store.connect` (in-memory
DuckDB views over Parquet segments), so the page never takes a lock and works while a run is writing. The connection
and query results are cached on the store's version (segment count, newest mtime, bytes): they stay valid until a
segment changes, and the auto-refresh timer only polls that version.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import streamlit as st

from workbench.interfaces import dashboard_data as dd
from workbench.interfaces import figures
from workbench.store import connect, store_version

CURVES = (
    ("gold_win_rate", "Gold win rate vs π0",
     "share of eval prompts where π_t beats π0 under the gold utility (ties ½)"),
    ("lc_win_rate", "Length-controlled win rate", "AlpacaEval 2's GLM with the length term at zero"),
    ("kl_to_ref", "KL(π_t ‖ π0)", "sampled estimate on the eval prompts"),
    ("mean_length_chars", "Mean response length (chars)", "eval responses"),
    ("alignment_tax", "Alignment tax", "change of the held-out capability vs π0"),
    ("reward_length_corr", "Reward–length correlation", "correlation of RM reward with length, per iteration"),
)

PAGES = ("Runs", "Curves", "Reward distributions", "Length bias", "Pairs", "Reward model", "Experiments")
NO_DATA = "no data yet"


def store_root() -> str:
    """`--root` after `--` on the streamlit command line, else $WORKBENCH_ROOT (set by `workbench dashboard`),
    else ./runs."""
    if os.environ.get("WORKBENCH_ROOT"):
        return os.environ["WORKBENCH_ROOT"]
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--root", default="runs")
    args, _ = p.parse_known_args(sys.argv[1:])
    return args.root


@st.cache_resource(show_spinner=False, max_entries=2)
def store_connection(root: str, version: tuple):
    """One DuckDB connection per store version, shared by every session of this server: it holds the per-run
    caches the single-run pages build (see interfaces/run_cache.py). A new segment gives a new version, hence a
    fresh connection that sees it."""
    return connect(root)


@st.cache_data(show_spinner=False, max_entries=512)
def q(fn: str, root: str, version: tuple, *args, table: str | None = None, **kwargs):
    """dashboard_data.`fn`(con, *args) on this version's connection (a cursor per call: sessions run in threads);
    with `table`, None when that table has no rows yet. `version` keys the cache: a new segment anywhere makes
    every query run again."""
    con = store_connection(root, version).cursor()
    try:
        if table:
            return dd.optional(con, table, getattr(dd, fn), *args, **kwargs)
        return getattr(dd, fn)(con, *args, **kwargs)
    finally:
        con.close()


def cli_commands() -> set[str]:
    """The `workbench` subcommands this version has (the pair browser links to the viewer once `label` exists)."""
    import argparse as ap

    from workbench.interfaces.cli import build_parser

    for action in build_parser()._actions:
        if isinstance(action, ap._SubParsersAction):
            return set(action.choices)
    return set()


def pick(where, label: str, options: list[str], default: str, key: str) -> str:
    """A selectbox that starts on `default` when it is among the options."""
    options = options or [default]
    return where.selectbox(label, options, index=options.index(default) if default in options else 0, key=key)


def no_data(what: str) -> None:
    st.info(f"{NO_DATA}: {what}")


def stored_table(Q, fn: str, selected, table: str, what: str):
    """dashboard_data.`fn` over `table` as a dataframe (keyed by the table's name), or a no-data note saying
    `what` the table would hold while it has no rows; returns the frame or None."""
    df = Q(fn, selected, table=table)
    if df is None:
        no_data(f"table `{table}` is empty ({what})")
    else:
        st.dataframe(df, hide_index=True, key=table)
    return df


# ------------------------------------------------------------------------------------------------------ pages


def page_runs(Q, runs, selected):
    st.header("Runs")
    st.caption("Every run under the root. Status is `finished` once the run's last stage is stored; "
               "headline metrics are from each run's latest evaluated iteration.")
    st.dataframe(runs, hide_index=True)
    for r in runs[runs.run_id.isin(selected)].itertuples():
        st.subheader(r.run_id)
        cols = st.columns(5)
        cols[0].metric("status", r.status)
        cols[1].metric("iterations", f"{r.iterations_done} / {r.iterations_planned}")
        for col, m in zip(cols[2:], ("gold_win_rate", "gold_utility", "rm_reward")):
            v = getattr(r, m)
            col.metric(m, "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}")
        if r.status != "finished":
            st.progress(min(1.0, r.iterations_done / max(1, r.iterations_planned)),
                        text=f"last finished stage: {r.last_stage or 'none yet'} ({r.last_stage_at})")
    configs = Q("run_configs", selected)
    if len(selected) == 1 and selected[0] in configs:
        with st.expander("config"):
            st.json(configs[selected[0]])
    elif len(selected) > 1:
        st.subheader("Config differences")
        diff = dd.config_diff(configs)
        if len(diff):
            st.dataframe(diff.astype(str))
        else:
            st.write("the selected runs have the same config")
    stages = Q("stages", selected)
    if len(stages):
        st.plotly_chart(figures.stage_times(stages, figures.run_colors(selected)), key="stage_times")


def page_curves(Q, selected):
    st.header("Curves")
    sections = Q("metric_sections", selected)
    section = st.selectbox("section", ["all"] + sections, key="curves_section")
    curves = Q("metric_curves", selected, None if section == "all" else section)
    if curves.empty:
        return no_data("no metrics stored for the selected runs")
    names = set(curves.name)
    colors = figures.run_colors(selected)
    if {"rm_reward", "gold_utility"} <= names:
        st.plotly_chart(figures.overoptimization(curves, colors), key="overopt")
    else:
        no_data("rm_reward and gold_utility (proxy vs gold)")
    left, right = st.columns(2)
    for i, (metric, title, help_) in enumerate(CURVES):
        with (left if i % 2 == 0 else right):
            if metric in names:
                st.plotly_chart(figures.metric_lines(curves, metric, title, colors), key=f"curve_{metric}")
                st.caption(help_)
            else:
                st.markdown(f"**{title}**")
                no_data(f"metric `{metric}` is not in these runs")
    st.subheader("All metrics")
    st.dataframe(dd.metrics_wide(curves), hide_index=True, key="metrics_table")
    st.subheader("Per-prompt evaluations")
    stored_table(Q, "evals_summary", selected, "evals",
                 "one row per iteration × eval prompt, to recompute any metric above")


def pick_scorer_and_samples(Q, run, key: str) -> tuple[str, str]:
    """Two pickers side by side: which scorer's scores, of which samples (rollout, pref, eval, ...)."""
    c1, c2 = st.columns(2)
    return (pick(c1, "scorer", Q("scorers", run), "rm", f"{key}_scorer"),
            pick(c2, "samples", Q("purposes", run), "rollout", f"{key}_purpose"))


def page_distributions(Q, run):
    st.header("Reward distributions")
    scorer, purpose = pick_scorer_and_samples(Q, run, "dist")
    hist = Q("score_histogram", run, scorer, purpose)
    if hist.empty:
        no_data(f"no `{scorer}` scores of `{purpose}` samples")
    else:
        st.plotly_chart(figures.histogram(hist, title=f"{scorer} score of all {purpose} samples, per iteration",
                                          xlabel=scorer), key="score_hist")
        st.dataframe(Q("score_summary", run, scorer, purpose), hide_index=True, key="score_summary")
    st.subheader("Chosen vs rejected (selected pairs)")
    cr = Q("chosen_rejected_histogram", run, scorer)
    if cr.empty:
        no_data(f"no best-vs-worst pairs with `{scorer}` scores")
    else:
        st.plotly_chart(figures.histogram(cr, color="side", facet="iteration", xlabel=scorer,
                                          title=f"{scorer} score of chosen and rejected"), key="cr_hist")
        st.dataframe(Q("chosen_rejected_summary", run, scorer), hide_index=True, key="cr_summary")
    st.subheader("Margin of the selected pairs")
    margins = Q("margin_histogram", run)
    if margins.empty:
        no_data("no best-vs-worst pairs")
    else:
        st.plotly_chart(figures.histogram(margins, xlabel="margin (after length penalty)",
                                          title="chosen − rejected score, per iteration"), key="margin_hist")


def page_length(Q, run, selected):
    st.header("Length bias")
    scorer, purpose = pick_scorer_and_samples(Q, run, "len")
    fit = Q("length_reward_fit", run, scorer, purpose)
    if fit.empty:
        no_data(f"no `{scorer}` scores of `{purpose}` samples")
    else:
        sample = Q("length_reward_sample", run, scorer, purpose)
        st.plotly_chart(figures.length_scatter(sample, fit, ylabel=scorer), key="len_scatter")
        st.caption(f"{len(sample)} sampled points; fit lines and correlations use all {int(fit.n.sum())} samples.")
        st.dataframe(fit, hide_index=True, key="len_fit")
    st.subheader("Mean length per iteration")
    lengths = Q("mean_length", selected, purpose)
    if lengths.empty:
        no_data(f"no `{purpose}` samples")
    else:
        st.plotly_chart(figures.metric_lines(lengths.assign(name="mean_chars", value=lengths.mean_chars),
                                             "mean_chars", f"mean length of {purpose} samples (chars)",
                                             figures.run_colors(selected)), key="len_mean")
    curves = Q("metric_curves", selected, None)
    if len(curves) and "lc_win_rate" in set(curves.name):
        st.plotly_chart(figures.win_rates_side_by_side(curves, figures.run_colors(selected)), key="lc_vs_raw")
    else:
        st.markdown("**Raw vs length-controlled win rate**")
        no_data("metric `lc_win_rate` is not in these runs")


def page_pairs(Q, run):
    st.header("Pair browser")
    iterations = Q("pair_iterations", run)
    if not iterations:
        return no_data("this run has no pairs yet")
    ranges = Q("pair_ranges", run)
    c1, c2, c3 = st.columns(3)
    its = c1.multiselect("iterations (0 = reward-model training pairs)", iterations,
                         default=[i for i in iterations if i > 0] or iterations, key="pairs_it")
    section = c2.selectbox("section", ["all"] + Q("prompt_sections", run), key="pairs_section")
    agreement = c3.selectbox("agreement with the pair's choice", dd.AGREEMENT, key="pairs_agree")
    c4, c5 = st.columns(2)
    lo, hi = math.floor(ranges["margin_lo"] * 100) / 100, math.ceil(ranges["margin_hi"] * 100) / 100
    margin = c4.slider("margin", lo, max(hi, lo + 0.01), (lo, max(hi, lo + 0.01)), key="pairs_margin")
    llo, lhi = int(ranges["len_lo"]), int(ranges["len_hi"])
    length = c5.slider("length difference (chosen − rejected, chars)", llo, max(lhi, llo + 1),
                       (llo, max(lhi, llo + 1)), key="pairs_len")
    c6, c7, c8 = st.columns(3)
    order = c6.selectbox("order by", ["margin", "length_diff"], key="pairs_order")
    size = c7.selectbox("rows per page", [25, 50, 100], key="pairs_size")
    page = c8.number_input("page", min_value=1, value=1, step=1, key="pairs_page")
    total, df = Q("browse_pairs", run, its, None if section == "all" else section, margin, length, agreement,
                  order, size, (page - 1) * size)
    st.markdown(f"**{total}** pairs match")
    if df.empty:
        return
    show = ["pair_id", "iteration", "section", "prompt", "chosen", "rejected", "margin", "length_diff",
            "chosen_gold", "rejected_gold", "gold_verdict", "chosen_rm", "rejected_rm", "rm_verdict"]
    if (df.chosen_source != "").any() or (df.rejected_source != "").any():  # reward-model candidates' sources
        show[6:6] = ["chosen_source", "rejected_source"]
    st.dataframe(df[show], hide_index=True, key="pairs_table")
    pick = st.selectbox("show pair", df.pair_id.tolist(), key="pairs_pick")
    row = df[df.pair_id == pick].iloc[0]
    st.markdown(f"**Prompt** ({row.section}, iteration {row.iteration}, rule `{row.rule}` by `{row.scorer}`)")
    st.text(row.prompt)
    a, b = st.columns(2)
    for col, side in ((a, "chosen"), (b, "rejected")):
        with col:
            source = f" · from `{row[side + '_source']}`" if row[side + "_source"] else ""
            st.markdown(f"**{side}**{source} · {row[side + '_chars']} chars · score {row[side + '_score']:.4f} · "
                        f"gold {row[side + '_gold']:.4f} · RM {row[side + '_rm']:.4f}")
            st.text(row[side])  # model text: shown verbatim, never rendered as markdown
    if "label" in cli_commands():
        st.caption(f"Open it in the side-by-side viewer: `workbench label --run {run}` (pair `{pick}`)")
    else:
        st.caption("side-by-side viewer: not installed in this version")


def page_reward_model(Q, selected):
    st.header("Reward model")
    st.subheader("Accuracy by section (`workbench rm eval`)")
    ev = Q("rm_eval", selected, table="rm_eval")
    if ev is None:
        no_data("table `rm_eval` is empty (BT and preference-model accuracy by section, position bias)")
    else:
        if {"section", "accuracy"} <= set(ev.columns):
            color = next((c for c in ("model", "scorer", "kind") if c in ev.columns), "run_id")
            st.plotly_chart(figures.accuracy_by_section(ev, color=color, title="RM accuracy by section"), key="rm_eval")
        st.dataframe(ev, hide_index=True, key="rm_eval_table")
    st.subheader("Does the pair's judge agree with the gold utility?")
    st.caption("Share of pairs (gold utilities unequal) where the response the judge chose has the higher gold "
               "utility: the annotator on the reward model's training pairs (iteration 0), the RM on the pairs it "
               "picked in the loop. Bars: Wilson 95% intervals.")
    agree = Q("pair_gold_agreement", selected)
    if agree.empty:
        no_data("no pairs with gold scores")
    else:
        agg = agree.assign(judge=agree.scorer + " · it " + agree.iteration.astype(str))
        st.plotly_chart(figures.accuracy_by_section(agg, color="judge"), key="rm_gold")
        st.dataframe(agree, hide_index=True, key="rm_gold_table")
    st.subheader("Is the RM still right on the policy's samples? (drift)")
    st.caption("`rm_policy_accuracy`: over pairs of two samples of π_t for one eval prompt whose gold utilities "
               "differ, the share the reward model orders as gold does. The RM learned on π0's samples; a falling "
               "line shows where the proxy stops being right while the loop still trusts it. Dotted: chance.")
    drift = Q("rm_drift", selected)
    if drift.empty:
        no_data("metric `rm_policy_accuracy` is not in these runs (eval.drift_samples=0, or an older run)")
    else:
        st.plotly_chart(figures.rm_drift(drift, figures.run_colors(selected)), key="rm_drift")
    st.subheader("Who labelled the reward data (the judge card)")
    st.caption("Each section's pairs were labelled as the paper's datasets for it were: a verifier (reasoning), "
               "safety labels, the GPT-4-like annotator and a human judge (chat). Per labeller: its pairs and their "
               "chosen / rejected length ratio beside the paper's, and its expected agreement with gold and "
               "preference for the longer answer on pairs of π0's own samples, beside the published figures it was "
               "set from (`workbench judges RUN`).")
    stored_table(Q, "judge_card", selected, "judge_card", "a run's reward stage writes it")
    curves = Q("metric_curves", selected, None)
    train = curves[(curves.iteration == 0) & curves.name.isin(("rm_train_pairs", "rm_train_accuracy",
                                                                 "annotator_gold_agreement",
                                                                 "annotator_prefers_longer",
                                                                 "annotator_pi0_gold_agreement",
                                                                 "annotator_pi0_prefers_longer",
                                                                 "rm_length_corr_pi0"))]
    if len(train):
        st.subheader("Reward-model training")
        st.dataframe(train.pivot_table(index="run_id", columns="name", values="value").reset_index(),
                     hide_index=True, key="rm_train")
    st.subheader("Human labels")
    if stored_table(Q, "labels_summary", selected, "labels", "label pairs with the side-by-side viewer") is not None:
        human = dd.human_agreement(store_root(), selected)
        if len(human):
            st.dataframe(human, hide_index=True, key="human_agreement")


def page_experiments(Q):
    """A `workbench experiment` as a whole: its arms table as the command printed it, each metric's curve per arm
    with the seeds' spread, the per-seed values behind each cell, and links to each arm's runs."""
    from urllib.parse import urlencode

    st.header("Experiments")
    found = Q("experiments", table="experiments")
    if found is None:
        return no_data("table `experiments` is empty (run `workbench experiment NAME --root ROOT`)")
    ids = found.experiment_id.tolist()
    label = {r.experiment_id: f"{r.experiment_id} ({r.seeds} seeds, arms {r.arms})" for r in found.itertuples()}
    asked = st.query_params.get("experiment")
    experiment_id = st.selectbox("experiment", ids, index=ids.index(asked) if asked in ids else 0,
                                 format_func=label.get, key="experiment")
    try:
        table = Q("experiment_table", experiment_id)
    except ValueError:  # no arm has finished an iteration yet
        return no_data(f"no finished arms in {experiment_id} yet")
    st.caption("mean ± sd over seeds of each arm's last iteration; π0 (SFT) is iteration 0, shared by every arm")
    st.table(table.set_index("arm"))
    runs = Q("experiment_runs", experiment_id)
    links = []
    for arm, group in runs.groupby("arm", sort=False):
        query = urlencode([("page", "Curves"), *(("run", r) for r in group.run_id)])
        links.append(f"[{arm}](?{query}) ({', '.join(f'seed {s}' for s in group.seed)})")
    st.markdown("Runs of each arm on the other pages: " + " · ".join(links))
    curves = Q("experiment_curves", experiment_id)
    metrics = [m for m in table.columns if m != "arm" and m in set(curves.name)]
    left, right = st.columns(2)
    for i, metric in enumerate(metrics):
        with (left if i % 2 == 0 else right):
            st.plotly_chart(figures.experiment_band(curves, metric), key=f"experiment_{metric}")
    st.subheader("Per-seed values behind each cell")
    st.dataframe(dd.experiment_seed_values(curves), hide_index=True, key="experiment_seeds")


# ------------------------------------------------------------------------------------------------------ layout


def main():
    st.set_page_config(page_title="RLHF workbench", layout="wide")
    root = store_root()
    side = st.sidebar
    side.title("RLHF workbench")
    shown = os.path.relpath(root) if Path(root).absolute().is_relative_to(Path.cwd()) else root
    side.caption(f"store: `{shown}`")
    if side.button("Refresh", key="refresh"):
        q.clear()
        store_connection.clear()
    auto = side.toggle("auto-refresh", value=False, key="auto")
    every = side.select_slider("every (s)", [2, 5, 10, 30, 60], value=5, key="every", disabled=not auto)
    version = store_version(root)
    st.session_state["store_version"] = version
    if auto:
        @st.fragment(run_every=every)
        def poll():  # cheap: stats the segment files; reruns the page only when one changed
            if store_version(root) != st.session_state.get("store_version"):
                st.rerun(scope="app")

        poll()

    def Q(fn, *args, **kwargs):
        return q(fn, root, version, *args, **kwargs)

    # Links may name the page and runs: ?page=Pairs&run=RUN_ID&run=... (the first visit takes them as defaults),
    # or an experiment: ?page=Experiments&experiment=ID
    asked_page = st.query_params.get("page")
    page = side.radio("page", PAGES, key="page", index=PAGES.index(asked_page) if asked_page in PAGES else 0)
    if page == "Experiments":  # picks an experiment, not runs
        return page_experiments(Q)
    runs = Q("runs")
    if runs.empty:
        st.header(page)
        st.info(f"No runs under `{root}` yet. Start one with `workbench run --root {root}`; "
                "this page shows it as soon as its first stage is stored.")
        return
    ids = runs.run_id.tolist()
    asked_runs = [r for r in st.query_params.get_all("run") if r in ids]
    selected = side.multiselect("runs", ids, default=asked_runs or ids[: min(3, len(ids))], key="runs")
    if not selected:
        st.info("pick at least one run in the sidebar")
        return
    if page in ("Reward distributions", "Length bias", "Pairs"):
        run = side.selectbox("run (for this page)", selected, key="focus")
    if page == "Runs":
        page_runs(Q, runs, selected)
    elif page == "Curves":
        page_curves(Q, selected)
    elif page == "Reward distributions":
        page_distributions(Q, run)
    elif page == "Length bias":
        page_length(Q, run, selected)
    elif page == "Pairs":
        page_pairs(Q, run)
    else:
        page_reward_model(Q, selected)


main()

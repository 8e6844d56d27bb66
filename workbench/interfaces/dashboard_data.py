"""The dashboard's data: one SQL query per panel, each returning a pandas DataFrame.

Every function takes a DuckDB connection from `workbench.store.connect(root)` (in-memory views over the run
folders' Parquet segments: read-only, and safe while a run writes) and user choices as arguments, which reach SQL
only as parameters. The Streamlit app (`app/dashboard.py`), notebooks and `benchmarks/dashboard_queries.py` call the
same functions, so a number on the dashboard can be reproduced in a notebook with one call:

    from workbench.store import connect
    from workbench.interfaces import dashboard_data as dd
    from workbench.interfaces import figures
    con = connect("runs")
    figures.metric_lines(dd.metric_curves(con, dd.runs(con).run_id.tolist()), "gold_win_rate")

Tables that later stages add (`labels`, `rm_eval`, `evals`) and metrics that only some runs have (`lc_win_rate`,
`kl_to_ref`, ...) are optional: `optional(con, table, fn, ...)` returns None when the table is absent or empty
(or lacks a column the panel reads), and the app shows "no data yet". Adding a panel for such a table is one query
function here plus one call in the app.

Identifiers such as `generation_id` are unique within a run only, so every join is on (run_id, id).
"""

from __future__ import annotations

import json
import math

import duckdb
import pandas as pd

from workbench.evaluation.agreement import wilson_interval
from workbench.evaluation.metrics import HEADLINE
from workbench.interfaces.run_cache import run_cache
from workbench.world.judges import LABELLERS

# The Curves page: (metric, title, what it tells). Metrics a run does not store show "no data yet".


# ---------------------------------------------------------------------------------------------- query helpers


def has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """True when the store knows the table (a view exists) and it holds at least one row."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND NOT internal", [table]
    ).fetchone()[0]
    if not exists:
        return False
    return con.execute(f'SELECT count(*) > 0 FROM (SELECT 1 FROM "{table}" LIMIT 1)').fetchone()[0]


def optional(con, table: str, fn, *args, **kwargs) -> pd.DataFrame | None:
    """`fn(con, *args)` when `table` has rows, else None. A table written by another version that lacks a column the
    query reads also gives None (the panel then says "no data yet") instead of an error page."""
    if not has_table(con, table):
        return None
    try:
        df = fn(con, *args, **kwargs)
    except duckdb.BinderException:
        return None
    return df if len(df) else None


def _df(con, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


# ---------------------------------------------------------------------------------------------- runs page


def runs(con) -> pd.DataFrame:
    """One row per run: run_id, name, created_at, status (finished | incomplete), iterations_done,
    iterations_planned, last_stage, last_stage_at, and the latest value of each HEADLINE metric."""
    heads = ", ".join(f"max(value) FILTER (WHERE name = '{m}') AS {m}" for m in HEADLINE)
    return _df(
        con,
        f"""
        WITH st AS (
            SELECT run_id,
                   bool_or(stage = 'done') AS done,
                   coalesce(max(iteration) FILTER (WHERE stage = 'iteration'), 0) AS iterations_done,
                   arg_max(stage || CASE WHEN stage IN ('rollout', 'iteration', 'evaluate')
                                         THEN ' ' || iteration ELSE '' END,
                           finished_at) AS last_stage,
                   max(finished_at) AS last_stage_at
            FROM stages GROUP BY run_id),
        last AS (SELECT run_id, max(iteration) AS it FROM metrics GROUP BY run_id),
        head AS (SELECT m.run_id, {heads} FROM metrics m JOIN last ON m.run_id = last.run_id AND m.iteration = last.it
                 GROUP BY m.run_id)
        SELECT r.run_id, r.name, r.created_at,
               CASE WHEN coalesce(st.done, false) THEN 'finished' ELSE 'incomplete' END AS status,
               coalesce(st.iterations_done, 0) AS iterations_done, r.iterations AS iterations_planned,
               st.last_stage, st.last_stage_at, {", ".join(f"head.{m}" for m in HEADLINE)}
        FROM runs r LEFT JOIN st USING (run_id) LEFT JOIN head USING (run_id)
        ORDER BY r.created_at DESC
        """,
    )


def run_configs(con, run_ids: list[str]) -> dict[str, dict]:
    """run_id → the resolved config (as stored in the runs table)."""
    rows = con.execute("SELECT run_id, config FROM runs WHERE list_contains(?, run_id)", [list(run_ids)]).fetchall()
    return {r: json.loads(c) for r, c in rows}


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = json.dumps(v) if isinstance(v, list) else v
    return out


def config_diff(configs: dict[str, dict]) -> pd.DataFrame:
    """Config keys whose values differ between runs: index key, one column per run."""
    flat = {run: _flatten(cfg) for run, cfg in configs.items()}
    keys = sorted({k for f in flat.values() for k in f})
    rows = {k: {run: f.get(k) for run, f in flat.items()} for k in keys}
    df = pd.DataFrame.from_dict(rows, orient="index")
    if df.empty or len(flat) < 2:
        return df.iloc[0:0]
    differs = df.astype(str).nunique(axis=1) > 1
    return df[differs]


def stages(con, run_ids: list[str]) -> pd.DataFrame:
    """run_id, stage, iteration, wall_s, finished_at — the stage timeline."""
    return _df(
        con,
        "SELECT run_id, stage, iteration, wall_s, finished_at FROM stages WHERE list_contains(?, run_id) "
        "ORDER BY run_id, finished_at",
        [list(run_ids)],
    )


# ---------------------------------------------------------------------------------------------- curves page


def metric_curves(con, run_ids: list[str], section: str | None = None) -> pd.DataFrame:
    """run_id, iteration, name, value for every metric of the runs; with `section`, the per-section values
    (stored as "name.section") under the plain name."""
    if section:
        return _df(
            con,
            "SELECT run_id, iteration, regexp_replace(name, '\\.[^.]*$', '') AS name, value FROM metrics "
            "WHERE list_contains(?, run_id) AND name LIKE '%.' || ? ORDER BY run_id, name, iteration",
            [list(run_ids), section],
        )
    return _df(
        con,
        "SELECT run_id, iteration, name, value FROM metrics WHERE list_contains(?, run_id) AND name NOT LIKE '%.%' "
        "ORDER BY run_id, name, iteration",
        [list(run_ids)],
    )


def rm_drift(con, run_ids: list[str]) -> pd.DataFrame:
    """run_id, iteration, section ("all" or a section), value of `rm_policy_accuracy`: the RM's accuracy on the
    gold-labelled pairs of π_t's own samples, per iteration (the Reward model page's drift panel)."""
    return _df(
        con,
        "SELECT run_id, iteration, coalesce(nullif(regexp_extract(name, '\\.([^.]*)$', 1), ''), 'all') AS section, "
        "value FROM metrics WHERE list_contains(?, run_id) AND (name = 'rm_policy_accuracy' OR name LIKE "
        "'rm\\_policy\\_accuracy.%' ESCAPE '\\') AND NOT isnan(value) ORDER BY run_id, section, iteration",
        [list(run_ids)],
    )


def metric_sections(con, run_ids: list[str]) -> list[str]:
    """Sections for which per-section metrics ("name.section") exist."""
    rows = con.execute(
        "SELECT DISTINCT regexp_extract(name, '\\.([^.]*)$', 1) AS s FROM metrics "
        "WHERE list_contains(?, run_id) AND name LIKE '%.%' ORDER BY s",
        [list(run_ids)],
    ).fetchall()
    return [r[0] for r in rows if r[0]]


def metrics_wide(curves: pd.DataFrame) -> pd.DataFrame:
    """The long metrics frame as a table: one row per (run, iteration), one column per metric."""
    if curves.empty:
        return curves
    return curves.pivot_table(index=["run_id", "iteration"], columns="name", values="value").reset_index()


# ---------------------------------------------------------------------------------------------- distributions


def scorers(con, run_id: str) -> list[str]:
    rows = con.execute("SELECT DISTINCT scorer FROM scores WHERE run_id = ? ORDER BY 1", [run_id]).fetchall()
    return [r[0] for r in rows]


def purposes(con, run_id: str) -> list[str]:
    rows = con.execute("SELECT DISTINCT purpose FROM generations WHERE run_id = ? ORDER BY 1", [run_id]).fetchall()
    return [r[0] for r in rows]


def _binned(con, values_sql: str, params: dict, bins: int, group: str = "iteration") -> pd.DataFrame:
    """Histogram computed in SQL (so a million samples cost one scan, not a million points in the browser), one
    per value of the `group` column of `values_sql`: group, bin_left, bin_right, count, share (of the group).
    The bins span the overall range, so histograms of different groups line up."""
    df = _df(
        con,
        f"""
        WITH v AS ({values_sql}),
             r AS (SELECT min(value) AS lo, max(value) AS hi FROM v)
        SELECT "{group}" AS grp, lo, hi,
               coalesce(least(floor((value - lo) / nullif((hi - lo) / $bins, 0)), $bins - 1), 0)::INT AS bin,
               count(*) AS count
        FROM v, r GROUP BY ALL ORDER BY grp, bin
        """,
        {**params, "bins": bins},
    )
    if df.empty:
        return pd.DataFrame(columns=[group, "bin_left", "bin_right", "count", "share"])
    width = (df.hi - df.lo) / bins
    width = width.where(width > 0, 1.0)
    df["bin_left"] = df.lo + df.bin * width
    df["bin_right"] = df.bin_left + width
    df["share"] = df["count"] / df.groupby("grp")["count"].transform("sum")
    return df.rename(columns={"grp": group})[[group, "bin_left", "bin_right", "count", "share"]]


def _scored(con, run_id: str) -> str:
    """SQL of (iteration, n_chars, n_tokens, value) for one run's samples of $purpose scored by $scorer."""
    t = run_cache(con, run_id)["scored"]
    return f"SELECT iteration, n_chars, n_tokens, value FROM {t} WHERE purpose = $purpose AND scorer = $scorer"


def score_histogram(con, run_id: str, scorer: str = "rm", purpose: str = "rollout", bins: int = 40) -> pd.DataFrame:
    """Distribution of one scorer's values over all samples, per iteration: iteration, bin_left, bin_right, count,
    share."""
    return _binned(con, _scored(con, run_id), {"purpose": purpose, "scorer": scorer}, bins)


def score_summary(con, run_id: str, scorer: str = "rm", purpose: str = "rollout") -> pd.DataFrame:
    """iteration, n, mean, std, p10, median, p90 of one scorer's values."""
    return _df(
        con,
        f"""WITH v AS ({_scored(con, run_id)})
        SELECT iteration, count(*) AS n, avg(value) AS mean, stddev_samp(value) AS std,
               quantile_cont(value, 0.1) AS p10, median(value) AS median, quantile_cont(value, 0.9) AS p90
        FROM v GROUP BY iteration ORDER BY iteration""",
        {"purpose": purpose, "scorer": scorer},
    )


def _pair_sides(con, run_id: str) -> str:
    """SQL of (iteration, side, value): $scorer's score of the chosen and the rejected response of $rule's pairs."""
    t = run_cache(con, run_id)
    return " UNION ALL ".join(
        f"""SELECT p.iteration, '{side}' AS side, s.value FROM {t["pair"]} p
            JOIN {t["scored"]} s ON s.gid = p.{side}_gid AND s.scorer = $scorer WHERE p.rule = $rule"""
        for side in ("chosen", "rejected")
    )


def chosen_rejected_histogram(con, run_id: str, scorer: str = "rm", rule: str = "best_worst",
                              bins: int = 30) -> pd.DataFrame:
    """Scores of the chosen and the rejected response of the selected pairs: iteration, side, bin_left,
    bin_right, count, share (share within iteration × side)."""
    sql = f"SELECT iteration || '|' || side AS key, value FROM ({_pair_sides(con, run_id)})"
    df = _binned(con, sql, {"scorer": scorer, "rule": rule}, bins, "key")
    cols = ["iteration", "side", "bin_left", "bin_right", "count", "share"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    parts = df.key.str.split("|", expand=True)
    df["iteration"] = parts[0].astype(int)
    df["side"] = parts[1]
    return df[cols]


def chosen_rejected_summary(con, run_id: str, scorer: str = "rm", rule: str = "best_worst") -> pd.DataFrame:
    """iteration, pairs, mean chosen and rejected score and the mean gap, by one scorer."""
    return _df(
        con,
        f"""WITH v AS ({_pair_sides(con, run_id)})
        SELECT iteration, count(*) FILTER (WHERE side = 'chosen') AS pairs,
               avg(value) FILTER (WHERE side = 'chosen') AS chosen_mean,
               avg(value) FILTER (WHERE side = 'rejected') AS rejected_mean,
               chosen_mean - rejected_mean AS gap
        FROM v GROUP BY iteration ORDER BY iteration""",
        {"scorer": scorer, "rule": rule},
    )


def margin_histogram(con, run_id: str, rule: str = "best_worst", bins: int = 30) -> pd.DataFrame:
    """The selected pairs' margin (chosen − rejected score after the length penalty), per iteration."""
    sql = "SELECT iteration, margin AS value FROM pairs WHERE run_id = $run AND rule = $rule AND isfinite(margin)"
    return _binned(con, sql, {"run": run_id, "rule": rule}, bins)


# ---------------------------------------------------------------------------------------------- length bias


def length_reward_sample(con, run_id: str, scorer: str = "rm", purpose: str = "rollout", n: int = 3000) -> pd.DataFrame:
    """A repeatable random sample of (iteration, n_chars, n_tokens, value) for the scatter plot: the browser gets
    at most `n` points however large the run."""
    return _df(
        con,
        f"SELECT * FROM ({_scored(con, run_id)}) USING SAMPLE reservoir({int(n)} ROWS) REPEATABLE (7) "
        "ORDER BY iteration",
        {"purpose": purpose, "scorer": scorer},
    )


def length_reward_fit(con, run_id: str, scorer: str = "rm", purpose: str = "rollout") -> pd.DataFrame:
    """Per iteration over ALL samples: n, corr(length, score), least-squares slope and intercept of score on
    length (chars), mean length and the length range."""
    return _df(
        con,
        f"""WITH v AS ({_scored(con, run_id)})
        SELECT iteration, count(*) AS n, corr(n_chars, value) AS corr,
               regr_slope(value, n_chars) AS slope, regr_intercept(value, n_chars) AS intercept,
               avg(n_chars) AS mean_chars, avg(n_tokens) AS mean_tokens,
               min(n_chars) AS min_chars, max(n_chars) AS max_chars
        FROM v GROUP BY iteration ORDER BY iteration""",
        {"purpose": purpose, "scorer": scorer},
    )


def mean_length(con, run_ids: list[str], purpose: str = "rollout") -> pd.DataFrame:
    """run_id, iteration, n, mean_chars, mean_tokens of the generations."""
    return _df(
        con,
        "SELECT run_id, iteration, count(*) AS n, avg(n_chars) AS mean_chars, avg(n_tokens) AS mean_tokens "
        "FROM generations WHERE list_contains(?, run_id) AND purpose = ? GROUP BY ALL ORDER BY run_id, iteration",
        [list(run_ids), purpose],
    )


# ---------------------------------------------------------------------------------------------- pair browser

AGREEMENT = ("any", "gold agrees", "gold disagrees", "gold tie", "RM agrees", "RM disagrees")


def pair_iterations(con, run_id: str) -> list[int]:
    rows = con.execute("SELECT DISTINCT iteration FROM pairs WHERE run_id = ? ORDER BY 1", [run_id]).fetchall()
    return [r[0] for r in rows]


def prompt_sections(con, run_id: str) -> list[str]:
    rows = con.execute("SELECT DISTINCT section FROM prompts WHERE run_id = ? ORDER BY 1", [run_id]).fetchall()
    return [r[0] for r in rows]


def pair_ranges(con, run_id: str) -> dict[str, float]:
    """Bounds of the margin and length-difference sliders for a run."""
    t = run_cache(con, run_id)["pair"]
    row = con.execute(f"SELECT min(margin), max(margin), min(length_diff), max(length_diff) FROM {t}").fetchone()
    keys = ("margin_lo", "margin_hi", "len_lo", "len_hi")
    return {k: (0.0 if v is None else float(v)) for k, v in zip(keys, row)}


def browse_pairs(
    con,
    run_id: str,
    iterations: list[int],
    section: str | None = None,
    margin: tuple[float, float] = (-math.inf, math.inf),
    length_diff: tuple[float, float] = (-math.inf, math.inf),
    agreement: str = "any",
    order: str = "margin",
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, pd.DataFrame]:
    """Filtered pairs of one run with prompt, both responses, their scores (the rule's, gold, RM) and lengths, and
    whether gold and the RM agree with the pair's choice. Returns (total matching, one page of rows).
    `agreement` is one of AGREEMENT; `order` is "margin" (largest first) or "length_diff" (largest |Δ| first)."""
    if agreement not in AGREEMENT:
        raise ValueError(f"agreement must be one of {AGREEMENT}, got {agreement!r}")
    who, _, verdict = agreement.partition(" ")
    verdict = {"agrees": "agrees", "disagrees": "disagrees", "tie": "tie"}.get(verdict)
    t = run_cache(con, run_id)
    order_sql = {"margin": "margin DESC, pair_id", "length_diff": "abs(length_diff) DESC, pair_id"}[order]
    df = _df(
        con,
        f"""
        WITH x AS (
            SELECT *, count(*) OVER () AS total FROM {t["pair"]}
            WHERE list_contains($iterations, iteration)
              AND ($section IS NULL OR section = $section)
              AND margin BETWEEN $margin_lo AND $margin_hi
              AND length_diff BETWEEN $len_lo AND $len_hi
              AND ($gold IS NULL OR gold_verdict = $gold)
              AND ($rm IS NULL OR rm_verdict = $rm)
            ORDER BY {order_sql} LIMIT $limit OFFSET $offset),
        -- the page's texts first (a semi join on the page's few ids), so the joins below stay small: store
        -- connections run joins in the order written (store.connect)
        g AS (SELECT gid, text FROM {t["gen"]}
              WHERE gid IN (SELECT chosen_gid FROM x UNION ALL SELECT rejected_gid FROM x))
        SELECT x.* EXCLUDE (chosen_gid, rejected_gid), c.text AS chosen, r.text AS rejected
        FROM x LEFT JOIN g c ON c.gid = x.chosen_gid LEFT JOIN g r ON r.gid = x.rejected_gid
        ORDER BY {order_sql}
        """,
        {
            "iterations": [int(i) for i in iterations],
            "section": section,
            "margin_lo": float(margin[0]),
            "margin_hi": float(margin[1]),
            "len_lo": float(length_diff[0]),
            "len_hi": float(length_diff[1]),
            "gold": verdict if who == "gold" else None,
            "rm": verdict if who == "RM" else None,
            "limit": int(limit),
            "offset": int(offset),
        },
    )
    total = int(df.total.iloc[0]) if len(df) else 0
    return total, df.drop(columns="total")


# ---------------------------------------------------------------------------------------------- reward model


def pair_gold_agreement(con, run_ids: list[str]) -> pd.DataFrame:
    """How often the scorer that picked each pair (the RM in the loop, each labeller for the RM's training data)
    agrees with the gold utility, per run, iteration, scorer and section, over pairs whose gold utilities differ:
    run_id, iteration, scorer, section, n, agree, accuracy, ci_low, ci_high (Wilson 95%)."""
    parts = [
        f"SELECT ? AS run_id, iteration, scorer, section, count(*) AS n, "
        f"count(*) FILTER (WHERE gold_verdict = 'agrees') AS agree "
        f"FROM {run_cache(con, r)['pair']} WHERE gold_verdict IN ('agrees', 'disagrees') GROUP BY ALL"
        for r in run_ids
    ]
    cols = ["run_id", "iteration", "scorer", "section", "n", "agree"]
    if not parts:
        return pd.DataFrame(columns=[*cols, "accuracy", "ci_low", "ci_high"])
    df = _df(con, " UNION ALL ".join(parts) + " ORDER BY 1, 2, 3, 4", list(run_ids))
    df["accuracy"] = df.agree / df.n
    ci = [wilson_interval(int(k), int(n)) for k, n in zip(df.agree, df.n)]
    df["ci_low"], df["ci_high"] = [lo for lo, _ in ci], [hi for _, hi in ci]
    return df


def rm_eval(con, run_ids: list[str]) -> pd.DataFrame:
    """Reward-model accuracy by section as the reward stage and `workbench rm eval` store it: every column of
    `rm_eval`."""
    return _df(con, "SELECT * FROM rm_eval WHERE list_contains(?, run_id)", [list(run_ids)])


def judge_card(con, run_ids: list[str]) -> pd.DataFrame:
    """The reward data's labellers per run (`judge_card` table): pairs, length ratio beside the paper's, agreement
    with gold and preference for the longer on π0's pairs beside the published figures."""
    return _df(
        con,
        "SELECT run_id, labeller, sections, pairs, abstained, length_ratio, paper_length_ratio, pi0_gold_agreement, "
        "published_agreement, pi0_prefers_longer, published_prefers_longer, stands_for FROM judge_card "
        "WHERE list_contains(?, run_id) ORDER BY 1, list_position(?, labeller)",
        [list(run_ids), list(LABELLERS)],
    )


def labels_summary(con, run_ids: list[str]) -> pd.DataFrame:
    """Human labels from the viewer: how many per run and labeler."""
    return _df(
        con,
        "SELECT run_id, labeler, count(*) AS labels FROM labels WHERE list_contains(?, run_id) "
        "GROUP BY ALL ORDER BY 1, 2",
        [list(run_ids)],
    )


def human_agreement(root, run_ids: list[str]) -> pd.DataFrame:
    """Agreement between people, the RM, the annotator and gold on the labelled pairs, per run and section, with
    Wilson 95% intervals: `agreement.store_agreement`, the same numbers the viewer shows."""
    from dataclasses import asdict

    from workbench.evaluation.agreement import store_agreement

    rows = [{"run_id": run_id, **asdict(r)} for run_id in run_ids for r in store_agreement(root, run_id)]
    return pd.DataFrame(rows)


def evals_summary(con, run_ids: list[str]) -> pd.DataFrame:
    """Per-prompt evaluation rows (the `evals` table): how many per run and iteration."""
    return _df(
        con,
        "SELECT run_id, iteration, count(*) AS rows FROM evals WHERE list_contains(?, run_id) "
        "GROUP BY ALL ORDER BY 1, 2",
        [list(run_ids)],
    )


# ---------------------------------------------------------------------------------------------- experiments page


def experiments(con) -> pd.DataFrame:
    """One row per `workbench experiment` invocation, newest first: experiment_id, experiment, arms (in run order),
    seeds, runs, started (its first run's creation time)."""
    return _df(
        con,
        """WITH first AS (SELECT experiment_id, arm, min(run_id) AS first_run FROM experiments GROUP BY ALL),
                arms AS (SELECT experiment_id, string_agg(arm, ', ' ORDER BY first_run) AS arms FROM first
                         GROUP BY experiment_id)
           SELECT e.experiment_id, any_value(e.experiment) AS experiment, any_value(a.arms) AS arms,
                  count(DISTINCT e.seed) AS seeds, count(*) AS runs, min(r.created_at) AS started
           FROM experiments e JOIN arms a USING (experiment_id) LEFT JOIN runs r USING (run_id)
           GROUP BY e.experiment_id ORDER BY started DESC NULLS LAST, e.experiment_id DESC""",
    )


def experiment_table(con, experiment_id: str) -> pd.DataFrame:
    """The arms table exactly as `workbench experiment` prints it (π0 first; each cell "mean ± sd" over seeds of
    the arm's last iteration), as text cells."""
    from workbench.pipeline.experiment import cells, summary

    cols, rows = cells(summary(con, experiment_id))
    return pd.DataFrame(rows, columns=cols)


def experiment_runs(con, experiment_id: str) -> pd.DataFrame:
    """arm, seed, run_id, overrides of every run of the experiment, arms in the order they ran."""
    return _df(
        con,
        """SELECT arm, seed, run_id, overrides FROM experiments WHERE experiment_id = ?
           ORDER BY min(run_id) OVER (PARTITION BY arm), seed""",
        [experiment_id],
    )


def experiment_curves(con, experiment_id: str) -> pd.DataFrame:
    """The summary metrics of every arm and seed over iterations (long form: arm, seed, run_id, iteration, name,
    value), iteration 0 being the shared π0; the curves and the per-seed values behind each cell come from it."""
    from workbench.pipeline.experiment import SUMMARY_METRICS

    return _df(
        con,
        """SELECT e.arm, e.seed, e.run_id, m.iteration, m.name, m.value
           FROM experiments e JOIN metrics m USING (run_id)
           WHERE e.experiment_id = ? AND list_contains(?, m.name)
           ORDER BY min(e.run_id) OVER (PARTITION BY e.arm), e.seed, m.name, m.iteration""",
        [experiment_id, list(SUMMARY_METRICS)],
    )


def experiment_seed_values(curves: pd.DataFrame) -> pd.DataFrame:
    """The per-seed values behind each cell of the arms table: one row per (arm, seed) with the run and each
    metric at that run's last iteration, and a π0 row per seed (iteration 0). `curves`: `experiment_curves`."""
    if curves.empty:
        return pd.DataFrame(columns=["arm", "seed", "run_id"])
    last = curves.groupby("run_id").iteration.transform("max")
    at_last = curves[curves.iteration == last]
    pi0 = curves[curves.iteration == 0].drop_duplicates(["seed", "name"]).assign(arm="pi0 (SFT)", run_id="")
    df = pd.concat([pi0, at_last])
    order = {a: i for i, a in enumerate(dict.fromkeys(["pi0 (SFT)", *curves.arm]))}
    wide = df.pivot_table(index=["arm", "seed", "run_id"], columns="name", values="value").reset_index()
    wide.columns.name = None
    wide = wide.sort_values(["arm", "seed"], key=lambda s: s.map(order) if s.name == "arm" else s)
    return wide.reset_index(drop=True)

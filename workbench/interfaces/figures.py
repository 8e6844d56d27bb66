"""Plotly figures of the dashboard, built from the DataFrames of `workbench.interfaces.dashboard_data`.

Each function takes the frame one query returns and gives a `plotly.graph_objects.Figure`, so a notebook shows
exactly the dashboard's chart: `figures.metric_lines(dd.metric_curves(con, runs), "gold_win_rate")`.
Colours: one per run on the cross-run charts, one per iteration on a single run's charts.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), legend_title_text="", height=340)
PALETTE = px.colors.qualitative.Plotly
SIDE_COLORS = {"chosen": "#2ca02c", "rejected": "#d62728"}


def run_colors(run_ids) -> dict[str, str]:
    """run_id → colour, fixed by the order of `run_ids`: pass the same list to every chart of a page so a run keeps
    its colour even on a chart where another run has no data."""
    return {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(dict.fromkeys(run_ids))}



def metric_lines(curves: pd.DataFrame, metric: str, title: str | None = None, colors: dict | None = None) -> go.Figure:
    """One line per run of `metric` over iterations (curves: run_id, iteration, name, value)."""
    df = curves[curves.name == metric]
    fig = px.line(df, x="iteration", y="value", color="run_id", markers=True, title=title or metric,
                  labels={"value": metric}, color_discrete_map=colors or run_colors(curves.run_id))
    fig.update_xaxes(dtick=1)
    return fig.update_layout(**_LAYOUT)


def rm_drift(drift: pd.DataFrame, colors: dict | None = None) -> go.Figure:
    """The RM's accuracy on π_t's own samples per iteration, overall and per section, one line per run
    (drift: run_id, iteration, section, value; dashboard_data.rm_drift)."""
    order = ["all"] + sorted(s for s in drift.section.unique() if s != "all")
    fig = px.line(drift, x="iteration", y="value", color="run_id", facet_col="section", markers=True,
                  category_orders={"section": order}, labels={"value": "RM accuracy"},
                  color_discrete_map=colors or run_colors(drift.run_id),
                  title="RM accuracy on the policy's own samples (rm_policy_accuracy)")
    fig.add_hline(y=0.5, line_dash="dot", line_color="grey")
    fig.update_xaxes(dtick=1)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    return fig.update_layout(**_LAYOUT)


def overoptimization(curves: pd.DataFrame, colors: dict | None = None) -> go.Figure:
    """Proxy vs gold: RM reward and gold utility per iteration, side by side, one colour per run. The RM reward
    rising while the gold utility falls is over-optimization."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("RM reward (proxy)", "gold utility (truth)"))
    colors = colors or run_colors(curves.run_id)
    for run, df in curves.groupby("run_id", sort=False):
        c = colors.get(run, "grey")
        for col, name in ((1, "rm_reward"), (2, "gold_utility")):
            d = df[df.name == name]
            fig.add_trace(go.Scatter(x=d.iteration, y=d.value, mode="lines+markers", name=run, legendgroup=run,
                                     showlegend=col == 1, line=dict(color=c)), row=1, col=col)
    fig.update_xaxes(dtick=1, title_text="iteration")
    return fig.update_layout(title="Over-optimization: proxy vs gold", **_LAYOUT)


def histogram(hist: pd.DataFrame, color: str = "iteration", title: str = "", xlabel: str = "value",
              facet: str | None = None) -> go.Figure:
    """A histogram binned in SQL (bin_left, bin_right, share, count), one step line per `color` value."""
    df = hist.copy()
    df["x"] = (df.bin_left + df.bin_right) / 2
    df[color] = df[color].astype(str)
    colors = SIDE_COLORS if color == "side" else None
    fig = px.line(df, x="x", y="share", color=color, line_shape="hvh", facet_col=facet, title=title,
                  labels={"x": xlabel, "share": "share of samples"}, hover_data=["count"],
                  color_discrete_map=colors, color_discrete_sequence=PALETTE)
    return fig.update_layout(**_LAYOUT)


def length_scatter(sample: pd.DataFrame, fit: pd.DataFrame, ylabel: str = "RM reward") -> go.Figure:
    """Length (chars) vs score for a sample of the responses, coloured by iteration, with each iteration's
    least-squares line fitted on all its responses and the correlation in the legend."""
    fig = go.Figure()
    for i, row in enumerate(fit.itertuples()):
        c = PALETTE[i % len(PALETTE)]
        s = sample[sample.iteration == row.iteration]
        fig.add_trace(go.Scattergl(x=s.n_chars, y=s.value, mode="markers", marker=dict(color=c, size=4, opacity=0.35),
                                   name=f"iteration {row.iteration}", legendgroup=str(row.iteration)))
        if pd.notna(row.slope):
            xs = [row.min_chars, row.max_chars]
            fig.add_trace(go.Scatter(x=xs, y=[row.intercept + row.slope * x for x in xs], mode="lines",
                                     line=dict(color=c, width=3), legendgroup=str(row.iteration),
                                     name=f"fit {row.iteration} (r = {row.corr:.2f})"))
    fig.update_layout(title="Length vs score", xaxis_title="response length (chars)", yaxis_title=ylabel, **_LAYOUT)
    return fig


def win_rates_side_by_side(curves: pd.DataFrame, colors: dict | None = None) -> go.Figure:
    """Raw (gold) and length-controlled win rate per iteration next to each other, one colour per run."""
    df = curves[curves.name.isin(["gold_win_rate", "lc_win_rate"])]
    fig = px.line(df, x="iteration", y="value", color="run_id", facet_col="name", markers=True,
                  color_discrete_map=colors or run_colors(curves.run_id),
                  title="Raw vs length-controlled win rate", labels={"value": "win rate vs π0"})
    fig.update_xaxes(dtick=1)
    return fig.update_layout(**_LAYOUT)


def accuracy_by_section(df: pd.DataFrame, color: str = "scorer",
                        title: str = "Agreement with gold by section") -> go.Figure:
    """Bars of accuracy by section (with the Wilson interval when `ci_low`/`ci_high` are present)."""
    d = df.copy()
    d[color] = d[color].astype(str)
    err = {}
    if {"ci_low", "ci_high"} <= set(d.columns):
        err = dict(error_y=d.ci_high - d.accuracy, error_y_minus=d.accuracy - d.ci_low)
    fig = px.bar(d, x="section", y="accuracy", color=color, barmode="group", title=title, range_y=[0, 1], **err)
    fig.add_hline(y=0.5, line_dash="dot", line_color="grey")
    return fig.update_layout(**_LAYOUT)


def stage_times(stages: pd.DataFrame, colors: dict | None = None) -> go.Figure:
    """Wall time of each finished stage, one bar group per run."""
    d = stages.copy()
    d["label"] = d.stage + d.iteration.map(lambda i: f" {i}")
    fig = px.bar(d, x="label", y="wall_s", color="run_id", barmode="group", title="Stage wall times",
                 color_discrete_map=colors or run_colors(stages.run_id),
                 labels={"label": "stage", "wall_s": "seconds"})
    return fig.update_layout(**_LAYOUT)


def experiment_band(curves: pd.DataFrame, metric: str, title: str | None = None) -> go.Figure:
    """One line per arm of `metric` over iterations (the mean over seeds) with the seeds' spread (min to max) as a
    band. `curves`: `dashboard_data.experiment_curves` (arm, seed, iteration, name, value)."""
    df = curves[curves.name == metric]
    stats = df.groupby(["arm", "iteration"], sort=False).value.agg(["mean", "min", "max", "count"]).reset_index()
    fig = go.Figure()
    for i, (arm, g) in enumerate(stats.groupby("arm", sort=False)):
        color = PALETTE[i % len(PALETTE)]
        if (g["count"] > 1).any():
            x = list(g.iteration)
            fig.add_trace(go.Scatter(x=x + x[::-1], y=list(g["max"]) + list(g["min"])[::-1], fill="toself",
                                     mode="lines", fillcolor=color, opacity=0.2, line=dict(width=0), hoverinfo="skip",
                                     showlegend=False, name=f"{arm} (seeds' range)"))
        fig.add_trace(go.Scatter(x=g.iteration, y=g["mean"], mode="lines+markers", name=arm, line=dict(color=color)))
    fig.update_xaxes(dtick=1, title="iteration")
    fig.update_yaxes(title=metric)
    return fig.update_layout(title=title or metric, **_LAYOUT)

"""The dashboard: its queries on a hand-built store, and each page through Streamlit's AppTest, asserting the
numbers it shows. (The real-browser test is tests/test_dashboard_browser.py.)"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dashboard_fixture import METRICS_DONE, SAMPLES, build

from workbench.interfaces import dashboard_data as dd
from workbench.records import Metric, Stage
from workbench.store import RunStore, connect, store_version

APP = str(Path(__file__).resolve().parent.parent / "app" / "dashboard.py")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("dash-store")
    build(root)
    return root


@pytest.fixture
def app(store, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("WORKBENCH_ROOT", str(store))

    def open_page(page: str, runs: list[str] | None = None):
        at = AppTest.from_file(APP, default_timeout=60).run()
        assert not at.exception, at.exception
        at.sidebar.radio(key="page").set_value(page)
        if runs is not None:
            at.sidebar.multiselect(key="runs").set_value(runs)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error
        return at

    return open_page


def infos(at) -> list[str]:
    return [i.value for i in at.info]


def frame(at, *columns: str) -> pd.DataFrame:
    """The first dataframe on the page that has all these columns (AppTest does not expose dataframe keys)."""
    for d in at.dataframe:
        if set(columns) <= set(d.value.columns):
            return d.value
    raise AssertionError(f"no table with columns {columns}: {[list(d.value.columns) for d in at.dataframe]}")


def charts(at) -> int:
    return len(at.get("plotly_chart"))


# ------------------------------------------------------------------------------------------------ data layer


def test_runs_status_progress_and_headline(store):
    df = dd.runs(connect(store)).set_index("run_id")
    assert df.loc["run-done", "status"] == "finished" and df.loc["run-live", "status"] == "incomplete"
    assert df.loc["run-done", "iterations_done"] == 2 and df.loc["run-live", "iterations_done"] == 1
    assert df.loc["run-live", "iterations_planned"] == 3
    assert df.loc["run-live", "last_stage"] == "evaluate 1"
    assert df.loc["run-done", "gold_win_rate"] == 0.75 and df.loc["run-live", "gold_win_rate"] == 0.5625
    assert pd.isna(df.loc["run-done", "lc_win_rate"])  # metric not stored: empty, not an error


def test_histogram_counts_every_sample_once(store):
    con = connect(store)
    hist = dd.score_histogram(con, "run-done", "rm", "rollout", bins=7)
    assert hist.groupby("iteration")["count"].sum().to_dict() == {1: 8, 2: 8}
    assert hist.groupby("iteration")["share"].sum().tolist() == pytest.approx([1.0, 1.0])
    rms = [s[1] for t in (1, 2) for i in range(4) for s in SAMPLES[(t, i)]]
    assert hist.bin_left.min() == pytest.approx(min(rms)) and hist.bin_right.max() == pytest.approx(max(rms))
    margins = dd.margin_histogram(con, "run-done")
    assert set(margins.iteration) == {1, 2} and margins["count"].sum() == 8


def test_length_fit_matches_numpy(store):
    fit = dd.length_reward_fit(connect(store), "run-done", "rm", "rollout").set_index("iteration")
    for t in (1, 2):
        chars = [len(s[0]) for i in range(4) for s in SAMPLES[(t, i)]]
        rm = [s[1] for i in range(4) for s in SAMPLES[(t, i)]]
        assert fit.loc[t, "corr"] == pytest.approx(np.corrcoef(chars, rm)[0, 1])
        slope, intercept = np.polyfit(chars, rm, 1)
        assert fit.loc[t, "slope"] == pytest.approx(slope) and fit.loc[t, "intercept"] == pytest.approx(intercept)
        assert fit.loc[t, "mean_chars"] == pytest.approx(np.mean(chars))


def _margins() -> dict[str, float]:
    return {f"dpo{t}-{i}": SAMPLES[(t, i)][0][1] - SAMPLES[(t, i)][1][1] for t in (1, 2) for i in range(4)}


def test_pair_filters(store):
    con = connect(store)
    total, df = dd.browse_pairs(con, "run-done", [1, 2])
    assert total == 8 and list(df.margin) == sorted(df.margin, reverse=True)
    # gold disagrees with the RM's pick on (1, 2) and (2, 0)
    total, df = dd.browse_pairs(con, "run-done", [1, 2], agreement="gold disagrees")
    assert total == 2 and set(df.pair_id) == {"dpo1-2", "dpo2-0"}
    total, _ = dd.browse_pairs(con, "run-done", [1, 2], section="chat")
    assert total == 4
    total, df = dd.browse_pairs(con, "run-done", [2], length_diff=(21, 1000))
    longer = {f"dpo2-{i}" for i in range(4) if len(SAMPLES[(2, i)][0][0]) - len(SAMPLES[(2, i)][1][0]) >= 21}
    assert set(df.pair_id) == longer == {"dpo2-0", "dpo2-2", "dpo2-3"} and total == 3
    total, df = dd.browse_pairs(con, "run-done", [1, 2], margin=(0.4, 1.0), limit=2, offset=1)
    ranked = sorted(_margins().items(), key=lambda kv: (-kv[1], kv[0]))
    wide = [pid for pid, m in ranked if 0.4 <= m <= 1.0]
    assert total == len(wide) == 5 and list(df.pair_id) == wide[1:3]  # the second and third of the ranking
    # user text is a parameter, never SQL: a hostile section string just matches nothing
    assert dd.browse_pairs(con, "run-done", [1], section="chat' OR 1=1 --")[0] == 0
    with pytest.raises(ValueError, match="agreement"):
        dd.browse_pairs(con, "run-done", [1], agreement="drop table")


def test_gold_agreement_by_section(store):
    df = dd.pair_gold_agreement(connect(store), ["run-done"]).set_index(["iteration", "scorer", "section"])
    assert df.loc[(1, "rm", "reasoning"), "accuracy"] == 0.5 and df.loc[(1, "rm", "chat"), "accuracy"] == 1.0
    assert df.loc[(2, "rm", "reasoning"), "accuracy"] == 0.5 and df.loc[(2, "rm", "chat"), "n"] == 2
    assert df.loc[(0, "annotator", "chat"), "accuracy"] == 0.5 and df.loc[(0, "annotator", "chat"), "n"] == 2
    row = df.loc[(1, "rm", "chat")]
    assert 0 < row.ci_low < row.accuracy == 1.0 and row.ci_high == pytest.approx(1.0)


def test_optional_tables_degrade_and_light_up(store):
    con = connect(store)
    assert dd.optional(con, "rm_eval", dd.rm_eval, ["run-done"]) is None  # no such table yet
    con.execute("CREATE OR REPLACE VIEW rm_eval AS "
                "SELECT 'run-done' AS run_id, 'bt' AS model, 'chat' AS section, 0.8 AS accuracy")
    df = dd.optional(con, "rm_eval", dd.rm_eval, ["run-done"])
    assert df.to_dict("records") == [{"run_id": "run-done", "model": "bt", "section": "chat", "accuracy": 0.8}]
    con.execute("CREATE OR REPLACE VIEW labels AS SELECT 'run-done' AS run_id, 'x' AS who")  # lacks the panel's columns
    assert dd.optional(con, "labels", dd.labels_summary, ["run-done"]) is None


def test_store_version_changes_when_a_segment_lands(tmp_path):
    before = store_version(tmp_path)
    RunStore(tmp_path, "r").write([Metric("r", 0, "x", 1.0)], "a")
    after = store_version(tmp_path)
    assert after != before and after[0] == 1
    # narrowed to one run's tables (the viewer's cache key): another run's or another table's segment leaves it
    mine = store_version(tmp_path, "r", ("metrics",))
    RunStore(tmp_path, "other").write([Metric("other", 0, "x", 1.0)], "a")
    RunStore(tmp_path, "r").write([Stage("r", "world", 0, 1.0, datetime.now())], "b")
    assert store_version(tmp_path, "r", ("metrics",)) == mine == (1, mine[1], mine[2])
    assert store_version(tmp_path)[0] == 3
    # a run id holding glob characters (from a config name) is matched literally
    RunStore(tmp_path, "lr[2e-3]-x").write([Metric("lr[2e-3]-x", 0, "x", 1.0)], "a")
    assert store_version(tmp_path, "lr[2e-3]-x", ("metrics",))[0] == 1


def test_config_diff_shows_only_differences():
    diff = dd.config_diff({"a": {"name": "quick", "loop": {"iterations": 2, "length_penalty": 0.0}},
                           "b": {"name": "quick", "loop": {"iterations": 3, "length_penalty": 0.0}}})
    assert diff.index.tolist() == ["loop.iterations"] and diff.loc["loop.iterations"].tolist() == [2, 3]


# ------------------------------------------------------------------------------------------------ pages


def test_runs_page(app):
    at = app("Runs", ["run-done", "run-live"])
    table = at.dataframe[0].value.set_index("run_id")
    assert table.loc["run-done", "status"] == "finished" and table.loc["run-live", "status"] == "incomplete"
    metrics = {(m.label, m.value) for m in at.metric}
    assert ("gold_win_rate", "0.7500") in metrics and ("gold_win_rate", "0.5625") in metrics
    assert ("iterations", "2 / 2") in metrics and ("iterations", "1 / 3") in metrics
    assert ("status", "incomplete") in metrics
    assert len(at.get("progress")) == 1  # the run in progress only
    diff = at.dataframe[1].value
    assert "loop.iterations" in diff.index and "loop.length_penalty" in diff.index
    assert charts(at) == 1  # stage times


def test_curves_page(app):
    at = app("Curves", ["run-done"])
    table = frame(at, "iteration", "gold_win_rate").set_index("iteration")
    for t, ms in METRICS_DONE.items():
        assert table.loc[t, "gold_win_rate"] == ms["gold_win_rate"]
        assert table.loc[t, "rm_reward"] == ms["rm_reward"]
    # overoptimization + gold_win_rate + mean_length_chars; the rest say so
    assert charts(at) == 3
    missing = infos(at)
    for metric in ("lc_win_rate", "kl_to_ref", "alignment_tax", "reward_length_corr", "evals"):
        assert any(metric in i and i.startswith("no data yet") for i in missing)
    at.selectbox(key="curves_section").set_value("chat").run()
    table = frame(at, "iteration", "gold_win_rate").set_index("iteration")
    assert table.gold_win_rate.tolist() == [0.5, 0.75, 0.875]


def test_distributions_page(app):
    at = app("Reward distributions", ["run-done"])
    summary = frame(at, "iteration", "n", "mean").set_index("iteration")
    rm1 = [s[1] for i in range(4) for s in SAMPLES[(1, i)]]
    assert summary.loc[1, "n"] == 8 and summary.loc[1, "mean"] == pytest.approx(np.mean(rm1))
    cr = frame(at, "chosen_mean", "rejected_mean").set_index("iteration")
    assert cr.loc[2, "chosen_mean"] == pytest.approx(np.mean([SAMPLES[(2, i)][0][1] for i in range(4)]))
    assert cr.loc[2, "rejected_mean"] == pytest.approx(np.mean([SAMPLES[(2, i)][1][1] for i in range(4)]))
    assert charts(at) == 3
    at.selectbox(key="dist_scorer").set_value("gold").run()
    summary = frame(at, "iteration", "n", "mean").set_index("iteration")
    assert summary.loc[2, "mean"] == pytest.approx(np.mean([s[2] for i in range(4) for s in SAMPLES[(2, i)]]))


def test_length_page(app):
    at = app("Length bias", ["run-done"])
    fit = frame(at, "corr", "slope").set_index("iteration")
    chars = [len(s[0]) for i in range(4) for s in SAMPLES[(2, i)]]
    rm = [s[1] for i in range(4) for s in SAMPLES[(2, i)]]
    assert fit.loc[2, "corr"] == pytest.approx(np.corrcoef(chars, rm)[0, 1])
    assert fit.loc[2, "corr"] > 0.5  # the fixture's length bias is visible
    assert charts(at) == 2  # scatter + mean length
    assert any("lc_win_rate" in i for i in infos(at))


def test_pairs_page(app):
    at = app("Pairs", ["run-done"])
    assert any(m.value == "**8** pairs match" for m in at.markdown)
    table = frame(at, "pair_id", "chosen", "rejected")
    ranked = sorted(_margins().items(), key=lambda kv: (-kv[1], kv[0]))
    assert table.pair_id.tolist() == [pid for pid, _ in ranked]
    assert table.margin.tolist() == pytest.approx([m for _, m in ranked])
    at.selectbox(key="pairs_agree").set_value("gold disagrees").run()
    assert any(m.value == "**2** pairs match" for m in at.markdown)
    at.selectbox(key="pairs_pick").set_value("dpo2-0").run()
    texts = [t.value for t in at.text]
    assert "Great question! It is 12." in texts and "12." in texts
    at.multiselect(key="pairs_it").set_value([0]).run()
    at.selectbox(key="pairs_agree").set_value("any").run()
    assert any(m.value == "**2** pairs match" for m in at.markdown)  # the two annotator pairs


def test_reward_model_page(app):
    at = app("Reward model", ["run-done"])
    agree = frame(at, "accuracy", "ci_low").set_index(["iteration", "scorer", "section"])
    assert agree.loc[(1, "rm", "chat"), "accuracy"] == 1.0 and agree.loc[(2, "rm", "reasoning"), "accuracy"] == 0.5
    train = frame(at, "rm_train_accuracy")
    assert train.rm_train_accuracy.tolist() == [0.625]
    notes = infos(at)
    assert any("rm_eval" in i for i in notes) and any("labels" in i for i in notes)


def test_empty_store_says_how_to_start(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("No runs under" in i for i in infos(at))


def test_page_follows_a_run_as_it_writes(tmp_path, monkeypatch):
    """Live: a segment written after the page opened shows on the next rerun (the cache is keyed on the store)."""
    from streamlit.testing.v1 import AppTest

    build(tmp_path)
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.sidebar.multiselect(key="runs").set_value(["run-live"]).run()
    assert ("iterations", "1 / 3") in {(m.label, m.value) for m in at.metric}
    from workbench.records import Stage

    RunStore(tmp_path, "run-live").write([Stage("run-live", "iteration", 2, 3.0, pd.Timestamp("2026-01-01 13:00"))],
                                         "iteration-002")
    at.sidebar.button(key="refresh").click().run()
    assert ("iterations", "2 / 3") in {(m.label, m.value) for m in at.metric}


# ------------------------------------------------------------------------------------------------ a real run


@pytest.fixture(scope="module")
def quick_store(quick_cli_run):
    """The session's quick run (conftest.py): the dashboard only reads it."""
    return quick_cli_run


def test_quick_run_pages_show_the_stored_numbers(quick_store, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from workbench.store import query

    root, run_id = quick_store
    monkeypatch.setenv("WORKBENCH_ROOT", str(root))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert ("status", "finished") in {(m.label, m.value) for m in at.metric}
    _, rows = query(root, "select value from metrics where name = 'gold_win_rate' order by iteration desc limit 1")
    assert ("gold_win_rate", f"{rows[0][0]:.4f}") in {(m.label, m.value) for m in at.metric}

    at.sidebar.radio(key="page").set_value("Curves").run()
    assert not at.exception
    shown = frame(at, "iteration", "gold_win_rate").set_index("iteration")
    _, rows = query(root, "select iteration, name, value from metrics where name not like '%.%'")
    for it, name, value in rows:
        assert shown.loc[it, name] == pytest.approx(value)

    at.sidebar.radio(key="page").set_value("Reward model").run()
    assert not at.exception
    agree = frame(at, "accuracy", "ci_low")
    annot = agree[agree.iteration == 0]  # the reward data, each pair under its labeller (verifier, safety, ...)
    assert set(annot.scorer) == {"verifier", "safety", "annotator", "human"}
    _, rows = query(root, "select value from metrics where name = 'annotator_gold_agreement'")
    assert annot.agree.sum() / annot.n.sum() == pytest.approx(rows[0][0])  # the page recomputes the stored metric

    assert at.get("plotly_chart")  # the drift panel among them: its data is the stored rm_policy_accuracy
    drift = dd.rm_drift(connect(root), [run_id]).set_index(["iteration", "section"]).value
    _, rows = query(root, "select iteration, name, value from metrics where name like 'rm_policy_accuracy%' "
                          "and not isnan(value)")
    assert len(drift) == len(rows) > 0
    for it, name, value in rows:
        assert drift[(it, name.partition(".")[2] or "all")] == pytest.approx(value)

    at.sidebar.radio(key="page").set_value("Pairs").run()
    assert not at.exception
    _, rows = query(root, "select count(*) from pairs where rule = 'best_worst'")
    assert any(m.value == f"**{rows[0][0]}** pairs match" for m in at.markdown)

    for page in ("Reward distributions", "Length bias"):
        at.sidebar.radio(key="page").set_value(page).run()
        assert not at.exception and not at.error
        assert len(at.get("plotly_chart")) >= 2

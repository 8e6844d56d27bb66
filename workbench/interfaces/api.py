"""The notebook API: one object over a store root that starts runs, returns tables as DataFrames and draws the
dashboard's figures. A thin layer: stages are `workbench.pipeline.run.Pipeline`'s, queries
`workbench.interfaces.dashboard_data`'s, charts `workbench.interfaces.figures`' and the metrics table the CLI's, so a
notebook shows exactly what the CLI stores and the dashboard draws.

    from workbench.interfaces.api import Workbench
    wb = Workbench("runs")                                     # or Workbench() → $WORKBENCH_ROOT, else a temp dir
    p = wb.new_run("quick", ["loop.length_penalty=0.01"])     # a Pipeline: p.world(); p.pretrain(); p.sft(); ...
    p.run()                                                    # the stages not yet recorded
    wb.metrics(p.run_id)                                       # the table `workbench run` prints
    wb.table("pairs", p.run_id)                                # any store table as a DataFrame
    wb.plot_curve([p.run_id], "gold_win_rate")                 # the dashboard's chart

`run(..., reuse=True)` returns a finished run of the same resolved config already under the root instead of
training again (same config and seed give the same numbers), so notebooks that share a root share a baseline.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from workbench.config import RunConfig, load_config
from workbench.records import TABLES

ROOT_ENV = "WORKBENCH_ROOT"


def default_root() -> Path:
    """$WORKBENCH_ROOT if set (`workbench notebook --root DIR` sets it), else <temp dir>/workbench-notebooks."""
    env = os.environ.get(ROOT_ENV)
    return Path(env) if env else Path(tempfile.gettempdir()) / "workbench-notebooks"


class Workbench:
    """Runs, tables and figures of one store root."""

    def __init__(self, root: str | Path | None = None, log=print):
        self.root = Path(root) if root is not None else default_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.log = log

    def __repr__(self) -> str:
        return f"Workbench({str(self.root)!r})"

    # -- configs and runs --------------------------------------------------------------------------------------

    @staticmethod
    def config(preset: str | None = "quick", overrides: list[str] = (), path: str | Path | None = None) -> RunConfig:
        """`load_config`: defaults ← preset (or a YAML file at `path`) ← `key=value` overrides."""
        return load_config(preset=None if path else preset, path=path, overrides=list(overrides))

    def _cfg(self, preset, overrides) -> RunConfig:
        if isinstance(preset, RunConfig):
            if overrides:
                raise ValueError("overrides apply to a preset name; pass them to Workbench.config(...) instead")
            return preset
        return self.config(preset, overrides)

    def new_run(self, preset: str | RunConfig = "quick", overrides: list[str] = ()):
        """A fresh `Pipeline` (a new run id) under this root: call its stages one by one, or `.run()`."""
        from workbench.pipeline.run import Pipeline

        return Pipeline(self._cfg(preset, overrides), self.root, log=self.log)

    def resume(self, run_id: str):
        """The `Pipeline` of a stored run, with its stored config; `.run()` continues at the first missing stage."""
        from workbench.pipeline.run import Pipeline

        return Pipeline.resume(self.root, run_id, log=self.log)

    def fork(self, run_id: str, overrides: list[str] = ()):
        """A new `Pipeline` that shares `run_id`'s π0, reward model and π0 evaluation (`Pipeline.fork`), with that
        run's config and `overrides`; `.run()` runs its loop. How one run's iterations are compared with another
        setting's, e.g. `wb.fork(run, ["loop.rm_refresh=true"]).run()`. Overrides of the loop, DPO and rollout
        settings share everything; overrides of what only the reward stage reads (annotator, judges, reward, eval)
        keep π0 and train the fork's own RM, e.g. `wb.fork(run, ["reward.labels=single"])`."""
        from workbench.config import load_config
        from workbench.pipeline.run import Pipeline

        cfg = load_config(path=self.root / run_id / "config.yaml", overrides=list(overrides))
        return Pipeline.fork(self.resume(run_id), cfg, log=self.log)

    def find_run(self, preset: str | RunConfig = "quick", overrides: list[str] = ()) -> str | None:
        """The newest finished run under this root whose resolved config equals this one, else None."""
        from workbench.pipeline.reuse import finished_run

        return finished_run(self.root, self._cfg(preset, overrides), newest=True)

    def run(self, preset: str | RunConfig = "quick", overrides: list[str] = (), reuse: bool = False) -> str:
        """Run the whole pipeline and return the run id; with `reuse`, a finished run of the same config is
        returned as it is."""
        if reuse:
            found = self.find_run(preset, overrides)
            if found:
                self.log(f"[workbench] reusing finished run {found} (same config) under {self.root}")
                return found
        return self.new_run(preset, overrides).run()

    # -- tables ------------------------------------------------------------------------------------------------

    def connect(self, run_id: str | None = None):
        """`workbench.store.connect`: an in-memory DuckDB with one view per table (safe while a run writes)."""
        from workbench.store import connect

        return connect(self.root, run_id)

    def sql(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """One read-only statement over every run under the root (`workbench sql`), as a DataFrame."""
        from workbench.store import query

        names, rows = query(self.root, sql, params)
        return pd.DataFrame.from_records(rows, columns=names)

    def table(self, name: str, run_id: str | None = None) -> pd.DataFrame:
        """Every row of one store table (one run's, or all runs')."""
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r} (tables: {', '.join(TABLES)})")
        if run_id is None:
            return self.sql(f"SELECT * FROM {name}")
        return self.sql(f"SELECT * FROM {name} WHERE run_id = ?", [run_id])

    def runs(self) -> pd.DataFrame:
        """One row per run with status and the latest headline metrics (the dashboard's Runs page)."""
        return self.panel("runs")

    def metrics(self, run_id: str) -> pd.DataFrame:
        """One row per iteration with the headline metrics, exactly the table `workbench run` prints."""
        from workbench.evaluation.metrics import metrics_table

        names, rows = metrics_table(str(self.root), run_id)
        return pd.DataFrame.from_records(rows, columns=names)

    def curves(self, run_ids: str | list[str], section: str | None = None) -> pd.DataFrame:
        """Every metric of the runs in long form (run_id, iteration, name, value); `metrics_wide` pivots it."""
        return self.panel("metric_curves", _ids(run_ids), section)

    def agreement(self, run_id: str | None = None, labeler: str | None = None) -> pd.DataFrame:
        """Agreement between human labels, the RM, the annotator and gold (`agreement.store_agreement`)."""
        import dataclasses

        from workbench.evaluation.agreement import AgreementRow, store_agreement

        rows = store_agreement(self.root, run_id, labeler)
        cols = [f.name for f in dataclasses.fields(AgreementRow)]
        return pd.DataFrame([dataclasses.asdict(r) for r in rows], columns=cols)

    def panel(self, fn: str, *args, table: str | None = None, **kwargs) -> pd.DataFrame | None:
        """One `workbench.interfaces.dashboard_data` query by name, e.g. `panel("length_reward_fit", run_id)`, on a
        fresh connection (so it sees every segment written so far). With `table`, None when that table has no rows yet
        (`dashboard_data.optional`, what the dashboard shows as "no data yet")."""
        from workbench.interfaces import dashboard_data

        if not callable(getattr(dashboard_data, fn, None)):
            raise ValueError(f"workbench.interfaces.dashboard_data has no query {fn!r}")
        con = self.connect()
        try:
            if table is not None:
                return dashboard_data.optional(con, table, getattr(dashboard_data, fn), *args, **kwargs)
            return getattr(dashboard_data, fn)(con, *args, **kwargs)
        finally:
            con.close()

    def experiments(self) -> pd.DataFrame:
        """One row per `workbench experiment` under the root (the dashboard's Experiments page), newest first."""
        return self.panel("experiments")

    def experiment_table(self, experiment_id: str) -> pd.DataFrame:
        """The experiment's arms table, cell for cell as `workbench experiment` printed it (mean ± sd over seeds)."""
        return self.panel("experiment_table", experiment_id)

    def experiment_seed_values(self, experiment_id: str) -> pd.DataFrame:
        """The per-seed values behind each cell of `experiment_table` (one row per arm and seed)."""
        from workbench.interfaces import dashboard_data

        return dashboard_data.experiment_seed_values(self.panel("experiment_curves", experiment_id))

    # -- figures (the dashboard's) -----------------------------------------------------------------------------

    def plot_curve(self, run_ids: str | list[str], metric: str, section: str | None = None):
        """One line per run of `metric` over iterations."""
        from workbench.interfaces import figures

        return figures.metric_lines(self.curves(run_ids, section), metric)

    def plot_overoptimization(self, run_ids: str | list[str]):
        """RM reward (proxy) next to gold utility (truth) per iteration."""
        from workbench.interfaces import figures

        return figures.overoptimization(self.curves(run_ids))

    def plot_win_rates(self, run_ids: str | list[str]):
        """Raw gold win rate next to the length-controlled win rate."""
        from workbench.interfaces import figures

        return figures.win_rates_side_by_side(self.curves(run_ids))

    def plot_length_vs_score(self, run_id: str, scorer: str = "rm", purpose: str = "rollout", n: int = 3000):
        """Length (chars) vs a scorer's value per iteration, with each iteration's fit and correlation."""
        from workbench.interfaces import figures

        return figures.length_scatter(self.panel("length_reward_sample", run_id, scorer, purpose, n),
                                      self.panel("length_reward_fit", run_id, scorer, purpose), ylabel=scorer)

    def plot_score_histogram(self, run_id: str, scorer: str = "rm", purpose: str = "rollout", bins: int = 40):
        """Distribution of a scorer's values per iteration."""
        from workbench.interfaces import figures

        return figures.histogram(self.panel("score_histogram", run_id, scorer, purpose, bins), xlabel=scorer,
                                 title=f"{scorer} score of all {purpose} samples, per iteration")

    def plot_pair_gold_agreement(self, run_ids: str | list[str]):
        """How often the judge that picked each pair agrees with gold, by section (the Reward model page)."""
        from workbench.interfaces import figures

        df = self.panel("pair_gold_agreement", _ids(run_ids))
        return figures.accuracy_by_section(df.assign(judge=df.scorer + " · it " + df.iteration.astype(str)),
                                           color="judge")


    def plot_rm_drift(self, run_ids: str | list[str]):
        """The RM's accuracy on π_t's own samples per iteration and section (`rm_policy_accuracy`)."""
        from workbench.interfaces import figures

        return figures.rm_drift(self.panel("rm_drift", _ids(run_ids)))

    def plot_experiment(self, experiment_id: str, metric: str = "gold_win_rate"):
        """One line per arm of `metric` over iterations (mean over seeds) with the seeds' range as a band."""
        from workbench.interfaces import figures

        return figures.experiment_band(self.panel("experiment_curves", experiment_id), metric)

def _ids(run_ids: str | list[str]) -> list[str]:
    return [run_ids] if isinstance(run_ids, str) else list(run_ids)

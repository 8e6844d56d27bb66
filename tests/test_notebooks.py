"""The notebooks, executed top to bottom with nbclient on the quick preset, and what the notebook API adds.

All four notebooks share one store root, in order: 01 makes a quick run stage by stage; 02, 03 and 04 reuse it
(`Workbench.run(..., reuse=True)`), 02 adds a run with a length penalty, 03 the first stages of a run that also trains
the preference model, and 04 the first stages of a run whose reward model trains on the labels it writes. Each
notebook's own assertion cells check its numbers against the store; a failing cell fails the test with the cell's
error. Execution times are printed.
"""

import json
import sys
import time
from pathlib import Path

import pytest

from workbench.interfaces import notebooks as nbs
from workbench.interfaces.api import Workbench

REPO = Path(__file__).resolve().parent.parent
NAMES = ["01_quickstart", "02_length_bias", "03_reward_models", "04_human_labels"]
KERNEL = "workbench-tests"


@pytest.fixture(scope="module")
def nb_env(tmp_path_factory):
    """A kernel spec that runs this interpreter (CI's venv) with this source tree first on the path, and the shared
    store root the notebooks find in $WORKBENCH_ROOT."""
    mp = pytest.MonkeyPatch()
    jupyter = tmp_path_factory.mktemp("jupyter")
    spec = jupyter / "kernels" / KERNEL
    spec.mkdir(parents=True)
    pythonpath = ":".join(p for p in (str(REPO), __import__("os").environ.get("PYTHONPATH", "")) if p)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "workbench tests", "language": "python", "env": {"PYTHONPATH": pythonpath},
    }))
    root = tmp_path_factory.mktemp("notebook-runs")
    mp.setenv("JUPYTER_PATH", str(jupyter))
    mp.setenv("WORKBENCH_ROOT", str(root))
    mp.setenv("TOKENIZERS_PARALLELISM", "false")
    yield root
    mp.undo()


def execute(path: Path, cwd: Path):
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=900, resources={"metadata": {"path": str(cwd)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError naming the cell and its traceback
    return nb, time.perf_counter() - start


@pytest.fixture(scope="module")
def executed(nb_env, tmp_path_factory, request):
    """Every notebook executed once, in order: name → (executed notebook or None, seconds, error or None)."""
    capman = request.config.pluginmanager.getplugin("capturemanager")
    out = {}
    for name in NAMES:
        cwd = tmp_path_factory.mktemp(name)
        try:
            nb, seconds = execute(nbs.find(name), cwd)
            out[name] = (nb, seconds, None)
        except Exception as e:  # CellExecutionError (names the cell, with its traceback), a dead kernel, a timeout
            out[name] = (None, 0.0, f"{type(e).__name__}: {e}")
        assert not list(cwd.iterdir()), f"{name} wrote into its working folder instead of the store root"
        with capman.global_and_fixture_disabled():
            took = f"{out[name][1]:.1f}s" if out[name][2] is None else "FAILED"
            print(f"\n[notebooks] {name}: {took}", flush=True)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, executed):
    nb, _, error = executed[name]
    assert error is None, error
    assert any(o.get("output_type") in ("execute_result", "display_data")
               for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_notebooks_shared_one_baseline(nb_env, executed):
    """Reuse worked: the baseline, the λ run, the PM run and the extra_pairs run, nothing trained twice, plus
    notebook 03's fork of its run with the RM refreshed online (the same world and reward stage)."""
    runs = Workbench(nb_env).table("runs")
    assert len(runs) == 5, runs[["run_id", "config"]]
    configs = [json.loads(c) for c in runs.config]
    [fork] = [c for c in configs if c["loop"]["rm_refresh"]]
    configs.remove(fork)
    assert fork["loop"]["refresh_pairs"] == 40
    assert any(c["world"] == fork["world"] and c["reward"] == fork["reward"] for c in configs)
    assert sorted(c["loop"]["length_penalty"] for c in configs) == [0.0, 0.0, 0.0, 0.01]
    assert sorted(c["reward"]["extra_pairs"] for c in configs) == [[], [], [], ["human"]]
    assert sorted(c["reward"]["train_pm"] for c in configs) == [False, False, False, True]


def test_api_stage_by_stage_matches_the_cli_run(nb_env, executed, quick_cli_run):
    """Notebook 01's run, made one stage at a time through `Workbench.new_run`, equals `workbench run --preset quick`:
    the metrics table (`Workbench.metrics`, what the CLI prints) and the pairs, value for value."""
    cli_root, cli_run = quick_cli_run
    wb, cli = Workbench(nb_env), Workbench(cli_root)
    mine = wb.find_run("quick")  # 01's run: 02-04 reused it (test above)
    stages = wb.table("stages", mine).sort_values("finished_at").stage.tolist()
    assert stages[:4] == ["world", "pretrain", "sft", "reward"]
    a, b = wb.metrics(mine), cli.metrics(cli_run)
    assert list(a.columns) == list(b.columns) and len(a) == len(b) == 3
    assert a.drop(columns="iteration").to_numpy() == pytest.approx(b.drop(columns="iteration").to_numpy(), nan_ok=True)
    cols = ["pair_id", "chosen_id", "rejected_id", "margin"]
    pa = wb.table("pairs", mine).sort_values("pair_id")[cols].reset_index(drop=True)
    pb = cli.table("pairs", cli_run).sort_values("pair_id")[cols].reset_index(drop=True)
    assert pa[cols[:3]].equals(pb[cols[:3]])
    assert pa.margin.to_numpy() == pytest.approx(pb.margin.to_numpy())


def test_api_reuse_tables_and_errors(quick_cli_run, tmp_path):
    root, run_id = quick_cli_run
    wb = Workbench(root, log=lambda *_: None)
    assert wb.find_run("quick") == run_id
    assert wb.run("quick", reuse=True) == run_id  # returns at once: no new run folder
    assert wb.find_run("quick", ["loop.length_penalty=0.5"]) is None
    assert wb.find_run(wb.config("quick")) == run_id
    metrics = wb.metrics(run_id)
    stored = wb.sql("select value from metrics where run_id = ? and name = 'gold_win_rate' order by iteration",
                    [run_id])
    assert list(metrics.gold_win_rate) == list(stored.value)
    gens = wb.table("generations", run_id)
    assert len(gens) == wb.sql("select count(*) as n from generations where run_id = ?", [run_id]).n[0] > 0
    assert wb.table("labels").empty and list(wb.table("labels").columns)[:2] == ["run_id", "label_id"]
    with pytest.raises(ValueError, match="unknown table 'pair'"):
        wb.table("pair")
    with pytest.raises(ValueError, match="no query 'nope'"):
        wb.panel("nope")
    rm = wb.panel("rm_eval", [run_id], table="rm_eval")  # the reward stage evaluates BT by section
    assert set(rm.model) == {"bt"} and "all" in set(rm.section)
    assert wb.panel("labels_summary", [run_id], table="labels") is None  # nobody labelled: "no data yet"
    fig = wb.plot_curve(run_id, "gold_win_rate")
    assert [list(t.y) for t in fig.data] == [list(stored.value)]
    assert len(Workbench(tmp_path / "empty").runs()) == 0


def test_stored_notebooks_have_no_outputs():
    paths = nbs.notebooks()
    assert [p.stem for p in paths] == NAMES
    assert not [p.name for p in paths if nbs.has_outputs(p)], "run `workbench notebook --strip` before committing"


def test_strip_removes_outputs(tmp_path):
    import nbformat

    src = nbs.find("01")
    nb = nbformat.read(src, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="hello\n")]
    nb.cells[1].execution_count = 3
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.2"}
    copy = tmp_path / src.name
    nbformat.write(nb, copy)
    assert nbs.has_outputs(copy)
    assert nbs.strip(copy) is True
    assert not nbs.has_outputs(copy)
    assert copy.read_text() == src.read_text()  # back to the stored file, byte for byte
    assert nbs.strip(copy) is False
    (tmp_path / "bad.ipynb").write_text("{}")
    with pytest.raises(ValueError, match="bad.ipynb: not a Jupyter notebook"):
        nbs.strip(tmp_path / "bad.ipynb")
    with pytest.raises(FileNotFoundError, match="matches several"):
        nbs.find("0")

"""The viewer end to end: a finished quick run, `workbench label` served on a free localhost port, driven by
gradio_client and by headless Chromium; labels read back with `workbench sql`, exported, and trained on."""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from testing_utils import free_port, listening, serve_viewer, stop

from workbench.data import labels as D
from workbench.evaluation import agreement as A
from workbench.interfaces import labeling as L

CLI = [sys.executable, "-m", "workbench"]
STATUS = re.compile(r"pair `?(?P<pair>[^`\s]+)`? · iteration (?P<it>\d+) · section \S+ · (?P<left>\d+) left in queue")


@pytest.fixture(scope="module")
def quick_store(quick_copy):
    """A copy of the session's quick run (conftest.py): this module writes labels into it."""
    return quick_copy


@pytest.fixture(scope="module")
def viewer(quick_store):
    root, run_id = quick_store
    proc, url = serve_viewer(root)
    yield root, run_id, url
    stop(proc)


def _sql(root, sql):
    out = subprocess.run(CLI + ["sql", "--root", str(root), "--json", sql], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _client(url, **kw):
    from gradio_client import Client

    return Client(url, verbose=False, **kw)


def test_fetch_an_item_label_it_and_find_it_with_sql(viewer):
    root, run_id, url = viewer
    c = _client(url)
    status, prompt, a, b, comment = c.predict("ann", run_id, "uncertain", api_name="/next")
    first = STATUS.search(status)
    assert first, status
    pair = first["pair"]
    assert prompt and comment == ""
    hostile = "<script>alert('x')</script> '; drop table labels; -- **bold**"
    status2, *_ = c.predict("ann", run_id, "uncertain", hostile, api_name="/label_a")
    second = STATUS.search(status2)
    assert second["pair"] != pair and int(second["left"]) == int(first["left"]) - 1
    (row,) = _sql(root, "select l.pair_id, l.choice, l.comment, l.queue, l.preferred_id = l.displayed_left as ok, "
                        "g.text as left_text from labels l join generations g "
                        "on g.run_id = l.run_id and g.generation_id = l.displayed_left where l.labeler = 'ann'")
    assert row == {"pair_id": pair, "choice": "A", "comment": hostile, "queue": "uncertain", "ok": True, "left_text": a}
    # the uncertain queue starts with the loop pair the RM separates least
    items = L.order_queue(D.load_items(root, run_id), "uncertain")
    assert pair == items[0].pair_id


def test_two_clients_labelling_the_same_queue_lose_nothing(viewer):
    """Two clients under one name (two tabs of one person) and two people, all at once, on the same queue."""
    root, run_id, url = viewer
    submitted: dict[str, list[str]] = {}
    errors = []

    def label(name, key, n):
        try:
            c = _client(url)
            status, *_ = c.predict(name, run_id, "random", api_name="/next")
            mine = submitted.setdefault(key, [])
            for k in range(n):
                mine.append(STATUS.search(status)["pair"])
                status, *_ = c.predict(name, run_id, "random", f"{key} {k}", api_name=["/label_a", "/label_b"][k % 2])
        except Exception as e:  # surfaced below
            errors.append(repr(e))

    jobs = [("duo", "duo-1", 8), ("duo", "duo-2", 8), ("pat", "pat", 6), ("quinn", "quinn", 6)]
    threads = [threading.Thread(target=label, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    duo = _sql(root, "select pair_id, comment from labels where labeler = 'duo'")
    assert len(duo) == 16
    assert sorted(r["pair_id"] for r in duo) == sorted(submitted["duo-1"] + submitted["duo-2"])
    assert len({r["pair_id"] for r in duo}) == 16  # no pair handed to both tabs, no duplicate rows
    for name in ("pat", "quinn"):
        rows = _sql(root, f"select pair_id from labels where labeler = '{name}'")
        assert sorted(r["pair_id"] for r in rows) == sorted(submitted[name])
    totals = _sql(root, "select count(*) as n, count(distinct label_id) as ids from labels")
    assert totals[0]["n"] == totals[0]["ids"]


def test_agreement_panel_matches_the_library(viewer):
    root, run_id, url = viewer
    c = _client(url)
    table, counts = c.predict(run_id, api_name="/agreement")
    shown = {(r[0], r[1], r[2]): r[3] for r in table["data"]}
    expected = {(r.section, r.judge_a, r.judge_b): r.n for r in A.store_agreement(root, run_id)}
    assert shown == expected
    assert ("all", "human", "rm") in shown and shown[("all", "human", "rm")] >= 1
    assert "labels by" in counts
    from workbench.interfaces import dashboard_data as dd  # the dashboard's panel shows the same rows

    panel = dd.human_agreement(root, [run_id])
    assert {(r.section, r.judge_a, r.judge_b): r.n for r in panel.itertuples()} == expected


def test_annotator_verdicts_reproduce_the_runs_own_metric(quick_store):
    """Agreement of annotator and gold on the RM's training pairs equals the run's `annotator_gold_agreement`."""
    root, run_id = quick_store
    items = [i for i in D.load_items(root, run_id) if i.iteration == 0]
    (row,) = [r for r in A.agreement([A.Judged(i.section, i.verdicts) for i in items])
              if (r.section, r.judge_a, r.judge_b) == ("all", "annotator", "gold")]
    stored = _sql(root, "select value from metrics where name = 'annotator_gold_agreement'")[0]["value"]
    assert row.rate == pytest.approx(stored)


def test_chromium_clicks_a_better_and_sees_the_next_item(viewer, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    root, run_id, url = viewer
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium"),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.locator("#labeler textarea, #labeler input").first.fill("chromium")
            page.keyboard.press("Enter")
            status = page.locator("#status")
            expect(status).to_contain_text("left in queue", timeout=30_000)
            before = STATUS.search(status.inner_text())
            a_text = page.locator("#response-a textarea").input_value()
            left = int(before["left"])

            page.get_by_role("button", name="A better").click()
            expect(status).to_contain_text(f"{left - 1} left in queue", timeout=30_000)
            after = STATUS.search(status.inner_text())
            assert after["pair"] != before["pair"]
            page.screenshot(path=str(tmp_path / "viewer.png"), full_page=False)
            if os.environ.get("WORKBENCH_SCREENSHOTS"):  # =docs: the README's docs/viewer.png
                shutil.copy(tmp_path / "viewer.png", Path(os.environ["WORKBENCH_SCREENSHOTS"]) / "viewer.png")

            page.locator("h2").first.click()  # focus outside the text boxes, then the keyboard shortcut
            page.keyboard.press("b")
            expect(status).to_contain_text(f"{left - 2} left in queue", timeout=30_000)
        finally:
            browser.close()
    rows = _sql(root, "select pair_id, choice, displayed_left from labels where labeler = 'chromium' "
                      "order by created_at")
    assert [(r["pair_id"], r["choice"]) for r in rows] == [(before["pair"], "A"), (after["pair"], "B")]
    left_text = _sql(root, f"select text from generations where run_id = '{run_id}' "
                           f"and generation_id = '{rows[0]['displayed_left']}'")[0]["text"]
    assert left_text == a_text
    assert (tmp_path / "viewer.png").stat().st_size > 10_000
    shutil.copy(tmp_path / "viewer.png", tmp_path.parent / "viewer-last.png")


def test_export_feeds_reward_trainer(viewer, tmp_path):
    """`workbench label export --format trl` writes rows TRL's RewardTrainer trains on (one step, π0 as init)."""
    from datasets import load_dataset
    from trl import RewardConfig, RewardTrainer

    from workbench.config import load_config
    from workbench.models.lm import load_tokenizer, training_args
    from workbench.models.reward import load_reward_model

    root, run_id, _ = viewer
    out = tmp_path / "human.jsonl"
    done = subprocess.run(CLI + ["label", "export", "--format", "trl", "--root", str(root), "--out", str(out)],
                          capture_output=True, text=True, check=True)
    n_ab = _sql(root, "select count(*) as n from labels where choice in ('A', 'B')")[0]["n"]
    assert n_ab >= 10 and f"wrote {n_ab} pairs" in done.stdout
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == n_ab and all(set(r) == {"prompt", "chosen", "rejected"} for r in lines)
    assert all(r["prompt"].startswith("Q: ") and r["chosen"] != r["rejected"] for r in lines)

    cfg = load_config(preset="quick")
    models = root / run_id / "models"
    tok = load_tokenizer(models / "tokenizer")
    args = RewardConfig(**training_args(0, tmp_path / "rm", 1.0, 1e-4, 4, []), max_length=cfg.model.max_length)
    args.max_steps = 1
    trainer = RewardTrainer(model=load_reward_model(models / "sft", tok), args=args,
                            train_dataset=load_dataset("json", data_files=str(out), split="train"),
                            processing_class=tok)
    result = trainer.train()
    assert trainer.state.global_step == 1
    assert result.training_loss > 0 and result.training_loss == result.training_loss  # finite, not NaN


def test_reward_model_trains_on_human_pairs_from_the_config(viewer, tmp_path):
    """reward.extra_pairs=[human]: the reward stage of a new run in the same store adds the people's pairs."""
    from workbench.config import load_config
    from workbench.pipeline.run import Pipeline
    from workbench.store import query

    root, run_id, _ = viewer
    copy_root = tmp_path / "store"
    shutil.copytree(root / run_id, copy_root / run_id)
    n_human = len(D.human_pairs(copy_root))
    assert n_human >= 10
    cfg = load_config(preset="quick", overrides=["reward.extra_pairs=[human]", "world.n_pref=8"])
    pipeline = Pipeline(cfg, root=copy_root, run_id="next-run", log=lambda *_: None)
    store = pipeline.store
    models = root / run_id / "models"
    for name in ("sft", "tokenizer"):
        shutil.copytree(models / name, store.model_dir(name))
    pipeline.reward()
    annotator_pairs = query(copy_root, "select count(*) from pairs where run_id = 'next-run'")[1][0][0]
    trained_on = query(copy_root, "select value from metrics where run_id = 'next-run' and name = 'rm_train_pairs'")
    assert trained_on[1][0][0] == annotator_pairs + n_human
    assert (store.model_dir("rm") / "config.json").is_file()


def test_public_needs_a_password_and_a_password_closes_the_door(quick_store):
    root, run_id = quick_store
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_LABEL_PASSWORD"}
    out = subprocess.run(CLI + ["label", "--root", str(root), "--public", "--port", str(free_port())],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2 and "WORKBENCH_LABEL_PASSWORD" in out.stderr

    proc, url = serve_viewer(root, extra_env={"WORKBENCH_LABEL_PASSWORD": "s3cret"})
    try:
        from gradio_client.exceptions import AuthenticationError

        # Gradio's 401 on its config, not a server error (that one is a plain ValueError, "Could not fetch config")
        with pytest.raises(AuthenticationError, match="credentials were not provided"):
            _client(url).predict("eve", run_id, "random", api_name="/next")
        c = _client(url, auth=("ada", "s3cret"))
        status, *_ = c.predict("ada", run_id, "random", api_name="/next")
        assert STATUS.search(status)
    finally:
        stop(proc)


def test_default_binds_localhost_only(viewer):
    _, _, url = viewer
    assert listening(int(url.rsplit(":", 1)[1])) == ["127.0.0.1"]
